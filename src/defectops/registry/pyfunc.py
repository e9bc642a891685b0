"""The champion as an MLflow pyfunc model, defined from code (MLflow's "models from code").

MLflow refuses to unpickle Python models by default, and rightly so. defectops does not ask
for an exception: this file *is* the model's code (MLflow stores it as source, nothing of it is
pickled), and the fitted classifier travels as an artifact whose sha256 is in the model's
``model_config``. ``load_context`` verifies that checksum before loading the file, so plain
``mlflow.pyfunc.load_model("models:/NAME@champion")`` and ``mlflow models serve`` run the same
integrity check as defectops itself. The artifact is still a joblib pickle: load models only
from a registry you trust.

``predict`` returns the defect probability of each row, reading its input by the data contract
the model was trained with (markers, numbers written as text or as integers, IDs as numbers or
strings), as ``defectops predict`` does; a row the contract refuses scores NaN.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from defectops.data.quarantine import bad_row_mask
from defectops.data.row_typing import typed_rows
from defectops.data.schema import DataSchema
from defectops.registry.model_files import load_verified


class DefectModel(PythonModel):
    """Loads the verified classifier; predicts defect probabilities."""

    def load_context(self, context: Any) -> None:
        path = Path(context.artifacts["classifier"])
        expected = {"model_sha256": context.model_config["model_sha256"]}
        self.classifier = load_verified(path, expected)
        self.features = list(context.model_config["features"])
        stored = json.loads(Path(context.artifacts["feature_schema"]).read_text(encoding="utf-8"))
        self.schema = DataSchema.from_dict(stored["schema"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        frame = pd.DataFrame(model_input).reset_index(drop=True)
        typed, reasons, _ = typed_rows(frame[self.features], self.schema, optional=True)
        bad = bad_row_mask(reasons, len(typed))
        scores = np.full(len(typed), np.nan)
        if (~bad).any():
            scores[~bad] = self.classifier.decision_scores(typed.loc[~bad, self.features])
        return scores


set_model(DefectModel())
