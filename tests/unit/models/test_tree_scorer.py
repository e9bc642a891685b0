"""The numpy tree walk against XGBoost itself: bit-identical margins, or not used at all."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xgboost as xgb

from booster_data import FEATURE_TYPES, line_data
from defectops.models.gbm import TREE_SCORER_MAX_ROWS, CalibratedBooster
from defectops.models.tree_scorer import compile_trees


def _booster(objective: str = "binary:logistic", **params: object) -> xgb.Booster:
    X, y = line_data()
    dtrain = xgb.DMatrix(X, y, feature_types=FEATURE_TYPES, enable_categorical=True)
    config = {"objective": objective, "max_depth": 5, "max_cat_to_onehot": 8, **params}
    return xgb.train(config, dtrain, num_boost_round=40)


@pytest.mark.parametrize(
    ("objective", "params"),
    [
        ("binary:logistic", {}),
        ("binary:logistic", {"base_score": 0.2}),  # a base margin other than 0
        ("binary:logitraw", {}),
        ("binary:logistic", {"max_depth": 8, "max_cat_to_onehot": 1}),  # partition splits
    ],
)
def test_margins_are_bit_identical_to_xgboost(objective: str, params: dict) -> None:
    booster = _booster(objective, **params)
    scorer = compile_trees(booster)
    assert scorer is not None
    X, _ = line_data(500, seed=1)
    X[:5, 2] = [45, 100, 0, np.nan, 39]  # codes beyond training, the lowest, missing
    X[5:10, 1] = [np.inf, -np.inf, 0, 10, np.nan]
    expected = booster.inplace_predict(X, predict_type="margin")
    np.testing.assert_array_equal(scorer.margin(X).astype(np.float32), expected)


def test_a_linear_booster_gets_no_scorer() -> None:
    X, y = line_data(300)
    booster = xgb.train({"booster": "gblinear"}, xgb.DMatrix(np.nan_to_num(X), y), 5)
    assert compile_trees(booster) is None


def test_calibrated_booster_uses_it_for_few_rows_and_never_pickles_it() -> None:
    booster = _booster()
    model = CalibratedBooster(booster, slope=1.3, intercept=-0.2)
    before = pickle.dumps(model)
    X, _ = line_data(50, seed=2)
    few = model.predict_proba(X[:TREE_SCORER_MAX_ROWS])
    assert model.tree_scorer() is not None
    assert pickle.dumps(model) == before  # derived state stays out of the model file
    many = model.predict_proba(X)  # the booster's path
    np.testing.assert_array_equal(few, many[:TREE_SCORER_MAX_ROWS])
