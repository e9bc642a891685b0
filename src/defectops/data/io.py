"""Reading production records from CSV or Parquet, and writing frames atomically.

Column names are kept exactly as written (``Air temperature [K]`` stays that), because they are
the contract with the plant's exports and later with the prediction API.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa

from defectops import atomic
from defectops.errors import UserError

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file name, or a UserError naming the allowed suffixes.

    An existing directory is a partitioned Parquet data set (see :func:`parquet_files`).
    """
    if path.is_dir():
        return "parquet"
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    allowed = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise UserError(
        f"data file {path}: unknown format; use one of {allowed} (or a directory of Parquet files)"
    )


def parquet_files(directory: Path) -> list[Path]:
    """The Parquet files of a partitioned data set, in name order: the order of its rows.

    Name order is what pyarrow uses for a directory too, so both engines read the rows in the
    same order; writers should number their files with leading zeros (``part-00012.parquet``).
    Files whose names start with ``_`` or ``.`` (``_SUCCESS``, ``_metadata``) are not data.
    """
    files = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.name.lower().endswith(PARQUET_SUFFIXES) and p.name[0] not in "_."
    )
    if not files:
        raise UserError(f"data directory {directory}: holds no .parquet files; check the path")
    return files


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a whole CSV or Parquet file (or directory of Parquet files), in file order.

    The frame has a RangeIndex of file positions.
    """
    path = Path(path)
    kind = table_format(path)
    if path.is_dir():
        parquet_files(path)  # fails clearly on a directory without Parquet files
    elif not path.is_file():
        raise UserError(f"data file {path}: not found; check the path")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, low_memory=False)
        else:
            frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"data file {path}: cannot read it as {kind} ({first})") from None
    names = _csv_header(path) if kind == "csv" else list(frame.columns)
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"data file {path}: duplicate column names {dupes}; rename them")
    return frame.reset_index(drop=True)


def _csv_header(path: Path) -> list[str]:
    """The header as written: pandas renames a repeated name to ``name.1``, hiding the clash."""
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(name) for name in header.iloc[0].tolist()] if len(header) else []


def write_table(frame: pd.DataFrame, path: Path | str, *, index: bool = False) -> Path:
    """Write ``frame`` as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    kind = table_format(path)
    if kind == "csv":
        compression: Literal["gzip"] | None = "gzip" if path.name.lower().endswith(".gz") else None
        return atomic.write_with(
            path, lambda tmp: frame.to_csv(tmp, index=index, compression=compression)
        )
    return atomic.write_with(path, lambda tmp: frame.to_parquet(tmp, index=index))


def frame_sha256(frame: pd.DataFrame) -> str:
    """Fingerprint of a frame's rows (values and order, not the index): the data a model saw.

    Rows spread over partitions (anything with ``row_hash_blocks()``, such as
    :class:`~defectops.distributed.DistributedFrame`) give the same fingerprint as the same rows
    in one frame: the row hashes are fed to the digest partition by partition, in order.
    """
    digest = hashlib.sha256()
    if isinstance(frame, pd.DataFrame):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    else:
        for block in frame.row_hash_blocks():
            digest.update(block.tobytes())
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    return digest.hexdigest()
