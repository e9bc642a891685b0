"""Wall time of the verbs users wait on at the prompt: ``--help``, ``history`` and ``models``.

    .venv/bin/python bench/startup.py            # 5 runs each, on a small run's artifacts

Each verb runs as its own process (``python -m defectops``), so the time includes Python's start
and every import the verb needs: what a user waits for. Prints a Markdown table of the median
and the fastest run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from defectops.core.config import load_settings
from defectops.data.simulate import SimulationSpec, simulate
from defectops.ops.run import run_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        frame, _ = simulate(SimulationSpec(rows=3_000, seed=7))
        data = root / "line.csv"
        frame.to_csv(data, index=False)
        artifacts = root / "artifacts"
        run_pipeline(load_settings(flags={"data": data, "artifacts": artifacts}, environ={}))
        verbs = {
            "--help": ["--help"],
            "history": ["history", "--artifacts", str(artifacts)],
            "models": ["models", "--artifacts", str(artifacts)],
        }
        print("| command | median (s) | fastest (s) |\n|---|---:|---:|")
        for name, verb in verbs.items():
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "defectops", *verb],
                    check=True,
                    capture_output=True,
                    cwd=root,
                )
                times.append(time.perf_counter() - began)
            print(f"| `defectops {name}` | {statistics.median(times):.2f} | {min(times):.2f} |")


if __name__ == "__main__":
    main()
