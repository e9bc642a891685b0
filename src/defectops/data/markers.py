"""Text that means "missing", and text that means a number: read the same in every column.

Plant exports write a missing reading as an empty cell, ``NA``, ``?``, ``-`` or ``NULL``. The
data contract treats every such marker as missing (a numeric column with markers stays numeric),
counts what it found per column for the validation report, and parses the rest as numbers. Every
step is a vectorised pandas operation, so it stays fast on millions of rows.

>>> values = pd.Series(["1.5", "?", " 2 ", "", "n/a", "high"], dtype=object)
>>> numbers, unparseable = to_numbers(values, ("?", "n/a"))
>>> numbers.tolist()[:3], unparseable.tolist()
([1.5, nan, 2.0], [False, False, False, False, False, True])
>>> marker_counts(values, ("?", "n/a"))
{'': 1, '?': 1, 'n/a': 1}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: booleans written as text, read as numbers (a Parquet bool column is 0/1 too)
_BOOLEANS = {"true": 1.0, "false": 0.0}


def is_text(values: pd.Series) -> bool:
    """Object or string dtype: the cells may hold markers."""
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def _known(markers: Iterable[str]) -> list[str]:
    return sorted(set(markers) | {""})


def _trimmed(values: pd.Series) -> pd.Series:
    """Text cells without surrounding spaces (NaN for a cell that is no text)."""
    try:
        return values.str.strip()
    except AttributeError:  # an object column without a single text cell
        return pd.Series(np.nan, index=values.index, dtype=object)


def _arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The cells of an Arrow-backed text column (pandas' ``str``) as Arrow, without a copy;
    None for other columns, which take pandas' slower way. One Arrow call per step keeps a
    600-column file (SECOM) from paying pandas' per-call overhead thousands of times."""
    if values.dtype == object or not pd.api.types.is_string_dtype(values):
        return None
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _arrow_markers(text: pa.Array | pa.ChunkedArray, markers: Iterable[str]) -> tuple[Any, Any]:
    trimmed = pc.utf8_trim_whitespace(text)
    hit = pc.fill_null(pc.is_in(trimmed, value_set=pa.array(_known(markers))), False)
    return trimmed, hit


def missing_mask(values: pd.Series, markers: Iterable[str]) -> np.ndarray:
    """True where a cell is missing: null, blank, or a marker (after trimming spaces)."""
    text = _arrow_text(values)
    if text is not None:
        _, hit = _arrow_markers(text, markers)
        missing = pc.or_(pc.is_null(text), hit)
        return np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)
    missing = values.isna().to_numpy(dtype=bool)
    if is_text(values):
        missing = missing | _trimmed(values).isin(_known(markers)).to_numpy(dtype=bool)
    return missing


def marker_counts(values: pd.Series, markers: Iterable[str]) -> dict[str, int]:
    """How many cells hold each marker (``""`` for blank cells); nulls of a typed column are
    not markers and are not counted here."""
    if not is_text(values):
        return {}
    text = _arrow_text(values)
    if text is not None:
        trimmed, hit = _arrow_markers(text, markers)
        if not pc.any(hit).as_py():
            return {}
        counts = pc.value_counts(pc.filter(trimmed, hit)).to_pylist()
        return {
            str(c["values"]): int(c["counts"]) for c in sorted(counts, key=lambda c: c["values"])
        }
    trimmed = _trimmed(values)
    found = trimmed[trimmed.isin(_known(markers)).to_numpy(dtype=bool)]
    if not len(found):
        return {}
    return {str(k): int(v) for k, v in sorted(found.value_counts().items())}


def to_numbers(values: pd.Series, markers: Iterable[str]) -> tuple[pd.Series, np.ndarray]:
    """The values as float64 (markers and nulls as NaN) and where a present value is no number.

    ``inf`` and ``1e400`` parse (as infinities: the contract quarantines them with their own
    reason); ``true``/``false`` are 1 and 0, as a boolean column is.
    """
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
        return numbers, np.zeros(len(values), dtype=bool)
    missing = missing_mask(values, markers)
    array = _plain_numbers(values, missing)
    if array is None:
        parsed = pd.to_numeric(values.astype(object).where(~missing, None), errors="coerce")
        array = parsed.to_numpy(dtype=float, na_value=np.nan).copy()
    unparsed = ~missing & np.isnan(array)
    if unparsed.any():  # true/false as text
        words = _trimmed(values[unparsed]).str.lower().map(_BOOLEANS)
        array[unparsed] = words.to_numpy(dtype=float, na_value=np.nan)
        unparsed = ~missing & np.isnan(array)
    return pd.Series(array, index=values.index, name=values.name), unparsed


def _plain_numbers(values: pd.Series, missing: np.ndarray) -> np.ndarray | None:
    """Arrow's cast of text to float64 (ten times pandas' speed), or None when a present cell
    is not a plain number, and pandas must decide which cells those are."""
    raw = _arrow_text(values)
    if raw is None:
        return None
    try:
        text = pc.utf8_trim_whitespace(raw)
        kept = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)
        return np.asarray(
            pc.cast(kept, pa.float64()).to_numpy(zero_copy_only=False), dtype=float
        ).copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def numeric_share(values: pd.Series, markers: Iterable[str], sample: int = 5_000) -> float:
    """The share of present values that are numbers (1.0 for an all-missing column), among the
    first ``sample`` present values: enough to tell a column of readings from one of words."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return 1.0
    if pd.api.types.is_datetime64_any_dtype(values):
        return 0.0
    present = values[~missing_mask(values, markers)].iloc[:sample]
    if not len(present):
        return 1.0
    numbers, _ = to_numbers(present, ())
    return float(numbers.notna().mean())


def without_markers(values: pd.Series, markers: Iterable[str]) -> pd.Series:
    """Text values with markers and blanks as None (other values as they are)."""
    if not is_text(values):
        return values
    return values.astype(object).where(~missing_mask(values, markers), None)
