"""Drift monitoring on the simulator's known drift: flagged where it is, quiet where it is not.

One champion is trained by a real back-fill (chunks of 1,000 rows, MLflow on SQLite) on the
first 12,000 rows of a simulated line whose drift starts at row 36,000 (see
``defectops.data.simulate``: a new supplier batch from an unseen country with low
``SupplierQuality`` for 2,000 rows, and ``EnergyConsumption`` reading 800 higher from then on).
The 24 batches of 1,000 rows between are stationary: same process, later time.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from defectops.core.config import Settings, load_settings
from defectops.core.errors import UserError
from defectops.data.simulate import SimulationSpec, simulate
from defectops.monitoring.batch import ChampionView, drift_report, monitor_batch
from defectops.monitoring.drift import compare
from defectops.monitoring.profile import build_profile, numeric_profile, psi
from defectops.ops.run import run_pipeline
from registry_fixtures import defectops_cmd

TRAIN_ROWS = 12_000
DRIFT_AT = 36_000
BATCH = 1_000


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("monitor")
    frame, _ = simulate(SimulationSpec(rows=40_000, seed=3, drift_at=DRIFT_AT))
    train = root / "train.csv"
    frame.iloc[:TRAIN_ROWS].to_csv(train, index=False)
    settings = load_settings(
        flags={"artifacts": root / "artifacts", "data": train, "chunk_size": BATCH}, environ={}
    )
    run_pipeline(settings)
    return {"root": root, "frame": frame, "settings": settings}


def batches(frame: pd.DataFrame, start: int, stop: int) -> list[tuple[int, pd.DataFrame]]:
    return [(s, frame.iloc[s : s + BATCH]) for s in range(start, stop, BATCH)]


def report_of(line: dict[str, Any], rows: pd.DataFrame, name: str = "b") -> dict[str, Any]:
    champion = ChampionView.load(line["settings"].artifacts)
    return drift_report(champion, rows, line["settings"], batch=name, source=name)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {f["feature"]: f["status"] for f in report["features"]}


def test_stationary_batches_stay_ok(line):
    """The false-alarm rate over 24 stationary batches (measured: 0 of 24)."""
    reports = [report_of(line, rows) for _, rows in batches(line["frame"], TRAIN_ROWS, DRIFT_AT)]
    assert len(reports) == 24
    alarms = [r for r in reports if r["status"] != "ok"]
    assert len(alarms) <= 1, [(r["status"], r["features"][0]) for r in alarms]
    # the clustered columns really do move between batches; the allowance is what keeps them ok
    shift = [next(f for f in r["features"] if f["feature"] == "shift") for r in reports]
    assert max(f["psi"] for f in shift) > 1.0
    assert all(f["status"] == "ok" for f in shift)


def test_drift_is_flagged_on_the_drifted_columns(line):
    frame = line["frame"]
    for start, rows in batches(frame, DRIFT_AT, len(frame)):
        report = report_of(line, rows)
        found = statuses(report)
        assert report["status"] == "drift"
        assert found["EnergyConsumption"] == "drift"  # the sensor offset lasts
        if start < DRIFT_AT + 2_000:  # the bad supplier batch from an unseen country
            assert found["supplier_country"] == "drift"
            assert found["SupplierQuality"] == "drift"
            country = next(f for f in report["features"] if f["feature"] == "supplier_country")
            assert country["unseen_values"] == ["XX"] and country["unseen_rate"] == 1.0
            assert report["scores"]["status"] == "drift"  # the champion flags far more parts
        # stable columns stay quiet even in a drifted batch
        for column in ("ProductionVolume", "machine_id", "material", "DefectRate"):
            assert found[column] == "ok", column
        assert report["features"][0]["status"] == "drift"  # ranked worst first


def test_injected_unseen_category_is_reported(line):
    rows = line["frame"].iloc[20_000:21_000].copy()
    rows.loc[rows.index[:300], "machine_category"] = "laser"
    report = report_of(line, rows)
    category = next(f for f in report["features"] if f["feature"] == "machine_category")
    assert category["unseen_values"] == ["laser"]
    assert category["unseen_rate"] == pytest.approx(0.3)
    assert category["status"] == "drift"
    assert not category["rotating_identifier"]
    supplier = next(f for f in report["features"] if f["feature"] == "supplier_batch_id")
    assert supplier["rotating_identifier"] and supplier["unseen_rate"] > 0.5
    assert supplier["status"] == "ok"  # new supplier batches are the normal case


def test_labelled_batch_performance_beside_holdout(line):
    rows = line["frame"].iloc[20_000:22_000]
    report = report_of(line, rows)
    perf = report["performance"]
    assert perf["labelled_rows"] == 2_000
    interval = perf["interval"]
    assert interval["low"] <= interval["value"] <= interval["high"]
    champion = ChampionView.load(line["settings"].artifacts)
    assert perf["holdout"]["pr_auc"] == champion.metadata["metrics"]["pr_auc"]
    unlabelled = report_of(line, rows.drop(columns=["DefectStatus"]))
    assert unlabelled["performance"] is None


def test_monitor_cli_writes_report_and_plot_and_exit_codes(line):
    root, settings = line["root"], line["settings"]
    drifted = root / "drifted.csv"
    line["frame"].iloc[DRIFT_AT : DRIFT_AT + BATCH].to_csv(drifted, index=False)
    stationary = root / "shift 17.csv"
    line["frame"].iloc[17_000:18_000].drop(columns=["DefectStatus"]).to_csv(stationary, index=False)
    art = str(settings.artifacts)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(defectops_cmd(*args), capture_output=True, text=True, timeout=300)

    result = cli("monitor", "--data", str(drifted), "--artifacts", art, "--fail-on", "drift")
    assert result.returncode == 3, result.stderr
    assert "DRIFT" in result.stdout and "EnergyConsumption" in result.stdout
    written = json.loads((settings.reports_dir / "drift" / "drifted.json").read_text())
    assert written["status"] == "drift" and written["rows"] == BATCH
    png = (settings.reports_dir / "drift" / "drifted.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    ok = cli("monitor", "--data", str(stationary), "--artifacts", art, "--fail-on", "warn")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (settings.reports_dir / "drift" / "shift_17.json").exists()  # a safe file name

    bad = cli("monitor", "--data", str(stationary), "--artifacts", art, "--fail-on", "maybe")
    assert bad.returncode == 2 and "--fail-on" in bad.stderr
    empty = cli("monitor", "--data", str(stationary), "--artifacts", str(root / "none"))
    assert empty.returncode == 2 and "no champion" in empty.stderr


def test_profile_is_small_and_kept_with_every_model(line):
    settings: Settings = line["settings"]
    models = sorted((settings.artifacts / "incremental_models").iterdir())
    assert len(models) == 9  # 9,600 training rows: 8 chunks of 1,000 and a last one of 1,600
    for directory in models:
        stored = json.loads((directory / "feature_schema.json").read_text())
        profile = stored["profile"]
        assert len(json.dumps(profile)) < 25_000  # about 21 kB for 26 columns
        metadata = json.loads((directory / "metadata.json").read_text())
        assert profile["rows"] == metadata["rows_trained"]  # this model's own training rows
    production = json.loads((settings.artifacts / "production" / "feature_schema.json").read_text())
    assert "profile" in production


def test_ks_statistic_matches_scipy_within_a_percentile():
    rng = np.random.default_rng(0)
    reference, current = rng.normal(size=20_000), rng.normal(0.1, 1.1, size=3_000)
    ref = numeric_profile(reference, 1000)
    from defectops.monitoring.drift import numeric_drift

    found = numeric_drift(ref, current, load_settings(environ={}).monitor)
    exact = stats.ks_2samp(reference, current).statistic
    assert abs(found["ks"] - exact) < 0.011
    assert found["ks_p_value"] < 1e-3  # a real shift on 3,000 rows


def test_psi_known_values_and_empty_bins():
    assert float(psi(np.array([50, 50]), np.array([50, 50]))) == 0.0
    assert float(psi(np.array([50, 50]), np.array([90, 10]))) == pytest.approx(
        0.4 * np.log(0.9 / 0.5) + 0.4 * np.log(0.5 / 0.1)
    )
    assert np.isfinite(psi(np.array([100, 0]), np.array([0, 100])))


def test_compare_handles_all_missing_and_constant_columns(make_frame):
    from defectops.core.config import load_settings as settings_of
    from defectops.data.schema_inference import infer_schema

    frame = make_frame(400)
    frame["Torque [Nm]"] = np.nan
    settings = settings_of(environ={})
    schema = infer_schema(frame, settings)
    profile = build_profile(frame, schema, np.linspace(0, 1, 400), 100)
    report = compare(profile, {}, frame, schema, np.linspace(0, 1, 400), settings.monitor)
    assert report["status"] == "ok"


def test_monitor_needs_a_champion_with_a_profile(tmp_path):
    settings = load_settings(flags={"artifacts": tmp_path}, environ={})
    data = tmp_path / "b.csv"
    pd.DataFrame({"a": [1]}).to_csv(data, index=False)
    with pytest.raises(UserError, match="no champion"):
        monitor_batch(settings, Path(data))


def test_a_batch_without_its_timestamp_column_is_monitored_in_file_order(line):
    rows = line["frame"].iloc[20_000:21_000].drop(columns=["timestamp"])
    path = line["root"] / "no_clock.csv"
    rows.to_csv(path, index=False)
    report, _ = monitor_batch(line["settings"], path)
    assert report["rows"] == BATCH and report["status"] == "ok"
