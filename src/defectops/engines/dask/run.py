"""One back-fill run with the rows on a Dask cluster: ``run --engine dask``.

The training loop, gate, registry and reports are the local ones
(:func:`~defectops.training.backfill._run_locked`); only where rows are read, fitted and scored
differs. Hold-out and prequential scores are computed per partition and gathered (one float per
row); evaluation, gate and registry run unchanged on those arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.core.lock import RunLock
from defectops.data.prepared import PreparedData
from defectops.engines.dask.rows import CLUSTER_ROWS
from defectops.engines.dask.validate import validate_distributed
from defectops.engines.staging import Staging
from defectops.evaluation.records import OnChunk, RunResult
from defectops.models.classifier import build_model
from defectops.training.backfill import run_locked
from defectops.training.prepare import check_prepared, check_same_line, holdout_of

if TYPE_CHECKING:
    from distributed import Client


def prepare_distributed(
    settings: Settings, client: Client, staging: Staging | None = None
) -> PreparedData:
    """:func:`~defectops.training.backfill.prepare` on the cluster: the same checks and hold-out
    rows, staged in ``staging`` (by default a :class:`Staging` of their own)."""
    if settings.data is None:
        raise UserError("no data file given; pass --data FILE (or set data: in the config)")
    staging = staging or Staging.of(settings)
    validation = validate_distributed(
        settings.data, settings, client, source=str(settings.data), staging=staging
    )
    frame, schema = validation.frame, validation.schema
    if settings.holdout_data is not None:
        held = validate_distributed(
            settings.holdout_data,
            settings,
            client,
            schema=schema,
            reference=frame.reference_profile(schema),
            source=str(settings.holdout_data),
            staging=staging,
        )
        data = PreparedData(
            validation,  # type: ignore[arg-type]
            frame,  # type: ignore[arg-type]
            held.frame,  # type: ignore[arg-type]
            str(settings.holdout_data),
            held,  # type: ignore[arg-type]
        )
    else:
        n_rows = len(frame)
        choice = holdout_of(frame[schema.target].to_numpy(), settings)
        if choice.is_tail:
            start = n_rows - len(choice.positions)
            train, holdout = frame.rows(0, start), frame.rows(start, n_rows)
        else:
            in_holdout = np.zeros(n_rows, dtype=bool)
            in_holdout[choice.positions] = True
            train, holdout = frame.take(~in_holdout), frame.take(in_holdout).compact("holdout")
        data = PreparedData(
            validation,  # type: ignore[arg-type]
            train,  # type: ignore[arg-type]
            holdout,  # type: ignore[arg-type]
            choice.describe(),
            choice=choice,
        )
    check_prepared(data, data.holdout[schema.target].to_numpy())
    return data


def run_distributed(
    settings: Settings,
    client: Client,
    *,
    on_chunk: OnChunk | None = None,
    on_data: Callable[[PreparedData], None] | None = None,
) -> RunResult:
    """:func:`~defectops.ops.run.run_pipeline` with the rows on a Dask cluster.

    The training loop, gate, registry and reports are the local ones; only where rows are read,
    fitted and scored differs (see :mod:`defectops.engines.dask`).
    """
    if settings.model != "gbm":
        raise UserError(
            f"--engine dask trains gbm only (XGBoost's Dask estimator), not {settings.model!r}; "
            "use --model gbm or --engine local"
        )
    with Staging.of(settings) as staging:
        data = prepare_distributed(settings, client, staging)
        check_same_line(settings, data.schema)
        if on_data is not None:
            on_data(data)
        build_model(settings, data.schema)
        with RunLock(settings.artifacts, purpose="run"):
            return run_locked(settings, data, on_chunk, CLUSTER_ROWS)
