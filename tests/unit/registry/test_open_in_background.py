"""The MLflow store opened on a thread while a retrain fits is the store the caller then uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from defectops.core.config import load_settings
from defectops.registry.local import ModelRegistry


def test_a_store_opened_on_a_thread_serves_the_caller(tmp_path: Path) -> None:
    settings = load_settings(flags={"artifacts": tmp_path / "artifacts"}, environ={})
    registry = ModelRegistry(settings)
    registry.open_in_background()
    tracker = registry.tracker
    assert registry.tracker is tracker  # opened once
    created = tracker.experiment_id()  # written from this thread, through the opened store
    again = ModelRegistry(settings).tracker  # opened here, without a thread
    assert again.experiment_id() == created


def test_an_error_while_opening_reaches_the_caller(tmp_path: Path) -> None:
    artifacts = tmp_path / "a file, not a directory"
    artifacts.write_text("")
    registry = ModelRegistry(load_settings(flags={"artifacts": artifacts}, environ={}))
    registry.open_in_background()
    with pytest.raises(FileExistsError):
        registry.tracker  # noqa: B018
