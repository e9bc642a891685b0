"""The service's own drift watch and request log, on a champion trained here; no mocks.

The line is simulated, so the rows after the training rows come from the same process
(stationary) and a calibration offset on ``EnergyConsumption`` is a drift the test knows of.
The champion is the run's last model, trained on every training row, so its profile holds
several windows of normal batch-to-batch movement.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from defectops.core.config import Settings, load_settings
from defectops.core.layout import METADATA, SCHEMA
from defectops.data.io import read_table
from defectops.data.schema import category_text
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.data.validation import validate
from defectops.monitoring.batch import monitor_batch
from defectops.ops.run import run_pipeline
from defectops.registry.local import LocalRegistry
from defectops.scoring.predict import Champion
from defectops.serving import create_app
from defectops.serving.live_drift import MIN_ROWS, SCORE_EDGES
from defectops.serving.request_log import RESULT_COLUMNS, RequestLog

TOKEN = "monitoring-admin-token-8c1f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRAIN_ROWS = 3000
CHUNK = 600
#: columns that follow the supplier batch; batches rotate, so a window of later rows holds
#: batches the training rows never saw: not what these tests are about
SUPPLIER_COLUMNS = {"supplier_batch_id", "supplier_country", "SupplierQuality"}


def settings_for(artifacts: Path, **flags: Any) -> Settings:
    return load_settings(flags={"artifacts": artifacts, **flags}, environ={})


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN -> null, numpy scalars -> Python), every float exactly."""
    rows = [
        {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]
    return json.loads(json.dumps(rows, default=lambda v: v.item()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A gbm run on 3,000 simulated rows (5 chunks of 600); the last model is the champion."""
    root = tmp_path_factory.mktemp("monitoring")
    frame, truth = simulate(SimulationSpec(rows=TRAIN_ROWS + 2400, seed=7))
    data, _ = write_frames(frame.iloc[:TRAIN_ROWS], truth.iloc[:TRAIN_ROWS], root / "line.csv")
    artifacts = root / "artifacts"
    run_pipeline(settings_for(artifacts, data=data, chunk_size=CHUNK))
    local = LocalRegistry(artifacts)
    last = sorted(local.models_dir.iterdir())[-1]
    meta = json.loads((last / METADATA).read_text())
    local.set_production(last / meta["model_file"], meta, json.loads((last / SCHEMA).read_text()))
    champion = Champion.load(artifacts)
    columns = list(champion.schema.features)
    later = frame.iloc[TRAIN_ROWS:].reset_index(drop=True)
    return {
        "root": root,
        "artifacts": artifacts,
        "columns": columns,
        "numeric": list(champion.schema.numeric),
        "categorical": list(champion.schema.categorical),
        "later": later[columns],
        "later_rows": later,
        "version": str(meta["version"]),
    }


def make_app(trained: dict[str, Any], *, window: int = CHUNK, **options: Any) -> Any:
    settings = settings_for(trained["artifacts"], admin_token=TOKEN, monitor={"window": window})
    return create_app(settings, poll_interval=None, monitor_interval=None, **options)


def refresh(app: Any) -> None:
    """The background summary, now (the same call the background task makes)."""
    assert app.state.monitor.refresh(app.state.holder.current, force=True)


def metric_samples(text: str) -> dict[str, list[Any]]:
    families: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        families.setdefault(family.name, []).extend(family.samples)
    return families


def gauge(samples: dict[str, list[Any]], name: str, **labels: str) -> float | None:
    for sample in samples.get(name, []):
        if sample.name == name and sample.labels == labels:
            return float(sample.value)
    return None


def by_feature(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["feature"]: f for f in payload["features"]}


# -- the window and its summary -------------------------------------------------------------------


def test_unknown_before_traffic_and_below_the_minimum(trained):
    app = make_app(trained)
    with TestClient(app) as c:
        payload = c.get("/monitoring").json()
        assert payload["status"] == "unknown"
        assert payload["window"] == {"size": 0, "capacity": CHUNK}
        assert payload["features"] == []
        assert payload["report"] is None
        assert "0 rows" in payload["message"]
        samples = metric_samples(c.get("/metrics").text)
        assert gauge(samples, "defectops_drift_status") == -1
        assert samples["defectops_feature_psi"] == []

        for body in as_records(trained["later"].iloc[: MIN_ROWS - 1]):
            assert c.post("/predict", json=body).status_code == 200
        refresh(app)
        payload = c.get("/monitoring").json()
        assert payload["status"] == "unknown"
        assert payload["window"]["size"] == MIN_ROWS - 1
        assert payload["features"] == []
        assert f"{MIN_ROWS - 1} rows" in payload["message"]


def test_stationary_rows_are_ok_and_ranked_worst_first(trained):
    app = make_app(trained)
    rows = trained["later"].iloc[:CHUNK]
    with TestClient(app) as c:
        response = c.post("/predict/batch", json={"records": as_records(rows)})
        assert response.status_code == 200
        refresh(app)
        payload = c.get("/monitoring").json()
    assert payload["window"] == {"size": CHUNK, "capacity": CHUNK}
    features = by_feature(payload)
    assert set(features) == set(trained["columns"])
    steady = [col for col in trained["columns"] if col not in SUPPLIER_COLUMNS]
    assert {col: features[col]["status"] for col in steady} == dict.fromkeys(steady, "ok")
    assert features["EnergyConsumption"]["kind"] == "numeric"
    assert features["machine_id"]["kind"] == "categorical"
    assert payload["scores"]["status"] == "ok"
    assert payload["scores"]["rows"] == CHUNK
    assert payload["model_version"] == trained["version"]
    ranks = [("ok", "warn", "drift").index(f["status"]) for f in payload["features"]]
    assert ranks == sorted(ranks, reverse=True)


def test_energy_offset_drifts_in_monitoring_and_metrics(trained):
    app = make_app(trained)
    drifted = trained["later"].iloc[:CHUNK].copy()
    drifted["EnergyConsumption"] += 800
    with TestClient(app) as c:
        c.post("/predict/batch", json={"records": as_records(trained["later"].iloc[:CHUNK])})
        refresh(app)
        before = by_feature(c.get("/monitoring").json())["EnergyConsumption"]
        assert before["status"] == "ok"

        # as columns this time: the other batch body takes the same path into the window
        records = as_records(drifted)
        columns = {col: [r[col] for r in records] for col in trained["columns"]}
        assert c.post("/predict/batch", json={"columns": columns}).status_code == 200
        refresh(app)
        payload = c.get("/monitoring").json()
        samples = metric_samples(c.get("/metrics").text)
    energy = by_feature(payload)["EnergyConsumption"]
    assert energy["status"] == "drift"
    assert energy["psi"] > 0.5 > 0.1 > before["psi"]
    assert payload["status"] == "drift"
    assert gauge(samples, "defectops_feature_drift_status", feature="EnergyConsumption") == 2
    assert gauge(samples, "defectops_feature_psi", feature="EnergyConsumption") == pytest.approx(
        energy["psi"]
    )
    assert gauge(samples, "defectops_drift_status") == 2
    assert gauge(samples, "defectops_score_psi") == pytest.approx(payload["scores"]["psi"])
    assert gauge(samples, "defectops_monitor_window_rows") == CHUNK
    for name in trained["columns"]:  # every feature has both gauges
        assert gauge(samples, "defectops_feature_drift_status", feature=name) in (0, 1, 2)
        assert gauge(samples, "defectops_feature_psi", feature=name) is not None


def test_window_keeps_the_newest_rows_and_never_exceeds_capacity(trained):
    capacity = MIN_ROWS
    app = make_app(trained, window=capacity)
    rows = trained["later"].iloc[:430]
    sent = []
    with TestClient(app) as c:
        for start, stop in ((0, 60), (60, 210), (210, 400)):
            part = rows.iloc[start:stop]
            c.post("/predict/batch", json={"records": as_records(part)})
            sent.append(part)
            assert app.state.monitor.window.size == min(capacity, stop)
            assert c.get("/monitoring").json()["window"]["size"] <= capacity
        for body in as_records(rows.iloc[400:]):
            c.post("/predict", json=body)
        window = app.state.monitor.window
        assert window.size == capacity
        assert window.added == len(rows)
        snap = window.snapshot()
    newest = rows.iloc[-capacity:]
    numeric, categorical = trained["numeric"], trained["categorical"]
    np.testing.assert_array_equal(snap.numbers, newest[numeric].to_numpy(dtype=np.float64))
    expected = newest[categorical].astype(object).to_numpy()
    assert [[category_text(v) for v in row] for row in snap.categories] == [
        [category_text(v) for v in row] for row in expected
    ]


def test_sampling_is_seeded_and_keeps_its_share(trained):
    rows = as_records(trained["later"].iloc[:1000])
    kept = []
    for _ in range(2):
        settings = settings_for(
            trained["artifacts"], monitor={"window": 5000, "sample_rate": 0.25}, seed=3
        )
        app = create_app(settings, poll_interval=None, monitor_interval=None)
        with TestClient(app) as c:
            c.post("/predict/batch", json={"records": rows[:800]})
            for body in rows[800:]:
                c.post("/predict", json=body)
            kept.append(app.state.monitor.window.snapshot())
    assert 150 < len(kept[0]) < 350  # a quarter of 1,000, give or take sampling noise
    np.testing.assert_array_equal(kept[0].numbers, kept[1].numbers)
    np.testing.assert_array_equal(kept[0].scores, kept[1].scores)


def test_score_drift_counts_only_the_current_champions_rows(trained):
    app = make_app(trained)
    with TestClient(app) as c:
        c.post("/predict/batch", json={"records": as_records(trained["later"].iloc[:300])})
        current = app.state.holder.current
        # the same features scored by another champion (its digest differs): rows count for the
        # features, not for the score distribution of this one
        other = dataclasses.replace(current, metadata_sha256="another-champion")
        rows = trained["later"].iloc[300:500]
        numbers = rows[trained["numeric"]].to_numpy(dtype=np.float64)
        categories = list(rows[trained["categorical"]].astype(object).to_numpy().T)
        app.state.monitor.observe_many(other, numbers, categories, np.full(len(rows), 0.5))
        refresh(app)
        payload = c.get("/monitoring").json()
        assert payload["window"]["size"] == 500
        assert payload["rows"] == 500
        assert payload["scores"]["rows"] == 300

        unprofiled = dataclasses.replace(current, profile=None)
        app.state.monitor.refresh(unprofiled, force=True)
        payload = c.get("/monitoring").json()
        assert payload["status"] == "unknown"
        assert "no drift profile" in payload["message"]
        assert payload["features"] == []


def test_newest_batch_report_is_summarised(trained):
    batch = trained["root"] / "batch_2024-05-02.csv"
    rows = trained["later_rows"].iloc[:CHUNK].copy()
    rows["EnergyConsumption"] += 800
    rows.to_csv(batch, index=False)
    settings = settings_for(trained["artifacts"])
    report, paths = monitor_batch(settings, batch)
    app = make_app(trained)
    try:
        with TestClient(app) as c:
            refresh(app)
            shown = c.get("/monitoring").json()["report"]
    finally:
        for path in paths.values():
            path.unlink()
    assert shown["batch"] == "batch_2024-05-02" == report["batch"]
    assert shown["status"] == report["status"] == "drift"
    assert shown["created_at"] == report["created_at"]
    assert shown["champion_version"] == trained["version"]
    assert [f["feature"] for f in shown["features"]] == [f["feature"] for f in report["features"]]
    energy = next(f for f in shown["features"] if f["feature"] == "EnergyConsumption")
    written = next(f for f in report["features"] if f["feature"] == "EnergyConsumption")
    assert energy == {
        "feature": "EnergyConsumption",
        "psi": pytest.approx(written["psi"]),
        "allowance": pytest.approx(written["allowance"]),
        "margin": pytest.approx(written["allowance"] + 0.25 - written["psi"]),
        "status": "drift",
        "kind": "numeric",
    }
    assert energy["margin"] < 0  # drift: beyond the allowance by more than psi_drift


# -- /metrics --------------------------------------------------------------------------------------


def test_score_histogram_counts_every_scored_row(trained):
    app = make_app(trained)
    rows = as_records(trained["later"].iloc[:250])
    served: list[float] = []
    with TestClient(app) as c:
        for body in rows[:30]:
            served.append(c.post("/predict", json=body).json()["defect_probability"])
        batch = c.post("/predict/batch", json={"records": rows[30:]}).json()
        served += [p["defect_probability"] for p in batch["predictions"]]
        assert c.post("/predict", json={"nope": 1}).status_code == 422  # not scored
        text = c.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    histogram = families["defectops_defect_probability"]
    assert histogram.type == "histogram"
    values = {(s.name, s.labels.get("le")): s.value for s in histogram.samples}
    assert values[("defectops_defect_probability_count", None)] == len(served) == 250
    assert values[("defectops_defect_probability_sum", None)] == pytest.approx(sum(served))
    assert values[("defectops_defect_probability_bucket", "+Inf")] == 250
    scores = np.asarray(served)
    for edge in SCORE_EDGES:
        le = str(edge)
        assert values[("defectops_defect_probability_bucket", le)] == np.sum(scores <= edge), le
    # the metrics that were there before are still there
    assert 'defectops_predictions_total{label="' in text
    assert "defectops_http_request_duration_seconds_bucket" in text


# -- the request log -------------------------------------------------------------------------------


def test_request_log_writes_what_was_served_and_never_the_token(trained, tmp_path):
    log_dir = tmp_path / "requests"
    app = make_app(trained, request_log=log_dir, request_log_rows=250)
    rows = trained["later"].iloc[:480].reset_index(drop=True)
    bodies = as_records(rows)
    served: list[dict[str, Any]] = []
    started = time.time()
    with TestClient(app) as c:
        for body in bodies[:20]:  # callers may send an Authorization header anyway
            answer = c.post("/predict", json=body, headers=AUTH).json()
            served.append({**answer, "route": "/predict"})
        assert c.post("/admin/reload", headers=AUTH).status_code == 200
        batch = c.post("/predict/batch", json={"records": bodies[20:320]}, headers=AUTH).json()
        served += [{**p, **batch, "route": "/predict/batch"} for p in batch["predictions"]]
        # 320 rows are more than the 250 that ask for a write while serving
        deadline = time.monotonic() + 30
        while not list(log_dir.rglob("*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(list(log_dir.rglob("*.parquet"))) == 1
        assert app.state.request_log.pending == 0
        table = {col: [b[col] for b in bodies[320:400]] for col in trained["columns"]}
        batch = c.post("/predict/batch", json={"columns": table}).json()
        served += [{**p, **batch, "route": "/predict/batch"} for p in batch["predictions"]]
        # rows as the line's file has them: with the label and the timestamp (ignored)
        odd = [dict(b, DefectStatus=1, timestamp="2024-03-01 06:00:00") for b in bodies[400:480]]
        batch = c.post("/predict/batch", json={"records": odd}).json()
        assert len(batch["predictions"]) == 80
        served += [{**p, **batch, "route": "/predict/batch"} for p in batch["predictions"]]
        assert c.post("/admin/reload", headers=AUTH).status_code == 200
        wrong = {"Authorization": f"Bearer {TOKEN}x"}
        assert c.post("/admin/reload", headers=wrong).status_code == 401
        assert app.state.request_log.pending == 160  # written at shutdown
    ended = time.time()

    files = sorted(log_dir.rglob("*"))
    parts = [p for p in files if p.is_file()]
    assert parts and all(p.suffix == ".parquet" and p.name.startswith("part-") for p in parts)
    assert len(parts) == 2  # one while serving, one at shutdown
    for part in parts:
        assert TOKEN.encode() not in part.read_bytes()
        assert part.parent.name.startswith("date=")
    frames = [read_table(p) for p in sorted(parts, key=lambda p: p.name.rsplit("-", 1)[-1])]
    logged = pd.concat(frames, ignore_index=True)
    assert list(logged.columns) == ["timestamp", *trained["columns"], *RESULT_COLUMNS]
    assert (logged["timestamp"] == logged["scored_at"].dt.tz_localize(None)).all()
    assert len(logged) == len(served) == 480

    np.testing.assert_allclose(
        logged[trained["numeric"]].to_numpy(dtype=np.float64),
        rows[trained["numeric"]].to_numpy(dtype=np.float64),
        rtol=0,
        atol=0,
    )
    for col in trained["categorical"]:
        assert logged[col].tolist() == [category_text(v) for v in rows[col]], col
    assert logged["defect_probability"].tolist() == [s["defect_probability"] for s in served]
    assert logged["defect_pred"].tolist() == [s["defect_pred"] for s in served]
    assert logged["threshold"].tolist() == [s["threshold"] for s in served]
    assert logged["model_version"].tolist() == [s["model_version"] for s in served]
    assert logged["route"].tolist() == [s["route"] for s in served]
    stamps = logged["scored_at"]
    assert str(stamps.dt.tz) == "UTC"
    assert stamps.is_monotonic_increasing
    assert started - 1 <= stamps.min().timestamp() <= stamps.max().timestamp() <= ended + 1
    for part, frame in zip(sorted(parts), [read_table(p) for p in sorted(parts)], strict=True):
        days = set(frame["scored_at"].dt.strftime("%Y-%m-%d"))
        assert {part.parent.name} == {f"date={day}" for day in days}

    # once labelled, the file passes the champion's data contract like any batch
    champion = Champion.load(trained["artifacts"])
    labelled = logged.assign(DefectStatus=trained["later_rows"]["DefectStatus"].to_numpy()[:480])
    reference = LocalRegistry(trained["artifacts"]).champion_schema()["reference"]
    result = validate(
        labelled, settings_for(trained["artifacts"]), schema=champion.schema, reference=reference
    )
    assert len(result.frame) == 480, result.quarantine.head() if len(result.quarantine) else ""
    np.testing.assert_allclose(
        champion.score(result.frame), logged["defect_probability"], rtol=0, atol=1e-9
    )


def test_request_log_writes_every_accepted_row_whatever_its_values(trained, tmp_path):
    """Blank, unicode, longest-allowed and missing values, and the largest numbers allowed:
    every row the service accepted is in the log (a blank category once lost the whole write)."""
    log_dir = tmp_path / "requests"
    app = make_app(trained, request_log=log_dir, request_log_rows=10_000)
    bodies = as_records(trained["later"].iloc[:12])
    numeric, categorical = trained["numeric"], trained["categorical"]
    odd = ["", "   ", "Zürich-β-线-🙂", "x" * 256, None, "?"]
    for i, value in enumerate(odd):
        bodies[i][categorical[i % len(categorical)]] = value
    bodies[6][numeric[0]] = None
    bodies[7][numeric[1]] = 3.4e38
    bodies[8][numeric[2]] = -3.4e38
    bodies[9][numeric[3]] = 0
    sent = [*bodies[:6], *bodies]  # the first six alone, then all twelve as a batch
    with TestClient(app) as c:
        for body in bodies[:6]:
            assert c.post("/predict", json=body).status_code == 200
        answer = c.post("/predict/batch", json={"records": bodies})
        assert answer.status_code == 200, answer.text
        assert c.post("/predict", json={**bodies[0], numeric[0]: 1e39}).status_code == 422
    logged = pd.concat([read_table(p) for p in sorted(log_dir.rglob("*.parquet"))])
    assert len(logged) == len(sent) == 18
    written = app.state.metrics.registry.get_sample_value(
        "defectops_request_log_rows_total", {"result": "written"}
    )
    assert written == 18.0
    for col in categorical:
        texts = [None if pd.isna(v) else v for v in logged[col]]
        assert texts == [None if b[col] is None else category_text(b[col]) for b in sent], col
    expected = pd.DataFrame(sent)[numeric].astype(float)
    np.testing.assert_array_equal(logged[numeric].to_numpy(float), expected.to_numpy(float))


def test_request_log_bounds_what_waits_and_counts_what_it_drops(trained, tmp_path):
    app = make_app(trained)
    with TestClient(app) as c:
        c.get("/ready")
        loaded = app.state.holder.current
        registry = CollectorRegistry()
        log = RequestLog(tmp_path / "requests", flush_rows=100, max_rows=150, registry=registry)
        rows = trained["later"].iloc[:100]
        numbers = rows[trained["numeric"]].to_numpy(dtype=np.float64)
        categories = list(rows[trained["categorical"]].astype(object).to_numpy().T)
        scores, labels = np.full(100, 0.25), np.zeros(100, dtype=np.int8)
        log.add_many(loaded, numbers, categories, scores, labels, "/predict/batch")
        log.add_many(loaded, numbers, categories, scores, labels, "/predict/batch")  # dropped
        log.add_one(loaded, list(as_records(rows.iloc[:1])[0].values()), 0.5, 1, "/predict")
        assert log.pending == 101
        (written,) = log.flush()
    assert log.pending == 0
    assert len(read_table(written)) == 101
    counted = {
        result: registry.get_sample_value("defectops_request_log_rows_total", {"result": result})
        for result in ("written", "dropped")
    }
    assert counted == {"written": 101, "dropped": 100}


def test_request_log_is_off_by_default(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(trained)
    with TestClient(app) as c:
        c.post("/predict/batch", json={"records": as_records(trained["later"].iloc[:50])})
    assert app.state.request_log is None
    assert list(tmp_path.iterdir()) == []


# -- a real uvicorn process ------------------------------------------------------------------------


def test_uvicorn_monitoring_after_traffic_and_log_flushed_on_shutdown(trained, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log_dir = tmp_path / "requests"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEFECTOPS_")}
    env.update(
        DEFECTOPS_ARTIFACTS=str(trained["artifacts"]),
        DEFECTOPS_ADMIN_TOKEN=TOKEN,
        DEFECTOPS_MONITOR__WINDOW=str(CHUNK),
        DEFECTOPS_SERVE_MONITOR_INTERVAL="0.2",
        DEFECTOPS_SERVE_REQUEST_LOG=str(log_dir),
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    command = [sys.executable, "-m", "uvicorn", "--factory"]
    command += ["defectops.serving.app:app_from_env", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/ready", timeout=1).status_code == 200, process)
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/monitoring").json()["status"] == "unknown"
            rows = as_records(trained["later"].iloc[:CHUNK])
            for body in rows[:10]:
                assert client.post("/predict", json=body, headers=AUTH).status_code == 200
            assert client.post("/predict/batch", json={"records": rows[10:]}).status_code == 200
            payload = wait_for(
                lambda: (m := client.get("/monitoring").json())["status"] != "unknown" and m,
                process,
            )
            assert payload["window"] == {"size": CHUNK, "capacity": CHUNK}
            assert set(by_feature(payload)) == set(trained["columns"])
            assert by_feature(payload)["EnergyConsumption"]["status"] == "ok"
            assert payload["scores"]["rows"] == CHUNK
            samples = metric_samples(client.get("/metrics").text)
            assert gauge(samples, "defectops_feature_psi", feature="EnergyConsumption") == (
                pytest.approx(by_feature(payload)["EnergyConsumption"]["psi"])
            )
        process.send_signal(signal.SIGTERM)  # a graceful stop, which writes the request log
        assert process.wait(30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    logged = pd.concat([read_table(p) for p in log_dir.rglob("*.parquet")], ignore_index=True)
    assert len(logged) == CHUNK
    assert sorted(logged["route"].unique()) == ["/predict", "/predict/batch"]
    assert all(TOKEN.encode() not in p.read_bytes() for p in log_dir.rglob("*.parquet"))


def wait_for(predicate: Any, process: subprocess.Popen[bytes], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            result = predicate()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_token_never_in_monitoring_or_metrics(trained):
    app = make_app(trained)
    with TestClient(app) as c:
        c.post("/predict/batch", json={"records": as_records(trained["later"].iloc[:200])})
        c.post("/admin/reload", headers=AUTH)
        refresh(app)
        for path in ("/monitoring", "/metrics"):
            assert TOKEN not in c.get(path).text
