"""Wall time and peak memory of ``run`` and ``predict`` on 1M-20M rows, local engine vs dask.

    .venv/bin/python bench/scale.py --rows 1000000 5000000
    .venv/bin/python bench/scale.py --rows 20000000 --engines local dask

For each size the simulator writes the training stream as partitioned Parquet, one file per
``PIECE_ROWS`` rows generated one after another (each piece its own seed, its timestamps going on
from the piece before), so generating never holds more than one piece; and a 100,000-row
hold-out batch that follows it (``--holdout-data``: the gate's paired bootstrap draws
``n_bootstrap x rows`` row indices, so its hold-out is kept at a fixed, moderate size).
Data is cached in ``--workdir`` between invocations.

Each verb runs as its own ``defectops`` process, as a user would start it:

* ``run --strategy warm-start --chunk-size ROWS/3``: three chunks, each model continuing the
  previous booster (on 20M rows an expanding window would refit on 13M and 20M rows from scratch:
  hours here, and not how a large plant would run it); ``--chunk-rows N`` fixes the chunk size
  instead, which shows what a worker's memory follows: the chunk, not the data;
* ``predict`` on all training rows (local: one Parquet file out; dask: a directory).

The table also gives the champion's hold-out PR-AUC, so the engines' models can be compared.

Memory is sampled every 0.2 s with psutil. Local: the peak of the process's RSS plus its
children's. Dask (``--engine dask`` with no scheduler starts a LocalCluster of 2 worker processes
inside the command): the peak RSS of the client process (which also hosts the scheduler) and the
peak of each worker process; the table shows the larger worker. A command whose processes
together exceed ``--memory-cap-gib`` is killed and reported as such, so the machine is never
pushed into swap. Prints a Markdown table and writes the rows as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import psutil

from defectops.data.simulate import SimulationSpec, simulate

PIECE_ROWS = 1_000_000
HOLDOUT_ROWS = 100_000
GIB = 1 << 30
#: a part every 20-40 s: the next piece starts this long after the previous one began
_SECONDS_PER_ROW = 30


@dataclass
class Measurement:
    rows: int
    engine: str
    verb: str
    chunk_rows: int
    seconds: float | None
    peak_gib: float | None
    client_gib: float | None
    worker_gib: float | None
    pr_auc: float | None
    load: float
    outcome: str


def write_data(rows: int, directory: Path) -> tuple[Path, Path]:
    """``train/part-NNNNN.parquet`` pieces and ``holdout/part-00000.parquet``, cached."""
    train, holdout = directory / "train", directory / "holdout"
    done = directory / "complete"
    if done.exists():
        return train, holdout
    train.mkdir(parents=True, exist_ok=True)
    holdout.mkdir(parents=True, exist_ok=True)
    start = pd.Timestamp("2026-01-05 06:00:00")
    for i in range(math.ceil(rows / PIECE_ROWS)):
        n = min(PIECE_ROWS, rows - i * PIECE_ROWS)
        frame, _ = simulate(SimulationSpec(rows=n, seed=1000 + i, start=str(start)))
        frame.to_parquet(train / f"part-{i:05d}.parquet", index=False)
        start = frame["timestamp"].iloc[-1] + pd.Timedelta(seconds=_SECONDS_PER_ROW)
        del frame
    frame, _ = simulate(SimulationSpec(rows=HOLDOUT_ROWS, seed=999, start=str(start)))
    frame.to_parquet(holdout / "part-00000.parquet", index=False)
    done.write_text(f"{rows}\n")
    return train, holdout


def measure(command: list[str], cap_gib: float) -> tuple[float, int, list[int], int, float, str]:
    """Wall seconds, peak RSS of the command, of each child, of all together; the machine's
    mean 1-minute load average while it ran (other work on the machine slows it); the outcome."""
    began = time.perf_counter()
    loads = []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(proc.pid)
    peaks: dict[int, int] = {}
    tree_peak = 0
    outcome = "ok"
    while proc.poll() is None:
        total = 0
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in processes:
            try:
                rss = p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            peaks[p.pid] = max(peaks.get(p.pid, 0), rss)
            total += rss
        tree_peak = max(tree_peak, total)
        loads.append(os.getloadavg()[0])
        if total > cap_gib * GIB:
            for p in reversed(processes):
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    continue
            outcome = f"killed: over {cap_gib:g} GiB"
            break
        time.sleep(0.2)
    output, _ = proc.communicate()
    seconds = time.perf_counter() - began
    if outcome == "ok" and proc.returncode != 0:
        outcome = f"exit {proc.returncode}: {output.strip().splitlines()[-1] if output else ''}"
    root_peak = peaks.pop(root.pid, 0)
    load = sum(loads) / len(loads) if loads else os.getloadavg()[0]
    return seconds, root_peak, list(peaks.values()), tree_peak, load, outcome


def bench(
    rows: int,
    engine: str,
    workdir: Path,
    cap_gib: float,
    chunk_rows: int | None = None,
    only: tuple[str, ...] = ("run", "predict"),
) -> list[Measurement]:
    train, holdout = write_data(rows, workdir / f"rows-{rows}")
    exe = str(Path(sys.executable).with_name("defectops"))
    chunk = chunk_rows or max(1, rows // 3)
    artifacts = workdir / f"artifacts-{rows}-{engine}-{chunk}"
    scored = workdir / f"scored-{rows}-{engine}" / ("out" if engine == "dask" else "out.parquet")
    for stale in (artifacts, scored.parent):
        subprocess.run(["rm", "-rf", str(stale)], check=True)
    verbs = {
        "validate": [
            exe, "validate", "--data", str(train), "--artifacts", str(artifacts),
            "--engine", engine,
        ],
        "run": [
            exe, "run", "--data", str(train), "--holdout-data", str(holdout),
            "--artifacts", str(artifacts), "--chunk-size", str(chunk),
            "--strategy", "warm-start", "--engine", engine,
        ],
        "predict": [
            exe, "predict", "--data", str(train), "--out", str(scored),
            "--artifacts", str(artifacts), "--engine", engine,
        ],
    }  # fmt: skip
    out = []
    for verb, command in verbs.items():
        if verb not in only:
            continue
        seconds, root_peak, children, tree_peak, load, outcome = measure(command, cap_gib)
        worker = max(children) if engine == "dask" and children else None
        report = artifacts / "reports" / "incremental_training_report.json"
        pr_auc = None
        if verb == "run" and outcome == "ok" and report.exists():
            champion = json.loads(report.read_text()).get("champion") or {}
            pr_auc = round(champion.get("metrics", {}).get("pr_auc", float("nan")), 4)
        out.append(
            Measurement(
                rows=rows,
                engine=engine,
                verb=verb,
                chunk_rows=chunk,
                seconds=round(seconds, 1),
                peak_gib=round(tree_peak / GIB, 2),
                client_gib=round(root_peak / GIB, 2) if engine == "dask" else None,
                worker_gib=round(worker / GIB, 2) if worker else None,
                pr_auc=pr_auc,
                load=round(load, 1),
                outcome=outcome,
            )
        )
        print(json.dumps(asdict(out[-1])), flush=True)
        if outcome != "ok":
            break  # nothing to predict with
    return out


def table(results: list[Measurement]) -> str:
    lines = [
        "| rows | engine | verb | chunk rows | wall s | peak GiB, all processes | client GiB "
        "| worker GiB (max) | champion PR-AUC | load | outcome |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in results:
        cells = [
            f"{m.rows:,}",
            m.engine,
            m.verb,
            f"{m.chunk_rows:,}",
            f"{m.seconds:,.1f}" if m.seconds is not None else "-",
            f"{m.peak_gib:.2f}" if m.peak_gib is not None else "-",
            f"{m.client_gib:.2f}" if m.client_gib is not None else "-",
            f"{m.worker_gib:.2f}" if m.worker_gib is not None else "-",
            f"{m.pr_auc:.3f}" if m.pr_auc is not None else "-",
            f"{m.load:.1f}",
            m.outcome,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", type=int, default=[1_000_000, 5_000_000])
    parser.add_argument("--engines", nargs="+", default=["local", "dask"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/defectops-scale"))
    parser.add_argument("--memory-cap-gib", type=float, default=20.0)
    parser.add_argument(
        "--chunk-rows", type=int, default=None, help="rows per chunk (default: a third of the rows)"
    )
    parser.add_argument(
        "--verbs", nargs="+", default=["run", "predict"], choices=["validate", "run", "predict"]
    )
    parser.add_argument("--json", type=Path, default=None, help="append the rows to this file")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    results = []
    for rows in args.rows:
        for engine in args.engines:
            results.extend(
                bench(
                    rows,
                    engine,
                    args.workdir,
                    args.memory_cap_gib,
                    args.chunk_rows,
                    tuple(args.verbs),
                )
            )
    if args.json is not None:
        with args.json.open("a", encoding="utf-8") as handle:
            for m in results:
                handle.write(json.dumps(asdict(m)) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
