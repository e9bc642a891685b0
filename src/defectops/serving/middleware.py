"""Request counts and latency by route, for ``/metrics`` and the dashboard's live figures."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from defectops.serving.dashboard import DASHBOARD_ROUTES
from defectops.serving.docs import DOCS_ROUTES
from defectops.serving.live import LiveStats
from defectops.serving.metrics import ServiceMetrics

#: every path the app serves; any other is labelled ``other``, so a scan of made-up paths
#: cannot grow the metrics without bound
ROUTES = frozenset(
    {
        "/predict",
        "/predict/batch",
        "/explain",
        "/health",
        "/ready",
        "/model",
        "/metrics",
        "/monitoring",
        "/admin/reload",
        "/admin/rollback",
        "/openapi.json",
        *DASHBOARD_ROUTES,
        *DOCS_ROUTES,
    }
)


class MetricsMiddleware:
    """Pure ASGI (no per-request task): count requests by route and status, time them."""

    def __init__(
        self, app: ASGIApp, metrics: ServiceMetrics, live: LiveStats | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.live = live
        self._latency: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            latency = self._latency.get(route)
            if latency is None:
                latency = self._latency[route] = self.metrics.latency.labels(route)
            elapsed = time.perf_counter() - started
            latency.observe(elapsed)
            self.metrics.requests.labels(route, str(status[0])).inc()
            if self.live is not None:
                self.live.request(route, status[0], elapsed)
