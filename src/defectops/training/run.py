"""One back-fill run, whichever engine holds the rows: the entry point of ``run`` and ``demo``.

The engines share the training loop (:func:`defectops.training.backfill._run_locked`); they differ
in
where rows are read, fitted and scored. Choosing here, above both, keeps the local loop free of
any Dask import.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defectops.core.config import Settings
from defectops.training.records import PreparedData, RunResult

if TYPE_CHECKING:
    from distributed import Client


def run_pipeline(
    settings: Settings,
    *,
    on_chunk: Callable[[dict[str, Any], int], None] | None = None,
    on_data: Callable[[PreparedData], None] | None = None,
) -> RunResult:
    """Train, score, gate and record one model per chunk; write the reports.

    Holds the artifact directory's lock for the whole run. A run killed at any point resumes
    after its last completed chunk when started again with the same config and data (same run
    key), and ends in the same registry state as an uninterrupted run.
    """
    # imported here: the local engine never loads the Dask one (nor Dask), the Dask one only
    # when asked for
    if settings.engine == "dask":
        from defectops.engines.dask.batch import store_cluster_rows
        from defectops.engines.dask.run import run_distributed

        return run_distributed(
            settings, on_chunk=on_chunk, on_data=on_data, store_rows=store_cluster_rows
        )
    from defectops.training.backfill import run_local

    return run_local(settings, on_chunk=on_chunk, on_data=on_data)


def monitor_batch(
    settings: Settings, data: Path, *, name: str | None = None, client: Client | None = None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Compare one batch file with the champion's profile; write its drift report and plot.

    With a Dask ``client`` the batch is read, validated and summarised on the cluster.
    """
    if client is not None:
        from defectops.engines.dask.batch import monitor_batch_on_cluster

        return monitor_batch_on_cluster(settings, data, client, name=name)
    from defectops.monitoring.batch import monitor_batch as on_this_machine

    return on_this_machine(settings, data, name=name)
