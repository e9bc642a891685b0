"""The production loop for real: ingest batch after batch, a duplicate, bad rows, late labels.

Everything runs in-process against a real MLflow SQLite registry; the CLI is exercised once for
its exit codes and output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from defectops.core.config import Settings, load_settings
from defectops.core.errors import UserError
from defectops.data.io import read_table
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.store import BatchRecord, DataStore, Manifest
from defectops.ops.ingest import ingest_batch
from defectops.ops.labels import attach_labels
from defectops.ops.retrain import retrain_decision
from defectops.registry.local import LocalRegistry
from registry_fixtures import defectops_cmd

ROWS = 1_000


def settings_for(artifacts: Path, **flags: Any) -> Settings:
    return load_settings(flags={"artifacts": artifacts, **flags}, environ={})


def write_batches(root: Path, frame: pd.DataFrame, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = root / f"shift_{i:02d}.csv"
        frame.iloc[i * ROWS : (i + 1) * ROWS].to_csv(path, index=False)
        paths.append(path)
    return paths


def versions(settings: Settings) -> list[str]:
    client = MlflowClient(settings.resolved_tracking_uri)
    found = client.search_model_versions(f"name='{settings.registered_model}'")
    return sorted((str(v.version) for v in found), key=int)


def champion_version(settings: Settings) -> str | None:
    meta = LocalRegistry(settings.artifacts).champion_metadata()
    return None if meta is None else str(meta["version"])


def test_ten_batches_one_by_one(tmp_path):
    frame, _ = simulate(SimulationSpec(rows=9 * ROWS, seed=11))
    paths = write_batches(tmp_path, frame, 9)
    bad = tmp_path / "shift_bad.csv"
    broken = frame.iloc[:50].copy()
    broken["SupplierQuality"] = broken["SupplierQuality"].astype(object)
    broken.loc[broken.index[:7], "SupplierQuality"] = "sensor fault"
    broken["timestamp"] = broken["timestamp"] + pd.Timedelta(days=365)  # new rows, new sha
    broken.to_csv(bad, index=False)
    feed = [*paths[:4], paths[2], bad, *paths[4:8]]  # a duplicate and a batch with bad rows
    assert len(feed) == 10
    settings = settings_for(tmp_path / "artifacts")
    store = DataStore(settings.store_dir)

    seen_versions: list[str] = []
    for step, path in enumerate(feed):
        result = ingest_batch(settings, path)
        manifest = store.load()
        listed = [b.batch_id for b in manifest.batches]
        if step == 4:  # the same rows again: a no-op
            assert result.duplicate and result.batch.batch_id == "shift_02"
            assert listed == ["shift_00", "shift_01", "shift_02", "shift_03"]
            assert versions(settings) == seen_versions
            continue
        assert not result.duplicate
        assert listed[-1] == path.stem and len(listed) == len(set(listed))
        stored = store.read_batch(path.stem)
        if path == bad:
            assert result.batch.rows == 43 and result.batch.rows_quarantined == 7
            quarantine = pd.read_csv(settings.store_dir / "quarantine" / "shift_bad.csv")
            assert len(quarantine) == 7
            assert set(quarantine["quarantine_reason"]) == {"unparseable_number:SupplierQuality"}
        else:
            assert result.batch.rows == ROWS and result.batch.labelled_rows == ROWS
        assert len(stored) == result.batch.rows
        # a model is trained on every batch once there is a champion or enough rows
        training = result.training
        assert training["trained"], training
        seen_versions.append(training["version"])
        assert versions(settings) == seen_versions
        if training["status"] == "production":
            assert champion_version(settings) == training["version"]
        if step == 0 and training["status"] != "production":
            # a first model trained on 800 rows may fail acceptance; the next batch crowns one
            assert training["decision"].startswith("fails acceptance"), training
        else:
            assert champion_version(settings) is not None
        if step >= 2:  # a champion with a profile existed when this batch came
            assert result.drift is not None
            assert (settings.reports_dir / "drift" / f"{path.stem}.json").exists()
        report = json.loads((settings.reports_dir / "ingest" / f"{path.stem}.json").read_text())
        assert report["batch"]["batch_id"] == path.stem

    manifest = store.load()
    assert len(manifest.batches) == 9
    assert sum(b.rows for b in manifest.batches) == 8 * ROWS + 43
    assert len(store.read_all(manifest)) == 8 * ROWS + 43
    history = [b.trained_version for b in manifest.batches]
    assert history == seen_versions


def test_labels_later_then_retrain(tmp_path):
    frame, _ = simulate(SimulationSpec(rows=4 * ROWS, seed=12))
    paths = write_batches(tmp_path, frame, 4)
    settings = settings_for(tmp_path / "artifacts", ingest={"label_key": "timestamp"})
    for path in paths[:3]:
        ingest_batch(settings, path)
    before = versions(settings)

    unlabelled = tmp_path / "shift_03_unlabelled.csv"
    rows = frame.iloc[3 * ROWS : 4 * ROWS]
    rows.drop(columns=["DefectStatus"]).to_csv(unlabelled, index=False)
    result = ingest_batch(settings, unlabelled)
    assert result.batch.rows == ROWS and result.batch.labelled_rows == 0
    assert result.training == {
        "trained": False,
        "reason": "no new labelled rows since the last retrain",
    }
    assert result.drift is not None  # monitored although unlabelled
    assert versions(settings) == before

    labels = tmp_path / "labels.csv"
    rows[["timestamp", "DefectStatus"]].iloc[:600].to_csv(labels, index=False)
    outcome = attach_labels(settings, "shift_03_unlabelled", labels)
    assert outcome.training["labels_matched"] == 600
    assert outcome.batch.labelled_rows == 600
    assert outcome.training["trained"], outcome.training
    after = versions(settings)
    assert len(after) == len(before) + 1
    stored = DataStore(settings.store_dir).read_batch("shift_03_unlabelled")
    assert int(stored["DefectStatus"].notna().sum()) == 600
    expected = rows["DefectStatus"].iloc[:600].to_numpy()
    assert (stored["DefectStatus"].iloc[:600].to_numpy() == expected).all()
    metadata = json.loads(
        next(
            p
            for p in (settings.artifacts / "incremental_models").glob("model_*/metadata.json")
            if json.loads(p.read_text())["version"] == after[-1]
        ).read_text()
    )
    # the newest labelled rows are the recent hold-out both models are judged on
    assert metadata["holdout_batches"] == ["shift_02", "shift_03_unlabelled"]
    assert metadata["holdout_rows"] == 720  # 20% of 3,600 labelled rows
    assert metadata["rows_seen"] == 3 * ROWS + 600  # only labelled rows ever count

    with pytest.raises(UserError, match="not in the store"):
        attach_labels(settings, "nope", labels)
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"timestamp": ["2001-01-01 00:00:00"], "DefectStatus": [1]}).to_csv(wrong)
    with pytest.raises(UserError, match="none of the 1 labels"):
        attach_labels(settings, "shift_03_unlabelled", wrong)
    with pytest.raises(UserError, match="label key"):
        attach_labels(settings_for(settings.artifacts), "shift_03_unlabelled", labels)


def test_retrain_policies():
    def manifest(drifts: list[str | None], trained_at: int, labelled: int = 1000) -> Manifest:
        batches = [
            BatchRecord(f"b{i}", f"s{i}", "", "", labelled, 0, labelled, drift_status=d)
            for i, d in enumerate(drifts)
        ]
        last = {"batch_count": trained_at, "labelled_rows": trained_at * labelled}
        return Manifest(batches=batches, last_training=last if trained_at else None)

    base = load_settings(environ={})
    every_n = base.model_copy(
        update={"ingest": base.ingest.model_copy(update={"retrain": "every-n", "every": 3})}
    )
    on_drift = base.model_copy(
        update={"ingest": base.ingest.model_copy(update={"retrain": "on-drift"})}
    )
    assert retrain_decision(base, manifest(["ok"], 0), False) == "no champion yet"
    assert retrain_decision(base, manifest(["ok", "ok"], 1), True) is not None
    assert retrain_decision(base, manifest(["ok", "ok"], 2), True) is None  # nothing new
    assert retrain_decision(every_n, manifest(["ok"] * 3, 1), True) is None  # 2 since
    assert retrain_decision(every_n, manifest(["ok"] * 4, 1), True) is not None  # 3 since
    assert retrain_decision(on_drift, manifest(["ok", "warn"], 1), True) is None
    assert retrain_decision(on_drift, manifest(["ok", "drift"], 1), True) is not None
    assert retrain_decision(base, manifest(["ok"], 0, labelled=50), False) is None  # min_rows


def test_ingest_cli_output_and_user_errors(tmp_path):
    frame, _ = simulate(SimulationSpec(rows=2 * ROWS, seed=13))
    paths = write_batches(tmp_path, frame, 2)
    art = str(tmp_path / "artifacts")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(defectops_cmd(*args), capture_output=True, text=True, timeout=600)

    first = cli("ingest", "--data", str(paths[0]), "--artifacts", art)
    assert first.returncode == 0, first.stderr
    assert "shift_00: 1,000 rows stored (1,000 labelled), 0 quarantined" in first.stdout
    assert "retrained (no champion yet)" in first.stdout
    again = cli("ingest", "--data", str(paths[0]), "--artifacts", art)
    assert again.returncode == 0 and "already ingested" in again.stdout
    renamed = cli("ingest", "--data", str(paths[1]), "--artifacts", art, "--batch-id", "shift_00")
    assert renamed.returncode == 2 and "already in the store" in renamed.stderr
    missing = tmp_path / "missing.csv"
    frame.iloc[:10].drop(columns=["SupplierQuality"]).to_csv(missing, index=False)
    broken = cli("ingest", "--data", str(missing), "--artifacts", art)
    assert broken.returncode == 2 and "SupplierQuality" in broken.stderr
    assert [b.batch_id for b in DataStore(tmp_path / "artifacts" / "store").load().batches] == [
        "shift_00"
    ]
    policy = cli("ingest", "--data", str(paths[1]), "--artifacts", art, "--retrain", "daily")
    assert policy.returncode == 2 and "retrain" in policy.stderr
    label = cli("label", "--batch", "shift_00", "--labels", str(paths[0]), "--artifacts", art)
    assert label.returncode == 2 and "label_key" in label.stderr
    assert read_table(paths[0]).shape[0] == ROWS
