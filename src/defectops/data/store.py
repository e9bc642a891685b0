"""The project's data store: every ingested batch as Parquet, one directory per batch.

``store/batch=<id>/rows.parquet`` holds a batch's clean rows (labels may be missing), or
``store/batch=<id>/part-NNNNN.parquet`` files in name order when the dask engine's workers wrote
it partition by partition (``rows.parquet``, once written, replaces them); and
``store/manifest.json`` lists the batches in arrival order with their sha256, arrival time,
row counts and drift status. The manifest is written last and atomically: it is the commit
point, so a batch whose Parquet file exists but is not listed was never ingested (a crash in
between), and ingesting it again simply rewrites the file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from defectops.core import atomic
from defectops.core.errors import UserError
from defectops.data.io import read_raw, write_table

MANIFEST = "manifest.json"
ROWS_FILE = "rows.parquet"
#: a batch written partition by partition: ``part-00000.parquet``, ``part-00001.parquet``, ...
PART_PATTERN = "part-*.parquet"
#: columns the store adds to every row: which batch it came from and its row in that batch
BATCH_COLUMN = "_batch"
ROW_COLUMN = "_row"


@dataclass
class BatchRecord:
    """One ingested batch, as listed in the manifest."""

    batch_id: str
    sha256: str
    source: str
    arrived_at: str
    rows: int
    rows_quarantined: int
    labelled_rows: int
    drift_status: str | None = None
    champion_version: str | None = None
    trained_version: str | None = None


@dataclass
class Manifest:
    """The batches in arrival order, and what the last retrain saw."""

    batches: list[BatchRecord] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    last_training: dict[str, Any] | None = None
    #: work committed but not finished (the retrain and report of an ingest or label), written
    #: in the same save as the batch: a crash leaves it here and the next ingest finishes it
    pending: dict[str, Any] | None = None

    def find(self, batch_id: str) -> BatchRecord | None:
        return next((b for b in self.batches if b.batch_id == batch_id), None)

    def by_sha(self, sha256: str) -> BatchRecord | None:
        return next((b for b in self.batches if b.sha256 == sha256), None)

    @property
    def labelled_rows(self) -> int:
        return sum(b.labelled_rows for b in self.batches)


class DataStore:
    """Read and write the batches under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def batch_dir(self, batch_id: str) -> Path:
        return self.root / f"batch={batch_id}"

    def load(self) -> Manifest:
        path = self.root / MANIFEST
        if not path.exists():
            return Manifest()
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(
            batches=[BatchRecord(**b) for b in raw.get("batches", [])],
            schema=raw.get("schema"),
            last_training=raw.get("last_training"),
            pending=raw.get("pending"),
        )

    def save(self, manifest: Manifest) -> None:
        payload = {
            "batches": [asdict(b) for b in manifest.batches],
            "schema": manifest.schema,
            "last_training": manifest.last_training,
            "pending": manifest.pending,
        }
        atomic.write_json(self.root / MANIFEST, payload)

    def write_batch(self, batch_id: str, frame: pd.DataFrame) -> Path:
        """Write a batch's rows (atomically); the caller lists it in the manifest afterwards.

        Part files of an earlier write are removed after ``rows.parquet`` is in place (readers
        prefer it, so a crash in between loses nothing).
        """
        path = write_table(stored_rows(frame, batch_id), self.batch_dir(batch_id) / ROWS_FILE)
        for part in self.batch_dir(batch_id).glob(PART_PATTERN):
            part.unlink()
        return path

    def write_part(self, batch_id: str, index: int, frame: pd.DataFrame, first_row: int) -> Path:
        """Write one partition of a batch whose rows start at ``first_row`` (atomically)."""
        name = f"part-{index:05d}.parquet"
        return write_table(stored_rows(frame, batch_id, first_row), self.batch_dir(batch_id) / name)

    def batch_files(self, batch_id: str) -> list[Path]:
        """The Parquet files holding a batch's rows, in row order."""
        directory = self.batch_dir(batch_id)
        if (directory / ROWS_FILE).exists():
            return [directory / ROWS_FILE]
        parts = sorted(directory.glob(PART_PATTERN))
        if not parts:
            raise UserError(f"batch {batch_id!r} is not in the store ({self.root})")
        return parts

    def read_batch(self, batch_id: str) -> pd.DataFrame:
        files = self.batch_files(batch_id)
        if len(files) == 1:
            return read_raw(files[0])
        return pd.concat([read_raw(p) for p in files], ignore_index=True)

    def read_all(self, manifest: Manifest) -> pd.DataFrame:
        """Every stored row, batches in arrival order, rows in their order within a batch."""
        frames = [self.read_batch(b.batch_id) for b in manifest.batches]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def discard_unlisted(self, manifest: Manifest) -> None:
        """Remove batch directories a crash left behind without a manifest entry."""
        listed = {self.batch_dir(b.batch_id).name for b in manifest.batches}
        for directory in self.root.glob("batch=*"):
            if directory.name not in listed:
                shutil.rmtree(directory, ignore_errors=True)


def stored_rows(frame: pd.DataFrame, batch_id: str, first_row: int = 0) -> pd.DataFrame:
    """``frame`` with the store's columns: the batch id and each row's place in the batch."""
    rows = frame.copy()
    rows[BATCH_COLUMN] = batch_id
    rows[ROW_COLUMN] = range(first_row, first_row + len(rows))
    return rows
