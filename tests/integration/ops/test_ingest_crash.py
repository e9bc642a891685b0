"""Kill ``defectops ingest`` with SIGKILL at six points, run it again, compare with a clean run.

Each run is the real console script in a child process. ``DEFECTOPS_FAILPOINT`` names the point
where the process kills itself (``defectops.core.failpoints``): before and after the batch's commit,
after the challenger's fit, after its registration, between the champion alias and the history
entry, and before the pending work is cleared. The same command again must end in the state an
uninterrupted ingest reaches: the same batches, model directories, MLflow versions, aliases,
history and report; no MLflow run left ``RUNNING``, no orphan model directory.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import invoke
from defectops.data.simulate import SimulationSpec, simulate

DEFECTOPS = str(Path(sys.executable).parent / "defectops")
POINTS = [
    "ingest:before-commit",
    "ingest:after-commit",
    "retrain:after-fit",
    "retrain:after-register",
    "crown:after-alias",
    "ingest:before-clear",
]
#: what differs between two runs by its nature: clocks, durations, pickle bytes
TIMING = {
    "at",
    "arrived_at",
    "created_at",
    "trained_at",
    "fit_seconds",
    "model_sha256",
    "loaded_at",
    "files",
}
PNG = b"\x89PNG\r\n\x1a\n"


def ingest(artifacts: Path, batch: Path, failpoint: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFECTOPS_")}
    # a wide non-inferiority margin: the challenger is crowned, so every point is on the path
    env["DEFECTOPS_GATE__MARGIN"] = "1.0"
    if failpoint:
        env["DEFECTOPS_FAILPOINT"] = failpoint
    done = subprocess.run(
        [DEFECTOPS, "ingest", "--data", str(batch), "--artifacts", str(artifacts)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, -9), done.stderr[-3000:]
    return done.returncode


def scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def state(artifacts: Path) -> dict[str, Any]:
    """What an ingest leaves behind, without clocks."""
    models = {
        p.parent.name: scrub(json.loads(p.read_text()))
        for p in sorted((artifacts / "incremental_models").glob("model_*/metadata.json"))
    }
    with sqlite3.connect(f"file:{artifacts / 'mlflow.db'}?mode=ro", uri=True) as db:
        versions = db.execute("select count(*) from model_versions").fetchone()[0]
        aliases = sorted(db.execute("select alias, version from registered_model_aliases"))
        statuses = sorted(r[0] for r in db.execute("select status from runs"))
    history = [
        scrub(json.loads(line))
        for line in (artifacts / "registry_history.jsonl").read_text().splitlines()
    ]
    reports = {
        p.name: scrub(json.loads(p.read_text()))
        for p in sorted((artifacts / "reports" / "ingest").glob("*.json"))
    }
    drift = artifacts / "reports" / "drift"
    return {
        "manifest": scrub(json.loads((artifacts / "store" / "manifest.json").read_text())),
        # the batch's drift report and its picture, drawn while the retrain fitted
        "drift_files": sorted(p.name for p in drift.iterdir()),
        "drift_reports": {p.name: scrub(json.loads(p.read_text())) for p in drift.glob("*.json")},
        "drift_plots": {p.name: p.read_bytes()[:8] == PNG for p in drift.glob("*.png")},
        "models": models,
        "versions": versions,
        "aliases": aliases,
        "run_statuses": statuses,
        "history": history,
        "production": scrub(json.loads((artifacts / "production" / "metadata.json").read_text())),
        "reports": reports,
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A back-fill with a champion, and the state an uninterrupted ingest of the batch reaches."""
    root = tmp_path_factory.mktemp("ingest-crash")
    frame, _ = simulate(SimulationSpec(rows=3_000, seed=21))
    frame.iloc[:1_800].to_csv(root / "line.csv", index=False)
    frame.iloc[1_800:].to_csv(root / "batch.csv", index=False)
    template = root / "template"
    done = invoke("run", "--data", root / "line.csv", "--artifacts", template,
                  "--model", "logreg", "--chunk-size", "600")  # fmt: skip
    assert done.exit_code == 0, done.output
    clean = root / "clean"
    shutil.copytree(template, clean)
    assert ingest(clean, root / "batch.csv") == 0
    expected = state(clean)
    assert expected["manifest"]["pending"] is None
    assert expected["drift_plots"] == {"batch.png": True}
    assert "RUNNING" not in expected["run_statuses"]
    # the challenger is promoted, so every point below is on the path
    assert expected["reports"]["batch.json"]["training"]["status"] == "production"
    return {"root": root, "template": template, "expected": expected}


@pytest.mark.parametrize("point", POINTS)
def test_a_rerun_after_a_kill_ends_as_an_uninterrupted_ingest(
    project: dict[str, Any], point: str
) -> None:
    artifacts = project["root"] / point.replace(":", "-")
    shutil.copytree(project["template"], artifacts)
    assert ingest(artifacts, project["root"] / "batch.csv", failpoint=point) == -9
    if point != "ingest:before-commit":
        # the picture is drawn on a thread: a kill may come before it is written
        (artifacts / "reports" / "drift" / "batch.png").unlink(missing_ok=True)
    assert ingest(artifacts, project["root"] / "batch.csv") == 0
    got = state(artifacts)
    assert got == project["expected"]
    models = sorted(p.name for p in (artifacts / "incremental_models").iterdir())
    assert models == sorted(project["expected"]["models"])  # no orphan directory


def label(artifacts: Path, labels: Path, failpoint: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFECTOPS_")}
    env["DEFECTOPS_GATE__MARGIN"] = "1.0"
    env["DEFECTOPS_INGEST__LABEL_KEY"] = "timestamp"
    if failpoint:
        env["DEFECTOPS_FAILPOINT"] = failpoint
    done = subprocess.run(
        [DEFECTOPS, "label", "--batch", "late", "--labels", str(labels), "--artifacts",
         str(artifacts)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, -9), done.stderr[-3000:]
    return done.returncode


@pytest.mark.parametrize("point", ["retrain:after-fit", "crown:after-alias", "ingest:before-clear"])
def test_a_rerun_of_label_after_a_kill_ends_as_an_uninterrupted_label(
    project: dict[str, Any], point: str
) -> None:
    """Late labels: the batch is stored unlabelled, the labels come later and retrain."""
    import pandas as pd

    root = project["root"]
    rows = pd.read_csv(root / "batch.csv")
    rows.assign(DefectStatus=None).to_csv(root / "late.csv", index=False)
    rows[["timestamp", "DefectStatus"]].to_csv(root / "labels.csv", index=False)
    base = root / "label-base"
    if not base.exists():
        shutil.copytree(project["template"], base)
        assert ingest(base, root / "late.csv") == 0
        clean = root / "label-clean"
        shutil.copytree(base, clean)
        assert label(clean, root / "labels.csv") == 0
    expected = state(root / "label-clean")
    assert expected["manifest"]["last_training"] is not None
    artifacts = root / f"label-{point.replace(':', '-')}"
    shutil.copytree(base, artifacts)
    assert label(artifacts, root / "labels.csv", failpoint=point) == -9
    assert label(artifacts, root / "labels.csv") == 0
    assert state(artifacts) == expected
