"""How often does the drift monitor cry wolf, and how often does it miss? Per batch size.

    .venv/bin/python bench/drift_alarms.py                  # every data set, 5 simulator seeds
    .venv/bin/python bench/drift_alarms.py --seeds 2 --only sim

For each data set a champion is made as ``defectops run`` makes one (the default model fitted on
the first 80% of the training rows and profiled by ``build_profile`` with its scores on them and
the default 1,000-row chunks), then batches cut *in production order* from the rows after the
training rows are compared with its profile by the monitor's own ``compare`` (the verdict that
``defectops monitor`` prints and ``--fail-on`` acts on):

* simulator (``simulate --rows 40000 --drift-at 25000``, seeds 1..N): training rows 0-10,000;
  stationary batches from rows 10,000-25,000 (before the drift), drifted batches from rows
  25,000-40,000 (after it);
* AI4I 2020 (ordered by ``UDI``): training rows 0-5,000, stationary batches from rows 5,000-
  10,000; drifted batches are the same batches with ``Torque [Nm]`` moved up by one standard
  deviation of its training values;
* SECOM (in time order): training rows 0-940, stationary batches from the 627 rows after; the
  drifted ones with its first fully populated, non-constant column moved by one standard
  deviation.

Batch sizes 200, 500, 1,000 and 5,000 (a size is left out where the rows after training hold no
such batch). The table gives, per data set and size: the number of batches and the shares
flagged ``DRIFT`` and ``WARN`` among stationary batches (goals: at most 5% and 15%), and flagged
``DRIFT`` among drifted ones (goal: at least 95%).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from defectops.core.config import Settings, load_settings
from defectops.data.io import read_raw
from defectops.data.reference import reference_profile
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.validation import validate
from defectops.models.classifier import build_model
from defectops.monitoring.drift import compare
from defectops.monitoring.profile import build_profile

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SIZES = (200, 500, 1_000, 5_000)


@dataclass
class Case:
    """A data set: its validated rows, where training ends, and how drifted batches are made."""

    name: str
    settings: Settings
    frame: pd.DataFrame  # validated rows in production order
    schema: object
    train_rows: int
    stationary: pd.DataFrame
    drifted: pd.DataFrame
    drift: str


def champion(case: Case) -> tuple[object, dict, dict]:
    """The default model on the first 80% of the training rows, its profile and reference."""
    train = case.frame.iloc[: case.train_rows]
    cut = int(len(train) * 0.8)
    fit = train.iloc[:cut]
    features = list(case.schema.features)
    model = build_model(case.settings, case.schema)
    model.fit(fit[features], fit[case.schema.target].to_numpy())
    scores = model.decision_scores(fit[features])  # as the pipeline profiles them
    profile = build_profile(fit[features], case.schema, scores, case.settings.chunk_size)
    return model, profile, reference_profile(fit, case.schema)


def batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows) - size + 1, size):
        yield rows.iloc[start : start + size]


def verdicts(case: Case, model: object, profile: dict, reference: dict, rows: pd.DataFrame,
             size: int) -> list[str]:  # fmt: skip
    features = list(case.schema.features)
    known = reference.get("categorical", {})
    out = []
    for batch in batches(rows, size):
        scores = model.decision_scores(batch[features])
        report = compare(profile, known, batch, case.schema, scores, case.settings.monitor)
        out.append(report["status"])
    return out


def shifted(rows: pd.DataFrame, column: str, sd: float) -> pd.DataFrame:
    out = rows.copy()
    out[column] = out[column] + sd
    return out


def simulator_case(seed: int) -> Case:
    frame, _ = simulate(SimulationSpec(rows=40_000, seed=seed, drift_at=25_000))
    settings = load_settings(flags={}, environ={})
    data = validate(frame, settings, describe=False)
    rows = data.frame.reset_index(drop=True)
    return Case(f"simulator seed {seed}", settings, rows, data.schema, 10_000,
                rows.iloc[10_000:25_000], rows.iloc[25_000:], "the simulator's drift")  # fmt: skip


def ai4i_case() -> Case:
    settings = load_settings(
        flags={"target": "Machine failure", "drop": "TWF,HDF,PWF,OSF,RNF", "order_by": "UDI"},
        environ={},
    )
    data = validate(read_raw(DATA / "ai4i2020.csv"), settings, describe=False)
    rows = data.frame.reset_index(drop=True)
    column = "Torque [Nm]"
    sd = float(rows[column].iloc[:5_000].std())
    after = rows.iloc[5_000:]
    return Case("AI4I 2020", settings, rows, data.schema, 5_000, after,
                shifted(after, column, sd), f"{column} + 1 sd")  # fmt: skip


def secom_case() -> Case:
    settings = load_settings(flags={"target": "label"}, environ={})
    data = validate(read_raw(DATA / "secom_uci.csv"), settings, describe=False)
    rows = data.frame.reset_index(drop=True)
    train = rows.iloc[:940]
    column = next(
        c for c in data.schema.numeric if train[c].notna().all() and train[c].nunique() > 50
    )
    sd = float(train[column].std())
    after = rows.iloc[940:]
    return Case("SECOM", settings, rows, data.schema, 940, after,
                shifted(after, column, sd), f"{column} + 1 sd")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", choices=["sim", "ai4i", "secom"], default=None)
    args = parser.parse_args()
    cases: list[Case] = []
    if args.only in (None, "sim"):
        cases += [simulator_case(seed) for seed in range(1, args.seeds + 1)]
    if args.only in (None, "ai4i") and (DATA / "ai4i2020.csv").is_file():
        cases.append(ai4i_case())
    if args.only in (None, "secom") and (DATA / "secom_uci.csv").is_file():
        cases.append(secom_case())

    table: dict[tuple[str, int], dict[str, list[str]]] = {}
    drifts: dict[str, str] = {}
    for case in cases:
        model, profile, reference = champion(case)
        group = case.name.split(" seed")[0]
        drifts[group] = case.drift
        for size in SIZES:
            quiet = verdicts(case, model, profile, reference, case.stationary, size)
            moved = verdicts(case, model, profile, reference, case.drifted, size)
            if not quiet:
                continue
            cell = table.setdefault((group, size), {"quiet": [], "moved": []})
            cell["quiet"] += quiet
            cell["moved"] += moved

    for case in cases:  # is "after training" stationary? columns whose mean moved by > 1 sd
        if case.name.startswith("simulator"):
            continue
        train = case.frame.iloc[: case.train_rows]
        moved = [
            c
            for c in case.schema.numeric
            if train[c].std() > 0
            and abs(case.stationary[c].mean() - train[c].mean()) > train[c].std()
        ]
        named = f" ({', '.join(moved[:5])}{', ...' if len(moved) > 5 else ''})" if moved else ""
        print(
            f"{case.name}: {len(moved)} of {len(case.schema.numeric)} numeric columns have a mean "
            f"after the training rows more than 1 training sd from their training mean{named}"
        )
    print()
    print("| data | drift | batch rows | stationary batches | DRIFT | WARN | drifted batches "
          "| DRIFT |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (group, size), cell in table.items():
        quiet, moved = np.array(cell["quiet"]), np.array(cell["moved"])
        print(
            f"| {group} | {drifts[group]} | {size:,} | {len(quiet)} "
            f"| {np.mean(quiet == 'drift'):.0%} | {np.mean(quiet == 'warn'):.0%} "
            f"| {len(moved)} | {np.mean(moved == 'drift'):.0%} |"
        )


if __name__ == "__main__":
    main()
