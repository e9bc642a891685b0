"""Everything one app holds while it runs, kept on ``app.state.service``.

One object per app, none in a module: two apps in one process (a test beside a benchmark, a
lenient app beside a strict one) each have their own champion, metrics registry, drift window
and request log, and never see each other's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import Counter

from defectops.core.config import Settings
from defectops.serving.live import LiveStats
from defectops.serving.live_drift import ServiceMonitor
from defectops.serving.metrics import ServiceMetrics
from defectops.serving.model_holder import ModelHolder
from defectops.serving.options import Limits
from defectops.serving.request_log import RequestLog


@dataclass(eq=False)
class Service:
    """The state of one app: its champion, what it counts and keeps, and its background work.

    ``poll_interval`` (seconds; None: no poller) is how often ``production/metadata.json`` is
    checked for a new champion; ``monitor_interval`` (seconds; None: only on demand) how often
    the drift of the recent rows is summarised.
    """

    settings: Settings
    artifacts: Path
    limits: Limits
    holder: ModelHolder
    metrics: ServiceMetrics
    live: LiveStats
    monitor: ServiceMonitor
    sink: RequestLog | None
    admin_token: str | None
    poll_interval: float | None
    monitor_interval: float | None
    #: one reload at a time: the poller and an admin route never load the same champion twice
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: the predictions counter's two children, looked up once rather than per request
    label_counters: dict[int, Counter] = field(init=False)

    def __post_init__(self) -> None:
        predictions = self.metrics.predictions
        self.label_counters = {0: predictions.labels("0"), 1: predictions.labels("1")}


def build_service(
    settings: Settings,
    limits: Limits,
    *,
    poll_interval: float | None,
    monitor_interval: float | None,
    request_log: Path | None,
    request_log_rows: int,
    request_log_seconds: float,
) -> Service:
    """The state of a new app, its drift and request-log figures in the app's own registry."""
    artifacts = Path(settings.artifacts)
    metrics = ServiceMetrics()
    monitor = ServiceMonitor(settings.monitor, seed=settings.seed, reports_dir=settings.reports_dir)
    metrics.registry.register(monitor)
    metrics.registry.register(monitor.histogram)
    sink = (
        RequestLog(
            request_log,
            flush_rows=request_log_rows,
            flush_seconds=request_log_seconds,
            registry=metrics.registry,
        )
        if request_log is not None
        else None
    )
    return Service(
        settings=settings,
        artifacts=artifacts,
        limits=limits,
        holder=ModelHolder(artifacts),
        metrics=metrics,
        live=LiveStats(),
        monitor=monitor,
        sink=sink,
        admin_token=settings.admin_token.get_secret_value() if settings.admin_token else None,
        poll_interval=poll_interval,
        monitor_interval=monitor_interval,
    )
