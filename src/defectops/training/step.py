"""The training step shared by the back-fill and ``ingest``: fit one challenger, score it on
the hold-out, describe it, and save, log and register it by the gate's decision."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops.core import atomic
from defectops.core.config import Settings
from defectops.core.layout import METADATA, SCHEMA
from defectops.data.io import frame_sha256
from defectops.data.schema import DataSchema
from defectops.evaluation import gate
from defectops.evaluation.metrics import classification_metrics
from defectops.evaluation.records import ModelRecord
from defectops.models.classifier import build_model
from defectops.training.lineage import jsonable_params
from defectops.training.rows import PANDAS_ROWS, RowKeeper


def incumbent(local: Any, X_hold: Any, y_hold: np.ndarray) -> gate.Candidate | None:
    """The champion already in ``production/`` (same line: see :func:`check_same_line`),
    scored on this run's hold-out, or None when there is none."""
    if local.champion_metadata() is None:
        return None
    model, meta = local.load_champion()
    scores = model.decision_scores(X_hold)
    threshold = float(model.threshold_)
    metrics = classification_metrics(y_hold, scores, threshold)
    return gate.Candidate(int(meta.get("chunk_id") or 0), scores, threshold, metrics)


@dataclass
class Fitted:
    """A challenger trained and scored on the hold-out, before the gate has seen it."""

    model: Any
    candidate: gate.Candidate
    fit_seconds: float
    #: the drift profile of its training rows (and of its scores on them): a pass over every
    #: training row that nothing before the record needs, so it is taken where it is recorded
    profile: Callable[[], dict[str, Any]]


def fit_and_score(
    settings: Settings,
    schema: DataSchema,
    rows: pd.DataFrame,
    init: Any,
    X_hold: pd.DataFrame,
    y_hold: np.ndarray,
    *,
    chunk_id: int,
    keeper: RowKeeper = PANDAS_ROWS,
) -> Fitted:
    """Train one challenger on ``rows`` and score it on the hold-out. ``keeper``: the row
    operations of the engine that holds ``rows`` (its drift profile is taken there)."""

    features = list(schema.features)
    model = build_model(settings, schema)
    began = time.perf_counter()
    model.fit(rows[features], rows[schema.target].to_numpy(), init_model=init)
    fit_seconds = time.perf_counter() - began
    scores = model.decision_scores(X_hold)
    metrics = classification_metrics(y_hold, scores, model.threshold_)
    candidate = gate.Candidate(chunk_id, scores, float(model.threshold_), metrics)
    profile = partial(keeper.profile, model, rows, schema, settings.chunk_size)
    return Fitted(model, candidate, fit_seconds, profile)


def model_facts(
    fitted: Fitted, rows: pd.DataFrame, schema: DataSchema, decision: gate.Decision
) -> ModelRecord:
    """The metadata every model carries, however its training rows were chosen."""
    model, target = fitted.model, schema.target
    return {
        "rows_trained": len(rows),
        "defects_trained": int(rows[target].sum()),
        "data_sha256": frame_sha256(rows[[*schema.features, target]]),
        "params": jsonable_params(model.get_params()),
        "threshold": float(model.threshold_),
        "best_iteration": getattr(model, "best_iteration_", None),
        "training": model.fit_record_.to_dict(),
        "fallbacks": list(getattr(model, "fallbacks_", [])),
        "metrics": fitted.candidate.metrics,
        "status": decision.status,
        "reason": decision.reason,
        "decision": decision.to_dict(),
        "fit_seconds": round(fitted.fit_seconds, 4),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def commit_model(
    registry: Any,
    fitted: Fitted,
    metadata: ModelRecord,
    feature_schema: dict[str, Any],
    decision: gate.Decision,
    *,
    run_id: str | None,
    run_key: str,
    width: int,
) -> ModelRecord:
    """Save, log and register one model; crown it when the gate promoted it."""
    saved = save_model(registry, fitted, metadata, feature_schema, width=width)
    return register_model(registry, saved, decision, run_id=run_id, run_key=run_key)


@dataclass(frozen=True)
class Saved:
    """A model's file and metadata in the local tree, before MLflow knows of it."""

    record: ModelRecord
    model_dir: Path
    feature_schema: dict[str, Any]
    profile: Callable[[], dict[str, Any]]


def save_model(
    registry: Any,
    fitted: Fitted,
    metadata: ModelRecord,
    feature_schema: dict[str, Any],
    *,
    width: int,
) -> Saved:
    """Write the model file and its metadata.

    Done where the model was fitted: the next fit may start from this very model (warm start),
    so it is pickled before anything else can touch it.
    """
    stored: ModelRecord = registry.local.save(fitted.model, metadata, width=width)
    model_dir = registry.local.model_dir(int(metadata["chunk_id"]), width)
    return Saved(stored, model_dir, feature_schema, fitted.profile)


def register_model(
    registry: Any, saved: Saved, decision: gate.Decision, *, run_id: str | None, run_key: str
) -> ModelRecord:
    """Write the feature schema with the drift profile, log and register a saved model, and
    crown it when the gate promoted it."""
    model_schema = {**saved.feature_schema, "profile": saved.profile()}
    atomic.write_json(saved.model_dir / SCHEMA, model_schema)
    version = registry.tracker.log_chunk(
        run_id, run_key, saved.record, saved.model_dir, model_schema
    )
    stored: ModelRecord = {**saved.record, "version": str(version)}
    atomic.write_json(saved.model_dir / METADATA, stored)
    if decision.promote:
        registry.crown(version, stored, saved.model_dir, reason=decision.reason, action="gate")
    else:
        registry.mark_challenger(version)
    return stored
