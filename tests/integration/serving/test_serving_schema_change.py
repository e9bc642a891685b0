"""The service never swaps to a champion whose requests it could not take.

Two real back-fills of the simulated line, one with a column fewer. The second's ``production/``
lands in the served directory (as a copy or a bad promotion would put it there): the poller
refuses it, says why in the log and ``/model``, counts it in ``/metrics``, and keeps serving the
old champion; ``POST /admin/reload?accept_schema_change=true`` takes it on purpose.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from defectops.core.config import load_settings
from defectops.core.layout import PRODUCTION_DIR
from defectops.data.simulate import SimulationSpec, simulate
from defectops.ops.run import run_pipeline
from defectops.scoring.predict import Champion
from defectops.serving import create_app

TOKEN = "schema-change-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def settings_for(artifacts: Path, **flags: Any):
    return load_settings(flags={"artifacts": artifacts, **flags}, environ={})


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("schema-change")
    frame, _ = simulate(SimulationSpec(rows=1_200, seed=5))
    frame.to_csv(root / "line.csv", index=False)
    served, other = root / "served", root / "other"
    for artifacts, drop in ((served, []), (other, ["InventoryTurnover"])):
        run_pipeline(
            settings_for(
                artifacts, data=root / "line.csv", model="logreg", chunk_size=600, drop=drop
            )
        )
    return {"served": served, "other": other}


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def metric(text: str, name: str, labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{{labels}}}"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_poller_refuses_a_champion_with_other_columns_and_admin_can_accept_it(
    lines: dict[str, Path],
) -> None:
    served = lines["served"]
    before = Champion.load(served)
    app = create_app(settings_for(served, admin_token=TOKEN), poll_interval=0.05)
    with TestClient(app) as client:
        version = client.get("/model").json()["version"]
        record = {f: 1.0 for f in before.schema.numeric} | {
            c: "1" for c in before.schema.categorical
        }
        assert client.post("/predict", json=record).status_code == 200
        shutil.rmtree(served / PRODUCTION_DIR)
        shutil.copytree(lines["other"] / PRODUCTION_DIR, served / PRODUCTION_DIR)

        def refused() -> bool:
            text = client.get("/metrics").text
            return metric(text, "defectops_model_reloads_total", 'result="refused_schema"') >= 1

        wait_for(refused)
        info = client.get("/model").json()
        assert info["version"] == version  # still the old champion
        why = info["last_reload_error"]
        assert "removed InventoryTurnover" in why and "request schema" in why
        assert client.post("/predict", json=record).status_code == 200
        # an admin reload without the flag is refused too, with the differences
        plain = client.post("/admin/reload", headers=AUTH)
        assert plain.status_code == 409 and "InventoryTurnover" in plain.text
        accepted = client.post("/admin/reload?accept_schema_change=true", headers=AUTH)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["changed"] is True
        narrower = {k: v for k, v in record.items() if k != "InventoryTurnover"}
        assert client.post("/predict", json=narrower).status_code == 200
