"""The drift profile of rows spread over partitions, from small per-partition summaries.

:func:`~defectops.monitoring.profile.build_profile` needs every row in one frame. Rows that live
on a cluster (:class:`~defectops.engines.dask.frame.DistributedFrame`) are profiled here instead,
all of them, by two passes over the partitions that each return a few summaries, merged on the
client into a profile with the same keys and meaning, so drift comparison reads it unchanged:

first pass
    per numeric column a :class:`~defectops.monitoring.quantile_sketch.QuantileSketch` (its
    count and its values at ``SKETCH_POINTS`` evenly spaced ranks); per categorical column the
    exact count of every value and, for the novelty rate, each value's first window and its rows
    there. Merged: the numeric bin edges and percentiles from the union of the sketches (within
    the sketch's rank bound, exact when no partition has more than ``SKETCH_POINTS`` values),
    the top values and ``distinct`` from the summed counts (exact).
second pass
    with the merged edges and top values: every column's counts per bin, missing included, for
    the whole partition (exact) and for each base window of ``base_rows(rows)`` consecutive rows
    (100 up to 5 million rows), from which ``windowed_allowances`` sums the allowances of every
    batch size, as ``build_profile`` does.

Base windows are cut like the novelty's windows of ``window_rows``, described next.
Windows of ``window_rows`` consecutive rows are cut inside each partition, from its first row;
the rows after a partition's last whole window are joined with the following partitions that
are too short for a window of their own (many small files, one per shift, are windowed as one
stretch) and windowed there. A window that would span the edge into a partition with whole
windows of its own is not cut: those rows (fewer than a window per partition edge) take no part
in the allowance and no window's novelty, though their values count as seen (``build_profile``
likewise leaves out the rows after its last whole window). So a value is novel in the window
of its first appearance in row order, and the allowances come from runs of the base windows.
With partitions whose lengths are multiples of the windows, or shorter than one, these are
exactly ``build_profile``'s windows and every number equals its own; otherwise the windows sit
a fraction of a window away from its, and the numbers differ as ``build_profile``'s do when its
first window moves by a few rows (see the tests).

The base windows' bin counts travel as small integers: at most 50,000 windows times the
column's bins (12 for a numeric column), so 20 million rows in windows of 400 send 600,000
one-byte counts per column. Rows after a partition's last whole window come to the client as
their bin numbers and category text (fewer than a window per partition), so partitions far
shorter than a window (thousands of files of a few hundred rows) send those columns whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from defectops.data.schema import DataSchema, category_strings
from defectops.monitoring.profile import (
    BINS,
    PERCENTILES,
    PROFILE_VERSION,
    TOP_VALUES,
    base_rows,
    category_bin_index,
    effective_window,
    numeric_bin_index,
    numeric_profile,
    significant_digits,
    windowed_allowances,
)
from defectops.monitoring.quantile_sketch import SKETCH_POINTS, QuantileSketch


class PartitionedRows(Protocol):
    """Rows as partitions in row order, each reached by a function run where it lives."""

    def __len__(self) -> int: ...

    def gather_each(self, fn: Callable[..., Any], **kwargs: Any) -> list[Any]: ...


@dataclass(frozen=True)
class PandasParts:
    """Pandas frames in row order seen as partitions: the in-memory twin of a DistributedFrame.

    >>> parts = PandasParts((pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [3]})))
    >>> len(parts), parts.gather_each(len)
    (3, [2, 1])
    """

    parts: tuple[pd.DataFrame, ...]

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def gather_each(self, fn: Callable[..., Any], **kwargs: Any) -> list[Any]:
        return [fn(part, **kwargs) for part in self.parts]


# -- what the workers compute, one partition at a time --------------------------------------------


@dataclass(frozen=True)
class _FirstPass:
    """One partition's sketches, category counts and first appearances."""

    sketches: dict[str, QuantileSketch]
    #: per column: count of each present value, in order of first appearance
    categories: dict[str, pd.Series]
    #: per column: first appearances in the partition's whole windows (see _first_appearances)
    firsts: dict[str, tuple[pd.DataFrame, np.ndarray]]
    #: per column: the text of the rows after the last whole window (all rows if none)
    tails: dict[str, np.ndarray]
    windows: int


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as ``build_profile`` reads it: text that is no number is missing."""
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)


def _first_pass(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    window_rows: int,
    points: int,
) -> _FirstPass:
    whole = len(frame) // window_rows * window_rows
    sketches = {col: QuantileSketch.of(_numbers(frame, col), points) for col in numeric}
    categories, firsts, tails = {}, {}, {}
    for col in categorical:
        text = category_strings(frame[col])
        categories[col] = text.value_counts(dropna=True, sort=False)
        firsts[col] = _first_appearances(text.iloc[:whole], window_rows)
        # a copy: a view would keep the partition's whole column alive while the task's
        # result waits on the worker
        tails[col] = text.iloc[whole:].to_numpy(dtype=object, copy=True)
    return _FirstPass(sketches, categories, firsts, tails, whole // window_rows)


def _first_appearances(text: pd.Series, window_rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Where each value of consecutive rows ``text`` is first seen: its window and its rows there
    (``value``, ``window``, ``rows``), and the present values of each whole window.

    A value first seen in the rows after the last whole window gets the next window's number
    and no rows: it is not new to the windows after, and adds to no window's novelty.
    """
    windows = len(text) // window_rows
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    rows = np.flatnonzero(codes >= 0)
    code, window = codes[rows], np.minimum(rows // window_rows, windows)
    seen, first_row = np.unique(code, return_index=True)
    first_window = window[first_row]
    counted = (window == first_window[code]) & (window < windows)
    firsts = pd.DataFrame(
        {
            "value": np.asarray(uniques, dtype=object)[seen],
            "window": first_window.astype(np.int64),
            "rows": np.bincount(code[counted], minlength=seen.size),
        }
    )
    return firsts, np.bincount(window[window < windows], minlength=windows)


def _second_pass(
    frame: pd.DataFrame,
    edges: dict[str, np.ndarray],
    values: dict[str, list[str]],
    window_rows: int,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per column, its bins (the last one: missing): counts in the partition and in each whole
    window, and the bin of every row after the last whole window."""
    out = {}
    for col, column_edges in edges.items():
        index = numeric_bin_index(_numbers(frame, col), column_edges)
        out[col] = _window_counts(index, len(column_edges) + 2, window_rows)
    for col, listed in values.items():
        index = category_bin_index(category_strings(frame[col]), listed)
        out[col] = _window_counts(index, len(listed) + 2, window_rows)
    return out


def _window_counts(
    index: np.ndarray, n_bins: int, window_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts per bin of all rows and of each whole window (as small integers), and the tail."""
    windows = len(index) // window_rows
    used = index[: windows * window_rows]
    window = np.arange(used.size) // window_rows
    counts = np.bincount(window * n_bins + used, minlength=windows * n_bins)
    small = counts.astype(np.min_scalar_type(window_rows)).reshape(windows, n_bins)
    tail = index[used.size :].astype(np.min_scalar_type(n_bins))
    return np.bincount(index, minlength=n_bins), small, tail


# -- merged on the client -------------------------------------------------------------------------


def distributed_profile(
    frame: PartitionedRows,
    schema: DataSchema,
    scores: np.ndarray,
    window_rows: int,
    *,
    points: int = SKETCH_POINTS,
) -> dict[str, Any]:
    """:func:`~defectops.monitoring.profile.build_profile` of all of ``frame``'s rows, in order.

    ``frame`` is a :class:`~defectops.engines.dask.frame.DistributedFrame` (or
    :class:`PandasParts`); its partitions are read twice and only summaries come back (see the
    module's docstring for what is exact and what is within the sketch's bound). ``scores`` (the
    hold-out's, a small array) are profiled exactly as ``build_profile`` does.
    """
    numeric, categorical = list(schema.numeric), list(schema.categorical)
    select = getattr(frame, "select", None)
    if select is not None:  # staged partitions then read only these columns
        frame = select([*numeric, *categorical])
    rows = len(frame)
    window_rows = effective_window(rows, window_rows)
    first: list[_FirstPass] = frame.gather_each(
        _first_pass, numeric=numeric, categorical=categorical,
        window_rows=window_rows, points=points,
    )  # fmt: skip
    sketches = {col: QuantileSketch.union(part.sketches[col] for part in first) for col in numeric}
    edges = {col: _edges(sketch) for col, sketch in sketches.items()}
    counts = {col: _merged_counts([part.categories[col] for part in first]) for col in categorical}
    listed = {col: counts[col].index[:TOP_VALUES].tolist() for col in categorical}
    base = base_rows(rows)
    second = _BinCounts.of(
        frame.gather_each(_second_pass, edges=edges, values=listed, window_rows=base),
        base,
        window_rows,
    )
    return {
        "version": PROFILE_VERSION,
        "rows": rows,
        "window_rows": window_rows,
        "numeric": _numeric_profiles(sketches, edges, second, rows),
        "categorical": _categorical_profiles(first, counts, listed, second),
        "scores": numeric_profile(
            np.asarray(scores, dtype=np.float64), effective_window(len(scores), window_rows)
        ),
    }


@dataclass(frozen=True)
class _BinCounts:
    """Every partition's second pass, and the stretches its base windows are cut from."""

    parts: list[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]
    #: rows of a base window (``base_rows``) and of a drift window
    base: int
    window_rows: int
    order: list[int | tuple[int, ...]]

    @classmethod
    def of(
        cls,
        parts: list[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]],
        base: int,
        window_rows: int,
    ) -> _BinCounts:
        return cls(parts, base, window_rows, _row_order([_whole_windows(part) for part in parts]))

    def binned(self, col: str, n_bins: int) -> tuple[np.ndarray, dict[str, Any]]:
        """A column's counts per bin over all rows, and its allowances from the base windows."""
        second, base = self.parts, self.base
        total = np.zeros(n_bins, dtype=np.int64)
        for part in second:
            total += part[col][0]
        windows = [
            second[item][col][1]
            if isinstance(item, int)
            else _window_counts(np.concatenate([second[p][col][2] for p in item]), n_bins, base)[1]
            for item in self.order
        ]
        stacked = np.concatenate(windows) if windows else np.empty((0, n_bins))
        return total, windowed_allowances(total, stacked.astype(np.int64), base, self.window_rows)


def _numeric_profiles(
    sketches: dict[str, QuantileSketch],
    edges: dict[str, np.ndarray],
    second: _BinCounts,
    rows: int,
) -> dict[str, dict[str, Any]]:
    """Each numeric column's part of the profile: edges and percentiles from its sketch."""
    out = {}
    for col, sketch in sketches.items():
        if sketch.rows == 0:
            out[col] = {"edges": [], "counts": [0, rows], "percentiles": [],
                        "allowance": 0.0, "allowances": []}  # fmt: skip
            continue
        total, allowed = second.binned(col, len(edges[col]) + 2)
        out[col] = {
            "edges": edges[col].tolist(),
            "counts": total.tolist(),
            "percentiles": significant_digits(sketch.quantiles(PERCENTILES / 100)).tolist(),
            **allowed,
        }
    return out


def _categorical_profiles(
    first: list[_FirstPass],
    counts: dict[str, pd.Series],
    listed: dict[str, list[str]],
    second: _BinCounts,
) -> dict[str, dict[str, Any]]:
    """Each categorical column's part of the profile: top values, exact counts and novelty."""
    order = _row_order([part.windows for part in first])
    out = {}
    for col, values in listed.items():
        total, allowed = second.binned(col, len(values) + 2)
        blocks = [
            first[item].firsts[col]
            if isinstance(item, int)
            else _first_appearances(
                pd.Series(np.concatenate([first[p].tails[col] for p in item]), dtype=object),
                second.window_rows,
            )
            for item in order
        ]
        out[col] = {
            "values": values,
            "counts": total.tolist(),
            "distinct": len(counts[col]),
            "novelty_rate": _novelty_rate(blocks),
            **allowed,
        }
    return out


def _row_order(windows: Sequence[int]) -> list[int | tuple[int, ...]]:
    """The stretches of consecutive rows windows are cut from, in row order.

    A partition number stands for that partition's whole windows; a tuple for the rows after
    them joined with every following partition too short for a window of its own (each such
    partition is all tail), up to the next partition with a whole window. So many small
    partitions (a file per shift) are windowed as one stretch, as the local engine would.

    >>> _row_order([2, 0, 0, 1, 3])
    [0, (0, 1, 2), 3, (3,), 4, (4,)]
    """
    order: list[int | tuple[int, ...]] = []
    run: list[int] = []
    for part, count in enumerate(windows):
        if count:
            if run:
                order.append(tuple(run))
            order.append(part)
            run = []
        run.append(part)
    if run:
        order.append(tuple(run))
    return order


def _whole_windows(part: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> int:
    """Whole windows of one partition's second pass (the same for every column)."""
    return len(next(iter(part.values()))[1]) if part else 0


def _edges(sketch: QuantileSketch) -> np.ndarray:
    """Decile edges as ``numeric_profile`` makes them (none for a column with no values)."""
    if sketch.rows == 0:
        return np.empty(0)
    return np.unique(significant_digits(sketch.quantiles(np.linspace(0, 1, BINS + 1)[1:-1])))


def _merged_counts(parts: Sequence[pd.Series]) -> pd.Series:
    """Every value's count over all partitions, most frequent first and, among equal counts,
    in order of first appearance: the order ``value_counts`` gives on the whole column."""
    if not parts:
        return pd.Series(dtype=np.int64)
    summed = pd.concat(parts).groupby(level=0, sort=False).sum()
    return summed.sort_values(ascending=False, kind="stable")


def _novelty_rate(blocks: Sequence[tuple[pd.DataFrame, np.ndarray]]) -> float:
    """``novelty_rate`` from stretches of windows in row order (see ``_first_appearances``)."""
    shown = np.concatenate([present for _, present in blocks]) if blocks else np.empty(0)
    total = shown.size
    if total < 2:
        return 0.0
    offsets = np.cumsum([0, *(present.size for _, present in blocks[:-1])])
    placed = pd.concat(
        [f.assign(window=f["window"] + o) for (f, _), o in zip(blocks, offsets, strict=True)]
    )
    first = placed.drop_duplicates("value", keep="first")  # stretches come in row order
    novel = np.bincount(
        first["window"].to_numpy(np.int64),
        weights=first["rows"].to_numpy(np.float64),
        minlength=total + 1,
    )[:total]
    later = np.flatnonzero(shown[1:]) + 1  # the first window has nothing before it
    return float(np.mean(novel[later] / shown[later])) if later.size else 0.0
