"""DefectClassifier: known-signal accuracy, calibration, thresholds, fallbacks and warm start.

The synthetic data has a known logistic truth: two process readings (one with a name in the
style of real exports) and two bad machines out of twenty. Its true probabilities reach a ROC-AUC
of about 0.84 on fresh rows (checked by ``test_truth_is_what_the_bounds_assume``), so the bounds
below are a few points under that ceiling and a model that misses a signal fails them (without
torque the true AUC drops to ~0.79, without temperature to ~0.73). The bad-machine effect moves
the AUC less (~0.80 without it), so it has a test of its own.
"""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score, roc_auc_score

from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.schema import DataSchema
from defectops.models.calibration import platt as _platt
from defectops.models.classifier import MODEL_NAMES, DefectClassifier, build_model
from defectops.models.gbm import GBM_ROUNDS_NO_SLICE
from defectops.models.threshold import choose_threshold

NUMERIC = ("Air temperature [K]", "Torque [Nm]", "noise level")
CATEGORICAL = ("machine_id", "operator_id", "shift")
BAD_MACHINES = (103, 107)


def make_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows, labels and the true defect probability of each row (defect rate ~15%)."""
    rng = np.random.default_rng(seed)
    temperature = rng.normal(300.0, 2.0, n)
    torque = rng.normal(40.0, 10.0, n)
    machine = rng.integers(101, 121, n)
    logit = (
        -2.6
        + 1.1 * (temperature - 300.0) / 2.0
        + 0.9 * (torque - 40.0) / 10.0
        + 2.0 * np.isin(machine, BAD_MACHINES)
    )
    truth = 1.0 / (1.0 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "Air temperature [K]": temperature,
            "Torque [Nm]": torque,
            "noise level": rng.normal(size=n),
            "machine_id": machine,
            "operator_id": rng.integers(1001, 1031, n),
            "shift": rng.choice(["A", "B", "C"], n),
        }
    )
    return frame, (rng.random(n) < truth).astype(int), truth


def classifier(model: str = "gbm", **kwargs: object) -> DefectClassifier:
    return DefectClassifier(model=model, numeric=NUMERIC, categorical=CATEGORICAL, **kwargs)


@pytest.fixture(scope="module")
def train() -> tuple[pd.DataFrame, np.ndarray]:
    X, y, _ = make_data(3000, seed=1)
    return X, y


@pytest.fixture(scope="module")
def fresh() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    return make_data(5000, seed=2)


@pytest.fixture(scope="module")
def gbm(train: tuple[pd.DataFrame, np.ndarray]) -> DefectClassifier:
    return classifier("gbm").fit(*train)


@pytest.fixture(scope="module")
def logreg(train: tuple[pd.DataFrame, np.ndarray]) -> DefectClassifier:
    return classifier("logreg").fit(*train)


def auc(model: DefectClassifier, data: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> float:
    X, y, _ = data
    return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))


# -- accuracy and calibration -------------------------------------------------------------------


def test_truth_is_what_the_bounds_assume(
    fresh: tuple[pd.DataFrame, np.ndarray, np.ndarray],
) -> None:
    _, y, truth = fresh
    assert 0.81 < roc_auc_score(y, truth) < 0.85
    assert 0.12 < y.mean() < 0.18


def test_gbm_finds_the_signal(gbm: DefectClassifier, fresh: tuple) -> None:
    assert auc(gbm, fresh) > 0.79  # truth ~0.83
    assert gbm.fallbacks_ == []
    assert 0 < gbm.best_iteration_ < 400


@pytest.mark.parametrize("fixture", ["gbm", "logreg"])
def test_bad_machines_are_found(fixture: str, request: pytest.FixtureRequest, fresh) -> None:
    # same rows, only the machine changed: the truth multiplies the odds by e**2, which on these
    # rows makes the mean probability 3.2x higher (0.39 vs 0.12); a model blind to it gives 1x
    model = request.getfixturevalue(fixture)
    rows = fresh[0].iloc[:1000]
    bad = model.predict_proba(rows.assign(machine_id=BAD_MACHINES[0]))[:, 1].mean()
    good = model.predict_proba(rows.assign(machine_id=110))[:, 1].mean()
    assert bad > 1.5 * good


def test_gbm_beats_a_constant_model(gbm: DefectClassifier, fresh: tuple) -> None:
    X, y, _ = fresh
    p = gbm.predict_proba(X)[:, 1]
    constant = np.full_like(p, y.mean())  # the best constant, even knowing the fresh rate
    assert np.mean((p - y) ** 2) < np.mean((constant - y) ** 2) - 0.01


def test_gbm_probabilities_are_calibrated(gbm: DefectClassifier, fresh: tuple) -> None:
    # scale_pos_weight alone would put the mean near 0.5; Platt scaling brings it back
    X, y, _ = fresh
    p = gbm.predict_proba(X)[:, 1]
    assert abs(p.mean() - y.mean()) < 0.03
    high = p > 0.5
    assert abs(p[high].mean() - y[high].mean()) < 0.1


def test_platt_scaling_keeps_the_ranking(gbm: DefectClassifier, fresh: tuple) -> None:
    X, y, _ = fresh
    margin = gbm.estimator_.margin(gbm.features_.transform(X))
    p = gbm.predict_proba(X)[:, 1]
    assert roc_auc_score(y, p) == roc_auc_score(y, margin)
    assert gbm.estimator_.slope > 0


def test_platt_slope_is_kept_positive_when_the_margin_ranks_backwards() -> None:
    rng = np.random.default_rng(8)
    y = (rng.random(400) < 0.25).astype(int)
    margin = -2.0 * y + rng.normal(size=400)  # higher margin, fewer defects
    notes: list[str] = []
    slope, intercept = _platt(margin, y, notes)
    assert 0 < slope < 1e-5 and notes and "Platt slope" in notes[0]
    p = 1 / (1 + np.exp(-(slope * margin + intercept)))
    assert abs(p.mean() - y.mean()) < 0.01  # near the base rate


def test_logreg_finds_the_signal(logreg: DefectClassifier, fresh: tuple) -> None:
    assert auc(logreg, fresh) > 0.79
    X, y, _ = fresh
    assert abs(logreg.predict_proba(X)[:, 1].mean() - y.mean()) < 0.03


def test_gbm_finds_nothing_in_pure_noise(train: tuple) -> None:
    # known answer the other way round: labels independent of the features give AUC ~0.5
    X, _ = train
    y = np.random.default_rng(5).random(len(X)) < 0.2
    X_new, _, _ = make_data(3000, seed=6)
    y_new = np.random.default_rng(7).random(len(X_new)) < 0.2
    model = classifier("gbm").fit(X, y.astype(int))
    assert abs(roc_auc_score(y_new, model.predict_proba(X_new)[:, 1]) - 0.5) < 0.05


@pytest.mark.slow
def test_seed_ensemble_finds_the_signal(train: tuple, fresh: tuple) -> None:
    model = classifier("seed-ensemble").fit(*train)
    assert auc(model, fresh) > 0.78
    assert model.fallbacks_ == []


# -- threshold ----------------------------------------------------------------------------------


def test_threshold_maximises_f1_known_answer() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    y = [1, 1, 0, 1, 0, 0]
    # F1 at each threshold: 0.5, 0.8, 0.667, 0.857, 0.75, 0.667 -> 0.6
    assert choose_threshold(y, scores) == 0.6
    # cost 5*FN + FP: 10, 5, 6, 1, 2, 3 -> 0.6; at ratio 0.1: 0.2, 0.1, 1.1, 1, 2, 3 -> 0.8
    assert choose_threshold(y, scores, "cost", 5.0) == 0.6
    assert choose_threshold(y, scores, "cost", 0.1) == 0.8


def test_threshold_flags_nothing_when_that_is_cheapest() -> None:
    threshold = choose_threshold([0, 1], [0.9, 0.1], "cost", 0.5)  # no alarms: 0.5
    assert threshold > 0.9


def test_threshold_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 40, 500) / 40  # many ties
    y = (rng.random(500) < scores * 0.6).astype(int)
    best = choose_threshold(y, scores)
    f1 = {t: f1_score(y, scores >= t) for t in np.unique(scores)}
    assert f1[best] == pytest.approx(max(f1.values()))


def test_threshold_of_one_class_is_half() -> None:
    assert choose_threshold([0, 0, 0], [0.1, 0.2, 0.3]) == 0.5
    assert choose_threshold([], []) == 0.5


def test_predict_uses_the_threshold(gbm: DefectClassifier, fresh: tuple) -> None:
    X = fresh[0].iloc[:500]
    p = gbm.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(gbm.predict(X), (p >= gbm.threshold_).astype(int))
    assert 0.05 < gbm.threshold_ < 0.6


# -- fallbacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_a_constant_model(label: int) -> None:
    X, _, _ = make_data(200, seed=3)
    model = classifier("gbm").fit(X, np.full(len(X), label))
    assert any("single class" in line for line in model.fallbacks_)
    assert model.threshold_ == 0.5
    np.testing.assert_array_equal(model.predict_proba(X.iloc[:3])[:, 1], [label] * 3)
    np.testing.assert_array_equal(model.predict(X.iloc[:1]), [label])


def with_positives(n: int, positives: int, seed: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    X, _, _ = make_data(n, seed)
    y = np.zeros(n, dtype=int)
    y[np.random.default_rng(seed).choice(n, positives, replace=False)] = 1
    return X, y


def test_minority_of_three_shrinks_smote_neighbours() -> None:
    model = classifier("seed-ensemble").fit(*with_positives(300, 3))
    assert any("k_neighbors=2" in line for line in model.fallbacks_)
    # three defects: three folds, each holding one out
    assert (model.fit_record_.procedure, model.fit_record_.folds) == ("cross-fit", 3)


def test_minority_of_one_uses_random_over_sampling() -> None:
    X, y = with_positives(300, 1)
    model = classifier("seed-ensemble").fit(X, y)
    assert any("random over-sampling" in line for line in model.fallbacks_)
    assert any("in-sample" in line for line in model.fallbacks_)
    assert np.isfinite(model.predict_proba(X.iloc[:1])).all()


@pytest.mark.parametrize("model_name", ["gbm", "logreg"])
def test_too_few_rows_to_stop_early(model_name: str) -> None:
    X, y = with_positives(45, 9)  # 15 rows held out per fold, fewer than MIN_VALIDATION_ROWS
    model = classifier(model_name).fit(X, y)
    assert (model.fit_record_.procedure, model.fit_record_.folds) == ("cross-fit", 3)
    stopped = any("too few rows to stop early" in line for line in model.fallbacks_)
    assert stopped == (model_name == "gbm")  # logistic regression never stops early
    if model_name == "gbm":
        assert model.fit_record_.rounds == GBM_ROUNDS_NO_SLICE
    assert np.isfinite(model.predict_proba(X)).all()


@pytest.mark.parametrize("model_name", ["gbm", "logreg"])
def test_all_missing_column(model_name: str, train: tuple, fresh: tuple) -> None:
    X, y = train
    X = X.assign(**{"Torque [Nm]": np.nan})
    model = classifier(model_name).fit(X, y)
    p = model.predict_proba(fresh[0])[:, 1]
    assert np.isfinite(p).all()
    assert roc_auc_score(fresh[1], p) > 0.7  # temperature and machine still carry signal


def test_unseen_ids_and_one_row(gbm: DefectClassifier, fresh: tuple) -> None:
    X = fresh[0].iloc[:50].copy()
    batch = gbm.predict_proba(X)
    for i in range(3):
        np.testing.assert_array_equal(gbm.predict_proba(X.iloc[[i]])[0], batch[i])
    X["machine_id"] = "never-seen"
    X["shift"] = None
    assert np.isfinite(gbm.predict_proba(X)).all()


# -- warm start ---------------------------------------------------------------------------------


def test_gbm_warm_start_continues_the_booster() -> None:
    X1, y1, _ = make_data(1500, seed=11)
    X2, y2, _ = make_data(1500, seed=12)
    first = classifier("gbm").fit(X1, y1)
    before = first.predict_proba(X2)
    warm = classifier("gbm").fit(X2, y2, init_model=first)
    cold = classifier("gbm").fit(X2, y2)
    assert first.estimator_.n_trees < warm.estimator_.n_trees
    assert warm.estimator_.n_trees <= first.estimator_.n_trees + 100
    assert warm.best_iteration_ == warm.estimator_.n_trees - 1
    assert not np.allclose(warm.predict_proba(X2), cold.predict_proba(X2))
    np.testing.assert_array_equal(first.predict_proba(X2), before)  # the old model is untouched
    np.testing.assert_array_equal(warm.features_.mean_, first.features_.mean_)  # frozen units
    # machine x operator pairs first seen in chunk 2 got codes; chunk 1's codes are unchanged
    old_pairs, new_pairs = (
        first.features_.category_buckets_[-1],
        warm.features_.category_buckets_[-1],
    )
    assert len(new_pairs) > len(old_pairs)
    np.testing.assert_array_equal(new_pairs[: len(old_pairs)], old_pairs)
    assert warm.fallbacks_ == []


def test_logreg_warm_start_starts_from_the_old_coefficients() -> None:
    from sklearn.linear_model import LogisticRegression

    X1, y1, _ = make_data(1500, seed=11)
    X2, y2, _ = make_data(1500, seed=12)
    first = classifier("logreg").fit(X1, y1)
    # no validation slice, so the final fit sees exactly the rows the comparison below sees
    warm = classifier("logreg", validation_fraction=0.0).fit(X2, y2, init_model=first)
    np.testing.assert_array_equal(warm.features_.scale_, first.features_.scale_)
    assert np.abs(warm.estimator_.coef_ - first.estimator_.coef_).max() > 0.01
    # the objective is convex: warm start lands on the new chunk's optimum in the frozen units
    # (up to solver tolerance), i.e. it does not remember the old chunk; documented in models.py
    Z = warm.features_.transform(X2)
    cold = LogisticRegression(C=1.0, max_iter=2000).fit(Z, y2)
    np.testing.assert_allclose(warm.estimator_.coef_[0, :3], cold.coef_[0, :3], atol=5e-3)
    gap = warm.estimator_.predict_proba(Z)[:, 1] - cold.predict_proba(Z)[:, 1]
    assert np.abs(gap).max() < 0.02


def test_warm_start_from_a_constant_model_trains_from_scratch() -> None:
    X, y, _ = make_data(500, seed=13)
    constant = classifier("gbm").fit(X, np.zeros(len(X), dtype=int))
    model = classifier("gbm").fit(X, y, init_model=constant)
    assert any("constant fallback" in line for line in model.fallbacks_)
    assert model.features_.output == "codes"


def test_warm_start_needs_a_supporting_model(logreg: DefectClassifier, train: tuple) -> None:
    with pytest.raises(UserError, match="gbm, logreg"):
        classifier("seed-ensemble").fit(*train, init_model=logreg)
    model = classifier("gbm").fit(train[0].iloc[:300], train[1][:300], init_model=logreg)
    assert any("'logreg' model" in line for line in model.fallbacks_)


# -- building, persistence, determinism -----------------------------------------------------------


def schema() -> DataSchema:
    return DataSchema(
        target="DefectStatus", positive_label="1", numeric=NUMERIC, categorical=CATEGORICAL
    )


def test_build_model_from_settings() -> None:
    settings = Settings(model="logreg", hash_buckets=512, seed=7, threshold={"objective": "cost"})
    model = build_model(settings, schema())
    assert (model.model, model.n_buckets, model.random_state) == ("logreg", 512, 7)
    assert model.threshold_objective == "cost"
    assert model.numeric == NUMERIC and model.categorical == CATEGORICAL


def test_build_model_refuses_seed_ensemble_warm_start() -> None:
    settings = Settings(model="seed-ensemble", strategy="warm-start")
    with pytest.raises(UserError, match=r"warm-start.*gbm, logreg"):
        build_model(settings, schema())
    assert build_model(Settings(model="gbm", strategy="warm-start"), schema()).model == "gbm"


def test_unknown_model_is_a_user_error(train: tuple) -> None:
    settings = Settings().model_copy(update={"model": "forest"})
    with pytest.raises(UserError, match=r"'forest'.*" + ", ".join(MODEL_NAMES)):
        build_model(settings, schema())
    with pytest.raises(UserError, match="forest"):
        classifier("forest").fit(*train)


def test_bad_target_is_a_user_error(train: tuple) -> None:
    X, y = train
    with pytest.raises(UserError, match="0/1"):
        classifier("logreg").fit(X, np.where(y == 1, 2, 0))


@pytest.mark.parametrize("fixture", ["gbm", "logreg"])
def test_joblib_round_trip(fixture: str, request: pytest.FixtureRequest, tmp_path, fresh) -> None:
    model = request.getfixturevalue(fixture)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(fresh[0]), model.predict_proba(fresh[0]))
    assert loaded.threshold_ == model.threshold_


def test_same_data_and_seed_give_identical_models(gbm: DefectClassifier, train, fresh) -> None:
    again = classifier("gbm").fit(*train)
    np.testing.assert_array_equal(again.predict_proba(fresh[0]), gbm.predict_proba(fresh[0]))
    other_seed = classifier("gbm", random_state=7).fit(*train)  # another validation slice
    assert not np.array_equal(other_seed.predict_proba(fresh[0]), gbm.predict_proba(fresh[0]))


def test_clone_and_not_fitted() -> None:
    model = classifier("logreg", cost_ratio=3.0)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict_proba(make_data(5, seed=0)[0])
