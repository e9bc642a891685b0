"""CPU per request of the scoring routes, in process: what the service's own work costs.

wrk measures a whole server, so a change of a few per cent to the per-request work drowns in
the HTTP stack and in whatever else the machine is doing. This calls the ASGI app directly (the
middleware, the route, the scoring and everything kept on the side, no sockets) and counts
process CPU time, in rounds, keeping the fastest round:

    .venv/bin/python bench/serve_overhead.py                      # trains a small champion
    .venv/bin/python bench/serve_overhead.py --artifacts /tmp/serve-art --data holdout.csv
    .venv/bin/python bench/serve_overhead.py --request-log /tmp/requests

Prints a Markdown table: microseconds of CPU per ``/predict`` call and per 1,000-record
``/predict/batch`` call (records and columns bodies).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from defectops.config import load_settings
from defectops.data.io import read_table
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.pipeline import run_pipeline
from defectops.predict import Champion
from defectops.serving import create_app


async def call(app: Any, path: str, body: bytes) -> int:
    """One POST through the ASGI app; returns the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    delivered = False
    status = [0]

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(scope, receive, send)
    return status[0]


async def cpu_per_call(app: Any, path: str, body: bytes, calls: int, rounds: int) -> float:
    """Microseconds of process CPU per call, fastest of ``rounds`` rounds of ``calls``."""
    assert await call(app, path, body) == 200
    best = math.inf
    for _ in range(rounds):
        began = time.process_time()
        for _ in range(calls):
            await call(app, path, body)
        best = min(best, (time.process_time() - began) / calls)
    return best * 1e6


def trained_tree(root: Path) -> tuple[Path, Path]:
    frame, truth = simulate(SimulationSpec(rows=3000, seed=7))
    data, _ = write_frames(frame, truth, root / "line.csv")
    artifacts = root / "artifacts"
    settings = load_settings(
        flags={"data": data, "artifacts": artifacts, "chunk_size": 1000}, environ={}
    )
    run_pipeline(settings)
    return artifacts, data


def bodies(artifacts: Path, data: Path, batch: int) -> tuple[bytes, bytes, bytes]:
    columns = list(Champion.load(artifacts).schema.features)
    frame = read_table(data)[columns].iloc[:batch].astype(object)
    rows = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    rows = json.loads(json.dumps(rows, default=lambda v: v.item()))
    table = {name: [r[name] for r in rows] for name in columns}
    return (
        json.dumps(rows[0]).encode(),
        json.dumps({"records": rows}).encode(),
        json.dumps({"columns": table}).encode(),
    )


async def measure(
    make_app: Callable[[], Any], one: bytes, records: bytes, columns: bytes, args: Any
) -> dict[str, float]:
    app = make_app()
    async with app.router.lifespan_context(app):
        return {
            "single": await cpu_per_call(app, "/predict", one, args.calls, args.rounds),
            "records": await cpu_per_call(
                app, "/predict/batch", records, args.batch_calls, args.rounds
            ),
            "columns": await cpu_per_call(
                app, "/predict/batch", columns, args.batch_calls, args.rounds
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, help="a trained tree (default: train one)")
    parser.add_argument("--data", type=Path, help="rows to send (default: the training file)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch-calls", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--request-log", type=Path, help="also log requests to this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.artifacts is None:
            artifacts, data = trained_tree(Path(tmp))
        else:
            artifacts, data = args.artifacts, args.data
        one, records, columns = bodies(artifacts, data, args.batch)
        settings = load_settings(flags={"artifacts": artifacts}, environ={})
        accepted = inspect.signature(create_app).parameters
        options: dict[str, Any] = {"poll_interval": None}
        if "monitor_interval" in accepted:
            options["monitor_interval"] = None  # the summary is off the request path anyway
        if args.request_log is not None:
            options["request_log"] = args.request_log
        result = asyncio.run(
            measure(lambda: create_app(settings, **options), one, records, columns, args)
        )
    print(f"\n| route | CPU µs per call (best of {args.rounds} rounds) |")
    print("|---|---:|")
    print(f"| /predict, 1 record | {result['single']:.1f} |")
    print(f"| /predict/batch, {args.batch} records | {result['records']:.0f} |")
    print(f"| /predict/batch, {args.batch} rows as columns | {result['columns']:.0f} |")


if __name__ == "__main__":
    main()
