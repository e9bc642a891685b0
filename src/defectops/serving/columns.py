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

import functools
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

    @functools.cached_property
    def getter(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """A record's values of every expected column as a tuple (one C call per record)."""
        names = (*self.numeric, *self.categorical)
        if len(names) == 1:
            get = operator.itemgetter(names[0])
            return lambda record: (get(record),)
        return operator.itemgetter(*names)

    def keys_allowed(self, keys: set[str]) -> bool:
        """Whether records or a table with ``keys`` (all expected ones present) are accepted."""
        if self.unknown_fields == "ignore":
            return True
        return keys <= {*self.numeric, *self.categorical, *self.ignored}

    def values_allowed(self, numbers: np.ndarray, labels: Sequence[Sequence[Any]]) -> bool:
        """Numbers within the bound; categories (one sequence per column) of allowed types and
        lengths.

        Types and lengths are read off each column's distinct values, a few dozen in thousands
        of rows. A set hides ``True`` behind an equal ``1`` (and ``False`` behind ``0``), so a
        column holding a 0 or a 1 has every value's type checked.
        """
        if (np.abs(numbers) > self.max_abs_value).any():  # NaN (a null) compares False
            return False
        limit = self.max_category_length
        for column in labels:
            try:
                distinct = set(column)
            except TypeError:  # a list or an object: not a category
                return False
            if not set(map(type, distinct)) <= _CATEGORY_TYPES:
                return False
            if (0 in distinct or 1 in distinct) and bool in set(map(type, column)):
                return False
            if any(type(v) is str and len(v) > limit for v in distinct):
                return False
        return True


def columns_of_batch(body: bytes, rules: BatchRules) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """``(numbers, categories)`` of the batch, or None when pydantic must judge it."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    if payload.keys() == {"columns"}:
        lists = _column_lists(payload["columns"], rules)
    elif payload.keys() == {"records"}:
        lists = _record_lists(payload["records"], rules)
    else:
        return None
    return None if lists is None else _typed(lists, rules)


def _record_lists(records: object, rules: BatchRules) -> list[Sequence[Any]] | None:
    """The records' values, one tuple per expected column (numeric ones first)."""
    if type(records) is not list or not 1 <= len(records) <= rules.max_batch:
        return None
    if set(map(type, records)) != {dict}:
        return None
    # every expected key is looked up below (a KeyError falls back); with exactly that many
    # keys in each record there can be no other one
    exact = set(map(len, records)) == {len(rules.numeric) + len(rules.categorical)}
    if not exact and not rules.keys_allowed(set(itertools.chain.from_iterable(records))):
        return None
    try:
        rows = list(map(rules.getter, records))
    except KeyError:
        return None
    return list(zip(*rows, strict=True))


def _column_lists(table: object, rules: BatchRules) -> list[Sequence[Any]] | None:
    """The table's lists, one per expected column (numeric ones first)."""
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
    return lists


def _typed(
    lists: list[Sequence[Any]], rules: BatchRules
) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Equally long columns as (rows x numeric float64, one object array per categorical)."""
    k, rows = len(rules.numeric), len(lists[0])
    numbers, labels = lists[:k], lists[k:]
    if not set(map(type, itertools.chain.from_iterable(numbers))) <= _NUMBER_TYPES:
        return None
    # None -> NaN, as a null numeric field is missing
    values = np.array(numbers, dtype=np.float64).reshape(k, rows).T
    if not rules.values_allowed(values, labels):
        return None
    categories = []
    for column in labels:
        array = np.empty(rows, dtype=object)
        array[:] = column
        categories.append(array)
    return values, categories
