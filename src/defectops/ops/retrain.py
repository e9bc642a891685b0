"""The retrain policy of the production loop, and the retrain it calls for: the store's labelled
rows, a recent hold-out, one challenger through the shared training step, the gate, the registry.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from defectops.core import failpoints
from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.core.layout import METADATA
from defectops.data.holdout import Holdout
from defectops.data.io import frame_sha256
from defectops.data.reference import reference_profile
from defectops.data.schema import DataSchema
from defectops.data.store import DataStore, Manifest
from defectops.engines.base import Engine
from defectops.engines.local import LocalEngine
from defectops.evaluation import gate
from defectops.evaluation.metrics import classification_metrics
from defectops.evaluation.records import ModelRecord, model_record
from defectops.monitoring.batch import ChampionView
from defectops.registry.local import LocalRegistry, ModelRegistry, load_verified, read_json
from defectops.training.lineage import config_hash, library_versions, run_params
from defectops.training.prepare import holdout_of
from defectops.training.rows import RowKeeper
from defectops.training.step import Fitted, commit_model, fit_and_score, model_facts


def champion_view(settings: Settings) -> ChampionView | None:
    if LocalRegistry(settings.artifacts).champion_metadata() is None:
        return None
    try:
        return ChampionView.load(settings.artifacts)
    except UserError:  # a champion from before drift profiles: store and train, no monitor
        return None


def retrain_decision(settings: Settings, manifest: Manifest, has_champion: bool) -> str | None:
    """Why to retrain now, or None; the reason not to is recorded by the caller."""
    last = manifest.last_training or {}
    since = manifest.batches[int(last.get("batch_count", 0)) :]
    if manifest.labelled_rows - int(last.get("labelled_rows", 0)) <= 0:
        return None
    if manifest.labelled_rows < settings.ingest.min_rows:
        return None
    if not has_champion:
        return "no champion yet"
    policy = settings.ingest.retrain
    if policy == "every-batch":
        return "new labelled rows (retrain: every-batch)"
    if policy == "every-n" and len(since) >= settings.ingest.every:
        return f"{len(since)} batches since the last retrain (retrain: every-n)"
    if policy == "on-drift" and any(b.drift_status == "drift" for b in since):
        return "a batch since the last retrain drifted (retrain: on-drift)"
    return None


def maybe_retrain(
    settings: Settings,
    store: DataStore,
    manifest: Manifest,
    *,
    trigger: str,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Apply the policy; when it says so, train, gate and register one challenger.

    On the Dask engine the store's rows stay on the cluster: the challenger is boosted there
    (:func:`~defectops.engines.dask.fit.fit_distributed`) and both models score the recent
    hold-out there; the gate and the registry are the same.
    """
    champion = champion_view(settings)
    plan = _plan(settings, manifest, champion)
    if plan is None:
        return {"trained": False, "reason": _why_not(settings, manifest)}
    registry = ModelRegistry(settings)
    registry.open_in_background()  # while the rows are read and the challenger fits
    if champion is not None and _version_of(champion) != plan["champion_version"]:
        # a crash came after this retrain crowned its challenger: judge and continue from the
        # champion it started from, as the uninterrupted retrain did
        champion = _champion_of_version(registry, champion, plan["champion_version"])
    engine = engine or LocalEngine()
    schema = DataSchema.from_dict(manifest.schema or {})
    frame = engine.labelled_rows(store, manifest, schema.target)
    choice = holdout_of(frame[schema.target].to_numpy(), settings)
    train, hold = _split(frame, choice, engine.rows)
    y_hold = hold[schema.target].to_numpy()
    if len(train) == 0 or y_hold.min() == y_hold.max():
        return {"trained": False, "reason": "the recent hold-out does not hold both classes yet"}
    rows, init = _training_rows(settings, manifest, train, champion, engine.rows)
    X_hold = hold[list(schema.features)]
    chunk_id = _reserved_model_id(settings, store, manifest)
    fitted = fit_and_score(
        settings, schema, rows, init, X_hold, y_hold, chunk_id=chunk_id, keeper=engine.rows
    )
    failpoints.reached("retrain:after-fit")
    incumbent = _incumbent(champion, X_hold, y_hold)
    decision = gate.decide(
        fitted.candidate, incumbent, y_hold, settings.gate, seed=settings.seed + chunk_id
    )
    metadata: ModelRecord = {
        **_lineage(settings, schema, hold, choice),
        "chunk_id": chunk_id,
        "trigger_batch": trigger,
        "retrain_reason": plan["reason"],
        "batches": engine.rows.batch_ids(rows),
        "holdout_batches": engine.rows.batch_ids(hold),
        "rows_seen": len(frame),
        **model_facts(fitted, rows, schema, decision),
        "champion_on_holdout": incumbent.metrics if incumbent is not None else None,
    }
    stored = _register(registry, manifest, trigger, fitted, metadata, rows, decision)
    result = {
        "trained": True,
        "reason": plan["reason"],
        "version": str(stored["version"]),
        "chunk_id": chunk_id,
        "status": decision.status,
        "decision": decision.reason,
        "rows_trained": len(rows),
        "holdout_rows": len(hold),
        "metrics": {m: fitted.candidate.metrics.get(m) for m in ("pr_auc", "roc_auc", "accuracy")},
    }
    if manifest.pending is not None:  # done: a rerun takes the result, it does not retrain
        manifest.pending["training"] = result
    store.save(manifest)
    return result


def _plan(
    settings: Settings, manifest: Manifest, champion: ChampionView | None
) -> dict[str, Any] | None:
    """Why this retrain runs and from which champion; kept in the pending work (saved with the
    model id), so that a rerun after a crash replays the same plan. None: no retrain now."""
    pending = manifest.pending
    plan = pending.get("retrain") if pending is not None else None
    if plan is not None:
        return dict(plan)
    reason = retrain_decision(settings, manifest, champion is not None)
    if reason is None:
        return None
    plan = {"reason": reason, "champion_version": _version_of(champion)}
    if pending is not None:
        pending["retrain"] = plan
    return plan


def _split(frame: Any, choice: Holdout, keeper: RowKeeper) -> tuple[Any, Any]:
    """Training rows and the recent hold-out, both in production order."""
    if choice.is_tail:
        start = len(frame) - len(choice.positions)
        return frame.iloc[:start], frame.iloc[start:]
    in_holdout = np.zeros(len(frame), dtype=bool)
    in_holdout[choice.positions] = True
    return keeper.where(frame, ~in_holdout), keeper.where(frame, in_holdout)


def _incumbent(
    champion: ChampionView | None, X_hold: Any, y_hold: np.ndarray
) -> gate.Candidate | None:
    """The champion scored on the recent hold-out, for the gate."""
    if champion is None:
        return None
    scores = champion.model.decision_scores(X_hold)
    threshold = float(champion.model.threshold_)
    metrics = classification_metrics(y_hold, scores, threshold)
    return gate.Candidate(int(champion.metadata.get("chunk_id", 0)), scores, threshold, metrics)


def _lineage(settings: Settings, schema: DataSchema, hold: Any, choice: Holdout) -> ModelRecord:
    """The config and hold-out a retrained model was judged by."""
    return {
        "model": settings.model,
        "strategy": settings.strategy,
        "config_hash": config_hash(settings),
        "holdout_sha256": frame_sha256(hold[[*schema.features, schema.target]]),
        "holdout_rows": len(hold),
        "holdout_rule": choice.to_dict(),
        "library_versions": library_versions(),
    }


def _register(
    registry: ModelRegistry,
    manifest: Manifest,
    trigger: str,
    fitted: Fitted,
    metadata: ModelRecord,
    rows: Any,
    decision: gate.Decision,
) -> ModelRecord:
    """Save, log and register the challenger (crowned when the gate says so) in an MLflow run
    keyed by the trigger, and note the retrain in the manifest (saved by the caller)."""
    settings = registry.settings
    schema = DataSchema.from_dict(manifest.schema or {})
    key = hashlib.sha256(
        f"ingest:{config_hash(settings)}:{trigger}:{manifest.labelled_rows}".encode()
    ).hexdigest()
    run_id = registry.tracker.start_run(key, run_params(settings), {"defectops.trigger": trigger})
    feature_schema = {"schema": schema.to_dict(), "reference": reference_profile(rows, schema)}
    stored = commit_model(
        registry,
        fitted,
        metadata,
        feature_schema,
        decision,
        run_id=run_id,
        run_key=key,
        width=max(2, len(str(metadata["chunk_id"]))),
    )
    failpoints.reached("retrain:after-register")
    registry.tracker.finish_run(run_id, {}, [])
    manifest.last_training = {
        "labelled_rows": manifest.labelled_rows,
        "batch_count": len(manifest.batches),
        "version": stored["version"],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for batch in manifest.batches:
        if batch.batch_id == trigger:
            batch.trained_version = str(stored["version"])
    return stored


def _why_not(settings: Settings, manifest: Manifest) -> str:
    last = manifest.last_training or {}
    if manifest.labelled_rows - int(last.get("labelled_rows", 0)) <= 0:
        return "no new labelled rows since the last retrain"
    if manifest.labelled_rows < settings.ingest.min_rows:
        return (
            f"{manifest.labelled_rows} labelled rows, fewer than ingest.min_rows "
            f"({settings.ingest.min_rows})"
        )
    return f"the retrain policy ({settings.ingest.retrain}) does not call for it yet"


def _training_rows(
    settings: Settings,
    manifest: Manifest,
    train: Any,
    champion: ChampionView | None,
    keeper: RowKeeper,
) -> tuple[Any, Any]:
    """The rows (and initial model) the configured strategy trains on."""
    if settings.strategy == "sliding":
        return train.iloc[-settings.window * settings.chunk_size :], None
    if settings.strategy == "warm-start" and champion is not None:
        last = manifest.last_training or {}
        new = sorted(b.batch_id for b in manifest.batches[int(last.get("batch_count", 0)) :])
        rows = keeper.in_batches(train, new)
        return (rows, champion.model) if len(rows) else (train, None)
    return train, None


def _version_of(champion: ChampionView | None) -> str | None:
    return None if champion is None else str(champion.metadata.get("version"))


def _champion_of_version(
    registry: ModelRegistry, current: ChampionView, version: str | None
) -> ChampionView | None:
    """The champion as it was at ``version`` (None: there was none), from the registry."""
    if version is None:
        return None
    with tempfile.TemporaryDirectory(dir=registry.settings.artifacts) as tmp:
        source = registry.tracker.download_model(version, Path(tmp))
        metadata: ModelRecord = {**model_record(read_json(source / METADATA)), "version": version}
        model = load_verified(source / metadata["model_file"], metadata)
    return ChampionView(model, metadata, current.schema, current.reference, current.profile)


def _reserved_model_id(settings: Settings, store: DataStore, manifest: Manifest) -> int:
    """The model id of the pending retrain, chosen once and kept in the manifest: a rerun after
    a crash writes the same ``model_NN`` instead of leaving an orphan and shifting the rest."""
    pending = manifest.pending
    if pending is not None and "model_id" in pending:
        return int(pending["model_id"])
    model_id = _next_model_id(settings)
    if pending is not None:
        pending["model_id"] = model_id
        store.save(manifest)
    return model_id


def _next_model_id(settings: Settings) -> int:
    models = LocalRegistry(settings.artifacts).models_dir
    ids = [int(p.name.split("_")[-1]) for p in models.glob("model_*") if p.name[6:].isdigit()]
    return max(ids, default=0) + 1
