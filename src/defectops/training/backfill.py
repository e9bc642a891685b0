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

import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops import __version__
from defectops.core import atomic
from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.holdout import Holdout, choose_holdout
from defectops.data.io import frame_sha256, read_raw
from defectops.data.reference import reference_profile
from defectops.data.schema import DataSchema, line_differences
from defectops.data.validation import require_valid_rows, validate, write_outputs
from defectops.engines.select import check_engine
from defectops.evaluation import gate
from defectops.evaluation.metrics import classification_metrics
from defectops.monitoring.profile import PROFILED_SCORES, build_profile
from defectops.monitoring.sketch import distributed_profile
from defectops.training.records import PreparedData, RunResult

PREQUENTIAL_METRICS = ("pr_auc", "roc_auc", "f1")
LOCATION_SETTINGS = frozenset(
    {
        "data",
        "holdout_data",
        "artifacts",
        "reports",
        "tracking_uri",
        "admin_token",
        "monitor",
        "ingest",
    }
)
#: where a run computes, not what it computes: left out of the config hash (and so of the run
#: key), which stay what they were before the engine existed
EXECUTION_SETTINGS = frozenset({"engine", "scheduler", "staging"})


# -- data preparation -----------------------------------------------------------------------------


def prepare(settings: Settings) -> PreparedData:
    """Read and validate everything the run needs; raises before anything is written."""
    if settings.data is None:
        raise UserError("no data file given; pass --data FILE (or set data: in the config)")
    validation = validate(read_raw(settings.data), settings, source=str(settings.data))
    report = validation.report
    require_valid_rows(
        str(settings.data),
        report["rows_read"],
        report["rows_kept"],
        report["quarantined_by_reason"],
    )
    frame = validation.frame
    schema = validation.schema
    if settings.holdout_data is not None:
        reference = reference_profile(frame, schema)
        held = validate(
            read_raw(settings.holdout_data),
            settings,
            schema=schema,
            reference=reference,
            source=str(settings.holdout_data),
        )
        data = PreparedData(validation, frame, held.frame, str(settings.holdout_data), held)
    else:
        train, holdout, choice = split_holdout(frame, schema, settings)
        data = PreparedData(validation, train, holdout, choice.describe(), choice=choice)
    check_prepared(data, data.holdout[schema.target].to_numpy())
    return data


def check_same_line(settings: Settings, schema: DataSchema) -> None:
    """An artifacts directory holds one line: a run whose data is another line (another target,
    defect class or set of features) is refused before anything is written, rather than
    replacing the champion that a service and its clients rely on."""
    from defectops.registry.local import LocalRegistry

    local = LocalRegistry(settings.artifacts)
    if local.champion_metadata() is None:
        return
    kept = DataSchema.from_dict(local.champion_schema()["schema"])
    differences = line_differences(kept, schema)
    if differences:
        raise UserError(
            f"{settings.artifacts} holds another line than {settings.data}: "
            + "; ".join(differences)
            + " (than its champion); use another --artifacts directory for this line"
        )


def check_prepared(data: PreparedData, y_holdout: np.ndarray) -> None:
    """Both classes in the hold-out and rows left to train on, or one line saying what to do."""
    y = y_holdout
    if len(data.holdout) == 0 or y.min() == y.max():
        raise UserError(
            f"the hold-out ({data.holdout_source}, {len(data.holdout)} rows) does not hold both "
            "classes, so models cannot be compared on it; use a larger --holdout-fraction, "
            "--holdout stratified, or --holdout-data FILE"
        )
    if len(data.train) == 0:
        raise UserError("no rows left for training after the hold-out; use a smaller fraction")


def split_holdout(
    frame: pd.DataFrame, schema: DataSchema, settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame, Holdout]:
    """Training rows (in order), the fixed hold-out, and the rule that chose it (see
    :mod:`defectops.data.holdout`); decided once, before any training."""
    choice = holdout_of(frame[schema.target].to_numpy(), settings)
    keep = np.ones(len(frame), dtype=bool)
    keep[choice.positions] = False
    return frame.iloc[np.flatnonzero(keep)], frame.iloc[choice.positions], choice


def holdout_of(y: np.ndarray, settings: Settings) -> Holdout:
    """The settings' hold-out rule applied to labels in production order."""
    return choose_holdout(
        y,
        settings.holdout,
        settings.holdout_fraction,
        min_defects=settings.holdout_min_defects,
        max_fraction=settings.holdout_max_fraction,
        seed=settings.seed,
    )


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


# -- the loop -------------------------------------------------------------------------------------


def run_local(
    settings: Settings,
    *,
    on_chunk: Callable[[dict[str, Any], int], None] | None = None,
    on_data: Callable[[PreparedData], None] | None = None,
) -> RunResult:
    """:func:`defectops.training.run.run_pipeline` with the rows in this process (the local
    engine)."""
    from defectops.core.lock import RunLock
    from defectops.models.classifier import build_model

    check_engine(settings)
    data = prepare(settings)
    check_same_line(settings, data.schema)
    if on_data is not None:
        on_data(data)
    build_model(settings, data.schema)  # fail on a bad model/strategy pair before writing anything
    with RunLock(settings.artifacts, purpose="run"):
        return _run_locked(settings, data, on_chunk)


#: writes rows another engine holds as one stored batch: (rows, schema, run key, store, name)
StoreRows = Callable[[Any, DataSchema, str, Any, str], None]


def _run_locked(
    settings: Settings,
    data: PreparedData,
    on_chunk: Callable[[dict[str, Any], int], None] | None,
    store_rows: StoreRows | None = None,
) -> RunResult:
    """The training loop of both engines. ``store_rows``: how the engine that holds the rows
    writes them to the data store (None: pandas rows, which the store writes itself)."""
    from defectops.registry.local import ModelRegistry, load_verified
    from defectops.reporting.reports import write_run_reports

    schema = data.schema
    features = list(schema.features)
    target = schema.target
    train = data.train.reset_index(drop=True)
    X_hold, y_hold = data.holdout[features], data.holdout[target].to_numpy()
    bounds = chunk_bounds(len(train), settings.chunk_size)
    width = max(2, len(str(len(bounds))))
    feature_schema = {"schema": schema.to_dict(), "reference": reference_profile(train, schema)}
    holdout_sha = frame_sha256(data.holdout[[*features, target]])
    common = {
        "model": settings.model,
        "strategy": settings.strategy,
        "config_hash": config_hash(settings),
        "holdout_sha256": holdout_sha,
        "holdout_rows": len(data.holdout),
        "library_versions": library_versions(),
    }
    key = run_key(config_hash(settings), frame_sha256(train[[*features, target]]), holdout_sha)

    registry = ModelRegistry(settings)
    local = registry.local
    state = RunState.load(settings.artifacts)
    if state is None or state.run_key != key:  # the same finished run: nothing to retrain
        before = state.run_key[:12] if state else datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        local.archive_models(f"run-{before}")
        state = RunState(run_key=key)
    written = write_outputs(data.validation, settings)
    state.parent_run_id = registry.tracker.start_run(
        key, run_params(settings), {"defectops.data_sha256": frame_sha256(train)}
    )
    state.save(settings.artifacts)

    models: list[dict[str, Any]] = []
    # a champion from before this run is the first model's incumbent, judged on the same
    # hold-out rows: a re-run never dethrones it without a comparison
    champion = incumbent(local, X_hold, y_hold) if state.champion_chunk is None else None
    previous = None
    for chunk_id in state.completed:  # a resumed run: what is done stays done
        meta = read_json_file(local.model_dir(chunk_id, width) / "metadata.json")
        models.append(meta)
        if chunk_id == state.champion_chunk or settings.strategy == "warm-start":
            model = load_verified(local.model_dir(chunk_id, width) / meta["model_file"], meta)
            previous = model
            if chunk_id == state.champion_chunk:
                scores = model.decision_scores(X_hold)
                champion = gate.Candidate(chunk_id, scores, meta["threshold"], meta["metrics"])
        if on_chunk is not None:
            on_chunk({**meta, "resumed": True}, len(bounds))  # kept from an earlier run

    for k in range(len(state.completed), len(bounds)):
        start, end = training_rows(settings.strategy, bounds, k, settings.window)
        rows = train.iloc[start:end]
        init = previous if settings.strategy == "warm-start" else None
        fitted = fit_and_score(settings, schema, rows, init, X_hold, y_hold, chunk_id=k + 1)
        decision = gate.decide(
            fitted.candidate, champion, y_hold, settings.gate, seed=settings.seed + k
        )
        metadata = {
            **common,
            "chunk_id": k + 1,
            "chunk_rows": [int(bounds[k][0]), int(bounds[k][1])],
            "train_rows": [int(start), int(end)],
            "rows_seen": int(bounds[k][1]),
            **model_facts(fitted, rows, schema, decision),
            "prequential": prequential(fitted.model, train, bounds, k, features, target),
        }
        stored = commit_model(
            registry,
            fitted,
            metadata,
            feature_schema,
            decision,
            run_id=state.parent_run_id,
            run_key=key,
            width=width,
        )
        if decision.promote:
            champion = fitted.candidate
            state.champion_chunk = k + 1
        state.completed.append(k + 1)
        state.save(settings.artifacts)
        models.append(stored)
        previous = fitted.model
        if on_chunk is not None:
            on_chunk(stored, len(bounds))

    champion_meta = local.champion_metadata() if champion is not None else None
    record_backfill(settings, data, key, champion_meta, store_rows)
    report, paths = write_run_reports(settings, models, champion_meta, data)
    registry.tracker.finish_run(
        state.parent_run_id, report["summary"], [*written.values(), *paths.values()]
    )
    state.finished = True
    state.save(settings.artifacts)
    return RunResult(models, champion_meta, report, {**written, **paths})


def record_backfill(
    settings: Settings,
    data: PreparedData,
    key: str,
    champion: dict[str, Any] | None,
    store_rows: StoreRows | None = None,
) -> None:
    """Put the back-fill's validated rows in the data store, first in its history, so that
    ``ingest`` learns from them as from every stored batch (expanding: all of them; sliding:
    the last window). Idempotent by the run key. An earlier back-fill leaves the history (its
    rows, not deleted, move to ``previous_runs/``): the newest back-fill replaces it.
    """
    from defectops.data.store import BatchRecord, DataStore

    store = DataStore(settings.store_dir)
    manifest = store.load()
    if manifest.by_sha(key) is not None:
        return
    name = f"backfill-{key[:12]}"
    frame = data.validation.frame
    if isinstance(frame, pd.DataFrame):
        store.write_batch(name, frame)
    else:  # rows another engine holds: it writes them (on a cluster, each worker its part)
        if store_rows is None:
            raise TypeError(f"rows of type {type(frame).__name__} need the engine's store_rows")
        store_rows(frame, data.schema, key, store, name)
    for earlier in [b for b in manifest.batches if b.batch_id.startswith("backfill-")]:
        kept = Path(settings.artifacts) / "previous_runs" / earlier.batch_id
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
    profile: dict[str, Any]
    fit_seconds: float


def fit_and_score(
    settings: Settings,
    schema: DataSchema,
    rows: pd.DataFrame,
    init: Any,
    X_hold: pd.DataFrame,
    y_hold: np.ndarray,
    *,
    chunk_id: int,
) -> Fitted:
    """Train one challenger on ``rows`` and score it on the hold-out; profile it for drift."""
    from defectops.models.classifier import build_model

    features = list(schema.features)
    model = build_model(settings, schema)
    began = time.perf_counter()
    model.fit(rows[features], rows[schema.target].to_numpy(), init_model=init)
    fit_seconds = time.perf_counter() - began
    scores = model.decision_scores(X_hold)
    metrics = classification_metrics(y_hold, scores, model.threshold_)
    candidate = gate.Candidate(chunk_id, scores, float(model.threshold_), metrics)
    profiled = rows[features]
    # the scores are profiled on the training rows, in order, like the features: how much they
    # move from batch to batch needs the whole training period, not the hold-out's stretch
    # (pandas rows are cut first: only the profiled rows are scored)
    tail = profiled.iloc[-PROFILED_SCORES:] if isinstance(profiled, pd.DataFrame) else profiled
    trained_scores = model.decision_scores(tail)[-PROFILED_SCORES:]
    if isinstance(profiled, pd.DataFrame):
        profile = build_profile(profiled, schema, trained_scores, settings.chunk_size)
    else:  # rows on a cluster: merged per-partition summaries, only the scores gathered
        profile = distributed_profile(profiled, schema, trained_scores, settings.chunk_size)
    return Fitted(model, candidate, profile, fit_seconds)


def model_facts(
    fitted: Fitted, rows: pd.DataFrame, schema: DataSchema, decision: gate.Decision
) -> dict[str, Any]:
    """The metadata every model carries, however its training rows were chosen."""
    model, target = fitted.model, schema.target
    return {
        "rows_trained": len(rows),
        "defects_trained": int(rows[target].sum()),
        "data_sha256": frame_sha256(rows[[*schema.features, target]]),
        "params": _jsonable_params(model.get_params()),
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
    metadata: dict[str, Any],
    feature_schema: dict[str, Any],
    decision: gate.Decision,
    *,
    run_id: str | None,
    run_key: str,
    width: int,
) -> dict[str, Any]:
    """Save, log and register one model; crown it when the gate promoted it."""
    from defectops.registry.local import SCHEMA

    local = registry.local
    chunk_id = int(metadata["chunk_id"])
    model_dir = local.model_dir(chunk_id, width)
    model_schema = {**feature_schema, "profile": fitted.profile}
    atomic.write_json(model_dir / SCHEMA, model_schema)
    stored = local.save(fitted.model, metadata, width=width)
    version = registry.tracker.log_chunk(run_id, run_key, stored, model_dir, model_schema)
    stored = {**stored, "version": version}
    atomic.write_json(model_dir / "metadata.json", stored)
    if decision.promote:
        registry.crown(version, stored, model_dir, reason=decision.reason, action="gate")
    else:
        registry.mark_challenger(version)
    return stored


@dataclass
class RunState:
    """What a run has finished, written after each chunk: the resume point after a crash."""

    run_key: str
    parent_run_id: str | None = None
    completed: list[int] = field(default_factory=list)
    champion_chunk: int | None = None
    finished: bool = False

    FILE = "run_state.json"

    @classmethod
    def load(cls, artifacts: Path) -> RunState | None:
        path = Path(artifacts) / cls.FILE
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, artifacts: Path) -> None:
        atomic.write_json(Path(artifacts) / self.FILE, asdict(self))


def run_key(config: str, train_sha: str, holdout_sha: str) -> str:
    """Same config, same training rows, same hold-out: the same run (resumable)."""
    return hashlib.sha256(f"{config}:{train_sha}:{holdout_sha}".encode()).hexdigest()


def run_params(settings: Settings) -> dict[str, Any]:
    """The settings as flat MLflow params (``gate.margin``), secrets excluded."""
    flat: dict[str, Any] = {}
    for key, value in settings.model_dump(mode="json", exclude={"admin_token"}).items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def read_json_file(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def prequential(
    model: Any,
    train: pd.DataFrame,
    bounds: list[tuple[int, int]],
    k: int,
    features: list[str],
    target: str,
) -> dict[str, Any] | None:
    """Model k scored on chunk k+1, which it has not seen: the honest next-batch estimate."""
    if k + 1 >= len(bounds):
        return None
    start, end = bounds[k + 1]
    rows = train.iloc[start:end]
    y = rows[target].to_numpy()
    scores = model.decision_scores(rows[features])
    metrics = classification_metrics(y, scores, model.threshold_)
    return {"chunk_id": k + 2, "rows": int(end - start)} | {
        name: metrics[name] for name in PREQUENTIAL_METRICS
    }


# -- lineage --------------------------------------------------------------------------------------


def config_hash(settings: Settings) -> str:
    """sha256 of the settings that shape a model; paths and secrets are not part of it.

    The data a model saw is fingerprinted separately (``data_sha256``), so the same config on
    the same data gives the same hash wherever the files live.
    """
    payload = settings.model_dump(mode="json", exclude=set(LOCATION_SETTINGS | EXECUTION_SETTINGS))
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {"python": platform.python_version(), "defectops": __version__}
    for name in ("numpy", "pandas", "scikit-learn", "xgboost", "imbalanced-learn", "joblib"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return versions


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, str | int | float | bool) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out
