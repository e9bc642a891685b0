"""What makes a run the same run, and what a model records of how it was made: the config hash
(paths and secrets left out), the run key, library versions and flat MLflow params."""

from __future__ import annotations

import hashlib
import json
import platform
from typing import Any

from defectops import __version__
from defectops.core.config import Settings

LOCATION_SETTINGS = frozenset(
    {
        "data",
        "holdout_data",
        "artifacts",
        "reports",
        "tracking_uri",
        "admin_token",
        "monitor",
        "ingest",
    }
)


#: where a run computes, not what it computes: left out of the config hash (and so of the run
#: key), which stay what they were before the engine existed
EXECUTION_SETTINGS = frozenset({"engine", "scheduler", "staging"})


def run_key(config: str, train_sha: str, holdout_sha: str) -> str:
    """Same config, same training rows, same hold-out: the same run (resumable)."""
    return hashlib.sha256(f"{config}:{train_sha}:{holdout_sha}".encode()).hexdigest()


def run_params(settings: Settings) -> dict[str, Any]:
    """The settings as flat MLflow params (``gate.margin``), secrets excluded."""
    flat: dict[str, Any] = {}
    for key, value in settings.model_dump(mode="json", exclude={"admin_token"}).items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def config_hash(settings: Settings) -> str:
    """sha256 of the settings that shape a model; paths and secrets are not part of it.

    The data a model saw is fingerprinted separately (``data_sha256``), so the same config on
    the same data gives the same hash wherever the files live.
    """
    payload = settings.model_dump(mode="json", exclude=set(LOCATION_SETTINGS | EXECUTION_SETTINGS))
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


#: the libraries a model's behaviour depends on, each with other names it is published under
LIBRARIES = [
    ("numpy",),
    ("pandas",),
    ("scikit-learn",),
    ("xgboost", "xgboost-cpu"),
    ("imbalanced-learn",),
    ("joblib",),
]


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {"python": platform.python_version(), "defectops": __version__}
    # a library by the names its distributions go by (xgboost-cpu: XGBoost without GPU code)
    for name, *also in LIBRARIES:
        for distribution in (name, *also):
            try:
                versions[name] = md.version(distribution)
                break
            except md.PackageNotFoundError:
                continue
    return versions


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, str | int | float | bool) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out
