"""Model card and README results block: known answers on hand-built reports, one real run."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from defectops.core.config import load_settings
from defectops.core.errors import UserError
from defectops.data.simulate import SimulationSpec, write_simulation
from defectops.ops.run import run_pipeline
from defectops.registry.local import file_sha256
from defectops.reporting.model_card import render_model_card, write_model_card
from defectops.reporting.readme_results import (
    END,
    START,
    render_results_section,
    update_readme,
)

MODEL_SHA = "8467e2bc4756c42b6aa15f5022e0c081d4e21c80abf9d93fab12c55e61d81aab"
DATA_SHA = "fccf36ee592c002a65452684d868725932b8843f8936c612706380ab8784a571"
CONFIG_HASH = "05cf0223c4f3670b39f900690edb1fe82dbc8648480b65ced6ebfb890858c3b1"
WARNING = "WARNING: below the majority baseline"


def _metrics(accuracy: float, pr_auc: float, below: bool) -> dict[str, Any]:
    return {
        "accuracy": accuracy,
        "balanced_accuracy": 0.7520182837600092,
        "precision": 0.5123674911660777,
        "recall": 0.6794751640112465,
        "f1": 0.5842062852538276,
        "mcc": 0.45844097589389987,
        "roc_auc": 0.8329335965043342,
        "pr_auc": pr_auc,
        "brier": 0.12151942464023936,
        "threshold": 0.2750750051392222,
        "confusion_matrix": {"tn": 3243, "fp": 690, "fn": 342, "tp": 725},
        "n": 5000,
        "defect_rate": 0.2134,
        "baseline_accuracy": 0.7866,
        "baseline_pr_auc": 0.2134,
        "below_baseline": below,
    }


def _model(
    chunk: int, status: str, reason: str, *, below: bool = False, accuracy: float | None = None
) -> dict[str, Any]:
    if accuracy is None:
        accuracy = 0.7800 if below else 0.7936
    return {
        "chunk_id": chunk,
        "rows_seen": chunk * 1000,
        "rows_trained": chunk * 1000,
        "train_rows": [0, chunk * 1000],
        "defects_trained": chunk * 200,
        "metrics": _metrics(accuracy, 0.6107757943891107, below or accuracy <= 0.7866),
        "prequential": {"chunk_id": chunk + 1, "rows": 1000, "pr_auc": 0.5, "roc_auc": 0.8}
        | {"f1": 0.45},
        "status": status,
        "reason": reason,
        "decision": {"status": status, "reason": reason, "accepted": status == "production"},
        "data_sha256": DATA_SHA if chunk == 2 else "0" * 64,
        "holdout_sha256": "a" * 64,
        "config_hash": CONFIG_HASH,
        "library_versions": {"python": "3.11.7", "xgboost": "3.2.0"},
        "model_file": f"model_chunk_{chunk:02d}.joblib",
        "model_sha256": MODEL_SHA if chunk == 2 else "f" * 64,
        "params": {"validation_fraction": 0.15},
        "threshold": 0.2750750051392222,
        "fallbacks": [],
        "trained_at": "2026-11-26T06:07:44+00:00",
        "fit_seconds": 0.42,
        "model": "gbm",
        "strategy": "expanding",
    }


def make_report(*, below: bool = False, champion: bool = True) -> dict[str, Any]:
    """Three models; with ``champion`` model 2 is it, else all three fail acceptance."""
    if champion:
        models = [
            _model(1, "production", "first champion: accuracy 0.748 >= 0.70"),
            _model(2, "production", "PR-AUC +0.031, 95% CI [+0.01, +0.05]: better", below=below),
            _model(3, "local_only", "may be worse than champion (chunk 2) by more than 0.02"),
        ]
    else:
        models = [
            _model(
                k,
                "local_only",
                f"fails acceptance: accuracy 0.6{k}0 < 0.70",
                accuracy=0.6 + k / 100,
            )
            for k in (1, 2, 3)
        ]
    promoted = [m["chunk_id"] for m in models if m["status"] == "production"]
    best = models[1]
    return {
        "models": models,
        "summary": {
            "models": 3,
            "production_models": len(promoted),
            "local_only_models": 3 - len(promoted),
            "promoted_chunks": promoted,
            "below_baseline_chunks": [2] if below else [],
            "pr_auc": {"best": 0.6107757943891107, "mean": 0.6, "worst": 0.59},
        },
        "champion": (
            {
                key: best[key]
                for key in (
                    "chunk_id",
                    "status",
                    "reason",
                    "threshold",
                    "metrics",
                    "model_file",
                    "model_sha256",
                    "rows_seen",
                )
            }
            if champion
            else None
        ),
        "data": {
            "source": "/plant/line.csv",
            "rows_read": 4000,
            "rows_quarantined": 17,
            "training_rows": 3183,
            "holdout": "tail 0.2",
            "holdout_rows": 800,
            "holdout_defect_rate": 0.2134,
            "schema": {
                "target": "DefectStatus",
                "positive_label": "1",
                "numeric": ["QualityScore", "EnergyEfficiency"],
                "categorical": ["machine_id"],
                "timestamps": ["timestamp"],
                "order_by": "timestamp",
                "dropped": [],
            },
        },
        "settings": {
            "model": "gbm",
            "strategy": "expanding",
            "gate": {
                "rule": "non-inferiority",
                "primary_metric": "pr_auc",
                "min_accuracy": 0.7,
                "beat_baseline_mcc": True,
                "margin": 0.02,
                "confidence": 0.95,
            },
            "threshold": {"objective": "cost", "cost_ratio": 5.0},
        },
    }


# -- the model card -------------------------------------------------------------------------------


def test_card_describes_the_champion_with_baselines_and_lineage() -> None:
    card = render_model_card(make_report())

    assert card.startswith("# Model card: defect classifier, champion of chunk 2\n")
    assert "target column `DefectStatus`, positive (defect) label `1`" in card
    assert "| accuracy | 0.794 | 0.787 | always predict the majority class |" in card
    assert "| PR-AUC | 0.611 | 0.213 | a constant score (= the hold-out defect rate) |" in card
    # Brier of always predicting the rate p is p * (1 - p) = 0.2134 * 0.7866 = 0.16786
    assert "| Brier (lower is better) | 0.122 | 0.168 |" in card
    assert "rows read: 4,000; quarantined by validation: 17; training rows: 3,183" in card
    assert "the last 20% of the valid rows by `timestamp`" in card
    assert "chunk 2 of 3; rows seen up to it: 2,000" in card
    assert f"training data sha256: `{DATA_SHA}`" in card
    assert f"model sha256: `{MODEL_SHA}`" in card
    assert f"config hash: `{CONFIG_HASH}`" in card
    assert "model file: `model_chunk_02.joblib`" in card
    assert "python 3.11.7, xgboost 3.2.0" in card
    assert "trained at: 2026-11-26T06:07:44+00:00" in card
    assert "**0.2751**" in card
    assert "minimises the expected cost, a missed defect costing 5 false alarms" in card
    assert "chosen on training data only" in card
    assert "reason: PR-AUC +0.031, 95% CI [+0.01, +0.05]: better" in card
    assert "3 models trained, 2 promoted, 1 kept local only." in card
    assert "Model of chunk 2 on chunk 3 (1,000 rows)" in card
    assert "| PR-AUC | 0.500 | 0.611 |" in card  # next batch beside hold-out
    assert "pickles" in card and "sha256 on every load" in card
    assert "tail in time" in card
    assert WARNING not in card


def test_below_baseline_warning_follows_the_flag() -> None:
    flagged = render_model_card(make_report(below=True))
    assert f"**{WARNING}.** Hold-out accuracy 0.780 does not beat" in flagged
    assert "(0.787)" in flagged
    assert WARNING not in render_model_card(make_report(below=False))


def test_card_without_champion_gives_every_models_reason() -> None:
    card = render_model_card(make_report(champion=False))

    assert card.startswith("# Model card: no champion\n")
    assert "No model passed acceptance, so no model is deployed." in card
    for k in (1, 2, 3):
        row = f"| {k} | {k},000 | 0.6{k}0 | 0.787 | 0.458 | 0.611 | local_only | fails acceptance:"
        assert row in card
    assert "3 models trained, 0 promoted, 3 kept local only." in card
    assert "sha256:" not in card  # no lineage of a model that does not exist


def test_card_is_deterministic_and_undefined_metrics_read_na() -> None:
    report = make_report()
    report["models"][1]["metrics"]["roc_auc"] = None  # NaN is null in the JSON
    report["champion"]["metrics"]["roc_auc"] = None
    assert render_model_card(report) == render_model_card(copy.deepcopy(report))
    assert "| ROC-AUC | n/a | 0.500 |" in render_model_card(report)


def test_write_model_card_writes_beside_the_report(tmp_path: Path) -> None:
    report = make_report()
    (tmp_path / "incremental_training_report.json").write_text(json.dumps(report))
    path = write_model_card(tmp_path)
    assert path == tmp_path / "MODEL_CARD.md"
    assert path.read_text(encoding="utf-8") == render_model_card(report)


def test_write_model_card_without_a_report_says_run_first(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="run `defectops run` first"):
        write_model_card(tmp_path)
    (tmp_path / "incremental_training_report.json").write_text("{not json")
    with pytest.raises(UserError, match="not a readable training report"):
        write_model_card(tmp_path)
    (tmp_path / "incremental_training_report.json").write_text('{"models": []}')
    with pytest.raises(UserError, match="missing summary, champion, data"):
        write_model_card(tmp_path)
    assert not (tmp_path / "MODEL_CARD.md").exists()


# -- the README block -----------------------------------------------------------------------------

BEFORE = "# Prüfstand ✓\r\nIntro über Qualität\r\n\r\n## Results\r\n".encode()
AFTER = "\r\nNachwort: 温度 °C\r\nlast line without newline".encode()


def _readme(tmp_path: Path, middle: bytes = b"\r\nstale results\r\n") -> Path:
    path = tmp_path / "README.md"
    path.write_bytes(BEFORE + START.encode() + middle + END.encode() + AFTER)
    return path


def test_update_replaces_only_between_the_markers(tmp_path: Path) -> None:
    readme = _readme(tmp_path)
    image = tmp_path / "reports" / "curve.png"

    assert update_readme(readme, make_report(), image) is True
    raw = readme.read_bytes()
    assert raw.startswith(BEFORE + START.encode())
    assert raw.endswith(END.encode() + AFTER)
    middle = raw[len(BEFORE + START.encode()) : -len(END.encode() + AFTER)].decode()
    assert "stale results" not in middle
    assert "| PR-AUC | 0.611 | 0.213 |" in middle
    assert "![" in middle and "](reports/curve.png)" in middle
    # the file is CRLF outside the markers, so the block is too: no bare LF anywhere
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert middle == "\r\n" + render_results_section(make_report(), "reports/curve.png").replace(
        "\n", "\r\n"
    )


def test_update_is_idempotent(tmp_path: Path) -> None:
    readme = _readme(tmp_path)
    image = tmp_path / "reports" / "curve.png"
    assert update_readme(readme, make_report(), image) is True
    first = readme.read_bytes()
    assert update_readme(readme, make_report(), image) is False
    assert readme.read_bytes() == first
    assert update_readme(readme, make_report(below=True), image) is True  # new results: changes


def test_update_appends_heading_and_markers_when_absent(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    original = "# Line 4 ü\n\nSome text".encode()
    readme.write_bytes(original)

    assert update_readme(readme, make_report(), tmp_path / "curve.png") is True
    text = readme.read_bytes().decode()
    assert text.startswith("# Line 4 ü\n\nSome text\n\n## Results\n\n" + START + "\n")
    assert text.endswith(END + "\n")
    assert text.count(START) == text.count(END) == 1
    assert update_readme(readme, make_report(), tmp_path / "curve.png") is False


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (f"{START}\n{START}\nx\n{END}\n", "2 START markers"),
        (f"{START}\nx\n{END}\n{END}\n", "2 END markers"),
        (f"{END}\nx\n{START}\n", "END marker comes before the START marker"),
        (f"intro\n{START}\nx\n", "no END marker"),
        (f"intro\nx\n{END}\n", "no START marker"),
    ],
)
def test_malformed_markers_are_refused(tmp_path: Path, content: str, problem: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=problem):
        update_readme(readme, make_report(), tmp_path / "curve.png")
    assert readme.read_text(encoding="utf-8") == content


def test_missing_readme_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="README not found"):
        update_readme(tmp_path / "README.md", make_report(), tmp_path / "curve.png")


def test_image_link_is_relative_to_the_readme(tmp_path: Path) -> None:
    readme = tmp_path / "docs" / "site" / "README.md"
    readme.parent.mkdir(parents=True)
    readme.write_text(f"{START}\n{END}\n", encoding="utf-8")
    image = tmp_path / "artifacts" / "reports" / "incremental_learning_visualization.png"

    update_readme(readme, make_report(), image)
    assert "](../../artifacts/reports/incremental_learning_visualization.png)" in (
        readme.read_text(encoding="utf-8")
    )


def test_results_section_is_short_and_date_free() -> None:
    section = render_results_section(make_report(), "img/curve.png")
    assert section == render_results_section(make_report(), "img/curve.png")
    assert "**Champion:** the model of chunk 2" in section
    assert "| accuracy | 0.794 | 0.787 |" in section
    assert "![Hold-out metrics per chunk, the majority baseline and the promotions]" in section
    assert "(img/curve.png)" in section
    assert "3 models trained, 2 promoted, 1 kept local only." in section
    assert "2026" not in section and "trained at" not in section
    none = render_results_section(make_report(champion=False), "a b.png")
    assert "**No champion:**" in none and "(<a b.png>)" in none


# -- one real run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("card")
    data, _ = write_simulation(SimulationSpec(rows=3000), directory / "line.csv")
    settings = load_settings(flags={"data": data, "artifacts": directory / "artifacts"}, environ={})
    result = run_pipeline(settings)
    return settings, result


@pytest.mark.slow
def test_card_and_readme_from_a_real_run(small_run, tmp_path: Path) -> None:
    settings, result = small_run
    reports = settings.reports_dir
    card = write_model_card(reports).read_text(encoding="utf-8")
    report = json.loads((reports / "incremental_training_report.json").read_text())

    champion = report["champion"]
    assert champion is not None, "the simulated line should give a champion"
    metrics = champion["metrics"]
    assert f"champion of chunk {champion['chunk_id']}" in card
    assert f"| PR-AUC | {metrics['pr_auc']:.3f} | {metrics['defect_rate']:.3f} |" in card
    on_disk = settings.artifacts / "production" / champion["model_file"]
    assert f"model sha256: `{file_sha256(on_disk)}`" in card
    assert "the last 20% of the valid rows by `timestamp`" in card
    assert (WARNING in card) is bool(metrics["below_baseline"])

    readme = tmp_path / "README.md"
    readme.write_text("# Plant\n", encoding="utf-8")
    image = result.paths["learning_curve"]
    assert update_readme(readme, report, image) is True
    assert update_readme(readme, report, image) is False
    text = readme.read_text(encoding="utf-8")
    link = Path(readme.parent, text.split("](", 1)[1].split(")", 1)[0])
    assert link.resolve() == image.resolve() and link.is_file()
