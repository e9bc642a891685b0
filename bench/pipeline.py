"""Wall time and hold-out PR-AUC of the 23-chunk demo for each model and strategy.

    .venv/bin/python bench/pipeline.py                      # gbm's strategies and logreg
    .venv/bin/python bench/pipeline.py --runs seed-ensemble:expanding   # slow
    .venv/bin/python bench/pipeline.py --runs gbm:expanding gbm:warm-start
    .venv/bin/python bench/pipeline.py --against-reference  # slow: about half an hour on 2 cores

Prints a Markdown table: total wall time of the run (validation, 23 fits, scoring, gate, writes),
the fit time per chunk (first five vs last five chunks: flat means the cost does not grow with
the data seen), and the hold-out PR-AUC of the champion and of the last model.

``--against-reference`` times, on the same data in one process, first the *reference* (the
classic incremental trainer this project grew from), then ``run_pipeline`` with the default
model and strategy, and says how many times faster the second is. The reference is the plain
classic loop, nothing more: read the two CSV files, cut the 23,490 training rows into the same
23 chunks (the last short chunk merged, as the product does), and for each chunk k fit on all
rows up to it the hashed features (the product's ``FeatureBuilder``, sparse layout, as the
``seed-ensemble`` model uses it), SMOTE (k=5) and the soft vote of logistic regression, a random
forest (250 trees) and gradient boosting (the ``seed-ensemble`` estimator itself), then score the
hold-out (PR-AUC). No cross-fitting, calibration, threshold, gate, tracking or reports: the seed's
loop only fitted and scored, so it has no champion. Its column roles come from the product's
schema inference, outside the timing, standing in for the seed's hand-written column lists (the
features are the same either way: hashing canonicalises ``101`` and ``"101"``).

"Fit" means the same in both designs: from a chunk's training rows to a fitted model, i.e.
fitting and applying the features plus everything the model's ``fit`` does (for defectops the
``fit_seconds`` of each model record: cross-fitting, calibration, threshold, refit). Scoring the
hold-out, reading, validation, gate and writes are outside the fits; "outside fits" is the share
of the wall time spent there.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from defectops.core.config import Settings, load_settings
from defectops.data.schema import DataSchema
from defectops.data.simulate import write_demo_data
from defectops.features.builder import FeatureBuilder
from defectops.models.seed_ensemble import fit_seed_ensemble
from defectops.ops.run import run_pipeline
from defectops.training.chunks import chunk_bounds
from defectops.training.prepare import prepare

DEFAULT_RUNS = [
    "gbm:expanding",
    "gbm:sliding",
    "gbm:warm-start",
    "logreg:expanding",
]  # seed-ensemble:expanding on request: cross-fitted, it fits four times per chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, metavar="MODEL:STRATEGY")
    parser.add_argument(
        "--against-reference",
        action="store_true",
        help="time the classic fit-and-score loop, then defectops with its defaults",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train, holdout = write_demo_data(root / "data")
        if args.against_reference:
            against_reference(root, train, holdout)
        else:
            model_table(root, train, holdout, args.runs)


# -- models and strategies ------------------------------------------------------------------------


def model_table(root: Path, train: Path, holdout: Path, runs: list[str]) -> None:
    """One run per ``model:strategy``, one table row each."""
    rows = []
    for spec in runs:
        model, strategy = spec.split(":")
        settings = load_settings(
            flags={
                "data": train,
                "holdout_data": holdout,
                "artifacts": root / spec.replace(":", "-"),
                "model": model,
                "strategy": strategy,
            }
        )
        began = time.perf_counter()
        result = run_pipeline(settings)
        wall = time.perf_counter() - began
        fits = np.array([m["fit_seconds"] for m in result.models])
        champion = result.champion
        rows.append(
            (
                model,
                strategy,
                len(result.models),
                wall,
                fits.mean(),
                fits[:5].mean(),
                fits[-5:].mean(),
                champion["metrics"]["pr_auc"] if champion else float("nan"),
                champion["chunk_id"] if champion else "-",
                result.models[-1]["metrics"]["pr_auc"],
            )
        )
        print(f"done {spec}: {wall:.1f} s", flush=True)
    print()
    print(
        "| model | strategy | models | wall time (s) | fit s/chunk | first 5 | last 5 "
        "| champion PR-AUC (chunk) | last model PR-AUC |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.2f} "
            f"| {r[7]:.3f} ({r[8]}) | {r[9]:.3f} |"
        )
    walls = {(r[0], r[1]): r[3] for r in rows}
    if ("gbm", "expanding") in walls and ("seed-ensemble", "expanding") in walls:
        ratio = walls[("seed-ensemble", "expanding")] / walls[("gbm", "expanding")]
        print(f"\ngbm is {ratio:.1f}x faster than seed-ensemble (expanding, wall time)")


# -- the reference against defectops --------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One design's run: wall seconds, each fit's seconds, the last model's and the champion's
    hold-out PR-AUC (None: the design has no champion)."""

    design: str
    wall: float
    fits: list[float]
    last_pr_auc: float
    champion_pr_auc: float | None

    @property
    def outside_fits(self) -> float:
        return (self.wall - sum(self.fits)) / self.wall


def against_reference(root: Path, train: Path, holdout: Path) -> None:
    """The reference, then defectops with its defaults, on the same files; one table."""
    settings = load_settings(
        flags={"data": train, "holdout_data": holdout, "artifacts": root / "defectops"}
    )
    schema = prepare(settings).schema  # column roles only (untimed)
    reference = reference_run(train, holdout, schema, settings)
    ours = defectops_run(settings)
    print()
    print(
        "| design | wall time (s) | sum of fits (s) | outside fits "
        "| last model PR-AUC | champion PR-AUC |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for run in (reference, ours):
        champion = "-" if run.champion_pr_auc is None else f"{run.champion_pr_auc:.3f}"
        print(
            f"| {run.design} | {run.wall:.1f} | {sum(run.fits):.1f} | {run.outside_fits:.0%} "
            f"| {run.last_pr_auc:.3f} | {champion} |"
        )
    print(
        f"\ndefectops ({settings.model}, {settings.strategy}) is "
        f"{reference.wall / ours.wall:.1f}x faster than the reference (wall time)"
    )


def reference_run(train: Path, holdout: Path, schema: DataSchema, settings: Settings) -> Timed:
    """The classic loop: per chunk, fit features + SMOTE + soft vote on all rows so far, score."""
    features, target = list(schema.features), schema.target
    began = time.perf_counter()
    rows, held = pd.read_csv(train), pd.read_csv(holdout)
    y_hold = held[target].to_numpy()
    fits, pr_aucs = [], []
    bounds = chunk_bounds(len(rows), settings.chunk_size)
    for k, (_, end) in enumerate(bounds):
        fit_began = time.perf_counter()
        X, y = rows[features].iloc[:end], rows[target].to_numpy()[:end]
        builder = FeatureBuilder(
            numeric=schema.numeric,
            categorical=schema.categorical,
            crosses="auto",
            n_buckets=settings.hash_buckets,
            output="sparse",
        ).fit(X)
        model = fit_seed_ensemble(builder.transform(X), y, settings.seed, [])
        fits.append(time.perf_counter() - fit_began)
        scores = model.predict_proba(builder.transform(held[features]))[:, 1]
        pr_aucs.append(float(average_precision_score(y_hold, scores)))
        print(
            f"reference chunk {k + 1}/{len(bounds)}: {end} rows, fit {fits[-1]:.1f} s, "
            f"PR-AUC {pr_aucs[-1]:.3f}",
            flush=True,
        )
    wall = time.perf_counter() - began
    return Timed("reference (seed loop)", wall, fits, pr_aucs[-1], None)


def defectops_run(settings: Settings) -> Timed:
    """``run_pipeline`` as ``defectops run`` calls it, with the settings' defaults."""
    began = time.perf_counter()
    result = run_pipeline(settings)
    wall = time.perf_counter() - began
    fits = [float(m["fit_seconds"]) for m in result.models]
    champion = result.champion
    print(f"done defectops: {wall:.1f} s", flush=True)
    return Timed(
        f"defectops ({settings.model}, {settings.strategy})",
        wall,
        fits,
        result.models[-1]["metrics"]["pr_auc"],
        champion["metrics"]["pr_auc"] if champion else float("nan"),
    )


if __name__ == "__main__":
    main()
