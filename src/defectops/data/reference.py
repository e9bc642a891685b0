"""The training data's numeric ranges and known categories, which later batches are checked against.

The validation report of a later batch names the values outside these ranges and the categories
never seen in training (see :mod:`defectops.data.validation_report`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from defectops.data.schema import DataSchema


def reference_profile(
    frame: pd.DataFrame, schema: DataSchema, max_categories: int = 10_000
) -> dict:
    """The training data's numeric ranges and known categories, to check later batches against.

    Rows spread over partitions (a :class:`~defectops.engines.dask.frame.DistributedFrame`) are
    profiled per partition and merged exactly (:func:`merge_reference_profiles`).
    """
    if not isinstance(frame, pd.DataFrame):
        return frame.reference_profile(schema, max_categories)
    numeric = {
        col: {"min": finite(frame[col].min()), "max": finite(frame[col].max())}
        for col in schema.numeric
    }
    categorical = {
        col: sorted(frame[col].dropna().astype(str).unique().tolist())[:max_categories]
        for col in schema.categorical
    }
    return {"numeric": numeric, "categorical": categorical}


def merge_reference_profiles(parts: list[dict], max_categories: int = 10_000) -> dict:
    """The :func:`reference_profile` of all rows from the profiles of their partitions.

    Exact: the smallest minimum, the largest maximum, the sorted union of the categories (so the
    partitions' profiles must be made with an unlimited ``max_categories``).
    """
    numeric: dict[str, dict[str, float | None]] = {}
    categorical: dict[str, list[str]] = {}
    for part in parts:
        for col, bounds in part["numeric"].items():
            have = numeric.setdefault(col, {"min": None, "max": None})
            for key, pick in (("min", min), ("max", max)):
                values = [v for v in (have[key], bounds[key]) if v is not None]
                have[key] = pick(values) if values else None
        for col, known in part["categorical"].items():
            categorical[col] = sorted(set(categorical.get(col, [])) | set(known))
    return {
        "numeric": numeric,
        "categorical": {col: known[:max_categories] for col, known in categorical.items()},
    }


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is no finite number: JSON has no NaN or infinity."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None
