"""Known-answer tests for the production-line simulator.

The simulator hides its plant (which machines and batches are bad, when machines are maintained)
behind one seed; the tests read that hidden answer via the private ``_draw_plant`` and check that
the data really shows each documented mechanism, at sizes that noise alone could not produce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from defectops.data import simulated_plant as sim
from defectops.data.simulate import SimulationSpec, simulate, write_simulation
from defectops.data.simulated_line import (
    CONTEXT_COLUMNS,
    ID_COLUMNS,
    NUMERIC_RANGES,
    TARGET,
    TIMESTAMP,
    TRUE_PROBABILITY,
)

ROWS = 20_000
INTEGER_COLUMNS = ("ProductionVolume", "DeliveryDelay", "MaintenanceHours", "SafetyIncidents")
# Stated independently of the module: these must carry no signal at all.
NOISE_COLUMNS = (
    "ProductionCost",
    "DeliveryDelay",
    "InventoryTurnover",
    "StockoutRate",
    "WorkerProductivity",
    "SafetyIncidents",
    "EnergyConsumption",
    "AdditiveMaterialCost",
)
MONOTONE_SIGNAL = {  # column -> sign of its rank correlation with the true risk
    "ProductionVolume": +1,
    "SupplierQuality": -1,
    "DefectRate": +1,
    "QualityScore": -1,
    "MaintenanceHours": -1,
    "DowntimePercentage": +1,
}


@pytest.fixture(scope="module")
def stationary() -> tuple[pd.DataFrame, pd.Series]:
    return simulate(SimulationSpec(rows=ROWS))


@pytest.fixture(scope="module")
def plant() -> sim._Plant:
    return sim._draw_plant(ROWS, sim._streams(SimulationSpec().seed))


def _rate_ratio(labels: pd.Series, mask: pd.Series | np.ndarray) -> float:
    return float(labels[mask].mean() / labels[~mask].mean())


# --- determinism --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_same_spec_writes_identical_bytes(tmp_path: Path, suffix: str) -> None:
    spec = SimulationSpec(rows=3_000, drift_at=2_000, missing_rate=0.05)
    first = write_simulation(spec, tmp_path / "a" / f"plant{suffix}")
    second = write_simulation(spec, tmp_path / "b" / f"plant{suffix}")
    other = write_simulation(
        SimulationSpec(rows=3_000, drift_at=2_000, missing_rate=0.05, seed=7),
        tmp_path / "c" / f"plant{suffix}",
    )
    assert [p.name for p in first] == [f"plant{suffix}", f"plant.truth{suffix}"]
    for one, two, three in zip(first, second, other, strict=True):
        assert one.read_bytes() == two.read_bytes()
        assert one.read_bytes() != three.read_bytes()


def test_same_spec_gives_identical_frames_and_seed_matters() -> None:
    spec = SimulationSpec(rows=5_000, missing_rate=0.1)
    frame_a, truth_a = simulate(spec)
    frame_b, truth_b = simulate(spec)
    pd.testing.assert_frame_equal(frame_a, frame_b)
    pd.testing.assert_series_equal(truth_a, truth_b)
    frame_c, truth_c = simulate(SimulationSpec(rows=5_000, missing_rate=0.1, seed=43))
    assert not np.allclose(truth_a.to_numpy(), truth_c.to_numpy())
    assert not frame_a["QualityScore"].equals(frame_c["QualityScore"])


# --- schema -------------------------------------------------------------------------------------


def test_schema_columns_dtypes_and_ranges(stationary: tuple[pd.DataFrame, pd.Series]) -> None:
    frame, truth = stationary
    expected = [TIMESTAMP, *ID_COLUMNS, *CONTEXT_COLUMNS, *NUMERIC_RANGES, TARGET]
    assert list(frame.columns) == expected
    assert len(NUMERIC_RANGES) == 16
    assert len(frame) == ROWS
    assert frame.index.equals(pd.RangeIndex(ROWS))
    assert truth.name == TRUE_PROBABILITY
    assert truth.index.equals(frame.index)
    assert truth.dtype == np.float64

    assert pd.api.types.is_datetime64_any_dtype(frame[TIMESTAMP])
    for name in (*ID_COLUMNS, TARGET):
        assert frame[name].dtype == np.int64, name
    for name in CONTEXT_COLUMNS:
        assert pd.api.types.is_string_dtype(frame[name]), name
    for name, (low, high) in NUMERIC_RANGES.items():
        column = frame[name]
        assert column.dtype == (np.int64 if name in INTEGER_COLUMNS else np.float64), name
        assert column.notna().all(), name
        assert low <= column.min() and column.max() <= high, name
    assert set(frame[TARGET].unique()) == {0, 1}
    assert not frame.isna().any().any()


def test_timestamps_shifts_and_plant_structure(
    stationary: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, _ = stationary
    times = frame[TIMESTAMP]
    assert times.iloc[0] == pd.Timestamp("2026-01-05 06:00:00")
    gaps = times.diff().dt.total_seconds().iloc[1:]
    assert gaps.between(20, 40).all()  # strictly increasing, one part every 20-40 s

    hour = times.dt.hour
    expected_shift = np.where((hour >= 6) & (hour < 14), "A", np.where(hour >= 22, "C", "B"))
    expected_shift = np.where(hour < 6, "C", expected_shift)
    assert (frame["shift"].to_numpy() == expected_shift).all()
    assert set(frame["shift"]) == {"A", "B", "C"}

    # Derived attributes are functions of their owner.
    for owner, attribute in [
        ("machine_id", "production_line_id"),
        ("machine_id", "machine_category"),
        ("supplier_batch_id", "supplier_country"),
        ("operator_id", "shift"),
    ]:
        assert (frame.groupby(owner)[attribute].nunique() == 1).all(), (owner, attribute)
    assert frame["machine_id"].nunique() == 40
    assert frame["machine_id"].between(101, 140).all()
    assert frame["production_line_id"].nunique() == 4
    assert set(frame["machine_category"]) == {"cnc", "press", "printer3d", "assembly"}
    assert frame["operator_id"].nunique() == 60

    # Batches are consumed in time order, 250-400 parts each (the last one may be cut short).
    batches = frame["supplier_batch_id"]
    assert batches.iloc[0] == 5001
    assert batches.is_monotonic_increasing
    assert set(batches.diff().iloc[1:].unique()) == {0, 1}
    sizes = batches.value_counts().sort_index().iloc[:-1]
    assert sizes.between(250, 400).all()
    assert frame["supplier_country"].nunique() == 5
    assert (frame["incoming_inspection"] == "pass").mean() > 0.8
    assert set(frame["incoming_inspection"]) == {"pass", "marginal", "fail"}


# --- calibration --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.2, 0.05])
def test_mean_true_probability_matches_defect_rate(rate: float) -> None:
    frame, truth = simulate(SimulationSpec(rows=ROWS, defect_rate=rate, seed=11))
    assert abs(truth.mean() - rate) < 0.005
    assert abs(truth.mean() - rate) <= 1e-4  # the documented bisection tolerance
    # The labels are Bernoulli draws from the truth: their mean scatters binomially around it.
    standard_error = np.sqrt((truth * (1 - truth)).sum()) / len(truth)
    assert abs(frame[TARGET].mean() - truth.mean()) < 4 * standard_error


# --- mechanisms ---------------------------------------------------------------------------------


def test_bad_machines_and_batches_defect_more(
    stationary: tuple[pd.DataFrame, pd.Series], plant: sim._Plant
) -> None:
    frame, _ = stationary
    labels = frame[TARGET]
    assert len(plant.bad_machine_ids) == 4
    bad_machine = frame["machine_id"].isin(plant.bad_machine_ids)
    assert 0.05 < bad_machine.mean() < 0.15
    assert _rate_ratio(labels, bad_machine) > 1.5

    bad_batch = frame["supplier_batch_id"].isin(plant.bad_batch_ids)
    assert 0.03 < bad_batch.mean() < 0.2
    assert _rate_ratio(labels, bad_batch) > 1.5


def test_defect_rate_rises_with_tool_wear(
    stationary: tuple[pd.DataFrame, pd.Series], plant: sim._Plant
) -> None:
    frame, _ = stationary
    machine = frame["machine_id"].to_numpy() - 101
    made = frame.groupby("machine_id").cumcount().to_numpy() + plant.maintenance_phase[machine]
    every = plant.maintenance_every[machine]
    wear = (made % every) / every
    labels = frame[TARGET]
    early = labels[wear < 1 / 3].mean()
    late = labels[wear >= 2 / 3].mean()
    assert late > 1.8 * early


def test_noise_columns_carry_no_signal_and_signal_columns_do(
    stationary: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, truth = stationary
    for name in NOISE_COLUMNS:
        rho = truth.corr(frame[name], method="spearman")
        assert abs(rho) < 0.03, (name, rho)  # ~4 standard errors at 20k rows
    for name, sign in MONOTONE_SIGNAL.items():
        rho = truth.corr(frame[name], method="spearman")
        assert sign * rho > 0.08, (name, rho)

    # U-shape: both ends of EnergyEfficiency are worse than the middle, not just one end.
    efficiency = frame["EnergyEfficiency"]
    middle = truth[efficiency.between(0.25, 0.35)].mean()
    assert truth[efficiency < 0.15].mean() > middle + 0.05
    assert truth[efficiency > 0.45].mean() > middle + 0.05

    # Interaction: long additive process time hurts titanium and helps polymer.
    for material, sign in [("titanium", +1), ("polymer", -1)]:
        rows = frame["material"] == material
        rho = truth[rows].corr(frame.loc[rows, "AdditiveProcessTime"], method="spearman")
        assert sign * rho > 0.1, (material, rho)


# --- drift --------------------------------------------------------------------------------------


def test_drift_shifts_sensor_supplier_and_adds_unseen_country(
    stationary: tuple[pd.DataFrame, pd.Series],
) -> None:
    drift_at = 12_000
    frame, truth = simulate(SimulationSpec(rows=ROWS, drift_at=drift_at))
    before, after = frame.iloc[:drift_at], frame.iloc[drift_at:]

    energy_shift = after["EnergyConsumption"].mean() - before["EnergyConsumption"].mean()
    assert 740 < energy_shift < 860
    assert after["EnergyConsumption"].max() > NUMERIC_RANGES["EnergyConsumption"][1]
    supplier_shift = after["SupplierQuality"].mean() - before["SupplierQuality"].mean()
    assert supplier_shift < -3

    new_country = set(after["supplier_country"]) - set(before["supplier_country"])
    assert new_country == {"XX"}
    assert frame["supplier_batch_id"].is_monotonic_increasing
    assert frame.loc[frame["supplier_country"] == "XX", "supplier_batch_id"].nunique() == 1

    # Calibrated on the stationary part only; the drift really raises the risk afterwards.
    assert abs(truth.iloc[:drift_at].mean() - 0.2) < 0.005
    assert truth.iloc[drift_at:].mean() > 0.3

    # The rows before the drift have the same inputs as the stationary run.
    base, _ = stationary
    inputs = [c for c in frame.columns if c != TARGET]
    pd.testing.assert_frame_equal(before[inputs], base.iloc[:drift_at][inputs])


def test_no_drift_means_no_unseen_country_and_no_offset(
    stationary: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, _ = stationary
    assert "XX" not in set(frame["supplier_country"])
    half = ROWS // 2
    energy = frame["EnergyConsumption"]
    assert abs(energy.iloc[half:].mean() - energy.iloc[:half].mean()) < 60
    assert energy.max() <= NUMERIC_RANGES["EnergyConsumption"][1]
    # A drift point past the end is the same as no drift.
    late, _ = simulate(SimulationSpec(rows=ROWS, drift_at=ROWS))
    pd.testing.assert_frame_equal(late, frame)


def test_drift_from_the_first_row() -> None:
    frame, truth = simulate(SimulationSpec(rows=3_000, drift_at=0))
    assert (frame["supplier_country"].iloc[:2_000] == "XX").all()
    assert "XX" not in set(frame["supplier_country"].iloc[2_000:])
    assert frame["supplier_batch_id"].iloc[0] == 5001
    assert frame["supplier_batch_id"].is_monotonic_increasing
    assert frame["EnergyConsumption"].min() >= 1800
    # Calibrated on the same rows without drift, so the drift shows as a higher rate, not as 0.2.
    assert truth.iloc[:2_000].mean() > 0.6
    assert truth.mean() > 0.4


# --- missing values -----------------------------------------------------------------------------


def test_missing_rate_blanks_only_numeric_cells_at_random(
    stationary: tuple[pd.DataFrame, pd.Series],
) -> None:
    rate = 0.1
    frame, truth = simulate(SimulationSpec(rows=ROWS, missing_rate=rate))
    numeric = frame[list(NUMERIC_RANGES)]
    blank = numeric.isna()
    assert abs(blank.to_numpy().mean() - rate) < 0.003  # ~6 standard errors over 320k cells
    assert ((blank.mean() - rate).abs() < 0.015).all()
    others = [TIMESTAMP, *ID_COLUMNS, *CONTEXT_COLUMNS, TARGET]
    assert frame[others].notna().all().all()
    for name in INTEGER_COLUMNS:
        assert frame[name].dtype == np.float64
        present = frame[name].dropna()
        assert (present == present.round()).all()
    # Missingness hides values but changes nothing else: same values, same truth.
    base, base_truth = stationary
    pd.testing.assert_series_equal(truth, base_truth)
    kept = numeric.where(~blank)
    expected = base[list(NUMERIC_RANGES)].astype(np.float64).where(~blank)
    pd.testing.assert_frame_equal(kept, expected)


# --- files --------------------------------------------------------------------------------------


def test_truth_file_aligns_with_rows_and_ranks_labels(tmp_path: Path) -> None:
    spec = SimulationSpec(rows=ROWS, seed=5)
    data_path, truth_path = write_simulation(spec, tmp_path / "plant.csv")
    assert truth_path == tmp_path / "plant.truth.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plant.csv", "plant.truth.csv"]

    data = pd.read_csv(data_path)
    written_truth = pd.read_csv(truth_path)
    frame, truth = simulate(spec)
    assert list(data.columns) == list(frame.columns)
    assert data[TIMESTAMP].iloc[0] == "2026-01-05 06:00:00"
    assert list(written_truth.columns) == ["row", TRUE_PROBABILITY]
    assert (written_truth["row"].to_numpy() == np.arange(ROWS)).all()
    probability = written_truth[TRUE_PROBABILITY]
    assert ((probability > 0) & (probability < 1)).all()
    np.testing.assert_allclose(probability.to_numpy(), truth.to_numpy(), rtol=1e-7)
    assert (data[TARGET].to_numpy() == frame[TARGET].to_numpy()).all()
    np.testing.assert_allclose(
        data["ProductionCost"].to_numpy(), frame["ProductionCost"].to_numpy(), rtol=1e-5
    )
    # The truth is informative but far from perfect: Bernoulli noise caps any model.
    auc = roc_auc_score(data[TARGET], probability)
    assert 0.85 < auc < 0.93


def test_parquet_round_trip_keeps_dtypes(tmp_path: Path) -> None:
    spec = SimulationSpec(rows=2_000)
    data_path, truth_path = write_simulation(spec, tmp_path / "plant.parquet")
    frame, truth = simulate(spec)
    pd.testing.assert_frame_equal(pd.read_parquet(data_path), frame, check_dtype=False)
    written = pd.read_parquet(truth_path)
    assert written["row"].dtype == np.int64
    np.testing.assert_array_equal(written[TRUE_PROBABILITY].to_numpy(), truth.to_numpy())


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rows", 0),
        ("rows", -5),
        ("defect_rate", 0.0),
        ("defect_rate", 1.0),
        ("defect_rate", float("nan")),
        ("missing_rate", 1.0),
        ("missing_rate", -0.1),
        ("drift_at", -1),
        ("seed", -1),
        ("start", "not a time"),
    ],
)
def test_bad_spec_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        SimulationSpec(**{field: value})  # type: ignore[arg-type]


def test_unknown_suffix_is_rejected_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.json.*\.csv.*\.parquet"):
        write_simulation(SimulationSpec(rows=10), tmp_path / "plant.json")
    assert list(tmp_path.iterdir()) == []
