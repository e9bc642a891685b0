"""``defectops models`` reads the embedded store's versions without MLflow: the list must be the
one MLflow's own client gives, also after MLflow deleted a version and moved an alias."""

from __future__ import annotations

from pathlib import Path

import pytest

from defectops.core.config import load_settings
from defectops.registry.local import ModelRegistry
from defectops.registry.versions import embedded_versions
from registry_fixtures import expect_ok, run_args, run_cli, write_line_data

pytestmark = pytest.mark.slow


def test_models_reads_the_embedded_store_as_mlflow_lists_it(tmp_path: Path) -> None:
    line = write_line_data(tmp_path / "data")
    artifacts = tmp_path / "artifacts"
    empty = run_cli("models", "--artifacts", tmp_path / "nothing", cwd=tmp_path)
    assert empty.returncode == 0 and "no registered models yet" in empty.stdout
    assert not (tmp_path / "nothing").exists()  # reading never creates the store
    expect_ok(run_cli(*run_args(line, artifacts, "--config", line.many_promotions), cwd=tmp_path))
    listed = expect_ok(run_cli("models", "--artifacts", artifacts, cwd=tmp_path)).stdout
    assert "champion now: v6" in listed
    rows = [row.split() for row in listed.splitlines() if row.startswith("│ ")]
    assert [row[1] for row in rows] == ["1", "2", "3", "4", "5", "6"]

    settings = load_settings(flags={"artifacts": artifacts}, environ={})
    tracker = ModelRegistry(settings).tracker
    # what MLflow does to a store beyond the back-fill: a deleted version, a moved alias
    tracker.client.delete_model_version(settings.registered_model, "2")
    tracker.set_alias("challenger", "1")
    tracker.set_alias("extra", "1")
    db = settings.layout.mlflow_db
    got = embedded_versions(db, settings.registered_model)
    expected = tracker.versions()  # MLflow's client: search_model_versions and the aliases
    assert [v.version for v in expected] == ["1", "3", "4", "5", "6"]
    for version in [*expected, *got]:
        version.aliases.sort()
    assert got == expected
    assert next(v for v in got if v.version == "1").aliases == ["challenger", "extra"]
    assert embedded_versions(db, "no-such-model") == []
    assert embedded_versions(tmp_path / "missing.db", settings.registered_model) == []
