"""The app's exception handlers: every error, expected or not, in the service's error shape.

Starlette's own 404 and 405 and FastAPI's query validation go through here too, so a client
never sees a second format, and an unexpected exception is logged here and answered with a 500
that leaks no traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from defectops.serving.errors import ApiError, error_fields, error_response, summary
from defectops.serving.service import Service

log = logging.getLogger("defectops.serving")


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
    metrics = _service(request).metrics
    return error_response(metrics, exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def on_request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = error_fields(exc)
    return error_response(
        _service(request).metrics, 422, "validation_error", summary(fields), fields
    )


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, f"http_{exc.status_code}")
    metrics = _service(request).metrics
    return error_response(metrics, exc.status_code, code, str(exc.detail), headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    metrics = _service(request).metrics
    return error_response(metrics, 500, "internal_error", "internal error; see the service log")


def add_exception_handlers(app: FastAPI) -> None:
    app.exception_handler(ApiError)(on_api_error)
    app.exception_handler(RequestValidationError)(on_request_validation)
    app.exception_handler(StarletteHTTPException)(on_http_error)
    app.exception_handler(Exception)(on_unexpected)
