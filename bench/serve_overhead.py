"""CPU per request of the scoring routes, in process: what the service's own work costs.

wrk measures a whole server, so a change of a few per cent to the per-request work drowns in
the HTTP stack and in whatever else the machine is doing. This calls the ASGI app directly (the
middleware, the route, the scoring and everything kept on the side, no sockets) and counts
process CPU time, in many short rounds. Three apps on the same champion take turns in every
round: without the drift window (its calls made no-ops: the work of the service before it),
with it, and with the Parquet request log as well. On a shared machine a round's figures move
by 10% and more, so the change is the median of the rounds' paired ratios, not a difference of
best times:

    .venv/bin/python bench/serve_overhead.py                      # trains a small champion
    .venv/bin/python bench/serve_overhead.py --artifacts /tmp/serve-art --data holdout.csv

Prints Markdown tables: microseconds of CPU per ``/predict`` call and per 1,000-record
``/predict/batch`` call (records and columns bodies) with the change against the first app,
and the CPU spent inside the added parts themselves (timed where they run).
On an older version (no drift window) it measures that version as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from defectops.core.config import load_settings
from defectops.data.io import read_table
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.ops.run import run_pipeline
from defectops.scoring.predict import Champion
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


async def cpu_per_call(app: Any, path: str, body: bytes, calls: int) -> float:
    """Microseconds of process CPU (every thread, so request-log writes count) per call."""
    log = getattr(app.state, "request_log", None)
    began = time.process_time()
    for _ in range(calls):
        await call(app, path, body)
        await asyncio.sleep(0)  # let background tasks (the request log's flush) run
    if log is not None:  # what these calls left to write is part of their cost
        await asyncio.to_thread(log.flush)
    return (time.process_time() - began) / calls * 1e6


class Meter:
    """CPU time spent inside chosen methods (thread CPU: flushes run in a worker thread)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner: Any, method: str, part: str) -> None:
        inner = getattr(owner, method)
        self.spent.setdefault(part, 0.0)

        def timed(*args: Any) -> Any:
            began = time.thread_time()
            try:
                return inner(*args)
            finally:
                self.spent[part] += time.thread_time() - began

        setattr(owner, method, timed)

    def take(self) -> dict[str, float]:
        spent, self.spent = self.spent, dict.fromkeys(self.spent, 0.0)
        return spent


def trained_tree(root: Path) -> tuple[Path, Path]:
    frame, truth = simulate(SimulationSpec(rows=3000, seed=7))
    data, _ = write_frames(frame, truth, root / "line.csv")
    artifacts = root / "artifacts"
    settings = load_settings(
        flags={"data": data, "artifacts": artifacts, "chunk_size": 1000}, environ={}
    )
    run_pipeline(settings)
    return artifacts, data


def request_rows(data: Path, columns: list[str], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of ``data`` as a client sends them: JSON values, NaN as null."""
    frame = read_table(data)[columns].iloc[:limit].astype(object)
    rows = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    return json.loads(json.dumps(rows, default=lambda v: v.item()))  # numpy scalars as JSON


def bodies(artifacts: Path, data: Path, batch: int) -> tuple[bytes, bytes, bytes]:
    columns = list(Champion.load(artifacts).schema.features)
    rows = request_rows(data, columns, batch)
    table = {name: [r[name] for r in rows] for name in columns}
    return (
        json.dumps(rows[0]).encode(),
        json.dumps({"records": rows}).encode(),
        json.dumps({"columns": table}).encode(),
    )


async def measure(
    apps: dict[str, Any],
    requests: dict[str, tuple[str, bytes, int]],
    rounds: int,
    meter: Meter,
) -> tuple[dict[tuple[str, str], list[float]], dict[str, dict[str, float]]]:
    """CPU per call of each (variant, request) in every round; the variants take turns within a
    round, each round starting with another one, so a busy machine slows all of them alike. Also
    the mean CPU per call inside the metered methods, by request."""
    taken: dict[tuple[str, str], list[float]] = {}
    parts: dict[str, dict[str, float]] = {request: {} for request in requests}
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        for app in apps.values():
            for path, body, _ in requests.values():
                assert await call(app, path, body) == 200
        names = list(apps)
        for turn in range(rounds):
            order = names[turn % len(names) :] + names[: turn % len(names)]
            for request, (path, body, calls) in requests.items():
                for variant in order:
                    app = apps[variant]
                    meter.take()
                    cpu = await cpu_per_call(app, path, body, calls)
                    for part, seconds in meter.take().items():
                        mean = seconds / calls / rounds * 1e6
                        parts[request][part] = parts[request].get(part, 0.0) + mean
                    taken.setdefault((variant, request), []).append(cpu)
    return taken, parts


def without_monitor(app: Any) -> Any:
    """The app doing exactly its work before the window and histogram existed."""
    app.state.monitor.observe_one = lambda *args: None
    app.state.monitor.observe_many = lambda *args: None
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, help="a trained tree (default: train one)")
    parser.add_argument("--data", type=Path, help="rows to send (default: the training file)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200, help="single calls per round")
    parser.add_argument("--batch-calls", type=int, default=6, help="batch calls per round")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--request-log", type=Path, help="where the request log writes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.artifacts is None:
            artifacts, data = trained_tree(Path(tmp))
        else:
            artifacts, data = args.artifacts, args.data
        one, records, columns = bodies(artifacts, data, args.batch)
        settings = load_settings(flags={"artifacts": artifacts}, environ={})
        options: dict[str, Any] = {"poll_interval": None}
        apps: dict[str, Any] = {}
        meter = Meter()
        if "monitor_interval" not in inspect.signature(create_app).parameters:
            apps["as is"] = create_app(settings, **options)  # a version before the monitor
        else:
            options["monitor_interval"] = None  # the summary runs off the request path anyway
            apps["no window"] = without_monitor(create_app(settings, **options))
            apps["window"] = create_app(settings, **options)
            log_dir = args.request_log or Path(tmp) / "requests"
            logged = apps["window + log"] = create_app(settings, **options, request_log=log_dir)
            for method in ("observe_one", "observe_many"):
                meter.wrap(logged.state.monitor, method, "window + histogram")
            for method in ("add_one", "add_many"):
                meter.wrap(logged.state.request_log, method, "log: keep rows")
            meter.wrap(logged.state.request_log, "flush", "log: write Parquet")
        requests = {
            "/predict, 1 record": ("/predict", one, args.calls),
            f"/predict/batch, {args.batch} records": ("/predict/batch", records, args.batch_calls),
            f"/predict/batch, {args.batch} columns": ("/predict/batch", columns, args.batch_calls),
        }
        taken, parts = asyncio.run(measure(apps, requests, args.rounds, meter))
    variants = list(apps)
    print(
        f"\nCPU µs per call, median of {args.rounds} rounds; in brackets the median of the "
        f"rounds' changes against {variants[0]!r} (a round's apps ran back to back)\n"
    )
    print("| request | " + " | ".join(variants) + " |")
    print("|---|" + "---:|" * len(variants))
    for request in requests:
        base = taken[(variants[0], request)]
        cells = [f"{statistics.median(base):.1f}"]
        for variant in variants[1:]:
            values = taken[(variant, request)]
            change = statistics.median(v / b - 1 for v, b in zip(values, base, strict=True))
            cells.append(f"{statistics.median(values):.1f} ({100 * change:+.1f}%)")
        print(f"| {request} | " + " | ".join(cells) + " |")
    if meter.spent:
        names = list(meter.spent)
        print("\nMean CPU µs per call inside the added parts (measured in the last app)\n")
        print("| request | " + " | ".join(names) + " |")
        print("|---|" + "---:|" * len(names))
        for request, spent in parts.items():
            base = statistics.median(taken[(variants[0], request)])
            cells = [f"{spent[n]:.1f} ({100 * spent[n] / base:.1f}%)" for n in names]
            print(f"| {request} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
