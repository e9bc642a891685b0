"""Every ``--engine dask`` verb against a cluster started the way a plant starts one.

``dask scheduler`` and ``dask worker`` run as their own processes in a directory of their own,
as on other machines, and the verbs are given paths relative to the project directory, as a user
types them. Whatever a worker reads or writes must therefore reach it as an absolute path: a
relative one would land in the worker's directory (which must stay empty of our files).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_helpers import invoke
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.store import DataStore
from partitioned import write_parts

pytest.importorskip("distributed")

DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The address of a scheduler with two single-threaded workers, and their directory."""
    home = tmp_path_factory.mktemp("cluster-home")
    address_file = home / "scheduler.json"
    common = {"cwd": home, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [
        subprocess.Popen(
            [DASK, "scheduler", "--scheduler-file", address_file, "--port", "0",
             "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
            **common,  # type: ignore[call-overload]
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        processes.append(
            subprocess.Popen(
                [DASK, "worker", "--scheduler-file", address_file, "--nworkers", "2",
                 "--nthreads", "1", "--memory-limit", "3GiB", "--local-directory", home,
                 "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
                **common,  # type: ignore[call-overload]
            )
        )  # fmt: skip
        address = json.loads(address_file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, home
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)


def test_all_verbs_with_relative_paths_on_a_separate_cluster(
    scheduler: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address, home = scheduler
    monkeypatch.chdir(tmp_path)
    frame, _ = simulate(SimulationSpec(rows=6_000, seed=3))
    write_parts(frame.iloc[:4_500], Path("line"), rows=1_500)
    frame.iloc[4_500:5_200].to_csv("shift.csv", index=False)
    engine = ["--engine", "dask", "--scheduler", address, "--artifacts", "art"]

    for verb in (
        ["validate", "--data", "line"],
        ["run", "--data", "line"],
        ["predict", "--data", "line", "--out", "scored"],
        ["monitor", "--data", "shift.csv"],
        ["ingest", "--data", "shift.csv"],
    ):
        result = invoke(*verb, *engine)
        assert result.exit_code == 0, (verb, result.output)

    assert len(list(Path("scored").glob("part-*.parquet"))) == 3
    assert Path("art/reports/drift/shift.json").exists()
    store = DataStore(Path("art/store"))
    # the back-fill's rows (written by the workers) and then the ingested batch
    assert [b.rows for b in store.load().batches] == [4_500, 700]
    assert store.batch_files("shift")[0].is_file()
    assert not any(Path("art/.staging").iterdir())  # staged rows removed after each verb
    # nothing of ours in the workers' own directory: only dask's scratch space and address file
    assert {p.name for p in home.iterdir()} <= {"dask-scratch-space", "scheduler.json"}
