"""The data contract: which column plays which role, and what the target's values mean.

A :class:`DataSchema` is decided once, from the first data and the settings (see
:mod:`defectops.data.schema_inference`), and then travels with every model, so later batches and
API requests are read the same way the training data was.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from defectops.core.config import DEFAULT_NA_VALUES, FLOAT32_MAX
from defectops.core.errors import UserError

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
        out.append(f"new features {shown(added, 6)}")
    if removed := [c for c in before if c not in after]:
        out.append(f"missing features {shown(removed, 6)}")
    if retyped := [c for c in after if c in before and before[c] != after[c]]:
        out.append(f"features of another kind {shown(retyped, 6)}")
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
            + (f" (and {len(missing) - 1} more: {shown(missing[1:])})" if len(missing) > 1 else "")
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
            f"target {name!r} has {len(values)} classes ({shown(values)}); it must have exactly "
            f"two (defect / no defect): map it to two values first"
        )
    if positive is not None:
        wanted = canonical_label(positive)
        if wanted not in values:
            raise UserError(
                f"positive label {positive!r} is not a value of target {name!r} "
                f"(values: {shown(values)}); fix --positive-label"
            )
        chosen = str(wanted)
    elif set(values) == {"-1", "1"}:
        chosen = "1"
    else:
        hits = [v for v in values if v in POSITIVE_TOKENS]
        if len(hits) != 1:
            raise UserError(
                f"cannot tell which value of target {name!r} means defect "
                f"(values: {shown(values)}); pass --positive-label"
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


def shown(names: Iterable[Any], limit: int = 12) -> str:
    """At most ``limit`` names for an error message, with how many more there are."""
    items = [str(n) for n in names]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
