"""Platt scaling: a booster's margins turned into probabilities on rows it did not learn from.

Class weighting inflates a booster's probabilities; a sigmoid of its margin, fitted on held-out
(or out-of-fold) scores, makes them real probabilities again without changing the ranking.
"""

from __future__ import annotations

import numpy as np

_MIN_PLATT_SLOPE = 1e-6


def platt(margin: np.ndarray, y: np.ndarray, fallbacks: list[str]) -> tuple[float, float]:
    """Platt's (1999) sigmoid fit of labels on margins, with his smoothed targets.

    The smoothed targets ``(n_pos + 1) / (n_pos + 2)`` and ``1 / (n_neg + 2)`` keep a small slice
    with few defects from giving probabilities of exactly 0 or 1. A slope that would not be
    positive (the booster ranks the rows no better than chance) is held at a tiny positive value,
    with one line appended to ``fallbacks``: probabilities near the base rate, ranking kept.
    """
    from scipy.optimize import minimize

    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    target = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * margin + params[1]
        residual = sigmoid(z) - target
        value = float(np.sum(np.logaddexp(0.0, z) - target * z))
        return value, np.array([np.dot(residual, margin), residual.sum()])

    start = np.array([1.0, np.log((n_pos + 1) / (n_neg + 1))])
    result = minimize(
        loss, start, jac=True, method="L-BFGS-B", bounds=[(_MIN_PLATT_SLOPE, None), (None, None)]
    )
    slope, intercept = (float(v) for v in result.x)
    if slope <= _MIN_PLATT_SLOPE * 1.01:
        fallbacks.append(
            "Platt slope not positive (the booster does not rank the calibration rows): "
            "held at a tiny positive value, probabilities near the base rate"
        )
    return slope, intercept


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, written so that large ``|z|`` neither overflows nor warns."""
    return np.exp(-np.logaddexp(0.0, -z))
