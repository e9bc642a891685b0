"""Wall time of reading a file and applying the data contract (local engine), per data set.

    .venv/bin/python bench/contract.py [--rows 200000] [--repeat 3]

Data sets: the simulator's line (``--rows`` rows, written as CSV to a temporary directory),
AI4I 2020 and SECOM from ``../shared/data`` when present. For each: the best of ``--repeat``
runs of reading the file as the pipeline does and of ``validate`` (schema inference, guards,
typing, quarantine, report). Runs against whichever ``defectops`` is importable, so
``PYTHONPATH=OTHER_CHECKOUT/src`` measures another version with the same script (a version
without ``read_raw`` reads with ``read_table``, as it did).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from defectops.core.config import load_settings
from defectops.data import io
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.validation import validate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    read = getattr(io, "read_raw", io.read_table)
    with tempfile.TemporaryDirectory() as tmp:
        line = Path(tmp) / "line.csv"
        frame, _ = simulate(SimulationSpec(rows=args.rows, seed=1))
        frame.to_csv(line, index=False)
        cases = [(f"simulated line, {args.rows:,} rows", line, {})]
        if (DATA / "ai4i2020.csv").is_file():
            flags = {"target": "Machine failure", "drop": "TWF,HDF,PWF,OSF,RNF"}
            cases.append(("AI4I 2020, 10,000 x 14", DATA / "ai4i2020.csv", flags))
        if (DATA / "secom_uci.csv").is_file():
            cases.append(("SECOM, 1,567 x 592", DATA / "secom_uci.csv", {"target": "label"}))
        print(f"reader: defectops.data.io.{read.__name__}")
        print("| data | read (s) | validate (s) | total (s) |")
        print("|---|---:|---:|---:|")
        for name, path, flags in cases:
            settings = load_settings(flags={"artifacts": Path(tmp) / "a", **flags}, environ={})
            read_s, raw = best(lambda path=path: read(path), args.repeat)
            check_s, _ = best(lambda raw=raw, s=settings: validate(raw, s), args.repeat)
            print(f"| {name} | {read_s:.2f} | {check_s:.2f} | {read_s + check_s:.2f} |")


if __name__ == "__main__":
    main()
