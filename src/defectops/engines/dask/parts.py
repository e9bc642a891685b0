"""A partition as a task receives it: a staged Parquet file with the cuts to make after reading
it, or (for a small set kept in memory) a future of a pandas frame.

The functions here run on the workers, one partition at a time; every module of the engine
hands partitions to its tasks through them, so a task never needs to know where its rows wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from distributed import Future


@dataclass(frozen=True)
class StagedPart:
    """A partition as a staged file plus the cuts to make after reading it: what tasks receive.

    ``columns`` narrows the read itself (Parquet reads only those columns); ``cuts`` are applied
    in order, a ``(start, end)`` pair as a range of positions, an array as a boolean mask. Cutting
    a frame on the client only adds to this small description; nothing is read until a task runs.
    """

    path: str
    columns: tuple[str, ...] | None = None
    cuts: tuple[tuple[int, int] | np.ndarray, ...] = ()
    #: column types to give after reading (``DistributedFrame.astype``)
    dtypes: tuple[tuple[str, Any], ...] = ()

    def load(self) -> pd.DataFrame:
        columns = list(self.columns) if self.columns is not None else None
        frame = pd.read_parquet(self.path, columns=columns)
        for cut in self.cuts:
            # a range is copied: a view would keep the whole file's rows alive in a result that
            # stays on a worker (a persisted hold-out, a training block)
            frame = frame.iloc[cut[0] : cut[1]].copy() if isinstance(cut, tuple) else frame.loc[cut]
        if self.dtypes:
            frame = frame.astype({c: t for c, t in self.dtypes if c in frame.columns})
        return frame

    def cut(self, cut: tuple[int, int] | np.ndarray) -> StagedPart:
        return replace(self, cuts=(*self.cuts, cut))


#: a partition: a staged file (most rows), or a future of a frame in memory (small row sets)
Part = Union["StagedPart", "Future"]


def rows_of(part: Any) -> pd.DataFrame:
    """The rows a task was given: a staged partition is read here, a future arrives as its frame."""
    return part.load() if isinstance(part, StagedPart) else part


def apply(part: Any, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn`` of the rows a task was given, however they wait."""
    return fn(rows_of(part), **kwargs)


def stage(part: pd.DataFrame, file: str) -> int:
    """Rows written as a staged file; returns how many."""
    Path(file).parent.mkdir(parents=True, exist_ok=True)
    part.reset_index(drop=True).to_parquet(file, index=False)
    return len(part)


def row_range(part: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    """Rows ``start`` to ``end`` of one partition, by position."""
    return part.iloc[start:end]
