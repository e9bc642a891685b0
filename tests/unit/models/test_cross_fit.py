"""Cross-fitting: every training row is scored once by a model that never learned from it; the
released model is refitted on all rows, and says so in its metadata and in MLflow.

The fold check observes a real fit: a subclass records which rows (by a unique row number in
the first numeric column, which the features pass through unchanged) each estimator learned
from and which rows each estimator scored. Nothing is replaced; the subclass only watches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from defectops.core.config import load_settings
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.models.classifier import DefectClassifier
from defectops.models.splits import CROSS_FIT_FOLDS, cross_fit_folds
from defectops.models.tuning import tune_settings
from defectops.ops.run import run_pipeline


def rows(n: int, seed: int, noise_labels: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "row": np.arange(n, dtype=float),  # unique: lets a tree memorise any row
            "torque": rng.normal(40, 10, n),
            "machine": rng.integers(1, 20, n).astype(str),
        }
    )
    logit = -2.0 + 0.15 * (X["torque"].to_numpy() - 40)
    p = np.full(n, 0.2) if noise_labels else 1 / (1 + np.exp(-logit))
    return X, (rng.random(n) < p).astype(int)


class Watched(DefectClassifier):
    """Records the row numbers each estimator was fitted on and each estimator scored."""

    def _row_numbers(self, Z: Any) -> np.ndarray:
        """The rows of a feature matrix, by their first column (scaled in the sparse layout)."""
        if not hasattr(self, "lookup_"):
            first = _first_column(self.features_.transform(self.X_))
            self.lookup_ = dict(zip(first.tolist(), range(len(first)), strict=True))
        return np.array([self.lookup_[v] for v in _first_column(Z).tolist()])

    def _fit_estimator(self, Z: Any, y: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        estimator = super()._fit_estimator(Z, y, *args, **kwargs)
        self.learned_.setdefault(id(estimator), set()).update(self._row_numbers(Z).tolist())
        self.estimators_.append(estimator)  # keep it alive: ids stay unique
        return estimator

    def _raw_scores(self, estimator: Any, Z: Any) -> np.ndarray:
        scores = super()._raw_scores(estimator, Z)
        self.scored_.append((id(estimator), self._row_numbers(Z)))
        self.scores_.append(scores)
        return scores


def _first_column(Z: Any) -> np.ndarray:
    column = Z[:, 0]
    return np.asarray(column.toarray() if hasattr(column, "toarray") else column).ravel()


def watched(model: str, X: pd.DataFrame, **params: Any) -> Watched:
    m = Watched(model=model, numeric=("row", "torque"), categorical=("machine",), **params)
    m.X_, m.learned_, m.scored_, m.scores_, m.estimators_ = X, {}, [], [], []
    return m


def test_folds_hold_every_row_out_exactly_once_and_never_learn_from_it() -> None:
    y = np.r_[np.ones(30, int), np.zeros(270, int)]
    folds = cross_fit_folds(y, seed=0)
    assert len(folds) == CROSS_FIT_FOLDS
    held = np.concatenate([h for _, h in folds])
    assert sorted(held) == list(range(300))
    for learn, out in folds:
        assert not set(learn) & set(out)
        assert len(learn) + len(out) == 300
        assert y[out].sum() == 10  # stratified: the defects are shared out evenly
    # as many folds as defects when fewer; none with a single defect
    assert len(cross_fit_folds(np.r_[np.ones(2, int), np.zeros(98, int)], seed=0)) == 2
    assert cross_fit_folds(np.r_[np.ones(1, int), np.zeros(99, int)], seed=0) == []


@pytest.mark.parametrize("model", ["gbm", "logreg"])
def test_no_row_of_a_fold_scores_itself_and_the_release_learns_from_all(model: str) -> None:
    X, y = rows(900, seed=1)
    m = watched(model, X).fit(X, y)
    assert m.fit_record_.procedure == "cross-fit"
    assert (m.fit_record_.rows, m.fit_record_.folds) == (900, CROSS_FIT_FOLDS)

    fold_scores = m.scored_[:CROSS_FIT_FOLDS]  # the out-of-fold scores, one call per fold
    scored = np.concatenate([ids for _, ids in fold_scores])
    assert sorted(scored) == list(range(900))  # every row scored exactly once
    for estimator, ids in fold_scores:
        learned = m.learned_[estimator]
        assert not learned & set(ids)  # no row scores itself
        assert len(learned) + len(ids) == 900  # and each fold learned from all the others
    released = m.estimators_[-1]
    assert m.learned_[id(released)] == set(range(900))  # the refit saw every row
    if model == "gbm":
        assert m.fit_record_.rounds == round(np.mean(m.fit_record_.fold_rounds))
        assert m.estimator_.booster.num_boosted_rounds() == m.fit_record_.rounds


def test_tune_keeps_the_setting_with_the_best_out_of_fold_pr_auc() -> None:
    """With time for all of them, every setting is cross-fitted on the same folds; the one whose
    out-of-fold scores have the highest average precision (scikit-learn's, computed here from
    the scores the fold models gave) is refitted on all rows."""
    X, y = rows(900, seed=4)
    m = watched("gbm", X, tune_seconds=600).fit(X, y)
    candidates = [{}, *tune_settings(900)]
    assert m.fit_record_.settings_tried == len(candidates)
    # the fold models' scores, as they were returned: CROSS_FIT_FOLDS calls per setting
    calls = list(zip(m.scored_, m.scores_, strict=True))
    assert len(calls) == CROSS_FIT_FOLDS * len(candidates)
    precision = []
    for start in range(0, len(calls), CROSS_FIT_FOLDS):
        oof = np.full(900, np.nan)
        for (_, ids), scores in calls[start : start + CROSS_FIT_FOLDS]:
            oof[ids] = scores
        assert not np.isnan(oof).any()
        precision.append(average_precision_score(y, oof))
    best = int(np.argmax(precision))  # the first of equals: ties keep the earlier setting
    assert m.fit_record_.setting == candidates[best]
    assert m.learned_[id(m.estimators_[-1])] == set(range(900))  # refitted on every row
    without = watched("gbm", X).fit(X, y)
    assert (without.fit_record_.setting, without.fit_record_.settings_tried) == ({}, 1)


def test_calibration_on_noise_stays_at_the_base_rate() -> None:
    """Labels independent of everything. The released booster still fits some of that noise
    (its in-sample ROC-AUC is well above 0.5), so a calibration fitted on in-sample scores would
    spread the probabilities; out-of-fold scores carry no signal, and the probabilities stay at
    the defect rate."""
    from sklearn.linear_model import LogisticRegression

    X, y = rows(1500, seed=2, noise_labels=True)
    m = DefectClassifier(numeric=("row", "torque"), categorical=("machine",)).fit(X, y)
    margins = m.estimator_.booster.inplace_predict(
        m.features_.transform(X), predict_type="margin"
    ).reshape(-1, 1)
    assert roc_auc_score(y, margins) > 0.65  # the released booster fits its own rows' noise
    in_sample = LogisticRegression().fit(margins, y).predict_proba(margins)[:, 1]
    p = m.predict_proba(X)[:, 1]
    assert abs(p.mean() - y.mean()) < 0.01
    spread = np.percentile(p, 95) - np.percentile(p, 5)
    assert spread < 0.02
    assert np.percentile(in_sample, 95) - np.percentile(in_sample, 5) > 5 * spread


def test_lineage_in_the_metadata_and_in_mlflow(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    frame, truth = simulate(SimulationSpec(rows=2_500, seed=3))
    train, _ = write_frames(frame.iloc[:2_000], truth.iloc[:2_000], tmp_path / "line.csv")
    holdout, _ = write_frames(
        frame.iloc[2_000:].reset_index(drop=True),
        truth.iloc[2_000:].reset_index(drop=True),
        tmp_path / "holdout.csv",
    )
    artifacts = tmp_path / "artifacts"
    settings = load_settings(
        flags={"data": train, "holdout_data": holdout, "artifacts": artifacts}, environ={}
    )
    result = run_pipeline(settings)
    uri = f"sqlite:///{artifacts / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for meta in result.models:
        directory = artifacts / "incremental_models" / f"model_{meta['chunk_id']:02d}"
        stored = json.loads((directory / "metadata.json").read_text())
        training = stored["training"]
        assert training["procedure"] == "cross-fit"
        assert training["rows"] == stored["rows_trained"] == 1_000 * meta["chunk_id"]
        assert training["folds"] == CROSS_FIT_FOLDS
        assert len(training["fold_rounds"]) == CROSS_FIT_FOLDS
        assert training["rounds"] == round(np.mean(training["fold_rounds"]))
        version = client.get_model_version("defect-classifier", str(meta["chunk_id"]))
        params = client.get_run(version.run_id).data.params
        assert params["fit.procedure"] == "cross-fit"
        assert params["fit.rows"] == str(training["rows"])
        assert params["fit.folds"] == str(CROSS_FIT_FOLDS)
        assert json.loads(params["fit.fold_rounds"]) == training["fold_rounds"]
        assert params["fit.rounds"] == str(training["rounds"])
        assert (training["setting"], training["settings_tried"]) == ({}, 1)  # --tune is off
        assert (params["fit.setting"], params["fit.settings_tried"]) == ("{}", "1")
