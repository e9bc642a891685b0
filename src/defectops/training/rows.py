"""What the training step asks of the rows it trains on, whichever engine holds them.

The loop, the training step and the retrain never test what kind of rows they hold: they call a
:class:`RowKeeper`. :data:`PANDAS_ROWS` keeps rows as pandas frames in this process; the Dask
engine's keeper (:class:`~defectops.engines.dask.rows.ClusterRows`) works where the partitions
live and brings back only what it must.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from defectops.data.schema import DataSchema
from defectops.data.store import BATCH_COLUMN, DataStore
from defectops.monitoring.profile import PROFILED_SCORES, build_profile


class RowKeeper(Protocol):
    """Row operations the training code needs, done where the rows are."""

    def profile(self, model: Any, rows: Any, schema: DataSchema, window: int) -> dict[str, Any]:
        """The drift profile of a model's training rows and its scores on their last rows."""
        ...

    def store_backfill(
        self, rows: Any, schema: DataSchema, key: str, store: DataStore, name: str
    ) -> None:
        """Write a back-fill's validated rows as one stored batch."""
        ...

    def where(self, rows: Any, keep: np.ndarray) -> Any:
        """The rows where ``keep`` is true, in order."""
        ...

    def in_batches(self, rows: Any, batches: list[str]) -> Any:
        """The rows of these stored batches, in order."""
        ...

    def batch_ids(self, rows: Any) -> list[str]:
        """The stored batches the rows come from, sorted."""
        ...


class PandasRows:
    """Rows as one pandas frame in this process."""

    def profile(
        self, model: Any, rows: pd.DataFrame, schema: DataSchema, window: int
    ) -> dict[str, Any]:
        # the scores are profiled on the training rows, in order, like the features: how much
        # they move from batch to batch needs the whole training period, not the hold-out's
        # stretch; only the profiled rows are scored
        features = rows[list(schema.features)]
        scores = model.decision_scores(features.iloc[-PROFILED_SCORES:])
        return build_profile(features, schema, scores, window)

    def store_backfill(
        self, rows: pd.DataFrame, schema: DataSchema, key: str, store: DataStore, name: str
    ) -> None:
        store.write_batch(name, rows)

    def where(self, rows: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
        return rows.iloc[np.flatnonzero(keep)]

    def in_batches(self, rows: pd.DataFrame, batches: list[str]) -> pd.DataFrame:
        return rows[rows[BATCH_COLUMN].isin(batches)]

    def batch_ids(self, rows: pd.DataFrame) -> list[str]:
        return sorted(set(rows[BATCH_COLUMN]))


#: the keeper of rows held in this process (the local engine's, and the default)
PANDAS_ROWS = PandasRows()
