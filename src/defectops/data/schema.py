"""The data contract: which column plays which role, and what the target's values mean.

A :class:`DataSchema` is decided once, from the first data and the settings, and then travels with
every model, so later batches and API requests are read the same way the training data was.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from defectops.core.config import DEFAULT_NA_VALUES, FLOAT32_MAX, Settings
from defectops.core.errors import UserError
from defectops.data.guards import drop_hint, find_identifiers, find_leak_suspects
from defectops.data.markers import numeric_share, to_numbers
from defectops.data.timestamps import (
    ORDER_SHARE,
    SHARE,
    describe,
    infer_format,
    looks_like_time_name,
)

#: target values that mean "defect" when the user does not say (compared case-insensitively)
POSITIVE_TOKENS = (
    "1",
    "true",
    "y",
    "yes",
    "defect",
    "defective",
    "fail",
    "failed",
    "failure",
    "bad",
    "ng",
    "nok",
    "reject",
    "rejected",
)
#: target values that mean "good part": a later batch's labels map onto the champion's classes
#: by these two lists when they are written differently (``yes``/``no`` onto ``1``/``0``)
NEGATIVE_TOKENS = (
    "0",
    "-1",
    "false",
    "n",
    "no",
    "good",
    "ok",
    "pass",
    "passed",
    "accept",
    "accepted",
)
#: numeric columns with at least this share of parseable values are numeric; the rest is quarantined
NUMERIC_SHARE = 0.9
#: the guards (identifiers, leaks) look at this many rows at most, evenly spaced
GUARD_ROWS = 100_000
_SAMPLE = 2000


@dataclass(frozen=True)
class DataSchema:
    """Column roles of one data set; the feature columns are ``numeric + categorical``.

    It also fixes how values are read (``na_values``, ``timestamp_formats``,
    ``max_abs_value``), so a later batch is read exactly as the training data was, and records
    what the guards found (``identifiers`` left out, ``leak_suspects`` reported), with why.
    """

    target: str
    positive_label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    order_by: str | None = None
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)
    negative_label: str | None = None
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES
    timestamp_formats: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, str] = field(default_factory=dict)
    leak_suspects: dict[str, str] = field(default_factory=dict)
    max_abs_value: float = FLOAT32_MAX

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DataSchema:
        tuples = {k: tuple(v) for k, v in values.items() if isinstance(v, list)}
        return cls(**{**values, **tuples})


def infer_schema(
    frame: pd.DataFrame, settings: Settings, *, target_values: pd.Series | None = None
) -> DataSchema:
    """Decide column roles from the data and the settings, or fail with one clear line.

    Categorical columns, when not given, are the non-numeric columns and the integer columns
    whose names end in ``_id``; columns holding timestamps are never features (the first one
    orders the rows when no order column is given); identifiers are left out (see
    :mod:`defectops.data.guards`) unless ``keep_identifiers``.

    ``target_values`` (the target's distinct values over all rows) lets ``frame`` be a sample of
    a data set too large for one frame, such as its first partition: the target's classes must
    come from every row, the columns' kinds can come from a sample.
    """
    columns = list(frame.columns)
    markers = tuple(settings.na_values)
    given_formats = _given_formats(settings)
    named = {
        "target": [settings.target],
        "categorical": list(settings.categorical or []),
        "drop": list(settings.drop),
        "order_by": [settings.order_by] if settings.order_by else [],
        "timestamp_format": list(given_formats.get("columns", {})),
    }
    for key, names in named.items():
        for name in names:
            if name not in frame.columns:
                raise UserError(
                    f"column {name!r} (from {key}) is not in the data; "
                    f"available columns: {_shown(columns)}"
                )
    if settings.target in named["drop"] or settings.target in named["categorical"]:
        raise UserError(
            f"column {settings.target!r} is the target; remove it from drop/categorical"
        )

    dropped = tuple(named["drop"])
    remaining = [c for c in columns if c != settings.target and c not in dropped]
    check_scalar_columns(frame, [settings.target, *remaining])
    positive, negative = resolve_labels(
        frame[settings.target] if target_values is None else target_values,
        settings.target,
        settings.positive_label,
        markers,
    )
    notes: list[str] = []
    # which columns hold numbers: from a sample of each column's values, then typed once
    numeric_like = {
        c: numeric_share(frame[c], markers) >= NUMERIC_SHARE
        for c in remaining
        if c not in named["categorical"]
    }
    typed_numbers = {c: to_numbers(frame[c], markers)[0] for c, yes in numeric_like.items() if yes}

    formats: dict[str, str] = {}
    for col in remaining:
        if col in named["categorical"]:
            continue
        given = given_formats.get("columns", {}).get(col, given_formats.get("all"))
        if numeric_like[col] and given is None and not looks_like_time_name(col):
            continue  # numbers, and nothing says they are times
        least = ORDER_SHARE if col == settings.order_by else SHARE
        found = infer_format(frame[col], col, markers, given=given, least=least)
        if found is None and col == settings.order_by and given is not None:
            raise UserError(
                f"order column {col!r}: its values do not fit --timestamp-format {given!r}; "
                "fix the format"
            )
        if found is None:
            continue
        formats[col] = found.format
        if found.assumed:
            notes.append(found.assumed)
    timestamps = tuple(formats)
    order_by = settings.order_by
    if order_by is None and timestamps:
        order_by = timestamps[0]
        notes.append(f"order column: {order_by!r} (parses as timestamps)")
    for col in timestamps:
        notes.append(
            f"timestamp column {col!r} ({describe_format(formats[col])}) is not used as a feature"
        )
    if order_by is not None and order_by not in timestamps:
        notes.append(f"order column {order_by!r} is not used as a feature")

    candidates = [c for c in remaining if c not in timestamps and c != order_by]
    if settings.categorical is not None:
        categorical = tuple(c for c in candidates if c in named["categorical"])
        numeric = tuple(c for c in candidates if c not in categorical)
        for col in numeric:
            if not numeric_like[col]:
                raise UserError(
                    f"column {col!r} is not numeric and not listed as categorical; "
                    f"add it to --categorical or --drop"
                )
    else:
        categorical = tuple(
            c for c in candidates if _inferred_categorical(c, numeric_like[c], typed_numbers)
        )
        numeric = tuple(c for c in candidates if c not in categorical)
        if categorical:
            notes.append(f"categorical columns inferred: {_shown(categorical)}")

    typed_numbers = {c: typed_numbers[c] for c in numeric}
    typed_categories = {c: category_strings(frame[c], markers) for c in categorical}
    identifiers = find_identifiers(typed_numbers, typed_categories)
    if identifiers and not settings.keep_identifiers:
        numeric = tuple(c for c in numeric if c not in identifiers)
        categorical = tuple(c for c in categorical if c not in identifiers)
    # leaks are looked for in at most GUARD_ROWS rows, evenly spaced: shares and ranks
    rows = _evenly_spaced(len(frame), GUARD_ROWS)
    codes = encode_target(frame[settings.target].iloc[rows], positive, negative, markers)
    y = np.where(codes.to_numpy(dtype=float) < 0, np.nan, codes.to_numpy(dtype=float))
    leaks = find_leak_suspects(
        {c: v.iloc[rows] for c, v in typed_numbers.items() if c in numeric},
        {c: v.iloc[rows] for c, v in typed_categories.items() if c in categorical},
        y,
    )
    if leaks and settings.strict:
        raise UserError(
            f"leak suspects (--strict): {'; '.join(f'{c}: {w}' for c, w in leaks.items())}; "
            f"add {drop_hint(dropped, list(leaks))} if they are written after inspection"
        )
    if not numeric and not categorical:
        raise UserError(
            "no feature columns left after removing the target, dropped, timestamp and "
            "identifier columns; check --drop and --target"
        )
    return DataSchema(
        target=settings.target,
        positive_label=positive,
        negative_label=negative,
        numeric=numeric,
        categorical=categorical,
        timestamps=timestamps,
        order_by=order_by,
        dropped=dropped,
        notes=tuple(notes),
        na_values=markers,
        timestamp_formats=formats,
        identifiers=identifiers,
        leak_suspects=leaks,
        max_abs_value=settings.max_abs_value,
    )


def _evenly_spaced(n_rows: int, most: int) -> np.ndarray:
    """Positions of at most ``most`` rows, evenly spaced in file order."""
    if n_rows <= most:
        return np.arange(n_rows)
    return np.linspace(0, n_rows - 1, most).astype(np.int64)


def _given_formats(settings: Settings) -> dict[str, Any]:
    given = settings.timestamp_format
    if given is None:
        return {}
    if isinstance(given, str):
        return {"all": given}
    return {"columns": dict(given)}


def line_differences(kept: DataSchema, new: DataSchema) -> list[str]:
    """How ``new`` differs from the line ``kept`` describes: the target, its defect class, the
    feature columns and their kinds. Anything else (notes, formats, markers) may change."""
    out = []
    if kept.target != new.target:
        out.append(f"target {new.target!r} instead of {kept.target!r}")
    elif kept.positive_label != new.positive_label:
        out.append(f"defect class {new.positive_label!r} instead of {kept.positive_label!r}")
    before = dict.fromkeys(kept.numeric, "numeric") | dict.fromkeys(kept.categorical, "categorical")
    after = dict.fromkeys(new.numeric, "numeric") | dict.fromkeys(new.categorical, "categorical")
    if added := [c for c in after if c not in before]:
        out.append(f"new features {_shown(added, 6)}")
    if removed := [c for c in before if c not in after]:
        out.append(f"missing features {_shown(removed, 6)}")
    if retyped := [c for c in after if c in before and before[c] != after[c]]:
        out.append(f"features of another kind {_shown(retyped, 6)}")
    return out


def check_scalar_columns(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Refuse columns holding lists or mappings (nested Parquet) with a fix, not a crash."""
    for col in columns:
        values = frame[col]
        if values.dtype != object:
            continue
        sample = values.dropna().iloc[:_SAMPLE]
        if sample.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray)).any():
            raise UserError(
                f"column {col!r} holds lists or mappings, not single values; "
                f"flatten it or add it to --drop"
            )


def check_columns(frame: pd.DataFrame, schema: DataSchema, *, need_target: bool = True) -> None:
    """Fail clearly when a batch lacks a column the schema (and so the model) needs."""
    needed = list(schema.features) + ([schema.target] if need_target else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise UserError(
            f"column {missing[0]!r} is missing from the data"
            + (f" (and {len(missing) - 1} more: {_shown(missing[1:])})" if len(missing) > 1 else "")
            + "; the model was trained with it"
        )


# -- target ---------------------------------------------------------------------------------------


def canonical_label(value: Any, markers: Iterable[str] = ()) -> str | None:
    """A comparable text form of a target value: ``1``, ``1.0``, ``"1"`` and ``True`` agree;
    a missing-value marker is no label (None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    if not text or text in set(markers):
        return None
    try:
        number = float(text)
    except ValueError:
        return text.lower()
    return canonical_label(number) if math.isfinite(number) else text.lower()


def resolve_labels(
    target: pd.Series, name: str, positive: str | None, markers: Iterable[str] = ()
) -> tuple[str, str]:
    """The canonical values of ``target`` meaning defect and good; fatal unless two classes."""
    markers = tuple(markers)
    values = sorted({v for v in (canonical_label(u, markers) for u in pd.unique(target)) if v})
    if len(values) != 2:
        if len(values) < 2:
            found = values[0] if values else "no values"
            raise UserError(
                f"target {name!r} has one class only ({found}); "
                "training needs defects and good parts"
            )
        raise UserError(
            f"target {name!r} has {len(values)} classes ({_shown(values)}); it must have exactly "
            f"two (defect / no defect): map it to two values first"
        )
    if positive is not None:
        wanted = canonical_label(positive)
        if wanted not in values:
            raise UserError(
                f"positive label {positive!r} is not a value of target {name!r} "
                f"(values: {_shown(values)}); fix --positive-label"
            )
        chosen = str(wanted)
    elif set(values) == {"-1", "1"}:
        chosen = "1"
    else:
        hits = [v for v in values if v in POSITIVE_TOKENS]
        if len(hits) != 1:
            raise UserError(
                f"cannot tell which value of target {name!r} means defect "
                f"(values: {_shown(values)}); pass --positive-label"
            )
        chosen = hits[0]
    return chosen, next(v for v in values if v != chosen)


def resolve_positive_label(target: pd.Series, name: str, positive: str | None) -> str:
    """The canonical value of ``target`` that means defect (see :func:`resolve_labels`)."""
    return resolve_labels(target, name, positive)[0]


def encode_target(
    target: pd.Series,
    positive_label: str,
    negative_label: str | None = None,
    markers: Iterable[str] = (),
) -> pd.Series:
    """1.0 for defect, 0.0 for good, NaN where the label is missing, -1.0 where it is a value
    of neither class (a third class, a typo): never silently good.

    A value written differently from the two classes maps onto them when it is unambiguous:
    ``yes``/``true``/``fail`` onto the defect class, ``no``/``false``/``ok``/``-1`` onto the
    good one (so a ``yes``/``no`` batch reads onto a ``1``/``0`` model). Without a known
    ``negative_label`` (a schema written before it was recorded) only such words are good.

    >>> encode_target(pd.Series(["1", "0", "2", "", "yes", "no"]), "1", "0").tolist()
    [1.0, 0.0, -1.0, nan, 1.0, 0.0]
    """
    codes, uniques = pd.factorize(target, use_na_sentinel=True)
    mapped = np.array(
        [_label_code(canonical_label(u, markers), positive_label, negative_label) for u in uniques]
        + [np.nan]
    )
    return pd.Series(mapped[codes], index=target.index, name=target.name)


def _label_code(label: str | None, positive: str, negative: str | None) -> float:
    if label is None:
        return np.nan
    if label == positive:
        return 1.0
    if label == negative:
        return 0.0
    if positive in POSITIVE_TOKENS or negative in NEGATIVE_TOKENS:
        if label in POSITIVE_TOKENS:
            return 1.0
        if label in NEGATIVE_TOKENS:
            return 0.0
    return -1.0


def unknown_labels(target: pd.Series, codes: pd.Series, markers: Iterable[str] = ()) -> list[str]:
    """The distinct values of ``target`` that :func:`encode_target` could not map (code -1)."""
    bad = target[codes.to_numpy() == -1]
    return sorted({str(canonical_label(v, markers)) for v in pd.unique(bad)})


# -- column kinds ---------------------------------------------------------------------------------


def category_strings(values: pd.Series, markers: Iterable[str] = ()) -> pd.Series:
    """Categorical values as text, the same whether an ID came as ``101``, ``101.0`` or ``"101"``.

    Missing values (and ``markers``) stay missing (the feature transformer gives them a value of
    their own). Works on the distinct values only, so it stays fast on millions of rows.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    known = set(markers)
    texts = np.array(
        [None if (t := category_text(u)) in known else t for u in uniques] + [None], dtype=object
    )
    return pd.Series(texts[codes], index=values.index, name=values.name, dtype=object)


def category_text(value: Any) -> str | None:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value).strip()
    return text or None


def describe_format(fmt: str) -> str:
    return describe(fmt)


def _inferred_categorical(name: str, numeric_like: bool, numbers: dict[str, pd.Series]) -> bool:
    """Text is categorical; so is an integer column named ``..._id``."""
    if not numeric_like:
        return True
    if not name.lower().endswith("_id"):
        return False
    present = numbers[name].dropna().to_numpy(dtype=float)
    return bool(present.size and np.all(present == np.floor(present)))


def _shown(names: Iterable[Any], limit: int = 12) -> str:
    items = [str(n) for n in names]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
