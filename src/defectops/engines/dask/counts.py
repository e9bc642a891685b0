"""The two numbers of a validation report that do not merge from partition summaries.

Distinct values of numeric and time columns are counted by dask's exact, shuffle-based
``nunique``; duplicate rows by 64-bit row hashes counted across partitions, rows sharing a hash
compared in full, so a hash collision cannot invent a duplicate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from defectops.data.validation import RowsProfile
from defectops.engines.dask.frame import DistributedFrame
from defectops.engines.dask.order import shuffle_method
from defectops.engines.dask.parts import apply

#: rows per partition of distinct values when counting them (see ``count_globally``)
NUNIQUE_ROWS = 1_000_000


def count_globally(profile: RowsProfile, frame: DistributedFrame) -> None:
    """Fill in what partition summaries cannot give: distinct values and duplicate rows."""
    import dask
    import dask.dataframe as dd

    client = frame.client
    pending = [col for col, stats in profile.columns.items() if stats["n_unique"] is None]
    if len(frame.parts) <= 1:  # nothing to combine: counted where the rows are
        counts, duplicates = (
            client.submit(apply, frame.parts[0], _exact_counts, columns=pending).result()
            if frame.parts
            else ({col: 0 for col in pending}, 0)
        )
        for col in pending:
            profile.columns[col]["n_unique"] = counts[col]
        profile.duplicates = duplicates
        return
    # one column at a time, its distinct values spread over one part per NUNIQUE_ROWS rows: a
    # worker holds a share of one column's distinct values, not of every column's at once
    split_out = max(1, len(frame) // NUNIQUE_ROWS)
    with dask.config.set({"dataframe.shuffle.method": shuffle_method(frame)}):
        for col in pending:
            values = frame.select([col]).to_dask()[col]
            count = client.compute(values.nunique(dropna=True, split_out=split_out), sync=True)
            profile.columns[col]["n_unique"] = int(count)

    hashes = dd.from_delayed(frame.map(_row_hash_series), meta=pd.Series(dtype="uint64"))
    seen = hashes.value_counts(split_out=split_out)
    repeated = client.compute(seen[seen > 1], sync=True)
    if len(repeated) == 0:
        profile.duplicates = 0
        return
    wanted = repeated.index.to_numpy(dtype=np.uint64)
    candidates = frame.gather_each(_rows_with_hash, hashes=wanted)
    profile.duplicates = int(pd.concat(candidates, ignore_index=True).duplicated().sum())


# -- functions run on the workers, one partition at a time ----------------------------------------


def _row_hash_series(part: pd.DataFrame) -> pd.Series:
    return pd.util.hash_pandas_object(part, index=False).reset_index(drop=True)


def _rows_with_hash(part: pd.DataFrame, hashes: np.ndarray) -> pd.DataFrame:
    mine = pd.util.hash_pandas_object(part, index=False).to_numpy()
    return part.loc[np.isin(mine, hashes)]


def _exact_counts(part: pd.DataFrame, columns: list[str]) -> tuple[dict[str, int], int]:
    counts = {col: int(part[col].nunique(dropna=True)) for col in columns}
    return counts, int(part.duplicated().sum()) if len(part) else 0
