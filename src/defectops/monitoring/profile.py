"""The drift profile stored with every model: what its training data and its scores looked like.

Kept small (a few kilobytes of JSON, inside the model's ``feature_schema.json``, so it is copied,
verified and logged with the model) and made only of counts at fixed edges:

* numeric columns: decile bin edges with the count in each bin and of missing values (for PSI),
  and the 101 percentiles (for a KS statistic against the reference's distribution, exact at those
  points to within one percentile);
* categorical columns: the most frequent values with their counts, the count of all other values
  and of missing ones (for PSI), and the *novelty rate*: the mean share of a window's values
  never seen in the windows before it. Identifiers that keep changing (supplier batches, lots)
  have a high novelty rate, so their unseen values are expected, not drift;
* the model's scores on its training rows (the last ``PROFILED_SCORES`` of them, in order), like
  a numeric column: a production batch's scores are compared with them. The hold-out is a short
  stretch at the end of the data; the score's natural movement from batch to batch (as inputs
  wander between regimes: temperatures, materials) shows only over the whole training period.

Production batches are not random samples: a batch of a few hundred parts covers one or two
shifts, a handful of supplier batches, a few operators. So every column also records its
*allowances*: for each of several batch sizes (``ALLOWANCE_SIZES``, those of which the training
data holds at least ``MIN_WINDOWS``), the largest PSI between a window of that many consecutive
training rows and the whole training data, over windows starting every ``base`` rows. That is how
much the column moves from batch to batch when nothing is wrong, and it depends on the batch
size: 200 rows cover one shift, 5,000 rows all of them, so a shift column's PSI is large at 200
rows and small at 5,000 with nothing wrong at either. :mod:`defectops.monitoring.drift` judges a
batch by how far it goes beyond the allowance *of its own size* (interpolated between the sizes
measured). ``allowance`` alone is the one at ``window_rows``, for a reader of one number.
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
#: batch sizes at which the allowance is measured (those the training rows hold MIN_WINDOWS of)
ALLOWANCE_SIZES = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
#: at most this many base windows: larger data is cut into windows of more than 100 rows
MAX_BASE_WINDOWS = 50_000
#: PSI below this is taken as this in the allowances' logarithms (a constant column's is 0)
PSI_FLOOR = 1e-6
#: the scores of at most this many (the last) training rows are profiled
PROFILED_SCORES = 200_000


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


def base_rows(rows: int) -> int:
    """Rows of the base windows the allowances are summed from: 100, more for large data.

    >>> base_rows(23_490), base_rows(20_000_000)
    (100, 400)
    """
    return MIN_WINDOW_ROWS * max(1, -(-rows // (MIN_WINDOW_ROWS * MAX_BASE_WINDOWS)))


def window_counts(index: np.ndarray, n_bins: int, window_rows: int) -> np.ndarray:
    """Counts per bin of each whole window of ``window_rows`` consecutive rows (windows x bins)."""
    windows = len(index) // window_rows
    used = index[: windows * window_rows]
    window = np.arange(used.size) // window_rows
    counts = np.bincount(window * n_bins + used, minlength=windows * n_bins)
    return counts.reshape(windows, n_bins)


def allowances(reference: np.ndarray, windows: np.ndarray, base: int) -> list[list[Any]]:
    """``[[rows, mean, sd, largest], ...]``: per batch size the training data holds
    ``MIN_WINDOWS`` of, the PSI against ``reference`` of every run of that many consecutive rows
    starting at a base window (``windows``: counts of base windows of ``base`` rows, in row
    order), summarised as the mean and standard deviation of its logarithm, and its largest
    value. :func:`defectops.monitoring.drift.allowance_for` reads a high quantile off them.
    """
    n = len(windows)
    if n < 2:
        return []
    running = np.zeros((n + 1, windows.shape[1]), dtype=np.int64)
    np.cumsum(windows, axis=0, out=running[1:])
    out: list[list[Any]] = []
    for size in ALLOWANCE_SIZES:
        k = max(1, round(size / base))
        if n < MIN_WINDOWS * k or (out and out[-1][0] == k * base):
            continue
        sums = running[k:] - running[:-k]  # every run of k consecutive base windows
        values = psi(reference, sums)
        logs = np.log(np.maximum(values, PSI_FLOOR))
        spread = float(logs.std()) if np.ptp(logs) > 1e-9 else 0.0  # no float noise
        summary = significant_digits(np.array([logs.mean(), spread, values.max()]), digits=3)
        out.append([k * base, *summary.tolist()])
    return out


def windowed_allowances(
    reference: np.ndarray, windows: np.ndarray, base: int, window_rows: int
) -> dict[str, Any]:
    """``allowance`` (the largest PSI of a run of base windows about ``window_rows`` long) and
    ``allowances`` (per batch size) of one column, from its base ``windows`` in row order: the
    one computation of both engines, which differ only in how they count the windows."""
    k = max(1, round(window_rows / base))
    largest = 0.0
    if len(windows) >= 2 * k:
        running = np.cumsum(windows, axis=0)
        sums = np.vstack([running[k - 1 : k], running[k:] - running[:-k]])
        largest = float(significant_digits(psi(reference, sums).max(keepdims=True), digits=4)[0])
    return {"allowance": largest, "allowances": allowances(reference, windows, base)}


def column_allowances(
    index: np.ndarray, n_bins: int, reference: np.ndarray, window_rows: int
) -> dict[str, Any]:
    """:func:`windowed_allowances` of one column's bin numbers ``index``, in row order."""
    base = base_rows(len(index))
    return windowed_allowances(reference, window_counts(index, n_bins, base), base, window_rows)


def numeric_profile(values: np.ndarray, window_rows: int, bins: int = BINS) -> dict[str, Any]:
    """Quantile edges, counts per bin (the last one: missing), percentiles and allowance."""
    present = values[np.isfinite(values)]  # inf counts as missing, as in the features
    if present.size == 0:
        return {"edges": [], "counts": [0, int(values.size)], "percentiles": [],
                "allowance": 0.0, "allowances": []}  # fmt: skip
    edges = np.unique(significant_digits(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])))
    index = numeric_bin_index(values, edges)
    counts = np.bincount(index, minlength=len(edges) + 2)
    return {
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "percentiles": significant_digits(np.percentile(present, PERCENTILES)).tolist(),
        **column_allowances(index, len(counts), counts, window_rows),
    }


def significant_digits(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """Six significant digits: the profile stays a few kilobytes, far below any sensor's noise."""
    return np.array([float(f"{v:.{digits}g}") for v in values], dtype=np.float64)


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
        **column_allowances(index, len(counts), counts, window_rows),
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
    """The profile of one model: its training rows ``frame`` (in order) and its ``scores`` on
    the last of them (at most ``PROFILED_SCORES``)."""
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
