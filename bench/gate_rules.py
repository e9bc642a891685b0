"""Which promotion rule picks the better champion? Measured on the demo line, AI4I and SECOM.

Every rule sees the same models (the expanding strategy does not depend on the gate), so the
pipeline runs once per data set and the gate is replayed for each rule. Each champion is then
scored on *fresh* rows that neither training nor gating saw:

* demo: 23,490 training rows, the 5,000 after them gate, the 10,000 after those test;
* AI4I: rows 0-5,999 train (6 chunks), 6,000-7,999 gate, 8,000-9,999 test (ordered by UDI);
* SECOM: rows 0-939 train (chunks of 250), 940-1,252 gate, 1,253-1,566 test (in time order).

A rule's *regret* on a set is the best test PR-AUC among the run's models minus its final
champion's: what picking by that rule gave away. The last table is its mean over the sets.

    .venv/bin/python bench/gate_rules.py            # every data set
    .venv/bin/python bench/gate_rules.py --only demo
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from defectops.core.config import GateSettings, load_settings
from defectops.data.io import read_raw, read_table
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.validation import validate
from defectops.evaluation.gate import Candidate, decide
from defectops.ops.run import run_pipeline
from defectops.registry.local import LocalRegistry, load_verified

AI4I = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ai4i2020.csv"
SECOM = AI4I.with_name("secom_uci.csv")
RULES = {
    "newer unless credibly worse": GateSettings(rule="newer-unless-worse"),
    "non-inferiority, margin 0.01": GateSettings(rule="non-inferiority", margin=0.01),
    "non-inferiority, margin 0.02": GateSettings(rule="non-inferiority", margin=0.02),
    "non-inferiority, margin 0.03": GateSettings(rule="non-inferiority", margin=0.03),
    "superiority": GateSettings(rule="superiority"),
    "classic (accuracy >= champion)": GateSettings(rule="classic"),
}


def demo_files(directory: Path) -> dict[str, Path]:
    frame, _ = simulate(SimulationSpec(rows=23_490 + 5_000 + 10_000, seed=42))
    parts = {"train": (0, 23_490), "gate": (23_490, 28_490), "test": (28_490, 38_490)}
    return _write_parts(frame, parts, directory)


def ai4i_files(directory: Path) -> dict[str, Path]:
    frame = read_table(AI4I).sort_values("UDI", kind="stable").reset_index(drop=True)
    parts = {"train": (0, 6_000), "gate": (6_000, 8_000), "test": (8_000, 10_000)}
    return _write_parts(frame, parts, directory)


def secom_files(directory: Path) -> dict[str, Path]:
    settings = load_settings(flags={"target": "label"}, environ={})
    ordered = validate(read_raw(SECOM), settings, describe=False).frame.index
    frame = read_raw(SECOM).loc[ordered].reset_index(drop=True)  # as read, in time order
    parts = {"train": (0, 940), "gate": (940, 1_253), "test": (1_253, 1_567)}
    return _write_parts(frame, parts, directory)


def _write_parts(frame: pd.DataFrame, parts: dict, directory: Path) -> dict[str, Path]:
    paths = {}
    for name, (start, end) in parts.items():
        paths[name] = directory / f"{name}.csv"
        frame.iloc[start:end].to_csv(paths[name], index=False)
    return paths


def measure(name: str, files: dict[str, Path], flags: dict, artifacts: Path) -> dict[str, float]:
    """Print the set's table; return each rule's regret (best test PR-AUC minus its champion's)."""
    settings = load_settings(
        flags={"data": files["train"], "holdout_data": files["gate"], "artifacts": artifacts}
        | flags
    )
    result = run_pipeline(settings)
    registry = LocalRegistry(artifacts)
    target = settings.target
    gate_rows, test_rows = pd.read_csv(files["gate"]), pd.read_csv(files["test"])
    positive = settings.positive_label or "1"
    y_gate = (gate_rows[target].astype(str) == positive).to_numpy()
    y_test = (test_rows[target].astype(str) == positive).to_numpy()
    candidates, test_pr_auc = [], {}
    for meta in result.models:
        directory = registry.model_dir(meta["chunk_id"])
        model = load_verified(directory / meta["model_file"], meta)
        scores = model.decision_scores(gate_rows)
        candidates.append(Candidate(meta["chunk_id"], scores, meta["threshold"], meta["metrics"]))
        test_pr_auc[meta["chunk_id"]] = average_precision_score(
            y_test, model.decision_scores(test_rows)
        )

    print(
        f"\n## {name}: {len(candidates)} models; gate rows {len(y_gate)}, test rows {len(y_test)}"
    )
    best = max(test_pr_auc, key=test_pr_auc.get)
    print(f"best possible pick: chunk {best}, test PR-AUC {test_pr_auc[best]:.3f}")
    print("| rule | promotions | final champion | gate PR-AUC | test PR-AUC | regret |")
    print("|---|---:|---:|---:|---:|---:|")
    regrets = {}
    for label, rule in RULES.items():
        champion = None
        promotions = 0
        for k, candidate in enumerate(candidates):
            decision = decide(candidate, champion, y_gate.astype(np.int8), rule, seed=42 + k)
            if decision.promote:
                champion, promotions = candidate, promotions + 1
        if champion is None:
            print(f"| {label} | 0 | none | - | - | - |")
            continue
        regrets[label] = test_pr_auc[best] - test_pr_auc[champion.chunk_id]
        print(
            f"| {label} | {promotions} | chunk {champion.chunk_id} | "
            f"{champion.metrics['pr_auc']:.3f} | {test_pr_auc[champion.chunk_id]:.3f} "
            f"| {regrets[label]:.3f} |"
        )
    return regrets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["demo", "ai4i", "secom"])
    args = parser.parse_args()
    regrets: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.only in (None, "demo"):
            (root / "demo").mkdir()
            regrets.append(
                measure("demo line (simulated)", demo_files(root / "demo"), {}, root / "a-demo")
            )
        if args.only in (None, "ai4i") and AI4I.is_file():
            (root / "ai4i").mkdir()
            flags = {
                "target": "Machine failure",
                "drop": "TWF,HDF,PWF,OSF,RNF",
                "order_by": "UDI",
            }
            regrets.append(measure("AI4I 2020", ai4i_files(root / "ai4i"), flags, root / "a-ai4i"))
        if args.only in (None, "secom") and SECOM.is_file():
            (root / "secom").mkdir()
            flags = {"target": "label", "chunk_size": 250}
            regrets.append(measure("SECOM", secom_files(root / "secom"), flags, root / "a-secom"))
    print("\n## mean regret over the sets")
    print("| rule | mean regret |")
    print("|---|---:|")
    for label in RULES:
        values = [r[label] for r in regrets if label in r]
        print(f"| {label} | {np.mean(values):.3f} |" if values else f"| {label} | - |")


if __name__ == "__main__":
    main()
