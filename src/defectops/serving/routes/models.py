"""The champion: ``GET /model`` says which one is served; ``POST /admin/reload`` swaps in the one
in ``production/`` now and ``POST /admin/rollback`` goes back to the previous one.

Two routers, because the public route and the admin routes sit apart in the OpenAPI document;
every admin route checks the token in a dependency, before any body is read (an admin route
takes no body parameter, FastAPI would parse it first, but reads it with ``read_body``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from defectops.core.config import Settings
from defectops.core.errors import IntegrityError, UserError
from defectops.evaluation.records import ModelRecord
from defectops.registry.local import ModelRegistry
from defectops.serving.bodies import read_body, validate
from defectops.serving.deps import ServiceDep, current_model, require_admin
from defectops.serving.errors import ADMIN_RESPONSES, ApiError, ReloadFailed, errors
from defectops.serving.hot_swap import reload
from defectops.serving.schemas import ModelInfo, ReasonRequest

log = logging.getLogger("defectops.serving")

router = APIRouter()
admin_router = APIRouter()

#: what the admin routes share: the token check first, the error responses they document
ADMIN: dict[str, Any] = {"dependencies": [Depends(require_admin)], "responses": ADMIN_RESPONSES}
#: the rollback's optional body, documented by hand since the route reads it itself
REASON_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": ReasonRequest.model_json_schema(by_alias=True)}},
    }
}


def registry_rollback(settings: Settings, reason: str) -> ModelRecord:
    """``defectops rollback``: the champion alias and ``production/`` move back together."""
    return ModelRegistry(settings).rollback(reason)


@router.get("/model", response_model=ModelInfo, responses=errors(503))
async def model_info(service: ServiceDep) -> dict[str, Any]:
    """The champion being served: version, chunk, metrics, threshold, lineage."""
    loaded = current_model(service)
    m = loaded.metadata
    schema = loaded.champion.schema
    return {
        "version": loaded.version,
        "chunk_id": m.get("chunk_id"),
        "model": m.get("model"),
        "threshold": loaded.threshold,
        "metrics": m.get("metrics") or {},
        "trained_at": m.get("trained_at"),
        "data_sha256": m.get("data_sha256"),
        "holdout_sha256": m.get("holdout_sha256"),
        "model_sha256": m.get("model_sha256"),
        "features": {"numeric": list(schema.numeric), "categorical": list(schema.categorical)},
        "loaded_at": loaded.loaded_at,
        "last_reload_error": service.holder.last_error,
    }


@admin_router.post("/admin/reload", **ADMIN)
async def admin_reload(
    service: ServiceDep,
    accept_schema_change: bool = Query(
        False, description="swap in a champion that takes other requests than the served one"
    ),
) -> dict[str, Any]:
    """Load and verify production/ now; a refused model leaves the current one serving."""
    previous = service.holder.current
    try:
        loaded, _ = await reload(service, force=True, accept_schema_change=accept_schema_change)
    except ReloadFailed as exc:
        raise ApiError(
            409,
            "reload_failed",
            f"the champion in production/ was refused; still serving "
            f"{previous.version if previous else 'nothing'}: {exc}",
        ) from None
    assert loaded is not None
    return {
        "model_version": loaded.version,
        "previous_version": previous.version if previous else None,
        "changed": previous is None or previous.metadata_sha256 != loaded.metadata_sha256,
    }


@admin_router.post("/admin/rollback", openapi_extra=REASON_BODY, **ADMIN)
async def admin_rollback(request: Request, service: ServiceDep) -> dict[str, Any]:
    """Move the champion alias back (see ``defectops rollback``), then reload."""
    body = await read_body(request, service.limits)
    reason = (
        validate(ReasonRequest, body, service.limits.max_batch) if body.strip() else ReasonRequest()
    ).reason
    previous = service.holder.current
    try:
        target = await asyncio.to_thread(registry_rollback, service.settings, reason)
    except (UserError, IntegrityError) as exc:
        raise ApiError(409, "rollback_failed", str(exc)) from None
    except Exception as exc:
        log.error("rollback failed", exc_info=exc)
        raise ApiError(
            500, "rollback_failed", f"rollback failed: {type(exc).__name__}: {exc}"
        ) from None
    try:  # a rollback is an explicit choice of the model to serve, whatever it takes
        loaded, _ = await reload(service, force=True, accept_schema_change=True)
    except ReloadFailed as exc:
        raise ApiError(409, "reload_failed", f"rolled back, but not loaded: {exc}") from None
    assert loaded is not None
    log.info(
        "rolled back: serving champion version %s (was %s); reason: %s",
        loaded.version,
        previous.version if previous else None,
        reason,
    )
    return {
        "model_version": loaded.version,
        "previous_version": previous.version if previous else None,
        "rolled_back_to": str(target.get("version")),
    }
