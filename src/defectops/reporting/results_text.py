"""What the model card and the README results block both say about a run's results.

Both show the champion's hold-out metrics *beside the majority baseline* (on an imbalanced line
a high accuracy alone means nothing), warn when it does not beat that baseline, describe the
hold-out and count the models; the words and numbers are made here once, so the two documents
never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from defectops.reporting.markdown import cell, code, count, missing, num

#: (metric key, label, baseline key or fixed value, what the baseline is); ``None``: no baseline
METRIC_ROWS: tuple[tuple[str, str, str | float | None, str], ...] = (
    ("accuracy", "accuracy", "baseline_accuracy", "always predict the majority class"),
    ("balanced_accuracy", "balanced accuracy", 0.5, "any constant prediction"),
    ("pr_auc", "PR-AUC", "baseline_pr_auc", "a constant score (= the hold-out defect rate)"),
    ("roc_auc", "ROC-AUC", 0.5, "a constant score"),
    ("mcc", "MCC", 0.0, "any constant prediction (the gate's acceptance bar)"),
    ("f1", "F1", None, ""),
    ("precision", "precision", None, ""),
    ("recall", "recall", None, ""),
    ("brier", "Brier (lower is better)", "_prior_brier", "always predict the defect rate"),
)


def baseline_warning(metrics: Mapping[str, Any]) -> list[str]:
    """A visible warning when the champion does not beat always predicting the majority class."""
    if not metrics.get("below_baseline"):
        return []
    return [
        f"> **WARNING: below the majority baseline.** Hold-out accuracy "
        f"{num(metrics.get('accuracy'))} does not beat always predicting the majority class "
        f"({num(metrics.get('baseline_accuracy'))}). Judge this model by PR-AUC and MCC against "
        "their baselines, not by accuracy.",
        "",
    ]


def metrics_table(
    metrics: Mapping[str, Any], keys: tuple[str, ...] | None = None, explain: bool = True
) -> list[str]:
    """The metrics table, each metric beside its baseline; ``explain`` adds what the baseline is.

    ``keys`` picks and orders the rows (all of :data:`METRIC_ROWS` when ``None``).
    """
    rows = [row for row in METRIC_ROWS if keys is None or row[0] in keys]
    if keys is not None:
        rows.sort(key=lambda row: keys.index(row[0]))
    if explain:
        lines = ["| metric | champion | baseline | the baseline is |", "|---|---:|---:|---|"]
    else:
        lines = ["| hold-out metric | champion | baseline |", "|---|---:|---:|"]
    for key, label, baseline, meaning in rows:
        value = _baseline_value(metrics, baseline)
        cells = [label, num(metrics.get(key)), "" if baseline is None else num(value)]
        if explain:
            cells.append(meaning)
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return lines


def _baseline_value(metrics: Mapping[str, Any], baseline: str | float | None) -> Any:
    if baseline is None or isinstance(baseline, float):
        return baseline
    if baseline == "_prior_brier":
        rate = metrics.get("defect_rate")
        if not isinstance(rate, int | float) or missing(rate):
            return None
        return rate * (1 - rate)
    return metrics.get(baseline)


def run_tally(summary: Mapping[str, Any]) -> str:
    """How many models the run trained, promoted and kept local only, as one sentence."""
    return (
        f"{count(summary.get('models'))} models trained, "
        f"{count(summary.get('production_models'))} promoted, "
        f"{count(summary.get('local_only_models'))} kept local only."
    )


def holdout_text(data: Mapping[str, Any], short: bool = False) -> str:
    """Which rows the hold-out is, in words; ``short`` names a separate file without its folder."""
    rule = data.get("holdout_rule")
    if rule:
        order = (data.get("schema") or {}).get("order_by")
        by = f" by {code(order)}" if order else " in file order"
        part = f"{float(rule['fraction']):.0%}"
        if rule["rule"] == "tail":
            return f"the last {part} of the valid rows{by}, set aside before training"
        if rule["rule"] == "widened tail":
            return (
                f"the last {count(rule['rows'])} valid rows{by} (widened from {part} to hold "
                f"{count(rule['defects'])} defects), set aside before training"
            )
        return f"a stratified random {part} of the valid rows, set aside before training"
    holdout = str(data.get("holdout", "n/a"))
    kind, _, fraction = holdout.partition(" ")
    try:
        share = f"{float(fraction):.0%}"
    except ValueError:
        share = None
    order = (data.get("schema") or {}).get("order_by")
    if kind == "tail" and share:
        by = f" by {code(order)}" if order else " in file order"
        return f"the last {share} of the valid rows{by}, set aside before training"
    if kind == "stratified" and share:
        return f"a stratified random {share} of the valid rows, set aside before training"
    name = Path(holdout).name if short else holdout
    return f"a separate file, {code(name)}"
