"""The resume point of a back-fill: what a run has finished, written after each chunk."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from defectops.core import atomic
from defectops.core.layout import Layout


@dataclass
class RunState:
    """What a run has finished, written after each chunk: the resume point after a crash."""

    run_key: str
    parent_run_id: str | None = None
    completed: list[int] = field(default_factory=list)
    champion_chunk: int | None = None
    finished: bool = False

    @classmethod
    def load(cls, artifacts: Path) -> RunState | None:
        path = Layout(Path(artifacts)).run_state
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, artifacts: Path) -> None:
        atomic.write_json(Layout(Path(artifacts)).run_state, asdict(self))


def read_json_file(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
