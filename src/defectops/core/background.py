"""Work started on a thread while the caller goes on, its result or error kept in a future.

A command overlaps what does not depend on its fit with the fit itself (XGBoost releases the
GIL): drawing a drift picture, opening the MLflow store. Not a daemon thread: a command that
fails meanwhile still lets the work end cleanly (files are written atomically) before it exits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def in_background(work: Callable[[], T], *, name: str) -> Future[T]:
    """Start ``work()`` on a thread; the future holds what it returned or what it raised."""
    done: Future[T] = Future()

    def run() -> None:
        try:
            done.set_result(work())
        except BaseException as exc:  # handed to whoever waits for the result
            done.set_exception(exc)

    threading.Thread(target=run, name=f"defectops-{name}").start()
    return done
