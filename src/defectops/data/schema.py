"""The data contract: which column plays which role, and what the target's values mean.

A :class:`DataSchema` is decided once, from the first data and the settings, and then travels with
every model, so later batches and API requests are read the same way the training data was.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from defectops.config import Settings
from defectops.errors import UserError

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
    "bad",
    "ng",
    "nok",
)
#: numeric columns with at least this share of parseable values are numeric; the rest is quarantined
NUMERIC_SHARE = 0.9
_SAMPLE = 2000


@dataclass(frozen=True)
class DataSchema:
    """Column roles of one data set; the feature columns are ``numeric + categorical``."""

    target: str
    positive_label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    order_by: str | None = None
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

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
    orders the rows when no order column is given).

    ``target_values`` (the target's distinct values over all rows) lets ``frame`` be a sample of
    a data set too large for one frame, such as its first partition: the target's classes must
    come from every row, the columns' kinds can come from a sample.
    """
    columns = list(frame.columns)
    named = {
        "target": [settings.target],
        "categorical": list(settings.categorical or []),
        "drop": list(settings.drop),
        "order_by": [settings.order_by] if settings.order_by else [],
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
    positive = resolve_positive_label(
        frame[settings.target] if target_values is None else target_values,
        settings.target,
        settings.positive_label,
    )
    notes: list[str] = []

    timestamps = tuple(
        c for c in remaining if c not in named["categorical"] and looks_like_timestamp(frame[c])
    )
    order_by = settings.order_by
    if order_by is None and timestamps:
        order_by = timestamps[0]
        notes.append(f"order column: {order_by!r} (parses as timestamps)")
    for col in timestamps:
        notes.append(f"timestamp column {col!r} is not used as a feature")
    if order_by is not None and order_by not in timestamps:
        notes.append(f"order column {order_by!r} is not used as a feature")

    candidates = [c for c in remaining if c not in timestamps and c != order_by]
    if settings.categorical is not None:
        categorical = tuple(c for c in candidates if c in named["categorical"])
        numeric = tuple(c for c in candidates if c not in categorical)
        for col in numeric:
            if not is_numeric_like(frame[col]):
                raise UserError(
                    f"column {col!r} is not numeric and not listed as categorical; "
                    f"add it to --categorical or --drop"
                )
    else:
        categorical = tuple(c for c in candidates if _inferred_categorical(frame[c], c))
        numeric = tuple(c for c in candidates if c not in categorical)
        if categorical:
            notes.append(f"categorical columns inferred: {_shown(categorical)}")
    if not numeric and not categorical:
        raise UserError(
            "no feature columns left after removing the target, dropped and timestamp columns; "
            "check --drop and --target"
        )
    return DataSchema(
        target=settings.target,
        positive_label=positive,
        numeric=numeric,
        categorical=categorical,
        timestamps=timestamps,
        order_by=order_by,
        dropped=dropped,
        notes=tuple(notes),
    )


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


def canonical_label(value: Any) -> str | None:
    """A comparable text form of a target value: ``1``, ``1.0``, ``"1"`` and ``True`` agree."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text.lower()
    return canonical_label(number) if math.isfinite(number) else text.lower()


def resolve_positive_label(target: pd.Series, name: str, positive: str | None) -> str:
    """The canonical value of ``target`` that means defect; fatal unless there are two classes."""
    values = sorted({v for v in map(canonical_label, pd.unique(target)) if v is not None})
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
        return str(wanted)
    if set(values) == {"-1", "1"}:
        return "1"
    hits = [v for v in values if v in POSITIVE_TOKENS]
    if len(hits) != 1:
        raise UserError(
            f"cannot tell which value of target {name!r} means defect (values: {_shown(values)}); "
            f"pass --positive-label"
        )
    return hits[0]


def encode_target(target: pd.Series, positive_label: str) -> pd.Series:
    """1.0 for defect, 0.0 for the other class, NaN where the label is missing or unknown."""
    codes, uniques = pd.factorize(target, use_na_sentinel=True)
    mapped = np.array(
        [
            np.nan if (c := canonical_label(u)) is None else float(c == positive_label)
            for u in uniques
        ]
        + [np.nan]
    )
    return pd.Series(mapped[codes], index=target.index, name=target.name)


# -- column kinds ---------------------------------------------------------------------------------


def category_strings(values: pd.Series) -> pd.Series:
    """Categorical values as text, the same whether an ID came as ``101``, ``101.0`` or ``"101"``.

    Missing values stay missing (the feature transformer gives them a value of their own). Works
    on the distinct values only, so it stays fast on millions of rows.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([category_text(u) for u in uniques] + [None], dtype=object)
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


def is_numeric_like(values: pd.Series) -> bool:
    """Numeric dtype, or text of which at least ``NUMERIC_SHARE`` parses as numbers."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return True
    if pd.api.types.is_datetime64_any_dtype(values):
        return False
    present = values.dropna()
    present = present[present.astype(str).str.strip() != ""]
    if present.empty:
        return True  # an all-missing column: numeric, imputed later
    sample = present.iloc[:_SAMPLE]
    parsed = pd.to_numeric(sample, errors="coerce")
    return bool(parsed.notna().mean() >= NUMERIC_SHARE)


def looks_like_timestamp(values: pd.Series) -> bool:
    """Datetime dtype, or text of which at least ``NUMERIC_SHARE`` parses as date and time.

    A few garbled values must not turn the time column into a feature; validation quarantines
    the rows whose order value does not parse.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    sample = values.dropna().astype(str).str.strip().iloc[:_SAMPLE]
    sample = sample[sample != ""]
    if sample.empty:
        return False
    shaped = sample.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True)
    if shaped.mean() < NUMERIC_SHARE:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample.where(shaped), errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= NUMERIC_SHARE)


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Timestamps as datetime64; values that do not parse become NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(values, errors="coerce", format="mixed")


def _inferred_categorical(values: pd.Series, name: str) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return name.lower().endswith("_id") and _integer_like(values)
    return not is_numeric_like(values)


def _integer_like(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    present = values.dropna().to_numpy(dtype=float)
    return bool(present.size and np.all(present == np.floor(present)))


def _shown(names: Iterable[Any], limit: int = 12) -> str:
    items = [str(n) for n in names]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
