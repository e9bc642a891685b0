"""The public quality benchmark: the default champion against tuned models, on the same rows.

    .venv/bin/pip install -e '.[bench]'           # LightGBM and FLAML, for this bench only
    .venv/bin/python bench/quality.py             # every set; FLAML 60 s per set
    .venv/bin/python bench/quality.py --only ai4i --flaml-seconds 10
    .venv/bin/python bench/quality.py --tune 10 --no-baselines   # defaults against --tune 10

For each set the first 80% of the rows, in production order, are *visible*; the last 20% are the
test rows, which nothing below sees before it is scored:

* ``defectops run`` with its default settings on the visible rows (only the set's own columns
  are named: target, order column, the leak columns AI4I documents); its champion scores the test
  rows through ``predict``'s own path, and its threshold is the one it chose;
* LightGBM tuned by a small grid (12 settings) with 5-fold stratified CV on the visible rows, by
  average precision; refit on all of them; its threshold chosen by the project's own rule
  (``choose_threshold``) on the chosen setting's out-of-fold scores;
* FLAML's AutoML with a time budget (default 60 s), metric average precision, on the visible
  rows; threshold the same way, on 5-fold out-of-fold scores of its best estimator;
* the majority baseline: every part good, the defect rate as its score.

Columns: PR-AUC, ROC-AUC, and F1 and MCC at each model's threshold, on the test rows; and the
wall time of each fit. Sets: the simulator's demo line (the 28,490 rows of ``defectops demo``),
AI4I 2020 (ordered by ``UDI``) and SECOM (in time order), from ``../shared/data``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, matthews_corrcoef, roc_auc_score
from sklearn.model_selection import ParameterGrid, StratifiedKFold

from defectops.core.config import load_settings
from defectops.data.io import read_raw
from defectops.data.simulate import DEMO_HOLDOUT_ROWS, DEMO_ROWS, SimulationSpec, simulate
from defectops.data.validation import validate
from defectops.models.threshold import choose_threshold
from defectops.ops.run import run_pipeline
from defectops.scoring.predict import Champion

THRESHOLD = load_settings(environ={}).threshold  # the project's own threshold rule

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GRID = ParameterGrid(
    {"num_leaves": [7, 31], "learning_rate": [0.03, 0.1], "n_estimators": [100, 300, 600]}
)


@dataclass
class Suite:
    name: str
    raw: pd.DataFrame  # rows as read, in production order
    flags: dict[str, Any]
    rows: dict[str, Any] = field(default_factory=dict)


def demo() -> Suite:
    frame, _ = simulate(SimulationSpec(rows=DEMO_ROWS + DEMO_HOLDOUT_ROWS, seed=42))
    return Suite("demo line (simulator)", frame, {})


def ai4i() -> Suite:
    raw = pd.read_csv(DATA / "ai4i2020.csv").sort_values("UDI", kind="stable")
    flags = {"target": "Machine failure", "drop": "TWF,HDF,PWF,OSF,RNF", "order_by": "UDI"}
    return Suite("AI4I 2020", raw.reset_index(drop=True), flags)


def secom() -> Suite:
    settings = load_settings(flags={"target": "label"}, environ={})
    ordered = validate(read_raw(DATA / "secom_uci.csv"), settings, describe=False).frame
    raw = read_raw(DATA / "secom_uci.csv").loc[ordered.index]  # as read, in time order
    return Suite("SECOM", raw.reset_index(drop=True), {"target": "label"})


def metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = (scores >= threshold).astype(int)
    return {
        "pr_auc": float(average_precision_score(y, scores)),
        "roc_auc": float(roc_auc_score(y, scores)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "mcc": float(matthews_corrcoef(y, predicted)),
    }


def typed(suite: Suite, root: Path) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """The visible and test rows as the data contract types them: features and 0/1 target."""
    settings = load_settings(flags=suite.flags, environ={})
    data = validate(suite.raw, settings, describe=False)
    frame, schema = data.frame.reset_index(drop=True), data.schema
    cut = int(len(frame) * 0.8)
    X = frame[list(schema.features)].copy()
    for col in schema.categorical:
        X[col] = X[col].astype(str).astype("category")
    X.columns = [f"f{i}" for i in range(X.shape[1])]  # LightGBM refuses brackets in names
    y = pd.Series(data.y, name="y").astype(int)
    return X.iloc[:cut], y.iloc[:cut], X.iloc[cut:], y.iloc[cut:]


def defectops_default(suite: Suite, root: Path, tune: float = 0.0) -> dict[str, Any]:
    settings = load_settings(flags=suite.flags, environ={})
    data = validate(suite.raw, settings, describe=False)
    cut = int(len(data.frame) * 0.8)
    visible = suite.raw.loc[data.frame.index[:cut]]
    test = suite.raw.loc[data.frame.index[cut:]]
    visible.to_csv(root / "visible.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    began = time.perf_counter()
    run_pipeline(
        load_settings(
            flags={
                **suite.flags,
                "data": root / "visible.csv",
                "artifacts": root / f"artifacts-{tune:g}",
                "tune": tune,
            },
            environ={},
        )
    )
    seconds = time.perf_counter() - began
    champion = Champion.load(root / f"artifacts-{tune:g}")  # read by its contract, as predict does
    checked = validate(test, settings, schema=champion.schema, describe=False)
    scores = champion.score(checked.frame)
    return {"seconds": seconds, **metrics(checked.y, scores, champion.threshold)}


def out_of_fold(make: Callable[[], Any], X: pd.DataFrame, y: pd.Series) -> np.ndarray:
    scores = np.zeros(len(y))
    for fit, val in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        model = make().fit(X.iloc[fit], y.iloc[fit])
        scores[val] = model.predict_proba(X.iloc[val])[:, 1]
    return scores


def lightgbm_tuned(X: pd.DataFrame, y: pd.Series, Xt: pd.DataFrame, yt: pd.Series) -> dict:
    import lightgbm

    began = time.perf_counter()
    best: tuple[float, dict[str, Any], np.ndarray] | None = None
    for params in GRID:

        def make(params: dict[str, Any] = params) -> Any:
            return lightgbm.LGBMClassifier(**params, random_state=0, verbose=-1)

        oof = out_of_fold(make, X, y)
        score = average_precision_score(y, oof)
        if best is None or score > best[0]:
            best = (score, params, oof)
    assert best is not None
    _, params, oof = best
    model = lightgbm.LGBMClassifier(**params, random_state=0, verbose=-1).fit(X, y)
    threshold = choose_threshold(y.to_numpy(), oof, THRESHOLD.objective, THRESHOLD.cost_ratio)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, **metrics(yt.to_numpy(), model.predict_proba(Xt)[:, 1], threshold)}


def flaml_automl(X: pd.DataFrame, y: pd.Series, Xt: pd.DataFrame, yt: pd.Series, budget: float
                 ) -> dict:  # fmt: skip
    from flaml import AutoML

    began = time.perf_counter()
    automl = AutoML()
    automl.fit(X, y, task="classification", metric="ap", time_budget=budget, seed=0, verbose=0)
    kind, config = type(automl.model), automl.best_config

    class Refit:  # FLAML's own estimator of the best configuration (its fit returns a time)
        def fit(self, Xf: pd.DataFrame, yf: pd.Series) -> Any:
            self.model = kind(task="classification", **config)
            self.model.fit(Xf, yf)
            return self

        def predict_proba(self, Xp: pd.DataFrame) -> np.ndarray:
            return self.model.predict_proba(Xp)

    oof = out_of_fold(Refit, X, y)
    threshold = choose_threshold(y.to_numpy(), oof, THRESHOLD.objective, THRESHOLD.cost_ratio)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, **metrics(yt.to_numpy(), automl.predict_proba(Xt)[:, 1], threshold)}


def majority(y: pd.Series, yt: pd.Series) -> dict:
    scores = np.full(len(yt), float(y.mean()))
    return {"seconds": 0.0, **metrics(yt.to_numpy(), scores, 1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["demo", "ai4i", "secom"], default=None)
    parser.add_argument("--flaml-seconds", type=float, default=60.0)
    parser.add_argument("--tune", type=float, default=0.0, help="also run with --tune SECONDS")
    parser.add_argument("--no-baselines", action="store_true", help="skip LightGBM and FLAML")
    args = parser.parse_args()
    makers = {"demo": demo, "ai4i": ai4i, "secom": secom}
    rows = []
    for key, make in makers.items():
        if args.only not in (None, key):
            continue
        if key != "demo" and not DATA.is_dir():
            continue
        suite = make()
        with tempfile.TemporaryDirectory(prefix="defectops-quality-") as tmp:
            root = Path(tmp)
            X, y, Xt, yt = typed(suite, root)
            results = {"defectops run (defaults)": defectops_default(suite, root)}
            if args.tune:
                results[f"defectops run --tune {args.tune:g}"] = defectops_default(
                    suite, root, args.tune
                )
            if not args.no_baselines:
                results["LightGBM, 12-setting grid, 5-fold CV"] = lightgbm_tuned(X, y, Xt, yt)
                results[f"FLAML, {args.flaml_seconds:g} s"] = flaml_automl(
                    X, y, Xt, yt, args.flaml_seconds
                )
            results["majority baseline"] = majority(y, yt)
        for model, result in results.items():
            rows.append((suite.name, len(X), len(Xt), int(yt.sum()), model, result))
    print("| set | visible / test rows (test defects) | model | PR-AUC | ROC-AUC | F1 | MCC "
          "| fit s |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, n, nt, defects, model, r in rows:
        print(
            f"| {name} | {n:,} / {nt:,} ({defects}) | {model} | {r['pr_auc']:.3f} "
            f"| {r['roc_auc']:.3f} | {r['f1']:.3f} | {r['mcc']:.3f} | {r['seconds']:.1f} |"
        )
    print("\n| model | mean PR-AUC over the sets |\n|---|---:|")
    for model in dict.fromkeys(row[4] for row in rows):
        values = [r["pr_auc"] for *_, m, r in rows if m == model]
        print(f"| {model} | {np.mean(values):.3f} |")


if __name__ == "__main__":
    main()
