"""The operations dashboard: one page for the line's quality engineer, and the JSON behind it.

MLflow's experiment browser answers a data scientist's questions; the engineer on shift asks
others: is the model healthy, what is it flagging, is the data drifting, what changed and when,
and how do I go back. :func:`register_dashboard` adds to the prediction service

- ``GET /`` and ``GET /dashboard``: the page (``static/dashboard.html``, ``.js``, ``.css``:
  plain HTML, vanilla JS and SVG drawn by that JS, nothing fetched from another host, since
  plants are often offline);
- ``GET /api/registry``: the champion being served with its hold-out metrics beside the
  majority-class baseline and how it got there, the last run's models (the learning curve and
  the model table) and the champion history, read from the artifact tree;
- ``GET /api/live``: scoring requests, predictions, flagged parts and latency of the last minute
  and per minute, from the app's :class:`~defectops.serving.live.LiveStats`.

The page reads drift from ``GET /monitoring`` and rolls back through ``POST /admin/rollback``; it
keeps the admin token only for the one request that needs it.
"""

from __future__ import annotations

import asyncio
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import Response

from defectops.core.layout import METADATA, Layout
from defectops.evaluation.gate import PRODUCTION
from defectops.evaluation.metrics import LABELS, LOWER_IS_BETTER
from defectops.evaluation.records import ModelRecord
from defectops.registry.history import previous_champion, read_history, roles
from defectops.reporting.reports import TRAINING_REPORT
from defectops.serving.live import LiveStats
from defectops.serving.model_holder import ModelHolder

#: every path :func:`register_dashboard` adds (the metrics middleware labels requests by them)
DASHBOARD_ROUTES = frozenset(
    {
        "/",
        "/dashboard",
        "/api/registry",
        "/api/live",
        "/static/dashboard.js",
        "/static/dashboard.css",
    }
)
#: the champion card's metrics, in the order an engineer reads them
CARD_METRICS = (
    "pr_auc",
    "roc_auc",
    "f1",
    "mcc",
    "precision",
    "recall",
    "accuracy",
    "balanced_accuracy",
    "brier",
)
#: metrics the learning curve can draw, the gate's primary metric first when it is one of them
CURVE_METRICS = ("pr_auc", "roc_auc", "f1", "mcc", "accuracy")
#: what a model that always answers "no defect" scores, beside metrics that lack a recorded one
FIXED_BASELINES = {"roc_auc": 0.5, "balanced_accuracy": 0.5, "mcc": 0.0, "f1": 0.0, "recall": 0.0}
#: the page may only talk to this service: no CDN, no other host (plants are often offline)
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
STATIC_TYPES = {
    "dashboard.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None at any depth (JSON has neither).

    >>> finite({"a": [1.0, float("nan")], "b": float("inf")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def baseline(metrics: dict[str, Any], name: str) -> float | None:
    """The majority-class model's score on the same hold-out, where one is defined.

    Accuracy and PR-AUC are recorded with every model (they depend on the defect rate); the
    others are the same for every hold-out. Precision and Brier have none worth showing.
    """
    if name == "accuracy":
        return metrics.get("baseline_accuracy")
    if name == "pr_auc":
        return metrics.get("baseline_pr_auc")
    return FIXED_BASELINES.get(name)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_models(artifacts: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The last run's chunk models (``incremental_models/*/metadata.json``), by chunk.

    The tree rather than the training report: the report is written when a run ends, the tree
    after every chunk, so a run in progress already shows. Unreadable files are listed, not fatal.
    """
    models, problems = [], []
    directory = Layout(Path(artifacts)).models_dir
    if not directory.is_dir():
        return [], []
    for path in sorted(directory.glob(f"model_*/{METADATA}")):
        meta = _read_json(path)
        if meta is None or "chunk_id" not in meta:
            problems.append(f"{path.relative_to(artifacts)}: not readable model metadata")
            continue
        models.append(meta)
    models.sort(key=lambda m: int(m["chunk_id"]))
    return models, problems


def champion_card(
    metadata: ModelRecord, history: list[dict[str, Any]], loaded_at: str | None
) -> dict[str, Any]:
    """The served champion: what it is, when and why it became champion, and how good it is."""
    version = str(metadata.get("version", metadata.get("chunk_id")))
    metrics = metadata.get("metrics") or {}
    crowned = [
        e for e in history if e.get("alias") == "champion" and str(e.get("to_version")) == version
    ]
    last = crowned[-1] if crowned else None
    promoted = (
        None
        if last is None
        else {
            key: last.get(key)
            for key in ("at", "by", "action", "reason", "from_version", "from_chunk")
        }
    )
    return {
        "version": version,
        "chunk_id": metadata.get("chunk_id"),
        "model": metadata.get("model"),
        "strategy": metadata.get("strategy"),
        "threshold": metadata.get("threshold"),
        "trained_at": metadata.get("trained_at"),
        "rows_seen": metadata.get("rows_seen"),
        "holdout_rows": metadata.get("holdout_rows"),
        "defect_rate": metrics.get("defect_rate"),
        "gate_reason": metadata.get("reason"),
        "promoted": promoted,
        "loaded_at": loaded_at,
        "metrics": [
            {
                "name": name,
                "label": LABELS.get(name, name),
                "value": metrics.get(name),
                "baseline": baseline(metrics, name),
                "lower_is_better": name in LOWER_IS_BETTER,
            }
            for name in CARD_METRICS
            if name in metrics
        ],
    }


def model_rows(
    models: list[dict[str, Any]], history: list[dict[str, Any]], champion: str | None
) -> list[dict[str, Any]]:
    """One row per chunk model: the gate's status and reason, and its role since then.

    The role tells what the gate status cannot: a promoted model may have been replaced or
    rolled back from since, and a model that failed the gate may be champion by hand.
    """
    role_of = roles(history, champion)
    rows = []
    for meta in models:
        version = str(meta.get("version", meta.get("chunk_id")))
        role = role_of.get(version)
        metrics = meta.get("metrics") or {}
        rows.append(
            {
                "version": version,
                "chunk_id": meta.get("chunk_id"),
                "status": meta.get("status"),
                "role": role,
                "reason": meta.get("reason"),
                "trained_at": meta.get("trained_at"),
                "rows_seen": meta.get("rows_seen"),
                "fallbacks": list(meta.get("fallbacks") or []),
                "metrics": {name: metrics.get(name) for name in CURVE_METRICS},
                "prequential_pr_auc": (meta.get("prequential") or {}).get("pr_auc"),
            }
        )
    return rows


def learning_curve(
    models: list[dict[str, Any]], champion: str | None, primary: str
) -> dict[str, Any]:
    """Per chunk: each curve metric, whether the gate promoted it, whether it is champion now."""
    names = [primary, *(m for m in CURVE_METRICS if m != primary)]
    names = [n for n in names if n in CURVE_METRICS]
    first = (models[0].get("metrics") or {}) if models else {}
    return {
        "metric": names[0] if names else "pr_auc",
        "metrics": [
            {"name": n, "label": LABELS.get(n, n), "baseline": baseline(first, n)} for n in names
        ],
        "points": [
            {
                "chunk_id": m.get("chunk_id"),
                "version": str(m.get("version", m.get("chunk_id"))),
                "promoted": m.get("status") == PRODUCTION,
                "champion": str(m.get("version", m.get("chunk_id"))) == champion,
                "values": {n: (m.get("metrics") or {}).get(n) for n in names},
            }
            for m in models
        ],
    }


def run_summary(
    artifacts: Path, models: list[dict[str, Any]], reports: Path | None = None
) -> dict[str, Any] | None:
    """The last run's settings and data, from its report; what the models say while it runs.

    ``reports``: where the run wrote its reports (the ``reports`` setting; default
    ``artifacts/reports``).
    """
    if not models:
        return None
    layout = Layout(Path(artifacts), Path(reports) if reports is not None else None)
    report = _read_json(layout.reports_dir / TRAINING_REPORT) or {}
    state = _read_json(layout.run_state) or {}
    # the report is written when a run ends: one of an earlier run says nothing of these models
    reported = [str(m.get("version")) for m in report.get("models") or []]
    same_run = reported == [str(m.get("version")) for m in models]
    settings = (report.get("settings") or {}) if same_run else {}
    data = (report.get("data") or {}) if same_run else {}
    gate = settings.get("gate") or {}
    return {
        "model": models[-1].get("model"),
        "strategy": models[-1].get("strategy"),
        "chunks": len(models),
        "finished": bool(state.get("finished", same_run)),
        "chunk_size": settings.get("chunk_size"),
        "gate_rule": gate.get("rule"),
        "primary_metric": gate.get("primary_metric", "pr_auc"),
        "holdout_rows": models[-1].get("holdout_rows"),
        "training_rows": data.get("training_rows"),
        "source": data.get("source"),
    }


def registry_view(
    artifacts: Path,
    served: ModelRecord | None,
    *,
    reports: Path | None = None,
    loaded_at: str | None = None,
    load_error: str | None = None,
) -> dict[str, Any]:
    """Everything ``GET /api/registry`` answers, from the artifact tree and the served champion.

    ``served`` is the metadata of the champion the service holds (None before one is loaded):
    the page must show what answers requests, which is ``production/`` only once it loaded.
    """
    artifacts = Path(artifacts)
    models, problems = read_models(artifacts)
    history = read_history(artifacts)
    version = str(served.get("version", served.get("chunk_id"))) if served else None
    run = run_summary(artifacts, models, reports)
    champion_history = [e for e in history if e.get("alias") == "champion"]
    target = previous_champion(history, version) if version is not None else None
    return finite(
        {
            "serving": {"ready": served is not None, "version": version, "error": load_error},
            "champion": champion_card(served, history, loaded_at) if served else None,
            "run": run,
            "models": model_rows(models, history, version),
            "learning_curve": learning_curve(
                models, version, (run or {}).get("primary_metric") or "pr_auc"
            ),
            "history": [
                {
                    key: entry.get(key)
                    for key in (
                        "seq",
                        "at",
                        "by",
                        "action",
                        "from_version",
                        "to_version",
                        "from_chunk",
                        "to_chunk",
                        "reason",
                    )
                }
                for entry in reversed(champion_history)
            ],
            "rollback_target": target,
            "problems": problems,
        }
    )


def static_text(name: str) -> str:
    """One of the page's files, from the installed package (so a wheel carries the page)."""
    return (resources.files("defectops.serving") / "static" / name).read_text(encoding="utf-8")


def register_dashboard(
    app: FastAPI,
    *,
    artifacts: Path,
    holder: ModelHolder,
    live: LiveStats,
    reports: Path | None = None,
) -> None:
    """Add the page, its two files and ``/api/registry`` + ``/api/live`` to ``app``.

    The files are read once here, so a broken install fails at start-up, not on a shift.
    """
    files = {name: static_text(name) for name in STATIC_TYPES}

    def page(name: str) -> Response:
        return Response(files[name], media_type=STATIC_TYPES[name], headers=PAGE_HEADERS)

    @app.get("/", include_in_schema=False)
    async def root_page() -> Response:
        return page("dashboard.html")

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard_page() -> Response:
        return page("dashboard.html")

    @app.get("/static/dashboard.js", include_in_schema=False)
    async def dashboard_js() -> Response:
        return page("dashboard.js")

    @app.get("/static/dashboard.css", include_in_schema=False)
    async def dashboard_css() -> Response:
        return page("dashboard.css")

    @app.get("/api/registry")
    async def api_registry() -> Response:
        """The served champion, the last run's models and learning curve, the champion history."""
        loaded = holder.current
        view = await asyncio.to_thread(
            registry_view,
            artifacts,
            loaded.metadata if loaded else None,
            reports=reports,
            loaded_at=loaded.loaded_at if loaded else None,
            load_error=holder.last_error,
        )
        return Response(json.dumps(view, allow_nan=False), media_type="application/json")

    @app.get("/api/live")
    async def api_live(minutes: int = Query(30, ge=1, le=60)) -> Response:
        """Scoring requests, predictions, flagged rate and latency: last minute and per minute."""
        loaded = holder.current
        snapshot = live.snapshot(minutes)
        snapshot["model_version"] = loaded.version if loaded else None
        snapshot["threshold"] = loaded.threshold if loaded else None
        return Response(
            json.dumps(finite(snapshot), allow_nan=False), media_type="application/json"
        )
