"""The OpenAPI document, built from the champion being served.

The record routes take no pydantic body parameter (their models change with the champion), so
FastAPI alone would document them without a body; here the champion's record, batch and columns
models are written into the document, with an example, and the document is rebuilt only when
the champion changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from defectops.serving.model_holder import LoadedModel, ModelHolder

REF = "#/components/schemas/{model}"


def add_champion_bodies(doc: dict[str, Any], loaded: LoadedModel) -> None:
    """Document the scoring routes' request bodies with ``loaded``'s models."""
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    record = loaded.record.model_json_schema(by_alias=True, ref_template=REF)
    batch = loaded.batch.model_json_schema(by_alias=True, ref_template=REF)
    columns = loaded.batch_columns.model_json_schema(by_alias=True, ref_template=REF)
    components.update(batch.pop("$defs", {}))
    components.update(columns.pop("$defs", {}))
    components["Record"] = record
    components["BatchRecords"] = batch
    components["BatchColumns"] = columns
    components["BatchRequest"] = {
        "anyOf": [
            {"$ref": REF.format(model="BatchRecords")},
            {"$ref": REF.format(model="BatchColumns")},
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


def champion_openapi(app: FastAPI, holder: ModelHolder) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` for an app serving ``holder``'s champion, cached per champion."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        loaded = holder.current
        key = loaded.metadata_sha256 if loaded else ""
        if cache.get("key") == key and "doc" in cache:
            doc: dict[str, Any] = cache["doc"]
            return doc
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        if loaded is not None:
            add_champion_bodies(doc, loaded)
        cache.update(key=key, doc=doc)
        return doc

    return openapi
