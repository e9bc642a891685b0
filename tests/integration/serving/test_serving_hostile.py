"""The service against attackers and careless clients, in a real ``defectops serve`` process.

- schemathesis (its CLI, in a child process) fuzzes every operation of ``/openapi.json``, with
  and without the admin token, and checks that no answer is a 5xx, and that every status, content
  type and body is the one the document promises;
- a corpus of hostile requests (oversized, deeply nested, non-finite, wrong types, unicode and
  repeated keys, wrong content types, huge strings) gets a 4xx each, and the process's resident
  memory (``/proc``) stays within 50 MB of what it was;
- the admin token, sent every way a client might, is in no log, no metric, no request-log file
  and no artifact;
- a connection that never completes its headers, or stalls in its body, is closed;
- ``serve`` refuses an artifacts directory that does not exist.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest

from dashboard_fixtures import Service, Tree, build_tree, uvicorn_service
from registry_fixtures import free_port

TOKEN = "hostile-test-token-5f3a9c"
LIMITS = {
    "DEFECTOPS_SERVE_HEADER_TIMEOUT": "1",
    "DEFECTOPS_SERVE_KEEP_ALIVE": "1",
    "DEFECTOPS_SERVE_BODY_TIMEOUT": "1",
}
MB = 1024 * 1024
ST = Path(sys.executable).parent / "st"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return build_tree(tmp_path_factory.mktemp("hostile-tree"))


@pytest.fixture(scope="module")
def service(tree: Tree) -> Iterator[Service]:
    with uvicorn_service(
        tree.artifacts,
        tree.root / "service.log",
        token=TOKEN,
        request_log=tree.root / "requests",
        env=LIMITS,
    ) as running:
        assert wait_for(lambda: httpx.get(f"{running.base}/ready").status_code == 200)
        yield running


def wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def holdout_records(tree: Tree, n: int, *, every_column: bool = False) -> list[dict[str, Any]]:
    """Rows of the line's own hold-out file as JSON records (features only, unless asked)."""
    frame = pd.read_csv(tree.data.holdout).iloc[:n]
    if not every_column:
        schema = json.loads((tree.artifacts / "production" / "feature_schema.json").read_text())
        frame = frame[[*schema["schema"]["numeric"], *schema["schema"]["categorical"]]]
    return json.loads(frame.to_json(orient="records"))


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


# -- schemathesis ---------------------------------------------------------------------------------


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_schemathesis_finds_no_failure(tree: Tree, tmp_path: Path, with_token: bool) -> None:
    """Every operation fuzzed; a copy of the tree, since an admin caller rolls back."""
    root = tmp_path / "copy"
    shutil.copytree(tree.root, root, ignore=shutil.ignore_patterns("service.log", "requests"))
    with uvicorn_service(root / "artifacts", root / "service.log", token=TOKEN) as running:
        assert wait_for(lambda: httpx.get(f"{running.base}/ready").status_code == 200)
        command = [
            str(ST), "run", f"{running.base}/openapi.json",
            "--checks", CHECKS,
            "--max-examples", "25",
            "--seed", "17",
            "--request-timeout", "30",
            "--no-color",
        ]  # fmt: skip
        if with_token:
            command += ["--header", f"Authorization: Bearer {TOKEN}"]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested.group(1)) >= 11, output[-3000:]  # every operation ran
    assert re.search(r"\d+ generated, \d+ passed", output), output[-3000:]


# -- hostile requests -----------------------------------------------------------------------------


def hostile_cases(record: dict[str, Any]) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(method, path, headers, body) of requests no well-behaved client sends."""
    numeric = next(k for k, v in record.items() if isinstance(v, float))
    category = next(k for k, v in record.items() if isinstance(v, str))
    json_type = {"content-type": "application/json"}

    def body(**changes: Any) -> bytes:
        return json.dumps({**record, **changes}).encode()

    def raw(text: str) -> bytes:
        return text.encode()

    huge = "x" * (10 * MB)
    base = json.dumps(record)[1:-1]
    cases: list[tuple[str, str, dict[str, str], bytes]] = []
    for path in ("/predict", "/explain"):
        cases += [
            ("POST", path, json_type, raw(f'{{{base}, "{numeric}": NaN}}')),
            ("POST", path, json_type, raw(f'{{{base}, "{numeric}": Infinity}}')),
            ("POST", path, json_type, raw(f'{{{base}, "{numeric}": -Infinity}}')),
            ("POST", path, json_type, body(**{numeric: "inf"})),
            ("POST", path, json_type, body(**{numeric: "1.5"})),
            ("POST", path, json_type, body(**{numeric: True})),
            ("POST", path, json_type, body(**{numeric: 1e39})),
            ("POST", path, json_type, body(**{numeric: -1e300})),
            ("POST", path, json_type, raw(f'{{{base}, "{numeric}": 1e400}}')),
            ("POST", path, json_type, body(**{numeric: [1.0]})),
            ("POST", path, json_type, body(**{numeric: {"$gt": 1}})),
            ("POST", path, json_type, body(**{category: huge})),
            ("POST", path, json_type, body(**{category: "é" * 257})),
            ("POST", path, json_type, body(**{category: {"a": 1}})),
            ("POST", path, json_type, body(**{"ключ\u0000\ud7ff": 1})),
            ("POST", path, json_type, raw(f'{{{base}, "{category}": "a", "{category}": {{}}}}')),
            ("POST", path, {"content-type": "text/plain"}, body()),
            ("POST", path, {"content-type": "application/x-www-form-urlencoded"}, raw("a=1")),
            ("POST", path, json_type, raw("[" * 100_000 + "]" * 100_000)),
            ("POST", path, json_type, raw('{"a":' * 50_000 + "1" + "}" * 50_000)),
            ("POST", path, json_type, b"\xff\xfe\x00garbage"),
            ("POST", path, json_type, b""),
            ("POST", path, json_type, raw("null")),
            ("POST", path, json_type, raw("[]")),
            ("POST", path, json_type, raw('"text"')),
            ("POST", path, json_type, b"{" + b" " * (17 * MB) + b"}"),  # beyond the body limit
            ("GET", path, {}, b""),
        ]
    columns = {k: [v] for k, v in record.items()}
    batches: list[Any] = [
        {"records": [record] * 10_001},
        {"records": []},
        {"records": [record, 7]},
        {"records": [{**record, category: huge}]},
        {"columns": columns | {numeric: [1, 2]}},
        {"columns": columns | {numeric: [1e39]}},
        {"columns": columns | {category: ["x" * 300]}},
        {"records": [record], "columns": {}},
    ]
    cases += [("POST", "/predict/batch", json_type, json.dumps(b).encode()) for b in batches]
    cases += [
        ("POST", "/predict/batch", json_type, raw(f'{{"records": [{{{base}, "{numeric}": NaN}}]}}')),  # noqa: E501
        ("POST", "/admin/rollback", json_type, b"\x1a\xff{"),
        ("POST", "/admin/rollback", {"content-type": "text/plain"}, b"x"),
        ("POST", "/admin/reload?accept_schema_change=maybe", json_type, b"{"),
        ("POST", "/admin/reload", {"authorization": "Bearer " + "t" * 100_000}, b""),
        ("POST", "/admin/reload", {"authorization": "Basic dXNlcjpwYXNz"}, b""),
        ("GET", "/explain?top=-1", {}, b""),
        ("POST", "/explain?top=99999999999999999999", json_type, body()),
        ("GET", "/../../etc/passwd", {}, b""),
        ("GET", "/docs/assets/..%2f..%2fapp.py", {}, b""),
        ("GET", "/static/..%2fapp.py", {}, b""),
        ("DELETE", "/model", {}, b""),
    ]  # fmt: skip
    return cases


def test_hostile_requests_are_4xx_and_memory_stays_flat(tree: Tree, service: Service) -> None:
    record = holdout_records(tree, 1)[0]
    with httpx.Client(base_url=service.base, timeout=60) as client:
        for _ in range(30):  # warm up: the first requests allocate what serving needs
            assert client.post("/predict", json=record).status_code == 200
        before = rss(service.pid)
        answers = []
        for _ in range(4):  # the huge strings 4 times over: 40 requests of 10 MB categories
            for method, path, headers, body in hostile_cases(record):
                response = client.request(method, path, headers=headers, content=body)
                answers.append((method, path, headers.get("content-type"), response.status_code))
                assert response.headers["content-type"].startswith("application/json"), path
                assert "Traceback" not in response.text
        after = rss(service.pid)
        assert client.post("/predict", json=record).status_code == 200  # still serving
    wrong = [a for a in answers if not 400 <= a[3] < 500]
    assert wrong == [], wrong
    assert after - before < 50 * MB, f"RSS grew by {(after - before) / MB:.0f} MB"
    log = service.log.read_text(errors="replace")
    assert "Traceback" not in log and "internal error" not in log


def test_known_non_feature_columns_are_accepted_and_ignored(tree: Tree, service: Service) -> None:
    """Each row of the line's hold-out file (timestamp, label) is a valid request as it is."""
    features = holdout_records(tree, 20)
    whole = holdout_records(tree, 20, every_column=True)
    assert set(whole[0]) - set(features[0]) >= {"timestamp", "DefectStatus"}
    with httpx.Client(base_url=service.base, timeout=60) as client:
        plain = client.post("/predict/batch", json={"records": features}).json()["predictions"]
        as_read = client.post("/predict/batch", json={"records": whole})
        assert as_read.status_code == 200, as_read.text
        assert as_read.json()["predictions"] == plain
        one = client.post("/predict", json=whole[3])
        assert one.status_code == 200, one.text
        assert one.json()["defect_probability"] == plain[3]["defect_probability"]
        unknown = client.post("/predict", json={**whole[3], "colour": "red"})
        assert unknown.status_code == 422
        assert [f["field"] for f in unknown.json()["error"]["fields"]] == ["colour"]


# -- secrets --------------------------------------------------------------------------------------


def test_the_admin_token_reaches_no_log_metric_request_log_or_artifact(
    tree: Tree, service: Service
) -> None:
    record = holdout_records(tree, 1)[0]
    bearer = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=service.base, timeout=60) as client:
        for path in ("/predict", "/explain", "/predict/batch"):
            payload = {"records": [record]} if path.endswith("batch") else record
            # 200, or 400 for /explain of a model without tree contributions (logreg here)
            assert client.post(path, json=payload, headers=bearer).status_code in (200, 400)
            client.post(f"{path}?token={TOKEN}&access_token={TOKEN}", json=payload)
        assert client.post("/admin/reload", headers=bearer).status_code == 200
        for path in ("/admin/reload", "/admin/rollback", "/model", "/metrics", "/monitoring"):
            client.post(f"{path}?token={TOKEN}")
            client.get(f"{path}?{TOKEN}")
            client.post(path, headers={"authorization": f"Bearer {TOKEN}x"})
            client.post(path, headers={"authorization": TOKEN, "x-api-key": TOKEN})
        metrics = client.get("/metrics").text
        assert client.get("/model").status_code == 200
    assert TOKEN not in metrics
    log = service.log.read_text(errors="replace")
    assert '"POST /predict?***&*** HTTP/1.1" 200' in log  # the query strings, redacted
    assert TOKEN not in log
    # the request log (written at shutdown too) and everything in the project
    leaks = [
        path
        for path in tree.root.rglob("*")
        if path.is_file() and TOKEN.encode() in path.read_bytes()
    ]
    assert leaks == []


# -- connections ----------------------------------------------------------------------------------


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes ``sock`` within ``seconds``; and what it sent before."""
    sock.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return True, received
            received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        return True, received
    return False, received


def test_idle_and_stalled_connections_are_closed(service: Service) -> None:
    host, port = service.base.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port))) for _ in range(50)]
    partial = socket.create_connection((host, int(port)))
    partial.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: app")
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"a": '
    )
    try:
        # 1 s limits: closed well within 10 s, and the stalled body is answered 408
        assert all(closed_within(s, 10)[0] for s in idle)
        assert closed_within(partial, 10)[0]
        _, answer = closed_within(stalled, 10)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"body_timeout" in answer
        # and the service still answers
        assert httpx.get(f"{service.base}/health").status_code == 200
    finally:
        for s in [*idle, partial, stalled]:
            s.close()


# -- starting -------------------------------------------------------------------------------------


def test_serve_refuses_an_artifacts_directory_that_does_not_exist(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEFECTOPS_")}
    command = [sys.executable, "-m", "defectops", "serve", "--port", str(free_port())]
    done = subprocess.run(
        [*command, "--artifacts", str(tmp_path / "artifcats")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "artifcats" in lines[0] and "--wait-for-model" in lines[0]
    assert not (tmp_path / "artifcats").exists()


def test_serve_waits_for_a_first_model_when_told(tmp_path: Path) -> None:
    artifacts = tmp_path / "later"
    log = tmp_path / "service.log"
    with uvicorn_service(artifacts, log, token=None, args=("--wait-for-model",)) as running:
        # started (/health answered) although the directory is not there; not ready yet
        assert httpx.get(f"{running.base}/ready").status_code == 503


def test_serve_logs_the_versions_it_loads_and_rolls_back_to(tree: Tree, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(tree.root, root, ignore=shutil.ignore_patterns("service.log", "requests"))
    log = root / "service.log"
    with uvicorn_service(root / "artifacts", log, token=TOKEN) as running:
        assert wait_for(lambda: httpx.get(f"{running.base}/ready").status_code == 200)
        back = httpx.post(
            f"{running.base}/admin/rollback",
            json={"reason": "test"},
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=120,
        )
        assert back.status_code == 200, back.text
    text = log.read_text(errors="replace")
    assert "INFO:     serving champion version 6 (was None)" in text
    assert "INFO:     rolled back: serving champion version 5 (was 6); reason: test" in text
