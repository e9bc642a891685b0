"""The verb that serves the champion over HTTP: ``serve``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from defectops.cli.options import ArtifactsOpt, ConfigOpt, TrackingOpt, settings_from
from defectops.core.errors import UserError


def serve(
    artifacts: ArtifactsOpt = None,
    tracking_uri: TrackingOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    poll_interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds between checks for a new champion (0: off).")
    ] = 2.0,
    monitor_interval: Annotated[
        float,
        typer.Option(min=0.0, help="Seconds between drift summaries of the recent rows (0: off)."),
    ] = 5.0,
    request_log: Annotated[
        Path | None,
        typer.Option(help="Directory for a Parquet log of every scored row (default: no log)."),
    ] = None,
    wait_for_model: Annotated[
        bool,
        typer.Option(
            help="Start even when the artifacts directory does not exist yet, and serve its "
            "first champion when one appears (/ready is 503 until then)."
        ),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Serve the champion over HTTP: /predict, /predict/batch, /monitoring, /metrics, /docs.

    Limits (environment): DEFECTOPS_SERVE_HEADER_TIMEOUT (s, default 10),
    DEFECTOPS_SERVE_KEEP_ALIVE (s, 5), DEFECTOPS_SERVE_BODY_TIMEOUT (s, 30),
    DEFECTOPS_SERVE_MAX_BODY_BYTES, DEFECTOPS_SERVE_MAX_BATCH,
    DEFECTOPS_SERVE_MAX_CATEGORY_LENGTH (characters, 256).
    """
    settings = settings_from(locals())
    # imported on use: uvicorn and the model's libraries would slow `defectops --help` down
    import uvicorn

    from defectops.serving.app import ServeSettings
    from defectops.serving.server import uvicorn_options
    from defectops.serving.startup import fetch_champion

    limits = ServeSettings()
    if settings.tracking_uri:  # a tracking server: its champion is what to serve
        typer.echo(fetch_champion(settings))
    elif not settings.artifacts.is_dir() and not wait_for_model:
        raise UserError(
            f"--artifacts {settings.artifacts}: no such directory; check the path, or pass "
            "--wait-for-model to start and serve the first champion written there"
        )
    for name, value in (("ARTIFACTS", artifacts), ("TRACKING_URI", tracking_uri)):
        if value is not None:
            os.environ[f"DEFECTOPS_{name}"] = str(value)
    os.environ["DEFECTOPS_SERVE_POLL_INTERVAL"] = str(poll_interval)
    os.environ["DEFECTOPS_SERVE_MONITOR_INTERVAL"] = str(monitor_interval)
    if request_log is not None:
        os.environ["DEFECTOPS_SERVE_REQUEST_LOG"] = str(request_log.resolve())
    if config is not None:
        os.environ["DEFECTOPS_SERVE_CONFIG"] = str(config)
    uvicorn.run(
        "defectops.serving.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        **uvicorn_options(header_timeout=limits.header_timeout, keep_alive=limits.keep_alive),
    )
