"""The alias history: which model served when, who changed it, and why.

MLflow keeps only the current alias; users have long asked for its history. defectops appends one
JSON line per alias change to ``registry_history.jsonl`` in the artifact directory (append-only,
fsynced; a torn last line from a crash is skipped when read) and mirrors each entry as a tag of
the registered model, so the history survives with the MLflow store too.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from defectops.core.layout import Layout


def who() -> str:
    """``user@host`` of the person or job making the change."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def read_history(artifacts: Path) -> list[dict[str, Any]]:
    path = Layout(Path(artifacts)).history
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a crash mid-append
    return entries


def append_history(artifacts: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one alias change (``at`` and ``by`` filled in) and return it."""
    path = Layout(Path(artifacts)).history
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "seq": len(read_history(artifacts)) + 1,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": who(),
        **entry,
    }
    line = json.dumps(record, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        if handle.tell() and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")  # close a torn line so this entry stays parseable
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
    return record


def previous_champion(entries: list[dict[str, Any]], current: str | None) -> str | None:
    """The champion before ``current``, skipping versions that were rolled back from.

    Rolling back twice goes two champions back, not back and forth between two versions.
    """
    rolled_back = {e["from_version"] for e in entries if e.get("action") == "rollback"}
    seen: list[str] = []
    for entry in entries:
        if entry.get("alias") == "champion" and entry.get("to_version"):
            seen.append(str(entry["to_version"]))
    for version in reversed(seen):
        if version != current and version not in rolled_back:
            return version
    return None


def roles(entries: list[dict[str, Any]], champion: str | None) -> dict[str, str]:
    """Each version's role since the gate judged it: ``champion``, ``rolled back`` (the champion
    was rolled back from it) or ``former champion``; versions without a role are left out.

    The gate's status is a verdict at training time; the role is what became of the version, so
    a promoted model may be replaced and a rejected one may be champion by hand.
    """
    found: dict[str, str] = {}
    for entry in entries:
        if entry.get("alias") == "champion" and entry.get("to_version") is not None:
            found[str(entry["to_version"])] = "former champion"
    for entry in entries:
        if entry.get("action") == "rollback" and entry.get("from_version") is not None:
            found[str(entry["from_version"])] = "rolled back"
    if champion is not None:
        found[str(champion)] = "champion"
    return found
