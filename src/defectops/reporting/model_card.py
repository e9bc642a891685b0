"""The champion explained for people who did not run it: a model card.

``incremental_training_report.json`` holds everything a reviewer needs, but as JSON for programs.
:func:`write_model_card` turns it into Markdown, ``MODEL_CARD.md`` next to the report: what the
champion predicts, the data it saw, its hold-out metrics *beside the majority baseline* (on an
imbalanced line a high accuracy alone means nothing), how its threshold was chosen, why the gate
promoted it, its lineage (file checksum, config hash, library versions) and its limits. The
README results block (:mod:`defectops.reporting.readme_results`) says the same in short.

Everything is rendered from the report alone (no clock, no file system), so the same report
gives the same bytes, and every write is atomic.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from defectops.core import atomic
from defectops.reporting.markdown import (
    cell,
    code,
    code_list,
    count,
    inline,
    int_list,
    missing,
    num,
    pct,
)
from defectops.reporting.results_text import (
    baseline_warning,
    holdout_text,
    metrics_table,
    run_tally,
)
from defectops.reporting.training_report import (
    TRAINING_REPORT,
    champion_metadata,
    check_report,
    read_report,
)

MODEL_CARD = "MODEL_CARD.md"


def render_model_card(report: dict[str, Any]) -> str:
    """Markdown model card of the run's champion, or of why there is none.

    A card is for the person deciding whether to trust the model: it says what the model
    predicts, on which data, how it scores on the hold-out *next to the majority baseline* (with a
    visible warning when it does not beat it), how the threshold was chosen (on training data
    only, so the hold-out stays an honest test), why the gate promoted it, where the exact file
    and settings are recorded, and where its numbers stop being valid. Without a champion the
    card says that no model passed acceptance and lists every model's reason, so the card is
    never silently empty. Pure function of ``report``: same report, same text.
    """
    check_report(report, "report")
    champion = champion_metadata(report)
    data = report["data"]
    lines: list[str] = []
    if champion is None:
        lines += [
            "# Model card: no champion",
            "",
            "> **No model passed acceptance, so no model is deployed.** "
            "Check the data and the gate settings; the reason of every model is below.",
            "",
            *_predicts_section(data),
            *_data_section(data, None, report),
            *_rejections_section(report),
            *_summary_section(report),
            *_limits_section(data, None),
        ]
        return "\n".join(lines).rstrip("\n") + "\n"

    metrics = champion["metrics"]
    lines += [
        f"# Model card: defect classifier, champion of chunk {champion['chunk_id']}",
        "",
        f"Model `{champion.get('model', 'n/a')}`, strategy `{champion.get('strategy', 'n/a')}`, "
        f"status `{champion.get('status', 'n/a')}`. Generated from `{TRAINING_REPORT}`.",
        "",
        *_predicts_section(data),
        *_data_section(data, champion, report),
        "## Hold-out metrics",
        "",
        f"On {count(metrics.get('n'))} hold-out rows with defect rate "
        f"{pct(metrics.get('defect_rate'))}; every model of the run was scored on these same "
        "rows.",
        "",
        *baseline_warning(metrics),
        *metrics_table(metrics),
        "",
        *_confusion(metrics),
        *_prequential_section(report, champion),
        *_threshold_section(report, champion),
        *_gate_section(report, champion),
        *_lineage_section(champion),
        *_summary_section(report),
        *_limits_section(data, champion),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_model_card(reports_dir: Path) -> Path:
    """Render the card of ``reports_dir/incremental_training_report.json`` to ``MODEL_CARD.md``.

    The card lives beside the report it was made from, so the two travel together. A missing or
    unreadable report is a :class:`~defectops.core.errors.UserError` (the user forgot a step, not a
    bug) telling to run ``defectops run`` first. The write is atomic. Returns the card's path.
    """
    reports_dir = Path(reports_dir)
    report = read_report(reports_dir / TRAINING_REPORT)
    return atomic.write_text(reports_dir / MODEL_CARD, render_model_card(report))


# -- sections -------------------------------------------------------------------------------------


def _predicts_section(data: Mapping[str, Any]) -> list[str]:
    schema = data.get("schema") or {}
    numeric = list(schema.get("numeric") or [])
    categorical = list(schema.get("categorical") or [])
    lines = [
        "## What it predicts",
        "",
        f"Whether a part is defective: target column {code(schema.get('target', 'n/a'))}, "
        f"positive (defect) label {code(schema.get('positive_label', 'n/a'))}. "
        "For each row the model gives a defect probability and flags a defect when it reaches "
        "the decision threshold.",
        "",
        f"- numeric inputs ({len(numeric)}): {code_list(numeric)}",
        f"- categorical inputs ({len(categorical)}): {code_list(categorical)}",
    ]
    if schema.get("timestamps"):
        lines.append(f"- timestamps (not used as inputs): {code_list(schema['timestamps'])}")
    if schema.get("order_by"):
        lines.append(f"- rows ordered by {code(schema['order_by'])}")
    if schema.get("dropped"):
        lines.append(f"- dropped columns: {code_list(schema['dropped'])}")
    return [*lines, ""]


def _data_section(
    data: Mapping[str, Any], champion: Mapping[str, Any] | None, report: Mapping[str, Any]
) -> list[str]:
    lines = [
        "## Data",
        "",
        f"- source: {code(data.get('source', 'n/a'))}",
        f"- rows read: {count(data.get('rows_read'))}; quarantined by validation: "
        f"{count(data.get('rows_quarantined'))}; training rows: "
        f"{count(data.get('training_rows'))}",
        f"- hold-out: {holdout_text(data)}; {count(data.get('holdout_rows'))} rows, "
        f"defect rate {pct(data.get('holdout_defect_rate'))}",
    ]
    if champion is not None:
        chunks = len(report["models"])
        train_rows = champion.get("train_rows")
        span = (
            f"rows {count(train_rows[0] + 1)}-{count(train_rows[1])}"
            if isinstance(train_rows, list) and len(train_rows) == 2
            else "n/a"
        )
        lines += [
            f"- champion: chunk {champion['chunk_id']} of {chunks}; rows seen up to it: "
            f"{count(champion.get('rows_seen'))}; trained on "
            f"{count(champion.get('rows_trained'))} rows ({span}, "
            f"strategy {code(champion.get('strategy', 'n/a'))}) with "
            f"{count(champion.get('defects_trained'))} defects",
            f"- training data sha256: {code(champion.get('data_sha256', 'n/a'))}",
            f"- hold-out sha256: {code(champion.get('holdout_sha256', 'n/a'))}",
        ]
    return [*lines, ""]


def _confusion(metrics: Mapping[str, Any]) -> list[str]:
    cm = metrics.get("confusion_matrix")
    if not isinstance(cm, Mapping):
        return []
    return [
        f"Confusion matrix at the threshold: {count(cm.get('tp'))} defects caught, "
        f"{count(cm.get('fn'))} missed, {count(cm.get('fp'))} false alarms, "
        f"{count(cm.get('tn'))} good parts passed.",
        "",
    ]


def _prequential_section(report: Mapping[str, Any], champion: Mapping[str, Any]) -> list[str]:
    lines = ["## Next-batch estimate (prequential)", ""]
    pre = champion.get("prequential")
    owner = champion
    note = "the champion scored on the chunk after its own, before any model trained on it"
    if not pre:
        earlier = [m for m in report["models"] if m.get("prequential")]
        earlier = [m for m in earlier if m["chunk_id"] < champion["chunk_id"]]
        if not earlier:
            return [
                *lines,
                "Not available: no chunk followed the champion's, so it was never tested on a "
                "batch that came after its training data. Read the hold-out metrics with that "
                "in mind.",
                "",
            ]
        owner = earlier[-1]
        pre = owner["prequential"]
        note = (
            f"the champion trained on the last chunk, so no later batch exists; shown instead: "
            f"the model of chunk {owner['chunk_id']}, the latest with a next batch"
        )
    metrics = owner.get("metrics") or {}
    lines += [
        f"Model of chunk {owner['chunk_id']} on chunk {pre.get('chunk_id', 'n/a')} "
        f"({count(pre.get('rows'))} rows): {note}. Training-stream batches come one at a time "
        "like production, so this is the honest estimate of how it does on the next batch; the "
        "hold-out is one fixed sample.",
        "",
        f"| metric | next batch | hold-out (model of chunk {owner['chunk_id']}) |",
        "|---|---:|---:|",
    ]
    for key, label in (("pr_auc", "PR-AUC"), ("roc_auc", "ROC-AUC"), ("f1", "F1")):
        lines.append(f"| {label} | {num(pre.get(key))} | {num(metrics.get(key))} |")
    return [*lines, ""]


def _threshold_section(report: Mapping[str, Any], champion: Mapping[str, Any]) -> list[str]:
    settings = report.get("settings") or {}
    threshold = settings.get("threshold") or {}
    objective = threshold.get("objective")
    if objective == "cost":
        how = (
            "the probability that minimises the expected cost, a missed defect costing "
            f"{num(threshold.get('cost_ratio'), 3, strip=True)} false alarms"
        )
    elif objective == "f1":
        how = "the probability that maximises F1"
    else:
        how = "the configured objective (not recorded in the report)"
    params = champion.get("params") or {}
    fraction = params.get("validation_fraction")
    training = champion.get("training") or {}
    if training.get("procedure") == "cross-fit":
        where = (
            f"out-of-fold scores of the model's own training rows ({training.get('folds')}-fold "
            "cross-fitting; the released model was then refitted on all of them)"
        )
    elif not missing(fraction):
        where = (
            f"a stratified validation slice ({pct(fraction, 0)}) of the model's own training rows"
        )
    else:
        where = "a validation slice of the model's own training rows"
    value = champion.get("threshold", (champion.get("metrics") or {}).get("threshold"))
    lines = [
        "## Decision threshold",
        "",
        f"A part is flagged a defect when its probability is at least **{num(value, 4)}**: "
        f"{how}, chosen on training data only ({where}). The hold-out was never used to choose "
        "it, so the hold-out metrics above are not tuned to the hold-out.",
        "",
    ]
    fallbacks = champion.get("fallbacks") or []
    if fallbacks:
        lines += ["Fallbacks used when fitting this model:", ""]
        lines += [f"- {inline(item)}" for item in fallbacks]
        lines.append("")
    return lines


def _gate_section(report: Mapping[str, Any], champion: Mapping[str, Any]) -> list[str]:
    gate = (report.get("settings") or {}).get("gate") or {}
    decision = champion.get("decision") or {}
    lines = [
        "## Gate decision",
        "",
        f"- status: {code(champion.get('status', 'n/a'))}",
        f"- reason: {inline(champion.get('reason', decision.get('reason', 'n/a')))}",
    ]
    if gate:
        bar = f"accuracy >= {num(gate.get('min_accuracy'), 2)}"
        if gate.get("beat_baseline_mcc"):
            bar += " and MCC above the majority baseline's 0"
        lines += [
            f"- acceptance bar: {bar}",
            f"- comparison rule: {code(gate.get('rule', 'n/a'))} on "
            f"{code(gate.get('primary_metric', 'n/a'))} (margin {gate.get('margin', 'n/a')}, "
            f"{pct(gate.get('confidence'), 0)} paired bootstrap)",
        ]
    return [*lines, ""]


def _lineage_section(champion: Mapping[str, Any]) -> list[str]:
    versions = champion.get("library_versions") or {}
    version_text = ", ".join(f"{name} {v}" for name, v in sorted(versions.items())) or "n/a"
    return [
        "## Lineage",
        "",
        f"- model file: {code(champion.get('model_file', 'n/a'))} "
        f"(in the registry's `production/` folder)",
        f"- model sha256: {code(champion.get('model_sha256', 'n/a'))}",
        f"- config hash: {code(champion.get('config_hash', 'n/a'))}",
        f"- model: {code(champion.get('model', 'n/a'))}, "
        f"strategy: {code(champion.get('strategy', 'n/a'))}",
        f"- trained at: {champion.get('trained_at', 'n/a')}",
        f"- library versions: {version_text}",
        "",
    ]


def _summary_section(report: Mapping[str, Any]) -> list[str]:
    summary = report["summary"]
    lines = ["## Run summary", "", f"- {run_tally(summary)}"]
    if summary.get("promoted_chunks"):
        lines.append(f"- promoted chunks: {int_list(summary['promoted_chunks'])}")
    if summary.get("below_baseline_chunks"):
        lines.append(
            "- chunks whose accuracy does not beat the majority baseline: "
            f"{int_list(summary['below_baseline_chunks'])}"
        )
    pr = summary.get("pr_auc")
    if isinstance(pr, Mapping):
        lines.append(
            f"- hold-out PR-AUC over the run: best {num(pr.get('best'))}, "
            f"mean {num(pr.get('mean'))}, worst {num(pr.get('worst'))}"
        )
    return [*lines, ""]


def _rejections_section(report: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Why no model passed",
        "",
        "| chunk | rows seen | accuracy | baseline accuracy | MCC | PR-AUC | status | reason |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for model in report["models"]:
        m = model.get("metrics") or {}
        cells = [
            str(model.get("chunk_id", "n/a")),
            count(model.get("rows_seen")),
            num(m.get("accuracy")),
            num(m.get("baseline_accuracy")),
            num(m.get("mcc")),
            num(m.get("pr_auc")),
            str(model.get("status", "n/a")),
            str(model.get("reason", "n/a")),
        ]
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    if not report["models"]:
        lines.append("| n/a | | | | | | | the run trained no model |")
    return [*lines, ""]


def _limits_section(data: Mapping[str, Any], champion: Mapping[str, Any] | None) -> list[str]:
    holdout = str(data.get("holdout", ""))
    kind = holdout.split(" ", 1)[0]
    rule = data.get("holdout_rule") or {}
    if rule.get("rule") == "widened tail":
        kind = "tail"
    if rule.get("rule") == "stratified" and "as configured" not in str(rule.get("why")):
        split = (
            "The hold-out is a stratified random sample of the whole period, not the tail in "
            f"time, because {rule.get('why')}: it mixes past and recent rows, so under drift its "
            "metrics are optimistic about the future."
        )
    elif kind == "tail":
        split = (
            "The hold-out is the tail in time (the last rows in order), so its metrics estimate "
            "the near future of the same line; they are not a guarantee under drift."
        )
    elif kind == "stratified":
        split = (
            "The hold-out was configured as a stratified random sample of the whole period, not "
            "the tail in time: it mixes past and recent rows, so under drift its metrics are "
            "optimistic about the future."
        )
    else:
        split = (
            "The hold-out is a separate file: its metrics are as representative of production as "
            "that file's rows are."
        )
    lines = [
        "## Limits",
        "",
        f"- Trained on this plant's data only ({code(data.get('source', 'n/a'))}): other lines, "
        "products or plants need their own training and evaluation.",
        f"- {split}",
        "- Model files are pickles (joblib): loading one runs code. Load them only from a "
        "registry you trust; defectops verifies the recorded sha256 on every load and refuses a "
        "file that does not match.",
        "- Read the prequential (next-batch) score beside the hold-out score: it is the honest "
        "estimate of how the model does on the next batch the line produces.",
    ]
    if champion is not None:
        metrics = champion.get("metrics") or {}
        lines.append(
            f"- The metrics are point estimates on {count(metrics.get('n'))} hold-out rows; "
            "a difference inside the gate's bootstrap interval is no evidence of a real change."
        )
    return [*lines, ""]
