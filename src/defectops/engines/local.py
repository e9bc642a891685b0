"""The local engine: every step on pandas frames in this process, the default."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops.core.config import Settings
from defectops.data.io import frame_sha256, read_raw
from defectops.data.schema import DataSchema
from defectops.data.store import DataStore, Manifest
from defectops.data.validation import ValidationResult, usable_counts, validate
from defectops.engines.base import PredictionSummary
from defectops.engines.staging import Staging
from defectops.evaluation.records import OnChunk, OnData, RunResult
from defectops.monitoring.batch import BatchSummary, ChampionView, monitor_batch, summarise_batch
from defectops.scoring.predict import PREDICTION, PROBABILITY, predict_file
from defectops.training.backfill import run_local
from defectops.training.rows import PANDAS_ROWS


class LocalEngine:
    """Rows as pandas frames in this process."""

    name = "local"
    rows = PANDAS_ROWS

    def validate(self, settings: Settings, path: Path) -> ValidationResult:
        return validate(read_raw(path), settings, source=str(path))

    def staging(self, settings: Settings) -> AbstractContextManager[Staging | None]:
        return nullcontext()

    def check_batch(
        self,
        settings: Settings,
        data: Path,
        *,
        schema: DataSchema | None,
        reference: dict[str, Any] | None,
        staging: Staging | None,
    ) -> LocalBatch:
        return LocalBatch(read_raw(data), settings, data, schema, reference)

    def labelled_rows(self, store: DataStore, manifest: Manifest, target: str) -> pd.DataFrame:
        frame = store.read_all(manifest)
        frame = frame[frame[target].notna()].reset_index(drop=True)
        frame[target] = frame[target].astype(np.int8)
        return frame

    def run_backfill(
        self, settings: Settings, *, on_chunk: OnChunk | None, on_data: OnData | None
    ) -> RunResult:
        return run_local(settings, on_chunk=on_chunk, on_data=on_data)

    def monitor(
        self, settings: Settings, data: Path, *, name: str | None
    ) -> tuple[dict[str, Any], dict[str, Path]]:
        return monitor_batch(settings, data, name=name)

    def predict(self, artifacts: Path, data: Path, out: Path) -> PredictionSummary:
        result = predict_file(artifacts, data, out)
        scored = int(result[PROBABILITY].notna().sum())
        return PredictionSummary(len(result), scored, int(result[PREDICTION].sum()))


@dataclass
class LocalBatch:
    """A batch read in this process. Fingerprinted at once; validated when its rows are first
    asked for, so a batch already in the store is recognised without being checked again."""

    raw: pd.DataFrame
    settings: Settings
    source: Path
    known_schema: DataSchema | None
    reference: dict[str, Any] | None
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        self.sha256 = frame_sha256(self.raw)

    @property
    def rows_read(self) -> int:
        return len(self.raw)

    @cached_property
    def checked(self) -> ValidationResult:
        return validate(
            self.raw,
            self.settings,
            schema=self.known_schema,
            reference=self.reference,
            source=str(self.source),
            labels="optional",
        )

    @property
    def schema(self) -> DataSchema:
        return self.checked.schema

    @property
    def quarantine(self) -> pd.DataFrame:
        return self.checked.quarantine

    @property
    def rows(self) -> int:
        return len(self.checked.frame)

    @property
    def labelled_rows(self) -> int:
        return int(self.checked.frame[self.schema.target].notna().sum())

    def write_store(self, store: DataStore, batch_id: str) -> Path:
        return store.write_batch(batch_id, self.checked.frame)

    def usable_counts(self) -> dict[str, int]:
        return usable_counts(self.checked.frame, self.schema.features)

    def summary(self, champion: ChampionView) -> BatchSummary:
        return summarise_batch(self.checked.frame, champion)
