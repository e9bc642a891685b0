"""One artifacts directory, one line: another line's back-fill is refused and changes nothing.

Before, ``run`` on AI4I into the demo's directory made an AI4I model the champion of the same
registered model, replaced the demo champion and deleted the demo's models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli_helpers import assert_user_error, invoke, snapshot
from defectops.data.simulate import SimulationSpec, simulate
from paths import SHARED_DATA

AI4I = SHARED_DATA / "ai4i2020.csv"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("one-line")
    frame, _ = simulate(SimulationSpec(rows=1_800, seed=12))
    frame.to_csv(root / "line.csv", index=False)
    artifacts = root / "artifacts"
    done = invoke("run", "--data", root / "line.csv", "--artifacts", artifacts,
                  "--model", "logreg", "--chunk-size", "600")  # fmt: skip
    assert done.exit_code == 0, done.output
    return {"root": root, "frame": frame, "artifacts": artifacts}


def test_another_lines_back_fill_is_refused_and_nothing_changes(demo: dict[str, Any]) -> None:
    artifacts = demo["artifacts"]
    before = snapshot(artifacts)
    if AI4I.is_file():
        result = invoke("run", "--data", AI4I, "--target", "Machine failure",
                        "--drop", "TWF,HDF,PWF,OSF,RNF", "--artifacts", artifacts)  # fmt: skip
        assert_user_error(result, "another line", "target 'Machine failure'", "--artifacts")
        assert snapshot(artifacts) == before
    renamed = demo["frame"].rename(columns={"DefectStatus": "Scrap"})
    renamed.to_csv(demo["root"] / "other.csv", index=False)
    result = invoke("run", "--data", demo["root"] / "other.csv", "--target", "Scrap",
                    "--artifacts", artifacts)  # fmt: skip
    assert_user_error(result, "another line", "target 'Scrap' instead of 'DefectStatus'")
    assert snapshot(artifacts) == before


def test_the_same_line_with_other_features_is_another_line(demo: dict[str, Any]) -> None:
    artifacts = demo["artifacts"]
    before = snapshot(artifacts)
    result = invoke("run", "--data", demo["root"] / "line.csv", "--drop", "SupplierQuality",
                    "--artifacts", artifacts, "--model", "logreg")  # fmt: skip
    assert_user_error(result, "missing features SupplierQuality")
    assert snapshot(artifacts) == before


def test_a_new_back_fill_of_the_same_line_is_gated_against_the_champion(tmp_path: Path) -> None:
    """The old champion is the first model's incumbent on the new hold-out; the earlier chunk
    models are kept, byte for byte, under previous_runs/."""
    import json

    from mlflow import MlflowClient

    frame, _ = simulate(SimulationSpec(rows=2_400, seed=3))
    frame.iloc[:1_200].to_csv(tmp_path / "first.csv", index=False)
    frame.to_csv(tmp_path / "all.csv", index=False)
    artifacts = tmp_path / "artifacts"
    args = ["--artifacts", artifacts, "--model", "logreg", "--chunk-size", "600"]
    assert invoke("run", "--data", tmp_path / "first.csv", *args).exit_code == 0
    old_models = snapshot(artifacts / "incremental_models")
    old_champion = json.loads((artifacts / "production" / "metadata.json").read_text())
    done = invoke("run", "--data", tmp_path / "all.csv", *args)
    assert done.exit_code == 0, done.output
    report = json.loads((artifacts / "reports" / "incremental_training_report.json").read_text())
    decisions = [m["decision"] for m in report["models"]]
    compared = [d for d in decisions if d.get("comparison")]
    # every model that passed acceptance was compared: the first one with the old champion
    passed = [d for d in decisions if "fails acceptance" not in d.get("reason", "")]
    assert passed and compared[0] is passed[0]
    assert f"chunk {old_champion['chunk_id']}" in passed[0]["reason"]
    kept = list((artifacts / "previous_runs").glob("run-*/incremental_models"))
    assert len(kept) == 1 and snapshot(kept[0]) == old_models
    versions = MlflowClient(f"sqlite:///{artifacts / 'mlflow.db'}").search_model_versions(
        "name='defect-classifier'"
    )
    assert str(old_champion["version"]) in {str(v.version) for v in versions}
