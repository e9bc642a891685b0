"""One production batch on a Dask cluster: ``monitor`` and ``ingest`` with ``--engine dask``.

Nothing that decides an outcome is implemented here. The batch goes through
:func:`~defectops.engines.dask.validate.validate_distributed` with labels optional, as
``validate`` and ``run`` do (read, validated and staged partition by partition, put in
production order, the raw rows fingerprinted from the same read); then:

monitoring
    :func:`~defectops.monitoring.batch.summarise_batch` per partition (the champion's scores
    and the drift counts at the profile's fixed edges, never the rows), merged by addition on
    the client and compared with the profile by the same
    :func:`~defectops.monitoring.drift.compare_counts`. Labelled rows bring their label and score
    back (one byte and one float a row) for the batch's metrics and bootstrap interval.
storing
    Each worker writes partitions as ``store/batch=<id>/part-NNNNN.parquet`` (see
    :mod:`defectops.data.store`), so the store must be on storage the workers share. The client
    writes the manifest last, as on the local engine: the commit point is unchanged.
retraining
    :func:`~defectops.ops.ingest.maybe_retrain` reads the store's files as a
    :class:`~defectops.engines.dask.frame.DistributedFrame` and boosts on the cluster.

Both engines read a CSV batch as text with the same sniffed dialect, so a batch has the same
fingerprint on either.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops.core.config import Settings
from defectops.data.schema import DataSchema
from defectops.data.store import DataStore
from defectops.data.validation import merge_counts, require_valid_rows, usable_counts
from defectops.engines.dask.frame import DistributedFrame
from defectops.engines.dask.parts import rows_of
from defectops.engines.dask.validate import validate_distributed
from defectops.engines.staging import Staging
from defectops.monitoring.batch import BatchSummary, ChampionView, report_batch, summarise_batch


@dataclass
class ClusterBatch:
    """A validated batch: clean rows staged for the cluster, quarantined rows on the client."""

    frame: DistributedFrame
    schema: DataSchema
    quarantine: pd.DataFrame
    rows_read: int
    sha256: str

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def labelled_rows(self) -> int:
        target = self.schema.target
        if target not in self.frame.columns:
            return 0
        return int(sum(self.frame.select([target]).gather_each(_labelled, name=target)))

    def usable_counts(self) -> dict[str, int]:
        """Per feature, the rows with a usable value, counted where each partition lives."""
        features = list(self.schema.features)
        return merge_counts(self.frame.gather_each(usable_counts, columns=features))

    def summary(self, champion: ChampionView) -> BatchSummary:
        """:func:`summarise_batch` of every partition, where it is read, merged in row order."""
        parts = self.frame.gather_each(summarise_batch, champion=champion)
        return functools.reduce(BatchSummary.merge, parts)

    def write_store(self, store: DataStore, batch_id: str) -> Path:
        """Every partition as ``part-NNNNN.parquet`` of the batch, written by the workers."""
        if not self.rows:  # every row quarantined: the batch is stored, empty
            store.write_batch(batch_id, self.frame.meta)
            return store.batch_dir(batch_id)
        client = self.frame.client
        store = DataStore(store.root.resolve())  # workers may run in another directory
        starts = np.cumsum([0, *self.frame.lengths])[:-1]
        written = client.map(
            _write_part,
            list(self.frame.parts),
            list(range(len(self.frame.parts))),
            [int(s) for s in starts],
            store=store,
            batch_id=batch_id,
            pure=False,
        )
        client.gather(written)
        return store.batch_dir(batch_id)


def check_batch(
    path: Path,
    settings: Settings,
    client: Any,
    *,
    schema: DataSchema | None,
    reference: dict[str, Any] | None,
    staging: Staging | None = None,
) -> ClusterBatch:
    """:func:`~defectops.data.validation.validate` (labels optional) of a batch on the cluster,
    its rows staged in ``staging`` (close it when done with the batch)."""
    result = validate_distributed(
        path,
        settings,
        client,
        schema=schema,
        reference=reference,
        source=str(path),
        labels="optional",
        describe=False,
        fingerprint=True,
        staging=staging,
    )
    assert result.sha256 is not None
    return ClusterBatch(
        result.frame, result.schema, result.quarantine, result.report["rows_read"], result.sha256
    )


def _labelled(part: pd.DataFrame, name: str) -> int:
    return int(part[name].notna().sum())


def _write_part(part: Any, index: int, first_row: int, store: DataStore, batch_id: str) -> str:
    return str(store.write_part(batch_id, index, rows_of(part), first_row))


def store_cluster_rows(
    frame: DistributedFrame, schema: DataSchema, key: str, store: DataStore, name: str
) -> None:
    """A back-fill's validated rows on the cluster as one stored batch: each worker writes the
    partitions it holds (:func:`~defectops.training.backfill.record_backfill`'s writer for the
    Dask engine)."""
    ClusterBatch(frame, schema, frame.meta.iloc[:0], len(frame), key).write_store(store, name)


def monitor_batch_on_cluster(
    settings: Settings, data: Path, client: Any, *, name: str | None = None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """:func:`~defectops.monitoring.batch.monitor_batch` with the batch on the cluster:
    validated, scored and summarised partition by partition; the report is the same."""
    champion = ChampionView.load(settings.artifacts)
    with Staging.of(settings) as staging:
        checked = check_batch(
            data,
            settings,
            client,
            schema=champion.schema,
            reference=champion.reference,
            staging=staging,
        )
        require_valid_rows(str(data), checked.rows_read, checked.rows)
        counts = (checked.rows_read, checked.rows, checked.sha256)
        return report_batch(settings, data, champion, checked.summary(champion), counts, name=name)
