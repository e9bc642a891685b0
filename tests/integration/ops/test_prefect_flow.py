"""The Prefect flow around ``ingest``, run for real against Prefect's local test server.

One inbox holds three simulated batches, a copy of the first one under another name and a file
that lacks two feature columns; the flow runs over it twice. Prefect's home and database live in
a temporary directory (see ``conftest.py``) and nothing leaves the machine.

The scenario is one test on purpose: the test server and the runs take most of its time, and
pytest-xdist would repeat a shared fixture on every worker that gets one of several tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "prefect", reason="the flow is tested in .venv-prefect: `make test-prefect` (run by make test)"
)

from prefect.states import State
from prefect.testing.utilities import prefect_test_harness

from defectops.data.simulate import SimulationSpec, simulate
from defectops.ops.flows import InboxFailures, ingest_flow

ROWS = 1200
GOOD = ["2026-01-05_line.csv", "2026-01-06_line.csv", "2026-01-08_line.csv"]
BROKEN = "2026-01-05b_partial.csv"  # two feature columns missing; sorts before the 2nd batch
DUPLICATE = "2026-01-07_resent.csv"  # the rows of the first batch again, under another name
LATER = "2026-01-09_line.csv"  # arrives after the two runs


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A temporary Prefect API (SQLite, in a subprocess) that flow runs report to."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


def _failure(state: State[Any]) -> InboxFailures:
    assert state.is_failed(), state
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InboxFailures), error
    return error


def _by_file(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(r["file"]).name: r for r in results}


def _stored_batches(artifacts: Path) -> list[str]:
    manifest = json.loads((artifacts / "store" / "manifest.json").read_text("utf-8"))
    return [b["batch_id"] for b in manifest["batches"]]


def test_ingest_flow_over_an_inbox(
    prefect_server: None, tmp_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, artifacts = tmp_project.root / "inbox", tmp_project.artifacts
    inbox.mkdir()
    frame, _ = simulate(SimulationSpec(rows=ROWS * 4, seed=7))
    for i, name in enumerate(GOOD):
        frame.iloc[i * ROWS : (i + 1) * ROWS].to_csv(inbox / name, index=False)
    shutil.copyfile(inbox / GOOD[0], inbox / DUPLICATE)
    frame.iloc[:50].drop(columns=["QualityScore", "SupplierQuality"]).to_csv(
        inbox / BROKEN, index=False
    )
    (inbox / "README.txt").write_text("not a batch\n", encoding="utf-8")
    # quick settings: the first model once two batches are in, no retrain on the third
    monkeypatch.setenv("DEFECTOPS_INGEST__MIN_ROWS", str(2 * ROWS - 100))
    monkeypatch.setenv("DEFECTOPS_INGEST__RETRAIN", "every-n")
    monkeypatch.setenv("DEFECTOPS_MODEL", "logreg")
    monkeypatch.setenv("DEFECTOPS_GATE__N_BOOTSTRAP", "100")

    first = ingest_flow(str(inbox), artifacts=str(artifacts), return_state=True)
    stored_first = _stored_batches(artifacts)
    second = ingest_flow(str(inbox), artifacts=str(artifacts), return_state=True)
    stored_second = _stored_batches(artifacts)
    frame.iloc[3 * ROWS :].to_csv(inbox / LATER, index=False)
    for name in (BROKEN, DUPLICATE):
        (inbox / name).unlink()
    third = ingest_flow(str(inbox), artifacts=str(artifacts), return_state=True)
    missing = ingest_flow(str(inbox / "nowhere"), artifacts=str(artifacts), return_state=True)

    # first run: every file in name order; the bad one is reported and fails the run at the end
    error = _failure(first)
    assert [Path(f["file"]).name for f in error.failures] == [BROKEN]
    assert "QualityScore" in error.failures[0]["error"]
    assert BROKEN in str(error)
    ran = _by_file(error.results)
    assert list(ran) == [GOOD[0], GOOD[1], DUPLICATE, GOOD[2]]
    assert stored_first == [Path(n).stem for n in GOOD]
    for name in GOOD:
        assert ran[name]["duplicate"] is False
        assert ran[name]["batch"]["rows"] == ROWS
    assert ran[GOOD[0]]["training"]["trained"] is False  # fewer labelled rows than min_rows
    assert ran[GOOD[1]]["training"]["trained"] is True  # the first model
    assert ran[GOOD[2]]["drift"] is not None  # checked against that model
    # the duplicate is a no-op, reported as such
    assert ran[DUPLICATE]["duplicate"] is True
    assert ran[DUPLICATE]["batch"]["batch_id"] == Path(GOOD[0]).stem
    assert "already ingested" in ran[DUPLICATE]["training"]["reason"]

    # second run over the same inbox: nothing new, the bad file still fails
    error = _failure(second)
    assert [Path(f["file"]).name for f in error.failures] == [BROKEN]
    assert len(error.results) == 4
    assert all(r["duplicate"] for r in error.results)
    assert stored_second == stored_first

    # bad file and copy removed, a new batch arrived: the run completes with the summaries
    assert third.is_completed(), third
    results = third.result()
    assert [(Path(r["file"]).name, r["duplicate"]) for r in results] == [
        *((name, True) for name in GOOD),
        (LATER, False),
    ]
    assert _stored_batches(artifacts) == [Path(n).stem for n in [*GOOD, LATER]]

    assert missing.is_failed()
    assert "is not a directory" in str(missing.result(raise_on_failure=False))


def test_importing_defectops_does_not_import_prefect() -> None:
    code = (
        "import sys, defectops, defectops.cli, defectops.ops.ingest; "
        "sys.exit('prefect' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr
