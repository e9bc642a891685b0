"""MLflow's cost per chunk: what the registry spends logging and registering one model.

    .venv/bin/python bench/tracking.py                       # trains a logreg demo run first
    .venv/bin/python bench/tracking.py --artifacts ART       # replays the models of ART

Replays the chunk models of a finished run into a fresh embedded store (SQLite), as the
back-fill does: one parent run, then for each chunk the nested run, the logged pyfunc model, the
registered version and its alias (champion or challenger). Prints the store's start-up and the
seconds per chunk (median, slowest, total), measured around those calls only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from defectops.core.config import load_settings
from defectops.core.layout import METADATA, SCHEMA, Layout
from defectops.data.simulate import write_demo_data
from defectops.evaluation.records import model_record
from defectops.ops.run import run_pipeline
from defectops.registry.local import ModelRegistry


def trained_run(root: Path) -> Path:
    """A logreg demo run (fast to fit): its models are what gets replayed."""
    train, holdout = write_demo_data(root / "data")
    settings = load_settings(
        flags={"data": train, "holdout_data": holdout, "artifacts": root / "run", "model": "logreg"}
    )
    run_pipeline(settings)
    return root / "run"


def replay(source: Path, target: Path) -> tuple[float, list[float]]:
    """Log every model of ``source`` into a fresh store at ``target``; (start-up, per chunk)."""
    began = time.perf_counter()
    registry = ModelRegistry(load_settings(flags={"artifacts": target}))
    run_id = registry.tracker.start_run("bench", {"model": "replayed"}, {})
    startup = time.perf_counter() - began
    seconds = []
    for model_dir in sorted(Layout(source).models_dir.glob("model_*")):
        record = model_record(json.loads((model_dir / METADATA).read_text()))
        schema = json.loads((model_dir / SCHEMA).read_text())
        began = time.perf_counter()
        version = registry.tracker.log_chunk(run_id, "bench", record, model_dir, schema)
        if record["status"] == "production":
            registry.crown(version, record, model_dir, reason=record["reason"], action="gate")
        else:
            registry.mark_challenger(version)
        seconds.append(time.perf_counter() - began)
    registry.tracker.finish_run(run_id, {}, [])
    return startup, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, help="a finished run's artifacts directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = args.artifacts or trained_run(root)
        startup, seconds = replay(source, root / "replay")
    print("| chunks | store start-up (s) | median per chunk (s) | slowest (s) | total (s) |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {len(seconds)} | {startup:.2f} | {statistics.median(seconds):.3f} "
        f"| {max(seconds):.3f} | {sum(seconds):.2f} |"
    )


if __name__ == "__main__":
    main()
