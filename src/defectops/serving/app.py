"""The FastAPI app: ``create_app(settings)`` and the uvicorn factory ``app_from_env``.

Routes: ``POST /predict``, ``POST /predict/batch``, ``POST /explain``, ``GET /health``,
``GET /ready``, ``GET /model``, ``GET /metrics``, ``GET /monitoring`` (drift of the recent
requests: see :mod:`defectops.serving.live_drift`), ``POST /admin/reload``,
``POST /admin/rollback``, and the operations dashboard (``GET /``, ``/dashboard``,
``/api/registry``, ``/api/live``: see :mod:`defectops.serving.dashboard`).

The request models depend on the champion (its feature columns), and the champion can change
while the service runs, so the record routes read the raw body and validate it with the current
champion's generated model; the OpenAPI document is built from the current champion as well.
All state lives in ``app.state`` (its :class:`~defectops.serving.service.Service`), none in a
module.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from fastapi import FastAPI

from defectops import __version__
from defectops.core.config import Settings, load_settings
from defectops.serving.dashboard import register_dashboard
from defectops.serving.docs import register_docs
from defectops.serving.handlers import add_exception_handlers
from defectops.serving.hot_swap import reload
from defectops.serving.lifespan import lifespan
from defectops.serving.middleware import MetricsMiddleware
from defectops.serving.openapi import champion_openapi
from defectops.serving.options import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MONITOR_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    Limits,
    ServeSettings,
)
from defectops.serving.routes import health, models, monitoring, scoring
from defectops.serving.schemas import DEFAULT_MAX_CATEGORY_LENGTH
from defectops.serving.service import Service, build_service

__all__ = ["ServeSettings", "app_from_env", "create_app"]


def app_from_env() -> FastAPI:
    """uvicorn factory: ``python -m uvicorn --factory defectops.serving.app:app_from_env``."""
    serve = ServeSettings()
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEFECTOPS_SERVE_")}
    settings = load_settings(serve.config, environ=environ)
    return create_app(
        settings,
        poll_interval=serve.poll_interval or None,
        max_batch=serve.max_batch,
        max_body_bytes=serve.max_body_bytes,
        unknown_fields=serve.unknown_fields,
        max_category_length=serve.max_category_length,
        body_timeout=serve.body_timeout,
        monitor_interval=serve.monitor_interval or None,
        request_log=serve.request_log,
        request_log_rows=serve.request_log_rows,
        request_log_seconds=serve.request_log_seconds,
    )


def create_app(
    settings: Settings,
    *,
    poll_interval: float | None = DEFAULT_POLL_INTERVAL,
    max_batch: int = 10_000,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    unknown_fields: Literal["reject", "ignore"] = "reject",
    max_category_length: int = DEFAULT_MAX_CATEGORY_LENGTH,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    monitor_interval: float | None = DEFAULT_MONITOR_INTERVAL,
    request_log: Path | None = None,
    request_log_rows: int = 10_000,
    request_log_seconds: float = 60.0,
) -> FastAPI:
    """The prediction service on the champion in ``settings.artifacts``.

    ``poll_interval`` (seconds; None: no poller) is how often ``production/metadata.json`` is
    checked for a new champion. ``monitor_interval`` (seconds; None: only on demand, through
    ``app.state.monitor.refresh``) is how often the drift of the recent rows is summarised.
    ``request_log`` (a directory; None: off) keeps every scored row in Parquet files. The admin
    routes need ``settings.admin_token``; without one they are disabled.
    """
    limits = Limits(
        max_batch=max_batch,
        max_body_bytes=max_body_bytes,
        unknown_fields=unknown_fields,
        max_category_length=max_category_length,
        body_timeout=body_timeout,
    )
    service = build_service(
        settings,
        limits,
        poll_interval=poll_interval,
        monitor_interval=monitor_interval,
        request_log=request_log,
        request_log_rows=request_log_rows,
        request_log_seconds=request_log_seconds,
    )
    app = FastAPI(
        title="defectops prediction service",
        version=__version__,
        description="Scores production records with the verified champion.",
        lifespan=lifespan,
        docs_url=None,  # served from the package's own files: see register_docs
        redoc_url=None,
    )
    expose(app, service)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics, live=service.live)
    add_exception_handlers(app)
    # in this order the paths appear in the OpenAPI document (and in Swagger UI)
    for router in (
        scoring.router,
        health.router,
        models.router,
        monitoring.router,
        models.admin_router,
    ):
        app.include_router(router)
    register_dashboard(
        app,
        artifacts=service.artifacts,
        holder=service.holder,
        live=service.live,
        reports=settings.reports_dir,
    )
    register_docs(app)
    app.openapi = champion_openapi(app, service.holder)  # type: ignore[method-assign]
    return app


def expose(app: FastAPI, service: Service) -> None:
    """Put ``service`` on ``app.state``, with its parts under the names callers and tests use."""
    app.state.service = service
    app.state.holder = service.holder
    app.state.metrics = service.metrics
    app.state.reload = functools.partial(reload, service)
    app.state.live = service.live
    app.state.monitor = service.monitor
    app.state.request_log = service.sink
