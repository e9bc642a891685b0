"""Rows held by another engine: what a classifier needs of them, so it need not know the engine."""

from __future__ import annotations

from typing import Any, Protocol, TypeGuard, TypeVar, runtime_checkable

import numpy as np
import pandas as pd

#: the classifier the rows fit and score (generic, so this module imports no classifier)
Model = TypeVar("Model")


@runtime_checkable
class RowsElsewhere(Protocol[Model]):
    """Rows held by another engine, which fits and scores a classifier where they are.

    :class:`~defectops.engines.dask.frame.DistributedFrame` is one; the classifier knows it only
    by this protocol, so the model does not depend on the engine.
    """

    def fit_classifier(self, model: Model, y: Any, init_model: Model | None) -> Model: ...

    def classifier_scores(self, model: Model) -> np.ndarray: ...


def is_elsewhere(X: Any) -> TypeGuard[RowsElsewhere[Any]]:
    """Rows another engine holds (the Dask engine's frame), not a local frame or array."""
    if isinstance(X, pd.DataFrame | np.ndarray):
        return False
    return isinstance(X, RowsElsewhere)
