"""The dask engine: the same verbs on rows spread over a Dask cluster.

Nothing that decides an outcome has a second implementation here. Each step runs the local code
on one partition at a time on the workers and combines small results on the client:

validation
    :func:`~defectops.data.validation.typed_rows` and
    :func:`~defectops.data.validation.clean_rows` per partition; each partition's
    :class:`~defectops.data.validation.RowsProfile` is merged in row order and turned into the
    report by the same :func:`~defectops.data.validation.build_report`. Each partition is read,
    validated and its clean rows staged as a Parquet file by one task (see :class:`Staging`), so
    only summaries and the quarantined rows come back. Counts are exact. The two
    numbers that do not merge from summaries are counted globally: distinct values of numeric and
    time columns (dask's exact, shuffle-based ``nunique``) and duplicate rows (64-bit row hashes
    counted across partitions, rows sharing a hash compared in full, so a hash collision cannot
    invent a duplicate). Means are merged sums, equal to the local ones up to float rounding.
    The reference profile (ranges, categories) merges exactly; the drift profile's quantiles
    come from a mergeable sketch (:mod:`defectops.monitoring.sketch`).
features
    The fitted :class:`~defectops.features.builder.FeatureBuilder` is applied per partition.
    Fitting it
    merges per-partition summaries
    (:meth:`~defectops.features.builder.FeatureBuilder.numeric_moments`,
    :meth:`~defectops.features.builder.FeatureBuilder.buckets_seen`), so the category codes are the
    ones
    a local fit gives.
training
    ``gbm`` only, by the local procedure's own rule. A chunk of fewer than
    ``CROSS_FIT_MAX_ROWS`` rows is gathered on the worker holding most of it and cross-fitted
    there exactly as the local engine does. A larger one is boosted by
    :class:`xgboost.dask.DaskXGBClassifier` on the partitions' feature matrices: the same
    parameters, the same stratified validation slice (drawn from the labels, one byte per row,
    gathered on the client), early stopping, and ``xgb_model=`` the previous booster for the
    warm-start strategy. The result is the usual
    :class:`~defectops.models.classifier.DefectClassifier`:
    Platt scaling and the threshold are fitted on the validation slice's margins, gathered as
    one float per row.
scoring and the gate
    Hold-out and prequential scores are computed per partition and gathered (one float per row);
    evaluation, gate and registry run unchanged on those arrays.

Rows are kept in order. With an order column, rows already in that order (as a plant's export
usually is) are checked and left where they are; others are sorted by a dask shuffle that equals
the local engine's stable sort.

The validated rows wait as staged files, not in the cluster's memory: a task reads the partition
(only the columns) it needs, and a chunk is a description of row ranges over those files. A worker
holds the partitions its current tasks read and its share of the chunk being boosted; its memory
follows the chunk and partition sizes, not the data's. A small set read by every model (the
hold-out) is staged as files of its own.
"""

from __future__ import annotations

import copy
import functools
import itertools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np
import pandas as pd

from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.io import (
    check_unique_names,
    csv_header,
    describe_reading,
    existing,
    frame_sha256,
    parquet_files,
    read_raw,
    row_hashes,
    sniff_csv,
    table_format,
    unreadable,
    with_decimal_points,
)
from defectops.data.schema import DataSchema, check_columns, check_scalar_columns, infer_schema
from defectops.data.validation import (
    RowsProfile,
    _quarantine_frame,
    bad_row_mask,
    build_report,
    clean_rows,
    merge_reference_profiles,
    reference_profile,
    refuse_unknown_labels,
    typed_rows,
)
from defectops.engines.select import DASK_CONFIG
from defectops.engines.staging import Staging

if TYPE_CHECKING:
    from distributed import Client, Future

    from defectops.features.builder import FeatureBuilder, NumericMoments
    from defectops.models.classifier import DefectClassifier
    from defectops.training.records import PreparedData, RunResult

#: rows read on the client to decide column roles (the local engine looks at 2,000 values a column)
SCHEMA_SAMPLE_ROWS = 10_000
#: bytes of CSV text per partition
CSV_BLOCKSIZE = "64MB"
#: rows per partition of distinct values when counting them (see ``_count_globally``)
NUNIQUE_ROWS = 1_000_000


# -- rows on the cluster --------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedPart:
    """A partition as a staged file plus the cuts to make after reading it: what tasks receive.

    ``columns`` narrows the read itself (Parquet reads only those columns); ``cuts`` are applied
    in order, a ``(start, end)`` pair as a range of positions, an array as a boolean mask. Cutting
    a frame on the client only adds to this small description; nothing is read until a task runs.
    """

    path: str
    columns: tuple[str, ...] | None = None
    cuts: tuple[tuple[int, int] | np.ndarray, ...] = ()
    #: column types to give after reading (``DistributedFrame.astype``)
    dtypes: tuple[tuple[str, Any], ...] = ()

    def load(self) -> pd.DataFrame:
        columns = list(self.columns) if self.columns is not None else None
        frame = pd.read_parquet(self.path, columns=columns)
        for cut in self.cuts:
            # a range is copied: a view would keep the whole file's rows alive in a result that
            # stays on a worker (a persisted hold-out, a training block)
            frame = frame.iloc[cut[0] : cut[1]].copy() if isinstance(cut, tuple) else frame.loc[cut]
        if self.dtypes:
            frame = frame.astype({c: t for c, t in self.dtypes if c in frame.columns})
        return frame

    def cut(self, cut: tuple[int, int] | np.ndarray) -> StagedPart:
        return replace(self, cuts=(*self.cuts, cut))


#: a partition: a staged file (most rows), or a future of a frame in memory (small row sets)
Part = Union["StagedPart", "Future"]


def _rows_of(part: Any) -> pd.DataFrame:
    """The rows a task was given: a staged partition is read here, a future arrives as its frame."""
    return part.load() if isinstance(part, StagedPart) else part


def _apply(part: Any, fn: Callable[..., Any], **kwargs: Any) -> Any:
    return fn(_rows_of(part), **kwargs)


def _stage_rows(part: Any, file: str) -> int:
    return _stage(_rows_of(part), file)


@dataclass(frozen=True, eq=False)
class DistributedFrame:
    """The rows of a data set as pandas partitions spread over a Dask cluster, in row order.

    It offers the few frame operations the pipeline uses, with pandas' meaning, so the training
    loop reads the same on both engines: ``len``, ``frame[columns]``, ``frame[column]`` (see
    :class:`DistributedColumn`), ``frame.iloc[start:end]``, ``reset_index(drop=True)`` and
    ``head``. Partition lengths are known, so row ranges are cut without a pass over the data.
    Partitions are staged files (:class:`StagedPart`, read by each task that needs them) or, for
    a small set kept in memory with :meth:`persist`, futures.
    """

    client: Client
    parts: tuple[Part, ...]
    lengths: tuple[int, ...]
    meta: pd.DataFrame
    #: keeps the staged files alive as long as a frame reads them
    staging: Staging | None = None

    def __len__(self) -> int:
        return int(sum(self.lengths))

    @property
    def columns(self) -> pd.Index:
        return self.meta.columns

    @property
    def iloc(self) -> _RowRange:
        return _RowRange(self)

    def __getitem__(self, key: str | Sequence[str]) -> Any:
        if isinstance(key, str):
            if key not in self.meta.columns:
                raise KeyError(key)
            return DistributedColumn(self, key)
        return self.select(list(key))

    def _with(
        self, parts: Sequence[Part], lengths: Sequence[int], meta: pd.DataFrame | None = None
    ) -> DistributedFrame:
        return DistributedFrame(
            self.client, tuple(parts), tuple(int(n) for n in lengths),
            self.meta if meta is None else meta, self.staging,
        )  # fmt: skip

    def select(self, columns: list[str]) -> DistributedFrame:
        """These columns only: staged partitions then read only them."""
        missing = [c for c in columns if c not in self.meta.columns]
        if missing:
            raise KeyError(missing[0])
        parts = [
            replace(part, columns=tuple(columns))
            if isinstance(part, StagedPart)
            else self.client.submit(_columns, part, columns)
            for part in self.parts
        ]
        return self._with(parts, self.lengths, self.meta[columns])

    def astype(self, dtypes: dict[str, Any]) -> DistributedFrame:
        """These columns as these types, as pandas' ``astype`` gives them (on reading)."""
        parts = [
            replace(part, dtypes=(*part.dtypes, *dtypes.items()))
            if isinstance(part, StagedPart)
            else self.client.submit(_astype, part, dtypes)
            for part in self.parts
        ]
        return self._with(parts, self.lengths, self.meta.astype(dtypes))

    def reset_index(self, drop: bool = True) -> DistributedFrame:
        """Partitions carry no meaningful index: positions are what rows are addressed by."""
        return self

    def rows(self, start: int, end: int) -> DistributedFrame:
        """Rows ``start`` to ``end`` (positions, end excluded), cutting only the edge partitions."""
        parts: list[Part] = []
        lengths: list[int] = []
        offset = 0
        for part, n in zip(self.parts, self.lengths, strict=True):
            lo, hi = max(start - offset, 0), min(end - offset, n)
            if lo < hi:
                if lo == 0 and hi == n:
                    parts.append(part)
                elif isinstance(part, StagedPart):
                    parts.append(part.cut((lo, hi)))
                else:
                    parts.append(self.client.submit(_slice, part, lo, hi))
                lengths.append(hi - lo)
            offset += n
        return self._with(parts, lengths)

    def take(self, keep: np.ndarray) -> DistributedFrame:
        """The rows where the boolean mask ``keep`` (one value per row) is true, in order."""
        if len(keep) != len(self):
            raise ValueError(f"mask of {len(keep)} values for {len(self)} rows")
        parts: list[Part] = []
        lengths: list[int] = []
        offset = 0
        for part, n in zip(self.parts, self.lengths, strict=True):
            piece = np.asarray(keep[offset : offset + n], dtype=bool)
            kept = int(piece.sum())
            if kept == n:
                parts.append(part)
            elif kept and isinstance(part, StagedPart):
                parts.append(part.cut(piece.copy()))
            elif kept:
                parts.append(self.client.submit(_mask, part, piece))
            if kept:
                lengths.append(kept)
            offset += n
        return self._with(parts, lengths)

    def persist(self) -> DistributedFrame:
        """The same rows held in the workers' memory: for a small set read again and again
        (the hold-out, scored by every model), not for the data."""
        parts = self.client.map(_rows_of, list(self.parts), pure=False)
        return self._with(parts, self.lengths)

    def map(
        self, fn: Callable[..., Any], *, workers: list[str] | None = None, **kwargs: Any
    ) -> list[Future]:
        """``fn(partition, **kwargs)`` for every partition, on ``workers`` when given."""
        work = functools.partial(_apply, fn=fn)
        return list(
            self.client.map(
                work, list(self.parts), pure=False, workers=workers, **shared(self.client, kwargs)
            )
        )

    def compact(self, name: str) -> DistributedFrame:
        """The same rows staged as files of their own: for a subset (such as a stratified
        hold-out) read many times, so that reading it no longer reads every partition."""
        assert self.staging is not None, "only staged rows are compacted"
        name = self.staging.new_set(name)
        files = [self.staging.file(name, i) for i in range(len(self.parts))]
        lengths = self.client.gather(
            self.client.map(_stage_rows, list(self.parts), files, pure=False)
        )
        kept = [(StagedPart(f), n) for f, n in zip(files, lengths, strict=True) if n]
        return self._with([p for p, _ in kept], [n for _, n in kept])

    def gather_each(self, fn: Callable[..., Any], **kwargs: Any) -> list[Any]:
        """The small results of ``fn`` per partition, in row order."""
        return list(self.client.gather(self.map(fn, **kwargs)))

    def head(self, n: int = 5) -> pd.DataFrame:
        frames, have = [], 0
        for part, length in zip(self.parts, self.lengths, strict=True):
            if have >= n:
                break
            take = min(length, n - have)
            frames.append(self.client.submit(_apply, part, _slice, start=0, end=take).result())
            have += length
        return pd.concat(frames, ignore_index=True) if frames else self.meta.copy()

    def fit_classifier(
        self, model: DefectClassifier, y: Any, init_model: DefectClassifier | None = None
    ) -> DefectClassifier:
        """:meth:`DefectClassifier.fit` on these rows (see :func:`fit_distributed`)."""
        return fit_distributed(model, self, y, init_model=init_model)

    def classifier_scores(self, model: DefectClassifier) -> np.ndarray:
        """``model``'s defect probability of every row, computed where the rows are."""
        return decision_scores(model, self)

    def gather(self) -> pd.DataFrame:
        """All rows in one pandas frame on the client: only for rows known to be few."""
        frames = list(self.client.gather(self.client.map(_rows_of, list(self.parts), pure=False)))
        return pd.concat(frames, ignore_index=True) if frames else self.meta.copy()

    def to_dask(self) -> Any:
        """The same partitions as a lazy dask DataFrame, for dask's own algorithms."""
        import dask
        import dask.dataframe as dd

        load = dask.delayed(_rows_of, pure=True)
        return dd.from_delayed([load(p) for p in self.parts], meta=self.meta, verify_meta=False)

    def row_hash_blocks(self) -> Iterator[np.ndarray]:
        """Per partition, in order, the row hashes :func:`~defectops.data.io.frame_sha256` uses.

        Gathered one partition at a time, so fingerprinting a large frame costs the client one
        partition's hashes (8 bytes a row) at a time.
        """
        for future in self.map(_row_hashes):
            yield future.result()
            future.release()

    def reference_profile(self, schema: DataSchema, max_categories: int = 10_000) -> dict:
        """:func:`~defectops.data.validation.reference_profile` of all rows, merged exactly."""
        parts = self.gather_each(reference_profile, schema=schema, max_categories=sys.maxsize)
        return merge_reference_profiles(parts, max_categories)


def frame_of_files(client: Client, files: Sequence[Path]) -> DistributedFrame:
    """Parquet files of rows validated before (the store's batches) as a frame, in file order.

    Row counts come from the files' footers; the rows are read by the tasks that need them, as
    staged rows are, and the files are never removed (they are not this process's staging).
    """
    import pyarrow.parquet as pq

    if not files:
        raise UserError("no stored rows to read")
    lengths = [pq.read_metadata(f).num_rows for f in files]
    meta = pq.read_schema(files[0]).empty_table().to_pandas()
    # absolute paths: workers may run in another directory
    kept = [
        (StagedPart(str(Path(f).resolve())), int(n))
        for f, n in zip(files, lengths, strict=True)
        if n
    ]
    return DistributedFrame(client, tuple(p for p, _ in kept), tuple(n for _, n in kept), meta)


def shared(client: Client, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``client.map``, anything but a plain value sent once as a future.

    ``Client.map`` puts a large keyword argument into the graph under the argument's *name* as
    its key, so two calls passing different ``reference=`` values would share one key (and a
    run hung on it). Scattered values get keys of their own, and travel to each worker once.
    """
    from distributed import Future

    out = {}
    for name, value in kwargs.items():
        plain = (
            value is None or isinstance(value, str | int | float | bool | Future) or callable(value)
        )
        out[name] = value if plain else client.scatter([value], hash=False)[0]
    return out


@dataclass(frozen=True)
class _RowRange:
    frame: DistributedFrame

    def __getitem__(self, key: slice) -> DistributedFrame:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("distributed rows are taken as a range: frame.iloc[start:end]")
        start, end, _ = key.indices(len(self.frame))
        return self.frame.rows(start, max(start, end))


@dataclass(frozen=True)
class DistributedColumn:
    """One column of a :class:`DistributedFrame`: gathered as an array, or summed where it lives."""

    frame: DistributedFrame
    name: str

    def to_numpy(self) -> np.ndarray:
        values = self.frame.gather_each(_column_values, name=self.name)
        if not values:
            return self.frame.meta[self.name].to_numpy()
        return np.concatenate(values)

    def sum(self) -> Any:
        return sum(self.frame.gather_each(_column_sum, name=self.name))

    def mean(self) -> float:
        return float(np.mean(self.to_numpy())) if len(self.frame) else float("nan")


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


# -- functions run on the workers, one partition at a time ----------------------------------------


def _columns(part: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return part[columns]


def _astype(part: pd.DataFrame, dtypes: dict[str, Any]) -> pd.DataFrame:
    return part.astype(dtypes)


def _slice(part: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    return part.iloc[start:end]


def _mask(part: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    return part.loc[keep]


def _column_values(part: pd.DataFrame, name: str) -> np.ndarray:
    return part[name].to_numpy()


def _column_sum(part: pd.DataFrame, name: str) -> Any:
    return part[name].sum()


def _distinct(part: pd.DataFrame, name: str) -> np.ndarray:
    return np.asarray(pd.unique(part[name]), dtype=object)


def _row_hashes(part: pd.DataFrame) -> np.ndarray:
    return row_hashes(part)


def _row_hash_series(part: pd.DataFrame) -> pd.Series:
    return pd.util.hash_pandas_object(part, index=False).reset_index(drop=True)


def _rows_with_hash(part: pd.DataFrame, hashes: np.ndarray) -> pd.DataFrame:
    mine = pd.util.hash_pandas_object(part, index=False).to_numpy()
    return part.loc[np.isin(mine, hashes)]


def _exact_counts(part: pd.DataFrame, columns: list[str]) -> tuple[dict[str, int], int]:
    counts = {col: int(part[col].nunique(dropna=True)) for col in columns}
    return counts, int(part.duplicated().sum()) if len(part) else 0


def _order_bounds(part: pd.DataFrame, column: str) -> tuple[bool, Any, Any] | None:
    if not len(part):
        return None
    values = part[column]
    return bool(values.is_monotonic_increasing), values.iloc[0], values.iloc[-1]


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
    quarantine = _quarantine_frame(raw, reasons, bad)
    clean = clean_rows(frame, bad, schema, sort=False, optional=optional)
    profile = (
        RowsProfile.of(len(raw), clean, schema, reasons, reference, exact=False, markers=markers)
        if describe
        else None
    )
    return clean, quarantine, profile


def _moments(part: pd.DataFrame, features: FeatureBuilder) -> NumericMoments:
    return features.numeric_moments(part)


def _buckets(part: pd.DataFrame, features: FeatureBuilder) -> list[np.ndarray]:
    return features.buckets_seen(part)


def _transform(part: pd.DataFrame, features: FeatureBuilder) -> np.ndarray:
    return np.asarray(features.transform(part), dtype=np.float32)


def _scores(part: pd.DataFrame, model: DefectClassifier) -> np.ndarray:
    return model.decision_scores(part)


def _usable(part: pd.DataFrame, champion: Any) -> tuple[int, dict[str, int]]:
    """A partition's rows, and per feature the rows with a usable value."""
    from defectops.ops.predict import usable_in

    return len(part), usable_in(part, champion)


def _score_part(part: pd.DataFrame, champion: Any) -> pd.DataFrame:
    """A partition of ``predict``: the input rows, in order, plus the prediction columns."""
    from defectops.ops.predict import score_rows

    return score_rows(part, champion)


# -- reading --------------------------------------------------------------------------------------


def read_partitions(path: Path | str) -> tuple[Any, pd.DataFrame | None]:
    """The rows of a CSV file, Parquet file or Parquet directory as a lazy dask DataFrame, and,
    for CSV, a sample (``None`` for Parquet: read the first partition for one).

    Read as :func:`~defectops.data.io.read_raw` reads them, with the same sniffed dialect:
    Parquet partitions typed by the file, CSV cells as text (the contract types them, so a
    type guessed from a sample can never be wrong for a later block). The sample (the first
    ``SCHEMA_SAMPLE_ROWS`` rows) is what column roles are inferred from. Nothing is read on the
    cluster yet.
    """
    import dask
    import pyarrow as pa

    path = existing(path)
    kind = table_format(path)
    source: Any = [str(f) for f in parquet_files(path)] if path.is_dir() else str(path)
    try:
        with dask.config.set(DASK_CONFIG):
            return _lazy_read(path, source, kind)
    except (OSError, ValueError, EOFError, pa.ArrowException, UnicodeError) as exc:
        raise unreadable(path, kind, exc) from None


def _lazy_read(path: Path, source: Any, kind: str) -> tuple[Any, pd.DataFrame | None]:
    import dask.dataframe as dd

    if kind == "csv":
        dialect = sniff_csv(path)
        check_unique_names(path, csv_header(path, dialect))
        # a gzip or UTF-16 file cannot be cut at byte offsets: one partition
        whole = dialect.compression is not None or dialect.encoding == "utf-16"
        frame = dd.read_csv(
            source, blocksize=None if whole else CSV_BLOCKSIZE, **dialect.pandas_options()
        )
        if dialect.decimal != ".":
            frame = frame.map_partitions(with_decimal_points, dialect.decimal, meta=frame._meta)
        return frame, read_raw(path, nrows=SCHEMA_SAMPLE_ROWS)
    frame = dd.read_parquet(source)
    check_unique_names(path, [str(c) for c in frame.columns])
    return frame, None


# -- validation -----------------------------------------------------------------------------------


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
    import dask
    import pyarrow as pa

    optional = labels == "optional"
    inferred = schema is None
    path = Path(path)
    lazy, sample = read_partitions(path)
    raw = lazy.to_delayed()  # for the sample only
    try:
        if sample is None:
            sample = _first_rows(client, raw, lazy._meta, SCHEMA_SAMPLE_ROWS)
        if schema is None:
            target_values = None
            if settings.target in lazy.columns:
                distinct = client.gather(
                    client.compute([dask.delayed(_distinct)(p, settings.target) for p in
                                    lazy[[settings.target]].to_delayed()])
                )  # fmt: skip
                target_values = pd.Series(pd.unique(np.concatenate(distinct)) if distinct else [])
            schema = infer_schema(sample, settings, target_values=target_values)
            schema = _formats_from_every_row(client, lazy, schema, settings)
        else:
            has_target = schema.target in sample.columns
            check_columns(sample, schema, need_target=not optional)
            check_scalar_columns(
                sample, [*schema.features, *([schema.target] if has_target else [])]
            )

        staging = staging or Staging.of(settings)
        rows = staging.new_set("rows")
        # read and validation fused into one task per partition (dask fuses a map_partitions
        # into the read): a raw partition is never read ahead of its validation, so a worker
        # holds one raw partition at a time however many there are
        tasks = lazy.map_partitions(
            _validate_and_stage,
            schema,
            reference,
            staging.file(rows, 0),
            optional,
            describe,
            fingerprint,
            partition_info=True,
            meta=(None, object),
            enforce_metadata=False,
            align_dataframes=False,
        ).to_delayed()
        results: list[_Validated] = client.gather(client.compute(tasks))
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
        frame = _in_order(frame, schema.order_by, staging)

    if describe:
        profiles = [r.profile for r in results if r.profile is not None]
        profile = functools.reduce(RowsProfile.merge, profiles) if profiles else empty_profile
        assert profile is not None
        _count_globally(profile, frame)
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
    import dask

    from defectops.data.timestamps import infer_format

    formats = dict(schema.timestamp_formats)
    notes = [n for n in schema.notes]
    given = settings.timestamp_format is not None
    for col in schema.timestamps:
        if given or not any(n.startswith(f"column {col!r}: no value decides") for n in notes):
            continue
        parts = lazy[[col]].to_delayed()
        distinct = client.gather(client.compute([dask.delayed(_distinct)(p, col) for p in parts]))
        values = pd.Series(pd.unique(np.concatenate(distinct)) if distinct else [], dtype=object)
        found = infer_format(values, col, schema.na_values)
        if found is None:
            continue
        formats[col] = found.format
        notes = [n for n in notes if not n.startswith(f"column {col!r}: no value decides")]
        if found.assumed:
            notes.append(found.assumed)
    return replace(schema, timestamp_formats=formats, notes=tuple(notes))


def _first_rows(client: Client, parts: list[Any], meta: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` rows of lazy partitions, reading only as many partitions as needed."""
    import dask

    frames, have = [], 0
    for part in parts:
        if have >= n:
            break
        frames.append(client.compute(dask.delayed(_slice)(part, 0, n - have), sync=True))
        have += len(frames[-1])
    return pd.concat(frames, ignore_index=True) if frames else meta


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
        _stage(clean, file)
    hashes = _row_hashes(raw) if fingerprint else np.empty(0, dtype=np.uint64)
    # a copy, not a zero-row view: a view keeps the partition's arrays alive as long as the
    # result waits on the worker, which is until every partition is validated
    meta = clean.iloc[:0].reset_index(drop=True).copy(deep=True)
    return _Validated(len(clean), quarantine, profile, meta, len(raw), hashes)


def _stage(part: pd.DataFrame, file: str) -> int:
    Path(file).parent.mkdir(parents=True, exist_ok=True)
    part.reset_index(drop=True).to_parquet(file, index=False)
    return len(part)


def _offset_quarantine(parts: list[pd.DataFrame], rows_read: list[int]) -> pd.DataFrame:
    """Quarantined rows of every partition, ``source_row`` counted from the first row read."""
    from defectops.data.validation import ROW_COLUMN

    offsets = np.concatenate([[0], np.cumsum(rows_read)[:-1]]).astype(np.int64)
    shifted = []
    for part, offset in zip(parts, offsets, strict=True):
        part = part.copy()
        part[ROW_COLUMN] = part[ROW_COLUMN].to_numpy(dtype=np.int64) + offset
        shifted.append(part)
    non_empty = [p for p in shifted if len(p)]
    return pd.concat(non_empty or shifted[:1], ignore_index=True)


def _in_order(frame: DistributedFrame, column: str, staging: Staging) -> DistributedFrame:
    """The rows in order of ``column``, ties in row order: the local engine's stable sort.

    Exported rows usually are in order already; that is checked within each partition and
    across partition boundaries, and then nothing moves. Otherwise dask sorts by the column and
    the original position (a shuffle of every row), which equals a stable sort.
    """
    last = None
    ordered = True
    for bounds in frame.select([column]).gather_each(_order_bounds, column=column):
        if bounds is None:
            continue
        inside, first, final = bounds
        if not inside or (last is not None and first < last):
            ordered = False
            break
        last = final
    if ordered:
        return frame
    import dask
    import dask.dataframe as dd

    offsets = np.concatenate([[0], np.cumsum(frame.lengths)[:-1]]).astype(np.int64)
    load = dask.delayed(_rows_of, pure=True)
    positioned = [
        dask.delayed(_with_position)(load(p), int(o))
        for p, o in zip(frame.parts, offsets, strict=True)
    ]
    meta = frame.meta.assign(**{_POSITION: np.empty(0, dtype=np.int64)})
    data = dd.from_delayed(positioned, meta=meta, verify_meta=False)
    data = data.sort_values([column, _POSITION], shuffle_method=_shuffle_method(frame))
    data = data.drop(columns=[_POSITION])
    name = staging.new_set("sorted")
    files = [staging.file(name, i) for i in range(data.npartitions)]
    stage = dask.delayed(_stage, pure=False)
    lengths = frame.client.gather(
        frame.client.compute([stage(p, f) for p, f in zip(data.to_delayed(), files, strict=True)])
    )
    kept = [(StagedPart(f), int(n)) for f, n in zip(files, lengths, strict=True) if n]
    return DistributedFrame(
        frame.client, tuple(p for p, _ in kept), tuple(n for _, n in kept), frame.meta, staging
    )


_POSITION = "__defectops_position__"
#: fewer partitions than this are shuffled by tasks (little overhead), more by dask's p2p
#: shuffle (bounded memory per worker)
TASK_SHUFFLE_PARTITIONS = 64


def _shuffle_method(frame: DistributedFrame) -> str:
    return "tasks" if len(frame.parts) < TASK_SHUFFLE_PARTITIONS else "p2p"


def _with_position(part: pd.DataFrame, offset: int) -> pd.DataFrame:
    return part.assign(**{_POSITION: np.arange(offset, offset + len(part), dtype=np.int64)})


def _count_globally(profile: RowsProfile, frame: DistributedFrame) -> None:
    """Fill in what partition summaries cannot give: distinct values and duplicate rows."""
    import dask
    import dask.dataframe as dd

    client = frame.client
    pending = [col for col, stats in profile.columns.items() if stats["n_unique"] is None]
    if len(frame.parts) <= 1:  # nothing to combine: counted where the rows are
        counts, duplicates = (
            client.submit(_apply, frame.parts[0], _exact_counts, columns=pending).result()
            if frame.parts
            else ({col: 0 for col in pending}, 0)
        )
        for col in pending:
            profile.columns[col]["n_unique"] = counts[col]
        profile.duplicates = duplicates
        return
    # one column at a time, its distinct values spread over one part per NUNIQUE_ROWS rows: a
    # worker holds a share of one column's distinct values, not of every column's at once
    split_out = max(1, len(frame) // NUNIQUE_ROWS)
    with dask.config.set({"dataframe.shuffle.method": _shuffle_method(frame)}):
        for col in pending:
            values = frame.select([col]).to_dask()[col]
            count = client.compute(values.nunique(dropna=True, split_out=split_out), sync=True)
            profile.columns[col]["n_unique"] = int(count)

    hashes = dd.from_delayed(frame.map(_row_hash_series), meta=pd.Series(dtype="uint64"))
    seen = hashes.value_counts(split_out=split_out)
    repeated = client.compute(seen[seen > 1], sync=True)
    if len(repeated) == 0:
        profile.duplicates = 0
        return
    wanted = repeated.index.to_numpy(dtype=np.uint64)
    candidates = frame.gather_each(_rows_with_hash, hashes=wanted)
    profile.duplicates = int(pd.concat(candidates, ignore_index=True).duplicated().sum())


# -- the pipeline ---------------------------------------------------------------------------------


def prepare_distributed(
    settings: Settings, client: Client, staging: Staging | None = None
) -> PreparedData:
    """:func:`~defectops.training.backfill.prepare` on the cluster: the same checks and hold-out
    rows,
    staged in ``staging`` (by default a :class:`Staging` of their own)."""
    from defectops.training.prepare import check_prepared, holdout_of
    from defectops.training.records import PreparedData

    if settings.data is None:
        raise UserError("no data file given; pass --data FILE (or set data: in the config)")
    staging = staging or Staging.of(settings)
    validation = validate_distributed(
        settings.data, settings, client, source=str(settings.data), staging=staging
    )
    frame, schema = validation.frame, validation.schema
    if settings.holdout_data is not None:
        held = validate_distributed(
            settings.holdout_data,
            settings,
            client,
            schema=schema,
            reference=frame.reference_profile(schema),
            source=str(settings.holdout_data),
            staging=staging,
        )
        data = PreparedData(
            validation,  # type: ignore[arg-type]
            frame,  # type: ignore[arg-type]
            held.frame,  # type: ignore[arg-type]
            str(settings.holdout_data),
            held,  # type: ignore[arg-type]
        )
    else:
        n_rows = len(frame)
        choice = holdout_of(frame[schema.target].to_numpy(), settings)
        if choice.is_tail:
            start = n_rows - len(choice.positions)
            train, holdout = frame.rows(0, start), frame.rows(start, n_rows)
        else:
            in_holdout = np.zeros(n_rows, dtype=bool)
            in_holdout[choice.positions] = True
            train, holdout = frame.take(~in_holdout), frame.take(in_holdout).compact("holdout")
        data = PreparedData(
            validation,  # type: ignore[arg-type]
            train,  # type: ignore[arg-type]
            holdout,  # type: ignore[arg-type]
            choice.describe(),
            choice=choice,
        )
    check_prepared(data, data.holdout[schema.target].to_numpy())
    return data


def run_distributed(
    settings: Settings,
    client: Client,
    *,
    on_chunk: Callable[[dict[str, Any], int], None] | None = None,
    on_data: Callable[[PreparedData], None] | None = None,
    store_rows: Any = None,
) -> RunResult:
    """:func:`~defectops.training.run.run_pipeline` with the rows on a Dask cluster.

    The training loop, gate, registry and reports are the local ones; only where rows are read,
    fitted and scored differs (see the module docstring).
    """
    from defectops.core.lock import RunLock
    from defectops.models.classifier import build_model
    from defectops.training.backfill import run_locked as _run_locked
    from defectops.training.prepare import check_same_line

    if settings.model != "gbm":
        raise UserError(
            f"--engine dask trains gbm only (XGBoost's Dask estimator), not {settings.model!r}; "
            "use --model gbm or --engine local"
        )
    with Staging.of(settings) as staging:
        data = prepare_distributed(settings, client, staging)
        check_same_line(settings, data.schema)
        if on_data is not None:
            on_data(data)
        build_model(settings, data.schema)
        with RunLock(settings.artifacts, purpose="run"):
            return _run_locked(settings, data, on_chunk, store_rows)


# -- training and scoring -------------------------------------------------------------------------


def fit_distributed(
    model: DefectClassifier,
    X: DistributedFrame,
    y: Any,
    *,
    init_model: DefectClassifier | None = None,
) -> DefectClassifier:
    """:meth:`DefectClassifier.fit <defectops.models.classifier.DefectClassifier.fit>` on the
    cluster.

    The local procedure, chosen by the same rule. Fewer than ``CROSS_FIT_MAX_ROWS`` rows (or a
    chunk that cannot hold a slice apart): the rows are gathered on the worker that holds most
    of them and the local fit runs there (cross-fitting, refit on all rows), so the model is the
    local engine's, bit for bit. XGBoost's distributed quantile sketch would change the trees of
    a chunk of a few thousand rows visibly; on hundreds of thousands it does not matter.
    Larger chunks: stratified validation slice, features fitted on the rest (or the
    predecessor's with new categories learned, for warm start), XGBoost with early stopping on
    the slice on every worker holding rows (continuing ``init_model``'s booster), Platt
    scaling and the threshold on the slice. Their models depend slightly on how the rows are
    spread over the workers. Returns ``model``, fitted.
    """
    import xgboost
    from xgboost import dask as dxgb

    from defectops.models.classifier import (
        CROSS_FIT_MAX_ROWS,
        FitRecord,
        _binary_target,
        _validation_split,
    )

    if model.model != "gbm":
        raise UserError(f"the dask engine trains gbm only, not {model.model!r}")
    target = _binary_target(y, len(X))
    if model.validation_fraction == 0 or len(target) < CROSS_FIT_MAX_ROWS:
        return _fit_on_one_worker(model, X, target, init_model)
    fallbacks: list[str] = []
    init = model._usable_init(init_model, fallbacks)
    fit_rows, val_rows = _validation_split(
        target, model.validation_fraction, model.random_state, fallbacks=[]
    )
    if np.bincount(target, minlength=2).min() == 0 or val_rows is None:
        return _fit_on_one_worker(model, X, target, init_model)

    in_validation = np.zeros(len(target), dtype=bool)
    in_validation[val_rows] = True
    X_fit, X_val = X.take(~in_validation), X.take(in_validation)
    y_fit, y_val = target[fit_rows], target[val_rows]
    if init is not None:
        features = copy.deepcopy(init.features_)
        features.learn_new_buckets(_union_buckets(X_fit.gather_each(_buckets, features=features)))
    else:
        features = model._new_features("codes")
        moments = X_fit.gather_each(_moments, features=features)
        buckets = X_fit.gather_each(_buckets, features=features)
        features.fit_from_parts(functools.reduce(_merge_moments, moments), _union_buckets(buckets))
    model.classes_ = np.array([0, 1])
    model.n_train_rows_ = len(target)
    model.features_ = features

    Z_fit, fit_blocks = _feature_array(X_fit, features)
    Z_val, _ = _feature_array(X_val, features)
    options = model._gbm_options(y_fit, early_stopping=True, warm=init is not None)
    options["n_jobs"] = None  # each worker uses the threads it has
    classifier = dxgb.DaskXGBClassifier(**options)
    classifier.client = X.client
    with xgboost.config_context(verbosity=0):  # passed on to the workers: no per-round chatter
        classifier.fit(
            Z_fit,
            _label_array(X.client, y_fit, X_fit.lengths),
            eval_set=[(Z_val, _label_array(X.client, y_val, X_val.lengths))],
            xgb_model=init.estimator_.booster if init is not None else None,
            verbose=False,
        )
    holders = X.client.who_has(fit_blocks)
    #: how many workers boosted (held training rows): lineage, and what the tests check
    model.fit_workers_ = len({w for block in fit_blocks for w in holders.get(block.key, ())})
    booster = classifier.get_booster()[: classifier.best_iteration + 1]
    booster.set_param({"nthread": 1})
    margins = dxgb.inplace_predict(X.client, booster, Z_val, predict_type="margin")
    raw = np.asarray(X.client.compute(margins, sync=True), dtype=np.float64)
    rounds = model._rounds(booster, init)
    model.fit_record_ = FitRecord("validation slice", len(fit_rows), 0, [], rounds)
    return model._calibrate(booster, y_val, raw, fallbacks)


def _fit_on_one_worker(
    model: DefectClassifier,
    X: DistributedFrame,
    target: np.ndarray,
    init_model: DefectClassifier | None,
) -> DefectClassifier:
    """The local fit of all of ``X``'s rows, run on the worker that holds most of them."""
    future = X.client.submit(
        _fit_rows, model, list(X.parts), target, init_model, workers=_one_worker(X) or None,
        pure=False,
    )  # fmt: skip
    fitted = future.result()
    model.__dict__.update(fitted.__dict__)  # fit() fills the estimator it was called on
    model.fit_workers_ = 1
    return model


def _fit_rows(
    model: DefectClassifier,
    parts: list[Any],
    target: np.ndarray,
    init_model: DefectClassifier | None,
) -> DefectClassifier:
    rows = pd.concat([_rows_of(part) for part in parts], ignore_index=True)
    return type(model).fit(model, rows, target, init_model=init_model)


def decision_scores(model: DefectClassifier, X: DistributedFrame) -> np.ndarray:
    """The model's defect probability of every row, computed where the rows are, in order."""
    if not len(X):
        return np.empty(0, dtype=np.float64)
    model_ref = X.client.scatter(model, broadcast=True, hash=False)
    scores = X.gather_each(_scores, model=model_ref)
    return np.concatenate(scores).astype(np.float64, copy=False)


def _merge_moments(a: NumericMoments, b: NumericMoments) -> NumericMoments:
    return a.merge(b)


def _union_buckets(parts: list[list[np.ndarray]]) -> list[np.ndarray]:
    if not parts:
        return []
    return [np.unique(np.concatenate(column)) for column in zip(*parts, strict=True)]


def _feature_array(frame: DistributedFrame, features: FeatureBuilder) -> tuple[Any, list[Future]]:
    """The model matrix of every partition, as one dask array with known chunk sizes.

    Staged partitions are dealt out to every worker by rows (so each boosts on a like share);
    partitions in memory stay where they are. Returns the array and its blocks' futures.
    """
    import dask.array as da

    client = frame.client
    features_ref = client.scatter(features, broadcast=True, hash=False)
    futures = [
        client.submit(_apply, part, _transform, features=features_ref, workers=w, pure=False)
        for part, w in zip(frame.parts, _placement(frame), strict=True)
    ]
    width = features.n_features_out_
    blocks = [
        da.from_delayed(future, shape=(n, width), dtype=np.float32)
        for future, n in zip(futures, frame.lengths, strict=True)
    ]
    return da.concatenate(blocks, axis=0), list(futures)


def _placement(frame: DistributedFrame) -> list[list[str] | None]:
    """Per partition, the workers a task on it may run on (see ``_feature_array``)."""
    everyone = sorted(frame.client.scheduler_info()["workers"])
    rows = dict.fromkeys(everyone, 0)
    out: list[list[str] | None] = []
    for part, n in zip(frame.parts, frame.lengths, strict=True):
        if not isinstance(part, StagedPart) or not everyone:
            out.append(None)
            continue
        worker = min(everyone, key=lambda w: (rows[w], w))
        rows[worker] += n
        out.append([worker])
    return out


def _label_array(client: Client, y: np.ndarray, lengths: Sequence[int]) -> Any:
    """``y`` cut like the feature blocks."""
    import dask.array as da

    bounds = np.cumsum([0, *lengths])
    pieces = [y[a:b] for a, b in itertools.pairwise(bounds)]
    futures = client.scatter(pieces, hash=False)
    return da.concatenate(
        [
            da.from_delayed(f, shape=(len(p),), dtype=y.dtype)
            for f, p in zip(futures, pieces, strict=True)
        ]
    )


def _one_worker(frame: DistributedFrame) -> list[str]:
    """The worker that holds most of ``frame``'s rows in memory (the fewest rows move to it);
    for staged rows, which every worker reads alike, the first worker by address."""
    from distributed import Future

    in_memory = [p for p in frame.parts if isinstance(p, Future)]
    if not in_memory:
        return sorted(frame.client.scheduler_info()["workers"])[:1]
    holders = frame.client.who_has(in_memory)
    rows: dict[str, int] = {}
    for part, n in zip(frame.parts, frame.lengths, strict=True):
        if not isinstance(part, Future):
            continue
        for worker in holders.get(part.key, ()):
            rows[worker] = rows.get(worker, 0) + n
    if not rows:
        return []
    return [min(rows, key=lambda w: (-rows[w], w))]


# -- batch prediction -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictionSummary:
    rows: int
    scored: int
    flagged: int
    files: int
    seconds: float


def predict_distributed(
    artifacts: Path, data: Path, out: Path, client: Client
) -> PredictionSummary:
    """Score ``data`` on the cluster into a directory of Parquet files, in the input's order.

    One lazy dask pipeline, read -> ``map_partitions`` (the champion's own scoring) -> write, so
    each worker holds a few partitions at a time and nothing is gathered. Each input partition
    becomes ``part-NNNNN.parquet`` (numbered with leading zeros, so name order is row order for
    every reader) with its rows and the two prediction columns. The directory is written beside
    ``out`` and renamed into place, so a crash never leaves a half-written result.
    """
    import dask
    import dask.dataframe as dd

    from defectops.data.validation import merge_counts, require_usable_features
    from defectops.ops.predict import (
        PREDICTION,
        PROBABILITY,
        Champion,
        check_scored,
        write_quarantine,
    )

    began = time.perf_counter()
    out = check_prediction_dir(out)
    champion = Champion.load(artifacts)
    frame, _ = read_partitions(Path(data))
    check_columns(frame._meta, champion.schema, need_target=False)
    champion_ref = client.scatter(champion, broadcast=True, hash=False)
    # a feature column with no usable value anywhere is refused before anything is written
    usable = client.gather(client.compute(
        [dask.delayed(_usable)(part, champion_ref) for part in frame.to_delayed()]
    ))  # fmt: skip
    rows = sum(n for n, _ in usable)
    require_usable_features(str(data), rows, merge_counts(counts for _, counts in usable))
    scored = frame.map_partitions(
        _score_part, champion_ref, meta=_score_part(frame._meta, champion)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        scored.to_parquet(
            str(staging), write_index=False, name_function=_part_name, write_metadata_file=False
        )
        written = dd.read_parquet(str(staging), columns=[PROBABILITY, PREDICTION])
        n_rows, scored, flagged = client.compute(
            [written.shape[0], written[PROBABILITY].count(), written[PREDICTION].sum()], sync=True
        )
        check_scored(Path(data), int(n_rows), int(scored), {})
        write_quarantine(_refused(staging, client) if scored < n_rows else pd.DataFrame(), out)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = len(list(out.glob("*.parquet")))
    return PredictionSummary(
        int(n_rows), int(scored), int(flagged), files, time.perf_counter() - began
    )


def _refused(staging: Path, client: Client) -> pd.DataFrame:
    """The refused rows of the scored parts in ``staging``, ``source_row`` counted from the
    file's first row, as :func:`defectops.ops.predict.refused_rows` lays them out for one frame."""
    import dask
    import dask.dataframe as dd

    from defectops.ops.predict import refused_rows

    parts = dd.read_parquet(str(staging)).to_delayed()
    sizes = client.compute([dask.delayed(len)(part) for part in parts], sync=True)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    pieces = client.compute(
        [dask.delayed(refused_rows)(part, int(o)) for part, o in zip(parts, offsets, strict=True)],
        sync=True,
    )
    return pd.concat(pieces, ignore_index=True)


def check_prediction_dir(out: Path) -> Path:
    """``out`` names a directory for Parquet parts (new, or a former output: it is replaced)."""
    out = Path(out)
    if out.suffix.lower() in (".csv", ".gz", ".txt"):
        raise UserError(
            f"--out {out}: with --engine dask the output is a directory of Parquet files "
            "(one per partition); pass a directory name"
        )
    if out.exists() and not (out.is_dir() and _only_parquet(out)):
        raise UserError(
            f"--out {out}: exists and is not a directory of Parquet files; choose another"
        )
    return out


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def _only_parquet(directory: Path) -> bool:
    return all(p.suffix == ".parquet" or p.name.startswith(("_", ".")) for p in directory.iterdir())
