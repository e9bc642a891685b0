"""One production batch on a Dask cluster: ``monitor`` and ``ingest`` with ``--engine dask``.

Nothing that decides an outcome is implemented here; each partition goes through the local
functions where it lives, and only small results come back to the client:

reading
    A CSV file (read as text in blocks), a Parquet file or a directory of Parquet files (in
    name order), by :func:`~defectops.distributed.read_partitions`, as for ``validate``. The
    batch's fingerprint is :func:`~defectops.data.io.frame_sha256` of the raw rows, fed one
    partition's row hashes at a time. For Parquet it equals the local engine's; CSV text is
    hashed as read, so the same CSV file has another fingerprint on each engine.
validation
    :func:`~defectops.data.validation.validate` itself (labels optional) on each partition. Row
    checks look at one row at a time, so the clean and quarantined rows are the local engine's;
    quarantined rows are gathered (the few bad ones) with ``source_row`` counted from the first
    row of the batch. Each partition is sorted by the order column by ``validate``; partitions
    that overlap in order are put in production order only where that matters (the store), by
    moving each row to its place in the stable sort of the gathered order values.
monitoring
    :func:`~defectops.monitoring.monitor.summarise_batch` per partition (the champion's scores
    and the drift counts at the profile's fixed edges, never the rows), merged by addition on
    the client and compared with the profile by the same
    :func:`~defectops.monitoring.drift.compare_counts`. Labelled rows bring their label and score
    back (one byte and one float a row) for the batch's metrics and bootstrap interval.
storing
    Each worker writes its partitions as ``store/batch=<id>/part-NNNNN.parquet`` (see
    :mod:`defectops.store`), so the store must be on storage the workers share. The client
    writes the manifest last, as on the local engine: the commit point is unchanged.
retraining
    :func:`~defectops.ingest.maybe_retrain` reads the store's files as a
    :class:`~defectops.distributed.DistributedFrame` and boosts on the cluster.

Column roles of a store's first batch are inferred from the batch's first
``SCHEMA_SAMPLE_ROWS`` rows and the target's classes from every row.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from defectops.config import Settings
from defectops.data.io import frame_sha256, table_format
from defectops.data.schema import DataSchema, check_columns, infer_schema
from defectops.data.validation import ROW_COLUMN, validate
from defectops.distributed import (
    SCHEMA_SAMPLE_ROWS,
    _distinct,
    _length,
    _row_hashes,
    _slice,
    _unreadable,
    read_partitions,
)
from defectops.errors import UserError
from defectops.monitoring.monitor import BatchSummary, ChampionView, summarise_batch
from defectops.store import DataStore

if TYPE_CHECKING:
    from distributed import Client, Future


# -- functions run on the workers, one partition at a time ----------------------------------------


def _validate_part(
    raw: pd.DataFrame, settings: Settings, schema: DataSchema, reference: dict[str, Any] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The local validation of one partition (labels optional): clean and quarantined rows."""
    result = validate(
        raw.reset_index(drop=True),
        settings,
        schema=schema,
        reference=reference,
        labels="optional",
        describe=False,
    )
    return result.frame, result.quarantine


def _item(result: tuple[Any, ...], index: int) -> Any:
    return result[index]


def _facts(part: pd.DataFrame, target: str, order_by: str | None) -> tuple[int, int, Any, Any]:
    """Rows, labelled rows and the first and last order value of a clean partition."""
    labelled = int(part[target].notna().sum()) if target in part.columns else 0
    if order_by is None or order_by not in part.columns or not len(part):
        return len(part), labelled, None, None
    return len(part), labelled, part[order_by].iloc[0], part[order_by].iloc[-1]


def _order_values(part: pd.DataFrame, name: str) -> np.ndarray:
    return part[name].to_numpy()


def _pick(part: pd.DataFrame, places: np.ndarray, start: int, end: int) -> pd.DataFrame:
    """The rows of ``part`` whose place in the batch is in ``[start, end)``, with the place."""
    keep = (places >= start) & (places < end)
    return part.loc[keep].assign(_place=places[keep])


def _assemble(*pieces: pd.DataFrame) -> pd.DataFrame:
    rows = pd.concat(pieces, ignore_index=True).sort_values("_place", kind="stable")
    return rows.drop(columns=["_place"]).reset_index(drop=True)


def _write_part(
    part: pd.DataFrame, index: int, first_row: int, store: DataStore, batch_id: str
) -> str:
    return str(store.write_part(batch_id, index, part, first_row))


# -- the batch on the client ----------------------------------------------------------------------


@dataclass
class RawBatch:
    """The raw partitions of a batch file, held by the cluster, in row order."""

    client: Client
    path: Path
    parts: list[Future]
    lengths: list[int]
    columns: pd.Index
    #: the first rows of a CSV file, typed as the local engine types them (None for Parquet)
    sample: pd.DataFrame | None = None

    def row_hash_blocks(self) -> Iterator[np.ndarray]:
        """Per partition, in order, the row hashes :func:`frame_sha256` digests."""
        for future in self.client.map(_row_hashes, self.parts):
            yield future.result()
            future.release()

    @property
    def sha256(self) -> str:
        return frame_sha256(self)  # type: ignore[arg-type]

    @property
    def rows(self) -> int:
        return int(sum(self.lengths))


def read_batch(path: Path | str, client: Client) -> RawBatch:
    """The partitions of a CSV file, Parquet file or directory of Parquet files on the cluster."""
    import pyarrow as pa

    path = Path(path)
    lazy, sample = read_partitions(path)
    try:
        parts = list(client.compute(lazy.to_delayed()))
        lengths = [int(n) for n in client.gather(client.map(_length, parts))]
    except (OSError, ValueError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise _unreadable(path, table_format(path), exc) from None
    return RawBatch(client, path, parts, lengths, lazy.columns, sample)


@dataclass
class ClusterBatch:
    """A validated batch: clean partitions on the cluster, quarantined rows on the client."""

    client: Client
    schema: DataSchema
    clean: list[Future]
    lengths: list[int]
    labelled_rows: int
    bounds: list[tuple[Any, Any]]
    rows_read: int
    quarantine: pd.DataFrame
    #: the clean rows' columns and types (no rows)
    meta: pd.DataFrame

    @property
    def rows(self) -> int:
        return int(sum(self.lengths))

    def summary(self, champion: ChampionView) -> BatchSummary:
        """:func:`summarise_batch` of every partition, where it lives, merged in row order."""
        champion_ref = self.client.scatter(champion, broadcast=True, hash=False)
        parts = self.client.gather(
            self.client.map(summarise_batch, self.clean, champion=champion_ref)
        )
        return functools.reduce(BatchSummary.merge, parts)

    def in_order(self) -> bool:
        """Whether the partitions, each sorted by the order column, follow one another."""
        last = None
        for first, final in self.bounds:
            if first is None:  # no order column in this batch: rows keep their file order
                return True
            if last is not None and first < last:
                return False
            last = final
        return True

    def ordered_parts(self) -> list[Future]:
        """The clean partitions in production order: the local engine's stable sort.

        Partitions that overlap in order exchange rows: each row's place is its position in a
        stable sort of the order values (gathered, one value a row), and partition k of the
        result takes the places of the k-th partition's range.
        """
        order_by = self.schema.order_by
        if order_by is None or self.in_order():
            return self.clean
        values = self.client.gather(self.client.map(_order_values, self.clean, name=order_by))
        places = np.empty(self.rows, dtype=np.int64)
        places[np.argsort(np.concatenate(values), kind="stable")] = np.arange(self.rows)
        bounds = np.cumsum([0, *self.lengths])
        mine = [places[a:b] for a, b in itertools.pairwise(bounds)]
        ordered = []
        for start, end in itertools.pairwise(bounds):
            pieces = [
                self.client.submit(_pick, part, where, int(start), int(end))
                for part, where in zip(self.clean, mine, strict=True)
                if ((where >= start) & (where < end)).any()
            ]
            ordered.append(self.client.submit(_assemble, *pieces))
        return ordered

    def write_store(self, store: DataStore, batch_id: str) -> Path:
        """Every partition as ``part-NNNNN.parquet`` of the batch, written by the workers."""
        if not self.clean:  # every row quarantined: the batch is stored, empty
            store.write_batch(batch_id, self.meta)
            return store.batch_dir(batch_id)
        parts = self.ordered_parts()
        starts = np.cumsum([0, *self.lengths])[:-1]
        written = self.client.map(
            _write_part,
            parts,
            list(range(len(parts))),
            [int(s) for s in starts],
            store=store,
            batch_id=batch_id,
        )
        self.client.gather(written)
        return store.batch_dir(batch_id)


def validate_batch(
    raw: RawBatch,
    settings: Settings,
    *,
    schema: DataSchema | None,
    reference: dict[str, Any] | None,
) -> ClusterBatch:
    """:func:`~defectops.data.validation.validate` (labels optional) on every partition."""
    client = raw.client
    if schema is None:
        schema = _inferred_schema(raw, settings)
    else:
        check_columns(pd.DataFrame(columns=raw.columns), schema, need_target=False)
    if not raw.parts:
        raise UserError(f"data file {raw.path}: no rows to read")
    schema_ref, settings_ref = client.scatter([schema, settings], broadcast=True, hash=False)
    reference_ref = None
    if reference is not None:
        reference_ref = client.scatter(reference, broadcast=True, hash=False)
    results = client.map(
        _validate_part, raw.parts, settings=settings_ref, schema=schema_ref, reference=reference_ref
    )
    clean = client.map(_item, results, index=0)
    quarantines: list[pd.DataFrame] = client.gather(client.map(_item, results, index=1))
    facts = client.gather(
        client.map(_facts, clean, target=schema.target, order_by=schema.order_by or "")
    )
    meta = client.submit(_slice, clean[0], 0, 0).result()
    del results
    kept = [(part, fact) for part, fact in zip(clean, facts, strict=True) if fact[0]]
    offsets = np.cumsum([0, *raw.lengths])[:-1]
    shifted = []
    for part, offset in zip(quarantines, offsets, strict=True):
        if len(part):
            part = part.copy()
            part[ROW_COLUMN] = part[ROW_COLUMN].to_numpy(dtype=np.int64) + int(offset)
            shifted.append(part)
    quarantine = pd.concat(shifted, ignore_index=True) if shifted else quarantines[0].iloc[:0]
    return ClusterBatch(
        client,
        schema,
        [part for part, _ in kept],
        [fact[0] for _, fact in kept],
        sum(fact[1] for _, fact in kept),
        [(fact[2], fact[3]) for _, fact in kept],
        raw.rows,
        quarantine,
        meta,
    )


def _inferred_schema(raw: RawBatch, settings: Settings) -> DataSchema:
    """Column roles from the first rows, the target's classes from every row."""
    sample = raw.sample
    if sample is None:
        sample = raw.client.submit(_slice, raw.parts[0], 0, SCHEMA_SAMPLE_ROWS).result()
    target_values = None
    if settings.target in raw.columns:
        distinct = raw.client.gather(raw.client.map(_distinct, raw.parts, name=settings.target))
        target_values = pd.Series(pd.unique(np.concatenate(distinct)) if distinct else [])
    return infer_schema(sample, settings, target_values=target_values)
