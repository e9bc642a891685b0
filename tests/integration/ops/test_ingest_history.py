"""``ingest`` learns from the whole history: the back-fill's rows, then every stored batch.

Before, a retrain after a back-fill trained on the stored batches only (800 rows) and was judged
on 200 of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import invoke
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.store import DataStore


def test_a_retrain_after_a_back_fill_learns_from_its_rows_and_the_batch(tmp_path: Path) -> None:
    frame, _ = simulate(SimulationSpec(rows=2_800, seed=14))
    frame.iloc[:2_000].to_csv(tmp_path / "line.csv", index=False)
    frame.iloc[2_000:2_400].to_csv(tmp_path / "batch.csv", index=False)
    artifacts = tmp_path / "artifacts"
    args = ["--artifacts", artifacts]
    done = invoke("run", "--data", tmp_path / "line.csv", *args, "--chunk-size", "1000",
                  "--model", "logreg")  # fmt: skip
    assert done.exit_code == 0, done.output
    manifest = DataStore(artifacts / "store").load()
    assert [b.rows for b in manifest.batches] == [2_000]  # the back-fill, all labelled
    assert manifest.batches[0].labelled_rows == 2_000
    stored = invoke("ingest", "--data", tmp_path / "batch.csv", *args, "--retrain", "every-batch")
    assert stored.exit_code == 0, stored.output
    report = json.loads((artifacts / "reports" / "ingest" / "batch.json").read_text())
    training = report["training"]
    assert training["trained"], training
    # expanding: every labelled row so far, minus the newest 20% held out (480 of 2,400 rows,
    # which hold enough defects for the tail rule)
    assert training["holdout_rows"] == 480
    assert training["rows_trained"] == 2_400 - 480
    # a second back-fill replaces the first in the history; its rows are kept aside
    frame.iloc[:2_400].to_csv(tmp_path / "longer.csv", index=False)
    again = invoke("run", "--data", tmp_path / "longer.csv", *args, "--chunk-size", "1000",
                   "--model", "logreg")  # fmt: skip
    assert again.exit_code == 0, again.output
    batches = DataStore(artifacts / "store").load().batches
    assert [b.batch_id.startswith("backfill-") for b in batches] == [True, False]
    assert batches[0].rows == 2_400
    assert len(list((artifacts / "previous_runs").glob("backfill-*/batch=*"))) == 1
