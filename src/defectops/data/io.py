"""Reading production records from CSV or Parquet, and writing frames atomically.

Column names are kept exactly as written (``Air temperature [K]`` stays that), because they are
the contract with the plant's exports and later with the prediction API.

A CSV file is read as it is written, not as a parser guesses it: its dialect (delimiter, decimal
comma, encoding, gzip) is sniffed from its first bytes (:func:`sniff_csv`), and its cells come
back as text, every token as written. Typing is the data contract's job
(:mod:`defectops.data.validation`): only there is ``?`` known to mean missing, ``01/08/2008``
known to be the 1st of August, ``1e300`` known to be out of bounds. Both engines read this way,
so a file means the same on each. Parquet columns keep the types the file gives them.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from defectops.core import atomic
from defectops.core.errors import UserError

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
#: delimiters a CSV file may use, in the order preferred when two fit equally well
DELIMITERS = (",", ";", "\t", "|")
#: bytes of a file looked at to sniff its dialect
SNIFF_BYTES = 256 * 1024
#: records looked at to choose the delimiter
_SNIFF_RECORDS = 200
#: where the frame remembers how it was read (for the validation report)
READ_AS = "defectops.read_as"
_COMMA_NUMBER = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")
_DOT_NUMBER = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")
_COMMA_NUMBER_PANDAS = r"\s*[+-]?\d*,\d+(?:[eE][+-]?\d+)?\s*"


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written; the defaults are plain RFC 4180 UTF-8."""

    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    compression: Literal["gzip"] | None = None

    def pandas_options(self) -> dict[str, Any]:
        """``read_csv`` arguments that give every cell as text, exactly as written."""
        return {
            "sep": self.delimiter,
            "encoding": self.encoding,
            "compression": self.compression,
            "dtype": str,
            "keep_default_na": False,
            "na_filter": False,
        }

    def describe(self) -> dict[str, Any]:
        return {"format": "csv", **asdict(self)}


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


def existing(path: Path | str) -> Path:
    """``path`` when it is a data file or a directory of Parquet files, else a UserError."""
    path = Path(path)
    table_format(path)
    if path.is_dir():
        parquet_files(path)  # fails clearly on a directory without Parquet files
    elif not path.is_file():
        raise UserError(f"data file {path}: not found; check the path")
    return path


def read_raw(path: Path | str, *, nrows: int | None = None) -> pd.DataFrame:
    """The rows of a CSV or Parquet file (or directory of Parquet files), in file order, as
    the data contract takes them: CSV cells as text, Parquet columns as typed by the file.

    The frame has a RangeIndex of file positions; ``frame.attrs[READ_AS]`` says how the file
    was read (see :func:`read_as`). ``nrows`` reads only the first rows.
    """
    path = existing(path)
    kind = table_format(path)
    try:
        if kind == "csv":
            dialect = sniff_csv(path)
            names = csv_header(path, dialect)
            check_unique_names(path, names)
            if nrows is None:
                frame = _read_csv_text(path, dialect, names)
            else:
                frame = pd.read_csv(path, nrows=nrows, **dialect.pandas_options())
            frame = with_decimal_points(frame, dialect.decimal)
            how = dialect.describe()
        else:
            frame = pd.read_parquet(path)
            if nrows is not None:
                frame = frame.iloc[:nrows]
            names = [str(c) for c in frame.columns]
            how = {"format": "parquet"}
    except (OSError, ValueError, EOFError, pa.ArrowException, UnicodeError, csv.Error) as exc:
        raise unreadable(path, kind, exc) from None
    check_unique_names(path, names)
    frame = frame.reset_index(drop=True)
    frame.attrs[READ_AS] = how
    return frame


def _read_csv_text(path: Path, dialect: CsvDialect, names: list[str]) -> pd.DataFrame:
    """A whole CSV file as text columns, with Arrow's multi-threaded reader (five times
    pandas' speed); every cell as written, as ``pd.read_csv(dtype=str)`` gives it."""
    import pyarrow.csv as pv

    source = pa.input_stream(str(path), compression=dialect.compression)
    table = pv.read_csv(
        source,
        read_options=pv.ReadOptions(encoding=dialect.encoding),
        parse_options=pv.ParseOptions(delimiter=dialect.delimiter, newlines_in_values=True),
        convert_options=pv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.to_pandas()


def read_table(path: Path | str) -> pd.DataFrame:
    """:func:`read_raw`, with each CSV column that holds only numbers (or nothing) as numbers.

    A convenience for looking at a file (tests, notebooks); the pipeline types its columns by
    the data contract instead, which also knows the missing-value markers and the timestamps.
    """
    frame = read_raw(path)
    if (read_as(frame) or {}).get("format") != "csv":
        return frame
    for col in frame.columns:
        values = frame[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            text = values.astype(object)
            blank = text.map(lambda v: v is None or not str(v).strip()).to_numpy(dtype=bool)
            numbers = pd.to_numeric(text.where(~blank, None), errors="coerce")
            if not (numbers.isna().to_numpy() & ~blank).any():
                frame[col] = numbers
    return frame


def read_as(frame: pd.DataFrame) -> dict[str, Any] | None:
    """How :func:`read_raw` read ``frame`` (format, delimiter, decimal, encoding, compression)."""
    how = frame.attrs.get(READ_AS)
    return dict(how) if how else None


def describe_reading(path: Path | str) -> dict[str, Any]:
    """How :func:`read_raw` reads ``path``: what ``read_as`` of its frame gives."""
    path = existing(path)
    if table_format(path) == "csv":
        return sniff_csv(path).describe()
    return {"format": "parquet"}


def unreadable(path: Path, kind: str, exc: BaseException) -> UserError:
    """One line naming the file and the reader's own first line of complaint."""
    if isinstance(exc, UserError):
        return exc
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return UserError(f"data file {path}: cannot read it as {kind} ({first})")


def check_unique_names(path: Path, names: list[str]) -> None:
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"data file {path}: duplicate column names {dupes}; rename them")


# -- CSV dialects ---------------------------------------------------------------------------------


def sniff_csv(path: Path) -> CsvDialect:
    """The dialect of a CSV file, from its first ``SNIFF_BYTES`` bytes, or a UserError.

    * gzip: by its magic bytes, whatever the suffix;
    * encoding: UTF-8 (with or without BOM) or UTF-16 with BOM; anything else is refused, since
      a guessed encoding turns ``°C`` into ``Â°C`` in a column name without a word;
    * delimiter: the one of ``, ; tab |`` that splits the header into the most columns, with
      at least nine in ten of the first records splitting into as many;
    * decimal comma: when the delimiter is not a comma and numbers in the sample are written
      ``12,5`` and none ``12.5`` (a European export); a file with both is read with points.
    """
    sample, complete, compression = _head_bytes(path)
    encoding = _encoding(path, sample)
    text = _decoded(path, sample, encoding, complete)
    if not complete:  # the last line may be cut short
        text = text[: text.rfind("\n") + 1] or text
    if not text.strip():
        raise UserError(f"data file {path}: cannot read it as csv (the file is empty)")
    delimiter = _delimiter(text)
    decimal = _decimal(text, delimiter)
    return CsvDialect(delimiter, decimal, encoding, compression)


def csv_header(path: Path, dialect: CsvDialect | None = None) -> list[str]:
    """The header as written: pandas renames a repeated name to ``name.1``, hiding the clash."""
    dialect = dialect or sniff_csv(path)
    sample, complete, _ = _head_bytes(path)
    text = _decoded(path, sample, dialect.encoding, complete)
    for record in csv.reader(io.StringIO(text), delimiter=dialect.delimiter):
        return [str(name) for name in record]
    return []


def with_decimal_points(frame: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Text cells written ``12,5`` rewritten ``12.5`` (decimal comma files only).

    Only cells that are whole numbers with a comma change, so text such as ``Line 3, bay 2``
    stays as written. Applied per partition by the dask engine, so both engines agree.
    """
    if decimal != ",":
        return frame
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        text = values.astype(str)
        numbers = text.str.fullmatch(_COMMA_NUMBER_PANDAS).fillna(False).to_numpy(dtype=bool)
        if numbers.any():
            fixed = values.astype(object).copy()
            fixed[numbers] = text[numbers].str.replace(",", ".", regex=False).to_numpy()
            out[col] = fixed.astype(values.dtype)
    return out


def _head_bytes(path: Path) -> tuple[bytes, bool, Literal["gzip"] | None]:
    """The first bytes (decompressed), whether they are the whole file, and the compression."""
    with path.open("rb") as handle:
        magic = handle.read(2)
    compression: Literal["gzip"] | None = "gzip" if magic == b"\x1f\x8b" else None
    try:
        opener: Any = gzip.open if compression else open
        with opener(path, "rb") as handle:
            sample = handle.read(SNIFF_BYTES)
            complete = not handle.read(1)
    except (OSError, EOFError) as exc:
        raise unreadable(path, "csv", exc) from None
    return sample, complete, compression


def _encoding(path: Path, sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise UserError(f"data file {path}: cannot read it as csv (UTF-32 text; save it as UTF-8)")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise UserError(
            f"data file {path}: cannot read it as csv (it holds NUL bytes: a binary file, or "
            "UTF-16 without a byte-order mark; save it as UTF-8)"
        )
    return "utf-8"


def _decoded(path: Path, sample: bytes, encoding: str, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        return decoder.decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        raise UserError(
            f"data file {path}: cannot read it as csv (not {encoding.upper()} text: byte "
            f"0x{exc.object[exc.start]:02x} at offset {exc.start}; save it as UTF-8)"
        ) from None


def _delimiter(text: str) -> str:
    best: tuple[int, int, str] | None = None
    for rank, delimiter in enumerate(DELIMITERS):
        try:
            records = _records(text, delimiter)
        except csv.Error:
            continue
        if not records:
            continue
        width = len(records[0])
        agree = sum(len(r) == width for r in records) / len(records)
        if width > 1 and agree >= 0.9 and (best is None or (width, -rank) > best[:2]):
            best = (width, -rank, delimiter)
    return best[2] if best is not None else ","


def _records(text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    records = []
    for record in reader:
        if record:
            records.append(record)
        if len(records) >= _SNIFF_RECORDS:
            break
    return records


def _decimal(text: str, delimiter: str) -> str:
    if delimiter == ",":
        return "."
    commas = points = 0
    for record in _records(text, delimiter)[1:]:
        for cell in record:
            cell = cell.strip()
            commas += bool(_COMMA_NUMBER.fullmatch(cell))
            points += bool(_DOT_NUMBER.fullmatch(cell))
    return "," if commas and not points else "."


# -- writing and fingerprints ---------------------------------------------------------------------


def write_table(frame: pd.DataFrame, path: Path | str, *, index: bool = False) -> Path:
    """Write ``frame`` as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    kind = table_format(path)
    if kind == "csv":
        compression: Literal["gzip"] | None = "gzip" if path.name.lower().endswith(".gz") else None
        sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
        return atomic.write_with(
            path, lambda tmp: frame.to_csv(tmp, index=index, compression=compression, sep=sep)
        )
    return atomic.write_with(path, lambda tmp: frame.to_parquet(tmp, index=index))


def frame_sha256(frame: pd.DataFrame) -> str:
    """Fingerprint of a frame's rows (values and order, not the index): the data a model saw.

    Rows spread over partitions (anything with ``row_hash_blocks()``, such as
    :class:`~defectops.engines.dask.frame.DistributedFrame`) give the same fingerprint as the same
    rows in one frame: the row hashes are fed to the digest partition by partition, in order.
    """
    digest = hashlib.sha256()
    if isinstance(frame, pd.DataFrame):
        digest.update(row_hashes(frame).tobytes())
    else:
        for block in frame.row_hash_blocks():
            digest.update(block.tobytes())
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    return digest.hexdigest()


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per row (text hashes the same held as ``object`` or ``str``); a nested value
    (a Parquet list or struct) hashes by its text instead of failing."""
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:
        plain = frame.copy()
        for col in plain.columns:
            if plain[col].dtype == object:
                plain[col] = plain[col].map(_hashable)
        return pd.util.hash_pandas_object(plain, index=False).to_numpy()


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple | dict | set | np.ndarray):
        return repr(value)
    return value
