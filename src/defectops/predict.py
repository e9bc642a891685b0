"""Score a file with the champion: the input rows, in their order, plus two columns.

The champion's own feature transformer reads the columns, so a file scores exactly as the same
rows did during evaluation; extra columns pass through untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops.data.io import read_table, write_table
from defectops.data.schema import DataSchema, check_columns
from defectops.registry import LocalRegistry

PROBABILITY = "defect_probability"
PREDICTION = "defect_pred"


@dataclass
class Champion:
    """A verified champion with what it needs to read new rows."""

    model: Any
    metadata: dict[str, Any]
    schema: DataSchema

    @classmethod
    def load(cls, artifacts: Path) -> Champion:
        registry = LocalRegistry(artifacts)
        model, metadata = registry.load_champion()
        schema = DataSchema.from_dict(registry.champion_schema()["schema"])
        return cls(model, metadata, schema)

    @property
    def threshold(self) -> float:
        return float(self.model.threshold_)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        check_columns(frame, self.schema, need_target=False)
        return self.model.decision_scores(frame[list(self.schema.features)])


def predict_file(artifacts: Path, data: Path, out: Path) -> pd.DataFrame:
    """Write ``data`` with ``defect_probability`` and ``defect_pred`` appended to ``out``."""
    champion = Champion.load(artifacts)
    champion.model.predict_with_threads(os.cpu_count() or 1)
    frame = read_table(data)
    scores = champion.score(frame)
    result = frame.copy()
    result[PROBABILITY] = scores
    result[PREDICTION] = (scores >= champion.threshold).astype(np.int8)
    write_table(result, out)
    return result
