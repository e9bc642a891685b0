"""The plant behind one seed, drawn before any row: machines, operators, supplier batches.

Also where the rows meet it: which batch a part comes from and how worn its machine is. The
streams of random numbers, one per concern, are spawned here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from defectops.data import simulated_line as line
from defectops.data.simulated_line import FloatArray, IntArray

_STREAMS = ("plant", "batches", "timing", "assignment", "process", "labels", "missing")


@dataclass(frozen=True)
class _Plant:
    """The fixed, hidden structure behind one seed: who is bad and how machines wear.

    Kept separate from the per-row draws so the tests can check the mechanisms against the known
    answer instead of re-discovering it from the data.
    """

    machine_line: IntArray  # production line id per machine index
    machine_category: IntArray  # index into line.MACHINE_CATEGORIES per machine index
    machine_is_bad: npt.NDArray[np.bool_]
    maintenance_every: IntArray  # parts between maintenances, per machine index
    maintenance_phase: IntArray  # parts already made since maintenance at row 0
    operator_effect: FloatArray  # per operator index (shift * 20 + seat)
    batch_rows: IntArray  # parts per ordinary batch, in consumption order
    batch_country: IntArray  # index into line.COUNTRIES
    batch_quality: FloatArray  # mean SupplierQuality of the batch
    batch_is_bad: npt.NDArray[np.bool_]

    @property
    def bad_machine_ids(self) -> IntArray:
        return line.MACHINE_ID_START + np.flatnonzero(self.machine_is_bad)

    @property
    def bad_batch_ids(self) -> IntArray:
        """Ids of the bad ordinary batches when there is no drift (drift shifts later ids by 1)."""
        return line.BATCH_ID_START + np.flatnonzero(self.batch_is_bad)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One child generator per concern, all spawned from ``default_rng(seed)``.

    Separate streams keep concerns independent: e.g. switching on missing values or drift does not
    reshuffle the process values of the rows that they do not touch.
    """
    children = np.random.default_rng(seed).spawn(len(_STREAMS))
    return dict(zip(_STREAMS, children, strict=True))


def _draw_plant(rows: int, streams: dict[str, np.random.Generator]) -> _Plant:
    """Draw the plant: machines, operators and enough supplier batches for ``rows`` parts."""
    rng = streams["plant"]
    per_line = line.N_MACHINES // line.N_LINES
    machine_line = (np.arange(line.N_MACHINES) // per_line + 1).astype(np.int64)
    categories = np.resize(np.arange(len(line.MACHINE_CATEGORIES)), line.N_MACHINES)
    machine_category = rng.permutation(categories).astype(np.int64)
    machine_is_bad = np.zeros(line.N_MACHINES, dtype=bool)
    machine_is_bad[rng.choice(line.N_MACHINES, size=line.N_BAD_MACHINES, replace=False)] = True
    every = rng.integers(
        line.MAINTENANCE_EVERY[0], line.MAINTENANCE_EVERY[1] + 1, size=line.N_MACHINES
    )
    phase = rng.integers(0, every)
    operator_effect = rng.normal(
        0.0, line.OPERATOR_SD, size=len(line.SHIFTS) * line.OPERATORS_PER_SHIFT
    )

    # Enough batches for the longest stream that drift can ask for: all rows plus one cut batch.
    brng = streams["batches"]
    n_batches = math.ceil((rows + line.BATCH_ROWS[1]) / line.BATCH_ROWS[0]) + 1
    batch_rows = brng.integers(line.BATCH_ROWS[0], line.BATCH_ROWS[1] + 1, size=n_batches)
    batch_country = brng.choice(len(line.COUNTRIES), size=n_batches, p=line.COUNTRY_P)
    batch_quality = brng.uniform(*line.BATCH_QUALITY, size=n_batches)
    batch_is_bad = brng.random(n_batches) < line.BAD_BATCH_SHARE
    return _Plant(
        machine_line=machine_line,
        machine_category=machine_category,
        machine_is_bad=machine_is_bad,
        maintenance_every=every.astype(np.int64),
        maintenance_phase=phase.astype(np.int64),
        operator_effect=operator_effect,
        batch_rows=batch_rows.astype(np.int64),
        batch_country=batch_country.astype(np.int64),
        batch_quality=batch_quality,
        batch_is_bad=batch_is_bad,
    )


def assign_batches(
    rows: int, batch_rows: IntArray, window: tuple[int, int] | None
) -> tuple[IntArray, IntArray]:
    """Batch id per row and the ordinary-batch index per row (-1 on drift-batch rows).

    Batches are used up in order. Under drift the batch in use at ``drift_at`` is cut, the drift
    batch takes the next id, and the ordinary batches after it continue with ids shifted by one,
    so ids never decrease.
    """
    ends = np.cumsum(batch_rows)
    position = np.arange(rows, dtype=np.int64)
    if window is None:
        index = np.searchsorted(ends, position, side="right").astype(np.int64)
        return line.BATCH_ID_START + index, index
    first, end = window
    cut = int(np.searchsorted(ends, first - 1, side="right")) if first > 0 else -1
    resume_at = int(ends[cut]) if cut >= 0 else 0
    stream_position = np.where(position >= end, resume_at + position - end, position)
    index = np.searchsorted(ends, stream_position, side="right").astype(np.int64)
    in_drift = (position >= first) & (position < end)
    index[in_drift] = -1
    batch_id = np.where(
        position < first, line.BATCH_ID_START + index, line.BATCH_ID_START + index + 1
    )
    batch_id[in_drift] = line.BATCH_ID_START + cut + 1
    return batch_id.astype(np.int64), index


def _cumcount(groups: IntArray, n_groups: int) -> IntArray:
    """Per row, how many earlier rows share its group (pandas ``groupby.cumcount``, in numpy)."""
    order = np.argsort(groups, kind="stable")
    starts = np.concatenate(([0], np.cumsum(np.bincount(groups, minlength=n_groups))[:-1]))
    counts = np.empty(len(groups), dtype=np.int64)
    counts[order] = np.arange(len(groups)) - starts[groups[order]]
    return counts


def machine_wear(machine: IntArray, plant: _Plant) -> FloatArray:
    """Fraction of each machine's maintenance cycle used up when the row's part was made."""
    made = _cumcount(machine, line.N_MACHINES) + plant.maintenance_phase[machine]
    every = plant.maintenance_every[machine]
    return (made % every) / every
