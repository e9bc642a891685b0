"""The registered model's versions, as ``defectops models`` lists them.

With the embedded store (the default) they are read straight from its SQLite file: importing
MLflow and opening its store take seconds, and listing a project's versions is a question users
ask at the prompt. Only this reading is done so; every write goes through MLflow, and a tracking
server is always asked through MLflow (:meth:`defectops.registry.tracking.Tracker.versions`,
which returns the same list: a test holds the two to each other).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

#: MLflow marks a deleted version with this stage before it drops it
DELETED = "Deleted_Internal"


@dataclass
class ModelVersion:
    version: str
    chunk_id: int | None
    status: str | None
    reason: str | None
    tags: dict[str, str]
    aliases: list[str]
    created: int
    run_id: str | None


def version_of(
    version: str, tags: dict[str, str], aliases: list[str], created: int, run_id: str | None
) -> ModelVersion:
    """One version, its chunk, verdict and reason taken from the tags the back-fill set."""
    return ModelVersion(
        version=version,
        chunk_id=int(tags["chunk"]) if "chunk" in tags else None,
        status=tags.get("status"),
        reason=tags.get("reason"),
        tags=tags,
        aliases=aliases,
        created=created,
        run_id=run_id,
    )


def embedded_versions(db: Path, model_name: str) -> list[ModelVersion]:
    """Every live version of ``model_name`` in the embedded store ``db``, oldest first; none
    when the store or the model does not exist yet. Opened read-only: never migrates, locks
    or creates the file."""
    if not db.is_file():
        return []
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master")}
        if not {"model_versions", "model_version_tags", "registered_model_aliases"} <= tables:
            return []
        rows = conn.execute(
            "select version, creation_time, run_id from model_versions "
            "where name = ? and current_stage != ?",
            (model_name, DELETED),
        ).fetchall()
        tags: dict[str, dict[str, str]] = {}
        for version, key, value in conn.execute(
            "select version, key, value from model_version_tags where name = ?", (model_name,)
        ):
            tags.setdefault(str(version), {})[key] = value
        aliases: dict[str, list[str]] = {}
        for alias, version in conn.execute(
            "select alias, version from registered_model_aliases where name = ?", (model_name,)
        ):
            aliases.setdefault(str(version), []).append(alias)
    out = [
        version_of(str(v), tags.get(str(v), {}), aliases.get(str(v), []), int(created or 0), run_id)
        for v, created, run_id in rows
    ]
    return sorted(out, key=lambda v: int(v.version))
