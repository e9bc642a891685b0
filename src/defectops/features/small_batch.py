"""The lean path's reading of a few rows: one object table, and numbers parsed per value.

For a served record, pandas' per-call overhead (one Series, one parse per column) costs far more
than the work; these read the whole frame at once and leave each value as it was sent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_PLAIN_NUMBERS = frozenset({int, float, np.float64, np.float32, np.int64, np.int32})


def object_table(X: pd.DataFrame) -> np.ndarray:
    """The frame as a 2-D object array, values kept as they are (ints stay ints, text stays text).

    For one row ``X.iloc[0]`` is several times faster than ``to_numpy`` on frames whose text
    columns are Arrow-backed; it is used only when pandas kept the row as objects, because a
    purely numeric row is upcast to float64 and an int ID above 2**53 would change.
    """
    if len(X) == 1 and not _one_block(X):
        row = X.iloc[0]
        if row.dtype == object:
            return row.to_numpy()[None, :]
    return X.to_numpy(dtype=object)


def _one_block(X: pd.DataFrame) -> bool:
    """True for a frame held as one 2-D block (a served request): ``to_numpy`` is then free."""
    try:
        return int(X._mgr.nblocks) == 1
    except AttributeError:  # a pandas without the block manager: take the general route
        return False


def parse_numbers(block: np.ndarray) -> np.ndarray:
    """An object block as float64: plain numbers and None directly, anything else as pandas would.

    ``bool`` is excluded from the direct route because ``pd.to_numeric`` is the reference for
    what a numeric column means, and text needs its parsing rules (``"n/a"`` is missing).
    """
    flat = block.ravel(order="F")
    if all(v is None or type(v) in _PLAIN_NUMBERS for v in flat):
        out = np.array(flat, dtype=np.float64)
    else:
        out = np.asarray(pd.to_numeric(flat, errors="coerce"), dtype=np.float64)
    return out.reshape(block.shape, order="F")
