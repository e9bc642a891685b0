"""What a run works on, the same for both engines and the reports: the validated rows in order
and the fixed hold-out, set aside before any training."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from defectops.data.holdout import Holdout
from defectops.data.schema import DataSchema
from defectops.data.validation import ValidationResult


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
