"""The Dask engine: the same steps as the local engine, on partitions spread over a cluster.

Nothing that decides an outcome has a second implementation here: each method runs the local
row checks, features, models and reports per partition (see :mod:`defectops.engines.dask`),
and only where rows are read, fitted and scored differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from defectops.core.config import Settings
from defectops.data.schema import DataSchema
from defectops.data.store import DataStore, Manifest
from defectops.engines.base import PredictionSummary
from defectops.engines.dask.batch import (
    ClusterBatch,
    check_batch,
    monitor_batch_on_cluster,
)
from defectops.engines.dask.frame import DistributedFrame, frame_of_files
from defectops.engines.dask.predict import predict_distributed
from defectops.engines.dask.rows import CLUSTER_ROWS
from defectops.engines.dask.run import run_distributed
from defectops.engines.dask.validate import validate_distributed
from defectops.engines.staging import Staging
from defectops.evaluation.records import OnChunk, OnData, RunResult

if TYPE_CHECKING:
    from distributed import Client


class DaskEngine:
    """Rows as partitions on the cluster ``client`` is connected to."""

    name = "dask"
    rows = CLUSTER_ROWS

    def __init__(self, client: Client) -> None:
        self.client = client

    def validate(self, settings: Settings, path: Path) -> Any:
        with Staging.of(settings) as staging:  # the rows are not needed after the report
            return validate_distributed(
                path, settings, self.client, source=str(path), staging=staging
            )

    def staging(self, settings: Settings) -> Staging:
        return Staging.of(settings)

    def check_batch(
        self,
        settings: Settings,
        data: Path,
        *,
        schema: DataSchema | None,
        reference: dict[str, Any] | None,
        staging: Staging | None,
    ) -> ClusterBatch:
        """Read, validate and fingerprint the batch on the cluster, from one read."""
        return check_batch(
            data, settings, self.client, schema=schema, reference=reference, staging=staging
        )

    def labelled_rows(self, store: DataStore, manifest: Manifest, target: str) -> DistributedFrame:
        """The store's files as partitions; only whether each row has a label comes back to the
        client (one byte a row)."""
        files = [f for batch in manifest.batches for f in store.batch_files(batch.batch_id)]
        stored = frame_of_files(self.client, files)
        labelled = stored.select([target]).gather_each(_labelled, name=target)
        return stored.take(np.concatenate(labelled)).astype({target: np.int8})

    def run_backfill(
        self, settings: Settings, *, on_chunk: OnChunk | None, on_data: OnData | None
    ) -> RunResult:
        return run_distributed(
            settings,
            self.client,
            on_chunk=on_chunk,
            on_data=on_data,
        )

    def monitor(
        self, settings: Settings, data: Path, *, name: str | None
    ) -> tuple[dict[str, Any], dict[str, Path]]:
        return monitor_batch_on_cluster(settings, data, self.client, name=name)

    def predict(self, artifacts: Path, data: Path, out: Path) -> PredictionSummary:
        return predict_distributed(artifacts, data, out, self.client)


def _labelled(part: pd.DataFrame, name: str) -> np.ndarray:
    return part[name].notna().to_numpy()
