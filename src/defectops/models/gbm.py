"""The ``gbm`` model family: XGBoost trees on the ``output="codes"`` feature layout.

NaN and the hashed IDs are handled natively, IDs with one-vs-rest splits (see ``GBM_PARAMS``),
shallow trees while rows are few (:func:`gbm_size_params`). Class weighting
(``scale_pos_weight``) instead of resampling, early stopping on held-out rows, then Platt scaling
of the margin on held-out scores (:class:`CalibratedBooster`): weighting inflates the
probabilities, the recalibration makes ``defect_probability`` a real probability again without
changing the ranking (the slope is kept positive).

xgboost is imported where a booster is fitted, so importing this module stays cheap for serving;
unpickling a fitted booster imports xgboost by itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from defectops.models.calibration import sigmoid
from defectops.models.numeric_trees import numeric_twin
from defectops.models.tree_scorer import TreeScorer, compile_trees

GBM_MAX_ROUNDS = 400
GBM_WARM_ROUNDS = 30
#: continued boosting fits one chunk at a time: smaller steps forget less and overfit less
#: (demo, warm-start champion PR-AUC: 0.522 with 100 rounds at 0.08, 0.542 with 30 at 0.03)
GBM_WARM_LEARNING_RATE = 0.03
GBM_ROUNDS_NO_SLICE = 100
GBM_WARM_ROUNDS_NO_SLICE = 30
GBM_EARLY_STOPPING = 30
GBM_PARAMS: dict[str, Any] = {
    "learning_rate": 0.08,
    "max_depth": 5,
    "tree_method": "hist",
    "enable_categorical": True,
    "eval_metric": "aucpr",
    "n_jobs": 2,
    # one-vs-rest splits on every categorical column: XGBoost's default partition splits (sets of
    # categories ordered by gradient) overfit hashed IDs badly, e.g. hold-out ROC-AUC 0.71 instead
    # of 0.77 on 3,000 simulated rows, and cost more time
    "max_cat_to_onehot": 1 << 23,
}
#: below this many training rows the trees are kept shallow (see ``gbm_size_params``)
SHALLOW_TREE_ROWS = 2_000
#: up to this many rows the numpy tree walk beats XGBoost's per-call cost (measured crossover ~5)
TREE_SCORER_MAX_ROWS = 4


class CalibratedBooster:
    """An XGBoost booster plus Platt scaling of its margin: ``p = sigmoid(slope * margin + b)``.

    The booster is trimmed to its best iteration and predicts with one thread: serving scores a
    few rows at a time, where thread start-up costs more than it saves (and a busy host makes
    OpenMP waits erratic). Up to ``TREE_SCORER_MAX_ROWS`` rows are scored by the checked numpy
    walk of :mod:`defectops.models.tree_scorer`, which skips XGBoost's fixed per-call cost.
    A model that scores many batches (the service) asks for :meth:`prepare_batches`: larger
    inputs then go to the booster's numeric twin (:mod:`defectops.models.numeric_trees`).
    """

    classes_ = np.array([0, 1])

    def __init__(self, booster: Any, slope: float, intercept: float) -> None:
        self.booster = booster
        self.slope = slope
        self.intercept = intercept

    @property
    def n_trees(self) -> int:
        return int(self.booster.num_boosted_rounds())

    def margin(self, Z: np.ndarray) -> np.ndarray:
        if len(Z) <= TREE_SCORER_MAX_ROWS and (scorer := self.tree_scorer()) is not None:
            return scorer.margin(Z)
        twin = self.__dict__.get("_numeric_twin")
        booster = self.booster if twin is None else twin
        return np.asarray(booster.inplace_predict(Z, predict_type="margin"), np.float64)

    def prepare_batches(self) -> None:
        """Build the numeric twin once: it takes a few hundred ms, repaid after a few batches
        (a model scored once, as in training, does without)."""
        if "_numeric_twin" not in self.__dict__:
            self.__dict__["_numeric_twin"] = numeric_twin(self.booster)

    def set_threads(self, n: int) -> None:
        """Predict with ``n`` threads, the twin as well."""
        for booster in (self.booster, self.__dict__.get("_numeric_twin")):
            if booster is not None:
                booster.set_param({"nthread": int(n)})

    def tree_scorer(self) -> TreeScorer | None:
        """The numpy walk of the trees for a served record, built once (None: use the booster)."""
        if "_tree_scorer" not in self.__dict__:
            self.__dict__["_tree_scorer"] = compile_trees(self.booster)
        return self.__dict__["_tree_scorer"]

    def __getstate__(self) -> dict[str, Any]:
        # the scorer and the twin are derived from the booster: rebuilt, never stored
        return {
            k: v for k, v in self.__dict__.items() if k not in ("_tree_scorer", "_numeric_twin")
        }

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        p = sigmoid(self.slope * self.margin(Z) + self.intercept)
        return np.column_stack([1.0 - p, p])


def gbm_size_params(rows: int) -> dict[str, Any]:
    """Tree settings by training size: shallow trees while rows are few, deeper with more.

    A few hundred rows cannot support depth-5 interactions: on SECOM (1,253 rows, 590 readings)
    depth 5 ranks the test rows at chance (ROC-AUC 0.51), depth 3 at 0.69.
    """
    return {"max_depth": 3 if rows < SHALLOW_TREE_ROWS else GBM_PARAMS["max_depth"]}


def gbm_options(
    y: np.ndarray,
    feature_types: Any,
    random_state: int,
    *,
    early_stopping: bool,
    warm: bool,
    rounds: int | None = None,
) -> dict[str, Any]:
    """XGBoost's sklearn-style parameters for ``y``; the Dask estimator takes the same.

    ``rounds``: boost exactly this many rounds (a refit with the folds' choice).
    """
    if rounds is None:
        if early_stopping:
            rounds = GBM_WARM_ROUNDS if warm else GBM_MAX_ROUNDS
        else:
            rounds = GBM_WARM_ROUNDS_NO_SLICE if warm else GBM_ROUNDS_NO_SLICE
    n_pos = int(y.sum())
    return {
        "n_estimators": rounds,
        "scale_pos_weight": (len(y) - n_pos) / n_pos,
        "feature_types": feature_types,
        "early_stopping_rounds": GBM_EARLY_STOPPING if early_stopping else None,
        "random_state": random_state,
        **GBM_PARAMS,
        **gbm_size_params(len(y)),
        **({"learning_rate": GBM_WARM_LEARNING_RATE} if warm else {}),
    }


def fit_gbm(
    Z: np.ndarray,
    y: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    options: dict[str, Any],
    init_booster: Any = None,
) -> Any:
    """Return the booster, trimmed to the best iteration when early stopping ran.

    ``options`` come from :func:`gbm_options`; ``init_booster`` is the booster to continue
    (warm start). The booster predicts with one thread (see :class:`CalibratedBooster`).
    """
    import xgboost

    classifier = xgboost.XGBClassifier(**options)
    classifier.fit(
        Z,
        y,
        eval_set=[validation] if validation is not None else None,
        xgb_model=init_booster,
        verbose=False,
    )
    booster = classifier.get_booster()
    if validation is not None:
        booster = booster[: classifier.best_iteration + 1]
    booster.set_param({"nthread": 1})
    return booster
