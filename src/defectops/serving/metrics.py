"""Prometheus metrics of one app, in a registry of its own (never the process-wide default)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "defectops_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "defectops_http_request_duration_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "defectops_predictions", "Records scored, by predicted label", ["label"], registry=r
        )
        self.reloads = Counter(
            "defectops_model_reloads", "Champion reloads by result", ["result"], registry=r
        )
        self.errors = Counter(
            "defectops_errors", "Error responses by error code", ["code"], registry=r
        )
        self.model_info = Info("defectops_model", "The champion being served", registry=r)
        self.model_loaded = Gauge(
            "defectops_model_loaded", "1 when a verified champion is loaded", registry=r
        )
        self.model_chunk = Gauge(
            "defectops_model_chunk", "Chunk id of the champion being served", registry=r
        )
        self.model_threshold = Gauge(
            "defectops_model_threshold", "Decision threshold of the champion", registry=r
        )
        for label in ("0", "1"):
            self.predictions.labels(label)
        for result in ("success", "failure", "refused_schema"):
            self.reloads.labels(result)
        self.model_loaded.set(0)

    def set_model(self, version: str, chunk: int | None, threshold: float, sha: str) -> None:
        self.model_info.info({"version": version, "chunk": str(chunk), "model_sha256": sha})
        self.model_loaded.set(1)
        self.model_chunk.set(chunk if chunk is not None else -1)
        self.model_threshold.set(threshold)
