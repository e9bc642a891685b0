"""An artifacts directory copied elsewhere, its original deleted, works in its new place.

MLflow records artifact locations as absolute paths; CI stages pass artifact directories from
job to job. Every verb runs in the copy (the embedded MLflow store is pointed at it on first
use) and nothing is written where the original was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from mlflow import MlflowClient

from cli_helpers import invoke
from defectops.core.config import load_settings
from defectops.data.simulate import SimulationSpec, simulate
from defectops.serving import create_app


def ok(*args: object) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_copied_artifacts_directory_works_without_its_original(tmp_path: Path) -> None:
    frame, _ = simulate(SimulationSpec(rows=2_400, seed=8))
    frame.iloc[:1_800].to_csv(tmp_path / "line.csv", index=False)
    frame.iloc[1_800:2_100].to_csv(tmp_path / "batch_a.csv", index=False)
    frame.iloc[2_100:].to_csv(tmp_path / "batch_b.csv", index=False)
    original, copy = tmp_path / "stage1" / "artifacts", tmp_path / "stage2" / "artifacts"
    common = ["--artifacts", original]
    ok("run", "--data", tmp_path / "line.csv", *common, "--model", "logreg", "--chunk-size", "600")
    ok("ingest", "--data", tmp_path / "batch_a.csv", *common)
    shutil.copytree(original, copy)
    shutil.rmtree(tmp_path / "stage1")

    here = ["--artifacts", copy]
    listed = ok("models", *here)
    assert "champion" in listed
    first = json.loads((copy / "incremental_models" / "model_01" / "metadata.json").read_text())
    ok("promote", str(first["version"]), *here, "--reason", "in the copy")
    ok("rollback", *here, "--reason", "back again in the copy")
    ok("history", *here)
    ok("predict", "--data", tmp_path / "batch_b.csv", "--out", tmp_path / "scored.csv", *here)
    ok("monitor", "--data", tmp_path / "batch_b.csv", *here)
    ok("report", *here)
    ok("ingest", "--data", tmp_path / "batch_b.csv", *here)
    app = create_app(load_settings(flags={"artifacts": copy}, environ={}), poll_interval=None)
    body = json.loads(
        frame.drop(columns=["timestamp", "DefectStatus"]).iloc[[5]].to_json(orient="records")
    )[0]
    with TestClient(app) as client:
        assert client.post("/predict", json=body).status_code == 200
    assert not (tmp_path / "stage1").exists()  # nothing written where the original was
    client = MlflowClient(f"sqlite:///{copy / 'mlflow.db'}")
    here_uri = (copy / "mlruns").resolve().as_uri()
    assert client.get_experiment_by_name("defectops").artifact_location == here_uri
    for version in client.search_model_versions("name='defect-classifier'"):
        run = client.get_run(version.run_id)
        assert run.info.artifact_uri.startswith(here_uri)
        assert str(version.source).startswith(("models:/", here_uri))
