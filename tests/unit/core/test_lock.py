"""The artifacts-directory run lock, exercised with real processes (no mocked os calls)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

import defectops
from defectops.core import lock as lock_module
from defectops.core.errors import UserError
from defectops.core.lock import LOCK_NAME, RunLock, lock_holder

HAS_PROC = Path("/proc/self/stat").exists()

# Takes the lock (or prints the UserError and exits with its code, like the CLI), prints HELD,
# holds it until a line (or EOF) arrives on stdin, then releases it.
HOLDER = """
import sys
from pathlib import Path
from defectops.core.errors import UserError
from defectops.core.lock import RunLock

lock = RunLock(Path(sys.argv[1]), purpose=sys.argv[2])
try:
    lock.acquire()
except UserError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
print("HELD", flush=True)
sys.stdin.readline()
lock.release()
"""

# One contender in the takeover race: READY once imported, tries on "go", prints WIN or LOSE,
# and a winner keeps the lock until told to let go (after every loser has finished).
CONTENDER = """
import sys
from pathlib import Path
import defectops.core.lock as L
from defectops.core.errors import UserError

L._USE_GUARD = sys.argv[2] == "guarded"
lock = L.RunLock(Path(sys.argv[1]))
print("READY", flush=True)
sys.stdin.readline()
try:
    lock.acquire()
except UserError as exc:
    print(f"LOSE {exc}", flush=True)
    sys.exit(exc.exit_code)
print("WIN", flush=True)
sys.stdin.readline()
lock.release()
"""


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -c SCRIPT ARGS...`` with pipes; all are killed and reaped at the end."""
    children: list[subprocess.Popen[str]] = []
    env = dict(os.environ)
    src = str(Path(defectops.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))

    def start(script: str, *args: object) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", script, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=10)


def _say(child: subprocess.Popen[str], line: str = "go") -> None:
    assert child.stdin is not None
    child.stdin.write(line + "\n")
    child.stdin.flush()


def _expect(child: subprocess.Popen[str], word: str) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith(word), f"expected {word}, got {line!r} (exit code {child.poll()})"
    return line


def _hold(
    spawn: Callable[..., subprocess.Popen[str]], directory: Path, purpose: str = "run"
) -> subprocess.Popen[str]:
    holder = spawn(HOLDER, directory, purpose)
    _expect(holder, "HELD")
    return holder


def _write_lock(directory: Path, record: dict | bytes, age_s: float = 0.0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    path.write_bytes(record if isinstance(record, bytes) else json.dumps(record).encode())
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def _proc_start(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rfind(")") + 2 :].split()[19])


def _killed_holder_pid(spawn: Callable[..., subprocess.Popen[str]], directory: Path) -> int:
    """Leave a real stale lock: a process takes it and is killed with SIGKILL, then reaped."""
    holder = _hold(spawn, directory)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert lock_holder(directory)["pid"] == holder.pid
    return holder.pid


# --- holding and releasing ----------------------------------------------------------------------


def test_lock_file_names_the_holder_and_goes_away_after_the_block(tmp_path: Path) -> None:
    artifacts = tmp_path / "not" / "yet" / "there"
    assert lock_holder(artifacts) is None
    with RunLock(artifacts, purpose="train") as lock:
        assert lock.held
        holder = lock_holder(artifacts)
        assert holder is not None
        assert holder["pid"] == os.getpid()
        assert holder["host"] == socket.gethostname()
        assert holder["purpose"] == "train"
        assert isinstance(holder["user"], str) and holder["user"]
        started = datetime.fromisoformat(holder["started_at"])
        assert started.utcoffset() is not None and started.utcoffset().total_seconds() == 0
        if HAS_PROC:
            assert holder["pid_start"] == _proc_start(os.getpid())
    assert not lock.held
    assert lock_holder(artifacts) is None
    assert list(artifacts.iterdir()) == []


def test_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), RunLock(tmp_path):
        raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()
    with RunLock(tmp_path):  # and can be taken again
        pass


def test_lock_is_not_reentrant(tmp_path: Path) -> None:
    with RunLock(tmp_path) as lock:
        with pytest.raises(UserError, match=f"pid {os.getpid()} on host"):
            RunLock(tmp_path).acquire()
        with pytest.raises(UserError, match=f"pid {os.getpid()} on host"):
            lock.acquire()
        assert lock_holder(tmp_path)["pid"] == os.getpid()  # the failed attempts changed nothing
    assert not (tmp_path / LOCK_NAME).exists()


def test_release_is_idempotent_and_only_removes_our_own_lock(tmp_path: Path) -> None:
    lock = RunLock(tmp_path)
    lock.release()  # never acquired: nothing to do
    lock.acquire()
    lock.release()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()

    # Someone removed our lock and another holder took the directory: releasing leaves theirs.
    lock.acquire()
    theirs = {**lock_holder(tmp_path), "token": "someone-else"}
    _write_lock(tmp_path, theirs)
    lock.release()
    assert lock_holder(tmp_path) == theirs

    # A lock object that does not hold the lock never removes it, even in the holding process.
    (tmp_path / LOCK_NAME).unlink()
    with RunLock(tmp_path):
        other = RunLock(tmp_path)
        other.release()
        assert lock_holder(tmp_path)["pid"] == os.getpid()

    # The lock file vanished while held: release is still quiet.
    lock.acquire()
    (tmp_path / LOCK_NAME).unlink()
    lock.release()


# --- a live holder is refused -------------------------------------------------------------------


def test_second_process_is_refused_with_exit_code_and_holder_pid(tmp_path: Path, spawn) -> None:
    with RunLock(tmp_path):
        since = lock_holder(tmp_path)["started_at"]
        child = spawn(HOLDER, tmp_path, "run")
        out, err = child.communicate(timeout=30)
        assert lock_holder(tmp_path)["pid"] == os.getpid()  # the refused attempt changed nothing
    assert child.returncode == UserError.exit_code == 2
    assert out == ""
    assert err == (
        f"error: artifacts directory {tmp_path} is in use by `defectops run` "
        f"(pid {os.getpid()} on host {socket.gethostname()} since {since}); "
        f"wait for it to finish, or remove {tmp_path / LOCK_NAME} if that process is gone\n"
    )


def test_lock_held_by_another_process_is_refused_until_released(tmp_path: Path, spawn) -> None:
    holder = _hold(spawn, tmp_path, "train")
    with pytest.raises(UserError) as caught:
        RunLock(tmp_path).acquire()
    message = str(caught.value)
    assert f"pid {holder.pid} on host {socket.gethostname()}" in message
    assert "in use by `defectops train`" in message
    _say(holder, "release")
    assert holder.wait(timeout=10) == 0
    with RunLock(tmp_path):
        assert lock_holder(tmp_path)["pid"] == os.getpid()


def test_lock_from_another_host_is_refused_and_names_the_host(tmp_path: Path) -> None:
    record = {
        "pid": os.getpid(),
        "host": "build-node-7.example",
        "user": "ana",
        "purpose": "run",
        "started_at": "2024-05-01T08:00:00+00:00",
    }
    _write_lock(tmp_path, record, age_s=3600)
    with pytest.raises(UserError) as caught:
        RunLock(tmp_path).acquire()
    message = str(caught.value)
    assert "host build-node-7.example since 2024-05-01T08:00:00+00:00" in message
    assert "another host" in message
    assert lock_holder(tmp_path) == record


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc for process start times")
def test_live_pid_with_the_recorded_start_time_is_refused(tmp_path: Path, spawn) -> None:
    sleeper = spawn("import sys; sys.stdin.readline()")
    record = {"pid": sleeper.pid, "host": socket.gethostname(), "purpose": "run"}
    _write_lock(tmp_path, {**record, "pid_start": _proc_start(sleeper.pid)}, age_s=60)
    with pytest.raises(UserError, match=f"pid {sleeper.pid} on host"):
        RunLock(tmp_path).acquire()


# --- a stale lock is taken over -----------------------------------------------------------------


def test_lock_of_a_process_killed_with_sigkill_is_taken_over(tmp_path: Path, spawn) -> None:
    _killed_holder_pid(spawn, tmp_path)
    with RunLock(tmp_path):
        assert lock_holder(tmp_path)["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []  # no renamed stale file left behind


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc to see a zombie")
def test_lock_of_a_killed_but_unreaped_process_is_taken_over(tmp_path: Path, spawn) -> None:
    holder = _hold(spawn, tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{holder.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with RunLock(tmp_path):  # os.kill(pid, 0) still succeeds on a zombie
        assert lock_holder(tmp_path)["pid"] == os.getpid()


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc for process start times")
def test_lock_whose_pid_now_belongs_to_another_process_is_taken_over(tmp_path: Path, spawn) -> None:
    sleeper = spawn("import sys; sys.stdin.readline()")  # alive, but not the recorded process
    record = {"pid": sleeper.pid, "host": socket.gethostname(), "purpose": "run"}
    _write_lock(tmp_path, {**record, "pid_start": _proc_start(sleeper.pid) - 1}, age_s=60)
    with RunLock(tmp_path):
        assert lock_holder(tmp_path)["pid"] == os.getpid()


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc for the boot id")
def test_lock_from_before_a_reboot_is_taken_over(tmp_path: Path) -> None:
    record = {"pid": os.getppid(), "host": socket.gethostname(), "boot_id": "an-earlier-boot"}
    _write_lock(tmp_path, record, age_s=60)
    with RunLock(tmp_path):
        assert lock_holder(tmp_path)["pid"] == os.getpid()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"pid": 12',
        b"\xff\xfe\x00garbage",
        b"[]",
        b"null",
        b'{"pid": "12", "host": "h"}',
        b'{"pid": 0, "host": "h"}',
        b'{"pid": true, "host": "h"}',
        b'{"pid": 12}',
    ],
    ids=["empty", "truncated", "binary", "list", "null", "pid-str", "pid-0", "pid-bool", "no-host"],
)
def test_corrupt_or_empty_lock_file_is_taken_over(tmp_path: Path, content: bytes) -> None:
    _write_lock(tmp_path, content, age_s=60)
    assert lock_holder(tmp_path) is None
    with RunLock(tmp_path):
        assert lock_holder(tmp_path)["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []


def test_fresh_empty_lock_file_gets_a_grace_period_for_its_writer(tmp_path: Path) -> None:
    # Just created and still empty: maybe its writer is between create and write. If the writer
    # finishes within the grace period, its lock stands ...
    path = _write_lock(tmp_path, b"")
    record = {"pid": 4242, "host": "writer.example", "started_at": "2024-05-01T08:00:00+00:00"}
    writer = threading.Timer(0.3, lambda: path.write_text(json.dumps(record)))
    writer.start()
    try:
        with pytest.raises(UserError, match=re.escape("pid 4242 on host writer.example")):
            RunLock(tmp_path).acquire()
    finally:
        writer.join()
    # ... and if it never does, the lock is taken over once the grace period has passed.
    _write_lock(tmp_path, b"")
    began = time.monotonic()
    with RunLock(tmp_path):
        assert lock_holder(tmp_path)["pid"] == os.getpid()
    assert time.monotonic() - began >= lock_module._CORRUPT_GRACE_S * 0.9


@pytest.mark.parametrize("mode", ["guarded", "unguarded"])
def test_racing_takeover_of_a_stale_lock_has_exactly_one_winner(
    tmp_path: Path, spawn, mode: str
) -> None:
    """8 processes try to take over one stale lock at once; each winner holds until all tried.

    "unguarded" switches off the directory flock, so the lock-file protocol alone must hold.
    """
    dead_pid = _killed_holder_pid(spawn, tmp_path)
    contenders = [spawn(CONTENDER, tmp_path, mode) for _ in range(8)]
    for child in contenders:
        _expect(child, "READY")
    for child in contenders:
        _say(child, "go")
    results = {child: child.stdout.readline() for child in contenders}

    winners = [child for child, line in results.items() if line.startswith("WIN")]
    losers = [child for child, line in results.items() if line.startswith("LOSE")]
    assert len(winners) == 1, results
    assert len(losers) == 7, results
    winner = winners[0]
    assert lock_holder(tmp_path)["pid"] == winner.pid != dead_pid
    for child in losers:  # every loser was refused by the winner, not by the dead holder
        assert f"pid {winner.pid} on host" in results[child]
        assert child.wait(timeout=10) == 2
    _say(winner, "release")
    assert winner.wait(timeout=10) == 0
    assert list(tmp_path.iterdir()) == []


def test_takeover_puts_back_a_fresh_lock_that_replaced_the_stale_one(tmp_path: Path) -> None:
    """A contender slow between judging a lock stale and moving it must not move a new lock."""
    path = _write_lock(tmp_path, b"", age_s=60)
    judged_stale = lock_module._read_lock(path)
    # Meanwhile another process took over and wrote its own lock under the same name.
    fresh = {"pid": os.getpid(), "host": socket.gethostname(), "token": "fresh"}
    replacement = tmp_path / "replacement"
    replacement.write_text(json.dumps(fresh))
    os.replace(replacement, path)

    lock_module._discard_stale(path, judged_stale)
    assert lock_holder(tmp_path) == fresh
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]

    lock_module._discard_stale(path, lock_module._read_lock(path))  # now it is the judged one
    assert list(tmp_path.iterdir()) == []
