"""What a route needs from its app, as FastAPI dependencies: the app's state and the admin check.

Routes live in module-level routers shared by every app, so they must not hold state; each
request finds its own app's :class:`~defectops.serving.service.Service` through
``request.app.state``, which keeps two apps in one process apart.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from defectops.serving.errors import ApiError
from defectops.serving.model_holder import LoadedModel
from defectops.serving.service import Service


def service_of(request: Request) -> Service:
    """The app's state, called directly by the scoring routes: resolving a FastAPI dependency
    costs some 50 µs of CPU per request, about 5% of a ``/predict``."""
    service: Service = request.app.state.service
    return service


async def get_service(request: Request) -> Service:
    return service_of(request)


#: a route parameter that receives the app's state (the routes off the scoring path)
ServiceDep = Annotated[Service, Depends(get_service)]


def current_model(service: Service) -> LoadedModel:
    """The champion being served, taken once: the request uses this object to the end."""
    loaded = service.holder.current
    if loaded is None:
        raise ApiError(503, "not_ready", "no verified champion is loaded yet")
    return loaded


def require_admin(request: Request) -> None:
    """The admin token check, run before any body is read (a stranger's upload is not read)."""
    admin_token = request.app.state.service.admin_token
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
