"""The training target, checked once: every model and engine fits on 0/1 integers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from defectops.core.errors import UserError


def binary_target(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as an int64 array of 0/1, one per row.

    Raises :class:`UserError` for a length other than ``n_rows``, no rows, or values other than
    0 and 1 (missing ones included): encoding labels is the caller's job, guessing here could
    swap the classes silently.
    """
    values = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y).ravel()
    if len(values) != n_rows:
        raise UserError(f"target has {len(values)} values but the data has {n_rows} rows")
    if n_rows == 0:
        raise UserError("no training rows")
    try:
        numbers = values.astype(np.float64)
    except (TypeError, ValueError):
        raise UserError("target must hold 0/1 values; encode it first") from None
    if not np.isin(numbers, (0.0, 1.0)).all():
        raise UserError("target must hold 0/1 values without missing ones; encode it first")
    return numbers.astype(np.int64)
