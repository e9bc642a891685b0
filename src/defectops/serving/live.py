"""Live figures for the dashboard: scoring requests, predictions and latency per time bucket.

Prometheus counters only grow; turning them into "per minute" needs a Prometheus server, which a
plant's line PC often does not have. :class:`LiveStats` keeps the last hour in fixed time buckets
(one small list per bucket), so the service itself can say what happened in the last minute.
Recording costs a few list operations per request; reading merges at most an hour of buckets.

Only scoring routes count: the dashboard polls the service every few seconds and would otherwise
be most of the traffic it reports on an idle line.

>>> clock = iter([100.0, 101.0, 102.0, 130.0, 131.0]).__next__
>>> live = LiveStats(clock=clock)
>>> live.request("/predict", 200, 0.004)
>>> live.scored(1, 1)
>>> live.request("/predict", 422, 0.001)
>>> figures = live.snapshot(minutes=1)
>>> figures["last_minute"]["requests"], figures["last_minute"]["errors"]
(2, 1)
>>> figures["last_minute"]["flagged_rate"]
1.0
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: routes whose requests are the line's traffic (the rest are probes and this dashboard)
SCORING_ROUTES = frozenset({"/predict", "/predict/batch", "/explain"})
#: upper edges of the latency bins in seconds, log-spaced from 0.1 ms to 30 s (last bin: above)
LATENCY_EDGES: tuple[float, ...] = tuple(1e-4 * 10 ** (i / 8) for i in range(44))


@dataclass
class Bucket:
    """What happened in one time bucket (``start`` is a Unix time, a multiple of the width)."""

    start: int
    requests: int = 0
    errors: int = 0
    predictions: int = 0
    flagged: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_EDGES) + 1))

    def merge(self, other: Bucket) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.predictions += other.predictions
        self.flagged += other.flagged
        for i, n in enumerate(other.latency):
            if n:
                self.latency[i] += n


def percentile(counts: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a latency histogram, in seconds, interpolated in its bin.

    Bins are 1/8 decade wide, so the answer lies in the same bin as the exact sample quantile
    (within a factor of 1.33, usually much closer): enough to see a slowdown, and it never
    needs the samples themselves.

    >>> counts = [0] * (len(LATENCY_EDGES) + 1)
    >>> counts[9] = 10  # ten requests between 1 and 1.33 ms
    >>> round(percentile(counts, 0.5) * 1000, 3)
    1.167
    >>> percentile([0] * (len(LATENCY_EDGES) + 1), 0.5) is None
    True
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            low = LATENCY_EDGES[i - 1] if i > 0 else 0.0
            high = LATENCY_EDGES[i] if i < len(LATENCY_EDGES) else LATENCY_EDGES[-1] * 10 ** (1 / 8)
            return low + (high - low) * max(0.0, rank - seen) / n
        seen += n
    return LATENCY_EDGES[-1]


class LiveStats:
    """Rolling per-bucket counts of scoring requests, predictions, flagged parts and latency.

    One instance per app (kept in ``app.state.live``); the clock is injectable so that tests
    can replay known timelines. Buckets older than ``keep_seconds`` are dropped as new ones open.
    """

    def __init__(
        self,
        *,
        bucket_seconds: int = 10,
        keep_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if bucket_seconds < 1 or keep_seconds < bucket_seconds:
            raise ValueError("need bucket_seconds >= 1 and keep_seconds >= bucket_seconds")
        self.bucket_seconds = bucket_seconds
        self.keep_seconds = keep_seconds
        self.clock = clock
        self.started = clock()
        self.buckets: dict[int, Bucket] = {}
        self.totals = Bucket(start=int(self.started))
        self._current: Bucket | None = None
        self._lock = threading.Lock()

    def _bucket(self) -> Bucket:
        start = int(self.clock() // self.bucket_seconds) * self.bucket_seconds
        current = self._current
        if current is not None and current.start == start:
            return current
        bucket = self.buckets.get(start)
        if bucket is None:
            bucket = self.buckets[start] = Bucket(start=start)
            oldest = start - self.keep_seconds
            for stale in [s for s in self.buckets if s <= oldest]:
                del self.buckets[stale]
        self._current = bucket
        return bucket

    def request(self, route: str, status: int, seconds: float) -> None:
        """Record one finished HTTP request (called by the metrics middleware for every route)."""
        if route not in SCORING_ROUTES:
            return
        index = bisect.bisect_left(LATENCY_EDGES, seconds)
        failed = status >= 400
        with self._lock:
            bucket = self._bucket()
            bucket.requests += 1
            bucket.latency[index] += 1
            self.totals.requests += 1
            self.totals.latency[index] += 1
            if failed:
                bucket.errors += 1
                self.totals.errors += 1

    def scored(self, rows: int, flagged: int) -> None:
        """Record ``rows`` predictions of which ``flagged`` were called defective."""
        with self._lock:
            bucket = self._bucket()
            bucket.predictions += rows
            bucket.flagged += flagged
            self.totals.predictions += rows
            self.totals.flagged += flagged

    def snapshot(self, minutes: int = 30) -> dict[str, Any]:
        """The last minute, a per-minute series of the last ``minutes`` and totals since start.

        Minutes are aligned to the clock (the newest one is still filling). "Last minute" is the
        buckets that started in the 60 seconds before now, the filling one included: between
        60 s and 60 s less one bucket of traffic, never double-counted.
        """
        minutes = max(1, min(minutes, self.keep_seconds // 60 or 1))
        with self._lock:
            now = self.clock()
            oldest = min(now - 60, (now // 60 - minutes + 1) * 60)
            buckets = [
                Bucket(b.start, b.requests, b.errors, b.predictions, b.flagged, list(b.latency))
                for b in self.buckets.values()
                if b.start >= oldest
            ]
            totals = Bucket(
                self.totals.start,
                self.totals.requests,
                self.totals.errors,
                self.totals.predictions,
                self.totals.flagged,
                list(self.totals.latency),
            )
        last = Bucket(start=int(now))
        this_minute = int(now // 60) * 60
        series = {this_minute - 60 * i: Bucket(start=this_minute - 60 * i) for i in range(minutes)}
        for bucket in buckets:
            if now - 60 < bucket.start <= now:
                last.merge(bucket)
            minute = series.get(int(bucket.start // 60) * 60)
            if minute is not None:
                minute.merge(bucket)
        return {
            "now": now,
            "uptime_seconds": round(now - self.started, 3),
            "bucket_seconds": self.bucket_seconds,
            "last_minute": figures(last),
            "series": [{"start": start, **figures(series[start])} for start in sorted(series)],
            "totals": figures(totals),
        }


def figures(bucket: Bucket) -> dict[str, Any]:
    """The JSON of one bucket: counts, flagged rate and latency percentiles in milliseconds."""
    latency = {
        name: (None if value is None else round(value * 1000, 3))
        for name, value in (
            ("p50", percentile(bucket.latency, 0.50)),
            ("p95", percentile(bucket.latency, 0.95)),
            ("p99", percentile(bucket.latency, 0.99)),
        )
    }
    rate = bucket.flagged / bucket.predictions if bucket.predictions else None
    return {
        "requests": bucket.requests,
        "errors": bucket.errors,
        "predictions": bucket.predictions,
        "flagged": bucket.flagged,
        "flagged_rate": None if rate is None or math.isnan(rate) else rate,
        "latency_ms": latency,
    }
