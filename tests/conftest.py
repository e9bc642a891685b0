"""Shared fixtures: a throw-away project directory and small hand-built production frames."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Give Prefect (optional, see ``defectops.ops.flows``) a throw-away home before it is imported.

    Importing Prefect creates its home directory, and its settings are read at import, so this
    must happen before collection imports ``defectops.ops.flows``. Any ``PREFECT_*`` variables of
    the
    caller's (an API URL, a profile) are dropped so no test can reach a real Prefect server, and
    telemetry is off so nothing leaves the machine.
    """
    home = Path(tempfile.mkdtemp(prefix="defectops-prefect-"))
    for name in [n for n in os.environ if n.upper().startswith("PREFECT_")]:
        del os.environ[name]
    os.environ.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """One LocalCluster for every test of the dask engine: its address, as ``--scheduler`` takes it.

    Two worker *processes* with one thread each: on a 2-core machine they really work in parallel
    (pandas holds the GIL), and everything sent to a worker is pickled, as on a real cluster.
    """
    pytest.importorskip("distributed")
    from defectops.engines.select import dask_client

    with dask_client() as client:
        yield client.scheduler.address


@dataclass(frozen=True)
class TmpProject:
    """A temporary working directory; ``artifacts`` is a path inside it, not created up front."""

    root: Path
    artifacts: Path


@pytest.fixture
def tmp_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TmpProject:
    """chdir into a fresh tmp dir (so nothing lands in the repo) with no DEFECTOPS_* variables."""
    for name in list(os.environ):
        if name.upper().startswith("DEFECTOPS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return TmpProject(root=tmp_path, artifacts=tmp_path / "artifacts")


def build_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """``n`` rows in time order; exactly ``round(n / 4)`` rows have ``DefectStatus == 1``."""
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("2024-03-01 06:00:00") + pd.to_timedelta(np.arange(n) * 90, unit="s")
    defects = np.zeros(n, dtype=np.int64)
    defects[rng.permutation(n)[: round(n / 4)]] = 1
    return pd.DataFrame(
        {
            "Air temperature [K]": rng.normal(300.0, 2.0, n).round(2),
            "Torque [Nm]": rng.normal(40.0, 5.0, n).round(2),
            "speed_rpm": rng.integers(1200, 2800, n).astype(np.float64),
            "machine_id": rng.integers(1, 6, n),
            "shift": rng.choice(["early", "late", "night"], n),
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
            "DefectStatus": defects,
        }
    )


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """Factory: ``make_frame(n=200, seed=0)`` builds a fresh frame (see :func:`build_frame`)."""
    return build_frame
