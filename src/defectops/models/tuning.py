"""``--tune``: other tree settings, scored on the same folds as the defaults within a budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from defectops.models.gbm import gbm_size_params

#: scores the out-of-fold rows with a setting: their scores and each fold's rounds
CrossFit = Callable[[dict[str, Any]], tuple[np.ndarray, list[int]]]


def tune_settings(rows: int) -> list[dict[str, Any]]:
    """The tree settings ``--tune`` scores after the defaults, most promising first: other
    depths, then regularisation (larger leaves, features and rows sampled per tree/split)."""
    default = gbm_size_params(rows)["max_depth"]
    depths = [{"max_depth": d} for d in (3, 2, 4, 6) if d != default]
    return [
        *depths,
        {"min_child_weight": 5.0},
        {"colsample_bynode": 0.5},
        {"subsample": 0.8, "colsample_bytree": 0.8},
        {"reg_lambda": 10.0},
    ]


def tuned(
    cross_fit: CrossFit, target: np.ndarray, seconds: float
) -> tuple[dict[str, Any], np.ndarray, list[int], int]:
    """The defaults' out-of-fold scores, or, with ``seconds`` > 0, those of the setting whose
    scores have the best average precision among the ones scored in time.

    Returns the setting (empty: the defaults), its scores, its fold rounds and how many settings
    were scored. Every setting is scored on the same folds, so they compete on the same rows;
    the defaults are always scored first and win ties.
    """
    began = time.monotonic()
    setting: dict[str, Any] = {}
    oof, fold_rounds = cross_fit(setting)
    tried = 1
    if not seconds > 0:
        return setting, oof, fold_rounds, tried
    from sklearn.metrics import average_precision_score

    best = average_precision_score(target, oof)
    for candidate in tune_settings(len(target)):
        if time.monotonic() - began >= seconds:
            break
        scores, rounds_kept = cross_fit(candidate)
        tried += 1
        score = average_precision_score(target, scores)
        if score > best:
            best, setting, oof, fold_rounds = score, candidate, scores, rounds_kept
    return setting, oof, fold_rounds, tried
