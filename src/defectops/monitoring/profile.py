"""The drift profile stored with every model: what its training data and its scores looked like.

Kept small (a few kilobytes of JSON, inside the model's ``feature_schema.json``, so it is copied,
verified and logged with the model) and made only of counts at fixed edges:

* numeric columns: decile bin edges with the count in each bin and of missing values (for PSI),
  and the 101 percentiles (for a KS statistic against the reference's distribution, exact at those
  points to within one percentile);
* categorical columns: the most frequent values with their counts, the count of all other values
  and of missing ones (for PSI), and the *novelty rate*: the mean share of a window's values
  never seen in the windows before it. Identifiers that keep changing (supplier
  batches, lots) have a high novelty rate, so their unseen values are expected, not drift;
* the model's scores on its hold-out (out of sample, as production scores are), like a numeric
  column.

Production batches are not random samples: a batch of a few hundred parts covers one or two
shifts, a handful of supplier batches, a few operators. So every column also records its
*allowance*: the largest PSI between one window of ``window_rows`` consecutive training rows and
the whole training data. That is how much the column moves from batch to batch when nothing is
wrong, and :mod:`defectops.monitoring.drift` judges a batch by how far it goes beyond it.
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
#: windows are made small enough that there are at least this many (down to MIN_WINDOW_ROWS)
MIN_WINDOWS = 4
MIN_WINDOW_ROWS = 100
#: share floor in PSI, so an empty bin on one side gives a large but finite term
PSI_EPSILON = 1e-4


def psi(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Population stability index of count vectors over the same bins (last axis).

    >>> float(np.round(psi(np.array([50, 50]), np.array([50, 50])), 6))
    0.0
    >>> float(np.round(psi(np.array([50, 50]), np.array([90, 10])), 3))
    0.879
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.maximum(ref / ref.sum(axis=-1, keepdims=True), PSI_EPSILON)
        q = np.maximum(cur / cur.sum(axis=-1, keepdims=True), PSI_EPSILON)
        value = np.sum((q - p) * np.log(q / p), axis=-1)
    return np.where(np.isfinite(value), value, 0.0)


def numeric_bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: ``(-inf, e0], (e0, e1], ..., (e_last, inf)``, then one for missing."""
    index = np.searchsorted(edges, values, side="left")
    return np.where(np.isfinite(values), index, len(edges) + 1)


def category_bin_index(text: pd.Series, values: list[str]) -> np.ndarray:
    """Bin of each canonical text value: its place among ``values``, then other, then missing."""
    lookup = {v: i for i, v in enumerate(values)}
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    mapped = np.array([lookup.get(u, len(values)) for u in uniques] + [len(values) + 1])
    return mapped[codes]  # the NA sentinel -1 takes the last entry: missing


def allowance(index: np.ndarray, n_bins: int, reference: np.ndarray, window_rows: int) -> float:
    """The largest PSI of a window of consecutive rows against the reference counts."""
    windows = len(index) // window_rows
    if windows < 2:
        return 0.0
    used = index[: windows * window_rows]
    window = np.arange(used.size) // window_rows
    counts = np.bincount(window * n_bins + used, minlength=windows * n_bins)
    return float(psi(reference, counts.reshape(windows, n_bins)).max())


def numeric_profile(values: np.ndarray, window_rows: int, bins: int = BINS) -> dict[str, Any]:
    """Quantile edges, counts per bin (the last one: missing), percentiles and allowance."""
    present = values[np.isfinite(values)]  # inf counts as missing, as in the features
    if present.size == 0:
        return {"edges": [], "counts": [0, int(values.size)], "percentiles": [], "allowance": 0.0}
    edges = np.unique(_short(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])))
    index = numeric_bin_index(values, edges)
    counts = np.bincount(index, minlength=len(edges) + 2)
    return {
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "percentiles": _short(np.percentile(present, PERCENTILES)).tolist(),
        "allowance": allowance(index, len(counts), counts, window_rows),
    }


def _short(values: np.ndarray) -> np.ndarray:
    """Six significant digits: the profile stays a few kilobytes, far below any sensor's noise."""
    return np.array([float(f"{v:.6g}") for v in values], dtype=np.float64)


def categorical_profile(values: pd.Series, window_rows: int, top: int = TOP_VALUES) -> dict:
    """Top values with counts (then other, then missing), novelty rate and allowance."""
    text = category_strings(values)
    listed = text.value_counts(dropna=True).index[:top].tolist()
    index = category_bin_index(text, listed)
    counts = np.bincount(index, minlength=len(listed) + 2)
    return {
        "values": listed,
        "counts": counts.tolist(),
        "distinct": int(text.nunique(dropna=True)),
        "novelty_rate": novelty_rate(text, window_rows),
        "allowance": allowance(index, len(counts), counts, window_rows),
    }


def novelty_rate(text: pd.Series, window_rows: int) -> float:
    """Mean share of a window's present values never seen in the windows before it.

    Near 0 for machines, shifts or countries once they have all appeared; high for identifiers
    that keep changing (a supplier batch, a lot), whose unseen values are then normal.
    """
    codes, _ = pd.factorize(text, use_na_sentinel=True)
    windows = len(codes) // window_rows
    if windows < 2:
        return 0.0
    seen = np.zeros(codes.max() + 2, dtype=bool)
    shares = []
    for w in range(windows):
        part = codes[w * window_rows : (w + 1) * window_rows]
        part = part[part >= 0]
        if w and part.size:
            shares.append(float((~seen[part]).mean()))
        seen[part] = True
    return float(np.mean(shares)) if shares else 0.0


def effective_window(rows: int, window_rows: int) -> int:
    """Windows of ``window_rows``, smaller when that leaves fewer than ``MIN_WINDOWS`` of them.

    >>> effective_window(23_000, 1000), effective_window(1600, 1000), effective_window(250, 1000)
    (1000, 400, 100)
    """
    return max(MIN_WINDOW_ROWS, min(window_rows, rows // MIN_WINDOWS))


def build_profile(
    frame: pd.DataFrame, schema: DataSchema, scores: np.ndarray, window_rows: int
) -> dict[str, Any]:
    """The profile of one model: its training rows ``frame`` (in order) and hold-out ``scores``."""
    window_rows = effective_window(len(frame), window_rows)
    numeric = {
        col: numeric_profile(
            pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64), window_rows
        )
        for col in schema.numeric
    }
    categorical = {col: categorical_profile(frame[col], window_rows) for col in schema.categorical}
    return {
        "version": PROFILE_VERSION,
        "rows": len(frame),
        "window_rows": window_rows,
        "numeric": numeric,
        "categorical": categorical,
        "scores": numeric_profile(
            np.asarray(scores, dtype=np.float64), effective_window(len(scores), window_rows)
        ),
    }
