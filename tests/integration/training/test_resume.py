"""Kill ``defectops run`` with SIGKILL at chosen points, start it again, compare with a clean run.

Every run here is the real console script in a child process on the same small line (six chunks
of 500 rows, logreg, a gate margin that promotes chunks 1, 2, 4, 5 and 6 and rejects chunk 3), with
the embedded MLflow store. The kill points are found by watching what the run writes, polled every
millisecond from this process:

* ``run_state.json`` (the chunks a run has finished), read as JSON;
* the MLflow SQLite file, read with :mod:`sqlite3` in read-only mode (``model_versions``, ``runs``,
  ``registered_model_aliases``): faster and less intrusive than an ``MlflowClient`` per poll.

After each kill the state on disk is recorded (run_state.json, the SQLite rows, the
``incremental_models/model_XX`` directories, the lock file, the history), so the tests can check
that the kill really landed in the intended window (not just "somewhere"); then the run is
started again with the same command.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from defectops.registry.local import file_sha256
from registry_fixtures import (
    MODEL_NAME,
    N_CHUNKS,
    LineData,
    alias_in_db,
    completed_chunks,
    db_query,
    expect_ok,
    local_models,
    lock_record,
    mlflow_state,
    production_state,
    read_json,
    read_jsonl,
    run_args,
    run_cli,
    run_count,
    run_state,
    sigkill,
    sqlite_uri,
    start_cli,
    version_count,
    wait_until,
    without_timing,
    write_line_data,
)

pytestmark = pytest.mark.slow

#: the chunk the gate rejects on this line (see registry_fixtures.LineData)
REJECTED_CHUNK = 3


# -- running and killing --------------------------------------------------------------------------


@dataclass
class Kill:
    """One SIGKILL: where it was aimed and what the run had left on disk."""

    name: str
    pid: int
    completed: list[int]
    versions: int | None
    runs: int | None
    champion: int | None
    challenger: int | None
    model_dirs: list[str]
    lock: dict[str, Any] | None
    history_to: list[str]
    chunk_runs: dict[int, tuple[str, int]] = field(default_factory=dict)  # status, metric count
    newest_saved: int | None = None  # the newest model file this attempt wrote, if looked for


@dataclass
class Outcome:
    root: Path
    artifacts: Path
    kills: list[Kill]
    final: subprocess.CompletedProcess[str]
    final_lock_pid: int | None = None


def observe(name: str, pid: int, artifacts: Path) -> Kill:
    """What a killed run left behind (the DB opened read-write: a hot journal is rolled back)."""
    chunk_runs = {}
    rows = db_query(
        artifacts,
        "SELECT r.name, r.status, count(m.key) FROM runs r "
        "LEFT JOIN latest_metrics m ON m.run_uuid = r.run_uuid "
        "WHERE r.name LIKE 'chunk-%' GROUP BY r.run_uuid",
        readonly=False,
    )
    for run_name, status, n_metrics in rows or []:
        chunk_runs[int(run_name.removeprefix("chunk-"))] = (status, int(n_metrics))
    models = artifacts / "incremental_models"
    return Kill(
        name=name,
        pid=pid,
        completed=completed_chunks(artifacts),
        versions=version_count(artifacts, readonly=False),
        runs=run_count(artifacts, readonly=False),
        champion=alias_in_db(artifacts, "champion", readonly=False),
        challenger=alias_in_db(artifacts, "challenger", readonly=False),
        model_dirs=sorted(p.name for p in models.iterdir()) if models.exists() else [],
        lock=lock_record(artifacts),
        history_to=[e["to_version"] for e in read_jsonl(artifacts / "registry_history.jsonl")],
        chunk_runs=chunk_runs,
    )


def start_run(line: LineData, root: Path, artifacts: Path, log: Path) -> subprocess.Popen[bytes]:
    args = run_args(line, artifacts, "--config", line.many_promotions)
    return start_cli(*args, cwd=root, log=log)


def run_and_kill(
    line: LineData,
    root: Path,
    artifacts: Path,
    name: str,
    trigger: Callable[[], Any],
    settle: float = 0.0,
) -> Kill:
    """Start the run, SIGKILL it as soon as ``trigger()`` holds (plus ``settle`` seconds)."""
    log = root / f"{name}.log"
    proc = start_run(line, root, artifacts, log)
    try:
        wait_until(trigger, timeout=240, what=f"kill point {name}", proc=proc, log=log)
        if settle:
            time.sleep(settle)
        sigkill(proc)
    finally:
        if proc.poll() is None:
            sigkill(proc)
    assert proc.returncode == -9, f"{name}: the run ended by itself ({proc.returncode})"
    return observe(name, proc.pid, artifacts)


def kill_in_window(
    line: LineData,
    root: Path,
    artifacts: Path,
    name: str,
    trigger: Callable[[], Any],
    landed: Callable[[Kill], bool],
    attempts: int = 3,
) -> Kill:
    """:func:`run_and_kill`, tried again from the same state while the kill lands too late.

    The windows between two writes of a run last milliseconds; on a busy machine the poll can
    see a trigger late and the SIGKILL land after the window closed. The state before the attempt
    is copied aside, and put back before the next one, so every attempt starts where the earlier
    kills left the run. ``landed`` says whether a kill hit its window.
    """
    before = root / f"{name}.before"
    if artifacts.exists():
        shutil.copytree(artifacts, before)
    kill = None
    for attempt in range(attempts):
        if attempt:
            shutil.rmtree(artifacts)
            if before.exists():
                shutil.copytree(before, artifacts)
        kill = run_and_kill(line, root, artifacts, name, trigger)
        if landed(kill):
            return kill
    raise AssertionError(f"{name}: every kill came after its window: last kill {kill}")


def finish(line: LineData, root: Path, artifacts: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Run the same command to completion; also return the pid its lock file named."""
    log = root / "final.log"
    proc = start_run(line, root, artifacts, log)
    seen: dict[str, int] = {}

    def new_holder() -> bool:
        record = lock_record(artifacts)
        if record and record["pid"] == proc.pid:
            seen["pid"] = record["pid"]
        return bool(seen) or proc.poll() is not None

    wait_until(new_holder, timeout=240, what="the final run's lock", interval=0.005)
    proc.wait(timeout=300)
    output = log.read_text(errors="replace")
    done = subprocess.CompletedProcess(proc.args, proc.returncode, output, "")
    return done, seen.get("pid", -1)


def versions_at_least(artifacts: Path, n: int) -> Callable[[], bool]:
    return lambda: (version_count(artifacts) or 0) >= n


def chunks_done(artifacts: Path, n: int) -> Callable[[], bool]:
    return lambda: len(completed_chunks(artifacts)) >= n


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> LineData:
    return write_line_data(tmp_path_factory.mktemp("line"))


@dataclass
class Reference:
    root: Path
    artifacts: Path
    returncode: int
    holder: dict[str, Any]
    second: subprocess.CompletedProcess[str]
    holder_alive_after_second: bool


@pytest.fixture(scope="module")
def reference(line: LineData, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted run; while it holds the lock, a second run on the same directory."""
    root = tmp_path_factory.mktemp("reference")
    artifacts = root / "artifacts"
    log = root / "reference.log"
    proc = start_run(line, root, artifacts, log)
    try:
        holder = wait_until(
            lambda: lock_record(artifacts),
            timeout=120,
            interval=0.01,
            what="the reference run's lock",
            proc=proc,
            log=log,
        )
        second = run_cli(*run_args(line, artifacts, "--config", line.many_promotions), cwd=root)
        alive = proc.poll() is None
        returncode = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            sigkill(proc)
    assert returncode == 0, log.read_text(errors="replace")[-4000:]
    return Reference(root, artifacts, returncode, holder, second, alive)


def kill_in_a_fit(line: LineData, root: Path, artifacts: Path, after: int) -> Kill:
    """SIGKILL 10 ms after this attempt saves the model of chunk ``after`` (or a later one, when
    an earlier attempt got further): inside the next chunk's fit (a logreg fit takes ~50 ms
    here; scoring and the gate's bootstrap follow before anything is written). The fit starts as
    soon as the model before it is saved, while that model is still being recorded, so the kill
    may also cut its record short.

    Checked afterwards: the newest model this attempt saved is not the last chunk's, so a fit was
    still to come. Should the kill come too late on a busy machine, it is tried twice more.
    """

    def newest_saved(began: int) -> int:
        written = [
            int(path.parent.name.removeprefix("model_"))
            for path in (artifacts / "incremental_models").glob("model_*/metadata.json")
            if path.stat().st_mtime_ns >= began
        ]
        return max(written, default=0)

    for attempt in range(3):
        began = time.time_ns()
        kill = run_and_kill(
            line,
            root,
            artifacts,
            f"a-fit-{attempt + 1}",
            lambda began=began: newest_saved(began) >= after,
            settle=0.01,
        )
        newest = newest_saved(began)
        if newest < N_CHUNKS:
            return replace(kill, newest_saved=newest)
    raise AssertionError(f"never killed inside a fit: last kill {kill}")


@pytest.fixture(scope="module")
def resumed(line: LineData, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The same run killed four times, then started once more and left to finish.

    (c) between chunks: the instant ``run_state.json`` records chunk 1 as done.
    (b) after chunk 3's version was created, before ``run_state.json`` records chunk 3: the kill
        comes the moment a third row appears in ``model_versions``. Chunk 3 is the one the gate
        rejects, so its challenger alias is still pending.
    (b') the same for chunk 4, which is promoted: the crown (production copy, alias, history)
        is pending.
    (a) inside the fit of chunk 5 (see :func:`kill_in_a_fit`).
    """
    root = tmp_path_factory.mktemp("resumed")
    artifacts = root / "artifacts"
    kills = [
        kill_in_window(
            line,
            root,
            artifacts,
            "c-between-chunks",
            chunks_done(artifacts, 1),
            lambda kill: kill.completed == [1] and kill.versions == 1,
        )
    ]
    for version in (3, 4):
        kills.append(
            kill_in_window(
                line,
                root,
                artifacts,
                f"b-version-{version}",
                versions_at_least(artifacts, version),
                lambda kill, v=version: kill.completed == list(range(1, v)) and kill.versions == v,
            )
        )
    kills.append(kill_in_a_fit(line, root, artifacts, after=4))
    final, pid = finish(line, root, artifacts)
    return Outcome(root, artifacts, kills, final, pid)


SHA = "model_sha256"


def snapshot(artifacts: Path) -> dict[str, Any]:
    """Everything a resumed run must agree on with an uninterrupted one, as plain data.

    The model files' sha256 values are kept apart (``shas``): the file, its metadata, its
    version's tag and its logged artifact must agree, and match the uninterrupted run's bytes.
    """
    uri = sqlite_uri(artifacts)
    state = mlflow_state(uri)
    chunk_of = {v.version: int(v.tags["chunk"]) for v in state["versions"]}
    children = state["children"]
    local = local_models(artifacts)
    production = production_state(artifacts)
    client = state["client"]
    return {
        "version_chunks": [int(v.tags["chunk"]) for v in state["versions"]],
        "versions": {int(v.tags["chunk"]): v.version for v in state["versions"]},
        "version_tags": {
            int(v.tags["chunk"]): {k: t for k, t in v.tags.items() if k != SHA}
            for v in state["versions"]
        },
        "aliases": {alias: chunk_of[v] for alias, v in state["aliases"].items()},
        "chunk_runs": sorted(int(r.data.tags["defectops.chunk"]) for r in children),
        "chunk_run_status": {int(r.data.tags["defectops.chunk"]): r.info.status for r in children},
        "chunk_metrics": {
            int(r.data.tags["defectops.chunk"]): {
                k: v for k, v in r.data.metrics.items() if k != "fit_seconds"
            }
            for r in children
        },
        "chunk_params": {  # the pyfunc's model_config (its sha256) is logged as params too
            int(r.data.tags["defectops.chunk"]): {
                k: v for k, v in r.data.params.items() if k != SHA
            }
            for r in children
        },
        "parents": [(p.info.status, p.data.tags["defectops.run_key"]) for p in state["parents"]],
        "parent_steps": {
            k: v for k, v in state["parent_step_metrics"].items() if k != "fit_seconds"
        },
        "local": {name: without_timing(meta, frozenset({SHA})) for name, meta in local.items()},
        "production": without_timing(production["metadata"], frozenset({SHA})),
        "history": [
            (e["alias"], e["action"], e["from_version"], e["to_version"], e["reason"])
            for e in read_jsonl(artifacts / "registry_history.jsonl")
        ],
        "history_tags": sorted(k for k in state["tags"] if k.startswith("history.")),
        "run_state": {
            k: v for k, v in (run_state(artifacts) or {}).items() if k != "parent_run_id"
        },
        "report_models": without_timing(
            read_json(artifacts / "reports" / "incremental_training_report.json")["models"],
            frozenset({SHA}),
        ),
        "shas": {
            int(v.tags["chunk"]): {
                "version tag": v.tags[SHA],
                "local metadata": local[f"model_{int(v.tags['chunk']):02d}"][SHA],
                "local file": file_sha256(
                    artifacts
                    / "incremental_models"
                    / f"model_{int(v.tags['chunk']):02d}"
                    / local[f"model_{int(v.tags['chunk']):02d}"]["model_file"]
                ),
                "mlflow artifact": file_sha256(
                    Path(
                        client.get_model_version_download_uri(MODEL_NAME, v.version).removeprefix(
                            "file://"
                        )
                    )
                    / "artifacts"
                    / local[f"model_{int(v.tags['chunk']):02d}"]["model_file"]
                ),
            }
            for v in state["versions"]
        },
        "production_sha": {
            "metadata": production["metadata"][SHA],
            "file": production["file_sha256"],
        },
    }


@pytest.fixture(scope="module")
def reference_state(reference: Reference) -> dict[str, Any]:
    return snapshot(reference.artifacts)


@pytest.fixture(scope="module")
def resumed_state(resumed: Outcome) -> dict[str, Any]:
    expect_ok(resumed.final)
    return snapshot(resumed.artifacts)


# -- the lock -------------------------------------------------------------------------------------


def test_a_second_run_is_refused_while_the_first_holds_the_lock(reference: Reference) -> None:
    second = reference.second
    assert reference.holder_alive_after_second, "the first run ended before the second tried"
    assert second.returncode == 2, f"exit {second.returncode}\n{second.stdout}\n{second.stderr}"
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), second.stderr
    assert f"pid {reference.holder['pid']}" in lines[0]
    assert "in use" in lines[0] and "Traceback" not in second.stdout + second.stderr
    assert reference.returncode == 0  # the first run was not disturbed
    assert lock_record(reference.artifacts) is None  # and released its lock


def test_a_lock_left_by_a_killed_run_is_taken_over(resumed: Outcome) -> None:
    pids = [k.pid for k in resumed.kills]
    assert len(set(pids)) == len(pids)
    for kill in resumed.kills:
        assert kill.lock is not None, f"{kill.name}: no lock file after SIGKILL"
        assert kill.lock["pid"] == kill.pid, kill  # the dead run's lock stayed behind
    # each restart got past the stale lock: the kill points after the first lie further on
    assert [len(k.completed) for k in resumed.kills] == [1, 2, 3, resumed.kills[3].completed[-1]]
    assert resumed.kills[3].completed[-1] >= 3
    expect_ok(resumed.final)
    assert resumed.final_lock_pid not in (-1, *pids)
    assert lock_record(resumed.artifacts) is None


# -- the kills landed where they were aimed -------------------------------------------------------


def test_each_kill_landed_in_its_window(resumed: Outcome) -> None:
    c, b3, b4, a = resumed.kills
    # (c) between chunks: chunk 1 recorded, nothing of chunk 2 in MLflow yet
    assert c.completed == [1] and c.versions == 1
    # (b) chunk 3's version exists, run_state.json does not know it; the fits went on while it
    # was recorded, at most two models ahead of their records
    assert b3.completed == [1, 2] and b3.versions == 3
    assert b3.model_dirs[:3] == ["model_01", "model_02", "model_03"]
    assert len(b3.model_dirs) <= 5, b3.model_dirs
    # (b') chunk 4's version exists, run_state.json does not know it
    assert b4.completed == [1, 2, 3] and b4.versions == 4
    # (a) killed in a fit: the model before it saved in this attempt, no version of it yet
    assert a.newest_saved is not None and a.newest_saved >= 4
    fitting = a.newest_saved + 1
    assert a.versions is not None and a.versions < fitting
    assert a.completed[-1] < fitting


# -- resumed == uninterrupted ---------------------------------------------------------------------


def test_resumed_run_registers_the_same_versions_statuses_and_aliases(
    reference_state: dict[str, Any], resumed_state: dict[str, Any]
) -> None:
    ref, got = reference_state, resumed_state
    assert ref["version_chunks"] == list(range(1, N_CHUNKS + 1))
    assert got["version_chunks"] == ref["version_chunks"]  # one version per chunk, no duplicate
    assert got["versions"] == ref["versions"]
    assert got["version_tags"] == ref["version_tags"]  # status, reason, sha256, run key
    statuses = {c: t["status"] for c, t in ref["version_tags"].items()}
    assert statuses[REJECTED_CHUNK] == "local_only"
    assert {c: t["status"] for c, t in got["version_tags"].items()} == statuses
    assert ref["aliases"] == {"champion": N_CHUNKS, "challenger": REJECTED_CHUNK}
    assert got["aliases"] == ref["aliases"]
    assert got["run_state"] == ref["run_state"]
    assert got["run_state"]["finished"] is True


def test_resumed_run_has_the_same_runs_and_metrics_exactly(
    reference_state: dict[str, Any], resumed_state: dict[str, Any]
) -> None:
    ref, got = reference_state, resumed_state
    assert got["parents"] == ref["parents"] and ref["parents"][0][0] == "FINISHED"
    assert got["chunk_runs"] == ref["chunk_runs"] == list(range(1, N_CHUNKS + 1))
    for chunk in ref["chunk_metrics"]:
        assert got["chunk_metrics"][chunk] == ref["chunk_metrics"][chunk], chunk
        assert got["chunk_params"][chunk] == ref["chunk_params"][chunk], chunk
    # the learning curves on the parent: one point per chunk, no repeated step
    assert got["parent_steps"] == ref["parent_steps"]
    assert [s for s, _ in got["parent_steps"]["holdout_pr_auc"]] == list(range(1, N_CHUNKS + 1))
    assert got["report_models"] == ref["report_models"]


def test_resumed_run_has_the_same_model_files_and_production(
    reference_state: dict[str, Any], resumed_state: dict[str, Any], resumed: Outcome
) -> None:
    ref, got = reference_state, resumed_state
    assert list(got["local"]) == [f"model_{c:02d}" for c in range(1, N_CHUNKS + 1)]
    for name, meta in ref["local"].items():
        assert got["local"][name]["_files"] == meta["_files"], name  # the same file names
        assert got["local"][name] == meta, name  # metrics, decision, lineage: all but timing
    assert got["production"] == ref["production"]
    champion = got["aliases"]["champion"]
    assert got["production"]["chunk_id"] == champion
    assert str(got["production"]["version"]) == got["versions"][champion]
    joblibs = sorted(p.name for p in (resumed.artifacts / "production").glob("*.joblib"))
    assert joblibs == [got["production"]["model_file"]]


def test_resumed_model_files_agree_with_their_registered_versions(
    resumed_state: dict[str, Any],
) -> None:
    """Each chunk's local file, its metadata, its version's tag and its logged artifact: one sha."""
    for chunk, shas in resumed_state["shas"].items():
        assert len(set(shas.values())) == 1, (chunk, shas)
    champion = resumed_state["aliases"]["champion"]
    production = resumed_state["production_sha"]
    assert production["file"] == production["metadata"]
    assert production["file"] == resumed_state["shas"][champion]["version tag"]


def test_resumed_model_files_are_byte_identical_to_an_uninterrupted_run(
    reference_state: dict[str, Any], resumed_state: dict[str, Any]
) -> None:
    ref = {c: s["local file"] for c, s in reference_state["shas"].items()}
    got = {c: s["local file"] for c, s in resumed_state["shas"].items()}
    assert got == ref


def test_resumed_run_has_the_same_alias_history(
    reference_state: dict[str, Any], resumed_state: dict[str, Any]
) -> None:
    assert resumed_state["history"] == reference_state["history"]
    assert resumed_state["history_tags"] == reference_state["history_tags"]


# -- crashes in the narrow windows between two writes ---------------------------------------------


def kill_after_chunk_run_created(line: LineData, root: Path, artifacts: Path) -> Kill:
    """(e) Killed the moment the next chunk's nested run appears in ``runs``, before its params
    and metrics are logged (two more SQLite commits: tens of ms). Checked afterwards; a miss
    tries the next chunk (at most three attempts)."""
    for attempt in range(3):
        target = max(run_count(artifacts, readonly=False) or 0, 2) + 1  # parent, chunk 1, ...
        kill = run_and_kill(
            line,
            root,
            artifacts,
            f"e-run-created-{attempt}",
            lambda target=target: (run_count(artifacts) or 0) >= target,
        )
        newest = max(kill.chunk_runs, default=0)
        if newest and kill.chunk_runs[newest] == ("RUNNING", 0):
            return kill
    raise AssertionError(f"never killed between create_run and its metrics: last kill {kill}")


def kill_after_alias_moved(line: LineData, root: Path, artifacts: Path) -> Kill:
    """(f) Killed the moment the champion alias moves to a newer version, before the history
    entry is appended (a registry search, a fsynced append and a tag follow). Checked
    afterwards; a miss tries the next promotion (at most three attempts)."""
    for attempt in range(3):
        start = alias_in_db(artifacts, "champion", readonly=False) or 0
        kill = run_and_kill(
            line,
            root,
            artifacts,
            f"f-alias-moved-{attempt}",
            lambda start=start: (alias_in_db(artifacts, "champion") or 0) > start,
        )
        if str(kill.champion) not in kill.history_to:
            return kill
    raise AssertionError(f"never killed between set_alias and the history: last kill {kill}")


@pytest.fixture(scope="module")
def narrow(line: LineData, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The run killed inside three windows between two of its writes, then finished.

    (e) a chunk's nested run exists, its params and metrics are not logged yet
        (:func:`kill_after_chunk_run_created`, normally chunk 2);
    (f) the champion alias was moved, the history entry is not written yet
        (:func:`kill_after_alias_moved`, normally chunk 3);
    (g) the next chunk's version was created and the run killed the moment it appeared;
        ``set_terminated`` of its nested run follows within a millisecond or two, too narrow
        to hit by polling, so the nested run is then put back to RUNNING with ``MlflowClient``
        (the state a kill one call earlier leaves). This one state is constructed, not caught.
    """
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("narrow")
    artifacts = root / "artifacts"
    kills = [kill_after_chunk_run_created(line, root, artifacts)]
    kills.append(kill_after_alias_moved(line, root, artifacts))
    target = (version_count(artifacts, readonly=False) or 0) + 1
    kills.append(
        kill_in_window(
            line,
            root,
            artifacts,
            "g-version-created",
            versions_at_least(artifacts, target),
            lambda kill: kill.versions == target and len(kill.completed) == target - 1,
        )
    )
    uri = sqlite_uri(artifacts)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run_id = client.get_model_version(MODEL_NAME, str(target)).run_id
    assert run_id is not None
    client.update_run(run_id, status="RUNNING")
    final, pid = finish(line, root, artifacts)
    return Outcome(root, artifacts, kills, final, pid)


@pytest.fixture(scope="module")
def narrow_state(narrow: Outcome) -> dict[str, Any]:
    expect_ok(narrow.final)
    return snapshot(narrow.artifacts)


def test_narrow_kills_landed_in_their_windows(narrow: Outcome) -> None:
    e, f, g = narrow.kills
    newest = max(e.chunk_runs)
    assert e.chunk_runs[newest] == ("RUNNING", 0), e  # the run exists, nothing logged on it
    assert newest not in e.completed and e.versions == newest - 1
    assert f.champion is not None and str(f.champion) not in f.history_to, f  # alias, no entry
    assert f.champion not in f.completed
    assert g.versions == len(g.completed) + 1, g  # a version run_state.json does not know


def test_narrow_crashes_still_give_one_version_per_chunk_and_the_same_aliases(
    reference_state: dict[str, Any], narrow_state: dict[str, Any]
) -> None:
    assert narrow_state["version_chunks"] == reference_state["version_chunks"]
    assert narrow_state["version_tags"] == reference_state["version_tags"]
    assert narrow_state["aliases"] == reference_state["aliases"]
    assert narrow_state["chunk_runs"] == reference_state["chunk_runs"]
    assert narrow_state["production"] == reference_state["production"]
    assert narrow_state["local"] == reference_state["local"]


def test_crash_between_alias_and_history_keeps_the_history_complete(
    reference_state: dict[str, Any], narrow_state: dict[str, Any]
) -> None:
    assert narrow_state["history"] == reference_state["history"]
    assert narrow_state["history_tags"] == reference_state["history_tags"]


def test_crash_after_the_nested_run_was_created_keeps_its_metrics(
    reference_state: dict[str, Any], narrow_state: dict[str, Any]
) -> None:
    assert narrow_state["chunk_metrics"] == reference_state["chunk_metrics"]
    assert narrow_state["chunk_params"] == reference_state["chunk_params"]
    assert narrow_state["parent_steps"] == reference_state["parent_steps"]


def test_crash_before_the_nested_run_was_finished_leaves_no_run_running(
    narrow_state: dict[str, Any],
) -> None:
    assert set(narrow_state["chunk_run_status"].values()) == {"FINISHED"}, narrow_state[
        "chunk_run_status"
    ]
