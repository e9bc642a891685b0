"""A small real artifact tree and a real uvicorn service for the dashboard tests.

The tree comes from a real run: 3,000 simulated training rows, the 1,000 that follow as hold-out,
six chunks of 500 rows, ``logreg`` and a gate margin of 0.05 (``registry_fixtures``), so chunks
1, 2, 4, 5 and 6 are promoted and chunk 3 fails acceptance: a learning curve with a rejected
point, a five-step champion history and a champion to roll back to.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from defectops.core.config import Settings, load_settings
from defectops.ops.run import run_pipeline
from registry_fixtures import CHUNK_SIZE, LineData, free_port, write_line_data

PROMOTED = [1, 2, 4, 5, 6]
#: the chunk that fails acceptance
REJECTED = 3
CHUNKS = 6


@dataclass(frozen=True)
class Tree:
    root: Path
    artifacts: Path
    data: LineData


def tree_settings(artifacts: Path, data: LineData, **flags: object) -> Settings:
    return load_settings(
        data.many_promotions,
        flags={
            "data": data.train,
            "holdout_data": data.holdout,
            "chunk_size": CHUNK_SIZE,
            "model": "logreg",
            "artifacts": artifacts,
            **flags,
        },
        environ={},
    )


def build_tree(root: Path) -> Tree:
    """Run the pipeline once into ``root/artifacts`` and check it made the tree described above."""
    data = write_line_data(root / "data")
    artifacts = root / "artifacts"
    result = run_pipeline(tree_settings(artifacts, data))
    promoted = [m["chunk_id"] for m in result.models if m["status"] == "production"]
    assert promoted == PROMOTED, f"the fixture expects promotions {PROMOTED}, got {promoted}"
    return Tree(root, artifacts, data)


@dataclass(frozen=True)
class Service:
    base: str
    artifacts: Path
    log: Path
    pid: int


@contextlib.contextmanager
def uvicorn_service(
    artifacts: Path,
    log: Path,
    *,
    token: str | None,
    request_log: Path | None = None,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[Service]:
    """``defectops serve`` (uvicorn, one process) on a free port, until /health answers.

    ``env`` adds ``DEFECTOPS_SERVE_*`` limits and the like to the service's environment.
    """
    port = free_port()
    child = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEFECTOPS_")}
    child["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if token is not None:
        child["DEFECTOPS_ADMIN_TOKEN"] = token
    child.update(env or {})
    command = [
        sys.executable, "-m", "defectops", "serve",
        "--artifacts", str(artifacts),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--poll-interval", "0.2",
        "--monitor-interval", "0.5",
    ]  # fmt: skip
    if request_log is not None:
        command += ["--request-log", str(request_log)]
    command += args
    base = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, env=child, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"service exited:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.1)
        yield Service(base, artifacts, log, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
