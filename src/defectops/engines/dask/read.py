"""Tables read as lazy dask partitions, the way :func:`~defectops.data.io.read_raw` reads them.

Both engines read a file with the same sniffed dialect, so a table holds the same values (and
has the same fingerprint) on either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from defectops.data.io import (
    check_unique_names,
    csv_header,
    existing,
    parquet_files,
    read_raw,
    sniff_csv,
    table_format,
    unreadable,
    with_decimal_points,
)
from defectops.engines.dask.parts import row_range
from defectops.engines.select import DASK_CONFIG

if TYPE_CHECKING:
    from distributed import Client

#: rows read on the client to decide column roles (the local engine looks at 2,000 values a column)
SCHEMA_SAMPLE_ROWS = 10_000
#: bytes of CSV text per partition
CSV_BLOCKSIZE = "64MB"


def read_partitions(
    path: Path | str, *, blocksize: str | None = None, sample_rows: int | None = None
) -> tuple[Any, pd.DataFrame | None]:
    """The rows of a CSV file, Parquet file or Parquet directory as a lazy dask DataFrame, and,
    for CSV, a sample (``None`` for Parquet: read the first partition for one).

    Read as :func:`~defectops.data.io.read_raw` reads them, with the same sniffed dialect:
    Parquet partitions typed by the file, CSV cells as text (the contract types them, so a
    type guessed from a sample can never be wrong for a later block). The sample (the first
    ``sample_rows`` rows, by default ``SCHEMA_SAMPLE_ROWS``) is what column roles are inferred
    from. CSV text is cut into partitions of ``blocksize`` bytes (by default ``CSV_BLOCKSIZE``).
    Nothing is read on the cluster yet.
    """
    import dask
    import pyarrow as pa

    path = existing(path)
    kind = table_format(path)
    source: Any = [str(f) for f in parquet_files(path)] if path.is_dir() else str(path)
    blocksize = CSV_BLOCKSIZE if blocksize is None else blocksize
    sample_rows = SCHEMA_SAMPLE_ROWS if sample_rows is None else sample_rows
    try:
        with dask.config.set(DASK_CONFIG):
            return _lazy_read(path, source, kind, blocksize, sample_rows)
    except (OSError, ValueError, EOFError, pa.ArrowException, UnicodeError) as exc:
        raise unreadable(path, kind, exc) from None


def _lazy_read(
    path: Path, source: Any, kind: str, blocksize: str, sample_rows: int
) -> tuple[Any, pd.DataFrame | None]:
    import dask.dataframe as dd

    if kind == "csv":
        dialect = sniff_csv(path)
        check_unique_names(path, csv_header(path, dialect))
        # a gzip or UTF-16 file cannot be cut at byte offsets: one partition
        whole = dialect.compression is not None or dialect.encoding == "utf-16"
        frame = dd.read_csv(
            source, blocksize=None if whole else blocksize, **dialect.pandas_options()
        )
        if dialect.decimal != ".":
            frame = frame.map_partitions(with_decimal_points, dialect.decimal, meta=frame._meta)
        return frame, read_raw(path, nrows=sample_rows)
    frame = dd.read_parquet(source)
    check_unique_names(path, [str(c) for c in frame.columns])
    return frame, None


def first_rows(client: Client, parts: list[Any], meta: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` rows of lazy partitions, reading only as many partitions as needed."""
    import dask

    frames, have = [], 0
    for part in parts:
        if have >= n:
            break
        frames.append(client.compute(dask.delayed(row_range)(part, 0, n - have), sync=True))
        have += len(frames[-1])
    return pd.concat(frames, ignore_index=True) if frames else meta
