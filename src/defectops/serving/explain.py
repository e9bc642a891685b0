"""Per-feature contributions for one record: XGBoost's exact tree SHAP (``pred_contribs``).

Available for ``gbm`` champions only; other models have no exact per-record attribution here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from defectops.models.gbm import CalibratedBooster


class ExplainUnavailable(Exception):
    pass


def contributions(model: Any, frame: pd.DataFrame, top: int) -> dict[str, Any]:
    """Margin contributions of the first row of ``frame``, the ``top`` largest by size."""
    estimator = getattr(model, "estimator_", None)
    if not isinstance(estimator, CalibratedBooster):
        kind = getattr(model, "model", type(model).__name__)
        raise ExplainUnavailable(
            f"explanations are available for gbm champions only; this champion is a {kind!r} "
            f"model (or a constant fallback)"
        )
    import xgboost

    features = model.features_
    Z = features.transform(frame)
    matrix = xgboost.DMatrix(Z, feature_types=features.feature_types_, enable_categorical=True)
    contribs = np.asarray(estimator.booster.predict(matrix, pred_contribs=True))[0]
    names = list(features.feature_names_out_)
    bias = float(contribs[-1])
    values = contribs[:-1]
    record = frame.iloc[0].to_dict()
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    out = []
    for j in order:
        name = names[j]
        if name in record:
            value = record[name]
        elif " x " in name:
            a, b = name.split(" x ", 1)
            value = f"{record.get(a)} x {record.get(b)}"
        else:
            value = None
        out.append({"feature": name, "value": value, "contribution": float(values[j])})
    return {"margin": float(contribs.sum()), "bias": bias, "contributions": out}
