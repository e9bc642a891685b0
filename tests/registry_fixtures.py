"""Helpers shared by ``test_registry_integration.py`` and ``test_resume.py``.

Everything here drives real components: the ``defectops`` console script in a child process, the
embedded MLflow store (a SQLite file read with :mod:`sqlite3` or :class:`mlflow.MlflowClient`), a
real ``mlflow server`` and ``mlflow models serve``. Nothing is mocked.

Runs use a small simulated line (3,000 training rows, the 1,000 rows that follow as hold-out,
``--chunk-size 500``: six chunks) and ``--model logreg``, which fits a chunk in well under a second,
so a whole run with MLflow takes about 15 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.registry.local import file_sha256

BIN = Path(sys.executable).parent
CONSOLE_SCRIPT = BIN / "defectops"
MODEL_NAME = "defect-classifier"
EXPERIMENT = "defectops"
TRAIN_ROWS = 3_000
HOLDOUT_ROWS = 1_000
CHUNK_SIZE = 500
N_CHUNKS = TRAIN_ROWS // CHUNK_SIZE
#: metadata keys that measure time, not the model: they differ between two identical runs
TIMING_KEYS = frozenset({"fit_seconds", "trained_at", "total_fit_seconds"})


# -- data and commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineData:
    train: Path
    holdout: Path
    #: a config with a wider non-inferiority margin: five of the six chunks are promoted
    #: (1, 2, 3, 5, 6) and chunk 4 fails acceptance, so there are several champions to roll back
    #: through and a local_only challenger to promote
    many_promotions: Path


def write_line_data(directory: Path) -> LineData:
    directory.mkdir(parents=True, exist_ok=True)
    frame, truth = simulate(SimulationSpec(rows=TRAIN_ROWS + HOLDOUT_ROWS, seed=7))
    train, _ = write_frames(
        frame.iloc[:TRAIN_ROWS], truth.iloc[:TRAIN_ROWS], directory / "line.csv"
    )
    rest = slice(TRAIN_ROWS, None)
    holdout, _ = write_frames(
        frame.iloc[rest].reset_index(drop=True),
        truth.iloc[rest].reset_index(drop=True),
        directory / "holdout.csv",
    )
    config = directory / "many_promotions.yaml"
    config.write_text("gate:\n  rule: non-inferiority\n  margin: 0.05\n", encoding="utf-8")
    return LineData(train, holdout, config)


def run_args(data: LineData, artifacts: Path, *extra: str | Path) -> list[str]:
    """``defectops run`` on the small line: six chunks of 500 rows, logreg."""
    return [
        "run",
        "--data",
        str(data.train),
        "--holdout-data",
        str(data.holdout),
        "--chunk-size",
        str(CHUNK_SIZE),
        "--model",
        "logreg",
        "--artifacts",
        str(artifacts),
        *(str(e) for e in extra),
    ]


def defectops_cmd(*args: str | Path) -> list[str]:
    """The installed console script, as a user would type it."""
    if CONSOLE_SCRIPT.exists():
        return [str(CONSOLE_SCRIPT), *(str(a) for a in args)]
    return [
        sys.executable,
        "-c",
        "from defectops.cli import main; main()",
        *(str(a) for a in args),
    ]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no DEFECTOPS_* or MLflow URI from the caller.

    The venv's ``bin`` comes first on PATH, as in an activated venv: ``mlflow models serve`` runs
    ``exec uvicorn ...`` through a shell and fails with ``uvicorn: not found`` without it.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("DEFECTOPS_")
        and k not in {"MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"}
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        defectops_cmd(*args),
        cwd=cwd,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str | Path, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``defectops ARGS`` in the background; output goes to ``log`` (never a full pipe)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            defectops_cmd(*args), cwd=cwd, env=child_env(), stdout=out, stderr=subprocess.STDOUT
        )


def expect_ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def sqlite_uri(artifacts: Path) -> str:
    """The embedded default store of a project (same as ``Settings.resolved_tracking_uri``)."""
    return f"sqlite:///{(artifacts / 'mlflow.db').resolve()}"


# -- processes ------------------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
    interval: float = 0.001,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail if ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"process exited ({proc.returncode}) before {what}\n{detail}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def sigkill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL one process we started, and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """End a server we started in its own session, and every process it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):  # workers left behind
        os.killpg(proc.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def post_json(url: str, payload: Any, timeout: float = 60) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")


# -- reading a project ----------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def run_state(artifacts: Path) -> dict[str, Any] | None:
    try:
        return read_json(artifacts / "run_state.json")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def completed_chunks(artifacts: Path) -> list[int]:
    state = run_state(artifacts)
    return list(state["completed"]) if state else []


def lock_record(artifacts: Path) -> dict[str, Any] | None:
    try:
        return read_json(artifacts / ".defectops.lock")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def db_query(artifacts: Path, sql: str, *, readonly: bool = True) -> list[tuple[Any, ...]] | None:
    """One query on the project's MLflow SQLite file; ``None`` while it cannot be read.

    Read-only while a run writes (never disturbs the writer); read-write after a SIGKILL, so a
    hot journal left by the killed writer is rolled back first, exactly as MLflow would on open.
    A read-only query does not wait for a lock: it is a poll, and SQLite's busy back-off (1, 2,
    5, 10 ms ...) would let the writer move past the window a kill aims at; the next poll comes
    a millisecond later anyway.
    """
    db = artifacts / "mlflow.db"
    if not db.exists():
        return None
    target = f"file:{db}?mode=ro" if readonly else f"file:{db}"
    try:
        connection = sqlite3.connect(target, uri=True, timeout=0.0 if readonly else 1.0)
    except sqlite3.Error:
        return None
    try:
        return connection.execute(sql).fetchall()
    except sqlite3.Error:
        return None
    finally:
        connection.close()


def version_count(artifacts: Path, *, readonly: bool = True) -> int | None:
    rows = db_query(artifacts, "SELECT count(*) FROM model_versions", readonly=readonly)
    return None if rows is None else int(rows[0][0])


def run_count(artifacts: Path, *, readonly: bool = True) -> int | None:
    rows = db_query(artifacts, "SELECT count(*) FROM runs", readonly=readonly)
    return None if rows is None else int(rows[0][0])


def alias_in_db(artifacts: Path, alias: str, *, readonly: bool = True) -> int | None:
    rows = db_query(
        artifacts,
        f"SELECT version FROM registered_model_aliases WHERE alias = '{alias}'",
        readonly=readonly,
    )
    return int(rows[0][0]) if rows else None


def typed_rows(frame: pd.DataFrame, schema: dict[str, Any]) -> pd.DataFrame:
    """Feature columns typed as the logged signature says: numbers as float, categories as text."""
    out = pd.DataFrame(index=frame.index)
    for column in schema["numeric"]:
        out[column] = frame[column].astype(float)
    for column in schema["categorical"]:
        out[column] = frame[column].astype(str)
    return out


def without_timing(value: Any, drop: frozenset[str] = frozenset()) -> Any:
    """``value`` without the timing keys (and ``drop``), at any depth."""
    if isinstance(value, dict):
        return {
            k: without_timing(v, drop)
            for k, v in value.items()
            if k not in TIMING_KEYS and k not in drop
        }
    if isinstance(value, list):
        return [without_timing(v, drop) for v in value]
    return value


@dataclass(frozen=True)
class Version:
    """A registered model version as plain data (MLflow returns ``version`` as int or str)."""

    version: str
    tags: dict[str, str]
    run_id: str | None
    source: str


def mlflow_state(uri: str) -> dict[str, Any]:
    """The registered model, its versions and aliases, and the runs, as plain data."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    registered = client.get_registered_model(MODEL_NAME)
    versions = sorted(
        (
            Version(str(v.version), dict(v.tags), v.run_id, str(v.source))
            for v in client.search_model_versions(f"name = '{MODEL_NAME}'")
        ),
        key=lambda v: int(v.version),
    )
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"no experiment {EXPERIMENT!r} in {uri}"
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("defectops.kind") == "run"]
    children = [r for r in runs if r.data.tags.get("defectops.kind") == "chunk"]
    step_metrics: dict[str, list[tuple[int, float]]] = {}
    for parent in parents:
        for key in sorted(parent.data.metrics):
            history = client.get_metric_history(parent.info.run_id, key)
            step_metrics[key] = sorted((m.step, m.value) for m in history)
    return {
        "client": client,
        "registered": registered,
        "aliases": {k: str(v) for k, v in registered.aliases.items()},
        "tags": dict(registered.tags),
        "versions": versions,
        "parents": parents,
        "children": children,
        "parent_step_metrics": step_metrics,
    }


def local_models(artifacts: Path) -> dict[str, dict[str, Any]]:
    """``incremental_models/model_XX`` -> its metadata.json (the files of every chunk)."""
    out = {}
    for directory in sorted((artifacts / "incremental_models").glob("model_*")):
        meta = read_json(directory / "metadata.json")
        files = sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
        out[directory.name] = {**meta, "_files": files}
    return out


def production_state(artifacts: Path) -> dict[str, Any]:
    meta = read_json(artifacts / "production" / "metadata.json")
    model_file = artifacts / "production" / meta["model_file"]
    return {"metadata": meta, "file_sha256": file_sha256(model_file)}
