"""The FastAPI app: ``create_app(settings)`` and the uvicorn factory ``app_from_env``.

Routes: ``POST /predict``, ``POST /predict/batch``, ``POST /explain``, ``GET /health``,
``GET /ready``, ``GET /model``, ``GET /metrics``, ``GET /monitoring`` (drift of the recent
requests: see :mod:`defectops.serving.live_drift`), ``POST /admin/reload``, ``POST
/admin/rollback``,
and the operations dashboard (``GET /``, ``/dashboard``, ``/api/registry``, ``/api/live``: see
:mod:`defectops.serving.dashboard`).

The request models depend on the champion (its feature columns), and the champion can change
while the service runs, so the record routes read the raw body and validate it with the current
champion's generated model; the OpenAPI document is built from the current champion as well.
All state lives in the closure of :func:`create_app` (and ``app.state``), none in the module.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from defectops import __version__
from defectops.core.config import Settings, load_settings
from defectops.core.errors import IntegrityError, UserError
from defectops.evaluation.records import ModelRecord
from defectops.serving.columns import columns_of_batch
from defectops.serving.dashboard import DASHBOARD_ROUTES, register_dashboard
from defectops.serving.docs import DOCS_ROUTES, register_docs
from defectops.serving.explain import ExplainUnavailable, contributions
from defectops.serving.live import LiveStats
from defectops.serving.live_drift import ServiceMonitor
from defectops.serving.metrics import ServiceMetrics
from defectops.serving.model_holder import (
    LoadedModel,
    ModelHolder,
    load_model,
    metadata_digest,
    request_schema_change,
)
from defectops.serving.request_log import RequestLog
from defectops.serving.schemas import (
    DEFAULT_MAX_CATEGORY_LENGTH,
    BatchPrediction,
    ErrorResponse,
    Explanation,
    ModelInfo,
    Monitoring,
    Prediction,
    ReasonRequest,
)
from defectops.serving.server import DEFAULT_HEADER_TIMEOUT, DEFAULT_KEEP_ALIVE

log = logging.getLogger("defectops.serving")

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_MONITOR_INTERVAL = 5.0
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: seconds a client has to send a request body once its headers are in (a stalled upload holds
#: a connection and a task)
DEFAULT_BODY_TIMEOUT = 30.0
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


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


#: what a scoring route can answer besides 200: a body too slow (408), too large (413), not JSON
#: (415), invalid (422), no champion yet (503)
ERROR_RESPONSES = _errors(408, 413, 415, 422, 500, 503)
#: an admin route: no token configured (403), a wrong one (401), refused (409)
ADMIN_RESPONSES = _errors(401, 403, 408, 409, 413, 415, 422, 500)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or []
        self.headers = headers


class ReloadFailed(Exception):
    pass


class ServeSettings(BaseSettings):
    """Serving options for :func:`app_from_env`, from ``DEFECTOPS_SERVE_*`` variables.

    ``DEFECTOPS_SERVE_CONFIG`` names the defectops YAML config (optional); everything else of
    the run's settings (``DEFECTOPS_ARTIFACTS``, ``DEFECTOPS_ADMIN_TOKEN``, ...) is read as usual.
    ``poll_interval`` 0 turns the poller off, ``monitor_interval`` 0 the drift summary.
    ``request_log`` (a directory) turns the Parquet request log on; it is written every
    ``request_log_rows`` rows or ``request_log_seconds`` seconds.
    """

    model_config = SettingsConfigDict(env_prefix="DEFECTOPS_SERVE_", extra="ignore")

    config: Path | None = None
    poll_interval: float = Field(DEFAULT_POLL_INTERVAL, ge=0)
    max_batch: int = Field(10_000, ge=1)
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1024)
    unknown_fields: Literal["reject", "ignore"] = "reject"
    max_category_length: int = Field(DEFAULT_MAX_CATEGORY_LENGTH, ge=1)
    body_timeout: float = Field(DEFAULT_BODY_TIMEOUT, gt=0)
    #: read by ``defectops serve`` for uvicorn (see :mod:`defectops.serving.server`)
    header_timeout: float = Field(DEFAULT_HEADER_TIMEOUT, gt=0)
    keep_alive: int = Field(DEFAULT_KEEP_ALIVE, ge=1)
    monitor_interval: float = Field(DEFAULT_MONITOR_INTERVAL, ge=0)
    request_log: Path | None = None
    request_log_rows: int = Field(10_000, ge=1)
    request_log_seconds: float = Field(60.0, gt=0)


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


def registry_rollback(settings: Settings, reason: str) -> ModelRecord:
    """``defectops rollback``: the champion alias and ``production/`` move back together."""
    from defectops.registry.local import ModelRegistry

    return ModelRegistry(settings).rollback(reason)


def _error_fields(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for error in exc.errors():
        loc = [part for part in error.get("loc", ()) if part != "body"]
        kind = error.get("type", "")
        if kind == "extra_forbidden":
            message = "unknown field; the model was not trained with it"
        elif kind == "missing":
            message = "required field is missing (send null for a missing numeric value)"
        else:
            message = str(error.get("msg", "invalid value"))
        fields.append(
            {
                # the column: the last name in the location (a batch's column ends in a row)
                "field": next((str(p) for p in reversed(loc) if isinstance(p, str)), None),
                "loc": [p if isinstance(p, int | str) else str(p) for p in loc],
                "type": kind,
                "message": message,
            }
        )
    return fields


def _is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, any parameters (charset) allowed."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _batch_list(loc: list[Any]) -> bool:
    """The location of a batch's list of records, or of one of its columns."""
    return loc == ["records"] or (len(loc) == 2 and loc[0] == "columns")


def _is_columns(body: bytes) -> bool:
    """Whether a batch body that failed the fast reader was meant as columns (the standard
    library reads what orjson refuses, ``NaN`` and ``1e400``, so such a body is judged by the
    model its author meant and its error names the field)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return False
    return isinstance(payload, dict) and "columns" in payload and "records" not in payload


def _split(loaded: LoadedModel, frame: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """A batch frame of the record path as (numeric matrix, one array per categorical)."""
    values = frame.to_numpy()
    n = len(loaded.numeric)
    return values[:, :n].astype(np.float64), list(values[:, n:].T)


def _summary(fields: list[dict[str, Any]]) -> str:
    parts = []
    for f in fields[:5]:
        where = ".".join(str(p) for p in f["loc"]) or "(body)"
        parts.append(f"{where}: {f['message']}")
    more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
    return "; ".join(parts) + more


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
    if unknown_fields not in ("reject", "ignore"):
        raise ValueError(f"unknown_fields must be 'reject' or 'ignore' (got {unknown_fields!r})")
    if max_batch < 1 or max_body_bytes < 1:
        raise ValueError("max_batch and max_body_bytes must be >= 1")
    artifacts = Path(settings.artifacts)
    holder = ModelHolder(artifacts)
    metrics = ServiceMetrics()
    live = LiveStats()
    reload_lock = asyncio.Lock()
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    label_counters = {0: metrics.predictions.labels("0"), 1: metrics.predictions.labels("1")}
    monitor = ServiceMonitor(settings.monitor, seed=settings.seed, reports_dir=settings.reports_dir)
    metrics.registry.register(monitor)
    metrics.registry.register(monitor.histogram)
    sink = (
        RequestLog(
            request_log,
            flush_rows=request_log_rows,
            flush_seconds=request_log_seconds,
            registry=metrics.registry,
        )
        if request_log is not None
        else None
    )

    async def reload(
        *, force: bool, accept_schema_change: bool = False
    ) -> tuple[LoadedModel | None, LoadedModel | None]:
        """Load + verify the champion in a thread and swap it in; ReloadFailed when refused.

        A champion whose requests differ from the served one's (other feature columns, or a
        column of another kind) is refused unless ``accept_schema_change``: every client of
        the service would start getting 422s. Returns ``(new, old)``; ``(None, current)`` when
        nothing changed and not forced.
        """
        async with reload_lock:
            if not force and not holder.changed():
                return None, holder.current
            digest = metadata_digest(artifacts)
            try:
                loaded = await asyncio.to_thread(
                    load_model,
                    artifacts,
                    max_batch=max_batch,
                    unknown_fields=unknown_fields,
                    max_category_length=max_category_length,
                )
            except Exception as exc:
                holder.last_seen = digest
                holder.last_error = f"{type(exc).__name__}: {exc}"
                metrics.reloads.labels("failure").inc()
                log.error("champion not loaded, keeping the current one: %s", holder.last_error)
                raise ReloadFailed(holder.last_error) from exc
            change = request_schema_change(holder.current, loaded)
            if change and not accept_schema_change:
                holder.last_seen = loaded.metadata_sha256
                holder.last_error = (
                    f"version {loaded.version} takes other requests than the served "
                    f"version {holder.current.version if holder.current else '-'} "
                    f"(request schema: {change}); refused: POST "
                    "/admin/reload?accept_schema_change=true takes it"
                )
                metrics.reloads.labels("refused_schema").inc()
                log.warning("champion not swapped in: %s", holder.last_error)
                raise ReloadFailed(holder.last_error)
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

    async def poll() -> None:
        assert poll_interval is not None
        while True:
            await asyncio.sleep(poll_interval)
            try:
                if holder.changed():
                    await reload(force=False)
            except ReloadFailed:
                pass
            except Exception:  # the poller must never die
                log.exception("champion poller failed; retrying")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if metadata_digest(artifacts) is not None:
            with contextlib.suppress(ReloadFailed):
                await reload(force=True)
        else:
            log.warning("no champion in %s yet; /ready is 503 until one appears", artifacts)
        tasks = []
        if poll_interval:
            tasks.append(asyncio.create_task(poll()))
        if monitor_interval:
            tasks.append(asyncio.create_task(monitor.run(lambda: holder.current, monitor_interval)))
        if sink is not None:
            tasks.append(asyncio.create_task(sink.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if sink is not None:
                await asyncio.to_thread(sink.flush)

    app = FastAPI(
        title="defectops prediction service",
        version=__version__,
        description="Scores production records with the verified champion.",
        lifespan=lifespan,
        docs_url=None,  # served from the package's own files: see register_docs
        redoc_url=None,
    )
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.reload = reload
    app.state.live = live
    app.state.monitor = monitor
    app.state.request_log = sink
    app.add_middleware(MetricsMiddleware, metrics=metrics, live=live)

    # -- errors ----------------------------------------------------------------------------------

    def error_response(
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        metrics.errors.labels(code).inc()
        body = {"error": {"code": code, "message": message, "fields": fields or []}}
        return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _error_fields(exc)
        return error_response(422, "validation_error", _summary(fields), fields)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "internal error; see the service log")

    # -- helpers ---------------------------------------------------------------------------------

    def current() -> LoadedModel:
        loaded = holder.current
        if loaded is None:
            raise ApiError(503, "not_ready", "no verified champion is loaded yet")
        return loaded

    async def read_body(request: Request) -> bytes:
        """The JSON body, within ``max_body_bytes`` and ``body_timeout``: the one way every
        route reads a body, after its auth (an admin route's caller is checked first)."""
        kind = request.headers.get("content-type")
        if kind is not None and not _is_json(kind):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"send JSON (Content-Type: application/json), not {kind[:80]!r}",
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            raise ApiError(413, "body_too_large", f"request body exceeds {max_body_bytes} bytes")
        chunks, size = [], 0
        try:
            async with asyncio.timeout(body_timeout):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_body_bytes:
                        raise ApiError(
                            413, "body_too_large", f"request body exceeds {max_body_bytes} bytes"
                        )
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(
                408, "body_timeout", f"the request body did not arrive within {body_timeout:g} s"
            ) from None
        return b"".join(chunks)

    def validate(model: Any, body: bytes) -> Any:
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            fields = _error_fields(exc)
            if any(f["type"] == "too_long" and _batch_list(f["loc"]) for f in fields):
                raise ApiError(
                    413,
                    "batch_too_large",
                    f"a batch holds at most {max_batch} records",
                    fields,
                ) from None
            code = (
                "invalid_json"
                if any(f["type"] == "json_invalid" for f in fields)
                else ("validation_error")
            )
            raise ApiError(422, code, _summary(fields), fields) from None

    def json_response(content: dict[str, Any]) -> Response:
        return Response(orjson.dumps(content), media_type="application/json")

    # -- scoring ---------------------------------------------------------------------------------

    @app.post("/predict", response_model=Prediction, responses=ERROR_RESPONSES)
    async def predict(request: Request) -> Response:
        """Score one record (fields named exactly like the training columns)."""
        loaded = current()
        record = validate(loaded.record, await read_body(request))
        values = loaded.values(record)
        p = float(loaded.score(loaded.frame([values]))[0])
        label = int(p >= loaded.threshold)
        label_counters[label].inc()
        live.scored(1, label)
        monitor.observe_one(loaded, values, p)
        if sink is not None:
            sink.add_one(loaded, values, p, label, "/predict")
        return json_response(
            {
                "defect_probability": p,
                "defect_pred": label,
                "threshold": loaded.threshold,
                "model_version": loaded.version,
            }
        )

    @app.post("/predict/batch", response_model=BatchPrediction, responses=ERROR_RESPONSES)
    async def predict_batch(request: Request) -> Response:
        """Score up to ``max_batch`` records at once (one feature pass, one model call).

        Scored on the event loop, not in a thread: most of the work holds the GIL anyway, and
        handing it between threads cost more CPU than it saved. Concurrency comes from
        ``--workers``.
        """
        loaded = current()
        body = await read_body(request)
        columns = columns_of_batch(body, loaded.rules)
        if columns is not None:
            scores = loaded.champion.model.decision_scores_columns(*columns)
        else:
            if _is_columns(body):  # not plainly valid: the pydantic model names the problem
                table = validate(loaded.batch_columns, body).columns
                frame = loaded.frame(list(zip(*loaded.values(table), strict=True)))
            else:
                batch = validate(loaded.batch, body)
                frame = loaded.frame([loaded.values(r) for r in batch.records])
            scores = loaded.score(frame)
            columns = _split(loaded, frame)
        labels = (scores >= loaded.threshold).astype(int)
        positives = int(labels.sum())
        label_counters[1].inc(positives)
        label_counters[0].inc(len(labels) - positives)
        live.scored(len(labels), positives)
        monitor.observe_many(loaded, *columns, scores)
        if sink is not None:
            sink.add_many(loaded, *columns, scores, labels, "/predict/batch")
        return json_response(
            {
                "predictions": [
                    {"defect_probability": p, "defect_pred": y}
                    for p, y in zip(scores.tolist(), labels.tolist(), strict=True)
                ],
                "threshold": loaded.threshold,
                "model_version": loaded.version,
            }
        )

    @app.post("/explain", response_model=Explanation, responses={**ERROR_RESPONSES, **_errors(400)})
    async def explain(request: Request, top: int = Query(10, ge=1, le=1000)) -> Response:
        """The features that moved this record's score most (gbm: exact tree SHAP, margin units)."""
        loaded = current()
        record = validate(loaded.record, await read_body(request))
        frame = loaded.frame([loaded.values(record)])
        try:
            detail = contributions(loaded.champion.model, frame, top)
        except ExplainUnavailable as exc:
            raise ApiError(400, "explain_not_available", str(exc)) from None
        p = float(loaded.score(frame)[0])
        return json_response(
            jsonable_encoder(
                {
                    "defect_probability": p,
                    "defect_pred": int(p >= loaded.threshold),
                    "threshold": loaded.threshold,
                    "model_version": loaded.version,
                    **detail,
                }
            )
        )

    # -- state -----------------------------------------------------------------------------------

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The process is alive (says nothing about the model: see /ready)."""
        return {"status": "alive"}

    @app.get("/ready", responses={503: {"model": ErrorResponse}})
    async def ready() -> Any:
        """200 only when a verified champion is loaded."""
        loaded = holder.current
        if loaded is None:
            detail = holder.last_error or f"no champion in {artifacts / 'production'} yet"
            return error_response(503, "not_ready", detail)
        return {"status": "ready", "model_version": loaded.version}

    @app.get("/model", response_model=ModelInfo, responses={503: {"model": ErrorResponse}})
    async def model_info() -> dict[str, Any]:
        """The champion being served: version, chunk, metrics, threshold, lineage."""
        loaded = current()
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
            "last_reload_error": holder.last_error,
        }

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/monitoring", response_model=Monitoring)
    async def monitoring() -> Response:
        """Drift of the recently scored rows against the champion's training profile.

        ``status`` is ``unknown`` until the window holds enough rows (``message`` says why);
        ``features`` are ranked worst first; ``report`` is the newest ``defectops monitor``
        report. Recomputed in the background every few seconds, never on this request.
        """
        return json_response(monitor.payload())

    # -- admin -----------------------------------------------------------------------------------

    def require_admin(request: Request) -> None:
        if admin_token is None:
            raise ApiError(
                403,
                "admin_disabled",
                "admin routes are disabled: no admin token is configured "
                "(set DEFECTOPS_ADMIN_TOKEN to enable them)",
            )
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), admin_token.encode()
        )
        if not ok:
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong admin token (send Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    # the token is checked by a dependency, before any body is read: an admin route takes no
    # body parameter (FastAPI would parse it first) but reads it with read_body
    admin = {"dependencies": [Depends(require_admin)], "responses": ADMIN_RESPONSES}

    @app.post("/admin/reload", **admin)  # type: ignore[arg-type]
    async def admin_reload(
        accept_schema_change: bool = Query(
            False, description="swap in a champion that takes other requests than the served one"
        ),
    ) -> dict[str, Any]:
        """Load and verify production/ now; a refused model leaves the current one serving."""
        previous = holder.current
        try:
            loaded, _ = await reload(force=True, accept_schema_change=accept_schema_change)
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

    reason_body = {
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": ReasonRequest.model_json_schema(by_alias=True)}
            },
        }
    }

    @app.post("/admin/rollback", openapi_extra=reason_body, **admin)  # type: ignore[arg-type]
    async def admin_rollback(request: Request) -> dict[str, Any]:
        """Move the champion alias back (see ``defectops rollback``), then reload."""
        body = await read_body(request)
        reason = (validate(ReasonRequest, body) if body.strip() else ReasonRequest()).reason
        previous = holder.current
        try:
            target = await asyncio.to_thread(registry_rollback, settings, reason)
        except (UserError, IntegrityError) as exc:
            raise ApiError(409, "rollback_failed", str(exc)) from None
        except Exception as exc:
            log.error("rollback failed", exc_info=exc)
            raise ApiError(
                500, "rollback_failed", f"rollback failed: {type(exc).__name__}: {exc}"
            ) from None
        try:  # a rollback is an explicit choice of the model to serve, whatever it takes
            loaded, _ = await reload(force=True, accept_schema_change=True)
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

    register_dashboard(
        app, artifacts=artifacts, holder=holder, live=live, reports=settings.reports_dir
    )
    register_docs(app)

    # -- OpenAPI from the current champion ---------------------------------------------------------

    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        loaded = holder.current
        key = loaded.metadata_sha256 if loaded else ""
        if cache.get("key") == key and "doc" in cache:
            return cache["doc"]
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        if loaded is not None:
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            ref = "#/components/schemas/{model}"
            record = loaded.record.model_json_schema(by_alias=True, ref_template=ref)
            batch = loaded.batch.model_json_schema(by_alias=True, ref_template=ref)
            columns = loaded.batch_columns.model_json_schema(by_alias=True, ref_template=ref)
            components.update(batch.pop("$defs", {}))
            components.update(columns.pop("$defs", {}))
            components["Record"] = record
            components["BatchRecords"] = batch
            components["BatchColumns"] = columns
            components["BatchRequest"] = {
                "anyOf": [
                    {"$ref": ref.format(model="BatchRecords")},
                    {"$ref": ref.format(model="BatchColumns")},
                ]
            }
            example = record.get("examples", [None])[0]
            bodies = {
                "/predict": ("Record", example),
                "/explain": ("Record", example),
                "/predict/batch": ("BatchRequest", {"records": [example]}),
            }
            for path, (name, sample) in bodies.items():
                doc["paths"][path]["post"]["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{name}"},
                            "example": sample,
                        }
                    },
                }
        cache.update(key=key, doc=doc)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    return app
