"""How ``defectops serve`` runs the app: uvicorn with the limits a plant network needs.

Left to its defaults, uvicorn holds a connection that never completes its request headers for
ever (300 idle sockets are 300 held file descriptors), and its access log writes every URL
whole, so a token that a careless client puts in a query string lands in the log. Here:

- :class:`HeaderDeadline` closes a connection whose request headers are not complete within
  ``header_timeout`` seconds of its first byte (or of the connection, for the first request);
  an idle keep-alive connection is closed after ``keep_alive`` seconds (uvicorn's own timer), and
  a body that stalls is the app's 408 (``DEFECTOPS_SERVE_BODY_TIMEOUT``);
- :class:`RedactQuery` writes a query string to the access log as the names of the API's own
  parameters (``top``, ``accept_schema_change``) and ``***`` for everything else, never a value;
- the service's own log (``defectops.serving``: the champion loaded, swapped to, refused, rolled
  back to, with versions) is written at INFO beside uvicorn's.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
from typing import Any
from urllib.parse import parse_qsl

from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_ENV = "DEFECTOPS_SERVE_HEADER_TIMEOUT"
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_KEEP_ALIVE = 5
REDACTED = "***"
#: query parameters of the API's routes: their names (never their values) are logged
API_PARAMETERS = frozenset({"top", "accept_schema_change"})


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for a request's headers.

    Named by import string in uvicorn's config (``http=``), so every worker process builds it;
    the deadline comes from ``DEFECTOPS_SERVE_HEADER_TIMEOUT``, which ``defectops serve`` sets.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV, DEFAULT_HEADER_TIMEOUT))
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class RedactQuery(logging.Filter):
    """Access-log records with every query value replaced by ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def redact_query(path: str) -> str:
    """``/explain?top=5&token=s3cret&s3cret`` -> ``/explain?top=***&***&***``."""
    route, mark, query = path.partition("?")
    if not mark:
        return path
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)] or [""]
    shown = (f"{name}={REDACTED}" if name in API_PARAMETERS else REDACTED for name in names)
    return route + "?" + "&".join(shown)


def log_config() -> dict[str, Any]:
    """uvicorn's logging config, with the access log redacted and the service's log at INFO."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": f"{__name__}.RedactQuery"}
    config["handlers"]["access"]["filters"] = ["redact_query"]
    config["loggers"]["defectops"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def uvicorn_options(*, header_timeout: float, keep_alive: int) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` that harden the server."""
    os.environ[HEADER_TIMEOUT_ENV] = str(header_timeout)
    return {
        "http": f"{__name__}:HeaderDeadline",
        "timeout_keep_alive": keep_alive,
        "log_config": log_config(),
        "server_header": False,
    }
