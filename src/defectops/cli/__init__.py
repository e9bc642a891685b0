"""The command line: ``defectops <verb>``."""

from defectops.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app(prog_name="defectops")


__all__ = ["main"]
