"""The dashboard's JSON endpoints and page routes, in-process, on a real small artifact tree.

Known answers come from the run itself: the promotions the gate made (chunks 1, 2, 3, 5, 6; see
``dashboard_fixtures``), the hold-out file's defect rate (the majority-class baselines), the
metadata files on disk, and the history a real rollback appends.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from dashboard_fixtures import CHUNKS, PROMOTED, Tree, build_tree, tree_settings
from defectops.core.config import load_settings
from defectops.core.layout import METADATA, PRODUCTION_DIR
from defectops.serving import create_app
from defectops.serving.dashboard import DASHBOARD_ROUTES, STATIC_TYPES, registry_view
from defectops.serving.live import LiveStats, percentile

TOKEN = "dashboard-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return build_tree(tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(scope="module")
def client(tree: Tree):
    app = create_app(
        tree_settings(tree.artifacts, tree.data, admin_token=TOKEN), poll_interval=None
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def records(tree: Tree, columns: list[str], n: int) -> list[dict[str, Any]]:
    frame = pd.read_csv(tree.data.holdout).iloc[:n][columns].astype(object)
    rows = frame.to_dict("records")
    clean = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in rows
    ]
    return json.loads(json.dumps(clean, default=lambda v: v.item()))


def feature_columns(client: TestClient) -> list[str]:
    features = client.get("/model").json()["features"]
    return [*features["numeric"], *features["categorical"]]


# -- /api/registry --------------------------------------------------------------------------------


def test_registry_champion_with_metrics_beside_the_baseline(client, tree):
    view = client.get("/api/registry").json()
    production = json.loads((tree.artifacts / PRODUCTION_DIR / METADATA).read_text())
    champion = view["champion"]
    assert view["serving"] == {"ready": True, "version": "6", "error": None}
    assert champion["version"] == client.get("/model").json()["version"] == "6"
    assert champion["chunk_id"] == 6
    assert champion["threshold"] == production["threshold"]
    assert champion["model"] == "logreg"
    assert champion["holdout_rows"] == 1000
    # promoted by the gate over chunk 5's model, with the gate's reason, as the history says
    history = [json.loads(line) for line in (tree.artifacts / "registry_history.jsonl").open()]
    assert champion["promoted"] == {
        "at": history[-1]["at"],
        "by": history[-1]["by"],
        "action": "gate",
        "reason": production["reason"],
        "from_version": "5",
        "from_chunk": 5,
    }
    metrics = {m["name"]: m for m in champion["metrics"]}
    for name in ("pr_auc", "roc_auc", "f1", "mcc", "accuracy", "recall", "brier"):
        assert metrics[name]["value"] == production["metrics"][name]
    # the majority-class model on this hold-out: it never says "defect"
    rate = float(pd.read_csv(tree.data.holdout)["DefectStatus"].mean())
    assert champion["defect_rate"] == pytest.approx(rate)
    assert metrics["pr_auc"]["baseline"] == pytest.approx(rate)
    assert metrics["accuracy"]["baseline"] == pytest.approx(1 - rate)
    assert metrics["roc_auc"]["baseline"] == 0.5
    assert metrics["mcc"]["baseline"] == 0.0
    assert metrics["f1"]["baseline"] == 0.0
    assert metrics["precision"]["baseline"] is None
    assert metrics["brier"]["lower_is_better"] is True
    assert [m["name"] for m in champion["metrics"]][:2] == ["pr_auc", "roc_auc"]


def test_registry_learning_curve_and_model_table(client, tree):
    view = client.get("/api/registry").json()
    curve = view["learning_curve"]
    assert curve["metric"] == "pr_auc"  # the gate's primary metric comes first
    points = curve["points"]
    assert [p["chunk_id"] for p in points] == list(range(1, CHUNKS + 1))
    assert [p["chunk_id"] for p in points if p["promoted"]] == PROMOTED
    assert [p["chunk_id"] for p in points if p["champion"]] == [6]
    for point in points:
        directory = tree.artifacts / "incremental_models" / f"model_{point['chunk_id']:02d}"
        meta = json.loads((directory / METADATA).read_text())
        assert point["values"]["pr_auc"] == meta["metrics"]["pr_auc"]
        assert point["values"]["f1"] == meta["metrics"]["f1"]
    baselines = {m["name"]: m["baseline"] for m in curve["metrics"]}
    assert baselines["pr_auc"] == pytest.approx(view["champion"]["defect_rate"])

    rows = view["models"]
    assert [r["version"] for r in rows] == [str(c) for c in range(1, CHUNKS + 1)]
    assert [r["status"] for r in rows] == [
        "production" if c in PROMOTED else "local_only" for c in range(1, CHUNKS + 1)
    ]
    roles = {r["chunk_id"]: r["role"] for r in rows}
    assert roles == {
        1: "former champion",
        2: "former champion",
        3: None,
        4: "former champion",
        5: "former champion",
        6: "champion",
    }
    assert rows[2]["reason"].startswith("fails acceptance")
    assert rows[0]["prequential_pr_auc"] is not None and rows[-1]["prequential_pr_auc"] is None

    assert view["run"]["chunks"] == CHUNKS
    assert view["run"]["finished"] is True
    assert view["run"]["chunk_size"] == 500
    assert view["run"]["gate_rule"] == "non-inferiority"
    assert view["run"]["training_rows"] == 3000


def test_registry_history_newest_first_and_rollback_target(client):
    view = client.get("/api/registry").json()
    history = view["history"]
    assert [h["to_version"] for h in history] == ["6", "5", "4", "2", "1"]
    assert [h["from_version"] for h in history] == ["5", "4", "2", "1", None]
    assert {h["action"] for h in history} == {"gate"}
    assert view["rollback_target"] == "5"
    assert view["problems"] == []


def test_registry_lists_unreadable_metadata_and_keeps_the_rest(tree, tmp_path):
    """registry_view reads plain files, so a copy of them is enough (no MLflow involved)."""
    copy = tmp_path / "artifacts"
    shutil.copytree(tree.artifacts / "incremental_models", copy / "incremental_models")
    shutil.copy(tree.artifacts / "registry_history.jsonl", copy / "registry_history.jsonl")
    (copy / "incremental_models" / "model_03" / METADATA).write_text("{ torn", encoding="utf-8")
    served = json.loads((tree.artifacts / PRODUCTION_DIR / METADATA).read_text())
    view = registry_view(copy, served)
    assert [r["chunk_id"] for r in view["models"]] == [1, 2, 4, 5, 6]
    assert view["problems"] == [
        "incremental_models/model_03/metadata.json: not readable model metadata"
    ]
    assert view["run"]["chunk_size"] is None  # no report in the copy: only what the models say
    assert view["champion"]["version"] == "6"


def test_run_summary_reads_the_reports_where_the_settings_put_them(tree, tmp_path):
    """With ``reports:`` set elsewhere, the run summary comes from there (it was empty)."""
    copy = tmp_path / "artifacts"
    shutil.copytree(tree.artifacts, copy, ignore=shutil.ignore_patterns("reports"))
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tree.artifacts / "reports", elsewhere)
    settings = tree_settings(copy, tree.data, reports=elsewhere)
    with TestClient(create_app(settings, poll_interval=None)) as c:
        run = c.get("/api/registry").json()["run"]
    assert (run["chunk_size"], run["training_rows"], run["gate_rule"]) == (
        500,
        3000,
        "non-inferiority",
    )


def test_registry_after_real_rollbacks(tmp_path):
    """Roll back twice through the service: roles, champion card and target follow the history."""
    tree = build_tree(tmp_path)
    app = create_app(
        tree_settings(tree.artifacts, tree.data, admin_token=TOKEN), poll_interval=None
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.post("/admin/rollback", headers=AUTH, json={"reason": "bad batch on line 3"})
        assert response.status_code == 200, response.text
        view = c.get("/api/registry").json()
        assert view["champion"]["version"] == "5"
        assert view["champion"]["promoted"]["action"] == "rollback"
        assert view["champion"]["promoted"]["reason"] == "bad batch on line 3"
        assert view["champion"]["promoted"]["from_version"] == "6"
        roles = {r["version"]: r["role"] for r in view["models"]}
        assert roles["6"] == "rolled back" and roles["5"] == "champion"
        assert roles["3"] is None and roles["4"] == "former champion"
        assert [p["chunk_id"] for p in view["learning_curve"]["points"] if p["champion"]] == [5]
        assert view["history"][0]["action"] == "rollback"
        assert view["rollback_target"] == "4"  # never back to 6, which was rolled back from

        assert c.post("/admin/rollback", headers=AUTH).status_code == 200
        view = c.get("/api/registry").json()
        assert view["champion"]["version"] == "4"
        assert view["rollback_target"] == "2"
        assert [h["to_version"] for h in view["history"][:2]] == ["4", "5"]


def test_empty_artifacts_give_an_empty_view(tmp_path):
    for artifacts in (tmp_path / "empty", tmp_path / "missing"):
        if artifacts.name == "empty":
            artifacts.mkdir()
        settings = load_settings(flags={"artifacts": artifacts}, environ={})
        app = create_app(settings, poll_interval=None)
        with TestClient(app) as c:
            assert c.get("/ready").status_code == 503
            view = c.get("/api/registry").json()
            assert view["serving"]["ready"] is False
            assert view["champion"] is None
            assert view["models"] == [] and view["history"] == []
            assert view["learning_curve"]["points"] == []
            assert view["run"] is None and view["rollback_target"] is None
            live = c.get("/api/live").json()
            assert live["model_version"] is None
            assert live["last_minute"]["predictions"] == 0
            assert c.get("/").status_code == 200


# -- /api/live ------------------------------------------------------------------------------------


def test_live_counts_scoring_traffic_only(tree):
    app = create_app(tree_settings(tree.artifacts, tree.data), poll_interval=None)
    with TestClient(app) as c:
        bodies = records(tree, feature_columns(c), 32)
        flagged = 0
        for body in bodies[:7]:
            response = c.post("/predict", json=body)
            assert response.status_code == 200
            flagged += response.json()["defect_pred"]
        batch = c.post("/predict/batch", json={"records": bodies[7:]})
        assert batch.status_code == 200
        flagged += sum(p["defect_pred"] for p in batch.json()["predictions"])
        assert c.post("/predict", json={"nope": 1}).status_code == 422
        assert c.post("/predict/batch", json={"records": [{"nope": 1}]}).status_code == 422
        for path in ("/api/registry", "/health", "/", "/model"):  # not the line's traffic
            c.get(path)

        live = c.get("/api/live").json()
        last = live["last_minute"]
        assert last["requests"] == 10
        assert last["errors"] == 2
        assert last["predictions"] == 32
        assert last["flagged"] == flagged
        assert last["flagged_rate"] == pytest.approx(flagged / 32)
        lat = last["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
        assert live["totals"]["predictions"] == 32
        assert sum(m["predictions"] for m in live["series"]) == 32
        assert len(live["series"]) == 30
        assert live["model_version"] == "6"
        assert len(c.get("/api/live?minutes=5").json()["series"]) == 5
        # the dashboard's own routes are labelled in Prometheus, not lumped into "other"
        text = c.get("/metrics").text
        assert 'defectops_http_requests_total{route="/api/registry",status="200"}' in text


class Clock:
    """A clock the test moves by hand (LiveStats takes any callable returning Unix seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_live_stats_buckets_minutes_and_expiry():
    clock = Clock(60.0 * 16_666)  # the start of a minute
    live = LiveStats(bucket_seconds=10, keep_seconds=600, clock=clock)
    live.request("/predict", 200, 0.002)
    live.scored(1, 1)
    clock.now += 65  # next minute, 65 s later: out of the last minute
    for _ in range(3):
        live.request("/predict/batch", 200, 0.050)
        live.scored(100, 7)
    live.request("/explain", 400, 0.001)
    live.request("/api/live", 200, 0.001)  # not scoring: ignored
    live.request("/health", 200, 0.001)

    snap = live.snapshot(minutes=3)
    assert snap["last_minute"]["requests"] == 4
    assert snap["last_minute"]["errors"] == 1
    assert snap["last_minute"]["predictions"] == 300
    assert snap["last_minute"]["flagged_rate"] == pytest.approx(0.07)
    assert [m["predictions"] for m in snap["series"]] == [0, 1, 300]
    assert [m["start"] for m in snap["series"]] == [999_900, 999_960, 1_000_020]
    assert snap["totals"]["requests"] == 5 and snap["totals"]["predictions"] == 301

    clock.now += 700  # past keep_seconds: the old buckets go when a new one opens
    live.scored(2, 0)
    snap = live.snapshot(minutes=10)
    assert sum(m["predictions"] for m in snap["series"]) == 2
    assert snap["last_minute"]["latency_ms"]["p50"] is None
    assert len(live.buckets) == 1
    assert snap["totals"]["predictions"] == 303


def test_latency_percentiles_stay_within_one_bin_of_the_exact_ones():
    rng = np.random.default_rng(3)
    samples = rng.lognormal(mean=np.log(0.004), sigma=0.8, size=5000)
    live = LiveStats()
    for s in samples:
        live.request("/predict", 200, float(s))
    counts = live.totals.latency
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(samples, q))
        estimate = percentile(counts, q)
        assert estimate is not None
        assert exact / 10 ** (1 / 8) <= estimate <= exact * 10 ** (1 / 8), (q, exact, estimate)


# -- the page -------------------------------------------------------------------------------------


def test_page_routes_serve_local_files_only(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/dashboard").text == page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert 'src="static/dashboard.js"' in page.text
    for name, media in STATIC_TYPES.items():
        if name.endswith(".html"):
            continue
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == media
        # nothing from another host: plants are often offline
        assert "http://" not in response.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in response.text
        assert "localStorage" not in response.text and "sessionStorage" not in response.text
    assert "http" not in page.text.lower().replace("http-equiv", "")
    for path in ("/", "/dashboard", "/api/registry", "/api/live"):
        assert path in DASHBOARD_ROUTES


def test_errors_are_json_with_a_code(client):
    response = client.get("/api/live?minutes=0")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "minutes" in error["message"]
    missing = client.get("/static/nothing.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert "Traceback" not in missing.text


def test_registry_json_has_no_nan(tree, tmp_path):
    """A metric that is NaN on disk (a one-class hold-out) becomes null, not invalid JSON."""
    copy = tmp_path / "artifacts"
    shutil.copytree(tree.artifacts / "incremental_models", copy / "incremental_models")
    path = copy / "incremental_models" / "model_02" / METADATA
    meta = json.loads(path.read_text())
    meta["metrics"]["roc_auc"] = float("nan")
    path.write_text(json.dumps(meta))  # Python writes NaN, as a careless writer would
    view = registry_view(Path(copy), None)
    json.dumps(view, allow_nan=False)  # raises on NaN
    assert view["models"][1]["metrics"]["roc_auc"] is None
