"""The champion explained for people who did not run it: a model card and a README results block.

``incremental_training_report.json`` holds everything a reviewer needs, but as JSON for programs.
This module turns it into Markdown:

* :func:`write_model_card` writes ``MODEL_CARD.md`` next to the report: what the champion
  predicts, the data it saw, its hold-out metrics *beside the majority baseline* (on an imbalanced
  line a high accuracy alone means nothing), how its threshold was chosen, why the gate promoted
  it, its lineage (file checksum, config hash, library versions) and its limits.
* :func:`update_readme` keeps a short results block in a README current, between two HTML comment
  markers, without touching a byte outside them, so a project README can show the latest run and
  re-running on the same report changes nothing.

Everything is rendered from the report alone (no clock, no file system), so the same report
gives the same bytes, and every write is atomic.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from defectops.core import atomic
from defectops.core.errors import UserError

TRAINING_REPORT = "incremental_training_report.json"  # the name reporting.py writes
MODEL_CARD = "MODEL_CARD.md"
START = "<!-- defectops:results -->"
END = "<!-- /defectops:results -->"
RESULTS_HEADING = "## Results"

REQUIRED_KEYS = ("models", "summary", "champion", "data")

#: (metric key, label, baseline key or fixed value, what the baseline is); ``None``: no baseline
_METRIC_ROWS: tuple[tuple[str, str, str | float | None, str], ...] = (
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
_RESULTS_ROWS = ("accuracy", "pr_auc", "roc_auc", "mcc", "f1")


# -- the model card -------------------------------------------------------------------------------


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
    _check_report(report, "report")
    champion = _champion_metadata(report)
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
        f"On {_count(metrics.get('n'))} hold-out rows with defect rate "
        f"{_pct(metrics.get('defect_rate'))}; every model of the run was scored on these same "
        "rows.",
        "",
        *_baseline_warning(metrics),
        *_metrics_table(metrics),
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


def read_report(path: Path) -> dict[str, Any]:
    """The training report at ``path``, or a UserError that names the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no training report; run `defectops run` first")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path}: not a readable training report ({exc}); run `defectops run` again"
        ) from None
    _check_report(report, str(path))
    return report


# -- the README results block ---------------------------------------------------------------------


def render_results_section(report: dict[str, Any], image: str) -> str:
    """The short results block for a README: champion, metrics beside the baseline, the picture.

    No dates, timings or absolute paths, so rendering the same report twice gives the same text
    and a README under version control changes only when the results do. ``image`` is used as
    given (a path relative to the README, with forward slashes).
    """
    _check_report(report, "report")
    champion = _champion_metadata(report)
    data = report["data"]
    summary = report["summary"]
    lines: list[str] = []
    if champion is None:
        lines += [
            "**No champion:** no model passed acceptance, so nothing is deployed "
            f"(hold-out: {_holdout_text(data, short=True)}, "
            f"defect rate {_pct(data.get('holdout_defect_rate'))}).",
            "",
        ]
    else:
        metrics = champion["metrics"]
        lines += [
            f"**Champion:** the model of chunk {champion['chunk_id']} "
            f"(`{champion.get('model', 'n/a')}`, `{champion.get('strategy', 'n/a')}`), "
            f"trained on the first {_count(champion.get('rows_seen'))} rows; scored on "
            f"{_count(metrics.get('n'))} hold-out rows ({_holdout_text(data, short=True)}, "
            f"defect rate {_pct(metrics.get('defect_rate'))}).",
            "",
            *_baseline_warning(metrics),
            *_metrics_table(metrics, keys=_RESULTS_ROWS, explain=False),
            "",
        ]
    lines += [
        f"![Hold-out metrics per chunk, the majority baseline and the promotions]({_link(image)})",
        "",
        f"{_run_tally(summary)}",
    ]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, report: dict[str, Any], image_path: Path) -> bool:
    """Put the rendered results between ``START`` and ``END`` in ``readme``; True if it changed.

    Only the bytes between the two markers are replaced (the markers themselves stay); every other
    byte of the file, including its line endings and any non-ASCII text, is left exactly as it
    was, so the block can sit inside a hand-written README. The block uses the file's dominant
    line ending (CRLF or LF, counted outside the markers, so the choice is stable). The image link
    is ``image_path`` relative to the README's folder (``os.path.relpath``, forward slashes), so it
    works on GitHub and in a checkout wherever the two live.

    A README without any marker gets a ``## Results`` heading and the marker block appended at
    its end; to place the block elsewhere, put the two markers there once. Anything else than
    exactly one ``START`` followed later by exactly one ``END`` is a
    :class:`~defectops.core.errors.UserError` naming the problem, because guessing which block to
    overwrite could destroy hand-written text. A README that does not exist is a UserError too.

    The file is rewritten atomically, and only when its content changes: a second call with the
    same report returns False and leaves the file (and its modification time) alone.
    """
    readme = Path(readme)
    if not readme.is_file():
        raise UserError(f"{readme}: README not found; create it (or pass an existing file)")
    raw = readme.read_bytes()
    try:
        text = raw.decode("utf-8")  # not read_text: it would turn CRLF into LF
    except UnicodeDecodeError as exc:
        raise UserError(f"{readme}: not UTF-8 text ({exc}); cannot update it safely") from None

    section = render_results_section(report, _relative_link(Path(image_path), readme.parent))
    starts, ends = text.count(START), text.count(END)
    if starts == 0 and ends == 0:
        newline = _dominant_newline(text)
        lead = "" if not text or text.endswith(("\n", "\r")) else newline
        gap = newline if text else ""
        block = f"{RESULTS_HEADING}\n\n{START}\n{section}{END}\n".replace("\n", newline)
        new_text = text + lead + gap + block
    else:
        _check_markers(readme, text, starts, ends)
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        newline = _dominant_newline(head + tail)
        body = f"\n{section}".replace("\n", newline)
        new_text = head + START + body + END + tail

    new_raw = new_text.encode("utf-8")
    if new_raw == raw:
        return False
    atomic.write_bytes(readme, new_raw)
    return True


def _check_markers(readme: Path, text: str, starts: int, ends: int) -> None:
    problems = []
    if starts != 1:
        problems.append(f"{starts} START markers" if starts else "no START marker")
    if ends != 1:
        problems.append(f"{ends} END markers" if ends else "no END marker")
    if not problems and text.index(END) < text.index(START):
        problems.append("the END marker comes before the START marker")
    if problems:
        raise UserError(
            f"{readme}: malformed results markers ({'; '.join(problems)}); keep exactly one "
            f"{START} followed by one {END}, or remove both to have the block appended"
        )


def _dominant_newline(text: str) -> str:
    """CRLF when most line breaks in ``text`` are CRLF, else LF (also for text without any)."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf > text.count("\n") - crlf else "\n"


def _relative_link(image: Path, folder: Path) -> str:
    try:
        relative = os.path.relpath(image, folder)
    except ValueError:  # Windows: another drive has no relative path
        relative = str(image.resolve())
    return relative.replace(os.sep, "/")


def _link(target: str) -> str:
    """A Markdown link destination; angle brackets when it holds spaces or parentheses."""
    if any(c in target for c in " ()"):
        return f"<{target}>"
    return target


# -- sections -------------------------------------------------------------------------------------


def _predicts_section(data: Mapping[str, Any]) -> list[str]:
    schema = data.get("schema") or {}
    numeric = list(schema.get("numeric") or [])
    categorical = list(schema.get("categorical") or [])
    lines = [
        "## What it predicts",
        "",
        f"Whether a part is defective: target column {_code(schema.get('target', 'n/a'))}, "
        f"positive (defect) label {_code(schema.get('positive_label', 'n/a'))}. "
        "For each row the model gives a defect probability and flags a defect when it reaches "
        "the decision threshold.",
        "",
        f"- numeric inputs ({len(numeric)}): {_code_list(numeric)}",
        f"- categorical inputs ({len(categorical)}): {_code_list(categorical)}",
    ]
    if schema.get("timestamps"):
        lines.append(f"- timestamps (not used as inputs): {_code_list(schema['timestamps'])}")
    if schema.get("order_by"):
        lines.append(f"- rows ordered by {_code(schema['order_by'])}")
    if schema.get("dropped"):
        lines.append(f"- dropped columns: {_code_list(schema['dropped'])}")
    return [*lines, ""]


def _data_section(
    data: Mapping[str, Any], champion: Mapping[str, Any] | None, report: Mapping[str, Any]
) -> list[str]:
    lines = [
        "## Data",
        "",
        f"- source: {_code(data.get('source', 'n/a'))}",
        f"- rows read: {_count(data.get('rows_read'))}; quarantined by validation: "
        f"{_count(data.get('rows_quarantined'))}; training rows: "
        f"{_count(data.get('training_rows'))}",
        f"- hold-out: {_holdout_text(data)}; {_count(data.get('holdout_rows'))} rows, "
        f"defect rate {_pct(data.get('holdout_defect_rate'))}",
    ]
    if champion is not None:
        chunks = len(report["models"])
        train_rows = champion.get("train_rows")
        span = (
            f"rows {_count(train_rows[0] + 1)}-{_count(train_rows[1])}"
            if isinstance(train_rows, list) and len(train_rows) == 2
            else "n/a"
        )
        lines += [
            f"- champion: chunk {champion['chunk_id']} of {chunks}; rows seen up to it: "
            f"{_count(champion.get('rows_seen'))}; trained on "
            f"{_count(champion.get('rows_trained'))} rows ({span}, "
            f"strategy {_code(champion.get('strategy', 'n/a'))}) with "
            f"{_count(champion.get('defects_trained'))} defects",
            f"- training data sha256: {_code(champion.get('data_sha256', 'n/a'))}",
            f"- hold-out sha256: {_code(champion.get('holdout_sha256', 'n/a'))}",
        ]
    return [*lines, ""]


def _baseline_warning(metrics: Mapping[str, Any]) -> list[str]:
    if not metrics.get("below_baseline"):
        return []
    return [
        f"> **WARNING: below the majority baseline.** Hold-out accuracy "
        f"{_num(metrics.get('accuracy'))} does not beat always predicting the majority class "
        f"({_num(metrics.get('baseline_accuracy'))}). Judge this model by PR-AUC and MCC against "
        "their baselines, not by accuracy.",
        "",
    ]


def _metrics_table(
    metrics: Mapping[str, Any], keys: tuple[str, ...] | None = None, explain: bool = True
) -> list[str]:
    rows = [row for row in _METRIC_ROWS if keys is None or row[0] in keys]
    if keys is not None:
        rows.sort(key=lambda row: keys.index(row[0]))
    if explain:
        lines = ["| metric | champion | baseline | the baseline is |", "|---|---:|---:|---|"]
    else:
        lines = ["| hold-out metric | champion | baseline |", "|---|---:|---:|"]
    for key, label, baseline, meaning in rows:
        value = _baseline_value(metrics, baseline)
        cells = [label, _num(metrics.get(key)), "" if baseline is None else _num(value)]
        if explain:
            cells.append(meaning)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _baseline_value(metrics: Mapping[str, Any], baseline: str | float | None) -> Any:
    if baseline is None or isinstance(baseline, float):
        return baseline
    if baseline == "_prior_brier":
        rate = metrics.get("defect_rate")
        if not isinstance(rate, int | float) or _missing(rate):
            return None
        return rate * (1 - rate)
    return metrics.get(baseline)


def _confusion(metrics: Mapping[str, Any]) -> list[str]:
    cm = metrics.get("confusion_matrix")
    if not isinstance(cm, Mapping):
        return []
    return [
        f"Confusion matrix at the threshold: {_count(cm.get('tp'))} defects caught, "
        f"{_count(cm.get('fn'))} missed, {_count(cm.get('fp'))} false alarms, "
        f"{_count(cm.get('tn'))} good parts passed.",
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
        f"({_count(pre.get('rows'))} rows): {note}. Training-stream batches come one at a time "
        "like production, so this is the honest estimate of how it does on the next batch; the "
        "hold-out is one fixed sample.",
        "",
        f"| metric | next batch | hold-out (model of chunk {owner['chunk_id']}) |",
        "|---|---:|---:|",
    ]
    for key, label in (("pr_auc", "PR-AUC"), ("roc_auc", "ROC-AUC"), ("f1", "F1")):
        lines.append(f"| {label} | {_num(pre.get(key))} | {_num(metrics.get(key))} |")
    return [*lines, ""]


def _threshold_section(report: Mapping[str, Any], champion: Mapping[str, Any]) -> list[str]:
    settings = report.get("settings") or {}
    threshold = settings.get("threshold") or {}
    objective = threshold.get("objective")
    if objective == "cost":
        how = (
            "the probability that minimises the expected cost, a missed defect costing "
            f"{_num(threshold.get('cost_ratio'), 3, strip=True)} false alarms"
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
    elif not _missing(fraction):
        where = (
            f"a stratified validation slice ({_pct(fraction, 0)}) of the model's own training rows"
        )
    else:
        where = "a validation slice of the model's own training rows"
    value = champion.get("threshold", (champion.get("metrics") or {}).get("threshold"))
    lines = [
        "## Decision threshold",
        "",
        f"A part is flagged a defect when its probability is at least **{_num(value, 4)}**: "
        f"{how}, chosen on training data only ({where}). The hold-out was never used to choose "
        "it, so the hold-out metrics above are not tuned to the hold-out.",
        "",
    ]
    fallbacks = champion.get("fallbacks") or []
    if fallbacks:
        lines += ["Fallbacks used when fitting this model:", ""]
        lines += [f"- {_inline(item)}" for item in fallbacks]
        lines.append("")
    return lines


def _gate_section(report: Mapping[str, Any], champion: Mapping[str, Any]) -> list[str]:
    gate = (report.get("settings") or {}).get("gate") or {}
    decision = champion.get("decision") or {}
    lines = [
        "## Gate decision",
        "",
        f"- status: {_code(champion.get('status', 'n/a'))}",
        f"- reason: {_inline(champion.get('reason', decision.get('reason', 'n/a')))}",
    ]
    if gate:
        bar = f"accuracy >= {_num(gate.get('min_accuracy'), 2)}"
        if gate.get("beat_baseline_mcc"):
            bar += " and MCC above the majority baseline's 0"
        lines += [
            f"- acceptance bar: {bar}",
            f"- comparison rule: {_code(gate.get('rule', 'n/a'))} on "
            f"{_code(gate.get('primary_metric', 'n/a'))} (margin {gate.get('margin', 'n/a')}, "
            f"{_pct(gate.get('confidence'), 0)} paired bootstrap)",
        ]
    return [*lines, ""]


def _lineage_section(champion: Mapping[str, Any]) -> list[str]:
    versions = champion.get("library_versions") or {}
    version_text = ", ".join(f"{name} {v}" for name, v in sorted(versions.items())) or "n/a"
    return [
        "## Lineage",
        "",
        f"- model file: {_code(champion.get('model_file', 'n/a'))} "
        f"(in the registry's `production/` folder)",
        f"- model sha256: {_code(champion.get('model_sha256', 'n/a'))}",
        f"- config hash: {_code(champion.get('config_hash', 'n/a'))}",
        f"- model: {_code(champion.get('model', 'n/a'))}, "
        f"strategy: {_code(champion.get('strategy', 'n/a'))}",
        f"- trained at: {champion.get('trained_at', 'n/a')}",
        f"- library versions: {version_text}",
        "",
    ]


def _summary_section(report: Mapping[str, Any]) -> list[str]:
    summary = report["summary"]
    lines = ["## Run summary", "", f"- {_run_tally(summary)}"]
    if summary.get("promoted_chunks"):
        lines.append(f"- promoted chunks: {_int_list(summary['promoted_chunks'])}")
    if summary.get("below_baseline_chunks"):
        lines.append(
            "- chunks whose accuracy does not beat the majority baseline: "
            f"{_int_list(summary['below_baseline_chunks'])}"
        )
    pr = summary.get("pr_auc")
    if isinstance(pr, Mapping):
        lines.append(
            f"- hold-out PR-AUC over the run: best {_num(pr.get('best'))}, "
            f"mean {_num(pr.get('mean'))}, worst {_num(pr.get('worst'))}"
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
            _count(model.get("rows_seen")),
            _num(m.get("accuracy")),
            _num(m.get("baseline_accuracy")),
            _num(m.get("mcc")),
            _num(m.get("pr_auc")),
            str(model.get("status", "n/a")),
            str(model.get("reason", "n/a")),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
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
        f"- Trained on this plant's data only ({_code(data.get('source', 'n/a'))}): other lines, "
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
            f"- The metrics are point estimates on {_count(metrics.get('n'))} hold-out rows; "
            "a difference inside the gate's bootstrap interval is no evidence of a real change."
        )
    return [*lines, ""]


# -- helpers --------------------------------------------------------------------------------------


def _check_report(report: Any, source: str) -> None:
    """Fail with one line when ``report`` is not a training report, before rendering half."""
    if not isinstance(report, Mapping):
        raise UserError(f"{source}: not a training report (expected a JSON object)")
    missing = [key for key in REQUIRED_KEYS if key not in report]
    if missing:
        raise UserError(
            f"{source}: not a training report (missing {', '.join(missing)}); "
            "run `defectops run` to write one"
        )
    if not isinstance(report["models"], list) or not isinstance(report["data"], Mapping):
        raise UserError(f"{source}: not a training report (models or data has the wrong type)")


def _champion_metadata(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The champion's full metadata from ``models`` (the ``champion`` section is a digest)."""
    digest = report.get("champion")
    if not digest:
        return None
    for model in report["models"]:
        if model.get("chunk_id") == digest.get("chunk_id"):
            return {**model, **digest}
    return dict(digest)


def _run_tally(summary: Mapping[str, Any]) -> str:
    return (
        f"{_count(summary.get('models'))} models trained, "
        f"{_count(summary.get('production_models'))} promoted, "
        f"{_count(summary.get('local_only_models'))} kept local only."
    )


def _holdout_text(data: Mapping[str, Any], short: bool = False) -> str:
    rule = data.get("holdout_rule")
    if rule:
        order = (data.get("schema") or {}).get("order_by")
        by = f" by {_code(order)}" if order else " in file order"
        part = f"{float(rule['fraction']):.0%}"
        if rule["rule"] == "tail":
            return f"the last {part} of the valid rows{by}, set aside before training"
        if rule["rule"] == "widened tail":
            return (
                f"the last {_count(rule['rows'])} valid rows{by} (widened from {part} to hold "
                f"{_count(rule['defects'])} defects), set aside before training"
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
        by = f" by {_code(order)}" if order else " in file order"
        return f"the last {share} of the valid rows{by}, set aside before training"
    if kind == "stratified" and share:
        return f"a stratified random {share} of the valid rows, set aside before training"
    name = Path(holdout).name if short else holdout
    return f"a separate file, {_code(name)}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _num(value: Any, digits: int = 3, strip: bool = False) -> str:
    """A metric with fixed decimals; ``n/a`` for undefined ones (NaN is ``null`` in the JSON)."""
    if _missing(value) or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if strip and "." in text else text


def _pct(value: Any, digits: int = 1) -> str:
    if _missing(value) or not isinstance(value, int | float):
        return "n/a"
    return f"{value:.{digits}%}"


def _count(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "n/a"


def _int_list(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _inline(value: Any) -> str:
    """One line of text: report strings must not break the Markdown structure."""
    return " ".join(str(value).split())


def _cell(value: Any) -> str:
    return _inline(value).replace("|", "\\|")


def _code(value: Any) -> str:
    text = _inline(value)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _code_list(values: list[Any]) -> str:
    return ", ".join(_code(v) for v in values) if values else "none"
