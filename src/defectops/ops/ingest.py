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

import json
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from defectops.core import atomic, failpoints
from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.core.lock import RunLock
from defectops.data.quarantine import reason_counts
from defectops.data.schema import DataSchema
from defectops.data.store import BatchRecord, DataStore, Manifest
from defectops.data.validation import require_usable_features, require_valid_rows
from defectops.engines.base import CheckedBatch, Engine
from defectops.engines.local import LocalEngine
from defectops.monitoring.batch import batch_name, drift_paths, drift_report_of
from defectops.monitoring.drift_plot import draw_in_background, redraw_if_missing
from defectops.ops.retrain import champion_view, maybe_retrain


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
    settings: Settings, data: Path, *, batch_id: str | None = None, engine: Engine | None = None
) -> IngestResult:
    """Validate, store, monitor one batch; retrain by policy. The same batch twice is a no-op.

    On the Dask engine the batch is validated, stored (one Parquet part per partition, written
    by the workers) and monitored on the cluster (see :mod:`defectops.engines.dask.batch`); the
    manifest, the quarantine file, the drift report and the retrain are the local ones.
    """
    engine = engine or LocalEngine()
    with RunLock(settings.artifacts, purpose="ingest"), engine.staging(settings) as staging:
        store = DataStore(settings.store_dir)
        manifest = store.load()
        resumed = finish_pending(settings, store, manifest, engine) if manifest.pending else None
        champion = champion_view(settings)
        schema_dict = champion.schema.to_dict() if champion is not None else manifest.schema
        checked = engine.check_batch(
            settings,
            data,
            schema=DataSchema.from_dict(schema_dict) if schema_dict else None,
            reference=champion.reference if champion is not None else None,
            staging=staging,
        )
        if (seen := manifest.by_sha(checked.sha256)) is not None:
            if resumed is not None and resumed.batch.batch_id == seen.batch_id:
                return resumed  # this batch's own ingest, interrupted: now finished
            reason = f"batch already ingested as {seen.batch_id!r}"
            return IngestResult(seen, duplicate=True, training={"trained": False, "reason": reason})
        name = batch_name(data, batch_id)
        if manifest.find(name) is not None:
            raise UserError(
                f"batch id {name!r} is already in the store with other rows; "
                "pass --batch-id to name this batch differently"
            )
        _check_has_rows(data, checked)
        paths = _store_batch(settings, store, manifest, checked, name)
        drift, drawing = None, None
        if champion is not None and checked.rows:
            summary = checked.summary(champion)
            drift = drift_report_of(champion, summary, settings, batch=name, source=str(data))
            paths.update(drift_paths(drift, settings.layout.drift_reports_dir))
            atomic.write_json(paths["report"], drift)
            drawing = draw_in_background(drift, paths["plot"])  # drawn while the retrain fits
        record = BatchRecord(
            batch_id=name,
            sha256=checked.sha256,
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
        return finish_pending(settings, store, manifest, engine, drawing=drawing)


def _store_batch(
    settings: Settings, store: DataStore, manifest: Manifest, checked: CheckedBatch, name: str
) -> dict[str, Path]:
    """Write the batch's quarantined rows and its clean rows (not yet in the manifest)."""
    paths: dict[str, Path] = {}
    if len(checked.quarantine):
        quarantine = settings.store_dir / "quarantine" / f"{name}.csv"
        paths["quarantine"] = atomic.write_with(
            quarantine, lambda tmp: checked.quarantine.to_csv(tmp, index=False)
        )
    store.discard_unlisted(manifest)
    paths["rows"] = checked.write_store(store, name)
    return paths


def finish_pending(
    settings: Settings,
    store: DataStore,
    manifest: Manifest,
    engine: Engine | None = None,
    *,
    drawing: Future[Path] | None = None,
) -> IngestResult:
    """Do what the manifest says is committed but not finished: the retrain the policy calls
    for (registration, aliases and history included) and the batch's report.

    Run right after each commit, and by the next ``ingest`` or ``label`` when a crash came in
    between; every step is idempotent (the retrain's MLflow run and version are keyed, its model
    id is reserved in the manifest, a finished retrain's result is kept there), so a rerun ends
    as the uninterrupted command would have. ``drawing``: the batch's drift picture, when this
    command started drawing it; a rerun draws it again from the report if it is missing.
    """
    pending = manifest.pending
    assert pending is not None
    trigger = pending["trigger"]
    record = manifest.find(trigger)
    assert record is not None, f"pending work for {trigger!r}, a batch not in the manifest"
    training = pending.get("training")
    if training is None:
        training = maybe_retrain(settings, store, manifest, trigger=trigger, engine=engine)
    paths = {key: Path(path) for key, path in pending.get("paths", {}).items()}
    drift_report, plot = paths.get("report"), paths.get("plot")
    if drawing is not None:
        drawing.result()
    elif drift_report is not None and plot is not None:
        redraw_if_missing(drift_report, plot)
    drift = None
    if drift_report is not None and drift_report.is_file():
        drift = json.loads(drift_report.read_text(encoding="utf-8"))
    outcome = IngestResult(record, drift=drift, training=training, paths=paths)
    if pending["kind"] == "ingest":
        paths["report"] = atomic.write_json(
            settings.layout.ingest_reports_dir / f"{trigger}.json", outcome.summary()
        )
    failpoints.reached("ingest:before-clear")
    manifest.pending = None
    store.save(manifest)
    return outcome


def _check_has_rows(data: Path, checked: CheckedBatch) -> None:
    """A batch with no rows, none that passed the contract, or a feature without one usable
    value is refused before anything is written: stored, it would be a batch the store counts
    and no model can learn from."""
    quarantined = reason_counts(checked.quarantine)
    require_valid_rows(str(data), checked.rows_read, checked.rows, quarantined)
    require_usable_features(str(data), checked.rows, checked.usable_counts())
