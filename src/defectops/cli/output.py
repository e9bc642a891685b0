"""What the verbs print: one console, and the tables a person reads at a glance.

Every verb prints through ``console`` read at call time, so a caller can swap it for one of a
fixed width and see exactly what a terminal of that width shows.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # pandas and scikit-learn would slow `defectops --help` down
    from defectops.evaluation.records import ModelRecord

# a pipe or a CI log has no width; 100 columns keep the tables on one line each
console = Console(highlight=False, width=None if sys.stdout.isatty() else 100)


def print_models(models: list[ModelRecord]) -> None:
    """One row per chunk model; the full one-line reasons are in the training report."""
    table = Table(title="models (hold-out metrics)", title_justify="left")
    for column in ("chunk", "rows", "PR-AUC", "F1", "MCC", "vs champion", "status"):
        # `production` stays whole in 80 columns (the interval is written without a space)
        table.add_column(
            column,
            justify="left" if column == "status" else "right",
            no_wrap=True,
            min_width=len("production") if column == "status" else None,
        )
    for m in models:
        metrics = m["metrics"]
        comparison = m["decision"].get("comparison")
        versus = (
            f"{comparison['delta']:+.3f} [{comparison['low']:+.3f},{comparison['high']:+.3f}]"
            if comparison
            else ("first" if m["status"] == "production" else "-")
        )
        colour = "green" if m["status"] == "production" else "dim"
        table.add_row(
            str(m["chunk_id"]),
            f"{m['rows_trained']:,}",
            f"{metrics['pr_auc']:.3f}",
            f"{metrics['f1']:.3f}",
            f"{metrics['mcc']:.3f}",
            versus,
            f"[{colour}]{m['status']}[/]",
        )
    console.print(table)


def print_champion(champion: ModelRecord | None, model_name: str, tracking_uri: str) -> None:
    """The champion a run left, and where MLflow keeps it; nothing promoted is said in red."""
    if champion is None:
        console.print("[red]no model passed acceptance; nothing promoted[/]")
        return
    m = champion["metrics"]
    console.print(
        f"champion: chunk {champion['chunk_id']}  PR-AUC {m['pr_auc']:.3f}  "
        f"ROC-AUC {m['roc_auc']:.3f}  F1 {m['f1']:.3f}  MCC {m['mcc']:.3f}  "
        f"(hold-out defect rate {m['defect_rate']:.1%})"
    )
    console.print(
        f"registered model {model_name} version {champion.get('version')} "
        f"has the alias champion (MLflow: {tracking_uri})"
    )


def print_training(training: dict[str, Any]) -> None:
    """Whether a batch or its labels retrained the model, and the gate's one-line decision."""
    if not training.get("trained"):
        console.print(f"no retrain: {training.get('reason')}")
        return
    metrics = training["metrics"]
    console.print(
        f"retrained ({training['reason']}): version {training['version']} on "
        f"{training['rows_trained']:,} rows, PR-AUC {metrics['pr_auc']:.3f} on the "
        f"{training['holdout_rows']:,} newest labelled rows: {training['status']} "
        f"({escape(training['decision'])})"
    )


def _not_judged(feature: dict[str, Any]) -> bool:
    return bool(feature.get("rotating_identifier") or feature.get("constant_in_training"))


def _allowance_cell(feature: dict[str, Any]) -> str:
    if feature.get("rotating_identifier"):
        return "rotating id"
    if feature.get("constant_in_training"):
        return "constant in training"
    return f"{feature['allowance']:.3f}"


def print_drift(report: dict[str, Any]) -> None:
    """The batch's verdict, its ten most drifted features, and its scores against the hold-out."""
    colour = {"ok": "green", "warn": "yellow", "drift": "red"}
    console.print(
        f"batch {report['batch']}: [{colour[report['status']]}]{report['status'].upper()}[/] "
        f"against champion {report['champion_version']} ({report['rows']:,} rows, "
        f"{report['flagged_rate']:.1%} flagged)"
    )
    # the margin is how much more PSI the column may show before it is DRIFT (negative: it is)
    table = Table("feature", "kind", "PSI", "allowance", "margin", "KS", "unseen", "status")
    for f in report["features"][:10]:
        table.add_row(
            escape(f["feature"]),
            f["kind"],
            "-" if f["psi"] is None else f"{f['psi']:.3f}",
            _allowance_cell(f),
            "-" if f.get("margin") is None or _not_judged(f) else f"{f['margin']:+.3f}",
            "-" if f.get("ks") is None else f"{f['ks']:.3f}",
            "-" if f["kind"] == "numeric" else f"{f['unseen_rate']:.1%}",
            f"[{colour[f['status']]}]{f['status']}[/]",
        )
    console.print(table)
    score = report["scores"]
    console.print(
        f"scores: PSI {score['psi']:.3f}, allowance {score['allowance']:.3f} ({score['status']})"
    )
    perf = report.get("performance")
    if perf and perf.get("interval"):
        iv, name = perf["interval"], perf["primary_metric"]
        holdout = perf["holdout"].get(name)
        console.print(
            f"{name} on {perf['labelled_rows']:,} labelled rows: {iv['value']:.3f} "
            f"[{iv['low']:.3f}, {iv['high']:.3f}] vs hold-out "
            + ("-" if holdout is None else f"{holdout:.3f}")
        )


def _fixed(value: str | None) -> str:
    return f"{float(value):.3f}" if value else "-"


def print_versions(model_name: str, versions: list[Any], role_of: dict[str, str]) -> None:
    """Every registered version in a table whose cells stay whole in 80 columns.

    The status is the gate's verdict when the version was trained; what became of it since
    (champion now, former champion, rolled back) is said apart, below the table, so that a
    replaced champion does not read as serving and a hand-promoted one as rejected.
    """
    table = Table(
        title=f"registered model {model_name}",
        title_justify="left",
        caption=_roles_caption(role_of),
        caption_justify="left",
    )
    # 80 columns hold every cell whole: a short header for the version, minutes for the time
    for column in ("ver", "chunk", "status", "PR-AUC", "F1", "created (UTC)", "aliases"):
        table.add_column(column, no_wrap=True)
    for v in versions:
        created = datetime.fromtimestamp(v.created / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            v.version,
            str(v.chunk_id or "-"),
            v.status or "-",
            _fixed(v.tags.get("pr_auc")),
            _fixed(v.tags.get("f1")),
            created,
            ", ".join(sorted(v.aliases)),
        )
    console.print(table)


def _roles_caption(role_of: dict[str, str]) -> str:
    """``status: the gate's verdict ...`` then ``champion now: v4``, ``former champion: v1, v2``."""
    lines = ["status: the gate's verdict when each version was trained"]
    for role in ("champion", "former champion", "rolled back"):
        held = sorted((v for v, r in role_of.items() if r == role), key=int)
        if held:
            name = "champion now" if role == "champion" else role
            lines.append(f"{name}: " + ", ".join(f"v{v}" for v in held))
    return "\n".join(lines)


def _version(version: str | None, chunk: int | None) -> str:
    if not version:
        return "-"
    return f"v{version}" + (f" (#{chunk})" if chunk else "")


def print_history(entries: list[dict[str, Any]]) -> None:
    """The alias history, one change a row; only the reason, free text, may wrap."""
    table = Table(title="alias history", title_justify="left")
    for column in ("#", "when (UTC)", "alias", "from", "to", "action", "by", "why"):
        table.add_column(column, overflow="fold", no_wrap=column != "why")
    for e in entries:
        table.add_row(
            str(e["seq"]),
            e["at"][:16].replace("T", " "),
            e["alias"],
            _version(e.get("from_version"), e.get("from_chunk")),
            _version(e.get("to_version"), e.get("to_chunk")),
            e.get("action", ""),
            e.get("by", ""),
            escape(e.get("reason", "")),
        )
    console.print(table)


def print_data_warnings(report: dict[str, Any]) -> None:
    """The data contract's notes and its warnings that change what a model learns from."""
    for note in report["schema"].get("notes", []):
        console.print(f"note: {note}", markup=False, style="dim")
    for check in report["checks"]:
        if check["name"] in ("identifiers", "leakage") and check["status"] != "pass":
            console.print(f"warning: {check['name']}: {check['detail']}", markup=False)


def print_validation(report: dict[str, Any]) -> None:
    """The validation report as a short table a person reads at a glance."""
    for note in report["schema"].get("notes", []):
        console.print(f"[dim]note:[/] {note}", markup=True)
    table = Table(title=f"validation: {report['status']}", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    for check in report["checks"]:
        status = check["status"]
        table.add_row(check["name"], f"[{colours[status]}]{status}[/]", escape(check["detail"]))
    console.print(table)
    how = report.get("read_as") or {}
    if how.get("format") == "csv" and (
        how.get("delimiter") != ","
        or how.get("decimal") != "."
        or how.get("compression")
        or how.get("encoding") != "utf-8"
    ):
        console.print(
            f"read as: delimiter {how['delimiter']!r}, decimal {how['decimal']!r}, "
            f"{how['encoding']}" + (f", {how['compression']}" if how.get("compression") else ""),
            markup=False,
        )
    markers = report.get("missing_markers") or {}
    if markers:
        shown = [
            f"{col}: " + ", ".join(f"{m or '(empty)'!s} x{n:,}" for m, n in counts.items())
            for col, counts in list(markers.items())[:6]
        ]
        more = f"; ... ({len(markers) - 6} more columns)" if len(markers) > 6 else ""
        console.print("missing markers: " + "; ".join(shown) + more, markup=False)
    console.print(
        f"rows read {report['rows_read']:,}, kept {report['rows_kept']:,}, "
        f"quarantined {report['rows_quarantined']:,}"
    )
