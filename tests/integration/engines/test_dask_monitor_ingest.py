"""``monitor`` and ``ingest`` with ``--engine dask`` give what the local engine gives.

One 2-worker :class:`distributed.LocalCluster` (worker processes, so everything sent to a worker
is pickled as on a real cluster; ``cluster`` in conftest.py) serves through ``--scheduler``. A small
champion is back-filled on the first rows of a simulated line whose drift starts at
``DRIFT_AT`` (see ``tests/integration/ops/test_monitor.py`` for what drifts there); batches are
split over
several Parquet files, some with rows out of order across the files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("distributed")

from cli_helpers import assert_user_error, invoke
from defectops.core.config import Settings, load_settings
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.store import DataStore
from defectops.engines import select as engine
from defectops.engines.choose import open_engine
from defectops.ops.ingest import ingest_batch
from defectops.ops.run import run_pipeline
from defectops.registry.local import LocalRegistry
from partitioned import write_parts

TRAIN_ROWS = 4_000
DRIFT_AT = 6_000
BATCH = 1_500


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("dask_monitor")
    frame, _ = simulate(SimulationSpec(rows=DRIFT_AT + BATCH, seed=3, drift_at=DRIFT_AT))
    train = root / "train.csv"
    frame.iloc[:TRAIN_ROWS].to_csv(train, index=False)
    settings = load_settings(
        flags={"artifacts": root / "artifacts", "data": train, "chunk_size": 1_000}, environ={}
    )
    run_pipeline(settings)
    stationary = frame.iloc[TRAIN_ROWS : TRAIN_ROWS + BATCH]
    drifted = frame.iloc[DRIFT_AT : DRIFT_AT + BATCH]
    # the same stationary rows shuffled over 3 files: every file overlaps the others in time
    shuffled = stationary.sample(frac=1.0, random_state=0)
    return {
        "root": root,
        "settings": settings,
        "stationary.csv": _csv(stationary, root / "stationary.csv"),
        "drifted": write_parts(drifted, root / "drifted", parts=3),
        "shuffled": write_parts(shuffled, root / "shuffled", parts=3),
        "unlabelled": write_parts(
            drifted.drop(columns=["DefectStatus"]), root / "unlabelled", parts=4
        ),
    }


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def settings_with(line: dict[str, Any], reports: str, **flags: Any) -> Settings:
    base = line["settings"]
    return load_settings(
        flags={"artifacts": base.artifacts, "reports": line["root"] / reports, **flags},
        environ={},
    )


def assert_same_report(local: dict[str, Any], dask: dict[str, Any]) -> None:
    for key in ("status", "rows", "rows_read", "rows_quarantined", "champion_version"):
        assert local[key] == dask[key], key
    assert dask["flagged_rate"] == pytest.approx(local["flagged_rate"], abs=1e-12)
    assert [f["feature"] for f in dask["features"]] == [f["feature"] for f in local["features"]]
    for ours, theirs in zip(local["features"], dask["features"], strict=True):
        assert ours["status"] == theirs["status"], ours["feature"]
        assert ours["counts"] == theirs["counts"], ours["feature"]
        assert theirs["psi"] == pytest.approx(ours["psi"], abs=1e-9)
        if ours["kind"] == "numeric":
            for key in ("ks", "ks_p_value", "current_median", "missing_rate"):
                assert theirs[key] == pytest.approx(ours[key], abs=1e-9), (ours["feature"], key)
        else:
            assert theirs["unseen_values"] == ours["unseen_values"]
            assert theirs["unseen_rate"] == pytest.approx(ours["unseen_rate"], abs=1e-12)
    assert dask["scores"]["counts"] == local["scores"]["counts"]
    assert dask["scores"]["psi"] == pytest.approx(local["scores"]["psi"], abs=1e-9)
    assert dask["scores"]["ks"] == pytest.approx(local["scores"]["ks"], abs=1e-9)
    assert (local["performance"] is None) == (dask["performance"] is None)
    if local["performance"] is not None:
        ours, theirs = local["performance"], dask["performance"]
        assert theirs["labelled_rows"] == ours["labelled_rows"]
        assert theirs["defects"] == ours["defects"]
        for metric, value in ours["metrics"].items():
            assert theirs["metrics"][metric] == pytest.approx(value, abs=1e-12), metric
        for key in ("value", "low", "high"):  # the same rows in the same order, resampled
            assert theirs["interval"][key] == pytest.approx(ours["interval"][key], abs=1e-12)


@pytest.mark.parametrize("batch", ["stationary.csv", "drifted", "shuffled", "unlabelled"])
def test_monitor_report_is_the_local_one(line: dict[str, Any], cluster: str, batch: str) -> None:
    local_settings = settings_with(line, "local")
    with open_engine(local_settings) as here:
        local, _ = here.monitor(local_settings, line[batch], name=None)
    settings = settings_with(line, "dask", engine="dask", scheduler=cluster)
    with open_engine(settings) as there:
        dask, paths = there.monitor(settings, line[batch], name=None)
    assert_same_report(local, dask)
    assert paths["report"] == line["root"] / "dask" / "drift" / f"{paths['report'].stem}.json"
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if batch == "drifted":
        assert dask["status"] == "drift"
        assert {f["feature"]: f["status"] for f in dask["features"]}["EnergyConsumption"] == (
            "drift"
        )
        country = next(f for f in dask["features"] if f["feature"] == "supplier_country")
        assert country["unseen_values"] == ["XX"]
    if batch == "stationary.csv":
        assert dask["status"] != "drift" and dask["performance"]["labelled_rows"] == BATCH
    if batch == "shuffled":  # the same rows as the stationary batch, in another file order
        assert dask["data_sha256"] == local["data_sha256"]
    if batch == "unlabelled":
        assert dask["performance"] is None


def test_monitor_cli_exit_codes_match(
    line: dict[str, Any], cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    art = line["settings"].artifacts
    for batch, fail_on in (("drifted", "drift"), ("stationary.csv", "drift")):
        base = ["monitor", "--data", line[batch], "--artifacts", art, "--fail-on", fail_on]
        local = invoke(*base)
        dask = invoke(*base, "--engine", "dask", "--scheduler", cluster)
        assert local.exit_code == dask.exit_code, dask.output
        assert dask.exit_code == (3 if batch == "drifted" else 0), dask.output
    data = ["--data", line["drifted"], "--artifacts", art]
    for verb in ("monitor", "ingest"):
        assert_user_error(invoke(verb, *data, "--scheduler", cluster), "--engine dask")
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    address = "tcp://127.0.0.1:9"
    for verb in ("monitor", "ingest"):
        result = invoke(verb, *data, "--engine", "dask", "--scheduler", address)
        assert_user_error(result, address, "cannot connect")


# -- ingest --------------------------------------------------------------------------------------

ROWS = 1_000


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four batches: a CSV, Parquet in 3 files, one with bad rows, one unlabelled and shuffled."""
    root = tmp_path_factory.mktemp("feed")
    frame, _ = simulate(SimulationSpec(rows=4 * ROWS, seed=11))
    first = _csv(frame.iloc[:ROWS], root / "shift_00.csv")
    second = write_parts(frame.iloc[ROWS : 2 * ROWS], root / "shift_01", parts=3)
    broken = frame.iloc[2 * ROWS : 3 * ROWS].copy()
    broken["SupplierQuality"] = broken["SupplierQuality"].astype(str)
    broken.loc[broken.index[::97], "SupplierQuality"] = "sensor fault"
    third = write_parts(broken, root / "shift_02", parts=3)
    last = frame.iloc[3 * ROWS :].drop(columns=["DefectStatus"]).sample(frac=1.0, random_state=1)
    fourth = write_parts(last, root / "shift_03", parts=3)
    return [first, second, third, fourth]


def test_ingest_gives_the_local_store_and_decisions(
    feed: list[Path], cluster: str, tmp_path: Path
) -> None:
    outcomes: dict[str, list[Any]] = {}
    stores: dict[str, pd.DataFrame] = {}
    manifests: dict[str, Any] = {}
    for name in ("local", "dask"):
        flags = {"engine": "dask", "scheduler": cluster} if name == "dask" else {}
        settings = load_settings(flags={"artifacts": tmp_path / name, **flags}, environ={})
        with open_engine(settings) as chosen:
            outcomes[name] = [ingest_batch(settings, path, engine=chosen) for path in feed]
            again = ingest_batch(settings, feed[1], engine=chosen)
        assert again.duplicate and again.batch.batch_id == "shift_01"
        store = DataStore(settings.store_dir)
        manifests[name] = store.load()
        stores[name] = store.read_all(manifests[name])
        quarantine = settings.store_dir / "quarantine" / "shift_02.csv"
        assert len(pd.read_csv(quarantine)) == 11
    assert list((tmp_path / "dask" / "store" / "batch=shift_01").glob("part-*.parquet"))

    pd.testing.assert_frame_equal(stores["dask"], stores["local"])
    ids = [[b.batch_id for b in manifests[n].batches] for n in ("local", "dask")]
    assert ids[0] == ids[1] == ["shift_00", "shift_01", "shift_02", "shift_03"]
    for ours, theirs in zip(manifests["local"].batches, manifests["dask"].batches, strict=True):
        for key in ("rows", "rows_quarantined", "labelled_rows", "drift_status"):
            assert getattr(ours, key) == getattr(theirs, key), (ours.batch_id, key)
    assert manifests["dask"].batches[2].rows_quarantined == 11
    assert manifests["dask"].batches[3].labelled_rows == 0
    for ours, theirs in zip(outcomes["local"], outcomes["dask"], strict=True):
        a, b = ours.training, theirs.training
        assert a["trained"] == b["trained"] and a["reason"] == b["reason"]
        if a["trained"]:
            for key in ("status", "decision", "rows_trained", "holdout_rows", "metrics"):
                assert a[key] == b[key], key
        assert (ours.drift is None) == (theirs.drift is None)
        if ours.drift is not None:
            assert_same_report(
                {**ours.drift, "rows_read": 0, "rows_quarantined": 0},
                {**theirs.drift, "rows_read": 0, "rows_quarantined": 0},
            )
    assert [o.training["trained"] for o in outcomes["dask"]] == [True, True, True, False]
    # the challengers were boosted on the cluster (only fit_distributed records its workers),
    # from the same stored rows and recent hold-out
    champions = {n: LocalRegistry(tmp_path / n).load_champion() for n in ("local", "dask")}
    assert champions["dask"][0].fit_workers_ >= 1
    assert not hasattr(champions["local"][0], "fit_workers_")
    for key in ("data_sha256", "holdout_sha256", "batches", "holdout_batches", "chunk_id"):
        assert champions["dask"][1][key] == champions["local"][1][key], key


def test_ingest_cli_on_the_cluster(feed: list[Path], cluster: str, tmp_path: Path) -> None:
    art = tmp_path / "artifacts"
    shutil.copytree(feed[1], tmp_path / "shift_01")
    result = invoke(
        "ingest", "--data", tmp_path / "shift_01", "--artifacts", art,
        "--engine", "dask", "--scheduler", cluster,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1,000 rows stored" in result.output
    assert DataStore(art / "store").load().batches[0].rows == ROWS
