"""Synthetic rows for boosters with categorical splits, shared by the tests of the faster
scorers (the numpy tree walk, the numeric twin) that must match XGBoost bit for bit."""

from __future__ import annotations

import numpy as np

#: the columns' XGBoost feature types: two numeric readings, then machine and shift codes
FEATURE_TYPES = ["q", "q", "c", "c"]


def line_data(
    n: int = 3000, seed: int = 0, *, shifts_matter: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric columns with missing values and two categorical code columns (40 machines,
    5 shifts: few enough for one-hot splits). ``shifts_matter``: some shift codes are missing
    and one shift raises the defect rate, so trees split on the shift column as well."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.uniform(0, 10, size=n),
            rng.integers(0, 40, size=n),
            rng.integers(0, 5, size=n),
        ]
    ).astype(np.float32)
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.05, 2] = np.nan
    if shifts_matter:
        X[rng.random(n) < 0.05, 3] = np.nan
    logit = X[:, 1] - 5 + 2 * np.isin(X[:, 2], [3, 7, 11]) - np.nan_to_num(X[:, 0])
    if shifts_matter:
        logit += np.where(X[:, 3] == 2, 1.5, 0) - np.isnan(X[:, 3])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y
