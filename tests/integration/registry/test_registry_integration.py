"""The MLflow side of defectops end to end, with real components only.

* the embedded store (SQLite + ``mlruns`` in the artifact directory) after a real ``defectops run``:
  runs, nested chunk runs, per-step metrics, one registered version per chunk, aliases, and the
  local ``production/`` copy, read back with a plain :class:`mlflow.MlflowClient`;
* plain ``mlflow.pyfunc.load_model("models:/NAME@champion")`` in a fresh process;
* a real ``mlflow server`` process on localhost as the tracking and registry store;
* a real ``mlflow models serve`` answering ``POST /invocations``;
* ``rollback`` / ``promote`` / ``history`` / ``models`` against the store and the local tree;
* tampered model files, in ``production/`` and in the MLflow artifact store.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from defectops.registry.history import who
from defectops.registry.local import file_sha256
from registry_fixtures import (
    BIN,
    MODEL_NAME,
    N_CHUNKS,
    LineData,
    child_env,
    expect_ok,
    free_port,
    http_ok,
    mlflow_state,
    post_json,
    production_state,
    read_json,
    read_jsonl,
    run_args,
    run_cli,
    sqlite_uri,
    start_cli,
    stop_group,
    typed_rows,
    wait_until,
    write_line_data,
)

pytestmark = pytest.mark.slow

TRACKED = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "mcc", "roc_auc")
TRACKED += ("pr_auc", "brier")


# -- fixtures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    root: Path
    artifacts: Path
    uri: str

    @property
    def report(self) -> dict[str, Any]:
        return read_json(self.artifacts / "reports" / "incremental_training_report.json")

    @property
    def history(self) -> list[dict[str, Any]]:
        return read_jsonl(self.artifacts / "registry_history.jsonl")

    def cli(self, *args: str | Path, tracking: bool = False) -> subprocess.CompletedProcess[str]:
        extra: list[str | Path] = ["--artifacts", self.artifacts]
        if tracking:
            extra += ["--tracking-uri", self.uri]
        return run_cli(*args, *extra, cwd=self.root)


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> LineData:
    return write_line_data(tmp_path_factory.mktemp("line"))


@pytest.fixture(scope="module")
def projects(
    line: LineData, tmp_path_factory: pytest.TempPathFactory, server_process: Server
) -> dict[str, Project]:
    """Two real runs on the embedded store, started together (they use separate directories).

    The tracking server of section 3 boots meanwhile (``server_process``), to save time.

    ``ro``: the default gate (champion chunk 6, challenger chunk 3); only read by the tests.
    ``rw``: five promotions (chunks 1, 2, 4, 5, 6; chunk 3 rejected); rollback/promote/tamper.
    """
    made: dict[str, Project] = {}
    running = {}
    for name, extra in (("ro", ()), ("rw", ("--config", line.many_promotions))):
        root = tmp_path_factory.mktemp(f"project-{name}")
        artifacts = root / "artifacts"
        made[name] = Project(root, artifacts, sqlite_uri(artifacts))
        running[name] = start_cli(
            *run_args(line, artifacts, *extra), cwd=root, log=root / "run.log"
        )
    for name, proc in running.items():
        returncode = proc.wait(timeout=300)
        log = (made[name].root / "run.log").read_text(errors="replace")
        assert returncode == 0, f"{name}: exit {returncode}\n{log[-4000:]}"
    return made


@pytest.fixture(scope="module")
def ro(projects: dict[str, Project]) -> Project:
    return projects["ro"]


@pytest.fixture(scope="module")
def rw(projects: dict[str, Project]) -> Project:
    return projects["rw"]


@pytest.fixture(scope="module")
def holdout_predictions(ro: Project, line: LineData) -> pd.DataFrame:
    """``defectops predict`` on the whole hold-out file (Parquet out: exact floats)."""
    out = ro.root / "scored.parquet"
    expect_ok(ro.cli("predict", "--data", line.holdout, "--out", out))
    return pd.read_parquet(out)


PYFUNC_SCRIPT = """
import json, os, sys
import mlflow
import pandas as pd

model_uri, rows, out = sys.argv[1:4]
mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
model = mlflow.pyfunc.load_model(model_uri)
predictions = model.predict(pd.read_parquet(rows))
inputs = model.metadata.get_input_schema().to_dict()
with open(out, "w") as handle:
    json.dump({"predictions": [float(p) for p in predictions], "inputs": inputs}, handle)
"""


def pyfunc_predict(
    uri: str, model_uri: str, rows: pd.DataFrame, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """Plain MLflow in a fresh process: only MLFLOW_TRACKING_URI points it at the store."""
    rows_file = workdir / "pyfunc_rows.parquet"
    rows.to_parquet(rows_file, index=False)
    out = workdir / "pyfunc_out.json"
    out.unlink(missing_ok=True)
    return subprocess.run(
        [sys.executable, "-c", PYFUNC_SCRIPT, model_uri, str(rows_file), str(out)],
        cwd=workdir,
        env=child_env(MLFLOW_TRACKING_URI=uri),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def feature_schema(project: Project) -> dict[str, Any]:
    return read_json(project.artifacts / "production" / "feature_schema.json")["schema"]


@contextlib.contextmanager
def flipped_byte(path: Path) -> Iterator[None]:
    """Change one byte in the middle of ``path``; put it back afterwards."""
    original = path.read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0x01
    path.write_bytes(bytes(changed))
    try:
        yield
    finally:
        path.write_bytes(original)


def user_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 2 with exactly one ``error: ...`` line on stderr and no traceback."""
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table (``│ a │ b │``), cells stripped; continuation lines merged."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0] or not rows:
            rows.append(cells)
        else:  # a wrapped cell continues on the next line with an empty first column
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    return rows


def assert_production_is(project: Project, version: str) -> None:
    """``production/`` holds exactly the registered version's verified file."""
    state = mlflow_state(project.uri)
    by_version = {v.version: v for v in state["versions"]}
    production = production_state(project.artifacts)
    assert str(production["metadata"]["version"]) == version
    assert production["file_sha256"] == production["metadata"]["model_sha256"]
    assert production["file_sha256"] == by_version[version].tags["model_sha256"]
    assert production["metadata"]["chunk_id"] == int(by_version[version].tags["chunk"])
    joblibs = sorted(p.name for p in (project.artifacts / "production").glob("*.joblib"))
    assert joblibs == [production["metadata"]["model_file"]]


def version_artifact(project: Project, version: str, name: str) -> Path:
    """A file of a version's logged model inside ``<artifacts>/mlruns``."""
    state = mlflow_state(project.uri)
    uri = state["client"].get_model_version_download_uri(MODEL_NAME, version)
    assert uri.startswith("file://"), uri
    path = Path(uri.removeprefix("file://")) / "artifacts" / name
    assert path.is_file(), path
    assert path.resolve().is_relative_to((project.artifacts / "mlruns").resolve())
    return path


# -- 1. the embedded store after a run ------------------------------------------------------------


def test_embedded_store_has_parent_run_nested_chunk_runs_and_step_metrics(ro: Project) -> None:
    state = mlflow_state(ro.uri)
    models = {m["chunk_id"]: m for m in ro.report["models"]}
    assert sorted(models) == list(range(1, N_CHUNKS + 1))

    assert len(state["parents"]) == 1
    parent = state["parents"][0]
    assert parent.info.status == "FINISHED"
    assert len(state["children"]) == N_CHUNKS
    by_chunk = {int(r.data.tags["defectops.chunk"]): r for r in state["children"]}
    assert sorted(by_chunk) == list(range(1, N_CHUNKS + 1))
    for chunk, run in by_chunk.items():
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.params["chunk"] == str(chunk)
        for name in TRACKED:
            assert run.data.metrics[f"holdout_{name}"] == pytest.approx(
                models[chunk]["metrics"][name], abs=1e-12
            ), (chunk, name)

    # the learning curves: one point per chunk on the parent, step = chunk
    for name in ("pr_auc", "roc_auc", "f1"):
        curve = state["parent_step_metrics"][f"holdout_{name}"]
        assert [step for step, _ in curve] == list(range(1, N_CHUNKS + 1))
        for step, value in curve:
            assert value == pytest.approx(models[step]["metrics"][name], abs=1e-12)
    assert parent.data.metrics["best_pr_auc"] == pytest.approx(
        max(m["metrics"]["pr_auc"] for m in models.values()), abs=1e-12
    )


def test_one_version_per_chunk_with_tags_aliases_and_production_copy(ro: Project) -> None:
    state = mlflow_state(ro.uri)
    models = {m["chunk_id"]: m for m in ro.report["models"]}
    versions = state["versions"]
    assert len(versions) == N_CHUNKS
    runs = {r.info.run_id: r for r in state["children"]}
    by_chunk = {}
    for v in versions:
        chunk = int(v.tags["chunk"])
        meta = models[chunk]
        assert chunk not in by_chunk, f"two versions for chunk {chunk}"
        by_chunk[chunk] = v
        assert v.tags["status"] == meta["status"]
        assert v.tags["reason"] == meta["reason"] and v.tags["reason"]
        assert v.tags["model_sha256"] == meta["model_sha256"]
        assert str(meta["version"]) == v.version
        assert runs[v.run_id].data.tags["defectops.chunk"] == str(chunk)
        local = ro.artifacts / "incremental_models" / f"model_{chunk:02d}" / meta["model_file"]
        assert file_sha256(local) == meta["model_sha256"]
        # the logged model carries the very same classifier file
        assert (
            file_sha256(version_artifact(ro, v.version, meta["model_file"]))
            == (meta["model_sha256"])
        )

    statuses = {c: m["status"] for c, m in models.items()}
    assert set(statuses.values()) == {"production", "local_only"}, statuses
    champion_chunk = ro.report["champion"]["chunk_id"]
    assert state["aliases"]["champion"] == by_chunk[champion_chunk].version
    rejected = [c for c, s in statuses.items() if s == "local_only"]
    if rejected:
        assert state["aliases"]["challenger"] == by_chunk[max(rejected)].version
    else:
        assert "challenger" not in state["aliases"]

    production = read_json(ro.artifacts / "production" / "metadata.json")
    assert str(production["version"]) == state["aliases"]["champion"]
    assert production["chunk_id"] == champion_chunk
    assert production["model_sha256"] == by_chunk[champion_chunk].tags["model_sha256"]
    assert_production_is(ro, state["aliases"]["champion"])

    # every alias change of the run is in the history file and mirrored as a model tag
    history = ro.history
    assert [e["action"] for e in history] == ["gate"] * len(history)
    assert history[-1]["to_version"] == state["aliases"]["champion"]
    tags = {k: json.loads(v) for k, v in state["tags"].items() if k.startswith("history.")}
    assert tags == {f"history.{e['seq']:06d}": e for e in history}


# -- 2. plain MLflow pyfunc -----------------------------------------------------------------------


def test_plain_mlflow_pyfunc_champion_predicts_like_defectops_predict(
    ro: Project, line: LineData, holdout_predictions: pd.DataFrame
) -> None:
    schema = feature_schema(ro)
    rows = typed_rows(pd.read_csv(line.holdout), schema)
    result = pyfunc_predict(ro.uri, f"models:/{MODEL_NAME}@champion", rows, ro.root)
    assert result.returncode == 0, result.stderr[-4000:]
    out = read_json(ro.root / "pyfunc_out.json")
    # the logged signature names the feature columns, of any type: the model reads them by its
    # own data contract (tests/integration/registry/test_mlflow_interop.py gives it what pandas
    # reads from a CSV)
    logged = {c["name"]: c["type"] for c in out["inputs"]}
    assert logged == dict.fromkeys([*schema["numeric"], *schema["categorical"]], "any")
    expected = holdout_predictions["defect_probability"].to_numpy()
    assert len(out["predictions"]) == len(expected) == len(rows)
    np.testing.assert_allclose(out["predictions"], expected, rtol=0, atol=1e-9)


# -- 3. a real tracking server --------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    root: Path
    log: Path
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``mlflow server`` with its own SQLite store and proxied artifacts, on a free port.

    Started here without waiting (see ``projects``: it boots while the embedded runs train);
    :func:`mlflow_server` waits for ``/health``.
    """
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = root / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'srv.db'}",
                "--artifacts-destination",
                str(root / "srv-art"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=root,
            env=child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are in its process group: stopped together
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", root, log, proc)
    finally:
        stop_group(proc)


@pytest.fixture(scope="module")
def mlflow_server(server_process: Server) -> Server:
    wait_until(
        lambda: http_ok(f"{server_process.url}/health"),
        timeout=120,
        interval=0.25,
        what=f"mlflow server /health on {server_process.url}",
        proc=server_process.proc,
        log=server_process.log,
    )
    return server_process


@pytest.fixture(scope="module")
def server_run(
    mlflow_server: Server, line: LineData, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Project, subprocess.CompletedProcess[str]]:
    """``defectops run --tracking-uri http://127.0.0.1:PORT`` (the real CLI, the real server)."""
    root = tmp_path_factory.mktemp("project-server")
    project = Project(root, root / "artifacts", mlflow_server.url)
    args = run_args(line, project.artifacts, "--config", line.many_promotions)
    result = run_cli(*args, "--tracking-uri", mlflow_server.url, cwd=root)
    return project, result


def test_server_run_registers_every_chunk_and_sets_champion(
    server_run: tuple[Project, subprocess.CompletedProcess[str]],
) -> None:
    project, result = server_run
    expect_ok(result)
    state = mlflow_state(project.uri)
    assert len(state["parents"]) == 1 and len(state["children"]) == N_CHUNKS
    chunks = {int(v.tags["chunk"]): v for v in state["versions"]}
    assert sorted(chunks) == list(range(1, N_CHUNKS + 1))
    champion_chunk = project.report["champion"]["chunk_id"]
    assert state["aliases"]["champion"] == chunks[champion_chunk].version
    assert_production_is(project, state["aliases"]["champion"])
    # nothing went to an embedded store by mistake
    assert not (project.artifacts / "mlflow.db").exists()
    assert not (project.root / "mlflow.db").exists()


def test_server_pyfunc_champion_predicts_like_defectops_predict(
    server_run: tuple[Project, subprocess.CompletedProcess[str]], line: LineData
) -> None:
    project, result = server_run
    expect_ok(result)
    scored = project.root / "scored.parquet"
    expect_ok(project.cli("predict", "--data", line.holdout, "--out", scored))
    rows = typed_rows(pd.read_csv(line.holdout), feature_schema(project))
    loaded = pyfunc_predict(project.uri, f"models:/{MODEL_NAME}@champion", rows, project.root)
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    got = read_json(project.root / "pyfunc_out.json")["predictions"]
    expected = pd.read_parquet(scored)["defect_probability"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_server_models_verb_lists_versions_and_aliases(
    server_run: tuple[Project, subprocess.CompletedProcess[str]],
) -> None:
    project, result = server_run
    expect_ok(result)
    listed = expect_ok(project.cli("models", tracking=True)).stdout
    rows = {r[0]: r for r in table_rows(listed)}
    assert sorted(rows, key=int) == [str(v) for v in range(1, N_CHUNKS + 1)]
    champion = mlflow_state(project.uri)["aliases"]["champion"]
    assert "champion" in rows[champion][-1]


def test_server_rollback_and_promote_verbs(
    server_run: tuple[Project, subprocess.CompletedProcess[str]],
) -> None:
    project, result = server_run
    expect_ok(result)
    before = mlflow_state(project.uri)["aliases"]["champion"]
    gate = [e["to_version"] for e in project.history]
    expect_ok(project.cli("rollback", "--reason", "server rollback", tracking=True))
    after = mlflow_state(project.uri)["aliases"]["champion"]
    assert after == gate[-2] != before
    assert_production_is(project, after)
    expect_ok(project.cli("promote", before, "--reason", "back again", tracking=True))
    assert mlflow_state(project.uri)["aliases"]["champion"] == before
    assert_production_is(project, before)
    assert [e["action"] for e in project.history[-2:]] == ["rollback", "promote"]


# -- 4. mlflow models serve -----------------------------------------------------------------------


def test_mlflow_models_serve_answers_invocations_like_defectops_predict(
    ro: Project, line: LineData, holdout_predictions: pd.DataFrame
) -> None:
    """``mlflow models serve -m models:/NAME@champion --env-manager local`` in a child process.

    PATH must hold the venv's ``bin``: MLflow starts ``exec uvicorn ...`` through a shell.
    """
    port = free_port()
    log = ro.root / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{MODEL_NAME}@champion",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=ro.root,
            env=child_env(MLFLOW_TRACKING_URI=ro.uri),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: http_ok(f"{url}/ping"),
            timeout=120,
            interval=0.25,
            what="mlflow models serve /ping",
            proc=proc,
            log=log,
        )
        schema = feature_schema(ro)
        columns = [*schema["numeric"], *schema["categorical"]]
        rows = typed_rows(pd.read_csv(line.holdout).iloc[:7], schema)[columns]
        payload = {"dataframe_split": {"columns": columns, "data": rows.to_numpy().tolist()}}
        assert isinstance(payload["dataframe_split"]["data"][0][0], float)
        assert isinstance(payload["dataframe_split"]["data"][0][-1], str)
        status, body = post_json(f"{url}/invocations", payload)
        assert status == 200, body
        expected = holdout_predictions["defect_probability"].to_numpy()[:7]
        np.testing.assert_allclose(body["predictions"], expected, rtol=0, atol=1e-9)
    finally:
        stop_group(proc)


# -- 5. rollback, promote, history, models --------------------------------------------------------


def test_rollback_twice_then_promote_a_local_only_version(rw: Project) -> None:
    state = mlflow_state(rw.uri)
    statuses = {v.version: v.tags["status"] for v in state["versions"]}
    gate_champions = [e["to_version"] for e in rw.history if e["action"] == "gate"]
    assert len(gate_champions) >= 3, gate_champions  # the data gives several promotions
    assert state["aliases"]["champion"] == gate_champions[-1]
    start = len(rw.history)

    first = expect_ok(rw.cli("rollback", "--reason", "bad batch"))
    assert f"version {gate_champions[-2]}" in first.stdout
    assert mlflow_state(rw.uri)["aliases"]["champion"] == gate_champions[-2]
    assert_production_is(rw, gate_champions[-2])

    expect_ok(rw.cli("rollback", "--reason", "still bad"))  # one further back, not back again
    assert mlflow_state(rw.uri)["aliases"]["champion"] == gate_champions[-3]
    assert_production_is(rw, gate_champions[-3])

    local_only = max((v for v, s in statuses.items() if s == "local_only"), key=int)
    expect_ok(rw.cli("promote", local_only, "--reason", "line 3 retooled"))
    state = mlflow_state(rw.uri)
    assert state["aliases"]["champion"] == local_only
    assert_production_is(rw, local_only)

    added = rw.history[start:]
    assert [(e["action"], e["from_version"], e["to_version"], e["reason"]) for e in added] == [
        ("rollback", gate_champions[-1], gate_champions[-2], "bad batch"),
        ("rollback", gate_champions[-2], gate_champions[-3], "still bad"),
        ("promote", gate_champions[-3], local_only, "line 3 retooled"),
    ]
    for entry in added:
        assert entry["by"] == who() and entry["alias"] == "champion"
        assert json.loads(state["tags"][f"history.{entry['seq']:06d}"]) == entry


def test_promote_of_a_missing_version_exits_2_naming_it(rw: Project) -> None:
    before = mlflow_state(rw.uri)["aliases"]
    history = rw.history
    production = production_state(rw.artifacts)
    line = user_error_line(rw.cli("promote", "99", "--reason", "typo"))
    assert "version 99" in line and MODEL_NAME in line
    assert mlflow_state(rw.uri)["aliases"] == before
    assert rw.history == history
    assert production_state(rw.artifacts) == production


def test_history_verb_lists_every_entry_and_tags_mirror_the_file(rw: Project) -> None:
    history = rw.history
    assert history, "the run recorded no alias change"
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    rows = table_rows(expect_ok(rw.cli("history")).stdout)
    assert [int(r[0]) for r in rows] == [e["seq"] for e in history]
    for row, entry in zip(rows, history, strict=True):
        assert row[2] == entry["alias"] and row[5] == entry["action"] and row[6] == entry["by"]
        assert row[4].startswith(f"v{entry['to_version']}")
    tags = mlflow_state(rw.uri)["tags"]
    mirrored = {k: json.loads(v) for k, v in tags.items() if k.startswith("history.")}
    assert mirrored == {f"history.{e['seq']:06d}": e for e in history}


def test_models_verb_lists_every_version_with_its_aliases(rw: Project) -> None:
    state = mlflow_state(rw.uri)
    rows = {r[0]: r for r in table_rows(expect_ok(rw.cli("models")).stdout)}
    assert sorted(rows, key=int) == [v.version for v in state["versions"]]
    for v in state["versions"]:
        row = rows[v.version]
        assert row[1] == v.tags["chunk"] and row[2] == v.tags["status"]
        shown = {a.strip() for a in row[6].split(",") if a.strip()}
        expected = {alias for alias, version in state["aliases"].items() if version == v.version}
        assert shown == expected, (v.version, row)


# -- 6. tampered model files ----------------------------------------------------------------------


def test_tampered_production_file_is_refused_by_predict(rw: Project, line: LineData) -> None:
    production = read_json(rw.artifacts / "production" / "metadata.json")
    model_file = rw.artifacts / "production" / production["model_file"]
    out = rw.root / "tampered.csv"
    with flipped_byte(model_file):
        message = user_error_line(rw.cli("predict", "--data", line.holdout, "--out", out))
        assert str(model_file) in message and "sha256" in message
        assert not out.exists()
    expect_ok(rw.cli("predict", "--data", line.holdout, "--out", out))  # intact again


def test_promote_of_a_tampered_mlflow_artifact_is_refused(rw: Project) -> None:
    state = mlflow_state(rw.uri)
    champion = state["aliases"]["champion"]
    target = next(v for v in reversed(state["versions"]) if v.version != champion)
    model_file = f"model_chunk_{int(target.tags['chunk']):02d}.joblib"
    artifact = version_artifact(rw, target.version, model_file)
    history = rw.history
    production = production_state(rw.artifacts)
    with flipped_byte(artifact):
        message = user_error_line(rw.cli("promote", target.version, "--reason", "try it"))
        assert model_file in message and "sha256" in message
    assert mlflow_state(rw.uri)["aliases"]["champion"] == champion
    assert rw.history == history
    assert production_state(rw.artifacts) == production


def test_plain_mlflow_refuses_a_tampered_mlflow_artifact(rw: Project, line: LineData) -> None:
    """The pyfunc's load_context runs the same sha256 check as defectops."""
    state = mlflow_state(rw.uri)
    target = state["versions"][0]
    model_file = f"model_chunk_{int(target.tags['chunk']):02d}.joblib"
    artifact = version_artifact(rw, target.version, model_file)
    rows = typed_rows(pd.read_csv(line.holdout).iloc[:3], feature_schema(rw))
    model_uri = f"models:/{MODEL_NAME}/{target.version}"
    with flipped_byte(artifact):
        refused = pyfunc_predict(rw.uri, model_uri, rows, rw.root)
    assert refused.returncode != 0
    assert "does not match its recorded sha256" in refused.stderr
    assert "IntegrityError" in refused.stderr
    assert pyfunc_predict(rw.uri, model_uri, rows, rw.root).returncode == 0  # intact again
