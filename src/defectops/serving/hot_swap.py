"""Swapping a new champion in while the service runs, or refusing it and keeping the old one.

A champion is loaded and verified in a thread, so requests keep being scored by the served one
meanwhile; whatever goes wrong (a broken file, a failed checksum, requests of another shape)
leaves the served champion in place and says why in ``holder.last_error``.
"""

from __future__ import annotations

import asyncio
import logging

from defectops.serving.errors import ReloadFailed
from defectops.serving.model_holder import (
    LoadedModel,
    load_model,
    metadata_digest,
    request_schema_change,
)
from defectops.serving.service import Service

log = logging.getLogger("defectops.serving")


async def reload(
    service: Service, *, force: bool, accept_schema_change: bool = False
) -> tuple[LoadedModel | None, LoadedModel | None]:
    """Load + verify the champion in a thread and swap it in; ReloadFailed when refused.

    A champion whose requests differ from the served one's (other feature columns, or a
    column of another kind) is refused unless ``accept_schema_change``: every client of
    the service would start getting 422s. Returns ``(new, old)``; ``(None, current)`` when
    nothing changed and not forced.
    """
    holder = service.holder
    async with service.reload_lock:
        if not force and not holder.changed():
            return None, holder.current
        loaded = await _load(service)
        change = request_schema_change(holder.current, loaded)
        if change and not accept_schema_change:
            _refuse(service, loaded, change)
        return _swap(service, loaded)


async def _load(service: Service) -> LoadedModel:
    holder, limits = service.holder, service.limits
    digest = metadata_digest(service.artifacts)
    try:
        return await asyncio.to_thread(
            load_model,
            service.artifacts,
            max_batch=limits.max_batch,
            unknown_fields=limits.unknown_fields,
            max_category_length=limits.max_category_length,
        )
    except Exception as exc:
        holder.last_seen = digest
        holder.last_error = f"{type(exc).__name__}: {exc}"
        service.metrics.reloads.labels("failure").inc()
        log.error("champion not loaded, keeping the current one: %s", holder.last_error)
        raise ReloadFailed(holder.last_error) from exc


def _refuse(service: Service, loaded: LoadedModel, change: str) -> None:
    holder = service.holder
    holder.last_seen = loaded.metadata_sha256
    holder.last_error = (
        f"version {loaded.version} takes other requests than the served "
        f"version {holder.current.version if holder.current else '-'} "
        f"(request schema: {change}); refused: POST "
        "/admin/reload?accept_schema_change=true takes it"
    )
    service.metrics.reloads.labels("refused_schema").inc()
    log.warning("champion not swapped in: %s", holder.last_error)
    raise ReloadFailed(holder.last_error)


def _swap(service: Service, loaded: LoadedModel) -> tuple[LoadedModel, LoadedModel | None]:
    holder, metrics = service.holder, service.metrics
    holder.last_seen = loaded.metadata_sha256
    old = holder.swap(loaded)
    metadata = loaded.metadata
    metrics.set_model(
        loaded.version,
        metadata.get("chunk_id"),
        loaded.threshold,
        str(metadata.get("model_sha256")),
    )
    metrics.reloads.labels("success").inc()
    log.info(
        "serving champion version %s (was %s)",
        loaded.version,
        old.version if old else None,
    )
    return loaded, old
