"""The command line: ``defectops <verb>``."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def main() -> NoReturn:
    """Console-script entry point."""
    # imported on call: the verbs' modules import this package (``from defectops.cli import
    # output``), so the package must not import them back when it loads
    from defectops.cli.app import app

    try:
        app(prog_name="defectops")
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: object) -> NoReturn:
    """End the process as Python's own exit does, but without tearing the interpreter down.

    A verb that trained or scored has imported some 3,000 modules (scikit-learn, XGBoost,
    MLflow, SQLAlchemy); freeing them one by one takes about a second after the work is done
    and every file is written. The steps that matter are Python's own, in its order: wait for
    the threads that are not daemons (a drift picture still being drawn), run the exit
    handlers (logging, temporary directories, MLflow's), flush the output; then leave. Under a
    profiler, a debugger or coverage, which write their results after the program returns, the
    exit is Python's own.
    """
    status = _status(code)
    shutdown = getattr(threading, "_shutdown", None)
    watched = sys.getprofile() is not None or sys.gettrace() is not None
    if shutdown is None or watched:  # another Python; a profiler or coverage writes at exit
        sys.exit(status)
    shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`defectops models | head`)
            status = status or 120  # what Python exits with when it cannot flush
    os._exit(status)


def _status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives: None is 0, a number itself, text 1 (printed)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


__all__ = ["main"]
