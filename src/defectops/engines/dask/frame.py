"""The rows of a data set on a Dask cluster, as a pandas look-alike the training loop reads.

The validated rows wait as staged files, not in the cluster's memory: a task reads the partition
(only the columns) it needs, and a chunk is a description of row ranges over those files. A worker
holds the partitions its current tasks read and its share of the chunk being boosted; its memory
follows the chunk and partition sizes, not the data's. A small set read by every model (the
hold-out) is staged as files of its own.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from defectops.core.errors import UserError
from defectops.data.io import row_hashes
from defectops.data.reference import merge_reference_profiles, reference_profile
from defectops.data.schema import DataSchema
from defectops.engines.dask.fit import decision_scores, fit_distributed
from defectops.engines.dask.parts import Part, StagedPart, apply, row_range, rows_of, stage
from defectops.engines.staging import Staging

if TYPE_CHECKING:
    from distributed import Client, Future

    from defectops.models.classifier import DefectClassifier


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
                    parts.append(self.client.submit(row_range, part, lo, hi))
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
        parts = self.client.map(rows_of, list(self.parts), pure=False)
        return self._with(parts, self.lengths)

    def map(
        self, fn: Callable[..., Any], *, workers: list[str] | None = None, **kwargs: Any
    ) -> list[Future]:
        """``fn(partition, **kwargs)`` for every partition, on ``workers`` when given."""
        work = functools.partial(apply, fn=fn)
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
            frames.append(self.client.submit(apply, part, row_range, start=0, end=take).result())
            have += length
        return pd.concat(frames, ignore_index=True) if frames else self.meta.copy()

    def fit_classifier(
        self, model: DefectClassifier, y: Any, init_model: DefectClassifier | None = None
    ) -> DefectClassifier:
        """:meth:`DefectClassifier.fit` on these rows (see
        :func:`~defectops.engines.dask.fit.fit_distributed`)."""
        return fit_distributed(model, self, y, init_model=init_model)

    def classifier_scores(self, model: DefectClassifier) -> np.ndarray:
        """``model``'s defect probability of every row, computed where the rows are."""
        return decision_scores(model, self)

    def gather(self) -> pd.DataFrame:
        """All rows in one pandas frame on the client: only for rows known to be few."""
        frames = list(self.client.gather(self.client.map(rows_of, list(self.parts), pure=False)))
        return pd.concat(frames, ignore_index=True) if frames else self.meta.copy()

    def to_dask(self) -> Any:
        """The same partitions as a lazy dask DataFrame, for dask's own algorithms."""
        import dask
        import dask.dataframe as dd

        load = dask.delayed(rows_of, pure=True)
        return dd.from_delayed([load(p) for p in self.parts], meta=self.meta, verify_meta=False)

    def row_hash_blocks(self) -> Iterator[np.ndarray]:
        """Per partition, in order, the row hashes :func:`~defectops.data.io.frame_sha256` uses.

        Gathered one partition at a time, so fingerprinting a large frame costs the client one
        partition's hashes (8 bytes a row) at a time.
        """
        for future in self.map(row_hashes):
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


# -- functions run on the workers, one partition at a time ----------------------------------------


def _columns(part: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return part[columns]


def _astype(part: pd.DataFrame, dtypes: dict[str, Any]) -> pd.DataFrame:
    return part.astype(dtypes)


def _mask(part: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    return part.loc[keep]


def _column_values(part: pd.DataFrame, name: str) -> np.ndarray:
    return part[name].to_numpy()


def _column_sum(part: pd.DataFrame, name: str) -> Any:
    return part[name].sum()


def _stage_rows(part: Any, file: str) -> int:
    return stage(rows_of(part), file)
