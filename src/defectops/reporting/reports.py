"""What a run leaves for people: JSON reports and the learning-curve picture.

``incremental_training_report.json`` holds every model's metadata, a summary and the champion;
``model_evaluation.json`` the champion and a recommendation; the PNG
(:mod:`defectops.reporting.learning_curve`) shows, per chunk, the hold-out metrics against the
majority baseline, the promotions, the prequential (next-batch) score and the fit time, so an
engineer who did not run it can read the run at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from defectops.core import atomic
from defectops.core.config import Settings
from defectops.evaluation.gate import PRODUCTION
from defectops.evaluation.metrics import LABELS, LOWER_IS_BETTER, METRICS
from defectops.evaluation.records import ModelRecord
from defectops.reporting.learning_curve import plot_learning_curve

if TYPE_CHECKING:
    from defectops.data.prepared import PreparedData

TRAINING_REPORT = "incremental_training_report.json"
EVALUATION_REPORT = "model_evaluation.json"
LEARNING_CURVE = "incremental_learning_visualization.png"


def summarise(models: list[ModelRecord]) -> dict[str, Any]:
    """Best, worst and mean of each hold-out metric over the run, and the gate's tally."""
    summary: dict[str, Any] = {}
    for name in METRICS:
        values = np.array([m["metrics"][name] for m in models], dtype=float)
        values = values[np.isfinite(values)]
        if not values.size:
            continue
        lower = name in LOWER_IS_BETTER
        summary[name] = {
            "best": float(values.min() if lower else values.max()),
            "worst": float(values.max() if lower else values.min()),
            "mean": float(values.mean()),
        }
    promoted = [m["chunk_id"] for m in models if m["status"] == PRODUCTION]
    summary.update(
        models=len(models),
        production_models=len(promoted),
        local_only_models=len(models) - len(promoted),
        promoted_chunks=promoted,
        below_baseline_chunks=[m["chunk_id"] for m in models if m["metrics"]["below_baseline"]],
        total_fit_seconds=round(sum(m["fit_seconds"] for m in models), 3),
    )
    return summary


def champion_section(champion: ModelRecord | None) -> dict[str, Any] | None:
    if champion is None:
        return None
    keys = ("chunk_id", "status", "reason", "threshold", "metrics", "model_file", "model_sha256")
    fields: dict[str, Any] = dict(champion)
    return {key: fields[key] for key in keys} | {"rows_seen": champion["rows_seen"]}


def recommendation(champion: ModelRecord | None, primary: str) -> str:
    if champion is None:
        return "no model passed acceptance: do not deploy; check the data and the gate settings"
    metrics = champion["metrics"]
    label = LABELS.get(primary, primary)
    text = (
        f"deploy the model of chunk {champion['chunk_id']}: {label} {metrics[primary]:.3f}, "
        f"accuracy {metrics['accuracy']:.3f} "
        f"vs majority baseline {metrics['baseline_accuracy']:.3f}"
    )
    if metrics["below_baseline"]:
        text += " (WARNING: not above the majority-class baseline)"
    return text


def write_run_reports(
    settings: Settings,
    models: list[ModelRecord],
    champion: ModelRecord | None,
    data: PreparedData,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Write the two JSON reports and the learning-curve PNG; return the report and the paths."""
    reports = settings.reports_dir
    schema = data.schema
    report = {
        "models": models,
        "summary": summarise(models),
        "champion": champion_section(champion),
        "data": {
            "source": str(settings.data),
            "rows_read": data.validation.report["rows_read"],
            "rows_quarantined": data.validation.report["rows_quarantined"],
            "training_rows": len(data.train),
            "holdout": data.holdout_source,
            "holdout_rule": data.choice.to_dict() if data.choice is not None else None,
            "holdout_rows": len(data.holdout),
            "holdout_defect_rate": float(data.holdout[schema.target].mean()),
            "schema": schema.to_dict(),
        },
        "settings": {
            "model": settings.model,
            "strategy": settings.strategy,
            "chunk_size": settings.chunk_size,
            "window": settings.window,
            "gate": settings.gate.model_dump(),
            "threshold": settings.threshold.model_dump(),
            "seed": settings.seed,
        },
    }
    evaluation = {
        "champion": champion_section(champion),
        "metrics": champion["metrics"] if champion else None,
        "baseline": (
            {
                "accuracy": champion["metrics"]["baseline_accuracy"],
                "pr_auc": champion["metrics"]["baseline_pr_auc"],
            }
            if champion
            else None
        ),
        "recommendation": recommendation(champion, settings.gate.primary_metric),
    }
    paths = {
        "training_report": atomic.write_json(reports / TRAINING_REPORT, report),
        "evaluation_report": atomic.write_json(reports / EVALUATION_REPORT, evaluation),
        "learning_curve": plot_learning_curve(
            models, reports / LEARNING_CURVE, champion["chunk_id"] if champion else None
        ),
    }
    return report, paths
