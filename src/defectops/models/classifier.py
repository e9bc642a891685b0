"""Defect classifiers by name, each a scikit-learn classifier with the same fit procedure.

``gbm`` (default)
    XGBoost trees on :class:`~defectops.features.builder.FeatureBuilder` ``output="codes"``: NaN
    and the hashed IDs are handled natively, IDs with one-vs-rest splits (see ``GBM_PARAMS``),
    shallow trees while rows are few (``gbm_size_params``). Class weighting
    (``scale_pos_weight``) instead of resampling, early stopping on held-out rows, then Platt
    scaling of the margin on held-out scores: weighting inflates the probabilities, the
    recalibration makes ``defect_probability`` a real probability again without changing the
    ranking (the slope is kept positive). See :mod:`defectops.models.gbm`.
``logreg``
    Logistic regression on the sparse layout, unweighted so its probabilities stay calibrated.
``seed-ensemble``
    The classic design kept for comparison: SMOTE on the fit part, then a soft vote of logistic
    regression, a random forest and gradient boosting. Its probabilities are not calibrated
    (SMOTE changes the class prior); only its ranking and thresholded decisions are comparable.

The fit procedure (cross-fitting, or a validation slice on large data; Platt scaling and the
threshold on held-apart scores), the same for every model, is in :mod:`defectops.models.fitting`.

Warm start (``fit(..., init_model=previous)``, models in :data:`WARM_START_MODELS`): the previous
model's fitted features are reused frozen, because its trees and coefficients are in their units;
only IDs first seen in the new chunk get category codes of their own (existing codes never change,
see :meth:`~defectops.features.builder.FeatureBuilder.learn_new_categories`). ``gbm`` continues
boosting the previous booster, adding at most ``GBM_WARM_ROUNDS`` trees, so the cost per chunk
does not grow with the number of chunks. ``logreg`` starts the solver from the previous
coefficients; the objective is convex, so it lands (up to solver tolerance) on the optimum for
the new chunk alone in the frozen units: warm start saves solver work but does not remember
earlier chunks.

Fallbacks (never a crash; each appends one line to ``fallbacks_``):

* one class in the training data: a constant model predicting the observed class rate
  (``DummyClassifier(strategy="prior")``) with threshold 0.5;
* folds too small to stop on (fewer than ``MIN_VALIDATION_ROWS`` rows held out per fold): the
  folds and the refit boost a fixed ``GBM_ROUNDS_NO_SLICE`` / ``GBM_WARM_ROUNDS_NO_SLICE``
  rounds; fewer than 2 defects (no folds): fit on all rows, threshold on in-sample scores, which
  are optimistic;
* SMOTE needs more minority rows than neighbours: ``k_neighbors = minority - 1`` when the
  minority has 2-5 rows, plain random over-sampling when it has 1;
* a Platt slope that would not be positive (the booster ranks the validation slice no better than
  chance) is held at a tiny positive value: probabilities near the base rate, ranking kept;
* warm start from a constant model, from another model type or from features with other columns:
  train from scratch.

All-missing numeric columns give zeros in the sparse layout and NaN for the trees; an unseen ID
falls into some hash bucket (sparse) or is missing for the trees (a bucket never seen in fit); a
one-row frame is served like any other.

Heavy libraries (xgboost, imbalanced-learn, the sklearn ensembles) are imported where a model is
fitted, so ``import defectops.models.classifier`` stays cheap for serving; unpickling a fitted gbm
imports xgboost by itself.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError

from defectops.core.errors import UserError
from defectops.features.builder import FeatureBuilder
from defectops.models.fitting import FitProcedure, FitRecord
from defectops.models.gbm import fit_gbm, gbm_options
from defectops.models.logreg import fit_logreg
from defectops.models.protocols import is_elsewhere
from defectops.models.seed_ensemble import fit_seed_ensemble
from defectops.models.target import binary_target
from defectops.models.threshold import THRESHOLD_OBJECTIVES

if TYPE_CHECKING:
    from defectops.core.config import Settings
    from defectops.data.schema import DataSchema

MODEL_NAMES: tuple[str, ...] = ("gbm", "seed-ensemble", "logreg")
WARM_START_MODELS: tuple[str, ...] = ("gbm", "logreg")


class DefectClassifier(FitProcedure, ClassifierMixin, BaseEstimator):
    """One defect classifier, chosen by name, fitted as :mod:`defectops.models.fitting` says.

    Learned attributes: ``features_``, ``estimator_``, ``threshold_``, ``classes_``,
    ``fallbacks_`` (one line per fallback taken), ``n_train_rows_`` and ``best_iteration_``
    (gbm: index of the last boosting round kept, counting the rounds of a warm-start's
    predecessor; else None).
    """

    def __init__(
        self,
        model: str = "gbm",
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        n_buckets: int = 4096,
        threshold_objective: str = "f1",
        cost_ratio: float = 5.0,
        validation_fraction: float = 0.15,
        random_state: int = 42,
        tune_seconds: float = 0.0,
    ) -> None:
        self.model = model
        self.numeric = numeric
        self.categorical = categorical
        self.n_buckets = n_buckets
        self.threshold_objective = threshold_objective
        self.cost_ratio = cost_ratio
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.tune_seconds = tune_seconds

    # -- fitting ---------------------------------------------------------------------------------

    def fit(
        self, X: pd.DataFrame, y: Any, *, init_model: DefectClassifier | None = None
    ) -> DefectClassifier:
        """Fit on ``X``/``y`` (0/1), continuing ``init_model`` when given (warm start).

        ``X`` may be rows another engine holds (:class:`~defectops.models.protocols.RowsElsewhere`:
        the Dask engine's :class:`~defectops.engines.dask.frame.DistributedFrame`, rows on a
        cluster; ``gbm`` only): the same procedure then runs with xgboost's Dask estimator, see
        :func:`defectops.engines.dask.frame.fit_distributed`.
        """
        self._check_params()
        if is_elsewhere(X):
            return X.fit_classifier(self, y, init_model)
        if not isinstance(X, pd.DataFrame):
            raise UserError(f"training data must be a pandas DataFrame (got {type(X).__name__})")
        target = binary_target(y, len(X))
        fallbacks: list[str] = []
        init = self._usable_init(init_model, fallbacks)
        self.classes_ = np.array([0, 1])
        self.n_train_rows_ = len(target)
        self.best_iteration_ = None

        counts = np.bincount(target, minlength=2)
        if counts.min() == 0:
            observed = int(counts.argmax())
            fallbacks.append(
                f"single class in training data ({len(target)} rows, all {observed}): "
                f"constant prior model"
            )
            self.features_ = self._new_features("sparse").fit(X)
            self.estimator_ = DummyClassifier(strategy="prior")
            self.estimator_.fit(self.features_.transform(X), target)
            self.threshold_ = 0.5
            self.fallbacks_ = fallbacks
            self.fit_record_ = FitRecord("constant", len(target), 0, [], 0)
            return self
        return self._fit_by_size(X, target, init, fallbacks)

    def _check_params(self) -> None:
        if self.model not in MODEL_NAMES:
            raise UserError(
                f"unknown model {self.model!r}; choose one of: {', '.join(MODEL_NAMES)}"
            )
        if self.threshold_objective not in THRESHOLD_OBJECTIVES:
            raise UserError(
                f"unknown threshold objective {self.threshold_objective!r}; "
                f"choose one of: {', '.join(THRESHOLD_OBJECTIVES)}"
            )
        if not self.cost_ratio > 0:
            raise UserError(f"cost_ratio must be > 0 (got {self.cost_ratio!r})")
        if not 0 <= self.validation_fraction < 1:
            raise UserError(
                f"validation_fraction must be in [0, 1) (got {self.validation_fraction!r})"
            )

    def _new_features(self, output: str) -> FeatureBuilder:
        return FeatureBuilder(
            numeric=tuple(self.numeric),
            categorical=tuple(self.categorical),
            crosses="auto",
            n_buckets=self.n_buckets,
            output=output,  # type: ignore[arg-type]
        )

    def _usable_init(
        self, init_model: DefectClassifier | None, fallbacks: list[str]
    ) -> DefectClassifier | None:
        """The model to continue, or None (train from scratch) with the reason recorded."""
        if init_model is None:
            return None
        if self.model not in WARM_START_MODELS:
            raise UserError(
                f"model {self.model!r} cannot continue a previous model; warm start is supported "
                f"by: {', '.join(WARM_START_MODELS)}"
            )
        if not hasattr(init_model, "estimator_"):
            raise UserError("init_model is not fitted; fit it before warm-starting from it")
        reason = None
        if init_model.model != self.model:
            reason = f"init_model is a {init_model.model!r} model, not {self.model!r}"
        elif isinstance(init_model.estimator_, DummyClassifier):
            reason = "init_model is a constant fallback model"
        elif (list(init_model.features_.numeric_), list(init_model.features_.categorical_)) != (
            list(self.numeric),
            list(self.categorical),
        ) or init_model.features_.n_buckets != self.n_buckets:
            reason = "init_model was trained on other feature columns or bucket count"
        if reason is not None:
            fallbacks.append(f"warm start not possible ({reason}): trained from scratch")
            return None
        return init_model

    # -- hooks of the fit procedure: what differs by model ---------------------------------------

    def _fitted_features(self, X: pd.DataFrame, init: DefectClassifier | None) -> FeatureBuilder:
        """The features to train on: the predecessor's (frozen, new IDs learned) or new ones."""
        if init is not None:
            return copy.deepcopy(init.features_).learn_new_categories(X)
        return self._new_features("codes" if self.model == "gbm" else "sparse").fit(X)

    def _fit_estimator(
        self,
        Z: Any,
        y: np.ndarray,
        validation: tuple[Any, np.ndarray] | None,
        init: DefectClassifier | None,
        fallbacks: list[str],
        *,
        rounds: int | None = None,
        threads: int | None = None,
        setting: dict[str, Any] | None = None,
    ) -> Any:
        """One fit of the estimator; ``rounds``, ``threads`` and ``setting`` (tree parameters
        over the defaults, see ``--tune``) concern the booster only."""
        if self.model == "gbm":
            options = self._gbm_options(y, validation is not None, init is not None, rounds)
            options.update(setting or {})
            if threads is not None:
                options["n_jobs"] = threads
            init_booster = init.estimator_.booster if init is not None else None
            return fit_gbm(Z, y, validation, options, init_booster)
        if self.model == "logreg":
            return fit_logreg(Z, y, init.estimator_ if init is not None else None)
        return fit_seed_ensemble(Z, y, self.random_state, fallbacks)

    def _gbm_options(
        self, y: np.ndarray, early_stopping: bool, warm: bool, rounds: int | None = None
    ) -> dict[str, Any]:
        """XGBoost's parameters for ``y`` on these features; the Dask engine fits with them too.

        See :func:`~defectops.models.gbm.gbm_options`.
        """
        return gbm_options(
            y,
            self.features_.feature_types_,
            self.random_state,
            early_stopping=early_stopping,
            warm=warm,
            rounds=rounds,
        )

    def _raw_scores(self, estimator: Any, Z: Any) -> np.ndarray:
        """Margins for a booster (Platt scaling comes after), defect probabilities otherwise."""
        if self.model == "gbm":
            return np.asarray(estimator.inplace_predict(Z, predict_type="margin"), np.float64)
        return _defect_column(estimator, Z)

    def _rounds(self, estimator: Any, init: DefectClassifier | None) -> int:
        """Boosting rounds this fit added (0 for the other models)."""
        if self.model != "gbm":
            return 0
        before = init.estimator_.n_trees if init is not None else 0
        return int(estimator.num_boosted_rounds()) - before

    # -- predicting ------------------------------------------------------------------------------

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` probabilities, columns ``[good, defect]``."""
        p = self.decision_scores(X)
        return np.column_stack([1.0 - p, p])

    def decision_scores(self, X: pd.DataFrame) -> np.ndarray:
        """The defect probability of each row (what ``threshold_`` is compared with)."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("this DefectClassifier is not fitted yet; call fit first")
        if is_elsewhere(X):
            return X.classifier_scores(self)
        return _defect_column(self.estimator_, self.features_.transform(X))

    def predict_with_threads(self, n: int) -> DefectClassifier:
        """Let the booster predict with ``n`` threads (a whole file, not a served request).

        Models are stored to predict with one thread, which is right for the service's small
        requests; a command scoring millions of rows in one call gains from every core.
        """
        set_threads = getattr(getattr(self, "estimator_", None), "set_threads", None)
        if set_threads is not None:
            set_threads(n)
        return self

    def prepare_batches(self) -> DefectClassifier:
        """Get ready to score many batches (the service): a booster with category splits
        builds its faster numeric twin, which gives the same scores."""
        prepare = getattr(getattr(self, "estimator_", None), "prepare_batches", None)
        if prepare is not None:
            prepare()
        return self

    def decision_scores_columns(
        self, numbers: np.ndarray, categories: Sequence[np.ndarray]
    ) -> np.ndarray:
        """:meth:`decision_scores` for columns split by role (see ``transform_columns``)."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("this DefectClassifier is not fitted yet; call fit first")
        return _defect_column(
            self.estimator_, self.features_.transform_columns(numbers, categories)
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 (defect) where the defect probability reaches ``threshold_``, else 0."""
        return (self.decision_scores(X) >= self.threshold_).astype(np.int64)


def build_model(settings: Settings, schema: DataSchema) -> DefectClassifier:
    """The classifier the settings ask for, on the schema's feature columns.

    Raises :class:`UserError` for an unknown model name, or for the warm-start strategy with a
    model that cannot continue a previous fit.
    """
    name = settings.model
    if name not in MODEL_NAMES:
        raise UserError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    if settings.strategy == "warm-start" and name not in WARM_START_MODELS:
        raise UserError(
            f"strategy 'warm-start' does not work with model {name!r}; "
            f"models that support it: {', '.join(WARM_START_MODELS)}"
        )
    return DefectClassifier(
        model=name,
        numeric=tuple(schema.numeric),
        categorical=tuple(schema.categorical),
        n_buckets=settings.hash_buckets,
        threshold_objective=settings.threshold.objective,
        cost_ratio=settings.threshold.cost_ratio,
        random_state=settings.seed,
        tune_seconds=settings.tune,
    )


def _defect_column(estimator: Any, Z: Any) -> np.ndarray:
    """The probability of class 1, also for a model that saw one class only."""
    proba = estimator.predict_proba(Z)
    classes = list(estimator.classes_)
    if 1 in classes:
        return np.asarray(proba[:, classes.index(1)], dtype=np.float64)
    return np.zeros(proba.shape[0], dtype=np.float64)
