"""Rows a metric cannot tell apart, grouped into kinds, so a resample is a short row of counts.

A resample changes only how often each hold-out row is counted, and a metric cannot tell two
rows apart when swapping them leaves it unchanged: two good parts with no defect scored
between them, for PR-AUC and ROC-AUC; two rows on the same side of the threshold with the same
label, for accuracy, F1 or MCC. So each metric is written on the counts (or summed weights) per
*kind* of row: tens or hundreds of kinds instead of thousands of rows, which is what makes
thousands of resamples cheap. The answers are the metrics' usual definitions (scikit-learn's,
for the average precision), only summed in a different order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

#: the counts (or summed weights) per kind of many resamples, ``(resamples, kinds)``, to the
#: metric of each
KindStatistic = Callable[[np.ndarray], np.ndarray]

THRESHOLD_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "mcc")


@dataclass(frozen=True)
class RowKinds:
    """Each row's kind (``0 .. size - 1``) and the metric read from per-kind totals."""

    of_row: np.ndarray
    size: int
    statistic: KindStatistic
    #: each kind's value when the metric is the weighted mean of those (Brier), else None
    values: np.ndarray | None = None

    def totals(self, weights: np.ndarray) -> np.ndarray:
        """Per-kind totals of ``(resamples, rows)`` weights: ``(resamples, kinds)``, float64."""
        return KindSums(self.of_row, self.size)(np.asarray(weights, dtype=float))


def row_kinds(metric: str, y: np.ndarray, scores: np.ndarray, threshold: float) -> RowKinds:
    """The kinds of one model's hold-out rows for ``metric``, and the metric on their totals.

    Ranking metrics need only the rows' place among the defects' tied groups; thresholded
    ones only the cell of the confusion matrix; Brier only the squared error.
    """
    if metric == "pr_auc":
        bins, size = ranking_bins(y, scores)
        return RowKinds(2 * bins + (y == 1), 2 * size, _average_precision)
    if metric == "roc_auc":
        units, size = ranking_units(y, scores)
        return RowKinds(2 * units + (y == 1), 2 * size, _roc_auc)
    if metric == "brier":
        errors, kinds = np.unique((scores - y) ** 2, return_inverse=True)
        return RowKinds(kinds.ravel(), len(errors), lambda t: _mean(t, errors), errors)
    if metric in THRESHOLD_METRICS:
        kinds = 2 * (y == 1) + (scores >= threshold)  # tn 0, fp 1, fn 2, tp 3
        return RowKinds(kinds.astype(np.intp), 4, threshold_statistic(metric))
    raise ValueError(f"unknown metric {metric!r}")


class KindSums:
    """Sums the columns of ``(b, columns)`` values by the columns' kinds into ``(b, size)``.

    Integer counts (the bootstrap's) go through one sparse product with a matrix of ones, in
    one pass over the values, exactly. Weights keep a running sum along each row, read where
    each kind ends and differenced: the weighted metrics' rounding. A kind no column has sums
    to zero either way.
    """

    def __init__(self, of_column: np.ndarray, size: int) -> None:
        columns = len(of_column)
        ones = np.ones(columns, dtype=np.int64)
        #: ``(size, columns)``: one in each column, at the column's kind
        self.matrix = sp.csr_matrix((ones, (of_column, np.arange(columns))), shape=(size, columns))
        ordered = bool(np.all(of_column[1:] >= of_column[:-1]))
        self.order = None if ordered else np.argsort(of_column, kind="stable")
        kinds = of_column if self.order is None else of_column[self.order]
        #: how many columns come before kind k, for k in 0 .. size: where kind k's sum starts
        self.bounds = np.searchsorted(kinds, np.arange(size + 1), side="left")
        complete = bool(np.all(self.bounds[1:] > self.bounds[:-1]))
        #: the totals' memory order: the statistics' sums over kinds round differently in C
        #: and F order, and these are the orders recorded intervals were computed in
        self.layout: Literal["C", "F"] = "F" if complete else "C"
        self.size = size

    def __call__(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The totals, into ``out`` if given, else into a new array in ``layout`` order."""
        exact = values.dtype.kind in "iu"
        dtype = np.int64 if exact else float
        if out is None:
            out = np.empty((len(values), self.size), dtype=dtype, order=self.layout)
        if exact:  # reads ``values`` column by column: no copy if they are in F order
            out[...] = (self.matrix @ np.ascontiguousarray(values.T)).T
            return out
        if self.order is not None:
            values = np.take(values, self.order, axis=1)
        running = np.zeros((len(values), values.shape[1] + 1), dtype=dtype)
        np.cumsum(values, axis=1, out=running[:, 1:])
        ends = running[:, self.bounds]
        return np.subtract(ends[:, 1:], ends[:, :-1], out=out)


def _score_groups(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows highest score first, each sorted row's tied group, and which groups hold a defect."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    group = np.cumsum(np.r_[True, ranked[1:] != ranked[:-1]]) - 1
    has_defect = np.bincount(group, weights=(y[order] == 1), minlength=group[-1] + 1) > 0
    return order, group, has_defect


def _of_rows(order: np.ndarray, group: np.ndarray, of_group: np.ndarray) -> tuple[np.ndarray, int]:
    out = np.empty(len(order), dtype=np.intp)
    out[order] = of_group[group]
    return out, int(of_group[-1]) + 1


def ranking_units(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's unit in score order (highest first), and how many units there are.

    A unit is either one tied group of scores that holds a defect, or a run of groups between
    two such groups holding only good parts: the good parts of a run all sit below the same
    defects, which is all ROC-AUC asks of them.
    """
    order, group, has_defect = _score_groups(y, scores)
    starts = has_defect | np.r_[True, has_defect[:-1]]  # and the group after one
    return _of_rows(order, group, np.cumsum(starts) - 1)


def ranking_bins(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's bin: the first tied group holding a defect at or below the row's score.

    Average precision looks only at the ends of groups holding a defect, so the rows above
    one such end and below the previous one are alike (the last bin holds the rows below all
    defects).
    """
    order, group, has_defect = _score_groups(y, scores)
    return _of_rows(order, group, np.cumsum(np.r_[False, has_defect[:-1]]))


def _mean(totals: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The weighted mean of per-kind ``values``; ``einsum`` keeps it off BLAS's threads."""
    return np.einsum("ij,j->i", totals, values) / totals.sum(axis=1)


def _split(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Good parts' and defects' totals per unit or bin: kinds ``2u`` and ``2u + 1``."""
    return totals[:, 0::2], totals[:, 1::2]


def _running(columns: np.ndarray) -> np.ndarray:
    """``np.cumsum(columns, axis=1)``, the same numbers in the same memory order.

    Every other column of the totals is a strided view, along which ``cumsum`` is slow: a
    contiguous copy first (``order="K"`` keeps C or F order) takes less than half the time.
    """
    return np.cumsum(np.copy(columns, order="K"), axis=1)


def _average_precision(totals: np.ndarray) -> np.ndarray:
    """The mean over defects of the precision at the end of their tied group (bins)."""
    good, defects = _split(totals)
    caught = _running(defects)
    seen = caught + _running(good)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = caught / np.where(seen > 0, seen, 1)  # nothing seen, nothing caught
        return np.einsum("ij,ij->i", defects, precision) / caught[:, -1]


def _roc_auc(totals: np.ndarray) -> np.ndarray:
    """The chance a defect outranks a good part, ties counting one half (units).

    Good parts and defects in one unit are tied (a unit holding both is a single group).
    """
    good, defects = _split(totals)
    above = 2 * _running(defects) - defects  # twice: ties count one half
    wins = np.einsum("ij,ij->i", good, above) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (good.sum(axis=1) * defects.sum(axis=1))


def threshold_statistic(name: str) -> KindStatistic:
    """A thresholded metric on the confusion counts (kinds tn, fp, fn, tp)."""

    def statistic(totals: np.ndarray) -> np.ndarray:
        tn, fp, fn, tp = totals.T.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            if name == "accuracy":
                return (tp + tn) / (tp + fp + fn + tn)
            if name == "balanced_accuracy":
                return (tp / (tp + fn) + tn / (tn + fp)) / 2
            if name == "precision":
                return np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            if name == "recall":
                return np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            if name == "f1":
                return np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
            den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            return np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)

    return statistic
