"""A run lock for an artifacts directory: two ``defectops run`` processes cannot interleave writes.

``with RunLock(artifacts_dir):`` holds ``<artifacts_dir>/.defectops.lock`` for the duration of the
block. The lock file is created with ``O_CREAT | O_EXCL`` (exactly one process can create it) and
holds a JSON record of who holds it::

    {"pid": 4242, "host": "build-7", "user": "ana", "purpose": "run",
     "started_at": "2024-05-01T08:00:00+00:00", "pid_start": 123456, "boot_id": "...",
     "token": "..."}

``pid_start`` is field 22 of ``/proc/<pid>/stat`` (clock ticks after boot; ``null`` where there is
no ``/proc``), so a lock whose pid now belongs to another process is recognised as stale;
``boot_id`` does the same across a reboot. ``token`` tells two acquisitions by one process apart.

A lock whose holder is gone (the process died, the pid was reused, the machine rebooted, or the file
is empty or unreadable because a process crashed while writing it) is taken over: it is first
renamed to a unique name (``rename`` is atomic, so only one process can move a given file), checked
to be the very file that was judged stale, and only then is a new lock created exclusively. A lock
held by another host is treated as alive, since its process cannot be checked from here.

Where the filesystem supports ``flock``, every check-and-change of the lock file additionally runs
under a short exclusive ``flock`` on the directory itself, which closes the remaining windows
between looking at the lock file and acting on it. The lock file protocol does not depend on it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from defectops.core.atomic import fsync_dir
from defectops.core.errors import UserError
from defectops.core.layout import LOCK

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "RunLock", "lock_holder"]

LOCK_NAME = LOCK

#: An unparseable lock file younger than this may be one whose writer has not finished writing.
_CORRUPT_GRACE_S = 1.0
#: How long acquire() keeps retrying while other processes keep changing the lock file.
_ACQUIRE_DEADLINE_S = 10.0
#: How long to wait for the short directory ``flock`` that serialises lock-file changes.
_GUARD_TIMEOUT_S = 10.0
#: Serialise lock-file changes with ``flock`` on the directory where the filesystem allows it.
_USE_GUARD = True


class RunLock:
    """Context manager: ``with RunLock(artifacts_dir, purpose="run"):`` ...

    Not reentrant: acquiring a lock this process already holds raises :class:`UserError`, like any
    other live holder. The lock is released when the block ends, also on an exception.
    """

    def __init__(self, directory: Path, purpose: str = "run") -> None:
        self.directory = Path(directory)
        self.purpose = purpose
        self.path = self.directory / LOCK_NAME
        self._record: dict[str, Any] | None = None

    @property
    def held(self) -> bool:
        """Whether this object currently holds the lock (as far as it knows)."""
        return self._record is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`UserError` naming the live holder."""
        if self._record is not None:
            raise UserError(_in_use_message(self.directory, self._record, remote=False))
        self.directory.mkdir(parents=True, exist_ok=True)
        record = _new_record(self.purpose)
        payload = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        deadline = time.monotonic() + _ACQUIRE_DEADLINE_S
        with _guard(self.directory, strict=True):
            while time.monotonic() < deadline:
                if _create_exclusive(self.path, payload):
                    fsync_dir(self.directory)
                    self._record = record
                    return
                seen = _read_lock(self.path)
                if seen is None:  # removed since our create failed: try again
                    continue
                if seen.holder is None:
                    if seen.age_s < _CORRUPT_GRACE_S:  # maybe still being written: look again
                        time.sleep(0.05)
                        continue
                else:
                    state = _holder_state(seen.holder)
                    if state != "dead":
                        raise UserError(
                            _in_use_message(self.directory, seen.holder, remote=state == "remote")
                        )
                _discard_stale(self.path, seen)
        raise UserError(
            f"could not lock artifacts directory {self.directory}: {self.path} kept changing "
            f"for {_ACQUIRE_DEADLINE_S:.0f} s; try again"
        )

    def release(self) -> None:
        """Remove the lock file if it is still ours; safe to call any number of times."""
        record, self._record = self._record, None
        if record is None:
            return
        with _guard(self.directory, strict=False):
            try:
                seen = _read_lock(self.path)
            except (UserError, OSError):  # not ours to judge; never mask the block's own error
                seen = None
            if seen is not None and _is_same_holder(seen.holder, record):
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                fsync_dir(self.directory)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLock({str(self.directory)!r}, purpose={self.purpose!r}, held={self.held})"


def lock_holder(directory: Path) -> dict[str, Any] | None:
    """What ``<directory>/.defectops.lock`` says (pid, host, user, purpose, started_at, ...).

    ``None`` when there is no lock file or it cannot be read as a lock record. This only reports
    the file; it does not check whether the holder is still alive.
    """
    seen = _read_lock(Path(directory) / LOCK_NAME)
    return None if seen is None else seen.holder


# --- the lock file ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Seen:
    """One look at the lock file: which file it was, its bytes, and what they say."""

    identity: tuple[int, int]  # (st_dev, st_ino)
    raw: bytes
    holder: dict[str, Any] | None  # None: empty, unreadable or not a lock record
    age_s: float


def _read_lock(path: Path) -> _Seen | None:
    """Read the lock file; ``None`` if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except PermissionError:
        raise UserError(
            f"cannot read lock file {path} (permission denied); remove it if no defectops "
            f"process is using {path.parent}"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{path} is not a defectops lock file; remove it")
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    return _Seen((st.st_dev, st.st_ino), raw, _parse(raw), time.time() - st.st_mtime)


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The lock record in ``raw``, or ``None`` if it is not one (empty, truncated, garbage)."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    pid = record.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    if not isinstance(record.get("host"), str):
        return None
    return record


def _create_exclusive(path: Path, payload: bytes) -> bool:
    """Create ``path`` holding ``payload`` if it does not exist; ``False`` if it does."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o644)  # readable by other users' defectops whatever the umask
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return True


def _discard_stale(path: Path, seen: _Seen) -> None:
    """Move the stale lock file ``seen`` out of the way, touching nothing else.

    The rename is atomic, so of several processes discarding the same stale file only one moves
    it; the others find nothing to move and look again. A process that was slow between looking
    and renaming may instead move a fresh lock that replaced the stale one in the meantime; it
    sees that the moved file is not the one it judged and puts it back with ``link``, which
    never overwrites.
    """
    grave = path.with_name(f"{path.name}.stale.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        os.rename(path, grave)
    except FileNotFoundError:
        return
    try:
        st = os.stat(grave)
        with open(grave, "rb") as handle:
            raw = handle.read()
        if (st.st_dev, st.st_ino) == seen.identity and raw == seen.raw:
            return
        try:
            os.link(grave, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this filesystem
            if not path.exists():
                os.rename(grave, path)
    finally:
        grave.unlink(missing_ok=True)


@contextlib.contextmanager
def _guard(directory: Path, *, strict: bool) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``directory`` where supported; otherwise do nothing.

    ``strict``: raise :class:`UserError` if the guard is not free within the timeout (acquire);
    otherwise carry on without it (release).
    """
    if fcntl is None or not _USE_GUARD:
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + _GUARD_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    if strict:
                        raise UserError(
                            f"could not lock artifacts directory {directory}: another defectops "
                            f"process has been changing {directory / LOCK_NAME} for "
                            f"{_GUARD_TIMEOUT_S:.0f} s; check for a stuck defectops process"
                        ) from None
                    break
                time.sleep(0.01)
            except OSError:  # flock not supported here: the lock file protocol stands alone
                break
        yield
    finally:
        os.close(fd)  # also drops the flock


# --- who holds it -----------------------------------------------------------------------------


def _new_record(purpose: str) -> dict[str, Any]:
    pid = os.getpid()
    proc = _proc_stat(pid)
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "user": _user(),
        "purpose": purpose,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pid_start": proc[1] if proc else None,
        "boot_id": _boot_id(),
        "token": uuid.uuid4().hex,
    }


def _is_same_holder(holder: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    if holder is None:
        return False
    return all(holder.get(key) == record[key] for key in ("pid", "host", "pid_start", "token"))


def _holder_state(holder: dict[str, Any]) -> Literal["alive", "remote", "dead"]:
    """Whether the process named in a lock record still runs: "remote" if it cannot be checked."""
    if holder["host"] != socket.gethostname():
        return "remote"
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return "alive"
    booted, now_booted = holder.get("boot_id"), _boot_id()
    if isinstance(booted, str) and now_booted is not None and booted != now_booted:
        return "dead"  # written before the machine last booted
    pid = holder["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        pass  # exists, owned by another user
    except OSError:
        return "alive"  # cannot tell: do not take over
    proc = _proc_stat(pid)
    if proc is None:
        return "alive"
    state, start = proc
    if state in ("Z", "X"):
        return "dead"  # exited, not yet reaped by its parent
    recorded_start = holder.get("pid_start")
    if isinstance(recorded_start, int) and start is not None and recorded_start != start:
        return "dead"  # the pid now belongs to another process
    return "alive"


def _in_use_message(directory: Path, holder: dict[str, Any], *, remote: bool) -> str:
    purpose = holder.get("purpose") or "run"
    since = holder.get("started_at") or "an unknown time"
    where = f"pid {holder.get('pid')} on host {holder.get('host')} since {since}"
    if remote:
        where += "; it is another host, so defectops cannot check whether that process still runs"
    return (
        f"artifacts directory {directory} is in use by `defectops {purpose}` ({where}); "
        f"wait for it to finish, or remove {directory / LOCK_NAME} if that process is gone"
    )


def _proc_stat(pid: int) -> tuple[str, int | None] | None:
    """(state, start time in clock ticks after boot) from ``/proc/<pid>/stat``, if available."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ")"
    fields = text[text.rfind(")") + 1 :].split()
    if not fields:
        return None
    try:
        start = int(fields[19])  # field 22 overall; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        start = None
    return fields[0], start


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name and no passwd entry (some containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"
