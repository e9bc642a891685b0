"""The simulated rows in production order: who made each part, when, from what, and its risk.

Everything is vectorised, and every concern draws from its own stream in a fixed order, so a
drift or blank cells switched on later never reshuffle the inputs of the rows they do not touch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from defectops.data import simulated_line as line
from defectops.data.simulated_line import FloatArray, IntArray
from defectops.data.simulated_plant import _draw_plant, _Plant, assign_batches, machine_wear


@dataclass(frozen=True)
class Draw:
    """Everything about the simulated rows except the label: inputs, drift flags and the risk."""

    plant: _Plant
    times: npt.NDArray[np.datetime64]
    shift: IntArray
    machine: IntArray  # machine index 0..39
    operator: IntArray  # operator index 0..59
    material: IntArray
    energy_source: IntArray
    inspection: IntArray
    batch_id: IntArray
    country: IntArray  # index into COUNTRIES, or len(COUNTRIES) for the drift country
    values: dict[str, FloatArray]  # true process values (no sensor offset, no blanks)
    drifted: npt.NDArray[np.bool_]  # rows at or after drift_at
    score: FloatArray  # the logit without its intercept


def draw_rows(
    rows: int,
    start: str,
    window: tuple[int, int] | None,
    streams: dict[str, np.random.Generator],
) -> Draw:
    """Draw the rows' inputs in production order and score their risk (all vectorised).

    ``window`` is ``(first, end)``: the first drifted row and the end of the drift batch (None:
    no drift).
    """
    n = rows
    plant = _draw_plant(n, streams)
    position = np.arange(n, dtype=np.int64)
    first, end = window if window is not None else (n, n)
    drifted = position >= first  # the sensor offset and the supplier-quality drop
    in_drift_batch = drifted & (position < end)

    # --- who made the part, when, from what -----------------------------------------------------
    times = _timestamps(n, start, streams["timing"])
    shift = _shift_of(times)
    arng = streams["assignment"]
    machine = arng.integers(0, line.N_MACHINES, size=n)
    operator = shift * line.OPERATORS_PER_SHIFT + arng.integers(0, line.OPERATORS_PER_SHIFT, size=n)
    material = _choose(arng, line.MATERIAL_P, n)
    energy_source = _choose(arng, line.ENERGY_P, n)
    inspection_draw = arng.random(n)
    batch_id, batch_bad, country, batch_quality, inspection = _supply(
        n, plant, window, in_drift_batch, inspection_draw
    )
    wear = machine_wear(machine, plant)
    values = _process_values(streams["process"], n, batch_quality, drifted, wear)

    # --- the true risk: the process effects, then who, what and when ----------------------------
    score = (
        _process_risk(values, material)
        + line.BAD_MACHINE * plant.machine_is_bad[machine]
        + line.BAD_BATCH * batch_bad
        + line.DRIFT_BATCH * in_drift_batch
        + plant.operator_effect[operator]
        + line.NIGHT_SHIFT * (shift == 2)
        + _lookup(line.CATEGORY_EFFECT, line.MACHINE_CATEGORIES)[plant.machine_category[machine]]
        + _lookup(line.INSPECTION_EFFECT, line.INSPECTIONS)[inspection]
        + line.WEAR_EFFECT * wear**2
    )
    return Draw(
        plant=plant,
        times=times,
        shift=shift,
        machine=machine,
        operator=operator,
        material=material,
        energy_source=energy_source,
        inspection=inspection,
        batch_id=batch_id,
        country=country,
        values=values,
        drifted=drifted,
        score=score,
    )


def _supply(
    n: int,
    plant: _Plant,
    window: tuple[int, int] | None,
    in_drift_batch: npt.NDArray[np.bool_],
    inspection_draw: FloatArray,
) -> tuple[IntArray, npt.NDArray[np.bool_], IntArray, FloatArray, IntArray]:
    """Per row its supplier batch: id, whether it is bad, country, mean quality and inspection.

    The inspection result follows from the row's uniform draw and its batch's kind (ordinary,
    bad or the drift batch), so a bad batch's parts fail incoming inspection more often.
    """
    batch_id, batch_index = assign_batches(n, plant.batch_rows, window)
    safe_index = np.maximum(batch_index, 0)  # drift-batch rows are overwritten below
    batch_bad = plant.batch_is_bad[safe_index] & ~in_drift_batch
    country = np.where(in_drift_batch, len(line.COUNTRIES), plant.batch_country[safe_index])
    batch_quality = np.where(
        in_drift_batch, line.DRIFT_BATCH_QUALITY, plant.batch_quality[safe_index]
    )

    p_pass = np.full(n, line.INSPECTION_P["ordinary"][0])
    p_marginal = np.full(n, line.INSPECTION_P["ordinary"][1])
    for kind, rows_of_kind in (("bad", batch_bad), ("drift", in_drift_batch)):
        p_pass[rows_of_kind], p_marginal[rows_of_kind] = line.INSPECTION_P[kind]
    inspection = (inspection_draw >= p_pass).astype(np.int64) + (
        inspection_draw >= p_pass + p_marginal
    )
    return batch_id, batch_bad, country, batch_quality, inspection


def _process_values(
    prng: np.random.Generator,
    n: int,
    batch_quality: FloatArray,
    drifted: npt.NDArray[np.bool_],
    wear: FloatArray,
) -> dict[str, FloatArray]:
    """The 16 true process values, in ``NUMERIC_RANGES`` order.

    Always drawn in the same order, so drift only edits them afterwards: the supplier-quality
    drop of the drifted rows, the wear showing through the downtime.
    """
    lo = {name: bounds[0] for name, bounds in line.NUMERIC_RANGES.items()}
    hi = {name: bounds[1] for name, bounds in line.NUMERIC_RANGES.items()}

    def integers(name: str) -> FloatArray:
        return prng.integers(int(lo[name]), int(hi[name]) + 1, size=n).astype(np.float64)

    def uniform(name: str) -> FloatArray:
        return prng.uniform(lo[name], hi[name], size=n)

    v: dict[str, FloatArray] = {}
    v["ProductionVolume"] = integers("ProductionVolume")
    v["ProductionCost"] = uniform("ProductionCost")
    supplier_noise = prng.normal(0.0, 2.5, size=n)
    v["DeliveryDelay"] = integers("DeliveryDelay")
    v["DefectRate"] = uniform("DefectRate")
    v["QualityScore"] = uniform("QualityScore")
    v["MaintenanceHours"] = integers("MaintenanceHours")
    downtime_base = prng.gamma(2.0, 0.5, size=n)
    v["InventoryTurnover"] = uniform("InventoryTurnover")
    v["StockoutRate"] = uniform("StockoutRate")
    v["WorkerProductivity"] = uniform("WorkerProductivity")
    v["SafetyIncidents"] = integers("SafetyIncidents")
    v["EnergyConsumption"] = uniform("EnergyConsumption")
    v["EnergyEfficiency"] = uniform("EnergyEfficiency")
    v["AdditiveProcessTime"] = uniform("AdditiveProcessTime")
    v["AdditiveMaterialCost"] = uniform("AdditiveMaterialCost")

    supplier = batch_quality + supplier_noise - np.where(drifted, line.SUPPLIER_DROP, 0.0)
    v["SupplierQuality"] = np.clip(supplier, lo["SupplierQuality"], hi["SupplierQuality"])
    v["DowntimePercentage"] = np.clip(
        downtime_base + line.WEAR_DOWNTIME * wear,
        lo["DowntimePercentage"],
        hi["DowntimePercentage"],
    )
    return {name: v[name] for name in line.NUMERIC_RANGES}


def _process_risk(v: dict[str, FloatArray], material: IntArray) -> FloatArray:
    """The process effects on the logit (the first mechanism), summed in a fixed order."""
    return (
        line.QUALITY_EFFECT
        * sigmoid((line.QUALITY_THRESHOLD - v["QualityScore"]) / line.QUALITY_WIDTH)
        + line.EFFICIENCY_EFFECT * ((v["EnergyEfficiency"] - 0.3) / 0.2) ** 2
        + line.SUPPLIER_SLOPE * np.maximum(line.SUPPLIER_KNEE - v["SupplierQuality"], 0.0)
        + line.DOWNTIME_MAINTENANCE
        * (v["DowntimePercentage"] / 5.0)
        * (1.0 - v["MaintenanceHours"] / 23.0)
        + _lookup(line.MATERIAL_TIME_SLOPE, line.MATERIALS)[material]
        * (v["AdditiveProcessTime"] - 5.5)
        + _lookup(line.MATERIAL_EFFECT, line.MATERIALS)[material]
        + line.VOLUME_EFFECT * (v["ProductionVolume"] - 550.0) / 450.0
        + line.HISTORY_SLOPE * (v["DefectRate"] - 2.75)
    )


def sigmoid(x: FloatArray) -> FloatArray:
    """Overflow-free logistic function."""
    return np.exp(-np.logaddexp(0.0, -x))


def _timestamps(rows: int, start: str, rng: np.random.Generator) -> npt.NDArray[np.datetime64]:
    """Strictly increasing part completion times, one part every 20-40 whole seconds."""
    gaps = rng.integers(line.PART_GAP_SECONDS[0], line.PART_GAP_SECONDS[1] + 1, size=rows)
    gaps[0] = 0
    first = pd.Timestamp(start).floor("s").to_datetime64().astype("datetime64[s]")
    return first + np.cumsum(gaps).astype("timedelta64[s]")


def _shift_of(times: npt.NDArray[np.datetime64]) -> IntArray:
    """Shift index from the hour: 06-14 A (0), 14-22 B (1), 22-06 C (2)."""
    hour = (times - times.astype("datetime64[D]")).astype("timedelta64[h]").astype(np.int64)
    return np.where((hour >= 6) & (hour < 14), 0, np.where((hour >= 14) & (hour < 22), 1, 2))


def _choose(rng: np.random.Generator, p: tuple[float, ...], size: int) -> IntArray:
    return rng.choice(len(p), size=size, p=np.asarray(p)).astype(np.int64)


def _lookup(table: dict[str, float], values: tuple[str, ...]) -> FloatArray:
    return np.array([table[value] for value in values], dtype=np.float64)
