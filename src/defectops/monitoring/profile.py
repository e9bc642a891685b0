"""The drift profile stored with every model: what its training data and its scores looked like.

Kept small (a few kilobytes of JSON, inside the model's ``feature_schema.json``, so it is copied,
verified and logged with the model) and made only of counts at fixed edges, so that profiles of
partitions combine exactly once the edges are fixed:

* numeric columns: decile bin edges with the count in each bin and of missing values (for PSI),
  and the 101 percentiles (for a KS statistic against the reference's distribution, exact at those
  points to within one percentile);
* categorical columns: the most frequent values with their counts, the count of all other values
  and of missing ones (for PSI), and the *novelty rate*: the share of values in the last fifth of
  the training rows never seen in the first four fifths. Identifiers that keep changing (supplier
  batches, lots) have a high novelty rate, so their unseen values are expected, not drift;
* the model's scores on its hold-out (out of sample, as production scores are): decile edges and
  counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from defectops.data.schema import DataSchema, category_strings

PROFILE_VERSION = 1
BINS = 10
TOP_VALUES = 20
PERCENTILES = np.linspace(0, 100, 101)
#: the trailing share of the training rows whose values are checked for novelty
NOVELTY_TAIL = 0.2


def numeric_bins(values: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """Quantile edges of the present values and the counts they cut (edges merge on ties)."""
    present = values[np.isfinite(values)]  # inf counts as missing, as in the features
    if present.size == 0:
        return {"edges": [], "counts": [], "missing": int(values.size), "percentiles": []}
    inner = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(inner)
    return {
        "edges": edges.tolist(),
        "counts": bin_counts(present, edges).tolist(),
        "missing": int(values.size - present.size),
        "percentiles": np.percentile(present, PERCENTILES).tolist(),
    }


def bin_counts(present: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in ``(-inf, e0], (e0, e1], ..., (e_last, inf)``: one more bin than edges."""
    index = np.searchsorted(edges, present, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def category_counts(values: pd.Series, top: int = TOP_VALUES) -> dict[str, Any]:
    """The ``top`` most frequent values (as canonical text) with counts, the rest, missing."""
    text = category_strings(values)
    counts = text.value_counts(dropna=True)
    head = counts.iloc[:top]
    return {
        "values": head.index.tolist(),
        "counts": head.to_numpy(dtype=np.int64).tolist(),
        "other": int(counts.iloc[top:].sum()),
        "missing": int(text.isna().sum()),
        "distinct": len(counts),
    }


def novelty_rate(values: pd.Series, tail: float = NOVELTY_TAIL) -> float:
    """Share of present values in the last ``tail`` of the rows never seen before them."""
    text = category_strings(values)
    cut = int(len(text) * (1 - tail))
    later = text.iloc[cut:].dropna()
    if cut == 0 or later.empty:
        return 0.0
    seen = set(text.iloc[:cut].dropna())
    return float((~later.isin(seen)).mean())


def build_profile(frame: pd.DataFrame, schema: DataSchema, scores: np.ndarray) -> dict[str, Any]:
    """The profile of one model: its training rows ``frame`` and its hold-out ``scores``."""
    numeric = {
        col: numeric_bins(pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64))
        for col in schema.numeric
    }
    categorical = {
        col: {**category_counts(frame[col]), "novelty_rate": novelty_rate(frame[col])}
        for col in schema.categorical
    }
    return {
        "version": PROFILE_VERSION,
        "rows": len(frame),
        "numeric": numeric,
        "categorical": categorical,
        "scores": numeric_bins(np.asarray(scores, dtype=np.float64)),
    }
