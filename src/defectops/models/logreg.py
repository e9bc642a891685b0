"""The ``logreg`` model family: logistic regression on the ``output="sparse"`` feature layout.

Unweighted, so its probabilities stay calibrated without Platt scaling. Warm start begins the
solver at the previous coefficients; the objective is convex, so it lands (up to solver
tolerance) on the optimum for the new chunk alone in the frozen units: warm start saves solver
work but does not remember earlier chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fit_logreg(Z: Any, y: np.ndarray, init_estimator: Any = None) -> Any:
    """A fitted ``LogisticRegression``, started from ``init_estimator``'s coefficients if given."""
    from sklearn.linear_model import LogisticRegression

    logreg = LogisticRegression(C=1.0, solver="lbfgs", max_iter=2000)
    if init_estimator is not None:
        logreg.set_params(warm_start=True)
        logreg.coef_ = init_estimator.coef_.copy()
        logreg.intercept_ = init_estimator.intercept_.copy()
    return logreg.fit(Z, y)
