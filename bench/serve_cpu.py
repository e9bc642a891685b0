"""CPU time of one worker per scoring request, through the ASGI app in this process (no HTTP).

    D=$(mktemp -d)
    .venv/bin/defectops demo --artifacts $D/art --data-dir $D/data
    .venv/bin/python bench/serve_cpu.py --artifacts $D/art --data $D/data/holdout.csv
    rm -rf "$D"

On a shared machine wrk (``bench/serve.py``) measures the neighbours as much as the service;
the process's own CPU time, the fastest of several rounds, moves far less. Prints a Markdown
table: a single record, and a batch as records and as columns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

from defectops.core.config import load_settings
from defectops.serving.app import create_app
from defectops.serving.model_holder import load_model
from serve_overhead import call, request_rows  # the bench scripts' request helpers


async def _call(app: Any, path: str, body: bytes) -> None:
    status = await call(app, path, body)
    assert status == 200, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    settings = load_settings(None, environ={"DEFECTOPS_ARTIFACTS": str(args.artifacts)})
    app = create_app(settings, poll_interval=None, monitor_interval=None)
    holder = app.state.holder
    holder.swap(load_model(args.artifacts, max_batch=10_000, unknown_fields="reject"))
    names = list(holder.current.features)
    rows = request_rows(args.data, names, args.batch)
    columns = {name: [r[name] for r in rows] for name in names}
    cases = [
        ("single", "/predict", json.dumps(rows[0]).encode(), 200),
        (
            f"batch x{len(rows)} records",
            "/predict/batch",
            json.dumps({"records": rows}).encode(),
            10,
        ),
        (
            f"batch x{len(rows)} columns",
            "/predict/batch",
            json.dumps({"columns": columns}).encode(),
            10,
        ),
    ]
    loop = asyncio.new_event_loop()
    print("| request | CPU ms per request (fastest round) | rows/s per core |")
    print("|---|---:|---:|")
    for label, path, body, per_round in cases:
        loop.run_until_complete(_call(app, path, body))  # warm up
        best = math.inf
        for _ in range(args.rounds):
            started = time.process_time()
            for _ in range(per_round):
                loop.run_until_complete(_call(app, path, body))
            best = min(best, (time.process_time() - started) / per_round)
        n = 1 if path == "/predict" else len(rows)
        print(f"| {label} | {best * 1e3:.2f} | {n / best:,.0f} |")
    loop.close()


if __name__ == "__main__":
    main()
