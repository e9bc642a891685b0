"""Models written by an earlier release still load and score as that release scored them.

A model file is a pickle that names its classes by module (``defectops.models.DefectClassifier``),
and an MLflow model keeps defectops' pyfunc code as source, which imports defectops modules by
name. Moving a module would break every registry written before the move; these files come
from release 0.1.0, and so do the expected scores.
"""

from __future__ import annotations

import json
import warnings

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from defectops.data.schema import DataSchema
from defectops.data.validation import typed_rows
from defectops.registry.model_files import load_verified
from paths import TEST_DATA

RELEASE = TEST_DATA / "release-0.1.0"


@pytest.mark.parametrize("name", ["logreg", "gbm"])
def test_an_earlier_mlflow_model_scores_as_it_did(name: str) -> None:
    rows = pd.read_csv(RELEASE / "rows.csv")
    expected = json.loads((RELEASE / "expected_scores.json").read_text(encoding="utf-8"))[name]
    with warnings.catch_warnings():  # the rows carry the label and timestamp, which it ignores
        warnings.simplefilter("ignore")
        model = mlflow.pyfunc.load_model(str(RELEASE / name))
        scores = model.predict(rows)
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["logreg", "gbm"])
def test_an_earlier_model_file_loads_verified(name: str) -> None:
    files = RELEASE / name / "artifacts"
    metadata = json.loads((files / "metadata.json").read_text(encoding="utf-8"))
    model = load_verified(files / metadata["model_file"], metadata)
    stored = json.loads((files / "feature_schema.json").read_text(encoding="utf-8"))
    schema = DataSchema.from_dict(stored["schema"])
    typed, _, _ = typed_rows(pd.read_csv(RELEASE / "rows.csv"), schema, optional=True)
    expected = json.loads((RELEASE / "expected_scores.json").read_text(encoding="utf-8"))[name]
    scores = model.decision_scores(typed[list(schema.features)])
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)
    assert float(model.threshold_) == pytest.approx(metadata["threshold"])
