"""The service's one error shape: ``{"error": {"code", "message", "fields"}}``, counted by code.

Every refusal, from a route, a validation or Starlette itself, reaches the client in this shape
so a client has one thing to parse; ``fields`` names the offending columns in the training
columns' names, so a line engineer can fix the sending side without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from defectops.serving.metrics import ServiceMetrics
from defectops.serving.schemas import ErrorResponse


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


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting each of ``codes`` with the error shape."""
    return {code: {"model": ErrorResponse} for code in codes}


#: what a scoring route can answer besides 200: a body too slow (408), too large (413), not JSON
#: (415), invalid (422), no champion yet (503)
ERROR_RESPONSES = errors(408, 413, 415, 422, 500, 503)
#: an admin route: no token configured (403), a wrong one (401), refused (409)
ADMIN_RESPONSES = errors(401, 403, 408, 409, 413, 415, 422, 500)


def error_fields(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
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


def summary(fields: list[dict[str, Any]]) -> str:
    parts = []
    for f in fields[:5]:
        where = ".".join(str(p) for p in f["loc"]) or "(body)"
        parts.append(f"{where}: {f['message']}")
    more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
    return "; ".join(parts) + more


def error_response(
    metrics: ServiceMetrics,
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    metrics.errors.labels(code).inc()
    body = {"error": {"code": code, "message": message, "fields": fields or []}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)
