"""End-to-end runs of the incremental pipeline on simulated data, checked against known answers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from defectops.core.config import load_settings
from defectops.core.errors import UserError
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.evaluation.gate import LOCAL_ONLY, PRODUCTION
from defectops.ops.run import run_pipeline
from defectops.registry.local import LocalRegistry
from defectops.scoring.predict import predict_file
from defectops.training.chunks import chunk_bounds

TRAIN_ROWS = 6_000
HOLDOUT_ROWS = 3_000
TIMING_KEYS = {"fit_seconds", "trained_at", "total_fit_seconds"}


@pytest.fixture(scope="module")
def line_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A training stream and the hold-out batch that follows it, with the truth for both."""
    directory = tmp_path_factory.mktemp("line")
    frame, truth = simulate(SimulationSpec(rows=TRAIN_ROWS + HOLDOUT_ROWS, seed=7))
    train, _ = write_frames(
        frame.iloc[:TRAIN_ROWS], truth.iloc[:TRAIN_ROWS], directory / "line.csv"
    )
    rest = slice(TRAIN_ROWS, None)
    hold, hold_truth = write_frames(
        frame.iloc[rest].reset_index(drop=True),
        truth.iloc[rest].reset_index(drop=True),
        directory / "holdout.csv",
    )
    return {"train": train, "holdout": hold, "holdout_truth": hold_truth}


def settings_for(tmp: Path, data: dict[str, Path], **flags):
    return load_settings(
        flags={"data": data["train"], "holdout_data": data["holdout"], "artifacts": tmp, **flags},
        environ={},
    )


@pytest.fixture(scope="module")
def gbm_run(line_data, tmp_path_factory):
    artifacts = tmp_path_factory.mktemp("gbm")
    result = run_pipeline(settings_for(artifacts, line_data))
    return artifacts, result


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def test_one_model_per_chunk_with_every_artifact(gbm_run):
    artifacts, result = gbm_run
    assert [m["chunk_id"] for m in result.models] == [1, 2, 3, 4, 5, 6]
    assert result.models[-1]["rows_seen"] == TRAIN_ROWS
    for m in result.models:
        directory = artifacts / "incremental_models" / f"model_{m['chunk_id']:02d}"
        assert (directory / f"model_chunk_{m['chunk_id']:02d}.joblib").is_file()
        stored = json.loads((directory / "metadata.json").read_text())
        assert stored["model_sha256"] == m["model_sha256"]
        assert stored["status"] in (PRODUCTION, LOCAL_ONLY) and stored["reason"]
    reports = artifacts / "reports"
    report = json.loads((reports / "incremental_training_report.json").read_text())
    assert set(report) >= {"models", "summary", "champion"}
    for key in ("accuracy", "f1", "mcc", "roc_auc", "pr_auc", "brier", "balanced_accuracy"):
        assert key in report["champion"]["metrics"]
    assert report["champion"]["status"] == PRODUCTION
    evaluation = json.loads((reports / "model_evaluation.json").read_text())
    assert evaluation["champion"]["chunk_id"] == report["champion"]["chunk_id"]
    assert "deploy" in evaluation["recommendation"]
    png = (reports / "incremental_learning_visualization.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_every_model_is_scored_on_the_same_holdout_rows(gbm_run):
    _, result = gbm_run
    assert len({m["holdout_sha256"] for m in result.models}) == 1
    assert {m["metrics"]["n"] for m in result.models} == {HOLDOUT_ROWS}


def test_expanding_models_see_all_rows_so_far(gbm_run):
    _, result = gbm_run
    assert [m["rows_trained"] for m in result.models] == [1000 * k for k in range(1, 7)]
    assert len({m["data_sha256"] for m in result.models}) == 6


def test_champion_comes_close_to_the_true_probability(gbm_run, line_data):
    _, result = gbm_run
    labels = pd.read_csv(line_data["holdout"])["DefectStatus"].to_numpy()
    truth = pd.read_csv(line_data["holdout_truth"])["true_defect_probability"].to_numpy()
    best_possible = roc_auc_score(labels, truth)
    champion = result.champion["metrics"]
    # the simulator's ceiling is ~0.89; 6,000 training rows should get within 0.08 of it
    assert champion["roc_auc"] > best_possible - 0.08, (champion["roc_auc"], best_possible)
    assert champion["pr_auc"] > 2 * champion["baseline_pr_auc"]
    assert champion["mcc"] > 0.25
    # at the F1-best threshold accuracy may trail the majority baseline; then it must be flagged
    assert champion["below_baseline"] == (champion["accuracy"] <= champion["baseline_accuracy"])


def test_gate_decisions_follow_the_rule(gbm_run):
    """Recompute every decision from the report: acceptance, then newer-unless-worse (every
    challenger of a run is newer than its champion: promoted unless its interval is below 0)."""
    _, result = gbm_run
    champion_chunk = None
    for m in result.models:
        metrics = m["metrics"]
        accepted = metrics["accuracy"] >= 0.70 and metrics["mcc"] > 0
        comparison = m["decision"]["comparison"]
        if not accepted:
            expected = False
        elif champion_chunk is None:
            expected = True
            assert comparison is None
        else:
            expected = not comparison["high"] < 0
            assert f"{comparison['delta']:+.3f}" in m["reason"]
        assert (m["status"] == PRODUCTION) == expected, m["reason"]
        if expected:
            champion_chunk = m["chunk_id"]
    assert result.champion["chunk_id"] == champion_chunk


def test_production_tree_holds_the_champion(gbm_run):
    artifacts, result = gbm_run
    registry = LocalRegistry(artifacts)
    _, metadata = registry.load_champion()
    assert metadata["chunk_id"] == result.champion["chunk_id"]
    assert registry.champion_schema()["schema"]["target"] == "DefectStatus"


def test_predict_reproduces_the_champions_holdout_scores(gbm_run, line_data, tmp_path):
    artifacts, result = gbm_run
    out = tmp_path / "scored.csv"
    scored = predict_file(artifacts, line_data["holdout"], out)
    original = pd.read_csv(line_data["holdout"])
    assert list(scored.columns[:-3]) == list(original.columns)
    assert (scored["quarantine_reason"] == "").all()  # every row scored
    assert scored["timestamp"].tolist() == original["timestamp"].tolist()  # input order kept
    metrics = result.champion["metrics"]
    y = original["DefectStatus"].to_numpy()
    p = pd.read_csv(out)["defect_probability"].to_numpy()
    assert average_precision_score(y, p) == pytest.approx(metrics["pr_auc"], abs=1e-6)
    assert roc_auc_score(y, p) == pytest.approx(metrics["roc_auc"], abs=1e-6)
    flagged = (p >= metrics["threshold"]).astype(int)
    assert (pd.read_csv(out)["defect_pred"].to_numpy() == flagged).all()


def test_same_seed_gives_the_same_report(gbm_run, line_data, tmp_path):
    _, first = gbm_run
    again = run_pipeline(settings_for(tmp_path, line_data))
    assert without_timing(again.report["models"]) == without_timing(first.report["models"])
    assert without_timing(again.report["summary"]) == without_timing(first.report["summary"])


def test_prequential_scores_model_k_on_chunk_k_plus_1(gbm_run):
    _, result = gbm_run
    for m in result.models[:-1]:
        assert m["prequential"]["chunk_id"] == m["chunk_id"] + 1
        assert m["prequential"]["rows"] == 1000
        assert 0.5 < m["prequential"]["roc_auc"] <= 1
    assert result.models[-1]["prequential"] is None


@pytest.mark.parametrize(
    ("strategy", "expected_rows"),
    [("sliding", [1000, 2000, 2000, 2000, 2000, 2000]), ("warm-start", [1000] * 6)],
)
def test_strategies_train_on_their_rows(line_data, tmp_path, strategy, expected_rows):
    result = run_pipeline(settings_for(tmp_path, line_data, strategy=strategy, window=2))
    assert [m["rows_trained"] for m in result.models] == expected_rows
    assert result.champion is not None
    if strategy == "warm-start":
        iterations = [m["params"] for m in result.models]
        assert all(p["model"] == "gbm" for p in iterations)


def test_chunk_larger_than_the_data_gives_one_model(line_data, tmp_path):
    result = run_pipeline(settings_for(tmp_path, line_data, chunk_size=50_000))
    assert len(result.models) == 1 and result.models[0]["rows_trained"] == TRAIN_ROWS
    assert result.champion["chunk_id"] == 1


def test_last_short_chunk_is_merged():
    bounds = chunk_bounds(23_490, 1000)
    assert len(bounds) == 23 and bounds[-1] == (22_000, 23_490)
    assert bounds[0] == (0, 1000) and all(b[0] == a[1] for a, b in itertools.pairwise(bounds))


# -- the hard cases real chunks contain ----------------------------------------------------------


def small_frame(n: int, seed: int = 0) -> pd.DataFrame:
    frame, _ = simulate(SimulationSpec(rows=n, seed=seed))
    return frame


def run_frame(tmp_path: Path, frame: pd.DataFrame, **flags):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    settings = load_settings(
        flags={"data": path, "artifacts": tmp_path / "artifacts", "chunk_size": 500, **flags},
        environ={},
    )
    return run_pipeline(settings)


def test_single_class_chunk_falls_back_and_is_recorded(tmp_path):
    frame = small_frame(3000)
    frame.loc[:499, "DefectStatus"] = 0  # the first chunk has no defects at all
    result = run_frame(tmp_path, frame)
    first = result.models[0]
    assert any("single class" in f for f in first["fallbacks"])
    assert first["status"] == LOCAL_ONLY  # a constant model cannot beat the baseline on MCC
    assert result.champion is not None and result.champion["chunk_id"] > 1


def test_tiny_minority_with_seed_ensemble(tmp_path):
    frame = small_frame(1500)
    y = np.zeros(len(frame), dtype=int)
    y[[10, 200, 400]] = 1  # three defects in the first chunk: fewer than SMOTE's 5 neighbours
    y[600:] = frame["DefectStatus"].to_numpy()[600:]
    frame["DefectStatus"] = y
    result = run_frame(tmp_path, frame, model="seed-ensemble")
    assert any("SMOTE" in f or "neighbour" in f for f in result.models[0]["fallbacks"])


def test_all_missing_column_and_unseen_category(tmp_path):
    frame = small_frame(3000)
    frame["QualityScore"] = np.nan
    frame.loc[2500:, "material"] = "unobtainium"  # only in the hold-out tail
    result = run_frame(tmp_path, frame)
    assert result.champion is not None
    assert all(np.isfinite(m["metrics"]["roc_auc"]) for m in result.models)


@pytest.mark.parametrize(("mapping", "positive"), [({0: -1, 1: 1}, None), ({0: "N", 1: "Y"}, None)])
def test_target_forms(tmp_path, mapping, positive):
    frame = small_frame(2000)
    reference = frame["DefectStatus"].copy()
    frame["DefectStatus"] = frame["DefectStatus"].map(mapping)
    result = run_frame(tmp_path, frame)
    assert result.report["data"]["holdout_defect_rate"] == pytest.approx(
        reference.iloc[-400:].mean()
    )


def test_holdout_without_defects_is_a_clear_error(tmp_path):
    """Without widening (holdout_min_defects 0) a tail with no defects cannot compare models."""
    frame = small_frame(2000)
    frame.loc[1600:, "DefectStatus"] = 0
    with pytest.raises(UserError, match="hold-out"):
        run_frame(tmp_path, frame, holdout_min_defects=0)
    assert not (tmp_path / "artifacts").exists()  # nothing written


def test_a_tail_without_defects_widens_back_to_the_last_defects(tmp_path):
    frame = small_frame(2000)
    frame.loc[1600:, "DefectStatus"] = 0
    defects = np.flatnonzero(frame["DefectStatus"].to_numpy() == 1)
    result = run_frame(tmp_path, frame)
    rule = result.report["data"]["holdout_rule"]
    want = min(20, int(np.ceil(0.2 * len(defects))))
    # the smallest tail holding `want` defects: from the want-th defect counted from the end
    assert rule["rule"] == "widened tail"
    assert rule["rows"] == 2000 - defects[-want]
    assert rule["defects"] == want
