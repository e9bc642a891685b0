"""Recording the back-fill's models off the fit's critical path.

Logging and registering a model costs round trips to the MLflow store (a quarter of a second a
chunk with the embedded SQLite store, and opening the store costs seconds more), and the next
chunk's fit needs none of it: it needs only the champion's hold-out scores, which the loop keeps
in memory. So one background thread records the models, in the order they were fitted, while the
loop fits the next one:

- the registry, the alias history and the resume point change in the same order as when
  recording ran in line, and only this thread touches them during the loop;
- at most ``depth`` records wait at any time, so a slow tracking server slows the loop down
  instead of piling models up in memory, and a crash loses at most that many fits (the resume
  point is saved after each record, so a rerun fits them again);
- a failed record stops the loop before its next fit, with the record's own error;
- leaving the block waits for every record, also when the loop failed: a model fitted before
  the failure is recorded as it was when recording ran in line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType


class Recorder:
    """An ordered queue of record steps, run on one background thread."""

    def __init__(self, depth: int = 2) -> None:
        self.depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="defectops-record")
        self._pending: deque[Future[None]] = deque()
        self._failed = False  # written and read on the recording thread only

    def submit(self, step: Callable[[], None]) -> None:
        """Queue ``step`` after those already queued; wait while ``depth`` are waiting."""
        self.check()
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._run, step))

    def check(self) -> None:
        """Raise the error of a record that failed, if one has."""
        while self._pending and self._pending[0].done():
            self._pending.popleft().result()

    def wait(self) -> None:
        """Block until every queued record is done; raise the first error."""
        while self._pending:
            self._pending.popleft().result()

    def _run(self, step: Callable[[], None]) -> None:
        # a record after a failed one would leave a gap in the resume point: skip it
        if self._failed:
            raise RuntimeError("not recorded: an earlier record failed")
        try:
            step()
        except BaseException:
            self._failed = True
            raise

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _trace: TracebackType | None,
    ) -> None:
        try:
            if error is None:
                self.wait()
                return
            # the loop failed: finish recording what it had fitted, and tell of a failure
            failures = [f for f in (pending.exception() for pending in self._pending) if f]
            if failures:
                error.add_note(f"recording a model also failed: {failures[0]!r}")
            self._pending.clear()
        finally:
            self._pool.shutdown(wait=True)
