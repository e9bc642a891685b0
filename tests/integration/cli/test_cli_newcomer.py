"""What a new user sees: the version, progress in a log, a rerun that retrains nothing, tables
that fit 80 columns, roles from the history, a learning curve that says what it marks."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from cli_helpers import invoke
from defectops.cli import output as cli
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.registry.history import roles
from paths import REPO

ROOT = REPO


def test_version_is_the_package_version() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"defectops {declared}"


def test_a_log_gets_a_line_per_chunk_and_a_rerun_says_it_retrained_nothing(
    tmp_path: Path,
) -> None:
    frame, truth = simulate(SimulationSpec(rows=2_600, seed=5))
    train, _ = write_frames(frame.iloc[:2_000], truth.iloc[:2_000], tmp_path / "line.csv")
    args = ["run", "--data", train, "--chunk-size", "500", "--model", "logreg"]
    args += ["--artifacts", tmp_path / "artifacts"]
    first = invoke(*args)  # the test runner's output is not a terminal, like a CI log
    assert first.exit_code == 0, first.output
    lines = re.findall(
        r"^chunk (\d)/(\d): ([\d,]+) rows, PR-AUC 0\.\d{3}, (\w+)$", first.stdout, re.M
    )
    hold = json.loads(
        (tmp_path / "artifacts" / "reports" / "incremental_training_report.json").read_text()
    )["models"]
    assert [(int(c), int(n), s) for c, n, _, s in lines] == [
        (m["chunk_id"], len(hold), m["status"]) for m in hold
    ]
    assert "retrained" not in first.stdout

    second = invoke(*args)
    assert second.exit_code == 0, second.output
    assert not re.search(r"^chunk \d/\d:", second.stdout, re.M)
    said = " ".join(second.stdout.split())  # lines wrap at the log's 100 columns
    assert f"chunks 1-{len(hold)} were trained by an earlier run" in said
    assert "nothing was retrained" in said

    # the registered versions, in an 80-column terminal: every cell whole
    console = Console(width=80, record=True, force_terminal=True)
    original, cli.console = cli.console, console
    try:
        assert invoke("models", "--artifacts", tmp_path / "artifacts").exit_code == 0
    finally:
        cli.console = original
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "champion" in text and "production" in text


def test_the_run_table_keeps_production_whole_in_80_columns() -> None:
    model = {
        "chunk_id": 12,
        "rows_trained": 12_000,
        "status": "production",
        "metrics": {"pr_auc": 0.6, "f1": 0.5, "mcc": 0.4},
        "decision": {"comparison": {"delta": -0.005, "low": -0.043, "high": 0.041}},
    }
    console = Console(width=80, record=True, force_terminal=True)
    original = cli.console
    cli.console = console
    try:
        cli.print_models([model, {**model, "status": "local_only"}])
    finally:
        cli.console = original
    text = console.export_text()
    assert "…" not in text
    assert "production" in text and "local_only" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_roles_follow_the_history_not_the_gate() -> None:
    history = [
        {"alias": "champion", "action": "gate", "from_version": None, "to_version": "1"},
        {"alias": "champion", "action": "gate", "from_version": "1", "to_version": "2"},
        {"alias": "champion", "action": "gate", "from_version": "2", "to_version": "4"},
        {"alias": "champion", "action": "rollback", "from_version": "4", "to_version": "2"},
        {"alias": "champion", "action": "promote", "from_version": "2", "to_version": "3"},
    ]
    # 3 was rejected by the gate and promoted by hand; 4 was rolled back from; 5 never crowned
    assert roles(history, "3") == {
        "1": "former champion",
        "2": "former champion",
        "3": "champion",
        "4": "rolled back",
    }


def test_the_learning_curve_rings_the_champion_and_says_what_a_cross_means() -> None:
    import matplotlib.pyplot as plt

    from defectops.reporting.learning_curve import learning_curve_figure

    def model(chunk: int, pr_auc: float, status: str, accuracy: float) -> dict:
        names = ("roc_auc", "f1", "mcc", "balanced_accuracy", "precision", "recall")
        metrics = dict.fromkeys(names, 0.5)
        metrics |= {"pr_auc": pr_auc, "accuracy": accuracy, "below_baseline": accuracy <= 0.8}
        metrics |= {"baseline_pr_auc": 0.2, "baseline_accuracy": 0.8, "brier": 0.1}
        return {"chunk_id": chunk, "metrics": metrics, "status": status, "fit_seconds": 0.1}

    models = [
        model(1, 0.40, "production", 0.85),
        model(2, 0.55, "production", 0.86),
        model(3, 0.50, "local_only", 0.78),  # below the majority baseline
    ]
    fig = learning_curve_figure(models, champion=2)
    try:
        curves, accuracy = fig.axes[0], fig.axes[1]
        ring = [c for c in curves.collections if c.get_label() == "champion now (chunk 2)"]
        assert len(ring) == 1
        assert ring[0].get_offsets().tolist() == [[2.0, 0.55]]
        crosses = [
            c
            for c in accuracy.collections
            if c.get_label() == "no better than the majority baseline (a warning, not the gate)"
        ]
        assert crosses[0].get_offsets().tolist() == [[3.0, 0.78]]
    finally:
        plt.close(fig)


def test_rollback_asks_why_as_promote_does(tmp_path: Path) -> None:
    for args in (("rollback",), ("promote", "1")):
        result = invoke(*args, "--artifacts", tmp_path / "artifacts")
        assert result.exit_code == 2, (args, result.output)
        assert "--reason" in result.output
    assert not (tmp_path / "artifacts").exists()  # refused before anything was opened


def test_the_models_table_says_what_became_of_former_champions() -> None:
    def version(number: str, aliases: list[str]) -> SimpleNamespace:
        tags = {"pr_auc": "0.6", "f1": "0.5"}
        return SimpleNamespace(
            version=number, chunk_id=int(number), status="production", tags=tags,
            created=0, aliases=aliases,
        )  # fmt: skip

    console = Console(width=80, record=True, force_terminal=True)
    original = cli.console
    cli.console = console
    try:
        versions = [version("1", []), version("2", []), version("3", ["champion"])]
        role_of = {"1": "former champion", "2": "rolled back", "3": "champion"}
        cli.print_versions("defect-classifier", versions, role_of)
    finally:
        cli.console = original
    lines = [line.strip() for line in console.export_text().splitlines()]
    assert "champion now: v3" in lines and "former champion: v1" in lines
    assert "rolled back: v2" in lines
    assert any(line.startswith("status: the gate's verdict") for line in lines)
