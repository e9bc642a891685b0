"""The console script ends without tearing the interpreter down, but otherwise as Python does:
threads that are not daemons finish, exit handlers run, buffered output is written, the status
is the one ``sys.exit`` would give."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading
    from pathlib import Path
    from defectops.cli import leave

    out = Path(sys.argv[1])
    go = threading.Event()

    def late_writer():
        go.wait()
        out.write_text("written by a thread")

    threading.Thread(target=late_writer).start()
    atexit.register(lambda: print("exit handler ran"))
    print("buffered line")  # block-buffered: stdout is a pipe
    go.set()
    leave({code})
    """
)


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("None", 0, ""), ("3", 3, ""), ("'gave up'", 1, "gave up\n")],
)
def test_leave_ends_as_python_would(tmp_path: Path, code: str, status: int, stderr: str) -> None:
    out = tmp_path / "thread.txt"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(code=code), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == status
    assert done.stdout == "buffered line\nexit handler ran\n"
    assert done.stderr == stderr
    assert out.read_text() == "written by a thread"  # the thread was waited for


def test_a_profiled_run_still_writes_its_profile(tmp_path: Path) -> None:
    """``python -m cProfile -m defectops ...`` writes the profile after the program returns."""
    profile = tmp_path / "help.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "defectops", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0
