"""``GET /health`` and ``GET /ready``: liveness and readiness, for a load balancer or a probe.

The two differ on purpose: a process without a champion is alive (restarting it would not help)
but not ready (it must get no traffic).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from defectops.serving.deps import ServiceDep
from defectops.serving.errors import error_response, errors

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive (says nothing about the model: see /ready)."""
    return {"status": "alive"}


@router.get("/ready", responses=errors(503))
async def ready(service: ServiceDep) -> Any:
    """200 only when a verified champion is loaded."""
    holder = service.holder
    loaded = holder.current
    if loaded is None:
        detail = holder.last_error or f"no champion in {service.artifacts / 'production'} yet"
        return error_response(service.metrics, 503, "not_ready", detail)
    return {"status": "ready", "model_version": loaded.version}
