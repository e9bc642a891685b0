"""The engine seam: what every verb asks of the rows it works on, whichever engine holds them.

The verbs (the CLI, the back-fill, ``ingest``, ``label``, ``monitor``, ``predict``) call an
:class:`Engine` and never ask which one it is. :class:`~defectops.engines.local.LocalEngine`
works on pandas frames in this process; :class:`~defectops.engines.dask.engine.DaskEngine` on
partitions spread over a Dask cluster, through the same row checks, features, models and
reports. :func:`~defectops.engines.select.open_engine` opens the one the settings name.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from defectops.core.config import Settings
    from defectops.data.schema import DataSchema
    from defectops.data.store import DataStore, Manifest
    from defectops.engines.staging import Staging
    from defectops.evaluation.records import OnChunk, OnData, RunResult
    from defectops.monitoring.batch import BatchSummary, ChampionView
    from defectops.training.rows import RowKeeper


@dataclass(frozen=True)
class PredictionSummary:
    """What scoring a file did: rows read, scored and flagged, and the files written."""

    rows: int
    scored: int
    flagged: int
    files: int | None = None  # Parquet files written by the workers (None: one output file)


class CheckedBatch(Protocol):
    """A production batch read and validated (labels optional), as ``ingest`` needs it."""

    @property
    def sha256(self) -> str: ...

    @property
    def rows_read(self) -> int: ...

    @property
    def rows(self) -> int: ...

    @property
    def labelled_rows(self) -> int: ...

    @property
    def schema(self) -> DataSchema: ...

    @property
    def quarantine(self) -> pd.DataFrame: ...

    def usable_counts(self) -> dict[str, int]: ...

    def summary(self, champion: ChampionView) -> BatchSummary: ...

    def write_store(self, store: DataStore, batch_id: str) -> Path: ...


class Engine(Protocol):
    """Read, validate, fit and score rows where they live."""

    name: str

    @property
    def rows(self) -> RowKeeper:
        """Row operations where this engine keeps rows (for the training step and the retrain)."""
        ...

    def validate(self, settings: Settings, path: Path) -> Any:
        """The data contract applied to a file (a result with ``report``, for ``write_outputs``)."""
        ...

    def staging(self, settings: Settings) -> AbstractContextManager[Staging | None]:
        """Where a batch's validated rows wait between steps (nowhere in this process)."""
        ...

    def check_batch(
        self,
        settings: Settings,
        data: Path,
        *,
        schema: DataSchema | None,
        reference: dict[str, Any] | None,
        staging: Staging | None,
    ) -> CheckedBatch:
        """Fingerprint a batch file; its validation may wait until its rows are first asked for."""
        ...

    def labelled_rows(self, store: DataStore, manifest: Manifest, target: str) -> Any:
        """Every labelled row of the store, in order, the label as int8."""
        ...

    def run_backfill(
        self, settings: Settings, *, on_chunk: OnChunk | None, on_data: OnData | None
    ) -> RunResult:
        """One model per chunk, scored on the fixed hold-out, gated and recorded."""
        ...

    def monitor(
        self, settings: Settings, data: Path, *, name: str | None
    ) -> tuple[dict[str, Any], dict[str, Path]]:
        """One batch against the champion's profile: the drift report and where it was written."""
        ...

    def predict(self, artifacts: Path, data: Path, out: Path) -> PredictionSummary:
        """Score a file with the champion, rows in their order."""
        ...
