"""``validate`` on a Dask cluster: the local row checks per partition, the same report.

:func:`~defectops.data.validation.typed_rows` and :func:`~defectops.data.validation.clean_rows`
run per partition; each partition's :class:`~defectops.data.validation.RowsProfile` is merged in
row order and turned into the report by the same :func:`~defectops.data.validation.build_report`.
Each partition is read, validated and its clean rows staged as a Parquet file by one task (see
:class:`~defectops.engines.staging.Staging`), so only summaries and the quarantined rows come
back. Counts are exact. The two numbers that do not merge from summaries are counted globally
(:mod:`defectops.engines.dask.counts`). Means are merged sums, equal to the local ones up to
float rounding. The reference profile (ranges, categories) merges exactly; the drift profile's
quantiles come from a mergeable sketch (:mod:`defectops.monitoring.sketch`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from defectops.core.config import Settings

# the error this module's checks raise (through the data modules), importable beside them
from defectops.core.errors import UserError as UserError
from defectops.data.io import describe_reading, frame_sha256, row_hashes, table_format, unreadable
from defectops.data.quarantine import (
    ROW_COLUMN,
    bad_row_mask,
    quarantine_frame,
    refuse_unknown_labels,
)
from defectops.data.row_typing import clean_rows, typed_rows
from defectops.data.rows_profile import RowsProfile
from defectops.data.schema import DataSchema, check_columns, check_scalar_columns
from defectops.data.schema_inference import infer_schema
from defectops.data.timestamps import infer_format
from defectops.data.validation_report import build_report
from defectops.engines.dask.counts import count_globally
from defectops.engines.dask.frame import DistributedFrame
from defectops.engines.dask.order import in_order
from defectops.engines.dask.parts import StagedPart, stage
from defectops.engines.dask.read import (
    CSV_BLOCKSIZE,
    SCHEMA_SAMPLE_ROWS,
    first_rows,
    read_partitions,
)
from defectops.engines.staging import Staging

if TYPE_CHECKING:
    from distributed import Client


@dataclass
class DistributedValidation:
    """:class:`~defectops.data.validation.ValidationResult` of the dask engine: rows stay out there.

    The quarantined rows are gathered (they are the few bad ones) and written by the usual
    :func:`~defectops.data.validation.write_outputs`.
    """

    frame: DistributedFrame
    quarantine: pd.DataFrame
    schema: DataSchema
    report: dict[str, Any]
    #: the raw rows' fingerprint, when asked for
    sha256: str | None = None


def validate_distributed(
    path: Path | str,
    settings: Settings,
    client: Client,
    *,
    schema: DataSchema | None = None,
    reference: dict[str, Any] | None = None,
    source: str = "",
    staging: Staging | None = None,
    labels: Literal["required", "optional"] = "required",
    describe: bool = True,
    fingerprint: bool = False,
) -> DistributedValidation:
    """:func:`~defectops.data.validation.validate` on a Dask cluster: the same report.

    Column roles come from the first rows (``SCHEMA_SAMPLE_ROWS``) and the target's distinct
    values from every row. Each partition is read, validated and its clean rows staged (in
    ``staging``, by default a new :class:`Staging` under the settings' staging root) by one task,
    so only the summaries and the quarantined rows come back and no worker holds the data.
    ``labels`` and ``describe`` mean what they mean for the local ``validate``;
    ``fingerprint`` also gives the raw rows' :func:`~defectops.data.io.frame_sha256` (from the
    same read), which is how a batch is recognised when it comes again.
    """
    import pyarrow as pa

    optional = labels == "optional"
    inferred = schema is None
    path = Path(path)
    # the sizes as this module's names, so that validation's reading can be given others
    lazy, sample = read_partitions(path, blocksize=CSV_BLOCKSIZE, sample_rows=SCHEMA_SAMPLE_ROWS)
    raw = lazy.to_delayed()  # for the sample only
    try:
        schema = _schema_of(client, lazy, raw, sample, schema, settings, optional)
        staging = staging or Staging.of(settings)
        rows = staging.new_set("rows")
        flags = (optional, describe, fingerprint)
        results = _validate_partitions(
            client, lazy, schema, reference, staging.file(rows, 0), flags
        )
    except (OSError, ValueError, EOFError, pa.ArrowException, UnicodeError) as exc:
        raise unreadable(path, table_format(path), exc) from None

    empty_clean, empty_quarantine, empty_profile = _validate_part(
        lazy._meta, schema, reference, optional
    )
    rows_read = [r.rows_read for r in results]
    quarantine = _offset_quarantine(
        [r.quarantine for r in results] or [empty_quarantine], rows_read or [0]
    )
    refuse_unknown_labels(quarantine, schema, source or str(path))
    kept = [(StagedPart(staging.file(rows, i)), r.kept) for i, r in enumerate(results) if r.kept]
    meta = results[0].meta if results else empty_clean
    frame = DistributedFrame(
        client, tuple(p for p, _ in kept), tuple(n for _, n in kept), meta, staging
    )
    if schema.order_by is not None:
        frame = in_order(frame, schema.order_by, staging)

    if describe:
        profile = _merged_profile(results, frame, empty_profile)
        report = build_report(profile, schema, reference, source, inferred=inferred)
        report["read_as"] = describe_reading(path)
    else:  # the local engine's short report
        report = {
            "source": source,
            "rows_read": int(sum(rows_read)),
            "rows_kept": len(frame),
            "rows_quarantined": len(quarantine),
        }
    sha256 = None
    if fingerprint:
        sha256 = frame_sha256(_RowHashes([r.hashes for r in results], lazy.columns))  # type: ignore[arg-type]
    return DistributedValidation(frame, quarantine, schema, report, sha256)


def _schema_of(
    client: Client,
    lazy: Any,
    raw: list[Any],
    sample: pd.DataFrame | None,
    schema: DataSchema | None,
    settings: Settings,
    optional: bool,
) -> DataSchema:
    """The given schema checked against the sample, or one inferred from it (the target's
    classes and undecided timestamp formats from every row)."""
    if sample is None:
        sample = first_rows(client, raw, lazy._meta, SCHEMA_SAMPLE_ROWS)
    if schema is None:
        target_values = None
        if settings.target in lazy.columns:
            target_values = pd.Series(_distinct_values(client, lazy, settings.target))
        schema = infer_schema(sample, settings, target_values=target_values)
        return _formats_from_every_row(client, lazy, schema, settings)
    has_target = schema.target in sample.columns
    check_columns(sample, schema, need_target=not optional)
    check_scalar_columns(sample, [*schema.features, *([schema.target] if has_target else [])])
    return schema


def _validate_partitions(
    client: Client,
    lazy: Any,
    schema: DataSchema,
    reference: dict[str, Any] | None,
    file: str,
    flags: tuple[bool, bool, bool],
) -> list[_Validated]:
    """Every partition validated and staged by one task; ``flags`` are ``optional``,
    ``describe`` and ``fingerprint`` of :func:`_validate_and_stage`."""
    optional, describe, fingerprint = flags
    # read and validation fused into one task per partition (dask fuses a map_partitions
    # into the read): a raw partition is never read ahead of its validation, so a worker
    # holds one raw partition at a time however many there are
    tasks = lazy.map_partitions(
        _validate_and_stage,
        schema,
        reference,
        file,
        optional,
        describe,
        fingerprint,
        partition_info=True,
        meta=(None, object),
        enforce_metadata=False,
        align_dataframes=False,
    ).to_delayed()
    results: list[_Validated] = client.gather(client.compute(tasks))
    return results


def _merged_profile(
    results: list[_Validated], frame: DistributedFrame, empty: RowsProfile | None
) -> RowsProfile:
    """The partitions' profiles merged in row order, with the counts that do not merge
    (distinct values, duplicate rows) counted over every row."""
    profiles = [r.profile for r in results if r.profile is not None]
    profile = functools.reduce(RowsProfile.merge, profiles) if profiles else empty
    assert profile is not None
    count_globally(profile, frame)
    return profile


@dataclass(frozen=True)
class _Validated:
    """What validating one partition sends back: no rows but the quarantined ones."""

    kept: int
    quarantine: pd.DataFrame
    profile: RowsProfile | None
    #: the clean rows' columns and types, no rows
    meta: pd.DataFrame
    rows_read: int
    #: the raw rows' hashes (``fingerprint``), else empty
    hashes: np.ndarray


@dataclass(frozen=True)
class _RowHashes:
    """Row hashes gathered per partition, in the shape :func:`frame_sha256` digests."""

    blocks: list[np.ndarray]
    columns: pd.Index

    def row_hash_blocks(self) -> Iterator[np.ndarray]:
        return iter(self.blocks)


def _formats_from_every_row(
    client: Client, lazy: Any, schema: DataSchema, settings: Settings
) -> DataSchema:
    """The schema with each timestamp format decided from every row where the sample left
    day-first against month-first undecided (the sample is the first rows only, which may all
    fall on the first twelve days of a month). Only such a column's distinct values come back."""
    formats = dict(schema.timestamp_formats)
    notes = [n for n in schema.notes]
    given = settings.timestamp_format is not None
    for col in schema.timestamps:
        if given or not any(n.startswith(f"column {col!r}: no value decides") for n in notes):
            continue
        values = pd.Series(_distinct_values(client, lazy, col), dtype=object)
        found = infer_format(values, col, schema.na_values)
        if found is None:
            continue
        formats[col] = found.format
        notes = [n for n in notes if not n.startswith(f"column {col!r}: no value decides")]
        if found.assumed:
            notes.append(found.assumed)
    return replace(schema, timestamp_formats=formats, notes=tuple(notes))


def _distinct_values(client: Client, lazy: Any, column: str) -> Any:
    """A column's distinct values over every partition: only they come back, not the rows."""
    import dask

    parts = lazy[[column]].to_delayed()
    distinct = client.gather(client.compute([dask.delayed(_distinct)(p, column) for p in parts]))
    return pd.unique(np.concatenate(distinct)) if distinct else []


def _offset_quarantine(parts: list[pd.DataFrame], rows_read: list[int]) -> pd.DataFrame:
    """Quarantined rows of every partition, ``source_row`` counted from the first row read."""
    offsets = np.concatenate([[0], np.cumsum(rows_read)[:-1]]).astype(np.int64)
    shifted = []
    for part, offset in zip(parts, offsets, strict=True):
        part = part.copy()
        part[ROW_COLUMN] = part[ROW_COLUMN].to_numpy(dtype=np.int64) + offset
        shifted.append(part)
    non_empty = [p for p in shifted if len(p)]
    return pd.concat(non_empty or shifted[:1], ignore_index=True)


# -- functions run on the workers, one partition at a time ----------------------------------------


def _validate_and_stage(
    raw: pd.DataFrame,
    schema: DataSchema,
    reference: dict[str, Any] | None,
    file: str,
    optional: bool = False,
    describe: bool = True,
    fingerprint: bool = False,
    partition_info: dict[str, Any] | None = None,
) -> _Validated:
    """One partition validated, its clean rows written to ``file`` (``part-00000`` renumbered
    for the partition's number when dask passes ``partition_info``)."""
    clean, quarantine, profile = _validate_part(raw, schema, reference, optional, describe)
    if partition_info is not None:
        file = str(Path(file).with_name(f"part-{partition_info['number']:05d}.parquet"))
    if len(clean):
        stage(clean, file)
    hashes = row_hashes(raw) if fingerprint else np.empty(0, dtype=np.uint64)
    # a copy, not a zero-row view: a view keeps the partition's arrays alive as long as the
    # result waits on the worker, which is until every partition is validated
    meta = clean.iloc[:0].reset_index(drop=True).copy(deep=True)
    return _Validated(len(clean), quarantine, profile, meta, len(raw), hashes)


def _validate_part(
    raw: pd.DataFrame,
    schema: DataSchema,
    reference: dict[str, Any] | None,
    optional: bool = False,
    describe: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, RowsProfile | None]:
    """One partition through the local validation: clean rows, quarantined rows, profile (or
    ``None`` when the report is not wanted). ``optional``: labels may be missing."""
    raw = raw.reset_index(drop=True)
    frame, reasons, markers = typed_rows(raw, schema, optional=optional)
    bad = bad_row_mask(reasons, len(frame))
    quarantine = quarantine_frame(raw, reasons, bad)
    clean = clean_rows(frame, bad, schema, sort=False, optional=optional)
    profile = (
        RowsProfile.of(len(raw), clean, schema, reasons, reference, exact=False, markers=markers)
        if describe
        else None
    )
    return clean, quarantine, profile


def _distinct(part: pd.DataFrame, name: str) -> np.ndarray:
    return np.asarray(pd.unique(part[name]), dtype=object)
