"""The service in a real uvicorn process: readiness, real HTTP, and hot swaps under load."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from defectops.core.config import load_settings
from defectops.core.layout import METADATA, PRODUCTION_DIR, SCHEMA
from defectops.data.io import read_table
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.ops.run import run_pipeline
from defectops.registry.local import LocalRegistry

TOKEN = "uvicorn-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def commit(artifacts: Path, version: str) -> None:
    """Make the run's chunk model ``version`` the champion in production/ (metadata last)."""
    local = LocalRegistry(artifacts)
    for directory in sorted(local.models_dir.iterdir()):
        meta = json.loads((directory / METADATA).read_text())
        if str(meta.get("version")) == version:
            schema = json.loads((directory / SCHEMA).read_text())
            local.set_production(directory / meta["model_file"], meta, schema)
            return
    raise AssertionError(f"no chunk model with version {version}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("uvicorn")
    frame, truth = simulate(SimulationSpec(rows=3000, seed=7))
    data, _ = write_frames(frame, truth, root / "line.csv")
    artifacts = root / "artifacts"
    result = run_pipeline(
        load_settings(flags={"data": data, "artifacts": artifacts, "chunk_size": 1000}, environ={})
    )
    versions = [m["version"] for m in result.models if m["status"] == "production"]
    assert len(versions) >= 2
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEFECTOPS_")}
    env.update(
        DEFECTOPS_ARTIFACTS=str(artifacts),
        DEFECTOPS_ADMIN_TOKEN=TOKEN,
        DEFECTOPS_SERVE_POLL_INTERVAL="0.2",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "defectops.serving.app:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "service did not become ready"
            time.sleep(0.1)
        columns = httpx.get(f"{base}/model").json()["features"]
        names = columns["numeric"] + columns["categorical"]
        rows = read_table(data).iloc[:50][names].astype(object).to_dict("records")
        bodies = [
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in rows
        ]
        bodies = json.loads(json.dumps(bodies, default=lambda v: v.item()))
        yield {"base": base, "artifacts": artifacts, "versions": versions, "bodies": bodies}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_real_http_requests(served):
    base = served["base"]
    with httpx.Client(base_url=base) as client:
        assert client.get("/health").json() == {"status": "alive"}
        response = client.post("/predict", json=served["bodies"][0])
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == served["versions"][-1]
        batch = client.post("/predict/batch", json={"records": served["bodies"]})
        assert len(batch.json()["predictions"]) == len(served["bodies"])
        assert client.post("/predict", json={"x": 1}).status_code == 422
        assert client.post("/admin/reload").status_code == 401
        assert "defectops_http_requests_total" in client.get("/metrics").text
        assert client.get("/docs").status_code == 200


def test_hot_swap_under_load(served):
    base, artifacts, bodies = served["base"], served["artifacts"], served["bodies"]
    first, last = served["versions"][-2], served["versions"][-1]
    # (time, version): when each champion was committed to production/; "666" is corrupted
    timeline: list[tuple[float, str, float]] = [(0.0, last, 0.0)]
    results: list[tuple[float, float, int, str | None]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            i = 0
            while not stop.is_set() and i < 3000:
                started = time.monotonic()
                try:
                    response = client.post("/predict", json=bodies[i % len(bodies)])
                    status = response.status_code
                    version = response.json().get("model_version") if status == 200 else None
                except httpx.HTTPError:
                    status, version = -1, None
                with lock:
                    results.append((started, time.monotonic(), status, version))
                i += 1

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        with httpx.Client(base_url=base, timeout=30) as admin:
            for version in (first, last, first, last):
                time.sleep(0.3)
                committed = time.monotonic()
                commit(artifacts, version)
                assert admin.post("/admin/reload", headers=AUTH).status_code == 200
                timeline.append((committed, version, time.monotonic()))
            time.sleep(0.3)
            # a corrupted champion: new metadata pointing at a file that fails its checksum
            production = artifacts / PRODUCTION_DIR
            meta = json.loads((production / METADATA).read_text())
            bad = {**meta, "version": "666", "model_file": "model_corrupted.joblib"}
            (production / "model_corrupted.joblib").write_bytes(b"definitely not a model")
            (production / METADATA).write_text(json.dumps(bad))
            response = admin.post("/admin/reload", headers=AUTH)
            assert response.status_code == 409
            served = admin.get("/model").json()
            assert served["version"] == last  # refused: the last good champion serves on
            assert "model_corrupted.joblib" in served["last_reload_error"]
    finally:
        stop.set()
        for w in workers:
            w.join(30)
        commit(artifacts, last)

    assert len(results) > 100
    failed = [r for r in results if r[2] != 200]
    assert not failed, failed[:5]
    assert all(r[3] != "666" for r in results)
    # every answer came from a champion committed before the request ended and still served
    # when it started (a champion is served until the reload of the next one has returned)
    for started, ended, _, version in results:
        live = set()
        for i, (since, v, _) in enumerate(timeline):
            until = timeline[i + 1][2] if i + 1 < len(timeline) else math.inf
            if since <= ended and until >= started:
                live.add(v)
        assert version in live, (started, ended, version, timeline)
    seen = {r[3] for r in results}
    assert seen == {first, last}
