"""Serving throughput: this service (uvicorn) vs ``mlflow models serve``, measured with wrk.

    D=$(mktemp -d)
    .venv/bin/defectops demo --artifacts $D/art --data-dir $D/data
    .venv/bin/python bench/serve.py --artifacts $D/art --data $D/data/holdout.csv --workers 2
    rm -rf "$D"

Needs ``wrk`` (``apt-get install -y wrk``). Prints a Markdown table: single-record requests/s
and p50/p99 latency at 8 connections, and batch rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from defectops.scoring.predict import Champion
from serve_overhead import request_rows  # the bench scripts' request helpers

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%f %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout} s")


def wrk(url: str, body: str, seconds: int, connections: int = 8) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % body)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    print(out, file=sys.stderr)
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    assert match, out
    requests, errors, duration_us, p50, p99 = match.groups()
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": int(requests) / (int(duration_us) / 1e6),
        "errors": int(errors) + (int(non2xx.group(1)) if non2xx else 0),
        "p50_ms": float(p50) / 1000,
        "p99_ms": float(p99) / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/serve-art"))
    parser.add_argument("--data", type=Path, default=Path("/tmp/serve-data/holdout.csv"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    champion = Champion.load(args.artifacts)
    columns_order = list(champion.schema.features)
    rows = request_rows(args.data, columns_order, args.batch)
    table: list[tuple[str, str, dict[str, float]]] = []

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEFECTOPS_")}
    env.update(DEFECTOPS_ARTIFACTS=str(args.artifacts), DEFECTOPS_SERVE_POLL_INTERVAL="2")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "defectops.serving.app:app_from_env",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--workers",
            str(args.workers),
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/ready", server)
        wrk(f"{base}/predict", json.dumps(rows[0]), 2)  # warm up
        label = f"defectops (uvicorn, {args.workers} worker{'s' * (args.workers > 1)})"
        table.append((label, "single", wrk(f"{base}/predict", json.dumps(rows[0]), args.seconds)))
        batch = wrk(f"{base}/predict/batch", json.dumps({"records": rows}), args.seconds)
        table.append((label, f"batch x{len(rows)} records", batch))
        columns = {name: [r[name] for r in rows] for name in columns_order}
        batch = wrk(f"{base}/predict/batch", json.dumps({"columns": columns}), args.seconds)
        table.append((label, f"batch x{len(rows)} columns", batch))
    finally:
        server.terminate()
        server.wait(30)

    if not args.skip_mlflow:
        port = free_port()
        # mlflow runs `exec uvicorn` through a shell: the venv's bin must be on PATH
        bin_dir = str(Path(sys.executable).parent)
        env = dict(
            os.environ,
            MLFLOW_TRACKING_URI=f"sqlite:///{args.artifacts.resolve()}/mlflow.db",
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                "models:/defect-classifier@champion",
                "--env-manager",
                "local",
                "-p",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/ping", server, timeout=180)
            one = json.dumps({"dataframe_records": [rows[0]]})
            wrk(f"{base}/invocations", one, 2)
            table.append(
                ("mlflow models serve", "single", wrk(f"{base}/invocations", one, args.seconds))
            )
            many = json.dumps({"dataframe_records": rows})
            batch = wrk(f"{base}/invocations", many, args.seconds)
            table.append(("mlflow models serve", f"batch x{len(rows)} records", batch))
        finally:
            server.terminate()
            server.wait(30)

    print("\n| server | request | req/s | rows/s | p50 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for server_name, kind, r in table:
        n = int(kind.split("x")[-1].split()[0]) if kind.startswith("batch") else 1
        print(
            f"| {server_name} | {kind} | {r['rps']:.0f} | {r['rps'] * n:.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']:.0f} |"
        )


if __name__ == "__main__":
    main()
