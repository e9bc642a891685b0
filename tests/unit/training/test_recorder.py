"""The recorder runs record steps in order on one thread, at most ``depth`` waiting, and stops
at the first failure: nothing after a failed record runs (it would leave a gap in the resume
point), the loop hears of it before its next step, and leaving the block waits for the rest."""

from __future__ import annotations

import threading
import time

import pytest

from defectops.training.recorder import Recorder


def test_steps_run_in_order_on_one_thread_and_the_block_waits_for_them() -> None:
    done: list[int] = []
    threads: set[str] = set()

    def step(n: int) -> None:
        threads.add(threading.current_thread().name)
        done.append(n)

    with Recorder() as recorder:
        for n in range(20):
            recorder.submit(lambda n=n: step(n))
    assert done == list(range(20))
    assert len(threads) == 1 and threading.current_thread().name not in threads


def test_a_step_submitted_beyond_the_depth_waits_for_the_oldest() -> None:
    done: list[str] = []
    with Recorder(depth=1) as recorder:
        recorder.submit(lambda: done.append("first"))
        recorder.submit(lambda: done.append("second"))
        assert "first" in done  # the second submit returned only once the first was recorded


def test_a_failed_step_stops_the_rest_and_reaches_the_loop() -> None:
    ran: list[int] = []

    def fail() -> None:
        raise ValueError("store unreachable")

    with pytest.raises(ValueError, match="store unreachable"), Recorder(depth=5) as recorder:
        recorder.submit(lambda: ran.append(1))
        recorder.submit(fail)
        recorder.submit(lambda: ran.append(3))  # queued before the failure is known
    assert ran == [1]  # the step after the failed one never ran


def test_check_raises_once_a_step_has_failed() -> None:
    failed = threading.Event()

    def fail() -> None:
        failed.set()
        raise OSError("disk full")

    recorder = Recorder()
    recorder.submit(fail)
    assert failed.wait(timeout=30)
    deadline = time.monotonic() + 30  # the future is set just after the step returns
    with pytest.raises(OSError, match="disk full"):
        while time.monotonic() < deadline:
            recorder.check()
    ran: list[int] = []
    recorder.submit(lambda: ran.append(1))  # a record after a failed one never runs
    with pytest.raises(RuntimeError, match="an earlier record failed"):
        recorder.__exit__(None, None, None)
    assert ran == []


def test_a_loop_failure_still_records_what_was_fitted_and_tells_of_a_record_failure() -> None:
    ran: list[int] = []

    def fail() -> None:
        raise RuntimeError("tracking server down")

    with pytest.raises(KeyError) as raised, Recorder(depth=5) as recorder:
        recorder.submit(lambda: ran.append(1))
        recorder.submit(fail)
        raise KeyError("fit failed")
    assert ran == [1]
    assert any("tracking server down" in note for note in raised.value.__notes__)
