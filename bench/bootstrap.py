"""How long does the gate's paired bootstrap take for one model comparison?

The gate compares a challenger with the champion on the hold-out by resampling its rows; this
times ``paired_bootstrap`` for each metric on a 5,000-row hold-out at 1% and 5% defect rates,
with scores rounded to three decimals (so tied groups mix defects and good parts, as real
probabilities do), 1,000 resamples, median of 20 repetitions after a warm-up.

    .venv/bin/python bench/bootstrap.py
    .venv/bin/python bench/bootstrap.py --rows 20000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from defectops.evaluation.metrics import paired_bootstrap

METRICS = ("pr_auc", "roc_auc", "brier", "mcc", "f1", "accuracy")


def holdout(rows: int, rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two correlated models that rank defects higher, scores rounded (ties)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < rate).astype(np.int8)
    champion = np.clip(rng.beta(1, 8, rows) + 0.35 * y * rng.random(rows), 0, 1)
    challenger = np.clip(champion + rng.normal(0, 0.03, rows) + 0.02 * y, 0, 1)
    return y, np.round(challenger, 3), np.round(champion, 3)


def time_one(args: tuple, metric: str, n_bootstrap: int, repeat: int) -> float:
    """Median milliseconds of one comparison, after one untimed warm-up."""
    y, a, b = args
    paired_bootstrap(y, a, b, metric, n_bootstrap=n_bootstrap)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        paired_bootstrap(y, a, b, metric, n_bootstrap=n_bootstrap)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--resamples", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS))
    opts = parser.parse_args()
    print(f"{opts.resamples:,} resamples, median of {opts.repeat} runs after a warm-up\n")
    print("| metric | rows | defect rate | ms per comparison |")
    print("|---|---:|---:|---:|")
    for rate in (0.01, 0.05):
        data = holdout(opts.rows, rate)
        for metric in opts.metrics:
            ms = time_one(data, metric, opts.resamples, opts.repeat)
            print(f"| {metric} | {opts.rows:,} | {rate:.0%} | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
