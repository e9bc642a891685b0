"""``defectops evaluate``, the CI gate, on real runs of the real CLI.

Each outcome is forced by the gate settings, not by luck of the data, and judged from what a real
``defectops run`` left on disk:

* promoted: acceptance every model passes (no accuracy or MCC bar) and ``margin: 1.0`` (a PR-AUC
  loss of more than 1 is impossible), so every newer model is promoted: exit 0;
* kept: the same acceptance, ``superiority`` with ``min_delta: 1.0`` (a PR-AUC gain of 1 is
  impossible), so chunk 1 is the first champion and no later model beats it: exit 0;
* rejected: ``min_accuracy: 1.0`` (no model is perfect on noisy line data): exit 3, no champion;
* a run killed mid-way, beside the finished run's report: exit 2, never a verdict on a stale report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from defectops.cli.app import app
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.ops.evaluate import ACCEPTANCE_FAILED, evaluate_latest
from registry_fixtures import (
    alias_in_db,
    completed_chunks,
    expect_ok,
    read_json,
    run_cli,
    run_state,
    sigkill,
    start_cli,
    wait_until,
)

pytestmark = pytest.mark.slow

ROWS = 4_000  # the last 20% are the hold-out: 3,200 training rows, three chunks of ~1,000
CHUNKS = 3
#: acceptance that every model passes: no accuracy bar, no MCC bar
ANY = "  min_accuracy: 0.0\n  beat_baseline_mcc: false\n"
GATES = {
    "promoted": f"gate:\n{ANY}  margin: 1.0\n",
    "kept": f"gate:\n{ANY}  rule: superiority\n  min_delta: 1.0\n",
    "rejected": "gate:\n  min_accuracy: 1.0\n",
}


def project(root: Path, outcome: str) -> tuple[Path, Path]:
    """A data file and the config forcing ``outcome``; returns (data, config)."""
    root.mkdir(parents=True, exist_ok=True)
    frame, truth = simulate(SimulationSpec(rows=ROWS, seed=11))
    data, _ = write_frames(frame, truth, root / "line.csv")
    config = root / f"{outcome}.yaml"
    config.write_text(GATES[outcome], encoding="utf-8")
    return data, config


def run_args(data: Path, config: Path, artifacts: Path) -> list[str | Path]:
    return [
        "run",
        "--data",
        data,
        "--config",
        config,
        "--model",
        "logreg",
        "--chunk-size",
        "1000",
        "--artifacts",
        artifacts,
    ]


def trained(tmp_path_factory: pytest.TempPathFactory, outcome: str) -> Path:
    root = tmp_path_factory.mktemp(outcome)
    data, config = project(root, outcome)
    artifacts = root / "artifacts"
    expect_ok(run_cli(*run_args(data, config, artifacts), cwd=root))
    return artifacts


def evaluate(artifacts: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("evaluate", "--artifacts", artifacts, cwd=artifacts.parent)


def statuses(artifacts: Path) -> list[tuple[int, str, bool]]:
    report = read_json(artifacts / "reports" / "incremental_training_report.json")
    return [(m["chunk_id"], m["status"], m["decision"]["accepted"]) for m in report["models"]]


def test_promoted_newest_model_passes(tmp_path_factory: pytest.TempPathFactory) -> None:
    artifacts = trained(tmp_path_factory, "promoted")
    assert statuses(artifacts) == [(k, "production", True) for k in range(1, CHUNKS + 1)]
    result = evaluate(artifacts)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(f"PASS: promoted: version {CHUNKS} (chunk {CHUNKS}) is the champion")
    assert alias_in_db(artifacts, "champion") == CHUNKS
    outcome = evaluate_latest(artifacts)
    assert (outcome.verdict, outcome.champion_version, outcome.chunk_id) == ("promoted", "3", 3)


def test_a_model_record_from_another_run_is_not_judged(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The same model bytes recorded by another run (same rows, another gate) do not pass for
    the report's: the config and the moment of the record tell them apart."""
    artifacts = trained(tmp_path_factory, "promoted")
    for key, value in (("config_hash", "0" * 64), ("trained_at", "2020-01-01T00:00:00+00:00")):
        other = artifacts.parent / f"other-{key}"
        shutil.copytree(artifacts, other)
        path = other / "incremental_models" / f"model_{CHUNKS:02d}" / "metadata.json"
        record = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps({**record, key: value}), encoding="utf-8")
        result = evaluate(other)
        assert result.returncode == 2, (key, result.stdout, result.stderr)
        assert "does not match the model of chunk" in result.stderr


def test_kept_champion_passes_without_promotion(tmp_path_factory: pytest.TempPathFactory) -> None:
    artifacts = trained(tmp_path_factory, "kept")
    assert statuses(artifacts) == [
        (1, "production", True),
        *((k, "local_only", True) for k in range(2, CHUNKS + 1)),
    ]
    result = evaluate(artifacts)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "\n" not in line
    assert line.startswith(f"PASS: not promoted: version {CHUNKS} (chunk {CHUNKS}) passed")
    assert "the champion, version 1 (chunk 1), which stays" in line
    assert "gain not significant" in line  # the gate's own reason travels along
    assert alias_in_db(artifacts, "champion") == 1
    assert alias_in_db(artifacts, "challenger") == CHUNKS


def test_failed_acceptance_fails_the_stage(tmp_path_factory: pytest.TempPathFactory) -> None:
    artifacts = trained(tmp_path_factory, "rejected")
    assert statuses(artifacts) == [(k, "local_only", False) for k in range(1, CHUNKS + 1)]
    result = evaluate(artifacts)
    assert result.returncode == ACCEPTANCE_FAILED == 3, (result.stdout, result.stderr)
    line = result.stdout.strip()
    assert "\n" not in line
    assert line.startswith(f"FAIL: version {CHUNKS} (chunk {CHUNKS}) fails acceptance: accuracy")
    assert "< 1.00" in line and "there is no champion" in line
    assert not (artifacts / "production" / "metadata.json").exists()
    assert "Traceback" not in result.stdout + result.stderr


def test_killed_run_is_not_judged_on_the_old_report(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A finished run's report stays when the next run dies; evaluate must not pass on it."""
    root = tmp_path_factory.mktemp("killed")
    data, promoted = project(root, "promoted")
    _, rejected = project(root, "rejected")
    artifacts = root / "artifacts"
    expect_ok(run_cli(*run_args(data, promoted, artifacts), cwd=root))
    assert evaluate(artifacts).returncode == 0

    log = root / "second.log"
    proc = start_cli(*run_args(data, rejected, artifacts), cwd=root, log=log)
    try:
        wait_until(
            lambda: (
                (run_state(artifacts) or {}).get("finished") is False
                and len(completed_chunks(artifacts)) >= 1
            ),
            timeout=120,
            what="the second run to finish its first chunk",
            proc=proc,
            log=log,
            interval=0.01,
        )
    finally:
        sigkill(proc)
    assert (artifacts / "reports" / "incremental_training_report.json").exists()  # the old one

    result = evaluate(artifacts)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: the last run in ")
    assert "run_state.json" in result.stderr and "resume" in result.stderr

    # without the run state, the old report no longer matches the models on disk: still exit 2
    stale = root / "stale"
    shutil.copytree(artifacts, stale)
    (stale / "run_state.json").unlink()
    result = evaluate(stale)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and "run `defectops run` again" in result.stderr


def test_no_run_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--artifacts", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: no incremental_training_report.json in {tmp_path / 'none' / 'reports'}; "
        f"run `defectops run --artifacts {tmp_path / 'none'}` first"
    )
