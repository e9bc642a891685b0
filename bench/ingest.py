"""Wall time of ``defectops ingest`` of a 1,000-row labelled batch that triggers a retrain.

    .venv/bin/python bench/ingest.py              # 3 batches, after the demo's back-fill

Runs the demo's back-fill (23,490 rows, default settings), then ingests the next rows of the
line as batches of 1,000 labelled rows, each with ``retrain: every-batch``: validation, storage,
drift check, a retrain on every stored row, the gate, the MLflow record. Each ingest runs as its
own process (``python -m defectops ingest``), so the time is what a user or a CI job waits for,
Python's start and imports included. Prints a Markdown table and the median: each ingest's
wall time, the CPU time it used (all threads: on two cores, more than the wall time means both
were busy), and its fit's wall time.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from defectops.core.config import load_settings
from defectops.data.simulate import write_demo_data
from defectops.ops.run import run_pipeline

BATCH_ROWS = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train, holdout = write_demo_data(root / "data")
        artifacts = root / "artifacts"
        run_pipeline(load_settings(flags={"data": train, "artifacts": artifacts}, environ={}))
        after = pd.read_csv(holdout)  # the rows the line produced after the back-fill's
        print(
            "| batch | rows | trained | seconds | CPU seconds | its fit (s) |\n"
            "|---|---:|---|---:|---:|---:|"
        )
        times = []
        for n in range(args.batches):
            batch = root / f"batch-{n + 1:02d}.csv"
            after.iloc[n * BATCH_ROWS : (n + 1) * BATCH_ROWS].to_csv(batch, index=False)
            command = [sys.executable, "-m", "defectops", "ingest", "--data", str(batch)]
            began, cpu_before = time.perf_counter(), _children_cpu()
            done = subprocess.run(
                [*command, "--artifacts", str(artifacts), "--retrain", "every-batch"],
                capture_output=True,
                text=True,
                cwd=root,
            )
            seconds, cpu = time.perf_counter() - began, _children_cpu() - cpu_before
            if done.returncode != 0:
                raise SystemExit(f"ingest failed ({done.returncode}):\n{done.stderr}")
            trained = "retrained" if "trained" in done.stdout else "?"
            times.append(seconds)
            print(
                f"| {batch.name} | {BATCH_ROWS:,} | {trained} | {seconds:.2f} | {cpu:.2f} "
                f"| {_newest_fit(artifacts):.2f} |"
            )
        print(f"\nmedian: {statistics.median(times):.2f} s")


def _children_cpu() -> float:
    """CPU seconds (user and system, all threads) of the finished child processes so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _newest_fit(artifacts: Path) -> float:
    """The wall time of the newest model's fit, as its record gives it."""
    records = sorted((artifacts / "incremental_models").glob("model_*/metadata.json"))
    return float(json.loads(records[-1].read_text())["fit_seconds"])


if __name__ == "__main__":
    main()
