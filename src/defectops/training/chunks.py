"""Chunks of the ordered training rows: their bounds, the rows each model trains on, and the
prequential score of a model on the next chunk."""

from __future__ import annotations

from typing import Any

import pandas as pd

from defectops.core.errors import UserError
from defectops.evaluation.metrics import classification_metrics
from defectops.evaluation.records import PrequentialRecord


def chunk_bounds(n_rows: int, chunk_size: int) -> list[tuple[int, int]]:
    """Ordered ``[start, end)`` chunks; the last short chunk is merged into the previous one.

    >>> chunk_bounds(23_490, 1000)[-2:]
    [(21000, 22000), (22000, 23490)]
    >>> chunk_bounds(500, 1000)
    [(0, 500)]
    """
    n_chunks = max(1, n_rows // chunk_size)
    starts = [i * chunk_size for i in range(n_chunks)]
    ends = [*starts[1:], n_rows]
    return list(zip(starts, ends, strict=True))


def training_rows(
    strategy: str, bounds: list[tuple[int, int]], k: int, window: int
) -> tuple[int, int]:
    """The row range model ``k`` (0-based) trains on under ``strategy``.

    >>> b = [(0, 10), (10, 20), (20, 30)]
    >>> training_rows("expanding", b, 2, 5), training_rows("sliding", b, 2, 2)
    ((0, 30), (10, 30))
    >>> training_rows("warm-start", b, 2, 5)
    (20, 30)
    """
    if strategy == "expanding":
        return 0, bounds[k][1]
    if strategy == "sliding":
        return bounds[max(0, k - window + 1)][0], bounds[k][1]
    if strategy == "warm-start":
        return bounds[k]
    raise UserError(f"strategy {strategy!r} is unknown; use expanding, sliding or warm-start")


def prequential(
    model: Any,
    train: pd.DataFrame,
    bounds: list[tuple[int, int]],
    k: int,
    features: list[str],
    target: str,
) -> PrequentialRecord | None:
    """Model k scored on chunk k+1, which it has not seen: the honest next-batch estimate."""
    if k + 1 >= len(bounds):
        return None
    start, end = bounds[k + 1]
    rows = train.iloc[start:end]
    y = rows[target].to_numpy()
    scores = model.decision_scores(rows[features])
    metrics = classification_metrics(y, scores, model.threshold_)
    return PrequentialRecord(
        chunk_id=k + 2,
        rows=int(end - start),
        pr_auc=metrics["pr_auc"],
        roc_auc=metrics["roc_auc"],
        f1=metrics["f1"],
    )
