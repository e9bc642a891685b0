"""Which training rows a model learns from and which it is stopped, calibrated and thresholded on.

Small data is split into stratified folds (every row is held out once, see
:func:`cross_fit_folds`); large data gives one stratified validation slice
(:func:`validation_split`).
"""

from __future__ import annotations

import numpy as np

#: a validation slice smaller than this is too noisy to stop on or to choose a threshold on
MIN_VALIDATION_ROWS = 20
CROSS_FIT_FOLDS = 3


def cross_fit_folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds (rows to learn from, rows held out), at most ``CROSS_FIT_FOLDS``.

    As many folds as there are defects when fewer (each held-out part then holds a defect);
    none when there are fewer than 2 of either class.
    """
    from sklearn.model_selection import StratifiedKFold

    k = min(CROSS_FIT_FOLDS, int(np.bincount(y, minlength=2).min()))
    if k < 2:
        return []
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def validation_split(
    y: np.ndarray, fraction: float, seed: int, fallbacks: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Row positions to fit on and to validate on (None: no usable slice, fit on all rows)."""
    from sklearn.model_selection import train_test_split

    everything = np.arange(len(y))
    n_val = int(np.ceil(fraction * len(y)))
    if n_val < MIN_VALIDATION_ROWS or len(y) - n_val < 2:
        fallbacks.append(
            f"too few rows for a validation slice ({len(y)} rows, {n_val} would be held out, "
            f"need {MIN_VALIDATION_ROWS}): fitted on all rows, no early stopping"
        )
        return everything, None
    stratify = y if np.bincount(y, minlength=2).min() >= 2 else None
    fit_rows, val_rows = train_test_split(
        everything, test_size=n_val, stratify=stratify, random_state=seed
    )
    for part, rows in (("validation slice", val_rows), ("fit part", fit_rows)):
        if np.unique(y[rows]).size < 2:
            fallbacks.append(
                f"a class is missing from the {part} ({int(y.sum())} defects in {len(y)} rows): "
                f"fitted on all rows, no early stopping"
            )
            return everything, None
    return np.sort(fit_rows), np.sort(val_rows)
