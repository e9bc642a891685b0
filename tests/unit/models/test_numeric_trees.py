"""The numeric twin of a booster against XGBoost itself: bit-identical margins, or no twin."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xgboost as xgb

from booster_data import FEATURE_TYPES, line_data
from defectops.models.gbm import CalibratedBooster
from defectops.models.numeric_trees import numeric_twin

ONE_HOT = 1 << 23  # every categorical split one category against the rest, as GBM_PARAMS asks


def _booster(**params: object) -> xgb.Booster:
    X, y = line_data(shifts_matter=True)
    dtrain = xgb.DMatrix(X, y, feature_types=FEATURE_TYPES, enable_categorical=True)
    config = {"objective": "binary:logistic", "max_depth": 5, "max_cat_to_onehot": ONE_HOT}
    return xgb.train({**config, **params, "nthread": 1}, dtrain, num_boost_round=40)


def _rows() -> np.ndarray:
    """Rows the booster never saw: unseen, negative, fractional and missing codes, and more."""
    X, _ = line_data(2000, seed=1, shifts_matter=True)
    X[:8, 2] = [45, 100, 0, np.nan, 39, -1, 2.5, 1e9]
    X[8:16, 3] = [5, 4, 0, np.nan, -3, 0.5, 2, 3.999]
    X[16:21, 1] = [np.inf, -np.inf, 0, 10, np.nan]
    return X


@pytest.mark.parametrize("params", [{}, {"base_score": 0.2}, {"max_depth": 8}])
def test_margins_are_bit_identical_to_xgboost(params: dict) -> None:
    booster = _booster(**params)
    twin = numeric_twin(booster)
    assert twin is not None
    X = _rows()
    expected = booster.inplace_predict(X, predict_type="margin")
    np.testing.assert_array_equal(twin.inplace_predict(X, predict_type="margin"), expected)


def test_no_twin_without_category_splits_or_with_wider_ones() -> None:
    X, y = line_data(500, shifts_matter=True)
    numeric = xgb.train({"max_depth": 3}, xgb.DMatrix(X[:, :2], y), 5)
    assert numeric_twin(numeric) is None  # nothing to gain
    assert numeric_twin(_booster(max_cat_to_onehot=1)) is None  # splits on sets of categories
    linear = xgb.train({"booster": "gblinear"}, xgb.DMatrix(np.nan_to_num(X), y), 5)
    assert numeric_twin(linear) is None


def test_calibrated_booster_uses_it_once_prepared_and_never_pickles_it() -> None:
    model = CalibratedBooster(_booster(), slope=1.3, intercept=-0.2)
    before = pickle.dumps(model)
    X = _rows()
    plain = model.predict_proba(X)
    model.prepare_batches()
    assert model.__dict__["_numeric_twin"] is not None
    assert pickle.dumps(model) == before  # derived state stays out of the model file
    np.testing.assert_array_equal(model.predict_proba(X), plain)
    model.set_threads(2)  # both boosters follow
    np.testing.assert_array_equal(model.predict_proba(X), plain)
