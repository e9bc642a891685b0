"""Batch bodies read column by column, with the generated pydantic model as the referee.

Validating a 1,000-record batch record by record with pydantic builds 1,000 model objects and
26,000 field checks, which cost more than scoring the batch. A well-formed batch does not need
that: :func:`columns_of_batch` parses the body once (orjson), checks every record's keys as a
set and every column's value types at once, and returns typed columns.

It accepts only what the pydantic model accepts with the same result (numbers within the bound
or null in numeric fields; text no longer than the limit, numbers or null in categorical ones;
the expected keys plus, at most, the ignored columns of the data contract, or any others when
unknown fields are ignored). orjson refuses ``NaN``, ``Infinity`` and numbers beyond float64, so
every number it gives is finite. Anything else returns ``None`` and the caller validates with
the pydantic model, so every error still comes from one place, with the same field-level detail.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson

_NUMBER_TYPES = frozenset({int, float, type(None)})
_CATEGORY_TYPES = frozenset({str, int, float, type(None)})


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

    def keys_allowed(self, keys: set[str]) -> bool:
        """Whether records or a table with ``keys`` (all expected ones present) are accepted."""
        if self.unknown_fields == "ignore":
            return True
        return keys <= {*self.numeric, *self.categorical, *self.ignored}

    def values_allowed(self, numbers: np.ndarray, labels: Sequence[Any]) -> bool:
        """Numbers within the bound; categories of allowed types and lengths.

        Every value's type is checked (a set of values would hide ``True`` behind an equal
        ``1``); lengths only of the distinct values, a few dozen in thousands of rows.
        """
        if (np.abs(numbers) > self.max_abs_value).any():  # NaN (a null) compares False
            return False
        if not set(map(type, labels)) <= _CATEGORY_TYPES:
            return False
        limit = self.max_category_length
        return not any(type(v) is str and len(v) > limit for v in set(labels))


def columns_of_batch(body: bytes, rules: BatchRules) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """``(numbers, categories)`` of the batch, or None when pydantic must judge it."""
    numeric, categorical, max_batch = rules.numeric, rules.categorical, rules.max_batch
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    if payload.keys() == {"columns"}:
        return _from_columns(payload["columns"], rules)
    if payload.keys() != {"records"}:
        return None
    records = payload["records"]
    if not isinstance(records, list) or not 1 <= len(records) <= max_batch:
        return None
    if not all(type(r) is dict for r in records):
        return None
    # every expected key is looked up below (a KeyError falls back); with exactly that many
    # keys in each record there can be no other one
    exact = set(map(len, records)) == {len(numeric) + len(categorical)}
    if not exact and not rules.keys_allowed(set(itertools.chain.from_iterable(records))):
        return None
    try:
        numbers = list(map(_getter(numeric), records))
        labels = list(map(_getter(categorical), records))
    except KeyError:
        return None
    if not set(map(type, itertools.chain.from_iterable(numbers))) <= _NUMBER_TYPES:
        return None
    table = np.empty((len(records), len(categorical)), dtype=object)
    table[:] = labels
    # None -> NaN, as a null numeric field is missing
    values = np.array(numbers, dtype=np.float64).reshape(len(records), len(numeric))
    if not rules.values_allowed(values, list(itertools.chain.from_iterable(labels))):
        return None
    return values, list(table.T)


def _from_columns(table: object, rules: BatchRules) -> tuple[np.ndarray, list[np.ndarray]] | None:
    if type(table) is not dict:
        return None
    numeric, categorical = rules.numeric, rules.categorical
    if not (table.keys() >= {*numeric, *categorical} and rules.keys_allowed(set(table))):
        return None
    lists = [table[name] for name in (*numeric, *categorical)]
    if not all(type(v) is list for v in lists) or len(set(map(len, lists))) != 1:
        return None
    if not 1 <= len(lists[0]) <= rules.max_batch:
        return None
    numbers, labels = lists[: len(numeric)], lists[len(numeric) :]
    if not set(map(type, itertools.chain.from_iterable(numbers))) <= _NUMBER_TYPES:
        return None
    values = np.array(numbers, dtype=np.float64).reshape(len(numeric), len(lists[0])).T
    if not rules.values_allowed(values, list(itertools.chain.from_iterable(labels))):
        return None
    categories = []
    for column in labels:
        array = np.empty(len(column), dtype=object)
        array[:] = column
        categories.append(array)
    return values, categories


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function giving a record's values of ``names`` as a tuple (one C call per record)."""
    if len(names) == 1:
        get = operator.itemgetter(names[0])
        return lambda record: (get(record),)
    if not names:
        return lambda record: ()
    return operator.itemgetter(*names)
