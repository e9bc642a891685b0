"""Feature hashing of categorical values: the same in every process, salted per column.

Hashing learns nothing, which is what lets any ID be served later; the categorical columns and
crosses of :mod:`defectops.features.builder` tell how values become hashes and hashes columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from defectops.data.schema import category_strings, category_text

#: text that stands for a missing categorical value before hashing
MISSING = "<missing>"
#: the bit of a hash that gives a hashed column's sign in the sparse layout
TOP_BIT = np.uint64(63)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit affects every output bit (uint64 wraps, no loop)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def hash_texts(texts: np.ndarray) -> np.ndarray:
    """Stable uint64 hashes of an object array of ``str``; already distinct, so no categorize."""
    return pd.util.hash_array(texts, categorize=False)


def salt(name: str) -> np.uint64:
    return mix(hash_texts(np.array([name], dtype=object)))[0]


def column_hashes(columns: Sequence[Any], salts: np.ndarray) -> list[np.ndarray]:
    """Per column: factorize, hash the distinct values only, then take by codes.

    ``salts`` holds the salt of each column, in order.
    """
    codes, uniques = [], []
    for column in columns:
        c, found = pd.factorize(column, use_na_sentinel=True)
        u = np.append(np.asarray(found, dtype=object), [None])  # missing -> the extra last slot
        codes.append(np.where(c < 0, len(u) - 1, c))
        uniques.append(u)
    hashed = hash_values(uniques, salts[list(range(len(uniques)))])
    bounds = np.cumsum([0, *map(len, uniques)])
    return [hashed[start + c] for start, c in zip(bounds[:-1], codes, strict=True)]


def plain_column_hashes(columns: Sequence[np.ndarray], salts: np.ndarray) -> list[np.ndarray]:
    """:func:`column_hashes` of object arrays of plain values (text, numbers, None), as a
    request body gives them.

    Each column's distinct values become text directly (``category_text``, as
    :func:`hash_values` makes it): the pandas round trip there, which makes every kind of value
    a file can hold comparable, costs more than the hashing for a request of a thousand rows.
    """
    hashed = []
    for column, column_salt in zip(columns, salts, strict=False):
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        texts = plain_texts([*uniques, None])  # code -1, a missing value, takes the last
        hashed.append(mix(hash_texts(texts) ^ column_salt)[codes])
    return hashed


def hash_values(uniques: list[np.ndarray], salts: np.ndarray) -> np.ndarray:
    """Salted hashes of the canonical text of each column's values, in one batch.

    ``uniques`` holds one array of values per column, ``salts`` that column's salt.
    """
    if not uniques:
        return np.empty(0, dtype=np.uint64)
    raw = np.concatenate(uniques)
    # bools become text first, so True and 1 from different columns are never merged by
    # category_strings' factorize (True == 1 in Python) before they are told apart
    is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in raw), bool, len(raw))
    if is_bool.any():
        raw[is_bool] = [str(bool(v)) for v in raw[is_bool]]
    texts = category_strings(pd.Series(raw, dtype=object)).to_numpy(dtype=object, copy=True)
    texts[pd.isna(texts)] = MISSING
    repeated = np.repeat(salts, [len(u) for u in uniques])
    return mix(hash_texts(texts) ^ repeated)


def cell_hashes(columns: np.ndarray, salts: np.ndarray) -> list[np.ndarray]:
    """Per column of an object block ``(columns, rows)``, the salted hash of every cell.

    The lean path for few rows: plain Python per value, and every value goes through the same
    ``category_text`` as the batch path (:func:`hash_values`), so both give identical hashes.
    """
    n = columns.shape[1]
    hashed = mix(hash_texts(plain_texts(columns.ravel())) ^ np.repeat(salts, n))
    return [hashed[i * n : (i + 1) * n] for i in range(len(columns))]


def plain_texts(values: Iterable[Any]) -> np.ndarray:
    """The text each value is hashed as, value by value in plain Python (``category_text``,
    as :func:`hash_values` makes it; missing values as ``MISSING``)."""
    return np.array(
        [
            MISSING if v is None or v is pd.NA or (t := category_text(v)) is None else t
            for v in values
        ],
        dtype=object,
    )


def crossed_hashes(
    hashes: list[np.ndarray], positions: Sequence[tuple[int, int]], salts: np.ndarray
) -> np.ndarray:
    """(rows, categorical + crosses) uint64: a cross hashes the pair of the columns' hashes."""
    crossed = [
        mix(hashes[a] ^ mix(hashes[b] ^ cross_salt))
        for (a, b), cross_salt in zip(positions, salts, strict=True)
    ]
    return np.column_stack([*hashes, *crossed]) if hashes else np.empty((0, 0), np.uint64)
