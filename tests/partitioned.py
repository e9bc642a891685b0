"""Data as a directory of Parquet parts, the way a plant's export lands on shared storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_parts(frame: pd.DataFrame, directory: Path, *, rows: int = 0, parts: int = 0) -> Path:
    """``part-NNNNN.parquet`` files of ``rows`` rows each, or ``parts`` files of like size."""
    directory.mkdir(parents=True, exist_ok=True)
    if parts:
        pieces = np.array_split(np.arange(len(frame)), parts)
    else:
        pieces = [np.arange(s, min(s + rows, len(frame))) for s in range(0, len(frame), rows)]
    for i, piece in enumerate(pieces):
        frame.iloc[piece].to_parquet(directory / f"part-{i:05d}.parquet", index=False)
    return directory
