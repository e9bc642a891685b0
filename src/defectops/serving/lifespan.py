"""What an app does beside answering requests: load the champion at start, then keep it fresh.

The lifespan loads the champion before the first request (a missing one is not fatal: ``/ready``
says 503 until one appears), starts the poller, the drift summary and the request log's writer,
and at shutdown stops them and writes the rows still kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from defectops.serving.errors import ReloadFailed
from defectops.serving.hot_swap import reload
from defectops.serving.model_holder import metadata_digest
from defectops.serving.service import Service

log = logging.getLogger("defectops.serving")


async def poll(service: Service, interval: float) -> None:
    """Check ``production/`` every ``interval`` seconds and swap in a new champion."""
    while True:
        await asyncio.sleep(interval)
        try:
            if service.holder.changed():
                await reload(service, force=False)
        except ReloadFailed:
            pass
        except Exception:  # the poller must never die
            log.exception("champion poller failed; retrying")


def background(service: Service) -> list[asyncio.Task[None]]:
    """The app's background tasks, as its options turn them on."""
    tasks = []
    if service.poll_interval:
        tasks.append(asyncio.create_task(poll(service, service.poll_interval)))
    if service.monitor_interval:
        watch = service.monitor.run(lambda: service.holder.current, service.monitor_interval)
        tasks.append(asyncio.create_task(watch))
    if service.sink is not None:
        tasks.append(asyncio.create_task(service.sink.run()))
    return tasks


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: Service = app.state.service
    if metadata_digest(service.artifacts) is not None:
        with contextlib.suppress(ReloadFailed):
            await reload(service, force=True)
    else:
        log.warning("no champion in %s yet; /ready is 503 until one appears", service.artifacts)
    tasks = background(service)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if service.sink is not None:
            await asyncio.to_thread(service.sink.flush)
