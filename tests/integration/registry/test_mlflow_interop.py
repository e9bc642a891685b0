"""Plain MLflow scores what pandas reads from the line's own CSV, as ``defectops predict`` does.

The champion is loaded by alias with nothing but MLflow (``mlflow.pyfunc.load_model``) from the
project's real SQLite registry, and given ``pd.read_csv`` of the line: integer columns, IDs read
as numbers, the timestamp and the label beside the features. The known answer is the champion's
own scoring of the same rows through the data contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cli_helpers import invoke
from defectops.data.simulate import SimulationSpec, simulate
from defectops.scoring.predict import Champion, score_rows


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("interop")
    frame, _ = simulate(SimulationSpec(rows=1_500, seed=6))
    line = root / "line.csv"
    frame.to_csv(line, index=False)
    artifacts = root / "artifacts"
    done = invoke(
        "run", "--data", line, "--artifacts", artifacts, "--model", "logreg", "--chunk-size", "500"
    )
    assert done.exit_code == 0, done.output
    return {"line": line, "artifacts": artifacts}


def champion_by_alias(artifacts: Path) -> Any:
    import mlflow

    uri = f"sqlite:///{(artifacts / 'mlflow.db').resolve()}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.pyfunc.load_model("models:/defect-classifier@champion")


def test_plain_mlflow_scores_the_lines_own_csv(project: dict[str, Any]) -> None:
    model = champion_by_alias(project["artifacts"])
    rows = pd.read_csv(project["line"]).head(50)  # int64 columns, IDs as numbers, timestamp
    assert pd.api.types.is_integer_dtype(rows["machine_id"])
    expected = score_rows(rows, Champion.load(project["artifacts"]))["defect_probability"]
    np.testing.assert_allclose(model.predict(rows), expected.to_numpy(), atol=1e-9)
    # the same rows read as text (IDs as strings) score the same
    as_text = pd.read_csv(project["line"], dtype=str).head(50)
    np.testing.assert_allclose(model.predict(as_text), expected.to_numpy(), atol=1e-9)


def test_plain_mlflow_takes_the_services_json_records(project: dict[str, Any]) -> None:
    """What ``/predict`` takes as ``records`` (nulls included), MLflow's pyfunc takes too."""
    model = champion_by_alias(project["artifacts"])
    champion = Champion.load(project["artifacts"])
    rows = pd.read_csv(project["line"]).head(5)
    records = rows[list(champion.schema.features)].astype(object).to_dict("records")
    records[0]["SupplierQuality"] = None
    records[1]["machine_id"] = str(records[1]["machine_id"])
    scores = model.predict(pd.DataFrame(records))
    expected = score_rows(pd.DataFrame(records), champion)["defect_probability"].to_numpy()
    np.testing.assert_allclose(scores, expected, atol=1e-9)
    assert np.isfinite(scores).all()


def test_mlflow_models_serve_takes_the_same_records(
    project: dict[str, Any], tmp_path: Path
) -> None:
    """A real ``mlflow models serve`` process: the line's records (IDs as text, a null reading,
    the timestamp and label beside the features) score as ``defectops predict`` scores them."""
    import json
    import os
    import subprocess
    import sys
    import time

    import httpx

    from registry_fixtures import free_port, http_ok

    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{(project['artifacts'] / 'mlflow.db').resolve()}",
    }
    log = tmp_path / "serve.log"
    command = [
        str(Path(bin_dir) / "mlflow"), "models", "serve",
        "-m", "models:/defect-classifier@champion",
        "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not http_ok(f"http://127.0.0.1:{port}/ping"):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow models serve did not answer /ping"
            time.sleep(0.2)
        rows = pd.read_csv(project["line"]).head(4)
        records = json.loads(rows.to_json(orient="records"))
        records[0]["SupplierQuality"] = None
        records[1]["machine_id"] = str(records[1]["machine_id"])
        response = httpx.post(
            f"http://127.0.0.1:{port}/invocations", json={"dataframe_records": records}, timeout=30
        )
        assert response.status_code == 200, response.text
        expected = score_rows(pd.DataFrame(records), Champion.load(project["artifacts"]))
        np.testing.assert_allclose(
            response.json()["predictions"], expected["defect_probability"], atol=1e-9
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
