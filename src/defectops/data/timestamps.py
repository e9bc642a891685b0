"""Timestamp columns: one format per column, chosen from all its values, never value by value.

Parsing value by value (``format="mixed"``) reads ``01/08/2008`` as 8 January and
``19/07/2008`` as 19 July in the same column, so a day-first file ends up in a scrambled order
without a word. Here a column gets one format, the one that fits the most of its distinct
values; a value that does not fit it is not a timestamp (the order column's rows are quarantined
for it). When no value tells day-first from month-first (no day above 12), the format under
which the rows, as written, are most often in time order wins, and the choice is reported as
an assumption; ``timestamp_format`` in the settings overrides it.

Formats: ISO 8601 (``ISO8601``, with or without time and zone), ``DD/MM/YYYY`` and
``MM/DD/YYYY`` (``/``, ``.`` or ``-``, optional ``HH:MM[:SS[.f]]``), ``YYYY/MM/DD``, and, for
integer columns whose name says time (or when the format is given), ``%Y%m%d``, ``epoch_s`` and
``epoch_ms``. Times with a zone are converted to UTC.

>>> values = pd.Series(["01/08/2008 10:00", "19/07/2008 11:55", "02/08/2008 09:00"])
>>> found = infer_format(values, "timestamp", ())
>>> found.format, found.assumed
('%d/%m/%Y %H:%M', None)
>>> parse(values, found.format, ()).dt.strftime("%Y-%m-%d").tolist()
['2008-08-01', '2008-07-19', '2008-08-02']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from defectops.data.markers import is_text, missing_mask, to_numbers

ISO = "ISO8601"
EPOCH_S = "epoch_s"
EPOCH_MS = "epoch_ms"
YMD_INT = "%Y%m%d"
#: a column is a timestamp column when at least this share of its distinct values fits a format
SHARE = 0.9
#: ... or this share, for the column the user named as the order column
ORDER_SHARE = 0.5
_SAMPLE = 2000
_DATES = (
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%m.%d.%Y",
    "%Y.%m.%d",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d.%m.%y",
)
_TIMES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p")
_CANDIDATES = tuple(d + t for d in _DATES for t in _TIMES)
_SHAPED = re.compile(r"\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_ISO_SHAPED = re.compile(r"\s*\d{4}-\d{2}-\d{2}")
_ZONED = re.compile(r"(Z|[+-]\d{2}:?\d{2})\s*$")
_TIME_NAME = re.compile(r"(date|time|stamp|_at$|^ts$|_ts$|^ts_)", re.IGNORECASE)


@dataclass(frozen=True)
class TimestampFormat:
    """The format of a column, and the assumption behind it when the values did not decide."""

    format: str
    assumed: str | None = None


def infer_format(
    values: pd.Series,
    name: str,
    markers: Iterable[str],
    *,
    given: str | None = None,
    least: float = SHARE,
) -> TimestampFormat | None:
    """The column's format, or None when fewer than ``least`` of its values fit one.

    ``least`` is lower for a column the user named as the order column: it holds times, and
    the values that do not fit are quarantined rather than the column turned into a feature.

    ``given`` (the user's format) is taken as it is when it fits the column; integer columns are
    read as ``%Y%m%d`` or epoch times only when their name says time (``date``, ``time``,
    ``..._at``, ``ts``) or the format is given.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return TimestampFormat("datetime")
    if pd.api.types.is_bool_dtype(values):
        return None
    markers = tuple(markers)
    if given is not None:
        return TimestampFormat(given) if _share(values, given, markers) >= least else None
    if pd.api.types.is_numeric_dtype(values):
        return _numeric_format(values, name) if looks_like_time_name(name) else None
    present = values[~missing_mask(values, markers)]
    sample = _distinct_text(present.iloc[: _SAMPLE * 20])[:_SAMPLE]
    if not len(sample):
        return None
    if _ISO_SHAPED.match(sample[0]) and _share_of(sample, ISO) >= least:
        return TimestampFormat(ISO)
    if pd.to_numeric(pd.Series(sample), errors="coerce").notna().all():  # numbers as text
        if not looks_like_time_name(name):
            return None
        numbers, unparseable = to_numbers(values, markers)
        return None if unparseable.any() else _numeric_format(numbers.dropna(), name)
    shaped = np.mean([bool(_SHAPED.match(v)) for v in sample])
    if shaped < least:
        return None
    fitting = [f for f in _CANDIDATES if _share_of(sample, f) >= least]
    if not fitting:
        return None
    distinct = _distinct_text(present)
    shares = {f: _share_of(distinct, f) for f in fitting}
    best = max(shares.values())
    tied = [f for f in fitting if shares[f] == best]
    first = tied[0]
    twin = _swapped(first)
    if twin in tied:
        return _by_order(values, first, twin, markers, name)
    return TimestampFormat(first)


def parse(values: pd.Series, fmt: str, markers: Iterable[str]) -> pd.Series:
    """``values`` as naive datetime64 (UTC where they had a zone); NaT where missing or not
    fitting ``fmt``."""
    if fmt == "datetime" or pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, errors="coerce")
        return _naive(parsed).set_axis(values.index).rename(str(values.name))
    if fmt in (EPOCH_S, EPOCH_MS, YMD_INT) or not is_text(values):
        numbers, _ = to_numbers(values, markers)
        return _numeric(numbers, fmt).rename(str(values.name))
    codes, uniques = pd.factorize(
        values.astype(object).where(~missing_mask(values, markers), None), use_na_sentinel=True
    )
    texts = pd.Series(uniques, dtype=object).astype(str).str.strip()
    parsed = _naive(_to_datetime(texts, fmt))
    stamps = np.append(parsed.to_numpy(), np.datetime64("NaT"))
    return pd.Series(stamps[codes], index=values.index, name=values.name).astype(parsed.dtype)


def looks_like_time_name(name: str) -> bool:
    return bool(_TIME_NAME.search(str(name)))


def describe(fmt: str) -> str:
    """A format as a person writes it: ``%d/%m/%Y %H:%M`` -> ``DD/MM/YYYY HH:MM``."""
    words = {
        "%d": "DD",
        "%m": "MM",
        "%Y": "YYYY",
        "%y": "YY",
        "%H": "HH",
        "%I": "hh",
        "%M": "MM",
        "%S": "SS",
        "%f": "ffffff",
        "%p": "AM/PM",
    }
    return re.sub(r"%[a-zA-Z]", lambda m: words.get(m.group(0), m.group(0)), fmt)


# -- helpers --------------------------------------------------------------------------------------


def _distinct_text(present: pd.Series) -> np.ndarray:
    """The distinct values, trimmed, in order of first appearance."""
    return np.asarray(pd.unique(present.astype(str).str.strip()), dtype=object)


def _to_datetime(texts: pd.Series, fmt: str) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == ISO:
            zoned = texts.astype("str").str.contains(_ZONED.pattern, regex=True).any()
            return pd.to_datetime(texts, format=ISO, errors="coerce", utc=bool(zoned))
        return pd.to_datetime(texts, format=fmt, errors="coerce")


def _naive(parsed: pd.Series) -> pd.Series:
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[us]")


def _share_of(texts: np.ndarray, fmt: str) -> float:
    if not len(texts):
        return 0.0
    return float(_to_datetime(pd.Series(texts, dtype=object), fmt).notna().mean())


def _share(values: pd.Series, fmt: str, markers: tuple[str, ...]) -> float:
    present = ~missing_mask(values, markers)
    if not present.any():
        return 0.0
    return float(parse(values, fmt, markers)[present].notna().mean())


def _numeric_format(numbers: pd.Series, name: str) -> TimestampFormat | None:
    array = numbers.to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    if not array.size:
        return None
    integer = bool(np.all(array == np.floor(array)))
    in_range = bool(np.all((array >= 1900_01_01) & (array <= 2100_12_31)))
    if integer and in_range and _numeric(pd.Series(array), YMD_INT).notna().all():
        return TimestampFormat(YMD_INT)
    if np.all((array >= 1e9) & (array < 4.2e9)):
        return TimestampFormat(EPOCH_S)
    if np.all((array >= 1e12) & (array < 4.2e12)):
        return TimestampFormat(EPOCH_MS)
    return None


def _numeric(numbers: pd.Series, fmt: str) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == EPOCH_S:
            parsed = pd.to_datetime(numbers, unit="s", errors="coerce")
        elif fmt == EPOCH_MS:
            parsed = pd.to_datetime(numbers, unit="ms", errors="coerce")
        else:
            whole = numbers.where(np.isfinite(numbers) & (numbers == np.floor(numbers)))
            text = whole.map(lambda v: None if pd.isna(v) else str(int(v)))
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    return _naive(parsed)


def _swapped(fmt: str) -> str:
    """The same format with day and month swapped."""
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _by_order(
    values: pd.Series, first: str, twin: str, markers: tuple[str, ...], name: str
) -> TimestampFormat:
    """Day-first or month-first when no value decides: the reading under which the rows, as
    written, go forward in time most often; day-first when that does not decide either."""
    day_first, month_first = (
        (first, twin) if first.index("%d") < first.index("%m") else (twin, first)
    )
    steps = {}
    for fmt in (day_first, month_first):
        stamps = parse(values, fmt, markers).dropna().to_numpy()
        steps[fmt] = int(np.sum(stamps[1:] >= stamps[:-1])) if len(stamps) > 1 else 0
    chosen = month_first if steps[month_first] > steps[day_first] else day_first
    why = (
        "the rows as written are in time order more often that way"
        if steps[month_first] != steps[day_first]
        else "the row order does not decide either"
    )
    assumed = (
        f"column {name!r}: no value decides between day-first and month-first; read as "
        f"{describe(chosen)} ({why}); pass --timestamp-format to choose"
    )
    return TimestampFormat(chosen, assumed)
