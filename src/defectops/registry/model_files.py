"""Model files on disk: written so equal models give equal bytes, read only when their sha256
matches the one recorded when they were written.

Its own module so that everything that reads a model file (the registry, the MLflow pyfunc
model, the service) depends on this alone, not on the registry.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib

from defectops.core.errors import IntegrityError, UserError

__all__ = ["dump_model", "file_sha256", "load_verified"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dump_model(model: Any, path: Path) -> None:
    """Pickle ``model`` so that equal models give equal bytes, whichever process fitted them.

    Pickle's memo records objects by identity, so whether two equal strings happen to be one
    object changes the file; the memo-free ("fast") mode writes values only. Models with
    reference cycles cannot be written that way and fall back to joblib. ``joblib.load`` reads
    both.
    """
    try:
        with open(path, "wb") as handle:
            pickler = pickle.Pickler(handle, protocol=5)
            pickler.fast = True
            pickler.dump(model)
    except (ValueError, RecursionError):
        joblib.dump(model, path)


def load_verified(path: Path, metadata: Mapping[str, Any]) -> Any:
    """Load a model file only if its sha256 matches the one recorded when it was written."""
    if not path.is_file():
        raise UserError(f"model file {path} is missing")
    actual = file_sha256(path)
    if actual != metadata.get("model_sha256"):
        raise IntegrityError(
            f"model file {path} does not match its recorded sha256 "
            f"({actual[:12]}... != {str(metadata.get('model_sha256'))[:12]}...); "
            "refusing to load it"
        )
    return joblib.load(path)
