"""A run killed between logging a chunk's own metrics and its point on the parent's learning
curve: the rerun logs the missing point, once, and the store equals an uninterrupted run's.

The kill is exact (``DEFECTOPS_FAILPOINT=tracking:after-child-metrics``, SIGKILL at that line),
so the test does not depend on when a poll happens to land.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from registry_fixtures import (
    TIMING_KEYS,
    child_env,
    mlflow_state,
    run_args,
    run_cli,
    sqlite_uri,
    write_line_data,
)

pytestmark = pytest.mark.slow


def test_a_kill_before_the_parent_point_is_repaired_by_the_rerun(tmp_path: Path) -> None:
    line = write_line_data(tmp_path / "data")
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    assert run_cli(*run_args(line, reference), cwd=tmp_path).returncode == 0

    killed = run_cli(
        *run_args(line, crashed),
        cwd=tmp_path,
        env=child_env(DEFECTOPS_FAILPOINT="tracking:after-child-metrics"),
    )
    assert killed.returncode == -signal.SIGKILL  # at chunk 1, its own metrics logged
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=sqlite_uri(crashed))
    runs = client.search_runs([client.get_experiment_by_name("defectops").experiment_id])
    kinds = {r.data.tags["defectops.kind"]: r for r in runs}
    assert kinds["chunk"].data.metrics  # chunk 1's own metrics were logged ...
    assert "promoted" not in kinds["run"].data.metrics  # ... its learning-curve point was not

    rerun = run_cli(*run_args(line, crashed), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    got, ref = mlflow_state(sqlite_uri(crashed)), mlflow_state(sqlite_uri(reference))

    def curves(state: dict) -> dict:  # a fit's seconds differ between runs: its steps do not
        steps = state["parent_step_metrics"]
        return {k: v if k not in TIMING_KEYS else [s for s, _ in v] for k, v in steps.items()}

    assert curves(got) == curves(ref)  # every point of every curve, each step once
    assert [s for s, _ in got["parent_step_metrics"]["promoted"]] == [1, 2, 3, 4, 5, 6]

    def chunk_metrics(state: dict) -> dict:
        return {
            r.data.tags["defectops.chunk"]: {
                k: v for k, v in r.data.metrics.items() if k not in TIMING_KEYS
            }
            for r in state["children"]
        }

    assert chunk_metrics(got) == chunk_metrics(ref)
