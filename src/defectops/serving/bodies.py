"""Request bodies in, JSON bodies out: the one way every route reads and answers.

A route reads its body here, after its auth, never through a FastAPI body parameter: the record
models change with the champion, so a body is validated against the champion taken for that
request, and a body too large, too slow or not JSON is refused before it is parsed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from defectops.serving.errors import ApiError, error_fields, summary
from defectops.serving.options import Limits


def is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, any parameters (charset) allowed."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def batch_list(loc: list[Any]) -> bool:
    """The location of a batch's list of records, or of one of its columns."""
    return loc == ["records"] or (len(loc) == 2 and loc[0] == "columns")


def is_columns(body: bytes) -> bool:
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


async def read_body(request: Request, limits: Limits) -> bytes:
    """The JSON body, within ``max_body_bytes`` and ``body_timeout``: the one way every route
    reads a body, after its auth (an admin route's caller is checked first)."""
    max_body_bytes, body_timeout = limits.max_body_bytes, limits.body_timeout
    kind = request.headers.get("content-type")
    if kind is not None and not is_json(kind):
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


def validate(model: Any, body: bytes, max_batch: int) -> Any:
    """``body`` parsed by ``model``; an oversized batch is a 413, any other fault a 422."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        fields = error_fields(exc)
        if any(f["type"] == "too_long" and batch_list(f["loc"]) for f in fields):
            raise ApiError(
                413,
                "batch_too_large",
                f"a batch holds at most {max_batch} records",
                fields,
            ) from None
        code = (
            "invalid_json"
            if any(f["type"] == "json_invalid" for f in fields)
            else "validation_error"
        )
        raise ApiError(422, code, summary(fields), fields) from None


def json_response(content: dict[str, Any]) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")
