"""The training report as the Markdown renderers read it: checked first, champion in full.

``incremental_training_report.json`` is written by :mod:`defectops.reporting.reports`; the
model card and the README results block are rendered from it alone. A file that is missing, is
not JSON or lacks a section is the user's to fix (run ``defectops run``), so it fails here with
one line naming the file, before anything is half rendered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from defectops.core.errors import UserError

TRAINING_REPORT = "incremental_training_report.json"  # the name reports.py writes

REQUIRED_KEYS = ("models", "summary", "champion", "data")


def read_report(path: Path) -> dict[str, Any]:
    """The training report at ``path``, or a UserError that names the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no training report; run `defectops run` first")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path}: not a readable training report ({exc}); run `defectops run` again"
        ) from None
    check_report(report, str(path))
    return report


def check_report(report: Any, source: str) -> None:
    """Fail with one line when ``report`` is not a training report, before rendering half."""
    if not isinstance(report, Mapping):
        raise UserError(f"{source}: not a training report (expected a JSON object)")
    missing = [key for key in REQUIRED_KEYS if key not in report]
    if missing:
        raise UserError(
            f"{source}: not a training report (missing {', '.join(missing)}); "
            "run `defectops run` to write one"
        )
    if not isinstance(report["models"], list) or not isinstance(report["data"], Mapping):
        raise UserError(f"{source}: not a training report (models or data has the wrong type)")


def champion_metadata(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The champion's full metadata from ``models`` (the ``champion`` section is a digest)."""
    digest = report.get("champion")
    if not digest:
        return None
    for model in report["models"]:
        if model.get("chunk_id") == digest.get("chunk_id"):
            return {**model, **digest}
    return dict(digest)
