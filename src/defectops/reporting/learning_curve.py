"""The learning-curve picture: a run read at a glance by an engineer who did not run it.

Four panels, one point per chunk: the hold-out metrics against the majority baseline with the
promotions and the champion; accuracy against always predicting the majority class; the
prequential (next-batch) score; the fit time. matplotlib is imported when a picture is drawn,
so reading the reports does not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from defectops.core import atomic
from defectops.evaluation.gate import PRODUCTION
from defectops.evaluation.metrics import LABELS, METRICS
from defectops.evaluation.records import ModelRecord


def plot_learning_curve(models: list[ModelRecord], out: Path, champion: int | None = None) -> Path:
    """Four panels: hold-out metrics, promotions and the champion; accuracy; prequential score;
    fit time. ``champion``: the chunk whose model is champion at the end of the run."""
    import matplotlib.pyplot as plt

    fig = learning_curve_figure(models, champion)
    model, strategy = models[0]["model"], models[0]["strategy"]
    fig.suptitle(f"defectops incremental learning: model {model}, strategy {strategy}")
    atomic.write_with(out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out


def learning_curve_figure(models: list[ModelRecord], champion: int | None = None) -> Any:
    """The figure :func:`plot_learning_curve` writes (a matplotlib Figure, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = np.array([m["chunk_id"] for m in models])
    metric = {n: np.array([m["metrics"][n] for m in models], dtype=float) for n in METRICS}
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), constrained_layout=True)
    _holdout_panel(axes[0, 0], models, chunks, metric, champion)
    _accuracy_panel(axes[0, 1], models, chunks, metric)
    _prequential_panel(axes[1, 0], models, chunks, metric)
    _fit_time_panel(axes[1, 1], models, chunks)
    return fig


def _holdout_panel(
    ax: Any,
    models: list[ModelRecord],
    chunks: np.ndarray,
    metric: dict[str, np.ndarray],
    champion: int | None,
) -> None:
    """Every model on the same hold-out rows, so the curve shows learning, not a moving test."""
    promoted = np.array([m["status"] == PRODUCTION for m in models])
    baseline_pr = models[0]["metrics"]["baseline_pr_auc"]
    for name, style in (("pr_auc", "-o"), ("roc_auc", "-s"), ("f1", "-^"), ("mcc", "-v")):
        ax.plot(chunks, metric[name], style, ms=4, label=LABELS[name])
    ax.axhline(
        baseline_pr, color="grey", ls="--", lw=1, label=f"baseline PR-AUC ({baseline_pr:.2f})"
    )
    if promoted.any():
        ax.scatter(
            chunks[promoted],
            metric["pr_auc"][promoted],
            s=140,
            marker="*",
            color="gold",
            edgecolor="black",
            zorder=5,
            label="promoted",
        )
    if champion is not None and champion in chunks:
        at = int(np.flatnonzero(chunks == champion)[0])
        ax.scatter(
            [champion],
            [metric["pr_auc"][at]],
            s=420,
            facecolors="none",
            edgecolors="crimson",
            linewidths=2,
            zorder=6,
            label=f"champion now (chunk {champion})",
        )
    ax.set_title("Hold-out metrics per chunk (same rows for every model)")
    ax.set_xlabel("chunk (model trained with data up to it)")
    ax.set_ylim(min(0.0, np.nanmin(metric["mcc"]) - 0.05), 1.02)
    ax.legend(fontsize=8, loc="best")


def _accuracy_panel(
    ax: Any, models: list[ModelRecord], chunks: np.ndarray, metric: dict[str, np.ndarray]
) -> None:
    """Accuracy beside the majority baseline: on an imbalanced line it alone means nothing."""
    baseline_acc = models[0]["metrics"]["baseline_accuracy"]
    ax.plot(chunks, metric["accuracy"], "-o", ms=4, label="accuracy")
    ax.plot(chunks, metric["balanced_accuracy"], "-s", ms=4, label="balanced accuracy")
    ax.axhline(
        baseline_acc, color="red", ls="--", lw=1, label=f"majority baseline ({baseline_acc:.2f})"
    )
    below = np.array([m["metrics"]["below_baseline"] for m in models])
    if below.any():
        ax.scatter(
            chunks[below],
            metric["accuracy"][below],
            s=90,
            marker="x",
            color="red",
            zorder=5,
            label="no better than the majority baseline (a warning, not the gate)",
        )
    ax.set_title("Accuracy against always predicting the majority class")
    ax.set_xlabel("chunk")
    ax.legend(fontsize=8, loc="best")


def _prequential_panel(
    ax: Any, models: list[ModelRecord], chunks: np.ndarray, metric: dict[str, np.ndarray]
) -> None:
    """The next-batch score beside the hold-out's: batches come one at a time like production."""
    pre = [(m["chunk_id"], p) for m in models if (p := m.get("prequential"))]
    if pre:
        ax.plot(
            [c for c, _ in pre],
            [p["pr_auc"] for _, p in pre],
            "-o",
            ms=4,
            color="tab:purple",
            label="PR-AUC on the next chunk (prequential)",
        )
    ax.plot(chunks, metric["pr_auc"], "--", color="tab:blue", alpha=0.6, label="PR-AUC on hold-out")
    ax.set_title("Prequential score: model k tested on chunk k+1 before training on it")
    ax.set_xlabel("chunk")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="best")


def _fit_time_panel(ax: Any, models: list[ModelRecord], chunks: np.ndarray) -> None:
    ax.bar(chunks, [m["fit_seconds"] for m in models], color="tab:green")
    ax.set_title("Fit time per chunk")
    ax.set_xlabel("chunk")
    ax.set_ylabel("seconds")
