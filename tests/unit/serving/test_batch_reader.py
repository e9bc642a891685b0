"""The fast batch reader against the pydantic models, on generated and hand-written bodies.

Whatever :func:`columns_of_batch` returns must be what the pydantic models the service builds
from the same schema make of the same body: they accept it, and the feature values they hold are
the reader's, value for value and type for type (``2`` stays an int, ``2.0`` a float, ``-0.0``
keeps its sign, null is NaN in a numeric column and None in a categorical one). The reader may
leave a valid body to pydantic, but not a plainly valid one: then the fast path would silently
stop being used.

Bodies are written as JSON text by hand (:func:`dump`), so that they can hold what a dict cannot:
duplicate keys, ``NaN`` literals, numbers spelled ``2E0`` or with fifty digits.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from defectops.core.config import FLOAT32_MAX
from defectops.data.schema import DataSchema
from defectops.serving.bodies import is_columns
from defectops.serving.columns import BatchRules, columns_of_batch
from defectops.serving.schemas import (
    batch_model,
    columns_model,
    feature_values,
    ignored_columns,
    record_model,
)

MAX_BATCH = 4
MAX_LENGTH = 3  # the longest categorical text


class Raw(str):
    """JSON text written as is: ``NaN``, ``1e400``, ``2E0``, a string with its own escapes."""


class Obj(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs, in order, duplicates allowed (not a JSON list:
    tell them apart with ``type(x) is list``)."""


def dump(value: Any, ascii_only: bool = False, escape_keys: bool = False) -> str:
    """JSON text of ``value``; keys may be written as ``\\uXXXX`` escapes, text as UTF-8 or not."""
    again = functools.partial(dump, ascii_only=ascii_only, escape_keys=escape_keys)
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Obj):

        def key(k: str) -> str:
            if escape_keys and all(ord(c) < 0x10000 for c in k):
                return '"' + "".join(f"\\u{ord(c):04x}" for c in k) + '"'
            return json.dumps(k, ensure_ascii=ascii_only)

        return "{" + ",".join(f"{key(k)}:{again(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(again(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@dataclass(frozen=True)
class Service:
    """The reader's rules and the pydantic models, built from one schema as the service does."""

    schema: DataSchema
    rules: BatchRules
    batch: type[BaseModel]
    columns: type[BaseModel]

    @property
    def features(self) -> tuple[str, ...]:
        return self.schema.features

    @property
    def ignored(self) -> tuple[str, ...]:
        return ignored_columns(self.schema)


def service(unknown_fields: Literal["reject", "ignore"], max_abs_value: float) -> Service:
    schema = DataSchema(
        target="Machine failure",
        positive_label="1",
        numeric=("Air temperature [K]", "torque"),
        categorical=("Type", "line"),
        timestamps=("ts",),
        dropped=("note",),
        identifiers={"UDI": "unique per row"},
        max_abs_value=max_abs_value,
    )
    record = record_model(schema, None, unknown_fields, max_category_length=MAX_LENGTH)
    return Service(
        schema=schema,
        rules=BatchRules.for_schema(
            schema,
            max_batch=MAX_BATCH,
            max_category_length=MAX_LENGTH,
            unknown_fields=unknown_fields,
        ),
        batch=batch_model(record, MAX_BATCH),
        columns=columns_model(
            schema, None, MAX_BATCH, unknown_fields, max_category_length=MAX_LENGTH
        ),
    )


SERVICES = {
    f"{mode}-{bound:g}": service(mode, bound)
    for mode in ("reject", "ignore")
    for bound in (FLOAT32_MAX, 1000.0)
}
each_service = pytest.mark.parametrize("svc", list(SERVICES.values()), ids=list(SERVICES))


def test_the_schema_has_ignored_columns():
    svc = SERVICES["reject-1000"]
    assert svc.ignored == ("Machine failure", "ts", "note", "UDI")
    assert svc.rules.max_abs_value == 1000.0


# -- the reference -------------------------------------------------------------------------------


def typed(value: Any) -> tuple[str, str]:
    """A value as its type and exact spelling: ``2``, ``2.0`` and ``-0.0`` all differ."""
    return type(value).__name__, repr(value)


def pydantic_columns(svc: Service, body: bytes) -> list[list[Any]] | str:
    """The feature columns the service's pydantic path takes from ``body``, or why it refuses.

    The model is the one the route falls back to for this body (records or columns).
    """
    n = len(svc.features)
    try:
        if is_columns(body):
            return [
                list(c) for c in feature_values(svc.columns.model_validate_json(body).columns, n)
            ]
        parsed = svc.batch.model_validate_json(body)
    except ValidationError as exc:
        return str(exc)
    rows = [feature_values(r, n) for r in parsed.records]
    return [list(c) for c in zip(*rows, strict=True)]


def check(svc: Service, body: bytes) -> bool:
    """Assert the reader agrees with pydantic on ``body``; whether the reader took it."""
    fast = columns_of_batch(body, svc.rules)
    if fast is None:
        return False
    expected = pydantic_columns(svc, body)
    assert not isinstance(expected, str), f"reader took {body!r}, pydantic refused:\n{expected}"
    numbers, categories = fast
    k = len(svc.schema.numeric)
    rows = len(expected[0])
    assert numbers.dtype == np.float64 and numbers.shape == (rows, k)
    for j, column in enumerate(expected[:k]):
        assert all(v is None or type(v) is float for v in column), column
        want = [typed(math.nan if v is None else v) for v in column]
        assert [typed(v) for v in numbers[:, j].tolist()] == want, body
    assert len(categories) == len(expected) - k
    for array, column in zip(categories, expected[k:], strict=True):
        assert array.dtype == object and array.shape == (rows,)
        assert [typed(v) for v in array.tolist()] == [typed(v) for v in column], body
    return True


# -- generated bodies ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3).map(lambda d: Obj(d.items()))
    ),
    max_leaves=6,
)


@st.composite
def decimal_texts(draw: Any, bound: float) -> Raw:
    """A JSON number within ``bound`` spelled any way: many digits, fractions, exponents."""
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(st.from_regex(r"0|[1-9][0-9]{0,24}", fullmatch=True))
    fraction = draw(st.from_regex(r"(\.[0-9]{1,40})?", fullmatch=True))
    exponent = draw(st.from_regex(r"([eE][+-]?[0-9]{1,2})?", fullmatch=True))
    text = sign + whole + fraction + exponent
    value = float(text)
    if abs(value) > bound:
        text = sign + "0" + fraction
    return Raw(text)


def numbers(bound: float) -> st.SearchStrategy[Any]:
    return (
        st.none()
        | st.floats(-bound, bound, allow_nan=False)
        | st.integers(-int(bound), int(bound))
        | st.sampled_from([0, -0.0, 2, 2.0, bound, -bound])
        | decimal_texts(bound)
    )


texts = st.text(st.characters(codec="utf-8"), max_size=MAX_LENGTH) | st.sampled_from(
    ["é" * MAX_LENGTH, "😀" * MAX_LENGTH, '"\\', "\x00\n"]
)
categories = (
    st.none()
    | texts
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([2, 2.0, -0.0, 10**30, -(10**30), 2**64, 1e308, Raw("2E0"), Raw("1e-400")])
)


def values_of(svc: Service, name: str) -> st.SearchStrategy[Any]:
    return numbers(svc.schema.max_abs_value) if name in svc.schema.numeric else categories


UNKNOWN = ["extra", "Air_temperature_K", "f0", "g0", "type", "records", "columns", ""]


@st.composite
def valid_records(draw: Any, svc: Service) -> Obj:
    """``{"records": [...]}`` that pydantic accepts, keys in any order."""
    unknown = UNKNOWN if svc.rules.unknown_fields == "ignore" else []
    out = []
    for _ in range(draw(st.integers(1, MAX_BATCH))):
        pairs = [(name, draw(values_of(svc, name))) for name in svc.features]
        for name in draw(st.lists(st.sampled_from([*svc.ignored, *unknown]), unique=True)):
            pairs.append((name, draw(json_values)))
        out.append(Obj(draw(st.permutations(pairs))))
    return Obj([("records", out)])


@st.composite
def valid_columns(draw: Any, svc: Service) -> Obj:
    """``{"columns": {...}}`` that pydantic accepts; ignored columns any length, or null."""
    unknown = UNKNOWN if svc.rules.unknown_fields == "ignore" else []
    rows = draw(st.integers(1, MAX_BATCH))
    pairs = [
        (name, draw(st.lists(values_of(svc, name), min_size=rows, max_size=rows)))
        for name in svc.features
    ]
    for name in draw(st.lists(st.sampled_from(svc.ignored), unique=True)):
        pairs.append((name, draw(st.none() | st.lists(json_values, max_size=MAX_BATCH + 1))))
    for name in draw(st.lists(st.sampled_from(unknown), unique=True)) if unknown else []:
        pairs.append((name, draw(json_values)))
    return Obj([("columns", Obj(draw(st.permutations(pairs))))])


def odd_values(svc: Service) -> st.SearchStrategy[Any]:
    """Values a field may be sent: wrong types, limits and one past them, text tricks."""
    bound = svc.schema.max_abs_value
    past = math.nextafter(bound, math.inf)
    limits = [bound, -bound, past, -past, int(bound), int(bound) + 1, 1e39, -1e39, 1e308]
    close = Raw(f"{bound:.17e}".replace("e", "0001e"))  # just past the bound, read as it
    exact = [10**30, -(10**30), 10**400, 2**63, -(2**63) - 1, -0.0, 0, 2, 2.0, close]
    spellings = [Raw(t) for t in ("2E0", "-0", "1e400", "-1e400", "1e-400", "NaN", "Infinity")]
    wrong = [True, False, None, "", "x", "2", "inf", "NaN", [], [1], [None], Obj(), Obj([("a", 1)])]
    long = ["é" * MAX_LENGTH, "é" * (MAX_LENGTH + 1), "😀" * MAX_LENGTH, "😀" * (MAX_LENGTH + 1)]
    escaped = [
        Raw(f'"{t}"') for t in ("\\u00e9" * 3, "\\ud83d\\ude00", "\\ud800", "a\nb", "\\u0000")
    ]
    hostile = st.sampled_from([*wrong, *limits, *exact, *spellings, *long, *escaped])
    # half the values from the list above, half from the wider strategies
    return st.one_of(hostile, hostile, hostile, json_values, numbers(bound), categories)


def edges_of(svc: Service, key: str) -> st.SearchStrategy[Any]:
    """Values at a feature's limits and just past them, about half of them past."""
    bound = svc.schema.max_abs_value
    if key in svc.schema.numeric:
        past = math.nextafter(bound, math.inf)
        near = st.tuples(st.floats(bound / 2, past * 2), st.booleans())
        extremes = [bound, -bound, past, -past, 1e39, -1e39, 1e308, 10**30, 10**400]
        close = Raw(f"{bound:.17e}".replace("e", "0001e"))  # past the bound, read as it
        return near.map(lambda x: -x[0] if x[1] else x[0]) | st.sampled_from([*extremes, close])
    letters = 'aé😀\\"'
    at = st.text(letters, min_size=MAX_LENGTH, max_size=MAX_LENGTH)
    past_it = st.text(letters, min_size=MAX_LENGTH + 1, max_size=MAX_LENGTH + 1)
    escaped = st.sampled_from(
        [Raw('"' + "\\u00e9" * n + '"') for n in (MAX_LENGTH, MAX_LENGTH + 1)]
    )
    return at | past_it | escaped | st.sampled_from([10**30, 1e308, 1e400, -0.0, 2.0, 2])


def pick(draw: Any, pairs: Obj) -> int | None:
    return draw(st.integers(0, len(pairs) - 1)) if pairs else None


@st.composite
def mutated_object(
    draw: Any, svc: Service, pairs: Obj, table: bool, kind: str | None = None
) -> str:
    """Change one record or the table in place: a value, a key dropped, added or doubled, an
    ignored column's value, a column's length."""
    i = pick(draw, pairs)
    keys = [*svc.features, *svc.ignored, *UNKNOWN]
    kinds = ["value", "value", "drop", "add", "duplicate", "ignored", "length"]
    kind = kind or draw(st.sampled_from(kinds if table else kinds[:-1]))
    if kind == "value" and i is not None:
        key, old = pairs[i]
        value = draw(
            odd_values(svc) | (edges_of(svc, key) if key in svc.features else st.nothing())
        )
        if table and type(old) is list and old and draw(st.integers(0, 3)) > 0:
            old[draw(st.integers(0, len(old) - 1))] = value
        else:
            pairs[i] = (key, value)
    elif kind == "drop" and i is not None:
        del pairs[i]
    elif kind == "add":
        value = draw(st.lists(json_values, max_size=MAX_BATCH) | json_values | odd_values(svc))
        pairs.insert(draw(st.integers(0, len(pairs))), (draw(st.sampled_from(keys)), value))
    elif kind == "duplicate" and i is not None:
        key, old = pairs[i]
        value = draw(
            st.lists(odd_values(svc), max_size=MAX_BATCH + 1) | st.just(old) | odd_values(svc)
        )
        pairs.insert(draw(st.integers(0, len(pairs))), (key, value))
    elif kind == "length" and i is not None:
        key, old = pairs[i]
        if type(old) is list:
            change = draw(st.sampled_from(["append", "pop", "empty", "grow"]))
            if change == "append":
                old.append(draw(values_of(svc, key) if key in svc.features else json_values))
            elif change == "pop" and old:
                old.pop()
            elif change == "empty":
                old.clear()
            else:
                old.extend(old[:1] * (MAX_BATCH + 1))
    elif kind == "ignored":
        name = draw(st.sampled_from(svc.ignored))
        value = draw(st.none() | st.lists(odd_values(svc), max_size=3) | odd_values(svc))
        pairs.insert(draw(st.integers(0, len(pairs))), (name, value))
    return kind


@st.composite
def mutated_size(draw: Any, svc: Service, content: Any) -> str:
    """Change the number of rows: none, as many as allowed and more (or a record not one)."""
    kinds = ["over the limit", "at the limit", "empty"]
    kind = draw(st.sampled_from(kinds if isinstance(content, Obj) else [*kinds, "non-object"]))
    if kind == "non-object":
        content[draw(st.integers(0, len(content) - 1))] = draw(odd_values(svc))
        return kind
    size = {"empty": 0, "at the limit": MAX_BATCH, "over the limit": MAX_BATCH + 1}[kind]
    if isinstance(content, Obj):  # every column of the table, features and ignored
        for i, (key, column) in enumerate(content):
            if type(column) is list:
                content[i] = (key, (column * size)[:size])
    else:
        content[:] = (content * size)[:size]
    return kind


@st.composite
def mutated_top(draw: Any, svc: Service, body: Obj) -> str:
    """Change the body's top-level keys: both layouts, one too many, none, one twice, ..."""
    (layout, content), other = body[0], "columns" if body[0][0] == "records" else "records"
    kind = draw(st.sampled_from(["extra", "both", "duplicate", "drop", "null", "scalar", "wrap"]))
    if kind == "both":
        body.insert(draw(st.integers(0, 1)), (other, draw(valid_bodies(svc))[0][1]))
    elif kind == "extra":
        body.append((draw(st.sampled_from(["extra", "Records", "model_version"])), 1))
    elif kind == "drop":
        body.clear()
    elif kind == "duplicate":
        body.insert(draw(st.integers(0, 1)), (layout, draw(odd_values(svc) | st.just(content))))
    elif kind == "wrap":  # a table as a record, records as a table
        body[0] = (other, [content] if other == "records" else content)
    else:
        body[0] = (layout, None if kind == "null" else draw(odd_values(svc)))
    return kind


def valid_bodies(svc: Service) -> st.SearchStrategy[Obj]:
    return valid_records(svc) | valid_columns(svc)


@st.composite
def as_text(draw: Any, body: Obj, spoil: bool = False) -> bytes:
    """The body as bytes, escaped one way or another; spoiled as text if asked."""
    text = dump(body, ascii_only=draw(st.booleans()), escape_keys=draw(st.integers(0, 4)) == 4)
    how = (
        draw(st.sampled_from(["cut", "trailing", "bom", "spaces", "nan", "comma"])) if spoil else ""
    )
    if how == "cut":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif how == "trailing":
        text += draw(st.sampled_from(["x", "}", ",", "{}", "\x00"]))
    elif how == "bom":
        text = "\ufeff" + text
    elif how == "spaces":  # still valid
        text = f" \n\t{text}\r\n "
    elif how == "nan":
        text = text.replace(":null", ":NaN", 1).replace("[null", "[Infinity", 1)
    elif how == "comma":
        text = text.replace("]", ",]", 1)
    if how:
        event(f"text: {how}")
    return text.encode()


def change_inside(draw: Any, svc: Service, body: Obj, kind: str | None = None) -> None:
    """One change inside a record (any of them) or the table."""
    layout, content = body[0]
    if layout == "columns":
        event(f"table: {draw(mutated_object(svc, content, table=True, kind=kind))}")
    else:
        record = content[draw(st.integers(0, len(content) - 1))]
        event(f"record: {draw(mutated_object(svc, record, table=False, kind=kind))}")


@st.composite
def one_value_at_its_limits(draw: Any, svc: Service) -> bytes:
    """A valid body with one feature value at or past its limits, or of another type."""
    body = draw(valid_bodies(svc))
    layout, content = body[0]
    key = draw(st.sampled_from(svc.features))
    pairs = content if layout == "columns" else content[draw(st.integers(0, len(content) - 1))]
    i = next(i for i, (k, _) in enumerate(pairs) if k == key)
    value = draw(edges_of(svc, key) | st.sampled_from([True, False, "1", [1], Obj()]))
    if layout == "columns":
        pairs[i][1][draw(st.integers(0, len(pairs[i][1]) - 1))] = value
    else:
        pairs[i] = (key, value)
    return draw(as_text(body))


@st.composite
def one_change(draw: Any, svc: Service, kind: str) -> bytes:
    """A valid body with one value, or one key, changed."""
    body = draw(valid_columns(svc) if kind == "length" else valid_bodies(svc))
    change_inside(draw, svc, body, kind)
    return draw(as_text(body))


@st.composite
def reshaped(draw: Any, svc: Service, scope: str) -> bytes:
    """A valid body with its rows, its top-level keys or its text changed, or all of them and
    some changes inside."""
    body = draw(valid_bodies(svc))
    for _ in range(draw(st.integers(1, 2)) if scope == "all" else 0):
        change_inside(draw, svc, body)
    if scope in ("size", "all"):
        event(f"size: {draw(mutated_size(svc, body[0][1]))}")
    if scope in ("top", "all"):
        event(f"top: {draw(mutated_top(svc, body))}")
    return draw(as_text(body, spoil=scope in ("text", "all")))


def settings(examples: int) -> Any:
    return hsettings(
        max_examples=examples,
        derandomize=True,  # the same bodies on every run
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


services = st.sampled_from(list(SERVICES.values()))


@settings(100)
@given(svc=services, data=st.data())
def test_plainly_valid_bodies_take_the_fast_path_with_pydantics_values(svc, data):
    body = data.draw(valid_bodies(svc))
    text = dump(body, ascii_only=data.draw(st.booleans()))
    assert check(svc, text.encode()), f"reader left a valid body to pydantic: {text!r}"


@settings(150)
@given(svc=services, data=st.data())
def test_whatever_the_reader_takes_with_a_value_at_its_limits_pydantic_takes_alike(svc, data):
    took = check(svc, data.draw(one_value_at_its_limits(svc)))
    event("reader took it" if took else "reader left it to pydantic")


@pytest.mark.parametrize("kind", ["value", "drop", "add", "duplicate", "ignored", "length"])
@settings(40)
@given(svc=services, data=st.data())
def test_whatever_the_reader_takes_with_one_change_pydantic_takes_alike(kind, svc, data):
    took = check(svc, data.draw(one_change(svc, kind)))
    event("reader took it" if took else "reader left it to pydantic")


@pytest.mark.parametrize("scope", ["size", "top", "text", "all"])
@settings(40)
@given(svc=services, data=st.data())
def test_whatever_the_reader_takes_reshaped_pydantic_takes_alike(scope, svc, data):
    took = check(svc, data.draw(reshaped(svc, scope)))
    event("reader took it" if took else "reader left it to pydantic")


# -- hand-written bodies -------------------------------------------------------------------------

GOOD = '"Air temperature [K]":300.5,"torque":40,"Type":"L","line":7'
TABLE = '"Air temperature [K]":[300.5],"torque":[40],"Type":["L"],"line":[7]'


def records_of(*fields: str) -> bytes:
    return ('{"records":[{' + ",".join(fields) + "}]}").encode()


def table_of(*fields: str) -> bytes:
    return ('{"columns":{' + ",".join(fields) + "}}").encode()


def table_with_rows(n: int) -> bytes:
    row = {"Air temperature [K]": 300.5, "torque": 40, "Type": "L", "line": 7}
    return table_of(*(f"{json.dumps(c)}:{json.dumps([v] * n)}" for c, v in row.items()))


# (body, whether the reader must take it: True, False, "either", "unknown ignored" when unknown
# fields are, "within the bound" when max_abs_value is FLOAT32_MAX); the reader's answer is
# always checked against pydantic
EDGES = {
    "plain record": (records_of(GOOD), True),
    "plain table": (table_of(TABLE), True),
    "nulls": (records_of(GOOD.replace("300.5", "null").replace('"L"', "null")), True),
    "-0.0 and 2.0 kept": (records_of(GOOD.replace("300.5", "-0.0").replace("7", "2.0")), True),
    "huge integer category": (records_of(GOOD.replace("7", str(10**30))), True),
    "1e39 numeric": (records_of(GOOD.replace("300.5", "1e39")), False),
    "1e308 numeric": (records_of(GOOD.replace("300.5", "1e308")), False),
    "10**30 numeric": (records_of(GOOD.replace("300.5", str(10**30))), "within the bound"),
    "1e400 category": (records_of(GOOD.replace("7", "1e400")), False),
    "NaN numeric": (records_of(GOOD.replace("300.5", "NaN")), False),
    "Infinity category": (table_of(TABLE.replace("[7]", "[Infinity]")), False),
    "true numeric": (records_of(GOOD.replace("300.5", "true")), False),
    "false category": (records_of(GOOD.replace("7", "false")), False),
    "text numeric": (records_of(GOOD.replace("300.5", '"300.5"')), False),
    "list category": (records_of(GOOD.replace("7", "[7]")), False),
    "category at the limit, é": (
        records_of(GOOD.replace('"L"', '"' + "é" * MAX_LENGTH + '"')),
        True,
    ),
    "category past the limit, é": (
        records_of(GOOD.replace('"L"', '"' + "é" * (MAX_LENGTH + 1) + '"')),
        False,
    ),
    "category at the limit, escaped astral": (
        records_of(GOOD.replace('"L"', '"' + "\\ud83d\\ude00" * MAX_LENGTH + '"')),
        True,
    ),
    "lone surrogate": (records_of(GOOD.replace('"L"', '"\\ud800"')), False),
    "missing key": (records_of(GOOD.replace(',"torque":40', "")), False),
    "unknown key": (records_of(GOOD, '"extra":1'), "unknown ignored"),
    "python name of a feature": (records_of(GOOD, '"Air_temperature_K":1'), "unknown ignored"),
    "ignored columns, any value": (records_of(GOOD, '"ts":{"a":[1]}', '"UDI":true'), True),
    "ignored column NaN": (records_of(GOOD, '"ts":NaN'), False),
    "ignored column scalar in a table": (table_of(TABLE, '"ts":5'), False),
    "ignored column null in a table": (table_of(TABLE, '"ts":null'), True),
    "ignored column longer in a table": (table_of(TABLE, '"ts":[1,2,3]'), True),
    "duplicate key, last valid": (records_of(GOOD, '"torque":"x"', '"torque":41'), "either"),
    "duplicate key, last invalid": (records_of(GOOD, '"torque":"x"'), False),
    "duplicate key, both valid": (records_of(GOOD, '"torque":41'), True),
    "duplicate records": (b'{"records":[{' + GOOD.encode() + b'}],"records":[]}', False),
    "unequal columns": (table_of(TABLE.replace("[40]", "[40,41]")), False),
    "empty columns": (
        table_of(*(f'"{c}":[]' for c in ("Air temperature [K]", "torque", "Type", "line"))),
        False,
    ),
    "empty records": (b'{"records":[]}', False),
    "too many rows in a table": (table_with_rows(MAX_BATCH + 1), False),
    "rows at the limit in a table": (table_with_rows(MAX_BATCH), True),
    "category not UTF-8": (records_of(GOOD).replace(b'"L"', b'"\xff"'), False),
    "too many records": (
        ('{"records":[' + ",".join(["{" + GOOD + "}"] * (MAX_BATCH + 1)) + "]}").encode(),
        False,
    ),
    "both layouts": (
        b'{"records":[{' + GOOD.encode() + b'}],"columns":{' + TABLE.encode() + b"}}",
        False,
    ),
    "extra top-level key": (b'{"records":[{' + GOOD.encode() + b'}],"x":1}', False),
    "record not an object": (b'{"records":[1]}', False),
    "invalid JSON": (b'{"records":[{' + GOOD.encode() + b"}]", False),
    "trailing text": (records_of(GOOD) + b"x", False),
    "byte order mark": ("\ufeff".encode() + records_of(GOOD), False),
    "empty body": (b"", False),
}


@each_service
@pytest.mark.parametrize("body, fast", list(EDGES.values()), ids=list(EDGES))
def test_hand_written_bodies(svc, body, fast):
    took = check(svc, body)
    expected = {
        "either": took,
        "unknown ignored": svc.rules.unknown_fields == "ignore",
        "within the bound": svc.rules.max_abs_value == FLOAT32_MAX,
    }.get(fast, fast)
    assert took == expected


# Bytes that are not UTF-8 (or UTF-8 of a surrogate) where the reader does not read them as text:
# pydantic refuses the whole body as invalid JSON (a 422), so the reader must refuse it as well.
SKIPPED = {
    "ignored column of a record": records_of(GOOD, '"ts":"#"'),
    "ignored column of a table": table_of(TABLE, '"ts":["#"]'),
    "unknown field": records_of(GOOD, '"extra":"#"'),
    "unknown key": records_of(GOOD, '"#":1'),
    "unknown field in a table": table_of(TABLE, '"extra":{"#":1}'),
}


def not_utf8_cases() -> list[Any]:
    cases = []
    for name, body in SKIPPED.items():
        for bad, spelled in ((b"\xff\xfe", "0xff 0xfe"), (b"\xed\xa0\x80", "a surrogate")):
            for sid, svc in SERVICES.items():
                ids = f"{name}, {spelled}-{sid}"
                cases.append(pytest.param(svc, body.replace(b"#", bad), id=ids))
    return cases


@pytest.mark.parametrize("svc, body", not_utf8_cases())
def test_bytes_that_are_not_utf8_where_the_reader_skips(svc, body):
    assert not check(svc, body)
