"""Metrics on the fixed hold-out, and the paired bootstrap that tells a real gain from noise.

Point metrics come from scikit-learn. The bootstrap needs the same metrics thousands of times
over resampled rows, so it uses weighted, vectorised versions (a resample is a row of counts):
one sort of the scores, then cumulative sums, for all resamples at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from sklearn import metrics as skm

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
    pred = (s >= threshold).astype(np.int8)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel().tolist()
    both = 0 < y.sum() < len(y)
    prevalence = float(y.mean()) if len(y) else float("nan")
    baseline_accuracy = max(prevalence, 1 - prevalence)
    accuracy = float(skm.accuracy_score(y, pred))
    return {
        "accuracy": accuracy,
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)) if both else float("nan"),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "mcc": float(skm.matthews_corrcoef(y, pred)),
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


# -- weighted, vectorised metrics for the bootstrap -----------------------------------------------

WeightedMetric = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


def _ranked(y: np.ndarray, scores: np.ndarray, weights: np.ndarray):
    """Weighted true/false positive counts at each distinct threshold, highest score first."""
    order = np.argsort(-scores, kind="stable")
    s, yy, w = scores[order], y[order].astype(float), weights[:, order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each tied group
    tp = np.cumsum(w * yy, axis=1)[:, ends]
    fp = np.cumsum(w * (1 - yy), axis=1)[:, ends]
    return tp, fp


def weighted_pr_auc(
    y: np.ndarray, scores: np.ndarray, weights: np.ndarray, _t: float
) -> np.ndarray:
    """Average precision (scikit-learn's definition) for each row of resampling ``weights``.

    Written on the defects only: AP is the mean over defects (each counted by its weight) of
    the precision at the end of its tied group, so beyond one cumulative sum of all weights
    in score order, the work is on the defects' columns (a fifth of the rows or fewer).
    """
    order = np.argsort(-scores, kind="stable")
    s, positive = scores[order], y[order].astype(bool)
    group_end = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    end_of = np.repeat(group_end, np.diff(np.r_[-1, group_end]))  # each row's group end
    w = weights[:, order]
    seen = np.cumsum(w, axis=1)[:, end_of[positive]]  # all weight down to the group's end
    w_pos = w[:, positive]
    tp = np.cumsum(w_pos, axis=1)
    # true positives down to the group's end: the cumulative sum at its group's last defect
    last = np.searchsorted(np.flatnonzero(positive), end_of[positive], side="right") - 1
    tp = tp[:, last]
    total = tp[:, -1] if tp.shape[1] else np.zeros(len(w))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(seen > 0, tp / seen, 0.0)
        return np.sum(w_pos * precision, axis=1) / total


def weighted_roc_auc(
    y: np.ndarray, scores: np.ndarray, weights: np.ndarray, _t: float
) -> np.ndarray:
    """ROC-AUC (ties count one half) for each row of resampling ``weights``."""
    tp, fp = _ranked(y, scores, weights)
    tp_prev = np.concatenate([np.zeros((tp.shape[0], 1)), tp[:, :-1]], axis=1)
    fp_step = np.diff(fp, axis=1, prepend=0.0)
    area = np.sum(fp_step * (tp_prev + (tp - tp_prev) / 2), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return area / (tp[:, -1] * fp[:, -1])


def _confusion(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float):
    pred = scores >= threshold
    pos = y == 1
    return (
        weights @ (pos & pred),
        weights @ (~pos & pred),
        weights @ (pos & ~pred),
        weights @ (~pos & ~pred),
    )


def weighted_threshold_metric(name: str) -> WeightedMetric:
    """A thresholded metric (accuracy, F1, MCC, ...) computed from weighted confusion counts."""

    def metric(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, t: float) -> np.ndarray:
        tp, fp, fn, tn = (c.astype(float) for c in _confusion(y, scores, weights, t))
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
            if name == "mcc":
                den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
                return np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)
        raise ValueError(f"unknown metric {name!r}")

    return metric


def weighted_brier(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, _t: float) -> np.ndarray:
    return (weights @ (scores - y) ** 2) / weights.sum(axis=1)


def weighted_metric(name: str) -> WeightedMetric:
    if name == "pr_auc":
        return weighted_pr_auc
    if name == "roc_auc":
        return weighted_roc_auc
    if name == "brier":
        return weighted_brier
    return weighted_threshold_metric(name)


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
    batch: int = 250,
) -> Comparison:
    """Resample hold-out rows with replacement; score both models on the *same* resample.

    Pairing removes the variance the two models share (hard rows are hard for both), so the
    interval is much narrower than comparing two separate intervals.
    """
    y = np.asarray(y, dtype=np.int8)
    a, b = np.asarray(challenger, dtype=float), np.asarray(champion, dtype=float)
    fn = weighted_metric(metric)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    ones = np.ones((1, len(y)))
    delta = float(sign * (fn(y, a, ones, thresholds[0]) - fn(y, b, ones, thresholds[1]))[0])
    low, high = _bootstrap(
        lambda w: sign * (fn(y, a, w, thresholds[0]) - fn(y, b, w, thresholds[1])),
        len(y),
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        batch=batch,
    )
    return Comparison(metric, delta, low, high, confidence, n_bootstrap)


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
    s = np.asarray(scores, dtype=float)
    fn = weighted_metric(metric)
    value = float(fn(y, s, np.ones((1, len(y))), threshold)[0])
    low, high = _bootstrap(
        lambda w: fn(y, s, w, threshold),
        len(y),
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return value, low, high


def _bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
    batch: int = 250,
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over resamples, given as row-count weights.

    All resamples of a batch are one ``(batch, n)`` weight matrix, so a statistic written on
    weights scores them at once instead of in a Python loop.
    """
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, n_bootstrap, batch):
        size = min(batch, n_bootstrap - start)
        picks = rng.integers(0, n, size=(size, n))
        flat = picks + n * np.arange(size)[:, None]
        weights = np.bincount(flat.ravel(), minlength=size * n).reshape(size, n).astype(np.float32)
        values.append(statistic(weights))
    found = np.concatenate(values)
    found = found[np.isfinite(found)]
    if not found.size:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(found, [alpha, 1 - alpha])
    return float(low), float(high)
