"""What a run works on and what it returns, as typed records shared by both engines and the
reports: the validated rows in order with their fixed hold-out, and the run's result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from defectops.data.holdout import Holdout
from defectops.data.schema import DataSchema
from defectops.data.validation import ValidationResult
from defectops.evaluation.records import ModelRecord


@dataclass
class PreparedData:
    """Validated training rows in order, the fixed hold-out, and where each came from."""

    validation: ValidationResult
    train: pd.DataFrame
    holdout: pd.DataFrame
    holdout_source: str
    holdout_validation: ValidationResult | None = None
    choice: Holdout | None = None

    @property
    def schema(self) -> DataSchema:
        return self.validation.schema


@dataclass
class RunResult:
    models: list[ModelRecord]
    champion: ModelRecord | None
    report: dict[str, Any]
    paths: dict[str, Path]
