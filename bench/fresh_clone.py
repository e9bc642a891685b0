"""``make demo`` as a newcomer meets it: a fresh clone, a new ``.venv``, the demo run.

    .venv/bin/python bench/fresh_clone.py        # clones this checkout's HEAD into a temp dir

Prints the wall time of ``make demo`` (install and run together), the demo's share of it
(``demo`` run again in the same clone, on a fresh data directory) and the size of ``.venv``.
The install downloads from the package index, so the network is part of the time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return total / 1e6


def timed(command: list[str], cwd: Path) -> float:
    # outside any activated environment, as a newcomer's shell is
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    began = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "defectops"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        total = timed(["make", "demo"], clone)
        shutil.rmtree(clone / "artifacts")
        shutil.rmtree(clone / "data")
        demo = timed([str(clone / ".venv" / "bin" / "defectops"), "demo"], clone)
        venv = size_mb(clone / ".venv")
    print("| step | value |\n|---|---:|")
    print(f"| `make demo` from a fresh clone | {total:.1f} s |")
    print(f"| of which the demo run | {demo:.1f} s |")
    print(f"| `.venv` | {venv:,.0f} MB |")


if __name__ == "__main__":
    main()
