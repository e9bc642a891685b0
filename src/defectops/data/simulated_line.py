"""The simulated line's fixed numbers: its columns, its plant, its effect sizes and its drift.

What each number means is told in :mod:`defectops.data.simulate`, whose module docstring walks
through the plant and the defect mechanisms; the numbers live here so the plant, the draw and the
files written all read the same ones.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "ProductionVolume": (100.0, 999.0),
    "ProductionCost": (5000.0, 20000.0),
    "SupplierQuality": (80.0, 100.0),
    "DeliveryDelay": (0.0, 5.0),
    "DefectRate": (0.5, 5.0),
    "QualityScore": (60.0, 100.0),
    "MaintenanceHours": (0.0, 23.0),
    "DowntimePercentage": (0.0, 5.0),
    "InventoryTurnover": (2.0, 10.0),
    "StockoutRate": (0.0, 0.1),
    "WorkerProductivity": (80.0, 100.0),
    "SafetyIncidents": (0.0, 9.0),
    "EnergyConsumption": (1000.0, 5000.0),
    "EnergyEfficiency": (0.1, 0.5),
    "AdditiveProcessTime": (1.0, 10.0),
    "AdditiveMaterialCost": (100.0, 500.0),
}
ID_COLUMNS: tuple[str, ...] = (
    "machine_id",
    "operator_id",
    "supplier_batch_id",
    "production_line_id",
)
CONTEXT_COLUMNS: tuple[str, ...] = (
    "shift",
    "material",
    "energy_source",
    "incoming_inspection",
    "supplier_country",
    "machine_category",
)
TARGET = "DefectStatus"
TIMESTAMP = "timestamp"
TRUE_PROBABILITY = "true_defect_probability"

# Counts in the plant; integers drawn on these ranges are reported as int64 columns.
INTEGER_COLUMNS = ("ProductionVolume", "DeliveryDelay", "MaintenanceHours", "SafetyIncidents")

# --- plant layout -------------------------------------------------------------------------------
N_MACHINES = 40
MACHINE_ID_START = 101
N_LINES = 4
MACHINE_CATEGORIES = ("cnc", "press", "printer3d", "assembly")
SHIFTS = ("A", "B", "C")
OPERATORS_PER_SHIFT = 20
OPERATOR_ID_START = 1001
BATCH_ID_START = 5001
BATCH_ROWS = (250, 400)  # inclusive range of parts per supplier batch
COUNTRIES = ("DE", "CN", "IN", "MX", "VN")
COUNTRY_P = (0.30, 0.25, 0.20, 0.15, 0.10)
BATCH_QUALITY = (83.0, 97.0)  # range of a batch's mean SupplierQuality
MATERIALS = ("steel", "aluminium", "titanium", "polymer")
MATERIAL_P = (0.40, 0.30, 0.15, 0.15)
ENERGY_SOURCES = ("grid", "solar", "gas")
ENERGY_P = (0.60, 0.25, 0.15)
INSPECTIONS = ("pass", "marginal", "fail")
# (P(pass), P(marginal)) for an ordinary batch, a bad batch and the drift batch.
INSPECTION_P = {"ordinary": (0.90, 0.08), "bad": (0.65, 0.25), "drift": (0.45, 0.35)}
PART_GAP_SECONDS = (20, 40)
MAINTENANCE_EVERY = (150, 400)  # parts between two maintenances of one machine

# --- effect sizes (logit units) -----------------------------------------------------------------
N_BAD_MACHINES = 4
BAD_MACHINE = 1.5
BAD_BATCH_SHARE = 0.10
BAD_BATCH = 1.2
OPERATOR_SD = 0.2
NIGHT_SHIFT = 0.3
CATEGORY_EFFECT = {"cnc": 0.0, "press": 0.0, "printer3d": 0.2, "assembly": 0.0}
MATERIAL_EFFECT = {"steel": 0.0, "aluminium": 0.0, "titanium": 0.2, "polymer": 0.1}
MATERIAL_TIME_SLOPE = {"steel": 0.0, "aluminium": 0.06, "titanium": 0.3, "polymer": -0.25}
INSPECTION_EFFECT = {"pass": 0.0, "marginal": 0.3, "fail": 0.8}
QUALITY_THRESHOLD, QUALITY_WIDTH, QUALITY_EFFECT = 70.0, 1.2, 2.8
EFFICIENCY_EFFECT = 2.0
SUPPLIER_KNEE, SUPPLIER_SLOPE = 86.0, 0.5
DOWNTIME_MAINTENANCE = 2.5
VOLUME_EFFECT = 0.5
HISTORY_SLOPE = 0.2
WEAR_EFFECT = 3.0
WEAR_DOWNTIME = 1.5

# --- drift --------------------------------------------------------------------------------------
DRIFT_BATCH_ROWS = 2_000
DRIFT_BATCH = 2.5
DRIFT_BATCH_QUALITY = 82.0
DRIFT_COUNTRY = "XX"
ENERGY_OFFSET = 800.0
SUPPLIER_DROP = 5.0
