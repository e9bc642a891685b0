"""Batch bodies decoded straight into typed columns; the pydantic model stays the referee.

Validating a 1,000-record batch record by record with pydantic builds 1,000 model objects and
26,000 field checks, which cost more than scoring the batch. A well-formed batch does not need
that: :func:`columns_of_batch` decodes the body once with msgspec, against structs built from
the champion's rules, which check every value's type and limit as they read it and hold records
as slotted objects instead of dicts.

The structs take only what the pydantic model takes, with the same values: numbers within the
bound or null in numeric fields; text no longer than the limit, integers, finite numbers or null
in categorical ones (``true`` is no number to either); the features plus, at most, the ignored
columns of the data contract (any value in a record, a list or null in a table), or any other
keys when unknown fields are ignored; duplicate keys take the last value, as pydantic's parser
does. The body must be UTF-8 throughout, even in values nobody reads (msgspec checks only the
text it decodes). Anything else returns ``None`` and the caller validates with the pydantic
model, so every error still comes from one place, with the same field-level detail.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
from msgspec.structs import astuple

from defectops.data.schema import DataSchema
from defectops.serving.schemas import ignored_columns


@dataclass(frozen=True)
class BatchRules:
    """What a batch body must hold: the champion's columns and the limits of their values."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ignored: frozenset[str]
    max_batch: int
    max_abs_value: float
    max_category_length: int
    unknown_fields: Literal["reject", "ignore"]

    @classmethod
    def for_schema(
        cls,
        schema: DataSchema,
        *,
        max_batch: int,
        max_category_length: int,
        unknown_fields: Literal["reject", "ignore"],
    ) -> BatchRules:
        """The rules of a champion's data contract, as its pydantic models state them."""
        return cls(
            numeric=tuple(schema.numeric),
            categorical=tuple(schema.categorical),
            ignored=frozenset(ignored_columns(schema)),
            max_batch=max_batch,
            max_abs_value=schema.max_abs_value,
            max_category_length=max_category_length,
            unknown_fields=unknown_fields,
        )

    @functools.cached_property
    def decoder(self) -> msgspec.json.Decoder[Any]:
        """The body's decoder: ``{"records": [...]}`` or ``{"columns": {...}}``, one of them."""
        bound = self.max_abs_value
        number = Annotated[float, msgspec.Meta(ge=-bound, le=bound)] | None
        text = Annotated[str, msgspec.Meta(max_length=self.max_category_length)]
        category = text | int | float | None
        kinds = [number] * len(self.numeric) + [category] * len(self.categorical)
        names = (*self.numeric, *self.categorical)
        # attribute names of our own: a column may be called anything, even "__init__"
        rename = {f"f{i}": name for i, name in enumerate(names)}
        rename.update({f"g{i}": name for i, name in enumerate(sorted(self.ignored))})
        forbid = self.unknown_fields == "reject"
        record = msgspec.defstruct(
            "Record",
            [
                *[(f"f{i}", kind) for i, kind in enumerate(kinds)],
                *[(f"g{i}", msgspec.Raw, msgspec.UNSET) for i in range(len(self.ignored))],
            ],
            rename=rename,
            forbid_unknown_fields=forbid,
            gc=False,  # scalars only: nothing for the cycle collector to find
        )
        table = msgspec.defstruct(
            "Table",
            [
                *[(f"f{i}", list[kind]) for i, kind in enumerate(kinds)],  # type: ignore[valid-type]
                *[(f"g{i}", list[msgspec.Raw] | None, None) for i in range(len(self.ignored))],
            ],
            rename=rename,
            forbid_unknown_fields=forbid,
        )
        records = Annotated[list[record], msgspec.Meta(min_length=1, max_length=self.max_batch)]  # type: ignore[valid-type]
        body = msgspec.defstruct(
            "Body",
            [
                ("records", records | msgspec.UnsetType, msgspec.UNSET),
                ("columns", table | msgspec.UnsetType, msgspec.UNSET),
            ],
            forbid_unknown_fields=True,
        )
        return msgspec.json.Decoder(body)

    @functools.cached_property
    def count(self) -> int:
        """How many features a record holds (the first fields of a decoded struct)."""
        return len(self.numeric) + len(self.categorical)


def columns_of_batch(body: bytes, rules: BatchRules) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """``(numbers, categories)`` of the batch, or None when pydantic must judge it."""
    if not body.isascii():  # msgspec checks the text it reads, not the values it skips
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        parsed = rules.decoder.decode(body)
    except msgspec.DecodeError:  # the parent of ValidationError
        return None
    records, table = parsed.records, parsed.columns
    if (records is msgspec.UNSET) == (table is msgspec.UNSET):
        return None  # neither or both
    # a struct as a tuple is the quickest way to its values: features first, then ignored ones
    lists: Sequence[Sequence[Any]]
    if table is msgspec.UNSET:
        lists = list(zip(*map(astuple, records), strict=True))[: rules.count]
    else:
        lists = astuple(table)[: rules.count]
        if len(set(map(len, lists))) != 1 or not 1 <= len(lists[0]) <= rules.max_batch:
            return None
    return _typed(lists, len(rules.numeric))


def _typed(lists: Sequence[Sequence[Any]], k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Equally long columns as (rows x numeric float64, one object array per categorical)."""
    rows = len(lists[0])
    # None -> NaN, as a null numeric field is missing
    values = np.array(lists[:k], dtype=np.float64).reshape(k, rows).T
    categories = []
    for column in lists[k:]:
        array = np.empty(rows, dtype=object)
        array[:] = column
        categories.append(array)
    return values, categories
