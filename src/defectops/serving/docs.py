"""``GET /docs``: Swagger UI from the package's own files, never from a CDN.

FastAPI's default page loads Swagger UI from jsDelivr and its favicon from fastapi.tiangolo.com,
so on a plant network without internet ``/docs`` is blank. Here the page, its script, its style
sheet and its icon all come from this service (``static/swagger-ui``, Swagger UI 5, which reads
the OpenAPI 3.1 document FastAPI writes), and the online spec validator is off, so the browser
asks no other host for anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

ASSETS = "/docs/assets"
#: file -> media type of everything the page loads
FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
DOCS_ROUTES = frozenset({"/docs", *(f"{ASSETS}/{name}" for name in FILES)})


def asset(name: str) -> bytes:
    return (resources.files("defectops.serving") / "static" / "swagger-ui" / name).read_bytes()


def register_docs(app: FastAPI) -> None:
    """Add ``/docs`` and its three files to ``app`` (built with ``docs_url=None``)."""
    files = {name: asset(name) for name in FILES}
    cache = {"Cache-Control": "public, max-age=86400"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    def handler(name: str) -> Callable[[], Awaitable[Response]]:
        async def serve() -> Response:
            return Response(files[name], media_type=FILES[name], headers=cache)

        return serve

    for name in FILES:
        app.add_api_route(
            f"{ASSETS}/{name}", handler(name), methods=["GET"], include_in_schema=False
        )
