"""The production loop: ``ingest`` one batch, ``label`` it later, retrain when the policy says.

``ingest`` validates a batch (bad rows to ``store/quarantine/<batch>.csv``), appends it to the
data store, compares it with the champion's profile, then applies the retrain policy. A retrain
trains one challenger with the configured strategy on the labelled rows now available, scores
it and the champion on the same *recent* hold-out (the newest labelled rows, which neither
trained on), applies the gate and registers the challenger, exactly as a back-fill chunk is.

Only labelled rows are ever trained or scored on; a batch without labels is stored and
monitored, and ``label`` joins its labels later on ``ingest.label_key``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from defectops.core import atomic, failpoints
from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.core.lock import RunLock
from defectops.data.io import frame_sha256, read_raw
from defectops.data.quarantine import reason_counts
from defectops.data.reference import reference_profile
from defectops.data.schema import DataSchema, category_strings, encode_target, unknown_labels
from defectops.data.store import BATCH_COLUMN, ROW_COLUMN, BatchRecord, DataStore, Manifest
from defectops.data.timestamps import parse as parse_timestamps
from defectops.data.validation import (
    require_usable_features,
    require_valid_rows,
    usable_counts,
    validate,
)
from defectops.evaluation import gate
from defectops.evaluation.metrics import classification_metrics
from defectops.monitoring.batch import (
    BatchSummary,
    ChampionView,
    batch_name,
    drift_report_of,
    summarise_batch,
    write_drift_outputs,
)
from defectops.registry.local import LocalRegistry, ModelRegistry
from defectops.training.backfill import (
    commit_model,
    config_hash,
    fit_and_score,
    holdout_of,
    library_versions,
    model_facts,
    run_params,
)

if TYPE_CHECKING:
    from distributed import Client


@dataclass
class IngestResult:
    """What one ``ingest`` or ``label`` did, for the CLI and the report."""

    batch: BatchRecord
    duplicate: bool = False
    drift: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        drift = None
        if self.drift is not None:
            drift = {
                "status": self.drift["status"],
                "features": [
                    {k: f[k] for k in ("feature", "psi", "status")}
                    for f in self.drift["features"]
                    if f["status"] != "ok"
                ],
            }
        return {
            "batch": asdict(self.batch),
            "duplicate": self.duplicate,
            "drift": drift,
            "training": self.training,
            "files": {k: str(v) for k, v in self.paths.items()},
        }


def ingest_batch(
    settings: Settings, data: Path, *, batch_id: str | None = None, client: Client | None = None
) -> IngestResult:
    """Validate, store, monitor one batch; retrain by policy. The same batch twice is a no-op.

    With a Dask ``client`` the batch is validated, stored (one Parquet part per partition,
    written by the workers) and monitored on the cluster (see :mod:`defectops.engines.dask.batch`);
    the manifest, the quarantine file, the drift report and the retrain are the local ones.
    """
    raw = read_raw(data) if client is None else None
    with RunLock(settings.artifacts, purpose="ingest"), _staging(settings, client) as staging:
        store = DataStore(settings.store_dir)
        manifest = store.load()
        resumed = finish_pending(settings, store, manifest, client) if manifest.pending else None
        champion = _champion(settings)
        schema_dict = champion.schema.to_dict() if champion is not None else manifest.schema
        schema = DataSchema.from_dict(schema_dict) if schema_dict else None
        reference = champion.reference if champion is not None else None
        cluster_batch = None
        if client is not None:  # the fingerprint comes from the same read as the validation
            from defectops.engines.dask.batch import check_batch

            cluster_batch = check_batch(
                data, settings, client, schema=schema, reference=reference, staging=staging
            )
            sha = cluster_batch.sha256
        else:
            assert raw is not None
            sha = frame_sha256(raw)
        if (seen := manifest.by_sha(sha)) is not None:
            if resumed is not None and resumed.batch.batch_id == seen.batch_id:
                return resumed  # this batch's own ingest, interrupted: now finished
            return IngestResult(
                seen,
                duplicate=True,
                training={
                    "trained": False,
                    "reason": f"batch already ingested as {seen.batch_id!r}",
                },
            )
        name = batch_name(data, batch_id)
        if manifest.find(name) is not None:
            raise UserError(
                f"batch id {name!r} is already in the store with other rows; "
                "pass --batch-id to name this batch differently"
            )
        checked: Any = cluster_batch
        if checked is None:
            assert raw is not None
            result = validate(
                raw,
                settings,
                schema=schema,
                reference=reference,
                source=str(data),
                labels="optional",
            )
            checked = _LocalBatch(result.frame, result.quarantine, result.schema)
        rows_read = len(raw) if raw is not None else checked.rows_read
        _check_has_rows(data, rows_read, checked)
        require_usable_features(str(data), checked.rows, checked.usable_counts())
        paths: dict[str, Path] = {}
        if len(checked.quarantine):
            quarantine = settings.store_dir / "quarantine" / f"{name}.csv"
            paths["quarantine"] = atomic.write_with(
                quarantine, lambda tmp: checked.quarantine.to_csv(tmp, index=False)
            )
        store.discard_unlisted(manifest)
        paths["rows"] = checked.write_store(store, name)
        drift = None
        if champion is not None and checked.rows:
            summary = checked.summary(champion)
            drift = drift_report_of(champion, summary, settings, batch=name, source=str(data))
            paths.update(write_drift_outputs(drift, champion, settings.reports_dir / "drift"))
        record = BatchRecord(
            batch_id=name,
            sha256=sha,
            source=str(data),
            arrived_at=datetime.now(UTC).isoformat(timespec="seconds"),
            rows=checked.rows,
            rows_quarantined=len(checked.quarantine),
            labelled_rows=checked.labelled_rows,
            drift_status=drift["status"] if drift else None,
            champion_version=str(champion.metadata.get("version")) if champion else None,
        )
        manifest.batches.append(record)
        manifest.schema = checked.schema.to_dict()
        manifest.pending = {
            "kind": "ingest",
            "trigger": name,
            "paths": {key: str(path) for key, path in paths.items()},
        }
        failpoints.reached("ingest:before-commit")
        store.save(manifest)  # the commit point: the batch is in the store from here on
        failpoints.reached("ingest:after-commit")
        return finish_pending(settings, store, manifest, client)


def finish_pending(
    settings: Settings, store: DataStore, manifest: Manifest, client: Client | None = None
) -> IngestResult:
    """Do what the manifest says is committed but not finished: the retrain the policy calls
    for (registration, aliases and history included) and the batch's report.

    Run right after each commit, and by the next ``ingest`` or ``label`` when a crash came in
    between; every step is idempotent (the retrain's MLflow run and version are keyed, its model
    id is reserved in the manifest, a finished retrain's result is kept there), so a rerun ends
    as the uninterrupted command would have.
    """
    pending = manifest.pending
    assert pending is not None
    trigger = pending["trigger"]
    record = manifest.find(trigger)
    assert record is not None, f"pending work for {trigger!r}, a batch not in the manifest"
    training = pending.get("training")
    if training is None:
        training = maybe_retrain(settings, store, manifest, trigger=trigger, client=client)
    paths = {key: Path(path) for key, path in pending.get("paths", {}).items()}
    drift_report = paths.get("report")
    drift = None
    if drift_report is not None and drift_report.is_file():
        drift = json.loads(drift_report.read_text(encoding="utf-8"))
    outcome = IngestResult(record, drift=drift, training=training, paths=paths)
    if pending["kind"] == "ingest":
        paths["report"] = atomic.write_json(
            settings.reports_dir / "ingest" / f"{trigger}.json", outcome.summary()
        )
    failpoints.reached("ingest:before-clear")
    manifest.pending = None
    store.save(manifest)
    return outcome


def _check_has_rows(data: Path, rows_read: int, checked: Any) -> None:
    """A batch with no rows, or none that passed the contract, is refused before anything is
    written: stored, it would be a batch the store counts and no model can learn from."""
    require_valid_rows(str(data), rows_read, checked.rows, reason_counts(checked.quarantine))


def _staging(settings: Settings, client: Client | None) -> AbstractContextManager[Any]:
    """Where a batch's rows wait on the cluster (none on the local engine)."""
    if client is None:
        return nullcontext()
    from defectops.engines.staging import Staging

    return Staging.of(settings)


@dataclass
class _LocalBatch:
    """A validated batch in this process: what :func:`ingest_batch` needs of it, as on the
    cluster (:class:`~defectops.engines.dask.batch.ClusterBatch`)."""

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    schema: DataSchema

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def labelled_rows(self) -> int:
        return int(self.frame[self.schema.target].notna().sum())

    def write_store(self, store: DataStore, batch_id: str) -> Path:
        return store.write_batch(batch_id, self.frame)

    def usable_counts(self) -> dict[str, int]:
        return usable_counts(self.frame, self.schema.features)

    def summary(self, champion: ChampionView) -> BatchSummary:
        return summarise_batch(self.frame, champion)


def attach_labels(settings: Settings, batch_id: str, labels_path: Path) -> IngestResult:
    """Join late labels to a stored batch on ``ingest.label_key``; retrain by policy."""
    key = settings.ingest.label_key
    if key is None:
        raise UserError(
            "no label key configured: set ingest.label_key (e.g. DEFECTOPS_INGEST__LABEL_KEY="
            "part_id) to the column that identifies a part in both files"
        )
    labels = read_raw(labels_path)
    with RunLock(settings.artifacts, purpose="label"):
        store = DataStore(settings.store_dir)
        manifest = store.load()
        if manifest.pending:  # an ingest or label a crash interrupted: finish it first
            finish_pending(settings, store, manifest)
        record = manifest.find(batch_id)
        if record is None or manifest.schema is None:
            known = ", ".join(b.batch_id for b in manifest.batches[-5:]) or "none"
            raise UserError(f"batch {batch_id!r} is not in the store (latest: {known})")
        schema = DataSchema.from_dict(manifest.schema)
        target = schema.target
        for column in (key, target):
            if column not in labels.columns:
                raise UserError(f"{labels_path}: column {column!r} is missing from the labels")
        rows = store.read_batch(batch_id)
        if key not in rows.columns:
            raise UserError(f"label key {key!r} is not a column of batch {batch_id!r}")
        given = encode_target(
            labels[target], schema.positive_label, schema.negative_label, schema.na_values
        )
        if (given == -1).any():
            unknown = unknown_labels(labels[target], given, schema.na_values)
            raise UserError(
                f"{labels_path}: target {target!r} has values the model's two classes do not "
                f"cover: {', '.join(map(repr, unknown))}; the classes are "
                f"{schema.positive_label!r} (defect) and {schema.negative_label or 'good'!r}: "
                "map the labels onto them first"
            )
        if given.isna().any():
            bad = int(given.isna().sum())
            raise UserError(f"{labels_path}: {bad} labels are missing or not a known class value")
        keys = _join_keys(labels[key], rows[key], schema)
        if keys.duplicated().any():
            twice = keys[keys.duplicated()].iloc[0]
            raise UserError(f"{labels_path}: key {twice!r} appears more than once")
        lookup = pd.Series(given.to_numpy(), index=keys.to_numpy())
        stored_keys = _join_keys(rows[key], rows[key], schema)
        found = stored_keys.map(lookup)
        matched = int(found.notna().sum())
        if matched == 0:
            raise UserError(f"none of the {len(labels)} labels match a row of batch {batch_id!r}")
        rows[target] = found.where(found.notna(), rows[target]).astype("Int8")
        store.write_batch(batch_id, rows.drop(columns=[BATCH_COLUMN, ROW_COLUMN]))
        record.labelled_rows = int(rows[target].notna().sum())
        manifest.pending = {"kind": "label", "trigger": batch_id}
        store.save(manifest)  # the commit point of the labels
        outcome = finish_pending(settings, store, manifest)
        outcome.training = {
            "labels_matched": matched,
            "labels_unmatched": len(labels) - matched,
            **outcome.training,
        }
        return outcome


def _join_keys(values: pd.Series, like: pd.Series, schema: DataSchema) -> pd.Series:
    """Keys in one comparable form: timestamps as timestamps (in the schema's format for the
    column), anything else as canonical text."""
    if pd.api.types.is_datetime64_any_dtype(like):
        fmt = schema.timestamp_formats.get(str(like.name), "datetime")
        if not pd.api.types.is_datetime64_any_dtype(values) and fmt == "datetime":
            fmt = "ISO8601"
        return parse_timestamps(values, fmt, schema.na_values).reset_index(drop=True)
    return category_strings(values, schema.na_values).reset_index(drop=True)


def _champion(settings: Settings) -> ChampionView | None:
    if LocalRegistry(settings.artifacts).champion_metadata() is None:
        return None
    try:
        return ChampionView.load(settings.artifacts)
    except UserError:  # a champion from before drift profiles: store and train, no monitor
        return None


# -- retraining -----------------------------------------------------------------------------------


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
    client: Client | None = None,
) -> dict[str, Any]:
    """Apply the policy; when it says so, train, gate and register one challenger.

    With a Dask ``client`` the store's rows stay on the cluster: the challenger is boosted there
    (:func:`~defectops.engines.dask.frame.fit_distributed`) and both models score the recent
    hold-out
    there; the gate and the registry are the same.
    """
    champion = _champion(settings)
    pending = manifest.pending
    plan = pending.get("retrain") if pending is not None else None
    if plan is None:
        reason = retrain_decision(settings, manifest, champion is not None)
        if reason is None:
            return {"trained": False, "reason": _why_not(settings, manifest)}
        plan = {"reason": reason, "champion_version": _version_of(champion)}
        if pending is not None:  # kept (saved with the model id): a rerun replays the plan
            pending["retrain"] = plan
    reason = plan["reason"]
    if champion is not None and _version_of(champion) != plan["champion_version"]:
        # a crash came after this retrain crowned its challenger: judge and continue from the
        # champion it started from, as the uninterrupted retrain did
        champion = _champion_of_version(settings, champion, plan["champion_version"])
    schema = DataSchema.from_dict(manifest.schema or {})
    target, features = schema.target, list(schema.features)
    frame = _labelled_rows(store, manifest, target, client)
    choice = holdout_of(frame[target].to_numpy(), settings)
    if choice.is_tail:
        start = len(frame) - len(choice.positions)
        train, hold = frame.iloc[:start], frame.iloc[start:]
    else:
        in_holdout = np.zeros(len(frame), dtype=bool)
        in_holdout[choice.positions] = True
        train, hold = _rows_where(frame, ~in_holdout), _rows_where(frame, in_holdout)
    y_hold = hold[target].to_numpy()
    if len(train) == 0 or y_hold.min() == y_hold.max():
        return {"trained": False, "reason": "the recent hold-out does not hold both classes yet"}
    rows, init = _training_rows(settings, manifest, train, champion)
    X_hold = hold[features]
    chunk_id = _reserved_model_id(settings, store, manifest)
    fitted = fit_and_score(settings, schema, rows, init, X_hold, y_hold, chunk_id=chunk_id)
    failpoints.reached("retrain:after-fit")
    incumbent = None
    if champion is not None:
        scores = champion.model.decision_scores(X_hold)
        threshold = float(champion.model.threshold_)
        incumbent = gate.Candidate(
            int(champion.metadata.get("chunk_id", 0)),
            scores,
            threshold,
            classification_metrics(y_hold, scores, threshold),
        )
    decision = gate.decide(
        fitted.candidate, incumbent, y_hold, settings.gate, seed=settings.seed + chunk_id
    )
    key = hashlib.sha256(
        f"ingest:{config_hash(settings)}:{trigger}:{manifest.labelled_rows}".encode()
    ).hexdigest()
    registry = ModelRegistry(settings)
    run_id = registry.tracker.start_run(key, run_params(settings), {"defectops.trigger": trigger})
    metadata = {
        "model": settings.model,
        "strategy": settings.strategy,
        "config_hash": config_hash(settings),
        "holdout_sha256": frame_sha256(hold[[*features, target]]),
        "holdout_rows": len(hold),
        "holdout_rule": choice.to_dict(),
        "library_versions": library_versions(),
        "chunk_id": chunk_id,
        "trigger_batch": trigger,
        "retrain_reason": reason,
        "batches": _batch_ids(rows),
        "holdout_batches": _batch_ids(hold),
        "rows_seen": len(frame),
        **model_facts(fitted, rows, schema, decision),
        "champion_on_holdout": incumbent.metrics if incumbent is not None else None,
    }
    feature_schema = {"schema": schema.to_dict(), "reference": reference_profile(rows, schema)}
    stored = commit_model(
        registry,
        fitted,
        metadata,
        feature_schema,
        decision,
        run_id=run_id,
        run_key=key,
        width=max(2, len(str(chunk_id))),
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
    result = {
        "trained": True,
        "reason": reason,
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
    settings: Settings, manifest: Manifest, train: pd.DataFrame, champion: ChampionView | None
) -> tuple[pd.DataFrame, Any]:
    """The rows (and initial model) the configured strategy trains on."""
    if settings.strategy == "sliding":
        return train.iloc[-settings.window * settings.chunk_size :], None
    if settings.strategy == "warm-start" and champion is not None:
        last = manifest.last_training or {}
        new = sorted(b.batch_id for b in manifest.batches[int(last.get("batch_count", 0)) :])
        rows = _in_batches(train, new)
        return (rows, champion.model) if len(rows) else (train, None)
    return train, None


def _labelled_rows(store: DataStore, manifest: Manifest, target: str, client: Client | None) -> Any:
    """Every labelled row of the store in order, the label as int8: a frame in this process,
    or on the cluster a :class:`~defectops.engines.dask.frame.DistributedFrame` of the store's files
    (only whether each row has a label comes back, one byte a row)."""
    if client is None:
        frame = store.read_all(manifest)
        frame = frame[frame[target].notna()].reset_index(drop=True)
        frame[target] = frame[target].astype(np.int8)
        return frame
    from defectops.engines.dask.frame import frame_of_files

    files = [f for batch in manifest.batches for f in store.batch_files(batch.batch_id)]
    stored = frame_of_files(client, files)
    labelled = stored.select([target]).gather_each(_labelled, name=target)
    return stored.take(np.concatenate(labelled)).astype({target: np.int8})


def _labelled(part: pd.DataFrame, name: str) -> np.ndarray:
    return part[name].notna().to_numpy()


def _batch_ids(rows: Any) -> list[str]:
    """The batches ``rows`` come from (rows on a cluster: gathered as each part's few ids)."""
    if isinstance(rows, pd.DataFrame):
        return sorted(set(rows[BATCH_COLUMN]))
    ids = rows.select([BATCH_COLUMN]).gather_each(_unique, name=BATCH_COLUMN)
    return sorted(set(itertools.chain.from_iterable(ids)))


def _unique(part: pd.DataFrame, name: str) -> list[str]:
    return [str(v) for v in pd.unique(part[name])]


def _rows_where(rows: Any, keep: np.ndarray) -> Any:
    """The rows where ``keep`` is true, in order (a frame here or on the cluster)."""
    if isinstance(rows, pd.DataFrame):
        return rows.iloc[np.flatnonzero(keep)]
    return rows.take(keep)


def _in_batches(rows: Any, batches: list[str]) -> Any:
    """The rows of these batches, in order."""
    if isinstance(rows, pd.DataFrame):
        return rows[rows[BATCH_COLUMN].isin(batches)]
    keep = rows.select([BATCH_COLUMN]).gather_each(_is_in, name=BATCH_COLUMN, values=batches)
    return rows.take(np.concatenate(keep) if keep else np.zeros(0, dtype=bool))


def _is_in(part: pd.DataFrame, name: str, values: list[str]) -> np.ndarray:
    return part[name].isin(values).to_numpy()


def _version_of(champion: ChampionView | None) -> str | None:
    return None if champion is None else str(champion.metadata.get("version"))


def _champion_of_version(
    settings: Settings, current: ChampionView, version: str | None
) -> ChampionView | None:
    """The champion as it was at ``version`` (None: there was none), from the registry."""
    if version is None:
        return None
    import tempfile

    from defectops.registry.local import METADATA, load_verified, read_json

    registry = ModelRegistry(settings)
    with tempfile.TemporaryDirectory(dir=settings.artifacts) as tmp:
        source = registry.tracker.download_model(version, Path(tmp))
        metadata = {**read_json(source / METADATA), "version": version}
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
