"""Drift as the service sees it: its recent rows against the champion's training profile.

The batch monitor (``defectops monitor``) judges a file after the fact; a line that sends its
parts one by one has no file, so the service keeps its own window of what it scored
(:class:`~defectops.serving.window.ScoredWindow`) and compares it with the profile stored
with the champion, by the same rules (:func:`defectops.monitoring.drift.compare`).

Nothing of that runs on the request path: a request adds its rows to the window and its
scores to a histogram (microseconds); a background task summarises the window every few
seconds in a worker thread, and only when rows came in or the champion changed. ``GET
/monitoring`` and ``/metrics`` read the last summary. The summary also carries the newest batch
report written by ``defectops monitor``, so one place answers "is the data drifting?".

Scores drift only against the scores of the champion that made them, so each row remembers which
champion scored it and the score check uses only the current one's rows; a champion with other
feature columns starts a new window. ``/explain`` does not feed the window: it asks why about a
record that was usually scored already. Each worker process keeps its own window (with
``--workers 2`` each answer describes the rows of the worker that took the request).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from defectops.core.atomic import to_jsonable
from defectops.core.config import MonitorSettings
from defectops.core.layout import DRIFT_REPORTS
from defectops.monitoring.drift import compare, worst
from defectops.serving.model_holder import LoadedModel
from defectops.serving.window import ScoredWindow

log = logging.getLogger("defectops.serving")

#: fewer rows than this say too little about a distribution: the status stays "unknown"
MIN_ROWS = 100
#: upper bounds of the served-probability histogram's buckets (then +Inf)
SCORE_EDGES: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 21))
STATUS_CODES = {"unknown": -1, "ok": 0, "warn": 1, "drift": 2}


class ScoreHistogram:
    """Counts of served defect probabilities per bucket, as a Prometheus histogram.

    ``Histogram.observe`` costs about a microsecond per value, a millisecond for a batch of a
    thousand; counting a batch with ``searchsorted`` and ``bincount`` costs a few microseconds,
    and this collector exposes the counts in the histogram format all the same.

    >>> h = ScoreHistogram()
    >>> h.observe_one(0.03)
    >>> h.observe_many(np.array([0.05, 0.07, 0.99]))
    >>> family = next(h.collect())
    >>> [(s.labels["le"], int(s.value)) for s in family.samples if s.name.endswith("_bucket")][:3]
    [('0.05', 2), ('0.1', 3), ('0.15', 3)]
    """

    name = "defectops_defect_probability"

    def __init__(self, edges: Sequence[float] = SCORE_EDGES) -> None:
        self.edges = list(edges)
        self._edges = np.asarray(edges, dtype=np.float64)
        self._counts = np.zeros(len(edges) + 1, dtype=np.int64)  # the last: above every edge
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe_one(self, score: float) -> None:
        index = bisect.bisect_left(self.edges, score)  # value <= edge, as Prometheus' "le"
        with self._lock:
            self._counts[index] += 1
            self._sum += score

    def observe_many(self, scores: np.ndarray) -> None:
        index = np.searchsorted(self._edges, scores, side="left")
        counts = np.bincount(index, minlength=len(self._counts))
        total = float(scores.sum())
        with self._lock:
            self._counts += counts
            self._sum += total

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            cumulative = np.cumsum(self._counts).tolist()
            total = self._sum
        bounds = [floatToGoString(edge) for edge in self.edges] + ["+Inf"]
        yield HistogramMetricFamily(
            self.name,
            "Defect probabilities served (every scored row)",
            buckets=list(zip(bounds, cumulative, strict=True)),
            sum_value=total,
        )


def summarise_report(report: dict[str, Any]) -> dict[str, Any]:
    """What the dashboard shows of a ``defectops monitor`` report."""
    return to_jsonable(
        {
            "batch": str(report.get("batch")),
            "status": str(report.get("status")),
            "created_at": report.get("created_at"),
            "champion_version": report.get("champion_version"),
            "features": [
                {
                    "feature": f.get("feature"),
                    "psi": f.get("psi"),
                    "allowance": f.get("allowance"),
                    "margin": f.get("margin"),
                    "status": f.get("status"),
                    "kind": f.get("kind"),
                }
                for f in report.get("features") or []
            ],
        }
    )


class ServiceMonitor:
    """The window, the score histogram and the last drift summary of one app.

    ``observe_*`` run on the event loop as part of a request; :meth:`refresh` runs in a
    worker thread (see :meth:`run`), or directly from a test that wants a summary now.
    """

    def __init__(
        self,
        settings: MonitorSettings,
        *,
        seed: int,
        reports_dir: Path,
        min_rows: int = MIN_ROWS,
    ) -> None:
        self.settings = settings
        self.seed = seed
        self.capacity = settings.window
        self.reports_dir = Path(reports_dir)
        self.min_rows = min_rows
        self.histogram = ScoreHistogram()
        self.window: ScoredWindow | None = None
        self.report: dict[str, Any] | None = None
        #: (summary, the window it describes); replaced whole, so readers need no lock
        self._summary: tuple[dict[str, Any] | None, ScoredWindow | None] = (None, None)
        self._loaded: LoadedModel | None = None
        self._model = 0
        self._models: dict[str, int] = {}  # champion (metadata digest) -> its number in rows
        self._computed: tuple[Any, ...] | None = None
        self._report_key: tuple[Any, ...] | None = None
        self._refresh_lock = threading.Lock()

    # -- the request path ------------------------------------------------------------------------

    def _use(self, loaded: LoadedModel) -> tuple[ScoredWindow, int]:
        """The window and champion number for rows scored by ``loaded`` (a new one if needed)."""
        if loaded is not self._loaded or self.window is None:
            self._model = self._models.setdefault(loaded.metadata_sha256, len(self._models))
            window = self.window
            if (
                window is None
                or window.numeric != loaded.numeric
                or window.categorical != loaded.categorical
            ):
                self.window = ScoredWindow(
                    loaded.numeric,
                    loaded.categorical,
                    self.capacity,
                    sample_rate=self.settings.sample_rate,
                    seed=self.seed,
                )
            self._loaded = loaded
        assert self.window is not None
        return self.window, self._model

    def observe_one(self, loaded: LoadedModel, values: Sequence[Any], score: float) -> None:
        """One scored record, its values in feature order."""
        self.histogram.observe_one(score)
        window, model = self._use(loaded)
        window.add_one(values, score, model=model)

    def observe_many(
        self,
        loaded: LoadedModel,
        numbers: np.ndarray,
        categories: Sequence[np.ndarray],
        scores: np.ndarray,
    ) -> None:
        """A scored batch: numeric matrix, one object array per categorical, scores."""
        self.histogram.observe_many(scores)
        window, model = self._use(loaded)
        window.add_many(numbers, categories, scores, model=model)

    # -- the summary (off the request path) ------------------------------------------------------

    async def run(self, current: Callable[[], LoadedModel | None], interval: float) -> None:
        """Refresh every ``interval`` seconds in a worker thread, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.refresh, current())
            except Exception:  # the task must never die
                log.exception("drift summary failed; retrying")

    def refresh(self, loaded: LoadedModel | None, *, force: bool = False) -> bool:
        """Summarise the window against ``loaded`` if anything changed; True when it did."""
        with self._refresh_lock:
            self._refresh_report()
            window = self.window
            key = (
                id(window),
                window.added if window is not None else 0,
                loaded.metadata_sha256 if loaded is not None else None,
            )
            if key == self._computed and not force:
                return False
            try:
                summary = self._summarise(loaded, window)
            except Exception as exc:
                log.exception("drift summary failed")
                summary = {"status": "unknown", "message": f"drift summary failed: {exc}"}
            self._summary = (summary, window)
            self._computed = key
            return True

    def _summarise(self, loaded: LoadedModel | None, window: ScoredWindow | None) -> dict:
        computed_at = datetime.now(UTC).isoformat(timespec="seconds")
        if loaded is None:
            return {"status": "unknown", "message": "no champion is loaded"}
        about = {"model_version": loaded.version, "computed_at": computed_at}
        if loaded.profile is None:
            return {
                "status": "unknown",
                "message": f"the champion (version {loaded.version}) has no drift profile: it "
                "was trained by an older defectops; train a new one to watch drift",
                **about,
            }
        same_layout = (
            window is not None
            and window.numeric == loaded.numeric
            and window.categorical == loaded.categorical
        )
        if window is None or not same_layout:
            return {"status": "unknown", "message": self._too_few(0), "rows": 0, **about}
        snap = window.snapshot()
        if len(snap) < self.min_rows:
            return {"status": "unknown", "message": self._too_few(len(snap)), **about}
        frame = pd.DataFrame(
            {
                **{col: snap.numbers[:, j] for j, col in enumerate(loaded.numeric)},
                **{col: snap.categories[:, j] for j, col in enumerate(loaded.categorical)},
            },
            copy=False,
        )
        model = self._models.get(loaded.metadata_sha256)
        scores = snap.scores[snap.models == model] if model is not None else snap.scores[:0]
        result = compare(
            loaded.profile,
            loaded.reference.get("categorical", {}),
            frame,
            loaded.champion.schema,
            scores,
            self.settings,
        )
        features = [
            {
                "feature": f["feature"],
                "kind": f["kind"],
                "psi": f["psi"],
                "allowance": f["allowance"],
                "margin": f["margin"],
                "status": f["status"],
            }
            for f in result["features"]
        ]
        if scores.size:
            score = {
                "psi": result["scores"]["psi"],
                "allowance": result["scores"]["allowance"],
                "margin": result["scores"]["margin"],
                "status": result["scores"]["status"],
                "rows": int(scores.size),
            }
            status = result["status"]
        else:  # nothing scored by this champion yet: its scores say nothing
            score = {"psi": None, "status": "unknown", "rows": 0}
            status = worst([f["status"] for f in features])
        return to_jsonable(
            {
                "status": status,
                "rows": len(snap),
                "features": features,
                "scores": score,
                **about,
            }
        )

    def _too_few(self, rows: int) -> str:
        return f"{rows} rows in the window; drift is judged from {self.min_rows} rows on"

    def _refresh_report(self) -> None:
        """The newest readable ``defectops monitor`` report, re-read only when it changed."""
        directory = self.reports_dir / DRIFT_REPORTS
        try:
            found = [(p.stat().st_mtime_ns, p) for p in directory.glob("*.json")]
        except OSError:
            found = []
        found.sort(key=lambda item: (item[0], item[1].name), reverse=True)
        key = tuple(found[:1])
        if key == self._report_key:
            return
        report = None
        for _, path in found[:5]:
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("drift report %s not readable: %s", path, exc)
                continue
            if isinstance(raw, dict) and isinstance(raw.get("features"), list):
                report = summarise_report(raw)
                break
        self.report = report
        self._report_key = key

    # -- what the routes show --------------------------------------------------------------------

    def payload(self) -> dict[str, Any]:
        """The body of ``GET /monitoring``."""
        window = self.window
        size = window.size if window is not None else 0
        summary, about = self._summary
        out: dict[str, Any] = {
            "status": "unknown",
            "window": {"size": size, "capacity": self.capacity},
            "features": [],
            "scores": None,
            "computed_at": None,
            "report": self.report,
        }
        if summary is not None and about is window:
            out.update(summary)
        elif size < self.min_rows:
            out["message"] = self._too_few(size)
        else:
            out["message"] = "the drift summary is being computed"
        return out

    def collect(self) -> Iterator[Metric]:
        """Drift gauges from the last summary (a Prometheus collector)."""
        payload = self.payload()
        overall = GaugeMetricFamily(
            "defectops_drift_status",
            "Drift of the service's recent rows against the champion's training profile: "
            "-1 unknown (too few rows or no profile), 0 ok, 1 warn, 2 drift",
            value=STATUS_CODES.get(payload["status"], -1),
        )
        psi = GaugeMetricFamily(
            "defectops_feature_psi",
            "Population stability index of each feature over the service's window",
            labels=["feature"],
        )
        status = GaugeMetricFamily(
            "defectops_feature_drift_status",
            "Drift status of each feature over the service's window: 0 ok, 1 warn, 2 drift",
            labels=["feature"],
        )
        for feature in payload["features"]:
            if feature["psi"] is not None:
                psi.add_metric([feature["feature"]], feature["psi"])
            status.add_metric([feature["feature"]], STATUS_CODES[feature["status"]])
        score = GaugeMetricFamily(
            "defectops_score_psi",
            "Population stability index of the served defect probabilities against the "
            "champion's hold-out scores (absent until the window says something)",
        )
        scores = payload.get("scores") or {}
        if scores.get("psi") is not None:
            score.add_metric([], scores["psi"])
        rows = GaugeMetricFamily(
            "defectops_monitor_window_rows", "Rows in the service's drift window"
        )
        rows.add_metric([], payload["window"]["size"])
        yield from (overall, psi, status, score, rows)
