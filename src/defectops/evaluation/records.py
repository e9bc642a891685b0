"""The model record: what every model version carries, from its fit to its registration.

A record is written once per model (``incremental_models/model_NN/metadata.json``, the
``production/`` copy, the MLflow version's tags, the training report) and read by the registry,
the reports, the model card, the CLI, the service and the dashboard. It stays a JSON object on
disk; in code it is typed, so a key a writer renames fails type-checking where a reader uses it
instead of reading ``None`` at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

if TYPE_CHECKING:
    from defectops.data.prepared import PreparedData


class DecisionRecord(TypedDict, total=False):
    """The gate's verdict on a challenger (``gate.Decision`` as JSON)."""

    status: str
    promote: bool
    reason: str
    accepted: bool
    comparison: dict[str, Any] | None


class PrequentialRecord(TypedDict, total=False):
    """Model k scored on chunk k+1, which it had not seen."""

    chunk_id: int
    rows: int
    pr_auc: float | None
    roc_auc: float | None
    f1: float | None


class ModelRecord(TypedDict, total=False):
    """Every key a model version's metadata may hold; which ones depends on how it was made."""

    # the configuration and hold-out it was judged by (every model)
    model: str
    strategy: str
    config_hash: str
    holdout_sha256: str
    holdout_rows: int
    library_versions: dict[str, str]
    chunk_id: int
    rows_seen: int
    # a back-fill's chunk
    chunk_rows: list[int]
    train_rows: list[int]
    prequential: PrequentialRecord | None
    # a retrain by ``ingest`` or ``label``
    holdout_rule: dict[str, Any]
    trigger_batch: str
    retrain_reason: str
    batches: list[str]
    holdout_batches: list[str]
    champion_on_holdout: dict[str, Any] | None
    # the fit and the gate (every model)
    rows_trained: int
    defects_trained: int
    data_sha256: str
    params: dict[str, Any]
    threshold: float
    best_iteration: int | None
    training: dict[str, Any]
    fallbacks: list[str]
    metrics: dict[str, Any]
    status: str
    reason: str
    decision: DecisionRecord
    fit_seconds: float
    trained_at: str
    # the registry
    model_file: str
    model_sha256: str
    version: str
    # a chunk a resumed run kept from an earlier attempt (never written to disk)
    resumed: bool


def model_record(stored: Mapping[str, Any]) -> ModelRecord:
    """A record read back from JSON; the keys are the ones defectops wrote."""
    return cast(ModelRecord, dict(stored))


#: called after each chunk with the model's stored record and the number of chunks
OnChunk = Callable[[ModelRecord, int], None]
#: called once the run's rows are validated and its hold-out set aside, before any fit
OnData = Callable[["PreparedData"], None]


@dataclass
class RunResult:
    """What a back-fill returns: every model's record, the champion, the report and its files."""

    models: list[ModelRecord]
    champion: ModelRecord | None
    report: dict[str, Any]
    paths: dict[str, Path]
