"""The dask engine gives what the local engine gives: the same report, decisions and scores.

Every test runs on a real :class:`distributed.LocalCluster` of 2 worker *processes* with one
thread each. Processes rather than threads: on a 2-core machine the two workers then really work
in parallel (pandas holds the GIL), and every model, transformer and function sent to a worker is
pickled, as on a real cluster, so a test passes here only if the code would work there. The
cluster (``cluster`` in conftest.py) is started once and reached through ``--scheduler ADDRESS``,
which is the path to a real cluster; one test lets ``--engine dask`` start and stop its own.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import socket
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from distributed import Client

from cli_helpers import assert_user_error, invoke
from defectops.core.config import load_settings
from defectops.data.io import frame_sha256, read_raw, read_table
from defectops.data.simulate import SimulationSpec, simulate
from defectops.data.validation import validate
from defectops.engines import select as engine
from defectops.engines.dask import validate as dist
from defectops.evaluation.gate import PRODUCTION
from defectops.features.builder import FeatureBuilder
from defectops.models import fitting as models
from defectops.monitoring.sketch import _first_pass as first_pass
from defectops.ops.run import run_pipeline
from defectops.registry.local import LocalRegistry, load_verified
from defectops.scoring.predict import PREDICTION, PROBABILITY, predict_file
from partitioned import write_parts

TRAIN_ROWS = 3_000
HOLDOUT_ROWS = 1_500
#: partitions that do not line up with the 1,000-row chunks, so chunks cut partitions
TRAIN_PART_ROWS = 700
HOLDOUT_PART_ROWS = 600


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A training stream and the hold-out batch after it, as partitioned Parquet."""
    root = tmp_path_factory.mktemp("line")
    frame, _ = simulate(SimulationSpec(rows=TRAIN_ROWS + HOLDOUT_ROWS, seed=11))
    train = write_parts(frame.iloc[:TRAIN_ROWS], root / "train", rows=TRAIN_PART_ROWS)
    hold = frame.iloc[TRAIN_ROWS:].reset_index(drop=True)
    return {"train": train, "holdout": write_parts(hold, root / "holdout", rows=HOLDOUT_PART_ROWS)}


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Rows with everything validation reports: bad values, duplicates, rows out of order."""
    frame, _ = simulate(SimulationSpec(rows=2_000, seed=5, missing_rate=0.03))
    # a column exported as text, one value of which does not parse: quarantined
    text = frame["EnergyConsumption"].map(lambda v: None if pd.isna(v) else f"{v:.6g}")
    frame["EnergyConsumption"] = text.where(text.index != 17, "n/a?")
    frame.loc[40, "DefectStatus"] = None  # no label: quarantined
    frame.loc[900, "timestamp"] = pd.NaT  # no order value: quarantined
    frame.loc[[3, 1400], "QualityScore"] = np.inf  # infinite: quarantined
    # the same rows again, late and out of time order: duplicates, and a sort is needed
    return pd.concat([frame, frame.iloc[100:130]], ignore_index=True)


def settings(**flags: Any):
    return load_settings(flags=flags, environ={})


def without_means(report: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """The report without numeric means (merged sums differ in the last float bits), and them."""
    copy = json.loads(json.dumps(report))
    means = {col: p.pop("mean") for col, p in copy["columns"].items() if "mean" in p}
    return copy, means


def assert_same_report(local: dict[str, Any], dask: dict[str, Any]) -> None:
    local_rest, local_means = without_means(local)
    dask_rest, dask_means = without_means(dask)
    assert dask_rest == local_rest
    assert dask_means == pytest.approx(local_means, rel=1e-12)


# -- validation ------------------------------------------------------------------------------------


def test_validation_report_quarantine_and_rows_match_local(
    cluster: str, messy: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parquet = write_parts(messy, tmp_path / "messy", rows=500)
    csv = tmp_path / "messy.csv"
    messy.to_csv(csv, index=False)
    monkeypatch.setattr(dist, "CSV_BLOCKSIZE", "150KB")  # several CSV partitions, too
    s = settings()
    with Client(cluster) as client:
        for path in (parquet, csv):
            local = validate(read_raw(path), s, source=str(path))
            remote = dist.validate_distributed(path, s, client, source=str(path))
            assert len(remote.frame.parts) > 1
            assert_same_report(local.report, remote.report)
            assert local.report["rows_quarantined"] == 5  # rows 3, 17, 40, 900, 1400
            assert local.report["quarantined_by_reason"]["missing_target"] == 1
            duplicates = next(c for c in local.report["checks"] if c["name"] == "duplicates")
            assert duplicates["detail"] == "30 duplicate rows"
            if path == parquet:
                pd.testing.assert_frame_equal(remote.quarantine, local.quarantine)
            else:  # CSV partitions are read as text: the same rows, values as the text read
                same = ["source_row", "quarantine_reason", "timestamp"]
                pd.testing.assert_frame_equal(
                    remote.quarantine[same], local.quarantine[same], check_dtype=False
                )
            # the clean rows themselves: same values, same order (sorted by time), same dtypes
            assert frame_sha256(remote.frame) == frame_sha256(local.frame)
            assert remote.frame.lengths != (len(local.frame),)

        # a later batch checked against the training rows' reference profile, made large (a
        # plant's thousands of batch IDs): it must reach the workers like a small one
        reference = remote.frame.reference_profile(remote.schema)
        known = reference["categorical"]["supplier_batch_id"]
        reference["categorical"]["supplier_batch_id"] = [
            *known,
            *map(str, range(10**6, 10**6 + 20_000)),
        ]
        held_local = validate(
            read_table(parquet), s, schema=remote.schema, reference=reference, source="b"
        )
        held = dist.validate_distributed(
            parquet, s, client, schema=remote.schema, reference=reference, source="b"
        )
        assert_same_report(held_local.report, held.report)


def _managed_bytes(dask_worker: Any) -> int:
    from dask.sizeof import sizeof

    return int(sum(sizeof(value) for value in dask_worker.data.values()))


def test_validated_rows_wait_on_disk_not_in_worker_memory(
    cluster: str, line: dict[str, Path], tmp_path: Path
) -> None:
    """What bounds a worker's memory: after validation the rows are staged files, read by the
    tasks that need them, and the files go when no frame uses them."""
    s = settings(artifacts=tmp_path)
    with Client(cluster) as client:
        result = dist.validate_distributed(line["train"], s, client)
        frame = result.frame
        staged = frame.staging.path
        assert all(isinstance(p, dist.StagedPart) for p in frame.parts)
        assert staged.parent == (tmp_path / ".staging").resolve()
        assert len(list(staged.rglob("*.parquet"))) == len(frame.parts) > 1
        in_memory = read_table(line["train"]).memory_usage(deep=True).sum()
        held = sum(client.run(_managed_bytes).values())
        assert held < 0.05 * in_memory, (held, in_memory)
        # a chunk cut across partitions reads only its rows
        chunk = frame.iloc[500:1600]
        local = validate(read_table(line["train"]), s).frame
        assert frame_sha256(chunk) == frame_sha256(local.iloc[500:1600])
        del result, frame, chunk
        gc.collect()
        assert not staged.exists()


def _validate_task(part: pd.DataFrame, tmp_path: Path) -> Any:
    schema = validate(part, settings(artifacts=tmp_path)).schema
    return dist._validate_and_stage(part, schema, None, str(tmp_path / "part.parquet"))


def _profile_task(part: pd.DataFrame, tmp_path: Path) -> Any:
    categorical = ["machine_id", "operator_id", "supplier_batch_id", "shift"]
    return first_pass(part, ["QualityScore"], categorical, window_rows=6_000, points=2_000)


@pytest.mark.parametrize("task", [_validate_task, _profile_task])
def test_a_partition_task_result_keeps_none_of_its_rows_alive(task: Any, tmp_path: Path) -> None:
    """A task's result waits on its worker until every partition is done; if it held a view of
    its partition (a zero-row slice shares its arrays), each worker would hold every partition
    it had seen, and its memory would grow with the data."""
    frame, _ = simulate(SimulationSpec(rows=20_000, seed=3))
    task(frame.head(100), tmp_path)  # imports and caches of a first call are not the result's
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        part = frame.copy(deep=True)
        size = tracemalloc.get_traced_memory()[0] - before
        result = task(part, tmp_path)
        del part
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert result is not None
    assert held < 0.1 * size, (held, size)


def test_staging_removes_what_a_killed_process_left(tmp_path: Path) -> None:
    host = socket.gethostname()
    dead = tmp_path / f"{host}-999999999-abc"  # no such process
    alive = tmp_path / f"{host}-{os.getpid()}-abc"
    other_host = tmp_path / "another-host-999999999-abc"
    for d in (dead, alive, other_host):
        d.mkdir()
    staging = dist.Staging(tmp_path)
    assert not dead.exists() and alive.exists() and other_host.exists()
    assert staging.path.exists()
    staging.close()
    assert not staging.path.exists()


def test_unwritable_staging_directory_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(dist.UserError, match="staging directory"):
        dist.Staging(blocker / "staging")


def test_cli_validate_starts_its_own_cluster_and_writes_the_local_report(
    line: dict[str, Path], tmp_path: Path
) -> None:
    reports = {}
    for engine_name in ("local", "dask"):
        out = tmp_path / engine_name
        result = invoke(
            "validate", "--data", line["holdout"], "--artifacts", out, "--engine", engine_name
        )
        assert result.exit_code == 0, result.output
        reports[engine_name] = json.loads(
            (out / "reports" / "data_validation_report.json").read_text()
        )
    assert_same_report(reports["local"], reports["dask"])


# -- the pipeline ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(
    cluster: str, line: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The default pipeline (gbm, expanding, 1,000-row chunks) on each engine, same data."""
    out = {}
    for name, flags in (("local", {}), ("dask", {"engine": "dask", "scheduler": cluster})):
        artifacts = tmp_path_factory.mktemp(f"run-{name}")
        s = settings(data=line["train"], holdout_data=line["holdout"], artifacts=artifacts, **flags)
        out[name] = (artifacts, run_pipeline(s))
    return out


def test_run_gives_the_same_gate_decisions_and_holdout_pr_auc(runs: dict[str, Any]) -> None:
    local, dask = runs["local"][1], runs["dask"][1]
    assert [m["chunk_id"] for m in dask.models] == [1, 2, 3]
    assert [m["status"] for m in dask.models] == [m["status"] for m in local.models]
    assert dask.champion["chunk_id"] == local.champion["chunk_id"]
    for a, b in zip(local.models, dask.models, strict=True):
        # chunks this small are cross-fitted on one worker, which gives the local model exactly
        assert b["metrics"]["pr_auc"] == pytest.approx(a["metrics"]["pr_auc"], abs=0.01)
        assert b["threshold"] == pytest.approx(a["threshold"], abs=1e-9)
        assert b["training"] == a["training"]
        assert b["training"]["procedure"] == "cross-fit"
        # the same rows, the same fingerprints: lineage does not depend on the engine
        assert b["data_sha256"] == a["data_sha256"]
        assert b["holdout_sha256"] == a["holdout_sha256"]
        assert b["rows_trained"] == a["rows_trained"]
        assert b["metrics"]["n"] == HOLDOUT_ROWS
    assert dask.models[0]["status"] == PRODUCTION  # the first model that passes is champion
    assert dask.report["data"] == local.report["data"]
    staging = runs["dask"][0] / ".staging"
    assert staging.is_dir() and not any(staging.iterdir())  # the staged rows went with the run
    reports = [
        json.loads((runs[name][0] / "reports" / "data_validation_report.json").read_text())
        for name in ("local", "dask")
    ]
    assert_same_report(*reports)


def test_dask_model_is_the_usual_classifier_in_the_registry(runs: dict[str, Any]) -> None:
    artifacts, result = runs["dask"]
    model, metadata = LocalRegistry(artifacts).load_champion()
    assert type(model).__name__ == "DefectClassifier" and model.model == "gbm"
    assert metadata["chunk_id"] == result.champion["chunk_id"]
    assert 0.0 < model.threshold_ < 1.0 and model.estimator_.n_trees >= 1
    validation = json.loads((artifacts / "reports" / "data_validation_report.json").read_text())
    assert validation["rows_read"] == TRAIN_ROWS


def test_predict_matches_local_in_values_and_order(
    runs: dict[str, Any], line: dict[str, Path], cluster: str, tmp_path: Path
) -> None:
    artifacts, _ = runs["dask"]
    local = predict_file(artifacts, line["holdout"], tmp_path / "local.parquet")
    out = tmp_path / "scored"
    result = invoke(
        "predict", "--data", line["holdout"], "--out", out, "--artifacts", artifacts,
        "--engine", "dask", "--scheduler", cluster,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.glob("*.parquet"))
    assert files == [f"part-{i:05d}.parquet" for i in range(3)]  # one per input partition
    scored = pd.read_parquet(out)
    assert len(scored) == HOLDOUT_ROWS
    assert scored["timestamp"].tolist() == local["timestamp"].tolist()  # the input's order
    np.testing.assert_allclose(scored[PROBABILITY], local[PROBABILITY], rtol=0, atol=1e-6)
    assert (scored[PREDICTION] == local[PREDICTION]).all()
    # each file holds its own input partition's rows
    first = pd.read_parquet(line["holdout"] / "part-00001.parquet")
    assert pd.read_parquet(out / files[1])["timestamp"].tolist() == first["timestamp"].tolist()
    assert f"scored {HOLDOUT_ROWS:,} rows" in result.stdout


def test_predict_quarantine_matches_local_across_partitions(
    runs: dict[str, Any], line: dict[str, Path], cluster: str, tmp_path: Path
) -> None:
    """Refused rows in the second and third partitions: ``source_row`` counts from the file's
    first row on both engines, so the two quarantine files are the same."""
    artifacts, _ = runs["dask"]
    hold = pd.read_parquet(line["holdout"])
    bad = [5, HOLDOUT_PART_ROWS + 7, 2 * HOLDOUT_PART_ROWS + 1]  # one in each partition
    hold.loc[bad[1:], "SupplierQuality"] = 1e39  # beyond float32
    hold.loc[bad[0], "EnergyConsumption"] = -np.inf
    source = write_parts(hold, tmp_path / "hold", rows=HOLDOUT_PART_ROWS)
    predict_file(artifacts, source, tmp_path / "local.csv")
    local = pd.read_csv(tmp_path / "local_quarantine.csv")
    assert local["source_row"].tolist() == bad
    result = invoke(
        "predict", "--data", source, "--out", tmp_path / "scored", "--artifacts", artifacts,
        "--engine", "dask", "--scheduler", cluster,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"3 of {HOLDOUT_ROWS:,} rows not scored" in result.stdout
    dask = pd.read_csv(tmp_path / "scored_quarantine.csv")
    pd.testing.assert_frame_equal(dask, local)
    assert pd.read_parquet(tmp_path / "scored")[PROBABILITY].isna().sum() == 3


def test_warm_start_continues_the_previous_booster_on_both_workers(
    cluster: str, line: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Boosting on every worker that holds rows (chunks under ``CROSS_FIT_MAX_ROWS`` otherwise
    use one), each chunk continuing the booster before it."""
    monkeypatch.setattr(models, "CROSS_FIT_MAX_ROWS", 0)
    s = settings(
        data=line["train"],
        holdout_data=line["holdout"],
        artifacts=tmp_path,
        strategy="warm-start",
        chunk_size=1500,
        engine="dask",
        scheduler=cluster,
    )
    result = run_pipeline(s)
    assert [m["rows_trained"] for m in result.models] == [1500, 1500]
    registry = LocalRegistry(tmp_path)
    first, second = (
        load_verified(registry.model_dir(m["chunk_id"]) / m["model_file"], m) for m in result.models
    )
    assert first.fit_workers_ == second.fit_workers_ == 2
    assert all(m["status"] in ("production", "local_only") for m in result.models)
    assert result.models[-1]["metrics"]["roc_auc"] > 0.7  # a real model, not noise
    n_first = first.estimator_.n_trees
    assert second.estimator_.n_trees > n_first
    # its first trees are the first model's trees: the booster was continued, not retrained
    X = pd.read_parquet(line["holdout"])
    Z = first.features_.transform(X)
    np.testing.assert_allclose(
        second.estimator_.booster[:n_first].inplace_predict(Z, predict_type="margin"),
        first.estimator_.booster.inplace_predict(Z, predict_type="margin"),
        rtol=1e-6,
    )


# -- mistakes: exit 2, one line --------------------------------------------------------------------


def test_unreachable_scheduler_is_exit_2_naming_it(
    line: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    address = "tcp://127.0.0.1:9"
    for verb in (["validate", "--data", line["train"]], ["run", "--data", line["train"]]):
        result = invoke(*verb, "--artifacts", tmp_path, "--engine", "dask", "--scheduler", address)
        assert_user_error(result, address, "cannot connect")
    assert not tmp_path.joinpath("reports").exists()


def test_engine_mistakes_are_exit_2(line: dict[str, Path], tmp_path: Path) -> None:
    base = ["--data", line["train"], "--artifacts", tmp_path]
    assert_user_error(invoke("run", *base, "--scheduler", "tcp://x:1"), "--engine dask")
    assert_user_error(invoke("validate", *base, "--engine", "spark"), "engine")
    assert_user_error(
        invoke("run", *base, "--engine", "dask", "--model", "logreg"), "gbm", "--engine local"
    )
    result = invoke(
        "predict", "--data", line["holdout"], "--out", tmp_path / "x.csv", "--engine", "dask",
        "--artifacts", tmp_path,
    )  # fmt: skip
    assert_user_error(result, "x.csv", "directory")


# -- the pieces, without a cluster -----------------------------------------------------------------


def test_features_fitted_from_partition_summaries_equal_a_fit_on_all_rows() -> None:
    frame, _ = simulate(SimulationSpec(rows=2_000, seed=3, missing_rate=0.05))
    numeric = ["QualityScore", "EnergyConsumption", "DowntimePercentage"]
    categorical = ["machine_id", "operator_id", "supplier_batch_id", "material"]
    for output in ("codes", "sparse"):
        whole = FeatureBuilder(numeric, categorical, output=output).fit(frame)
        parts = FeatureBuilder(numeric, categorical, output=output)
        pieces = [frame.iloc[i : i + 300] for i in range(0, len(frame), 300)]
        moments = functools.reduce(
            lambda a, b: a.merge(b), [parts.numeric_moments(p) for p in pieces]
        )
        seen = [
            np.unique(np.concatenate(columns))
            for columns in zip(*(parts.buckets_seen(p) for p in pieces), strict=True)
        ]
        parts.fit_from_parts(moments, seen)
        np.testing.assert_allclose(parts.mean_, whole.mean_, rtol=1e-12)
        np.testing.assert_allclose(parts.scale_, whole.scale_, rtol=1e-12)
        assert (parts.missing_indicator_ == whole.missing_indicator_).all()
        a, b = whole.transform(frame), parts.transform(frame)
        if output == "codes":
            np.testing.assert_array_equal(a, b)  # the category codes are the same
        else:
            np.testing.assert_allclose(a.toarray(), b.toarray(), rtol=1e-9, atol=1e-12)


def test_engine_setting_from_every_layer(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("engine: dask\nscheduler: tcp://10.0.0.5:8786\n")
    s = load_settings(config, environ={})
    assert (s.engine, s.scheduler) == ("dask", "tcp://10.0.0.5:8786")
    s = load_settings(environ={"DEFECTOPS_ENGINE": "dask"})
    assert (s.engine, s.scheduler) == ("dask", None)
    assert load_settings(config, {"engine": "local", "scheduler": None}, environ={}).engine == (
        "local"
    )
    with engine.engine_client(load_settings(environ={})) as client:
        assert client is None  # the local engine: nothing started


def test_the_local_cluster_listens_on_loopback_only(cluster: str) -> None:
    """Scheduler, workers, nannies and the scheduler's HTTP server (dashboard, metrics) of the
    LocalCluster the project starts: 127.0.0.1, never every interface of the machine."""
    import psutil
    from distributed import Client

    with Client(cluster) as client:
        pids = {os.getpid(), *client.run(os.getpid).values()}
    listening = [
        (pid, conn.laddr)
        for pid in pids
        for conn in psutil.Process(pid).net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 4, listening  # a scheduler, its HTTP server, two workers
    assert [entry for entry in listening if entry[1].ip != "127.0.0.1"] == []
