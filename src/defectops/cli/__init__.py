"""The command line: ``defectops <verb>``."""


def main() -> None:
    """Console-script entry point."""
    # imported on call: the verbs' modules import this package (``from defectops.cli import
    # output``), so the package must not import them back when it loads
    from defectops.cli.app import app

    app(prog_name="defectops")


__all__ = ["main"]
