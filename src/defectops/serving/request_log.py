"""The request log: scored rows to Parquet, so production parts can be labelled and learned from.

Inspection labels arrive hours or days after a part was scored. Kept with its features and
what the champion said, a served row becomes a training row once its label is joined, and the
next ``defectops ingest`` can learn from what the line really sent. Off by default
(``DEFECTOPS_SERVE_REQUEST_LOG=/path/dir`` turns it on).

What is written: the feature columns under their training names (numeric as float, categorical
as the canonical text the model reads, so a file reads back like any batch), then
``defect_probability``, ``defect_pred``, ``threshold``, ``model_version``, ``scored_at`` (UTC) and
``route``. Nothing else of a request is kept: no headers (so never the admin token), no client
address, no unknown fields.

Files land in ``<dir>/date=YYYY-MM-DD/part-<UTC time>-<pid>-<seq>.parquet`` (the date of the
rows, so a day is one folder; the pid keeps several workers apart), each written to a hidden
temporary name and renamed, so a reader never sees half a file. Rows are held in memory and
written in a worker thread every ``flush_rows`` rows or ``flush_seconds`` seconds, and when
the service stops. Adding rows on the request path only keeps references to the arrays the
request already made. If the disk cannot keep up, rows beyond ``max_rows`` waiting are dropped
and counted (``defectops_request_log_rows_total{result="dropped"}``) rather than growing memory
without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry, Counter

from defectops import atomic
from defectops.data.schema import category_strings
from defectops.serving.model_holder import LoadedModel

log = logging.getLogger("defectops.serving")

RESULT_COLUMNS = (
    "defect_probability",
    "defect_pred",
    "threshold",
    "model_version",
    "scored_at",
    "route",
)
_DAY_US = 86_400 * 1_000_000


class RequestLog:
    """Buffered, atomic Parquet writer of scored rows (one instance per app)."""

    def __init__(
        self,
        directory: Path,
        *,
        flush_rows: int = 10_000,
        flush_seconds: float = 60.0,
        max_rows: int | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if flush_rows < 1 or flush_seconds <= 0:
            raise ValueError("flush_rows must be >= 1 and flush_seconds > 0")
        self.directory = Path(directory)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_rows = max_rows if max_rows is not None else max(20 * flush_rows, 100_000)
        self._entries: list[tuple[Any, ...]] = []
        self._pending = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._seq = itertools.count()
        rows = Counter(
            "defectops_request_log_rows",
            "Scored rows given to the request log, by result (written, dropped)",
            ["result"],
            registry=registry,
        )
        self._written, self._dropped = rows.labels("written"), rows.labels("dropped")

    # -- the request path ------------------------------------------------------------------------

    def add_one(
        self, loaded: LoadedModel, values: Sequence[Any], score: float, label: int, route: str
    ) -> None:
        """One scored record, its values in feature order."""
        self._add(("one", loaded, values, score, label, time.time(), route), 1)

    def add_many(
        self,
        loaded: LoadedModel,
        numbers: np.ndarray,
        categories: Sequence[np.ndarray],
        scores: np.ndarray,
        labels: np.ndarray,
        route: str,
    ) -> None:
        """A scored batch (the arrays are kept, not copied: the caller must not change them)."""
        entry = ("many", loaded, numbers, categories, scores, labels, time.time(), route)
        self._add(entry, len(scores))

    def _add(self, entry: tuple[Any, ...], rows: int) -> None:
        with self._lock:
            if self._pending + rows > self.max_rows:
                self._dropped.inc(rows)
                return
            self._entries.append(entry)
            self._pending += rows
            full = self._pending >= self.flush_rows
        if full and self._wake is not None:
            self._wake.set()

    @property
    def pending(self) -> int:
        return self._pending

    # -- writing (off the request path) ----------------------------------------------------------

    async def run(self) -> None:
        """Flush every ``flush_seconds``, or sooner when ``flush_rows`` are waiting."""
        self._wake = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            try:
                await asyncio.to_thread(self.flush)
            except Exception:  # the task must never die
                log.exception("request log flush failed; retrying")

    def flush(self) -> list[Path]:
        """Write every waiting row; returns the files written."""
        with self._flush_lock:
            with self._lock:
                entries, self._entries, self._pending = self._entries, [], 0
            written: list[Path] = []
            for group in _by_layout(entries):
                rows = sum(1 if e[0] == "one" else len(e[4]) for e in group)
                try:
                    written += self._write(_table(group))
                except Exception:
                    log.exception("request log: %d rows not written", rows)
                    self._dropped.inc(rows)
                else:
                    self._written.inc(rows)
            return written

    def _write(self, table: pa.Table) -> list[Path]:
        stamps = table.column("scored_at").cast(pa.int64()).to_numpy()
        days = stamps // _DAY_US
        unique = np.unique(days)
        paths = []
        for day in unique:
            part = table if len(unique) == 1 else table.filter(pa.array(days == day))
            date = datetime.fromtimestamp(int(day) * 86_400, UTC).strftime("%Y-%m-%d")
            now = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            name = f"part-{now}-{os.getpid()}-{next(self._seq):06d}.parquet"
            path = self.directory / f"date={date}" / name
            atomic.write_with(path, functools.partial(pq.write_table, part))
            paths.append(path)
        return paths


def _by_layout(entries: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """Consecutive entries whose champions share the feature columns, in arrival order."""
    groups: list[list[tuple[Any, ...]]] = []
    for entry in entries:
        if groups and groups[-1][-1][1].features == entry[1].features:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups


def _table(entries: list[tuple[Any, ...]]) -> pa.Table:
    """One Arrow table of entries with the same feature columns."""
    first: LoadedModel = entries[0][1]
    n_numeric = len(first.numeric)
    blocks: list[dict[str, np.ndarray]] = []
    singles: list[tuple[Any, ...]] = []

    def close_singles() -> None:
        if not singles:
            return
        values = np.empty((len(singles), len(first.features)), dtype=object)
        values[:] = [e[2] for e in singles]
        blocks.append(
            {
                "numbers": values[:, :n_numeric].astype(np.float64),
                "categories": values[:, n_numeric:],
                "defect_probability": np.array([e[3] for e in singles], dtype=np.float64),
                "defect_pred": np.array([e[4] for e in singles], dtype=np.int8),
                "threshold": np.array([e[1].threshold for e in singles], dtype=np.float64),
                "model_version": np.array([e[1].version for e in singles], dtype=object),
                "scored_at": np.array([e[5] for e in singles], dtype=np.float64),
                "route": np.array([e[6] for e in singles], dtype=object),
            }
        )
        singles.clear()

    for entry in entries:
        if entry[0] == "one":
            singles.append(entry)
            continue
        close_singles()
        _, loaded, numbers, categories, scores, labels, stamp, route = entry
        rows = len(scores)
        table = np.empty((rows, len(categories)), dtype=object)
        for j, column in enumerate(categories):
            table[:, j] = column
        blocks.append(
            {
                "numbers": np.asarray(numbers, dtype=np.float64),
                "categories": table,
                "defect_probability": np.asarray(scores, dtype=np.float64),
                "defect_pred": np.asarray(labels, dtype=np.int8),
                "threshold": np.full(rows, loaded.threshold),
                "model_version": np.full(rows, loaded.version, dtype=object),
                "scored_at": np.full(rows, stamp),
                "route": np.full(rows, route, dtype=object),
            }
        )
    close_singles()
    merged = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    columns: dict[str, pa.Array] = {}
    for j, col in enumerate(first.numeric):
        columns[col] = pa.array(merged["numbers"][:, j], type=pa.float64(), from_pandas=True)
    for j, col in enumerate(first.categorical):
        text = category_strings(pd.Series(merged["categories"][:, j], dtype=object))
        columns[col] = pa.array(text.to_numpy(), type=pa.string(), from_pandas=True)
    micros = np.round(merged["scored_at"] * 1e6).astype(np.int64)
    columns.update(
        {
            "defect_probability": pa.array(merged["defect_probability"], type=pa.float64()),
            "defect_pred": pa.array(merged["defect_pred"], type=pa.int8()),
            "threshold": pa.array(merged["threshold"], type=pa.float64()),
            "model_version": pa.array(merged["model_version"], type=pa.string()),
            "scored_at": pa.array(micros, type=pa.timestamp("us", tz="UTC")),
            "route": pa.array(merged["route"], type=pa.string()),
        }
    )
    return pa.table(columns)
