"""The decision threshold: the score from which a row is called a defect."""

from __future__ import annotations

from typing import Any

import numpy as np

from defectops.core.errors import UserError

THRESHOLD_OBJECTIVES: tuple[str, ...] = ("f1", "cost")


def choose_threshold(
    y_true: Any, scores: Any, objective: str = "f1", cost_ratio: float = 5.0
) -> float:
    """The score at which to call a defect (predict ``score >= threshold``).

    Maximises F1, or minimises ``cost_ratio * FN + FP``, over the distinct scores, all at once
    from cumulative counts of the scores sorted high to low. Ties go to the highest threshold
    (fewest alarms). Meant for training-side scores only: choosing it on the hold-out would make
    the hold-out estimate optimistic. One class only (or no rows): 0.5.
    """
    if objective not in THRESHOLD_OBJECTIVES:
        raise UserError(
            f"unknown threshold objective {objective!r}; choose one of: "
            f"{', '.join(THRESHOLD_OBJECTIVES)}"
        )
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(s):
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    if y.all() or not y.any():
        return 0.5
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_value = np.append(s[1:] != s[:-1], True)
    tp = np.cumsum(y)[last_of_value]
    fp = np.cumsum(~y)[last_of_value]
    candidates = s[last_of_value]
    fn = tp[-1] - tp
    if objective == "f1":
        return float(candidates[np.argmax(2 * tp / (2 * tp + fp + fn))])
    cost = cost_ratio * fn + fp
    best = int(np.argmin(cost))
    if cost_ratio * tp[-1] < cost[best]:  # flagging nothing is cheaper than any threshold
        return float(np.nextafter(candidates[0], np.inf))
    return float(candidates[best])
