"""Every malformed file of ``tests/data/bad/`` is refused the same way by every verb.

For each file, ``validate``, ``run``, ``predict`` and ``ingest`` end with exit code 2 and one
line on stderr, and a project with a champion is left byte for byte as it was: no report, no
model, no stored batch, no prediction file, no changed registry. (How each file was made:
``tests/data/bad/make_corpus.py``.)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import assert_user_error, invoke, snapshot
from defectops.data.simulate import SimulationSpec, simulate
from paths import TEST_DATA

CORPUS = TEST_DATA / "bad"
FILES = sorted(p for p in CORPUS.iterdir() if p.name != "make_corpus.py")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project with a champion (a quick back-fill of the demo line) and one stored batch."""
    root = tmp_path_factory.mktemp("project")
    frame, _ = simulate(SimulationSpec(rows=1_500, seed=1))
    frame.iloc[:1_200].to_csv(root / "line.csv", index=False)
    frame.iloc[1_200:].to_csv(root / "batch.csv", index=False)
    artifacts = root / "artifacts"
    done = invoke(
        "run", "--data", root / "line.csv", "--artifacts", artifacts,
        "--model", "logreg", "--chunk-size", "400",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    stored = invoke("ingest", "--data", root / "batch.csv", "--artifacts", artifacts,
                    "--retrain", "every-n")  # fmt: skip
    assert stored.exit_code == 0, stored.output
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_corpus_holds_at_least_twenty_files() -> None:
    assert len(FILES) >= 20


@pytest.mark.parametrize("bad", FILES, ids=[p.name for p in FILES])
def test_every_verb_refuses_it_and_changes_nothing(project: Path, bad: Path) -> None:
    artifacts = project / "artifacts"
    before = snapshot(artifacts)
    out = project / "scored.csv"
    verbs: dict[str, list[Any]] = {
        "validate": ["validate", "--data", bad, "--artifacts", artifacts],
        "run": ["run", "--data", bad, "--artifacts", artifacts, "--model", "logreg"],
        "predict": ["predict", "--data", bad, "--out", out, "--artifacts", artifacts],
        "ingest": ["ingest", "--data", bad, "--artifacts", artifacts],
    }
    for verb, args in verbs.items():
        result = invoke(*args)
        try:
            assert_user_error(result)
        except AssertionError as exc:
            raise AssertionError(f"{verb} {bad.name}: {exc}") from None
        assert snapshot(artifacts) == before, f"{verb} {bad.name} changed the project"
        assert not out.exists(), f"{verb} {bad.name} wrote predictions"
