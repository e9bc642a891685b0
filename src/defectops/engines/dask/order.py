"""Rows put in order of the order column, as the local engine's stable sort puts them.

With an order column, rows already in that order (as a plant's export usually is) are checked
and left where they are; others are sorted by a dask shuffle that equals the local engine's
stable sort.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from defectops.engines.dask.frame import DistributedFrame
from defectops.engines.dask.parts import StagedPart, rows_of, stage
from defectops.engines.staging import Staging

_POSITION = "__defectops_position__"
#: fewer partitions than this are shuffled by tasks (little overhead), more by dask's p2p
#: shuffle (bounded memory per worker)
TASK_SHUFFLE_PARTITIONS = 64


def in_order(frame: DistributedFrame, column: str, staging: Staging) -> DistributedFrame:
    """The rows in order of ``column``, ties in row order: the local engine's stable sort.

    Exported rows usually are in order already; that is checked within each partition and
    across partition boundaries, and then nothing moves. Otherwise dask sorts by the column and
    the original position (a shuffle of every row), which equals a stable sort.
    """
    last = None
    ordered = True
    for bounds in frame.select([column]).gather_each(_order_bounds, column=column):
        if bounds is None:
            continue
        inside, first, final = bounds
        if not inside or (last is not None and first < last):
            ordered = False
            break
        last = final
    if ordered:
        return frame
    import dask
    import dask.dataframe as dd

    offsets = np.concatenate([[0], np.cumsum(frame.lengths)[:-1]]).astype(np.int64)
    load = dask.delayed(rows_of, pure=True)
    positioned = [
        dask.delayed(_with_position)(load(p), int(o))
        for p, o in zip(frame.parts, offsets, strict=True)
    ]
    meta = frame.meta.assign(**{_POSITION: np.empty(0, dtype=np.int64)})
    data = dd.from_delayed(positioned, meta=meta, verify_meta=False)
    data = data.sort_values([column, _POSITION], shuffle_method=shuffle_method(frame))
    data = data.drop(columns=[_POSITION])
    name = staging.new_set("sorted")
    files = [staging.file(name, i) for i in range(data.npartitions)]
    write = dask.delayed(stage, pure=False)
    lengths = frame.client.gather(
        frame.client.compute([write(p, f) for p, f in zip(data.to_delayed(), files, strict=True)])
    )
    kept = [(StagedPart(f), int(n)) for f, n in zip(files, lengths, strict=True) if n]
    return DistributedFrame(
        frame.client, tuple(p for p, _ in kept), tuple(n for _, n in kept), frame.meta, staging
    )


def shuffle_method(frame: DistributedFrame) -> str:
    """How dask shuffles ``frame``'s rows: see ``TASK_SHUFFLE_PARTITIONS``."""
    return "tasks" if len(frame.parts) < TASK_SHUFFLE_PARTITIONS else "p2p"


# -- functions run on the workers, one partition at a time ----------------------------------------


def _order_bounds(part: pd.DataFrame, column: str) -> tuple[bool, Any, Any] | None:
    if not len(part):
        return None
    values = part[column]
    return bool(values.is_monotonic_increasing), values.iloc[0], values.iloc[-1]


def _with_position(part: pd.DataFrame, offset: int) -> pd.DataFrame:
    return part.assign(**{_POSITION: np.arange(offset, offset + len(part), dtype=np.int64)})
