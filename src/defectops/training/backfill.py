"""The incremental learning pipeline: one challenger per chunk, scored honestly, gated, recorded.

1. Validate the data (quarantine bad rows) and set a fixed hold-out aside *before* any training:
   the last ``holdout_fraction`` of rows in order (``tail``), a stratified sample
   (``stratified``) or a separate file (``holdout_data``). Every model is scored on exactly those
   rows, so their metrics can be compared.
2. Split the rest into ordered chunks of ``chunk_size`` rows; a last short chunk is merged into
   the one before it, never dropped.
3. For chunk k train model k by ``strategy``: ``expanding`` (chunks 1..k from scratch),
   ``sliding`` (the last ``window`` chunks) or ``warm-start`` (model k-1 continued on chunk k).
4. Score it on the hold-out, and prequentially on chunk k+1 (test-then-train: how it would have
   done on the next batch), let the gate decide, and record model, metrics and reason.

A run is a back-fill. In a new directory the first model that passes acceptance becomes the
first champion; in a directory with a champion (of the same line: another line is refused) that
champion is the first model's incumbent, scored on the same hold-out rows, so a re-run never
dethrones it without a comparison. The chunk models of an earlier back-fill are kept under
``previous_runs/``: nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops.core.config import Settings
from defectops.core.layout import METADATA
from defectops.core.lock import RunLock
from defectops.data.io import frame_sha256
from defectops.data.prepared import PreparedData
from defectops.data.reference import reference_profile
from defectops.data.store import BatchRecord, DataStore
from defectops.data.validation import write_outputs
from defectops.evaluation import gate
from defectops.evaluation.records import ModelRecord, OnChunk, RunResult, model_record
from defectops.models.classifier import build_model
from defectops.registry.local import ModelRegistry, load_verified
from defectops.registry.tracking import preload
from defectops.reporting.reports import write_run_reports
from defectops.training.chunks import chunk_bounds, prequential, training_rows
from defectops.training.lineage import (
    config_hash,
    library_versions,
    run_key,
    run_params,
)
from defectops.training.prepare import (
    check_same_line,
    prepare,
)
from defectops.training.recorder import Recorder
from defectops.training.resume import RunState, read_json_file
from defectops.training.rows import PANDAS_ROWS, RowKeeper
from defectops.training.step import (
    Saved,
    fit_and_score,
    incumbent,
    model_facts,
    register_model,
    save_model,
)


def run_local(
    settings: Settings,
    *,
    on_chunk: OnChunk | None = None,
    on_data: Callable[[PreparedData], None] | None = None,
) -> RunResult:
    """:func:`defectops.ops.run.run_pipeline` with the rows in this process (the local
    engine)."""
    preload()  # the recorder opens MLflow once the rows are prepared: import it meanwhile
    data = prepare(settings)
    check_same_line(settings, data.schema)
    if on_data is not None:
        on_data(data)
    build_model(settings, data.schema)  # fail on a bad model/strategy pair before writing anything
    with RunLock(settings.artifacts, purpose="run"):
        return run_locked(settings, data, on_chunk)


def run_locked(
    settings: Settings,
    data: PreparedData,
    on_chunk: OnChunk | None,
    keeper: RowKeeper = PANDAS_ROWS,
) -> RunResult:
    """The training loop of both engines. ``keeper``: the row operations of the engine that
    holds the rows (fit, profile and store them where they are)."""
    with Recorder() as recorder:
        loop = _Loop.start(settings, data, keeper, recorder)
        loop.resume(on_chunk)
        for k in range(len(loop.state.completed), len(loop.bounds)):
            loop.train_chunk(k, on_chunk)
    local = loop.registry.local
    champion_meta = local.champion_metadata() if loop.champion is not None else None
    record_backfill(settings, data, loop.key, champion_meta, keeper)
    report, paths = write_run_reports(settings, loop.models, champion_meta, data)
    assert loop.run_id is not None  # opened by the recorder's first step
    loop.registry.tracker.finish_run(
        loop.run_id, report["summary"], [*loop.written.values(), *paths.values()]
    )
    loop.state.finished = True
    loop.state.save(settings.artifacts)
    return RunResult(loop.models, champion_meta, report, {**loop.written, **paths})


@dataclass
class _Loop:
    """One back-fill's working state: the rows, the registry, the resume point and the champion
    so far. Its steps are the loop's; the state is saved after every chunk."""

    settings: Settings
    data: PreparedData
    train: pd.DataFrame  # the training rows, numbered from 0 in production order
    registry: ModelRegistry
    state: RunState
    key: str
    common: ModelRecord
    written: dict[str, Path]
    keeper: RowKeeper
    recorder: Recorder
    run_id: str | None = None  # the run's MLflow run, parent of one nested run per chunk
    champion: gate.Candidate | None = None
    previous: Any = None
    models: list[ModelRecord] = field(default_factory=list)

    @classmethod
    def start(
        cls, settings: Settings, data: PreparedData, keeper: RowKeeper, recorder: Recorder
    ) -> _Loop:
        """Open the registry and, first on the recorder, the run (a new one, or the same run
        resumed): the first fit does not wait for MLflow."""
        schema = data.schema
        features, target = list(schema.features), schema.target
        train = data.train.reset_index(drop=True)
        holdout_sha = frame_sha256(data.holdout[[*features, target]])
        config = config_hash(settings)
        common: ModelRecord = {
            "model": settings.model,
            "strategy": settings.strategy,
            "config_hash": config,
            "holdout_sha256": holdout_sha,
            "holdout_rows": len(data.holdout),
            "library_versions": library_versions(),
        }
        key = run_key(config, frame_sha256(train[[*features, target]]), holdout_sha)
        registry = ModelRegistry(settings)
        state = RunState.load(settings.artifacts)
        if state is None or state.run_key != key:  # the same finished run: nothing to retrain
            before = state.run_key[:12] if state else datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            registry.local.archive_models(f"run-{before}")
            state = RunState(run_key=key)
        written = write_outputs(data.validation, settings)
        loop = cls(settings, data, train, registry, state, key, common, written, keeper, recorder)
        recorder.submit(loop.open_run)
        return loop

    def open_run(self) -> None:
        """Start (or find again) the run's MLflow run; on the recorder, before any record."""
        tags = {"defectops.data_sha256": frame_sha256(self.train)}
        self.run_id = self.registry.tracker.start_run(self.key, run_params(self.settings), tags)
        self.state.parent_run_id = self.run_id
        self.state.save(self.settings.artifacts)

    @cached_property
    def bounds(self) -> list[tuple[int, int]]:
        return chunk_bounds(len(self.train), self.settings.chunk_size)

    @property
    def width(self) -> int:
        return max(2, len(str(len(self.bounds))))

    @cached_property
    def holdout(self) -> tuple[pd.DataFrame, np.ndarray]:
        schema = self.data.schema
        return self.data.holdout[list(schema.features)], self.data.holdout[schema.target].to_numpy()

    @cached_property
    def feature_schema(self) -> dict[str, Any]:
        schema = self.data.schema
        return {"schema": schema.to_dict(), "reference": reference_profile(self.train, schema)}

    def resume(self, on_chunk: OnChunk | None) -> None:
        """Take back what an earlier attempt of this run finished: done stays done."""
        local, state = self.registry.local, self.state
        X_hold, y_hold = self.holdout
        # a champion from before this run is the first model's incumbent, judged on the same
        # hold-out rows: a re-run never dethrones it without a comparison
        if state.champion_chunk is None:
            self.champion = incumbent(local, X_hold, y_hold)
        for chunk_id in state.completed:
            model_dir = local.model_dir(chunk_id, self.width)
            meta = model_record(read_json_file(model_dir / METADATA))
            self.models.append(meta)
            warm = self.settings.strategy == "warm-start"
            if chunk_id == state.champion_chunk or warm:
                model = load_verified(model_dir / meta["model_file"], meta)
                self.previous = model
                if chunk_id == state.champion_chunk:
                    scores = model.decision_scores(X_hold)
                    self.champion = gate.Candidate(
                        chunk_id, scores, meta["threshold"], meta["metrics"]
                    )
            if on_chunk is not None:
                on_chunk({**meta, "resumed": True}, len(self.bounds))  # kept from an earlier run

    def train_chunk(self, k: int, on_chunk: OnChunk | None) -> None:
        """Fit model ``k + 1``, let the gate judge it against the champion, and record it."""
        settings, schema, bounds = self.settings, self.data.schema, self.bounds
        X_hold, y_hold = self.holdout
        start, end = training_rows(settings.strategy, bounds, k, settings.window)
        rows = self.train.iloc[start:end]
        init = self.previous if settings.strategy == "warm-start" else None
        fitted = fit_and_score(
            settings, schema, rows, init, X_hold, y_hold, chunk_id=k + 1, keeper=self.keeper
        )
        decision = gate.decide(
            fitted.candidate, self.champion, y_hold, settings.gate, seed=settings.seed + k
        )
        features = list(schema.features)
        metadata: ModelRecord = {
            **self.common,
            "chunk_id": k + 1,
            "chunk_rows": [int(bounds[k][0]), int(bounds[k][1])],
            "train_rows": [int(start), int(end)],
            "rows_seen": int(bounds[k][1]),
            **model_facts(fitted, rows, schema, decision),
            "prequential": prequential(
                fitted.model, self.train, bounds, k, features, schema.target
            ),
        }
        self.recorder.check()  # a failed record stops the loop before it writes more
        saved = save_model(self.registry, fitted, metadata, self.feature_schema, width=self.width)
        if decision.promote:
            self.champion = fitted.candidate
        self.previous = fitted.model
        self.recorder.submit(lambda: self.record(saved, decision, on_chunk))

    def record(self, saved: Saved, decision: gate.Decision, on_chunk: OnChunk | None) -> None:
        """Log, register and maybe crown one saved model, then move the resume point past it;
        on the recorder, in the order the models were fitted."""
        stored = register_model(
            self.registry, saved, decision, run_id=self.run_id, run_key=self.key
        )
        chunk_id = int(stored["chunk_id"])
        if decision.promote:
            self.state.champion_chunk = chunk_id
        self.state.completed.append(chunk_id)
        self.state.save(self.settings.artifacts)
        self.models.append(stored)
        if on_chunk is not None:
            on_chunk(stored, len(self.bounds))


def record_backfill(
    settings: Settings,
    data: PreparedData,
    key: str,
    champion: ModelRecord | None,
    keeper: RowKeeper = PANDAS_ROWS,
) -> None:
    """Put the back-fill's validated rows in the data store, first in its history, so that
    ``ingest`` learns from them as from every stored batch (expanding: all of them; sliding:
    the last window). Idempotent by the run key. An earlier back-fill leaves the history (its
    rows, not deleted, move to ``previous_runs/``): the newest back-fill replaces it.
    """

    store = DataStore(settings.store_dir)
    manifest = store.load()
    if manifest.by_sha(key) is not None:
        return
    name = f"backfill-{key[:12]}"
    frame = data.validation.frame
    keeper.store_backfill(frame, data.schema, key, store, name)  # on a cluster: each worker
    for earlier in [b for b in manifest.batches if b.batch_id.startswith("backfill-")]:
        kept = settings.layout.previous_runs_dir / earlier.batch_id
        kept.mkdir(parents=True, exist_ok=True)
        store.batch_dir(earlier.batch_id).replace(kept / store.batch_dir(earlier.batch_id).name)
        manifest.batches.remove(earlier)
    rows = len(frame)
    record = BatchRecord(
        batch_id=name,
        sha256=key,
        source=str(settings.data),
        arrived_at=datetime.now(UTC).isoformat(timespec="seconds"),
        rows=rows,
        rows_quarantined=int(data.validation.report["rows_quarantined"]),
        labelled_rows=rows,
        trained_version=str(champion.get("version")) if champion else None,
    )
    manifest.batches.insert(0, record)
    manifest.schema = data.schema.to_dict()
    manifest.last_training = {
        "labelled_rows": manifest.labelled_rows,
        "batch_count": len(manifest.batches),
        "version": record.trained_version,
        "at": record.arrived_at,
    }
    store.save(manifest)


# -- lineage --------------------------------------------------------------------------------------
