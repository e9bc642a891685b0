"""The request log: scored rows to Parquet, so production parts can be labelled and learned from.

Inspection labels arrive hours or days after a part was scored. Kept with its features and
what the champion said, a served row becomes a training row once its label is joined, and the
next ``defectops ingest`` can learn from what the line really sent. Off by default
(``DEFECTOPS_SERVE_REQUEST_LOG=/path/dir`` turns it on).

What is written: the feature columns under their training names (numeric as float, categorical
as the canonical text the model reads, so a file reads back like any batch), then
``defect_probability``, ``defect_pred``, ``threshold``, ``model_version``, ``scored_at`` (UTC) and
``route``. The data contract's timestamp columns (the training data's ``timestamp``, say) are
not features, so requests do not carry them, but the contract needs them to order and check a
batch: they come first, filled with the scoring time (UTC, without a zone, as the training
files write them), which for a line scoring its parts as they are made is when they were made.
Nothing else of a request is kept: no headers (so never the admin token), no client address, no
unknown fields.

Files land in ``<dir>/date=YYYY-MM-DD/part-<UTC time>-<pid>-<seq>.parquet`` (the date of the
rows, so a day is one folder; the pid keeps several workers apart), each written to a hidden
temporary name and renamed, so a reader never sees half a file. Rows are held in memory and
written in a worker thread every ``flush_rows`` rows or ``flush_seconds`` seconds, and when
the service stops. Adding rows on the request path only keeps references to the arrays the
request already made. If the disk cannot keep up, rows beyond ``max_rows`` waiting are dropped
and counted (``defectops_request_log_rows_total{result="dropped"}``) rather than growing memory
without bound; so are the rows of a write that fails (a full disk), which is logged.
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
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry, Counter

from defectops.core import atomic
from defectops.data.schema import category_text
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
            # no Arrow schema in the file: categorical columns read back as text, not categories
            write = functools.partial(pq.write_table, part, store_schema=False)
            atomic.write_with(path, write)
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
    """One Arrow table of entries with the same feature columns, in arrival order.

    Per-request values (threshold, model version, route) are kept once per request and spread
    over its rows by index at the end, in Arrow: a thousand-row batch costs no thousand-item
    Python work beyond its own arrays.
    """
    first: LoadedModel = entries[0][1]
    n_numeric, n_categorical = len(first.numeric), len(first.categorical)
    sources: dict[tuple[float, str, str], int] = {}
    numbers: list[np.ndarray] = []
    categories: list[list[np.ndarray]] = [[] for _ in range(n_categorical)]
    scores: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    origin: list[np.ndarray] = []
    singles: list[tuple[Any, ...]] = []

    def source(loaded: LoadedModel, route: str) -> int:
        return sources.setdefault((loaded.threshold, loaded.version, route), len(sources))

    def close_singles() -> None:
        if not singles:
            return
        values = np.empty((len(singles), n_numeric + n_categorical), dtype=object)
        values[:] = [e[2] for e in singles]
        numbers.append(values[:, :n_numeric].astype(np.float64))
        for j in range(n_categorical):
            categories[j].append(values[:, n_numeric + j])
        scores.append(np.array([e[3] for e in singles], dtype=np.float64))
        labels.append(np.array([e[4] for e in singles], dtype=np.int8))
        stamps.append(np.array([e[5] for e in singles], dtype=np.float64))
        origin.append(np.array([source(e[1], e[6]) for e in singles], dtype=np.int32))
        singles.clear()

    for entry in entries:
        if entry[0] == "one":
            singles.append(entry)
            continue
        close_singles()
        _, loaded, block, columns, block_scores, block_labels, stamp, route = entry
        rows = len(block_scores)
        numbers.append(np.asarray(block, dtype=np.float64))
        for j, column in enumerate(columns):
            categories[j].append(column)
        scores.append(np.asarray(block_scores, dtype=np.float64))
        labels.append(np.asarray(block_labels, dtype=np.int8))
        stamps.append(np.full(rows, stamp))
        origin.append(np.full(rows, source(loaded, route), dtype=np.int32))
    close_singles()

    table: dict[str, pa.Array] = {}
    micros = np.round(np.concatenate(stamps) * 1e6).astype(np.int64)
    for col in first.champion.schema.timestamps:
        if col not in first.features:
            table[col] = pa.array(micros, type=pa.timestamp("us"))
    matrix = np.concatenate(numbers)
    for j, col in enumerate(first.numeric):
        table[col] = pa.array(matrix[:, j], type=pa.float64(), from_pandas=True)
    for j, col in enumerate(first.categorical):
        table[col] = _category_text(np.concatenate(categories[j]))
    index = pa.array(np.concatenate(origin))
    known = list(sources)
    table["defect_probability"] = pa.array(np.concatenate(scores), type=pa.float64())
    table["defect_pred"] = pa.array(np.concatenate(labels), type=pa.int8())
    table["threshold"] = pc.take(pa.array([k[0] for k in known], type=pa.float64()), index)
    table["model_version"] = pc.take(pa.array([k[1] for k in known], type=pa.string()), index)
    table["scored_at"] = pa.array(micros, type=pa.timestamp("us", tz="UTC"))
    table["route"] = pc.take(pa.array([k[2] for k in known], type=pa.string()), index)
    return pa.table(table)


def _category_text(values: np.ndarray) -> pa.Array:
    """Canonical text of categorical values (as the model reads them), converted per distinct
    value: a column holds a few dozen of them in thousands of rows.

    A dictionary array: the Parquet writer takes the dictionary as it is instead of hashing
    every row's text again (a third less CPU per row); the file stores plain text columns.
    The Parquet writer refuses a null *in* the dictionary, so a value whose text is missing
    (``""``, spaces) is a null code instead, as ``None`` is.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = [category_text(u) for u in uniques]
    missing = [i for i, text in enumerate(texts) if text is None]
    if missing:
        codes = np.where(np.isin(codes, missing), -1, codes)
    dictionary = pa.array([t if t is not None else "" for t in texts], type=pa.string())
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, mask=codes < 0, type=pa.int32()), dictionary
    )
