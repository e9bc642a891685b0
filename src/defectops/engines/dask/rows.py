"""The Dask engine's :class:`~defectops.training.rows.RowKeeper`: row operations done where the
partitions live, only ids, masks and scores brought back to the client."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from defectops.data.schema import DataSchema
from defectops.data.store import BATCH_COLUMN, DataStore
from defectops.engines.dask.batch import store_cluster_rows
from defectops.engines.dask.frame import DistributedFrame
from defectops.monitoring.profile import PROFILED_SCORES
from defectops.monitoring.sketch import distributed_profile


class ClusterRows:
    """Rows as a :class:`DistributedFrame` on the cluster."""

    def profile(
        self, model: Any, rows: DistributedFrame, schema: DataSchema, window: int
    ) -> dict[str, Any]:
        # merged per-partition summaries; only the scores of the last rows are gathered
        features = rows[list(schema.features)]
        scores = model.decision_scores(features)[-PROFILED_SCORES:]
        return distributed_profile(features, schema, scores, window)

    def store_backfill(
        self, rows: DistributedFrame, schema: DataSchema, key: str, store: DataStore, name: str
    ) -> None:
        store_cluster_rows(rows, schema, key, store, name)

    def where(self, rows: DistributedFrame, keep: np.ndarray) -> DistributedFrame:
        return rows.take(keep)

    def in_batches(self, rows: DistributedFrame, batches: list[str]) -> DistributedFrame:
        keep = rows.select([BATCH_COLUMN]).gather_each(_is_in, name=BATCH_COLUMN, values=batches)
        return rows.take(np.concatenate(keep) if keep else np.zeros(0, dtype=bool))

    def batch_ids(self, rows: DistributedFrame) -> list[str]:
        ids = rows.select([BATCH_COLUMN]).gather_each(_unique, name=BATCH_COLUMN)
        return sorted(set(itertools.chain.from_iterable(ids)))


def _unique(part: pd.DataFrame, name: str) -> list[str]:
    return [str(v) for v in pd.unique(part[name])]


def _is_in(part: pd.DataFrame, name: str, values: list[str]) -> np.ndarray:
    return part[name].isin(values).to_numpy()


#: the keeper of rows on a cluster
CLUSTER_ROWS = ClusterRows()
