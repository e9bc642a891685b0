"""``GET /metrics`` and ``GET /monitoring``: what the service is doing and how its inputs drift.

Both answer from figures kept as requests are scored (the drift summary is recomputed in the
background), so a scrape costs a scoring request nothing.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from defectops.serving.bodies import json_response
from defectops.serving.deps import ServiceDep
from defectops.serving.schemas import Monitoring

router = APIRouter()


@router.get("/metrics", response_class=Response)
async def prometheus(service: ServiceDep) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/monitoring", response_model=Monitoring)
async def monitoring(service: ServiceDep) -> Response:
    """Drift of the recently scored rows against the champion's training profile.

    ``status`` is ``unknown`` until the window holds enough rows (``message`` says why);
    ``features`` are ranked worst first; ``report`` is the newest ``defectops monitor``
    report. Recomputed in the background every few seconds, never on this request.
    """
    return json_response(service.monitor.payload())
