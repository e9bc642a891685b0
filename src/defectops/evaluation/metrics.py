"""Metrics on the fixed hold-out, and the paired bootstrap that tells a real gain from noise.

Point metrics come from scikit-learn. The bootstrap needs the same metrics thousands of times
over resampled rows, so it reads each resample as counts per kind of row (``row_kinds``): the
rows are drawn and counted, the metrics are a few running sums over the kinds, for many
resamples at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn import metrics as skm

from defectops.evaluation.draws import IndexDraws
from defectops.evaluation.row_kinds import (
    THRESHOLD_METRICS,
    KindSums,
    row_kinds,
    threshold_statistic,
)

#: metrics where a larger value is better; Brier score is the one exception (lower is better)
METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "mcc",
    "roc_auc",
    "pr_auc",
    "brier",
)
LOWER_IS_BETTER = frozenset({"brier"})
#: resamples are drawn and counted a few at a time, so the work stays in the CPU's cache
PICKS_PER_BATCH = 1 << 17
#: and scored many at a time, from their per-kind totals (at most this many numbers per chunk)
TOTALS_PER_CHUNK = 1 << 17
LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "mcc": "MCC",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier",
}


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """Every hold-out metric of one model, with the majority-class baseline beside them.

    ``below_baseline`` is true when the model's accuracy does not beat always predicting the
    majority class: on imbalanced lines that is the first thing an engineer must see.
    """
    y = np.asarray(y_true, dtype=np.int8)
    s = np.asarray(scores, dtype=float)
    # the threshold metrics from the four counts, as the bootstrap reads them on every resample
    # (scikit-learn's definitions, zero_division=0): its validation of each call cost more than
    # the arithmetic, 23 times a run
    kinds = 2 * (y == 1) + (s >= threshold)  # tn 0, fp 1, fn 2, tp 3
    counts = np.bincount(kinds, minlength=4)
    tn, fp, fn, tp = (int(c) for c in counts)
    both = 0 < y.sum() < len(y)
    prevalence = float(y.mean()) if len(y) else float("nan")
    baseline_accuracy = max(prevalence, 1 - prevalence)
    point = {m: float(threshold_statistic(m)(counts[None, :])[0]) for m in THRESHOLD_METRICS}
    if not both:
        point["balanced_accuracy"] = float("nan")
    accuracy = point["accuracy"]
    return {
        **point,
        "roc_auc": float(skm.roc_auc_score(y, s)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, s)) if both else float("nan"),
        "brier": float(skm.brier_score_loss(y, s)),
        "threshold": float(threshold),
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "n": len(y),
        "defect_rate": prevalence,
        "baseline_accuracy": baseline_accuracy,
        "baseline_pr_auc": prevalence,
        "below_baseline": accuracy <= baseline_accuracy,
    }


# -- weighted metrics, for the bootstrap ---------------------------------------------------------

WeightedMetric = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


def weighted_metric(name: str) -> WeightedMetric:
    """The metric for each row of ``(resamples, rows)`` weights (scikit-learn's sample weights)."""

    def metric(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, t: float) -> np.ndarray:
        kinds = row_kinds(name, np.asarray(y), np.asarray(scores, dtype=float), t)
        return kinds.statistic(kinds.totals(np.atleast_2d(weights)))

    return metric


#: average precision (scikit-learn's definition) for each row of resampling weights
weighted_pr_auc = weighted_metric("pr_auc")


@dataclass(frozen=True)
class Comparison:
    """Challenger minus champion on one metric, with a percentile bootstrap interval.

    For Brier the difference is taken champion minus challenger, so a positive ``delta`` is
    always an improvement.
    """

    metric: str
    delta: float
    low: float
    high: float
    confidence: float
    n_bootstrap: int

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """``PR-AUC +0.031, 95% CI [+0.012, +0.050]``"""
        label = LABELS.get(self.metric, self.metric)
        interval = f"[{self.low:+.3f}, {self.high:+.3f}]"
        return f"{label} {self.delta:+.3f}, {self.confidence:.0%} CI {interval}"


def paired_bootstrap(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    metric: str,
    *,
    thresholds: tuple[float, float] = (0.5, 0.5),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    batch: int | None = None,
) -> Comparison:
    """Resample hold-out rows with replacement; score both models on the *same* resample.

    Pairing removes the variance the two models share (hard rows are hard for both), so the
    interval is much narrower than comparing two separate intervals. A row's *cell* is its
    pair of kinds (one per model): a resample is counted per cell, and each model's counts
    per kind are sums over cells.
    """
    y = np.asarray(y, dtype=np.int8)
    a, b = np.asarray(challenger, dtype=float), np.asarray(champion, dtype=float)
    new = row_kinds(metric, y, a, thresholds[0])
    old = row_kinds(metric, y, b, thresholds[1])
    cells, cell_of_row = np.unique(new.of_row * old.size + old.of_row, return_inverse=True)
    new_of_cell, old_of_cell = cells // old.size, cells % old.size
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    sums: tuple[KindSums, ...] = ()
    delta: Callable[..., np.ndarray]
    if new.values is not None and old.values is not None:  # a difference of means: one mean
        gain = sign * (new.values[new_of_cell] - old.values[old_of_cell])

        def mean_delta(counts: np.ndarray) -> np.ndarray:
            return np.einsum("ij,j->i", counts, gain) / counts.sum(axis=1)

        delta = mean_delta
    else:
        sums = (KindSums(new_of_cell, new.size), KindSums(old_of_cell, old.size))

        def kind_delta(new_totals: np.ndarray, old_totals: np.ndarray) -> np.ndarray:
            return sign * (new.statistic(new_totals) - old.statistic(old_totals))

        delta = kind_delta
    cell_of_row = cell_of_row.ravel()
    counts = np.bincount(cell_of_row, minlength=len(cells))[None]
    point = float(delta(*([kind_sums(counts) for kind_sums in sums] or [counts]))[0])
    low, high = _bootstrap(
        delta,
        cell_of_row,
        len(cells),
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        batch=batch,
        sums=sums,
    )
    return Comparison(metric, point, low, high, confidence, n_bootstrap)


def bootstrap_interval(
    y: np.ndarray,
    scores: np.ndarray,
    metric: str,
    *,
    threshold: float = 0.5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(value, low, high)`` of one model's metric, with a percentile bootstrap interval."""
    y = np.asarray(y, dtype=np.int8)
    kinds = row_kinds(metric, y, np.asarray(scores, dtype=float), threshold)

    value = float(kinds.statistic(np.bincount(kinds.of_row, minlength=kinds.size)[None])[0])
    low, high = _bootstrap(
        kinds.statistic,
        kinds.of_row,
        kinds.size,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return value, low, high


def _bootstrap(
    statistic: Callable[..., np.ndarray],
    cell_of_row: np.ndarray,
    n_cells: int,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
    batch: int | None = None,
    sums: Sequence[KindSums] = (),
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over resamples, given as counts per cell.

    ``statistic`` reads each batch's ``(resamples, cells)`` counts, or with ``sums`` (one
    ``KindSums`` per model) one ``(resamples, kinds)`` array of totals per model.
    """
    found = _resampled(statistic, cell_of_row, n_cells, n_bootstrap, seed, batch, sums)
    found = found[np.isfinite(found)]
    if not found.size:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(found, [alpha, 1 - alpha])
    return float(low), float(high)


def _resampled(
    statistic: Callable[..., np.ndarray],
    cell_of_row: np.ndarray,
    n_cells: int,
    n_bootstrap: int,
    seed: int,
    batch: int | None,
    sums: Sequence[KindSums],
) -> np.ndarray:
    """``statistic`` of each of ``n_bootstrap`` resamples.

    A resample draws its rows' indices with replacement: ``n_bootstrap`` rows of ``n`` draws
    from ``default_rng(seed)``, in order (``rng.integers(0, n, size=(n_bootstrap, n))``'s
    numbers, see ``draws``), so ``batch`` (resamples drawn and counted at a time; by default
    as many as keep a batch in the CPU's cache) changes only the speed. Counting a batch per
    cell is one lookup and one ``bincount``. Per-kind totals are kept for a chunk of several
    batches before ``statistic`` reads them: its dozen array operations per model then run
    over a few hundred resamples at a time rather than a few dozen.
    """
    cell_of_row = np.asarray(cell_of_row, dtype=np.intp)
    n = len(cell_of_row)
    draws = IndexDraws(np.random.default_rng(seed), n)
    batch = max(1, min(batch or PICKS_PER_BATCH // max(n, 1), n_bootstrap))
    width = sum(kind_sums.size for kind_sums in sums)
    chunk = batch * max(1, TOTALS_PER_CHUNK // (batch * width)) if width else batch
    kept = [np.empty((chunk, k.size), dtype=np.int64, order=k.layout) for k in sums]
    offsets = n_cells * np.arange(batch)[:, None]  # resample r counts at r * n_cells + cell
    picked = np.empty((batch, n), dtype=np.intp)  # one buffer for every batch's cells
    found = np.empty(n_bootstrap)
    for first in range(0, n_bootstrap, chunk):
        last = min(first + chunk, n_bootstrap)
        for start in range(first, last, batch):
            size = min(batch, last - start)
            flat = picked[:size]
            # the drawn indices are in range: "wrap" only skips the copy "raise" makes to check
            np.take(cell_of_row, draws(size * n), out=flat.reshape(-1), mode="wrap")
            flat += offsets[:size]
            counts = np.bincount(flat.ravel(), minlength=size * n_cells).reshape(size, n_cells)
            if not sums:
                found[start : start + size] = statistic(counts)
                continue
            counts = np.asfortranarray(counts)  # the kind sums read it cell by cell
            for kind_sums, totals in zip(sums, kept, strict=True):
                kind_sums(counts, out=totals[start - first : start - first + size])
        if sums:
            found[first:last] = statistic(*(totals[: last - first] for totals in kept))
    return found
