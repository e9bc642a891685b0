"""Deciding a data set's contract from its first data and the settings.

Every role is decided here, once, from the first data; the
:class:`~defectops.data.schema.DataSchema` that comes out travels with every model, so later
batches are read the way the training data was.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.guards import drop_hint, find_identifiers, find_leak_suspects
from defectops.data.markers import numeric_share, to_numbers
from defectops.data.schema import (
    DataSchema,
    category_strings,
    check_scalar_columns,
    encode_target,
    resolve_labels,
    shown,
)
from defectops.data.timestamps import (
    ORDER_SHARE,
    SHARE,
    describe,
    infer_format,
    looks_like_time_name,
)

#: numeric columns with at least this share of parseable values are numeric; the rest is quarantined
NUMERIC_SHARE = 0.9
#: the guards (identifiers, leaks) look at this many rows at most, evenly spaced
GUARD_ROWS = 100_000


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
    markers = tuple(settings.na_values)
    named = _named_columns(frame, settings)
    dropped = tuple(named["drop"])
    remaining = [c for c in frame.columns if c != settings.target and c not in dropped]
    check_scalar_columns(frame, [settings.target, *remaining])
    positive, negative = resolve_labels(
        frame[settings.target] if target_values is None else target_values,
        settings.target,
        settings.positive_label,
        markers,
    )
    # which columns hold numbers: from a sample of each column's values, then typed once
    numeric_like = {
        c: numeric_share(frame[c], markers) >= NUMERIC_SHARE
        for c in remaining
        if c not in named["categorical"]
    }
    typed_numbers = {c: to_numbers(frame[c], markers)[0] for c, yes in numeric_like.items() if yes}

    formats, format_notes = _timestamp_formats(frame, settings, numeric_like)
    timestamps = tuple(formats)
    order_by, order_notes = _order_column(settings, formats)
    candidates = [c for c in remaining if c not in timestamps and c != order_by]
    numeric, categorical, kind_notes = _feature_kinds(
        candidates, settings, numeric_like, typed_numbers
    )
    typed_numbers = {c: typed_numbers[c] for c in numeric}
    typed_categories = {c: category_strings(frame[c], markers) for c in categorical}
    identifiers = find_identifiers(typed_numbers, typed_categories)
    if identifiers and not settings.keep_identifiers:
        numeric = tuple(c for c in numeric if c not in identifiers)
        categorical = tuple(c for c in categorical if c not in identifiers)
    leaks = _leak_suspects(
        frame,
        settings,
        {c: v for c, v in typed_numbers.items() if c in numeric},
        {c: v for c, v in typed_categories.items() if c in categorical},
        (positive, negative),
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
        notes=(*format_notes, *order_notes, *kind_notes),
        na_values=markers,
        timestamp_formats=formats,
        identifiers=identifiers,
        leak_suspects=leaks,
        max_abs_value=settings.max_abs_value,
    )


def _named_columns(frame: pd.DataFrame, settings: Settings) -> dict[str, list[str]]:
    """The columns the settings name, by the setting naming them; each must be in the data."""
    named = {
        "target": [settings.target],
        "categorical": list(settings.categorical or []),
        "drop": list(settings.drop),
        "order_by": [settings.order_by] if settings.order_by else [],
        "timestamp_format": list(_given_formats(settings).get("columns", {})),
    }
    for key, names in named.items():
        for name in names:
            if name not in frame.columns:
                raise UserError(
                    f"column {name!r} (from {key}) is not in the data; "
                    f"available columns: {shown(list(frame.columns))}"
                )
    if settings.target in named["drop"] or settings.target in named["categorical"]:
        raise UserError(
            f"column {settings.target!r} is the target; remove it from drop/categorical"
        )
    return named


def _timestamp_formats(
    frame: pd.DataFrame, settings: Settings, numeric_like: dict[str, bool]
) -> tuple[dict[str, str], list[str]]:
    """The format of each column (not named categorical) that holds timestamps, and the notes
    on formats that were assumed rather than certain."""
    markers = tuple(settings.na_values)
    given_formats = _given_formats(settings)
    formats: dict[str, str] = {}
    notes: list[str] = []
    for col, numbers in numeric_like.items():
        given = given_formats.get("columns", {}).get(col, given_formats.get("all"))
        if numbers and given is None and not looks_like_time_name(col):
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
    return formats, notes


def _order_column(settings: Settings, formats: dict[str, str]) -> tuple[str | None, list[str]]:
    """The column that orders the rows (the first timestamp column when none is given), and the
    notes on the columns that order rather than feed the model."""
    timestamps = tuple(formats)
    order_by = settings.order_by
    notes: list[str] = []
    if order_by is None and timestamps:
        order_by = timestamps[0]
        notes.append(f"order column: {order_by!r} (parses as timestamps)")
    for col in timestamps:
        notes.append(
            f"timestamp column {col!r} ({describe_format(formats[col])}) is not used as a feature"
        )
    if order_by is not None and order_by not in timestamps:
        notes.append(f"order column {order_by!r} is not used as a feature")
    return order_by, notes


def _feature_kinds(
    candidates: list[str],
    settings: Settings,
    numeric_like: dict[str, bool],
    typed_numbers: dict[str, pd.Series],
) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """The numeric and the categorical feature columns: as given, or inferred (with a note)."""
    notes: list[str] = []
    if settings.categorical is not None:
        categorical = tuple(c for c in candidates if c in settings.categorical)
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
            notes.append(f"categorical columns inferred: {shown(categorical)}")
    return numeric, categorical, notes


def _leak_suspects(
    frame: pd.DataFrame,
    settings: Settings,
    numbers: dict[str, pd.Series],
    categories: dict[str, pd.Series],
    labels: tuple[str, str | None],
) -> dict[str, str]:
    """The feature columns that alone decide the label; fatal with ``strict``.

    Looked for in at most ``GUARD_ROWS`` rows, evenly spaced: the guards judge by shares and
    ranks, which a spread sample keeps.
    """
    markers = tuple(settings.na_values)
    rows = _evenly_spaced(len(frame), GUARD_ROWS)
    codes = encode_target(frame[settings.target].iloc[rows], *labels, markers)
    y = np.where(codes.to_numpy(dtype=float) < 0, np.nan, codes.to_numpy(dtype=float))
    leaks = find_leak_suspects(
        {c: v.iloc[rows] for c, v in numbers.items()},
        {c: v.iloc[rows] for c, v in categories.items()},
        y,
    )
    if leaks and settings.strict:
        raise UserError(
            f"leak suspects (--strict): {'; '.join(f'{c}: {w}' for c, w in leaks.items())}; "
            f"add {drop_hint(tuple(settings.drop), list(leaks))} if they are written after "
            "inspection"
        )
    return leaks


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
