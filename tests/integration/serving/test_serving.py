"""The prediction service in-process (TestClient), on champions trained here; no mocks."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from defectops.core.config import Settings, load_settings
from defectops.core.layout import METADATA, PRODUCTION_DIR, SCHEMA
from defectops.data.io import read_table, write_table
from defectops.data.simulate import SimulationSpec, simulate, write_frames
from defectops.ops.run import run_pipeline
from defectops.registry.local import LocalRegistry
from defectops.scoring.predict import Champion
from defectops.serving import create_app

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def settings_for(artifacts: Path, data: Path | None = None, **flags: Any) -> Settings:
    values = {"artifacts": artifacts, "chunk_size": 1000, **flags}
    if data is not None:
        values["data"] = data
    return load_settings(flags=values, environ={})


def promote(settings: Settings, version: str, reason: str) -> None:
    """Make a chunk model of the run the champion in ``production/`` (the local commit path).

    ``ModelRegistry.promote`` would be the natural call, but it cannot download a version from
    MLflow 3.17 (see ``test_admin_rollback``), so the hot-swap tests commit the verified chunk
    model from the local tree with ``LocalRegistry.set_production``, as ``crown`` does.
    """
    local = LocalRegistry(settings.artifacts)
    for directory in sorted(local.models_dir.iterdir()):
        meta = json.loads((directory / METADATA).read_text())
        if str(meta.get("version")) == version:
            schema = json.loads((directory / SCHEMA).read_text())
            local.set_production(directory / meta["model_file"], meta, schema)
            return
    raise AssertionError(f"no chunk model with version {version}")


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN -> null, numpy scalars -> Python."""
    out = []
    for row in frame[columns].astype(object).to_dict("records"):
        out.append(
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        )
    return json.loads(json.dumps(out, default=lambda v: v.item()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A gbm run with two promotions (versions 1 and 2) on 3,000 simulated rows."""
    root = tmp_path_factory.mktemp("serving")
    frame, truth = simulate(SimulationSpec(rows=3000, seed=7))
    data, _ = write_frames(frame, truth, root / "line.csv")
    artifacts = root / "artifacts"
    result = run_pipeline(settings_for(artifacts, data))
    promoted = [m["version"] for m in result.models if m["status"] == "production"]
    assert len(promoted) >= 2, "the fixture needs two promotions for rollback"
    champion = Champion.load(artifacts)
    columns = list(champion.schema.features)
    return {
        "root": root,
        "artifacts": artifacts,
        "data": data,
        "frame": read_table(data),
        "columns": columns,
        "numeric": list(champion.schema.numeric),
        "categorical": list(champion.schema.categorical),
        "versions": promoted,
    }


@pytest.fixture
def own_artifacts(trained: dict[str, Any]):
    """The trained tree for a test that changes the champion; the newest is champion again after.

    (A copy of the tree would not do: MLflow's registry records absolute locations.)
    """
    artifacts = trained["artifacts"]
    yield artifacts
    meta = json.loads((artifacts / PRODUCTION_DIR / METADATA).read_text())
    last = trained["versions"][-1]
    if meta.get("version") != last or not _production_intact(artifacts):
        promote(settings_for(artifacts), last, "test teardown")
    assert Champion.load(artifacts).metadata["version"] == last


def _production_intact(artifacts: Path) -> bool:
    try:
        Champion.load(artifacts)
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def client(trained: dict[str, Any]):
    app = create_app(settings_for(trained["artifacts"], admin_token=TOKEN), poll_interval=None)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def one(trained: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return records(trained["frame"].iloc[i : i + 1], trained["columns"])[0]


# -- scoring ------------------------------------------------------------------------------------


def test_predict_equals_file_scoring_and_batch_equals_singles(client, trained):
    rows = trained["frame"].iloc[:40]
    expected = Champion.load(trained["artifacts"]).score(rows)
    bodies = records(rows, trained["columns"])
    singles = []
    for body in bodies:
        response = client.post("/predict", json=body)
        assert response.status_code == 200, response.text
        singles.append(response.json())
    got = np.array([s["defect_probability"] for s in singles])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    threshold = singles[0]["threshold"]
    assert [s["defect_pred"] for s in singles] == [int(p >= threshold) for p in got]
    assert {s["model_version"] for s in singles} == {trained["versions"][-1]}

    batch = client.post("/predict/batch", json={"records": bodies})
    assert batch.status_code == 200, batch.text
    result = batch.json()
    assert result["model_version"] == trained["versions"][-1]
    np.testing.assert_allclose(
        [p["defect_probability"] for p in result["predictions"]], got, rtol=0, atol=1e-12
    )
    assert [p["defect_pred"] for p in result["predictions"]] == [s["defect_pred"] for s in singles]


def test_null_numeric_id_as_number_or_string_and_unseen_category(client, trained):
    body = one(trained)
    numeric = Champion.load(trained["artifacts"]).schema.numeric
    nulled = {**body, numeric[0]: None}
    response = client.post("/predict", json=nulled)
    assert response.status_code == 200, response.text
    assert 0.0 <= response.json()["defect_probability"] <= 1.0

    as_number = {**body, "machine_id": int(body["machine_id"])}
    as_string = {**body, "machine_id": str(body["machine_id"])}
    as_float = {**body, "machine_id": float(body["machine_id"])}
    scores = {
        client.post("/predict", json=b).json()["defect_probability"]
        for b in (as_number, as_string, as_float)
    }
    assert len(scores) == 1

    unseen = {**body, "machine_id": "never-seen-machine-42", "shift": 12345}
    response = client.post("/predict", json=unseen)
    assert response.status_code == 200, response.text


def test_unknown_field_rejected_naming_it_or_ignored(client, trained):
    body = {**one(trained), "colour": "red"}
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "colour" in error["message"]
    assert [f["field"] for f in error["fields"]] == ["colour"]
    assert "Traceback" not in response.text

    app = create_app(
        settings_for(trained["artifacts"]), poll_interval=None, unknown_fields="ignore"
    )
    with TestClient(app) as lenient:
        response = lenient.post("/predict", json=body)
        assert response.status_code == 200, response.text
        plain = lenient.post("/predict", json=one(trained)).json()
        assert response.json()["defect_probability"] == plain["defect_probability"]


def test_missing_field_is_422_naming_it(client, trained):
    body = one(trained)
    del body["operator_id"]
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert "operator_id" in error["message"]
    assert error["fields"][0]["field"] == "operator_id"
    assert error["fields"][0]["type"] == "missing"

    response = client.post("/predict", content=b"{not json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_json"


def test_batch_and_body_limits(trained):
    app = create_app(
        settings_for(trained["artifacts"]), poll_interval=None, max_batch=5, max_body_bytes=4096
    )
    body = one(trained)
    with TestClient(app) as c:
        assert c.post("/predict/batch", json={"records": [body] * 5}).status_code == 200
        over = c.post("/predict/batch", json={"records": [body] * 6})
        assert over.status_code == 413
        assert over.json()["error"]["code"] == "batch_too_large"
        huge = c.post("/predict", content=b" " * 5000, headers={"content-type": "application/json"})
        assert huge.status_code == 413
        assert huge.json()["error"]["code"] == "body_too_large"
        empty = c.post("/predict/batch", json={"records": []})
        assert empty.status_code == 422
        columns = {k: [v] * 6 for k, v in body.items()}
        over = c.post("/predict/batch", json={"columns": columns})
        assert over.status_code == 413, over.text
        assert over.json()["error"]["code"] == "batch_too_large"


def test_batch_column_path_and_record_path_agree(client, trained):
    """A plainly valid batch is read column by column; anything else goes through pydantic.

    Both must give the same scores and the same errors: the column reader's scores are compared
    with pydantic's reading of the same body, and each malformed case is sent in both layouts.
    """
    bodies = records(trained["frame"].iloc[:6], trained["columns"])
    numeric = Champion.load(trained["artifacts"]).schema.numeric
    plain = client.post("/predict/batch", json={"records": bodies})
    assert plain.status_code == 200, plain.text
    loaded = client.app.state.holder.current
    parsed = loaded.batch.model_validate_json(json.dumps({"records": bodies}))
    by_pydantic = loaded.score(loaded.frame([loaded.values(r) for r in parsed.records]))
    served = [p["defect_probability"] for p in plain.json()["predictions"]]
    np.testing.assert_allclose(served, by_pydantic, rtol=0, atol=1e-12)
    texted = [dict(b) for b in bodies]
    texted[2][numeric[1]] = str(texted[2][numeric[1]])  # a number as text: not a number
    detour = client.post("/predict/batch", json={"records": texted})
    assert detour.status_code == 422, detour.text
    assert [f["loc"] for f in detour.json()["error"]["fields"]] == [["records", 2, numeric[1]]]
    singles = [client.post("/predict", json=b).json()["defect_probability"] for b in bodies]
    assert [p["defect_probability"] for p in plain.json()["predictions"]] == singles

    extra = [dict(b) for b in bodies]
    extra[4]["colour"] = "red"
    response = client.post("/predict/batch", json={"records": extra})
    assert response.status_code == 422
    assert [f["loc"] for f in response.json()["error"]["fields"]] == [["records", 4, "colour"]]

    columns = {k: [b[k] for b in bodies] for k in bodies[0]}
    as_columns = client.post("/predict/batch", json={"columns": columns})
    assert as_columns.status_code == 200, as_columns.text
    assert as_columns.json()["predictions"] == plain.json()["predictions"]
    texted_columns = {**columns, numeric[1]: [str(v) for v in columns[numeric[1]]]}
    detour = client.post("/predict/batch", json={"columns": texted_columns})
    assert detour.status_code == 422, detour.text
    assert detour.json()["error"]["fields"][0]["loc"] == ["columns", numeric[1], 0]
    ragged = {**columns, "shift": columns["shift"][:4]}
    response = client.post("/predict/batch", json={"columns": ragged})
    assert response.status_code == 422
    assert "shift: 4" in response.json()["error"]["message"]
    unknown = {**columns, "colour": ["red"] * 6}
    response = client.post("/predict/batch", json={"columns": unknown})
    assert response.status_code == 422
    assert [f["loc"] for f in response.json()["error"]["fields"]] == [["columns", "colour"]]

    flag = [dict(b) for b in bodies]
    flag[1]["machine_id"] = True  # a bool is neither an ID text nor a number
    response = client.post("/predict/batch", json={"records": flag})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["loc"][:3] == ["records", 1, "machine_id"]


def test_explain_gbm_contributions_add_up(client, trained):
    body = one(trained, 3)
    response = client.post("/explain?top=5", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["contributions"]) == 5
    sizes = [abs(c["contribution"]) for c in result["contributions"]]
    assert sizes == sorted(sizes, reverse=True)
    model = Champion.load(trained["artifacts"]).model
    booster = model.estimator_
    p = 1.0 / (1.0 + math.exp(-(booster.slope * result["margin"] + booster.intercept)))
    assert p == pytest.approx(result["defect_probability"], abs=1e-5)
    predicted = client.post("/predict", json=body).json()["defect_probability"]
    assert result["defect_probability"] == predicted


# -- names with spaces and brackets; a model without explanations -------------------------------


def test_columns_with_spaces_and_brackets(make_frame, tmp_path):
    frame = make_frame(600, seed=3)
    signal = frame["Torque [Nm]"] + (frame["Air temperature [K]"] - 300.0)  # learnable defects
    frame["DefectStatus"] = (signal > signal.quantile(0.75)).astype(int)
    data = write_table(frame, tmp_path / "tiny.csv")
    artifacts = tmp_path / "artifacts"
    run_pipeline(settings_for(artifacts, data, chunk_size=600, model="logreg"))
    champion = Champion.load(artifacts)
    columns = list(champion.schema.features)
    assert "Air temperature [K]" in columns and "Torque [Nm]" in columns
    rows = read_table(data).iloc[:10]
    expected = champion.score(rows)
    app = create_app(settings_for(artifacts), poll_interval=None)
    with TestClient(app) as c:
        got = [
            c.post("/predict", json=r).json()["defect_probability"] for r in records(rows, columns)
        ]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        body = records(rows.iloc[:1], columns)[0]
        del body["Torque [Nm]"]
        missing = c.post("/predict", json=body)
        assert missing.status_code == 422
        assert missing.json()["error"]["fields"][0]["field"] == "Torque [Nm]"
        doc = c.get("/openapi.json").json()
        example = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
        assert "Air temperature [K]" in example["example"]
        assert "Air temperature [K]" in doc["components"]["schemas"]["Record"]["properties"]
        assert c.post("/predict", json=example["example"]).status_code == 200
        explain = c.post("/explain", json=records(rows.iloc[:1], columns)[0])
        assert explain.status_code == 400
        assert explain.json()["error"]["code"] == "explain_not_available"


# -- state routes ---------------------------------------------------------------------------------


def test_ready_is_503_without_champion_then_200(trained, tmp_path):
    artifacts = tmp_path / "empty"
    artifacts.mkdir()
    app = create_app(settings_for(artifacts), poll_interval=0.05)
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200
        response = c.get("/ready")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready"
        assert c.post("/predict", json=one(trained)).status_code == 503
        assert c.get("/model").status_code == 503
        source = trained["artifacts"] / PRODUCTION_DIR
        target = artifacts / PRODUCTION_DIR
        target.mkdir()
        for path in source.iterdir():  # the model and schema first, metadata.json last
            if path.name != METADATA:
                shutil.copy(path, target / path.name)
        shutil.copy(source / METADATA, target / METADATA)
        deadline = time.monotonic() + 10
        while c.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get("/ready").json()["model_version"] == trained["versions"][-1]


def test_model_route(client, trained):
    info = client.get("/model").json()
    meta = json.loads((trained["artifacts"] / PRODUCTION_DIR / METADATA).read_text())
    assert info["version"] == meta["version"] == trained["versions"][-1]
    assert info["chunk_id"] == meta["chunk_id"]
    assert info["threshold"] == meta["threshold"]
    assert info["metrics"]["pr_auc"] == meta["metrics"]["pr_auc"]
    assert info["trained_at"] == meta["trained_at"]
    assert info["data_sha256"] == meta["data_sha256"]
    assert info["model_sha256"] == meta["model_sha256"]
    assert "machine_id" in info["features"]["categorical"]


def test_metrics_count_requests(client, trained):
    client.post("/predict", json=one(trained))
    client.post("/predict", json={"nope": 1})
    text = client.get("/metrics").text
    assert 'defectops_http_requests_total{route="/predict",status="200"}' in text
    assert 'defectops_http_requests_total{route="/predict",status="422"}' in text
    assert "defectops_http_request_duration_seconds_bucket" in text
    assert 'defectops_predictions_total{label="' in text
    assert 'defectops_model_info{chunk="' in text
    assert f'version="{trained["versions"][-1]}"' in text
    assert 'defectops_model_reloads_total{result="success"}' in text
    assert 'defectops_errors_total{code="validation_error"}' in text


# -- admin, rollback, hot swap --------------------------------------------------------------------


def test_admin_disabled_without_token(trained):
    app = create_app(settings_for(trained["artifacts"]), poll_interval=None)
    with TestClient(app) as c:
        for route in ("/admin/reload", "/admin/rollback"):
            response = c.post(route, headers=AUTH)
            assert response.status_code == 403
            assert "DEFECTOPS_ADMIN_TOKEN" in response.json()["error"]["message"]


def test_admin_wrong_or_missing_token_is_401_and_changes_nothing(own_artifacts):
    app = create_app(settings_for(own_artifacts, admin_token=TOKEN), poll_interval=None)
    with TestClient(app) as c:
        before = c.get("/model").json()["version"]
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            for route in ("/admin/reload", "/admin/rollback"):
                response = c.post(route, headers=headers)
                assert response.status_code == 401, response.text
                assert response.json()["error"]["code"] == "unauthorized"
        assert c.get("/model").json()["version"] == before
        meta = json.loads((own_artifacts / PRODUCTION_DIR / METADATA).read_text())
        assert meta["version"] == before


def test_hot_swap_by_promote_and_admin_reload(own_artifacts, trained):
    settings = settings_for(own_artifacts, admin_token=TOKEN)
    app = create_app(settings, poll_interval=None)
    first, last = trained["versions"][-2], trained["versions"][-1]
    body = one(trained)
    with TestClient(app) as c:
        assert c.get("/model").json()["version"] == last
        promote(settings, first, "hot swap test")
        assert c.get("/model").json()["version"] == last  # no poller: not yet reloaded
        response = c.post("/admin/reload", headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "model_version": first,
            "previous_version": last,
            "changed": True,
        }
        assert c.get("/model").json()["version"] == first
        assert c.post("/predict", json=body).json()["model_version"] == first


def test_admin_rollback(own_artifacts, trained):
    settings = settings_for(own_artifacts, admin_token=TOKEN)
    app = create_app(settings, poll_interval=None)
    first, last = trained["versions"][-2], trained["versions"][-1]
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/model").json()["version"] == last
        response = c.post("/admin/rollback", headers=AUTH, json={"reason": "test rollback"})
        assert "Traceback" not in response.text
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == first
        assert c.get("/model").json()["version"] == first


def test_poller_swaps_and_refuses_a_corrupted_model(own_artifacts, trained):
    settings = settings_for(own_artifacts, admin_token=TOKEN)
    app = create_app(settings, poll_interval=0.05)
    first, last = trained["versions"][-2], trained["versions"][-1]
    body = one(trained)
    with TestClient(app) as c:
        expected = c.post("/predict", json=body).json()
        promote(settings, first, "poller test")
        deadline = time.monotonic() + 10
        while c.get("/model").json()["version"] != first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get("/model").json()["version"] == first

        # a new champion whose file does not match its checksum: refused, the old one serves on
        production = own_artifacts / PRODUCTION_DIR
        meta = json.loads((production / METADATA).read_text())
        (production / meta["model_file"]).write_bytes(b"not a model")
        response = c.post("/admin/reload", headers=AUTH)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "reload_failed"
        forged = {**meta, "version": "666"}
        (production / METADATA).write_text(json.dumps(forged))

        def reload_failures() -> str:
            text = c.get("/metrics").text
            lines = [x for x in text.splitlines() if 'reloads_total{result="failure"}' in x]
            return lines[0].rsplit(" ", 1)[-1] if lines else "0"

        deadline = time.monotonic() + 10  # the poller sees the new metadata and refuses it
        while reload_failures() != "2.0" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reload_failures() == "2.0"
        assert c.get("/model").json()["version"] == first
        assert c.get("/ready").status_code == 200
        assert c.post("/predict", json=body).json()["model_version"] == first
        text = c.get("/metrics").text
        failures = [
            line for line in text.splitlines() if line.startswith("defectops_model_reloads_total")
        ]
        assert any('result="failure"} 2.0' in line for line in failures), failures

        promote(settings, last, "repair")  # a good model is taken again
        deadline = time.monotonic() + 10
        while c.get("/model").json()["version"] != last and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.post("/predict", json=body).json() == expected


# -- generated requests never give a 5xx ----------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def record_bodies(draw, properties: dict[str, Any], required: list[str]) -> Any:
    """Bodies shaped by the app's own OpenAPI schema, then bent: wrong types, gaps, extras."""
    body: dict[str, Any] = {}
    for name in required:
        if draw(st.integers(0, 20)) == 0:
            continue  # sometimes missing
        kinds = {s.get("type") for s in properties[name].get("anyOf", [properties[name]])}
        if "number" in kinds and "string" not in kinds and draw(st.booleans()):
            body[name] = draw(st.none() | st.floats(allow_nan=False, allow_infinity=False))
        elif draw(st.booleans()):
            body[name] = draw(st.none() | st.text(max_size=10) | st.integers(-(2**64), 2**64))
        else:
            body[name] = draw(JSON_VALUES)
    if draw(st.integers(0, 5)) == 0:
        body[draw(st.text(min_size=1, max_size=8))] = draw(JSON_SCALARS)
    if draw(st.integers(0, 30)) == 0:
        return draw(JSON_VALUES)
    return body


def test_generated_requests_never_5xx(client):
    doc = client.get("/openapi.json").json()
    record = doc["components"]["schemas"]["Record"]
    strategy = record_bodies(record["properties"], record["required"])

    routes = ["/predict", "/explain", "/predict/batch", "/predict/batch#columns"]

    @hsettings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=strategy, route=st.sampled_from(routes), repeat=st.integers(1, 3))
    def check(body: Any, route: str, repeat: int) -> None:
        payload = {"records": [body] * repeat} if route == "/predict/batch" else body
        if route.endswith("#columns"):
            route = "/predict/batch"
            columns = body
            if isinstance(body, dict):
                columns = {k: [v] * repeat for k, v in body.items()}
                if columns and repeat == 3:
                    first = next(iter(columns))
                    columns[first] = columns[first][:1]  # ragged
            payload = {"columns": columns}
        response = client.post(route, content=json.dumps(payload))
        assert response.status_code < 500, response.text
        if response.status_code != 200:
            assert set(response.json()["error"]) == {"code", "message", "fields"}

    check()


# -- one value rule on every route -------------------------------------------------------------

#: JSON text of a numeric field's value -> why it is no number the contract takes
NOT_A_READING = {
    "NaN": "finite_number",
    "Infinity": "finite_number",
    "-Infinity": "finite_number",
    "1e400": "finite_number",
    '"inf"': "float_type",
    '"12.5"': "float_type",
    "true": "float_type",
    "1e39": "value_error",
    "-3.5e38": "value_error",
}


@pytest.mark.parametrize("text", list(NOT_A_READING))
def test_a_number_the_contract_refuses_is_422_on_every_route(client, trained, text):
    """The same refusal, naming the field, on /predict, /explain and both batch layouts: what
    ``predict`` quarantines, the service never scores (1e39 once made /explain a 500)."""
    body = one(trained)
    field = trained["numeric"][2]
    record = json.dumps(body)[:-1] + f', "{field}": {text}}}'  # the last key wins
    columns = {k: [v] for k, v in body.items()}
    table = json.dumps({"columns": columns})[:-2] + f', "{field}": [{text}]}}}}'
    bodies = {
        "/predict": record,
        "/explain": record,
        "/predict/batch": f'{{"records": [{record}]}}',
        "/predict/batch?as=columns": table,
    }
    for route, content in bodies.items():
        path = route.split("?")[0]
        response = client.post(path, content=content, headers={"content-type": "application/json"})
        assert response.status_code == 422, (route, response.text)
        fields = response.json()["error"]["fields"]
        assert [(f["field"], f["type"]) for f in fields] == [(field, NOT_A_READING[text])], route


def test_categories_are_bounded_in_length_and_finite(client, trained):
    field = trained["categorical"][0]
    longest = client.post("/predict", json={**one(trained), field: "é" * 256})
    assert longest.status_code == 200, longest.text
    for value in ("é" * 257, "x" * 100_000):
        response = client.post("/predict", json={**one(trained), field: value})
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["type"] == "string_too_long"
    content = json.dumps(one(trained))[:-1] + f', "{field}": NaN}}'
    response = client.post(
        "/predict", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_only_json_bodies_are_read(client, trained):
    text = json.dumps(one(trained))
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"):
        response = client.post("/predict", content=text, headers={"content-type": kind})
        assert response.status_code == 415, kind
        assert response.json()["error"]["code"] == "unsupported_media_type"
    for kind in ("application/json", "application/json; charset=utf-8", "application/merge+json"):
        response = client.post("/predict", content=text, headers={"content-type": kind})
        assert response.status_code == 200, kind


def test_admin_routes_check_the_token_before_reading_the_body(client, trained):
    """An unauthenticated caller learns nothing from its body: 401, not 400 or 422."""
    for body, kind in ((b"\x1a\xff{", "application/json"), (b"x", "text/plain"), (b"[]", None)):
        headers = {"content-type": kind} if kind else {}
        for path in ("/admin/rollback", "/admin/reload?accept_schema_change=maybe"):
            response = client.post(path, content=body, headers=headers)
            assert response.status_code == 401, (path, body, response.text)
    app = create_app(settings_for(trained["artifacts"]), poll_interval=None)  # no token
    with TestClient(app) as c:
        assert c.post("/admin/rollback", content=b"\x1a\xff{").status_code == 403
    # with the token, the body is read and judged
    response = client.post("/admin/rollback", content=b"\x1a\xff{", headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_json"


def test_the_column_reader_takes_only_what_pydantic_takes() -> None:
    """Hand-checked cases at the edges of the fast reader: it must defer (None), not accept."""
    from defectops.serving.columns import BatchRules, columns_of_batch

    rules = BatchRules(("a",), ("c",), frozenset({"when"}), 10, 100.0, 5, "reject")

    def read(records: list[dict[str, Any]]) -> Any:
        return columns_of_batch(json.dumps({"records": records}).encode(), rules)

    assert read([{"a": 1, "c": 1}, {"a": 2, "c": True}]) is None  # True hidden behind an equal 1
    assert read([{"a": 1, "c": 0.0}, {"a": 2, "c": False}]) is None  # False behind 0.0
    assert read([{"a": 1, "c": True}]) is None
    assert read([{"a": 1, "c": [1]}]) is None  # not a category
    columns = {"columns": {"a": [1, 2], "c": [1.0, True]}}
    assert columns_of_batch(json.dumps(columns).encode(), rules) is None
    assert read([{"a": 1, "c": "abcdef"}]) is None  # longer than 5
    assert read([{"a": 101, "c": "x"}]) is None  # beyond the bound of 100
    assert read([{"a": 1, "c": "x", "colour": "red"}]) is None  # unknown
    values, categories = read(
        [{"a": -100, "c": "abcde", "when": "2024-01-01"}, {"a": None, "c": 2}]
    )
    assert values[0, 0] == -100 and np.isnan(values[1, 0])
    assert categories[0].tolist() == ["abcde", 2]
