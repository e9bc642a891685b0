"""``ingest`` as a Prefect flow: an example for teams that already orchestrate with Prefect.

:func:`ingest_flow` takes every file in an inbox directory that matches a pattern, in name order,
and runs :func:`~defectops.ops.ingest.ingest_batch` on each in a Prefect task, so every batch shows
up
in the Prefect UI as a task run of its own with its outcome. It adds no state of its own: the data
store's manifest is the record of what was ingested. A file whose rows are already in the store is
recognised by its rows' sha256 and reported as a duplicate without changing anything, so the flow
can simply run again and again over the same inbox, and a file that was rewritten under a name
already ingested fails loudly instead of being skipped.

A batch that fails with a :class:`~defectops.core.errors.UserError` (a bad file, a missing column,
the
store locked by another run) is recorded and the remaining files are still ingested; the flow ends
Failed afterwards with an :class:`InboxFailures` naming every such file, so the failure is seen and
alerted on in Prefect. Any other exception is a fault in defectops and stops the flow at once.

:func:`serve_schedule` serves the flow on an interval. Prefect is an optional dependency
(``pip install 'defectops[prefect]'``); ``import defectops`` never imports this module.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

try:
    from prefect import flow, get_run_logger, task
    from prefect.cache_policies import NO_CACHE
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "defectops.ops.flows needs Prefect, an optional dependency: "
        "pip install 'defectops[prefect]'"
    ) from exc

from defectops.core.config import Settings, load_settings
from defectops.core.errors import UserError
from defectops.ops.ingest import ingest_batch

__all__ = ["InboxFailures", "inbox_files", "ingest_file", "ingest_flow", "serve_schedule"]

FLOW_NAME = "defectops-ingest"


class InboxFailures(UserError):
    """Some files of the inbox could not be ingested; the others were.

    ``failures`` holds ``{"file": ..., "error": ...}`` for each failed file and ``results`` the
    summaries of the files that went through, so a caller that catches this (or reads it from the
    failed flow run's state) still sees everything the run did.
    """

    def __init__(self, failures: list[dict[str, str]], results: list[dict[str, Any]]) -> None:
        self.failures = failures
        self.results = results
        named = "; ".join(f"{Path(f['file']).name}: {f['error']}" for f in failures)
        done = len(failures) + len(results)
        super().__init__(f"{len(failures)} of {done} inbox files could not be ingested: {named}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Prefect may copy a flow's exception; rebuild it from its parts, not from the message.
        return (type(self), (self.failures, self.results))


def inbox_files(inbox: Path, pattern: str = "*.csv") -> list[Path]:
    """The files directly in ``inbox`` matching ``pattern``, by name.

    Name order is arrival order for the usual ``<date>_<line>.csv`` exports, and it is the order
    the store records batches in, which the retrain policy and the recent hold-out depend on.
    """
    if not inbox.is_dir():
        raise UserError(f"inbox {inbox} is not a directory")
    return sorted((p for p in inbox.glob(pattern) if p.is_file()), key=lambda p: p.name)


# No cache: ingesting has side effects, so a run must never be replaced by an earlier result, and
# ingest_batch already turns a repeated batch into a no-op. No retries: a UserError does not go
# away by itself, and the next scheduled run picks the file up again anyway.
@task(name="ingest-batch", task_run_name="ingest {data.name}", cache_policy=NO_CACHE, retries=0)
def ingest_file(settings: Settings, data: Path) -> dict[str, Any]:
    """Ingest one file; its summary as ``defectops ingest`` reports it, plus the file's path."""
    result = ingest_batch(settings, data)
    logger = get_run_logger()
    batch = result.batch
    if result.duplicate:
        logger.info("%s: already ingested as batch %r, nothing to do", data.name, batch.batch_id)
    else:
        training = result.training
        retrain = (
            f"retrained: version {training['version']} ({training['status']})"
            if training.get("trained")
            else f"no retrain: {training.get('reason')}"
        )
        logger.info(
            "%s: batch %r, %d rows stored (%d labelled), %d quarantined, drift status: %s; %s",
            data.name,
            batch.batch_id,
            batch.rows,
            batch.labelled_rows,
            batch.rows_quarantined,
            batch.drift_status or "not checked (no champion)",
            retrain,
        )
    return {"file": str(data), **result.summary()}


@flow(name=FLOW_NAME)
def ingest_flow(
    inbox: str,
    artifacts: str | None = None,
    config: str | None = None,
    pattern: str = "*.csv",
) -> list[dict[str, Any]]:
    """Ingest every file of ``inbox`` matching ``pattern``, in name order, one task per file.

    ``artifacts`` and ``config`` are the CLI's ``--artifacts`` and ``--config``; the environment
    (``DEFECTOPS_...``) applies as it does to the CLI. Settings are read once, before any file,
    so a bad configuration fails the run without touching the store. Files run one after the
    other, not in parallel: the store takes one writer at a time and records arrival order.

    Returns one summary per file (``duplicate`` is true for files already in the store). When
    any file failed with a :class:`UserError`, raises :class:`InboxFailures` after the others
    were ingested, so the flow run ends Failed.
    """
    logger = get_run_logger()
    settings = load_settings(config, {"artifacts": artifacts})
    files = inbox_files(Path(inbox), pattern)
    results: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for path in files:
        try:
            results.append(ingest_file(settings, path))
        except UserError as exc:
            logger.error("%s: not ingested: %s", path.name, exc)
            failures.append({"file": str(path), "error": str(exc)})
    new = sum(not r["duplicate"] for r in results)
    logger.info(
        "%d files in %s: %d ingested, %d already in the store, %d failed",
        len(files),
        inbox,
        new,
        len(results) - new,
        len(failures),
    )
    if failures:
        raise InboxFailures(failures, results)
    return results


def serve_schedule(
    inbox: str,
    interval_minutes: float = 60,
    *,
    artifacts: str | None = None,
    config: str | None = None,
    pattern: str = "*.csv",
    name: str = "ingest-inbox",
) -> None:
    """Serve :func:`ingest_flow` as a deployment that Prefect runs every ``interval_minutes``.

    Blocks until interrupted, running the scheduled flow runs in this process's runner; the
    deployment registers with the Prefect API that ``PREFECT_API_URL`` names (a ``prefect server
    start`` or Prefect Cloud). Paths are made absolute so that runs do not depend on the
    runner's working directory. At most one run at a time: a run that is still going when the
    next is due would otherwise find the store locked.
    """
    if interval_minutes <= 0:
        raise UserError(f"interval_minutes must be > 0, got {interval_minutes!r}")

    def absolute(path: str | None) -> str | None:
        return None if path is None else str(Path(path).resolve())

    ingest_flow.serve(
        name=name,
        interval=timedelta(minutes=interval_minutes),
        parameters={
            "inbox": absolute(inbox),
            "artifacts": absolute(artifacts),
            "config": absolute(config),
            "pattern": pattern,
        },
        limit=1,
    )
