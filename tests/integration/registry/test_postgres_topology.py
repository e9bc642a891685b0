"""The production topology of docker-compose.yml, for real and without Docker.

PostgreSQL (a throw-away cluster on a free port), a real ``mlflow server`` with it as backend
store and a directory as proxied artifact store, a real ``defectops run --tracking-uri`` against
that server (a 4,000-row simulated line, three chunks, logreg), then the service started as the
image starts it (the Dockerfile's ``CMD`` and environment, with an empty artifact directory)
fetching the champion from the server and answering ``POST /predict``. Nothing is mocked; the
server's flags come from docker-compose.yml (one worker instead of two), the service's command
and ``HEALTHCHECK`` from the Dockerfile, so what the containers would run is what runs here.

PostgreSQL's server programs come from the machine; when they are missing the fixture installs
Debian's ``postgresql`` with ``.ci/install-postgres.sh`` (as root, or with passwordless sudo) and
skips loudly, with the installer's output, only when that fails. PostgreSQL refuses to run as
root: as root, the cluster runs as the ``postgres`` user (or ``nobody``) in a directory it owns.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import math
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from defectops.data.simulate import SimulationSpec, simulate, write_frames
from paths import REPO
from registry_fixtures import (
    BIN,
    MODEL_NAME,
    child_env,
    defectops_cmd,
    expect_ok,
    free_port,
    http_ok,
    mlflow_state,
    post_json,
    read_json,
    run_cli,
    sigkill,
    stop_group,
    wait_until,
)

pytestmark = pytest.mark.slow

REPO = REPO
INSTALLER = REPO / ".ci" / "install-postgres.sh"
DATABASE = "mlflow"
ROLE = "mlflow"
ROWS = 4_000  # the last 20% are the hold-out: three chunks of ~1,000 training rows
N_CHUNKS = 3


# -- PostgreSQL -----------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH or Debian's versioned dir."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(
        (Path(p) for p in versioned), key=lambda p: int(p.parent.name), reverse=True
    )
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def ensure_postgres_bin() -> Path:
    """PostgreSQL's programs, installed first when missing; a loud skip when that fails."""
    directory = postgres_bin()
    if directory is not None:
        return directory
    result = subprocess.run(
        ["bash", str(INSTALLER)], capture_output=True, text=True, timeout=900, check=False
    )
    directory = postgres_bin()
    if directory is None:
        pytest.skip(
            "POSTGRESQL IS NOT AVAILABLE: THE PRODUCTION TOPOLOGY TEST DID NOT RUN. "
            f"`bash {INSTALLER}` exited {result.returncode}:\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}"
        )
    return directory


@dataclass(frozen=True)
class Postgres:
    port: int
    password: str
    root: Path

    @property
    def url(self) -> str:
        """The backend store URI, as the compose file writes it (role, password, database)."""
        return f"postgresql+psycopg2://{ROLE}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=ROLE, password=self.password, dbname=DATABASE
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        finally:
            connection.close()


class Cluster:
    """``initdb`` + ``pg_ctl`` in a directory of its own, as a non-root user when we are root."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="defectops-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:
            name = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(name)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        os.chmod(self.root, 0o700)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **self.user,
        )

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        if self.user:
            os.chown(path, self.user["user"], self.user["group"])
        path.chmod(0o600)
        return path

    def init(self, superuser_password: str) -> None:
        pwfile = self.write("pwfile", superuser_password + "\n")
        result = self.run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        assert result.returncode == 0, f"initdb failed:\n{result.stdout}\n{result.stderr}"

    def start(self, port: int) -> bool:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        result = self.run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
            "start",
        )  # fmt: skip
        return result.returncode == 0

    def stop(self) -> None:
        if self.data.exists():
            result = self.run(
                "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60
            )
            pid_file = self.data / "postmaster.pid"
            if result.returncode != 0 and pid_file.exists():
                with contextlib.suppress(ValueError, ProcessLookupError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A running PostgreSQL with a password-protected role and database for MLflow."""
    import psycopg2

    cluster = Cluster(ensure_postgres_bin())
    superuser_password, password = secrets.token_hex(16), secrets.token_hex(16)
    try:
        cluster.init(superuser_password)
        for _ in range(3):  # a free port can be taken between asking and binding
            port = free_port()
            if cluster.start(port):
                break
        else:
            log = cluster.log.read_text(errors="replace") if cluster.log.exists() else ""
            raise AssertionError(f"PostgreSQL did not start:\n{log[-3000:]}")
        admin = psycopg2.connect(
            host="127.0.0.1",
            port=port,
            user="postgres",
            password=superuser_password,
            dbname="postgres",
        )
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD %s", (password,))
            cursor.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        admin.close()
        yield Postgres(port, password, cluster.root)
    finally:
        cluster.stop()


# -- the compose file's MLflow server and the Dockerfile's service, run here ---------------------


def compose_mlflow_command(store: str, destination: Path, port: int) -> list[str]:
    """docker-compose.yml's ``mlflow`` command with this machine's addresses put in.

    One worker instead of the file's two: this machine runs the whole suite on two cores.
    """
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    command = list(compose["services"]["mlflow"]["command"])
    values = {
        "--backend-store-uri": store,
        "--artifacts-destination": str(destination),
        "--host": "127.0.0.1",
        "--port": str(port),
        "--workers": "1",
    }
    for flag, value in values.items():
        command[command.index(flag) + 1] = value
    assert command[0] == "mlflow"
    return [str(BIN / "mlflow"), *command[1:]]


def dockerfile_service() -> dict[str, Any]:
    """The service stage's CMD, HEALTHCHECK command and ENV, read from the Dockerfile."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    stage = text.split("AS service", 1)[1]
    runtime = text.split("AS runtime", 1)[1].split("\nFROM ", 1)[0]
    cmd = json.loads(next(line for line in stage.splitlines() if line.startswith("CMD "))[4:])
    check = next(line for line in stage.splitlines() if line.startswith("HEALTHCHECK "))
    probe = json.loads(check[check.index("CMD [") + 4 :])
    env_line = next(line for line in runtime.splitlines() if line.startswith("ENV "))
    env = dict(pair.split("=", 1) for pair in env_line[4:].split())
    return {"cmd": cmd, "healthcheck": probe, "env": env}


def healthcheck(probe: list[str], port: int) -> int:
    """Run the Dockerfile's HEALTHCHECK command against ``port``; its exit code."""
    command = [p.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for p in probe]
    assert command[0] == "python"
    command[0] = str(BIN / "python")
    return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode


def start(command: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def service_command(port: int) -> list[str]:
    cmd = dockerfile_service()["cmd"]
    assert cmd[:2] == ["defectops", "serve"]
    cmd = [str(a) for a in defectops_cmd(*cmd[1:])]
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    cmd[cmd.index("--port") + 1] = str(port)
    return cmd


def write_line(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    frame, truth = simulate(SimulationSpec(rows=ROWS, seed=7))
    data, _ = write_frames(frame, truth, directory / "line.csv")
    return data


def one_record(base: str, data: Path) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"{base}/model", timeout=10) as response:
        features = json.loads(response.read())["features"]
    names = features["numeric"] + features["categorical"]
    row = pd.read_csv(data).iloc[-1][names].to_dict()
    record = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
    return json.loads(json.dumps(record, default=lambda v: v.item()))


def host_header_status(port: int, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "GET", "/api/2.0/mlflow/registered-models/search?max_results=1", headers={"Host": host}
        )
        return connection.getresponse().status
    finally:
        connection.close()


# -- the test -------------------------------------------------------------------------------------


def test_postgres_mlflow_run_and_service_from_the_registry(
    postgres: Postgres, tmp_path: Path
) -> None:
    line = write_line(tmp_path / "line")
    destination = tmp_path / "mlflow-artifacts"
    mlflow_port = free_port()
    server_log = tmp_path / "mlflow.log"
    server = start(
        compose_mlflow_command(postgres.url, destination, mlflow_port),
        server_log,
        child_env(),
        tmp_path,
    )
    url = f"http://127.0.0.1:{mlflow_port}"
    service: subprocess.Popen[bytes] | None = None
    try:
        wait_until(
            lambda: http_ok(f"{url}/health"),
            timeout=240,
            what="mlflow server on PostgreSQL",
            proc=server,
            log=server_log,
            interval=0.2,
        )
        # the compose file's --allowed-hosts: the service name passes, a stranger does not
        assert host_header_status(mlflow_port, "mlflow:5000") == 200
        assert host_header_status(mlflow_port, "attacker.example") == 403

        # 1. train against the server: every chunk a version, the champion an alias
        project = tmp_path / "trainer"
        project.mkdir()
        artifacts = project / "artifacts"
        args = ("--data", line, "--model", "logreg", "--chunk-size", "1000")
        expect_ok(
            run_cli("run", *args, "--artifacts", artifacts, "--tracking-uri", url, cwd=project)
        )
        production = read_json(artifacts / "production" / "metadata.json")
        champion = str(production["version"])

        state = mlflow_state(url)
        assert [v.version for v in state["versions"]] == [str(k) for k in range(1, N_CHUNKS + 1)]
        assert [v.tags["chunk"] for v in state["versions"]] == [
            str(k) for k in range(1, N_CHUNKS + 1)
        ]
        assert state["aliases"]["champion"] == champion
        assert [r.info.status for r in state["parents"]] == ["FINISHED"]
        assert len(state["children"]) == N_CHUNKS

        # ... and all of it is in PostgreSQL, the backend store
        assert postgres.query(
            "SELECT count(*) FROM model_versions WHERE name = %s", MODEL_NAME
        ) == [(N_CHUNKS,)]
        assert postgres.query(
            "SELECT version FROM registered_model_aliases WHERE name = %s AND alias = %s",
            MODEL_NAME,
            "champion",
        ) == [(int(champion),)]
        # the model files went through the server into its artifact destination
        assert len(list(destination.rglob("MLmodel"))) >= N_CHUNKS

        # 2. the service as the image starts it: only DEFECTOPS_TRACKING_URI, no model on disk
        image = dockerfile_service()
        serve_root = tmp_path / "service"
        serve_root.mkdir()
        served_artifacts = serve_root / "artifacts"
        assert image["env"]["DEFECTOPS_ARTIFACTS"] == "/srv/artifacts"
        env = child_env(
            DEFECTOPS_ARTIFACTS=str(served_artifacts),
            DEFECTOPS_TRACKING_URI=url,
            DEFECTOPS_ADMIN_TOKEN=secrets.token_hex(8),
            MLFLOW_DISABLE_TELEMETRY=image["env"]["MLFLOW_DISABLE_TELEMETRY"],
        )
        port = free_port()
        service_log = serve_root / "service.log"
        service = start(service_command(port), service_log, env, serve_root)
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: http_ok(f"{base}/ready"),
            timeout=180,
            what="the service to load the champion from MLflow",
            proc=service,
            log=service_log,
            interval=0.2,
        )
        fetched = read_json(served_artifacts / "production" / "metadata.json")
        assert str(fetched["version"]) == champion
        assert fetched["model_sha256"] == production["model_sha256"]
        assert f"champion: version {champion} of {MODEL_NAME} from {url}" in (
            service_log.read_text(errors="replace")
        )
        status, body = post_json(f"{base}/predict", one_record(base, line))
        assert status == 200, body
        assert body["model_version"] == champion
        assert 0.0 <= body["defect_probability"] <= 1.0

        # the image's HEALTHCHECK command, run for real: healthy here, unhealthy on a dead port
        assert healthcheck(image["healthcheck"], port) == 0
        assert healthcheck(image["healthcheck"], free_port()) != 0
        stop_group(service)
        service = None

        # 3. the tracking server goes away: a champion already on disk (baked in) still serves
        os.killpg(server.pid, signal.SIGKILL)
        sigkill(server)
        env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        port = free_port()
        service = start(service_command(port), service_log, env, serve_root)
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: http_ok(f"{base}/ready"),
            timeout=180,
            what="the service to start on its local champion",
            proc=service,
            log=service_log,
            interval=0.2,
        )
        assert f"warning: cannot fetch the champion of {MODEL_NAME}" in service_log.read_text()
        status, body = post_json(f"{base}/predict", one_record(base, line))
        assert (status, body["model_version"]) == (200, champion)
    finally:
        if service is not None:
            stop_group(service)
        stop_group(server)


def test_serve_without_model_or_reachable_server_is_one_clear_error(tmp_path: Path) -> None:
    """No champion on disk and no tracking server: exit 2 and one line, not a hung service."""
    dead = f"http://127.0.0.1:{free_port()}"
    env = child_env(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="5")
    result = run_cli(
        "serve",
        "--artifacts",
        tmp_path / "artifacts",
        "--tracking-uri",
        dead,
        "--port",
        str(free_port()),
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot fetch the champion of {MODEL_NAME} from {dead}")
    assert "DEFECTOPS_TRACKING_URI" in lines[0]
