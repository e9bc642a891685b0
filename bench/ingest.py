"""Wall time of ``defectops ingest`` of a 1,000-row labelled batch that triggers a retrain.

    .venv/bin/python bench/ingest.py              # 3 batches, after the demo's back-fill

Runs the demo's back-fill (23,490 rows, default settings), then ingests the next rows of the
line as batches of 1,000 labelled rows, each with ``retrain: every-batch``: validation, storage,
drift check, a retrain on every stored row, the gate, the MLflow record. Each ingest runs as its
own process (``python -m defectops ingest``), so the time is what a user or a CI job waits for,
Python's start and imports included. Prints a Markdown table and the median.
"""

from __future__ import annotations

import argparse
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
        print("| batch | rows | trained | seconds |\n|---|---:|---|---:|")
        times = []
        for n in range(args.batches):
            batch = root / f"batch-{n + 1:02d}.csv"
            after.iloc[n * BATCH_ROWS : (n + 1) * BATCH_ROWS].to_csv(batch, index=False)
            command = [sys.executable, "-m", "defectops", "ingest", "--data", str(batch)]
            began = time.perf_counter()
            done = subprocess.run(
                [*command, "--artifacts", str(artifacts), "--retrain", "every-batch"],
                capture_output=True,
                text=True,
                cwd=root,
            )
            seconds = time.perf_counter() - began
            if done.returncode != 0:
                raise SystemExit(f"ingest failed ({done.returncode}):\n{done.stderr}")
            trained = "retrained" if "trained" in done.stdout else "?"
            times.append(seconds)
            print(f"| {batch.name} | {BATCH_ROWS:,} | {trained} | {seconds:.2f} |")
        print(f"\nmedian: {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
