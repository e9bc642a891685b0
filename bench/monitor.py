"""Time to profile and to monitor a 1M-row batch (target: under 10 s each on 2 cores).

    .venv/bin/python bench/monitor.py [--rows 1000000]

A champion is trained on 12,000 simulated rows (chunks of 1,000, as the default); then a batch of
``--rows`` simulated rows from later in the same process is written as Parquet, and the bench
times (1) ``build_profile`` on those rows, as training a model on them would, and (2) the whole
``monitor_batch``: reading the Parquet file, validating it against the champion's contract,
scoring it with the champion, comparing it with the profile and writing the JSON report and PNG.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from defectops.core.config import load_settings
from defectops.data.io import write_table
from defectops.data.simulate import SimulationSpec, simulate
from defectops.monitoring.batch import ChampionView, monitor_batch
from defectops.monitoring.profile import build_profile
from defectops.ops.run import run_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="defectops-monitor-bench-"))
    frame, _ = simulate(SimulationSpec(rows=12_000 + args.rows, seed=21))
    train = root / "train.csv"
    frame.iloc[:12_000].to_csv(train, index=False)
    settings = load_settings(
        flags={"artifacts": root / "artifacts", "data": train, "chunk_size": 1000}, environ={}
    )
    run_pipeline(settings)
    batch = frame.iloc[12_000:].reset_index(drop=True)
    data = write_table(batch, root / "batch.parquet")
    champion = ChampionView.load(settings.artifacts)
    features = list(champion.schema.features)

    began = time.perf_counter()
    scores = champion.model.decision_scores(batch[features])
    scoring = time.perf_counter() - began
    began = time.perf_counter()
    build_profile(batch[features], champion.schema, scores, settings.chunk_size)
    profiling = time.perf_counter() - began

    began = time.perf_counter()
    report, _ = monitor_batch(settings, data)
    monitoring = time.perf_counter() - began

    print(f"| step ({args.rows:,} rows) | seconds |")
    print("|---|---:|")
    print(f"| profile (build_profile) | {profiling:.2f} |")
    print(f"| monitor (read, validate, score, compare, report + PNG) | {monitoring:.2f} |")
    print(f"| scoring alone, one thread (for scale) | {scoring:.2f} |")
    print(f"\nstatus {report['status']} on {report['rows']:,} rows")


if __name__ == "__main__":
    main()
