"""The command line: ``defectops <verb>``."""

from defectops.cli.verbs import main

__all__ = ["main"]
