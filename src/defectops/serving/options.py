"""The service's options: the limits every request is held to, and ``DEFECTOPS_SERVE_*``.

:class:`Limits` travels with the app (in its :class:`~defectops.serving.service.Service`), so two
apps in one process can hold different limits; :class:`ServeSettings` is only how
:func:`~defectops.serving.app.app_from_env` reads them from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from defectops.serving.schemas import DEFAULT_MAX_CATEGORY_LENGTH
from defectops.serving.server import DEFAULT_HEADER_TIMEOUT, DEFAULT_KEEP_ALIVE

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_MONITOR_INTERVAL = 5.0
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: seconds a client has to send a request body once its headers are in (a stalled upload holds
#: a connection and a task)
DEFAULT_BODY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Limits:
    """What a request may send and how a champion's request models are built.

    Checked when the app is built, so a bad value fails at start-up rather than on a request.
    """

    max_batch: int = 10_000
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    unknown_fields: Literal["reject", "ignore"] = "reject"
    max_category_length: int = DEFAULT_MAX_CATEGORY_LENGTH
    body_timeout: float = DEFAULT_BODY_TIMEOUT

    def __post_init__(self) -> None:
        if self.unknown_fields not in ("reject", "ignore"):
            raise ValueError(
                f"unknown_fields must be 'reject' or 'ignore' (got {self.unknown_fields!r})"
            )
        if self.max_batch < 1 or self.max_body_bytes < 1:
            raise ValueError("max_batch and max_body_bytes must be >= 1")


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
