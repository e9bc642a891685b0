"""``defectops monitor``: one batch against the champion's profile, written as JSON and PNG.

The batch is read and validated with the champion's own contract (labels optional: production
batches usually come without them), scored by the champion, and compared with the profile
stored beside it. With labels, the champion's performance on the batch is shown beside its
hold-out performance, with a bootstrap interval, because drift that costs no accuracy and
accuracy lost without visible drift both matter.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops.core import atomic
from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.io import frame_sha256, read_raw
from defectops.data.schema import DataSchema
from defectops.data.validation import require_valid_rows, validate
from defectops.evaluation.metrics import bootstrap_interval, classification_metrics
from defectops.evaluation.records import ModelRecord
from defectops.monitoring.drift import STATUSES, BatchCounts, compare_counts, summarise
from defectops.monitoring.drift_plot import plot_drift
from defectops.registry.local import LocalRegistry

#: exit code of ``monitor --fail-on`` when the batch reached that level
DRIFT_EXIT_CODE = 3
PERFORMANCE_METRICS = ("pr_auc", "roc_auc", "f1", "accuracy")
#: labelled rows the batch's bootstrap interval resamples at most
BOOTSTRAP_ROWS = 5_000


@dataclass(frozen=True)
class ChampionView:
    """What monitoring needs of the champion: the model, its contract and its profile."""

    model: Any
    metadata: ModelRecord
    schema: DataSchema
    reference: dict[str, Any]
    profile: dict[str, Any]

    @classmethod
    def load(cls, artifacts: Path) -> ChampionView:
        registry = LocalRegistry(artifacts)
        model, metadata = registry.load_champion()
        stored = registry.champion_schema()
        if "profile" not in stored:
            raise UserError(
                f"the champion (version {metadata.get('version')}) has no drift profile: it was "
                "trained by an older defectops; train a new one (`defectops run`) to monitor"
            )
        schema = DataSchema.from_dict(stored["schema"])
        return cls(model, metadata, schema, stored.get("reference") or {}, stored["profile"])


def batch_name(path: Path, name: str | None = None) -> str:
    """A file-system-safe batch name: the one given, else the file's stem."""
    raw = name if name is not None else Path(path).stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._")
    if not safe:
        raise UserError(f"batch name {raw!r} has no usable characters; pass --name")
    return safe


@dataclass
class BatchSummary:
    """What a drift report needs of a batch, merged exactly from its parts.

    ``counts``: the drift counts of every column and of the champion's scores; ``flagged``: rows
    scored at or above the champion's threshold; ``labels`` and ``label_scores``: the labelled
    rows' labels and scores (one byte and one float a row), with their ``order`` values when the
    batch has an order column, so parts merged in any order are put back in production order.
    """

    counts: BatchCounts
    flagged: int
    labels: np.ndarray | None
    label_scores: np.ndarray
    order: np.ndarray | None = None

    def merge(self, other: BatchSummary) -> BatchSummary:
        def join(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else np.concatenate([a, b])

        return BatchSummary(
            self.counts.merge(other.counts),
            self.flagged + other.flagged,
            join(self.labels, other.labels),
            np.concatenate([self.label_scores, other.label_scores]),
            join(self.order, other.order),
        )


def summarise_batch(frame: pd.DataFrame, champion: ChampionView) -> BatchSummary:
    """Score clean rows ``frame`` with the champion and summarise them for the drift report.

    Runs on the whole batch (local engine) or on each partition where it lives (dask engine).
    """
    schema = champion.schema
    scores = np.asarray(
        champion.model.decision_scores(frame[list(schema.features)]) if len(frame) else [],
        dtype=np.float64,
    )
    counts = summarise(
        champion.profile, champion.reference.get("categorical", {}), frame, schema, scores
    )
    flagged = int(np.sum(scores >= champion.model.threshold_))
    if schema.target not in frame.columns:
        return BatchSummary(counts, flagged, None, np.empty(0, dtype=np.float64))
    known = frame[schema.target].notna().to_numpy()
    order = None
    if schema.order_by is not None and schema.order_by in frame.columns:
        order = frame[schema.order_by].to_numpy()[known]
    labels = frame[schema.target][known].to_numpy(dtype=np.int8)
    return BatchSummary(counts, flagged, labels, scores[known], order)


def drift_report(
    champion: ChampionView, frame: pd.DataFrame, settings: Settings, *, batch: str, source: str
) -> dict[str, Any]:
    """The monitor report of clean rows ``frame`` (labels may be missing)."""
    summary = summarise_batch(frame, champion)
    return drift_report_of(champion, summary, settings, batch=batch, source=source)


def drift_report_of(
    champion: ChampionView,
    summary: BatchSummary,
    settings: Settings,
    *,
    batch: str,
    source: str,
) -> dict[str, Any]:
    """:func:`drift_report` of a batch's summary (one frame's, or merged from its partitions)."""
    report = compare_counts(champion.profile, summary.counts, settings.monitor)
    labels, scores = summary.labels, summary.label_scores
    if labels is not None and summary.order is not None:
        # rows in production order, ties in row order: the order a local stable sort gives
        in_order = np.argsort(summary.order, kind="stable")
        labels, scores = labels[in_order], scores[in_order]
    rows = summary.counts.rows
    return {
        "batch": batch,
        "source": source,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "champion_version": str(champion.metadata.get("version")),
        "thresholds": settings.monitor.model_dump(
            include={"psi_warn", "psi_drift", "unseen_warn", "unseen_drift"}
        ),
        **report,
        "flagged_rate": summary.flagged / rows if rows else 0.0,
        "performance": _performance(champion, labels, scores, settings),
    }


def _performance(
    champion: ChampionView, y: np.ndarray | None, s: np.ndarray, settings: Settings
) -> dict[str, Any] | None:
    """Batch metrics beside hold-out metrics, with an interval on the primary metric.

    ``y`` and ``s``: the labels and scores of the labelled rows, in production order.
    """
    if y is None or len(y) == 0:
        return None
    threshold = float(champion.model.threshold_)
    metrics = classification_metrics(y, s, threshold)
    holdout = champion.metadata.get("metrics", {})
    primary = settings.gate.primary_metric
    out: dict[str, Any] = {
        "labelled_rows": len(y),
        "defects": int(y.sum()),
        "metrics": {m: metrics.get(m) for m in PERFORMANCE_METRICS},
        "holdout": {m: holdout.get(m) for m in PERFORMANCE_METRICS},
        "primary_metric": primary,
    }
    if 0 < y.sum() < len(y):
        # the interval's cost grows with rows x resamples: a large batch is resampled through
        # a random subsample (a wider, so conservative, interval); the value uses every row
        pick = np.random.default_rng(settings.seed).permutation(len(y))[:BOOTSTRAP_ROWS]
        _, low, high = bootstrap_interval(
            y[pick],
            s[pick],
            primary,
            threshold=threshold,
            n_bootstrap=settings.gate.n_bootstrap,
            confidence=settings.gate.confidence,
            seed=settings.seed,
        )
        value = float(metrics[primary])
        reference = holdout.get(primary)
        out["interval"] = {
            "value": value,
            "low": low,
            "high": high,
            "confidence": settings.gate.confidence,
        }
        out["below_holdout"] = bool(reference is not None and high < reference)
    return out


def drift_paths(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Where a batch's report and its picture go: ``<batch>.json`` and ``<batch>.png``."""
    return {
        "report": out_dir / f"{report['batch']}.json",
        "plot": out_dir / f"{report['batch']}.png",
    }


def write_drift_outputs(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """The report and its picture in ``out_dir`` (written atomically)."""
    paths = drift_paths(report, out_dir)
    atomic.write_json(paths["report"], report)
    plot_drift(report, paths["plot"])
    return paths


def monitor_batch(
    settings: Settings, data: Path, *, name: str | None = None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Validate, score and compare one batch file in this process; write its report and plot.

    :func:`defectops.ops.run.monitor_batch` chooses this or the Dask engine's
    :func:`~defectops.engines.dask.batch.monitor_batch_on_cluster`; the report is the same.
    """
    champion = ChampionView.load(settings.artifacts)
    champion.model.predict_with_threads(os.cpu_count() or 1)
    raw = read_raw(data)
    result = validate(
        raw,
        settings,
        schema=champion.schema,
        reference=champion.reference,
        source=str(data),
        labels="optional",
        describe=False,
    )
    _check_rows(data, len(raw), len(result.frame))
    summary = summarise_batch(result.frame, champion)
    counts = (len(raw), len(result.frame), frame_sha256(raw))
    return report_batch(settings, data, champion, summary, counts, name=name)


def report_batch(
    settings: Settings,
    data: Path,
    champion: ChampionView,
    summary: BatchSummary,
    counts: tuple[int, int, str],
    *,
    name: str | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The drift report of a summarised batch, written with its plot; both engines end here.

    ``counts``: rows read, rows kept, and the fingerprint of the rows as read.
    """
    rows_read, rows_kept, sha = counts
    batch = batch_name(data, name)
    report = drift_report_of(champion, summary, settings, batch=batch, source=str(data))
    report["rows_read"] = rows_read
    report["rows_quarantined"] = int(rows_read - rows_kept)
    report["data_sha256"] = sha
    paths = write_drift_outputs(report, settings.layout.drift_reports_dir)
    return report, paths


def _check_rows(data: Path, rows_read: int, rows_kept: int) -> None:
    require_valid_rows(str(data), rows_read, rows_kept)


def reached(status: str, fail_on: str | None) -> bool:
    """Whether ``status`` is at or above the ``--fail-on`` level."""
    return fail_on is not None and STATUSES.index(status) >= STATUSES.index(fail_on)
