"""Defect classifiers by name, each a scikit-learn classifier with the same fit procedure.

``gbm`` (default)
    XGBoost trees on :class:`~defectops.features.builder.FeatureBuilder` ``output="codes"``: NaN
    and the
    hashed IDs are handled natively, IDs with one-vs-rest splits (see ``GBM_PARAMS``), shallow
    trees while rows are few (``gbm_size_params``). Class weighting (``scale_pos_weight``)
    instead of resampling, early stopping on held-out rows, then Platt scaling of the margin on
    held-out scores: weighting inflates the probabilities, the recalibration makes
    ``defect_probability`` a real probability again without changing the ranking (the slope is
    kept positive).
``logreg``
    Logistic regression on the sparse layout, unweighted so its probabilities stay calibrated.
``seed-ensemble``
    The classic design kept for comparison: SMOTE on the fit part, then a soft vote of logistic
    regression, a random forest and gradient boosting. Its probabilities are not calibrated
    (SMOTE changes the class prior); only its ranking and thresholded decisions are comparable.

Fit procedure, for every model (recorded in ``fit_record_``, a :class:`FitRecord`):

* fewer than ``CROSS_FIT_MAX_ROWS`` rows, *cross-fitting*: the features are fitted on all rows
  (they never see the label); ``CROSS_FIT_FOLDS`` stratified folds each fit the estimator on the
  other folds, stopping early on their own rows (gbm), and score their rows; Platt scaling and
  ``threshold_`` (:func:`choose_threshold`) are fitted on those out-of-fold scores, and the
  released estimator is refitted on *all* rows with the folds' mean round count. No training row
  is left unused, and no row's score used for calibration comes from a model that learned it;
* from ``CROSS_FIT_MAX_ROWS`` rows on, a stratified validation slice (``validation_fraction``)
  stops, calibrates and sets the threshold, and the model keeps what it learned from the rest.

The hold-out is never seen here.

Warm start (``fit(..., init_model=previous)``, models in :data:`WARM_START_MODELS`): the previous
model's fitted features are reused frozen, because its trees and coefficients are in their units;
only IDs first seen in the new chunk get category codes of their own (existing codes never change,
see :meth:`~defectops.features.builder.FeatureBuilder.learn_new_categories`). ``gbm`` continues
boosting
the previous booster, adding at most ``GBM_WARM_ROUNDS`` trees, so the cost per chunk does not
grow with the number of chunks. ``logreg`` starts the solver from the previous coefficients; the
objective is convex, so it lands (up to solver tolerance) on the optimum for the new chunk alone
in the frozen units: warm start saves solver work but does not remember earlier chunks.

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
imports
xgboost by itself.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError

from defectops.core.errors import UserError
from defectops.features.builder import FeatureBuilder
from defectops.models.tree_scorer import TreeScorer, compile_trees

if TYPE_CHECKING:
    from defectops.core.config import Settings
    from defectops.data.schema import DataSchema

MODEL_NAMES: tuple[str, ...] = ("gbm", "seed-ensemble", "logreg")
WARM_START_MODELS: tuple[str, ...] = ("gbm", "logreg")
THRESHOLD_OBJECTIVES: tuple[str, ...] = ("f1", "cost")

#: a validation slice smaller than this is too noisy to stop on or to choose a threshold on
MIN_VALIDATION_ROWS = 20
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
#: below this many training rows every model is cross-fitted and refitted on all rows; above it
#: a single validation slice (at least 15,000 rows) stops and calibrates, and the model keeps the
#: 85% it learned from: a refit would double the fit time for 15% more rows (also the size up to
#: which the Dask engine fits on one worker, see ``defectops.engines.dask.frame``)
CROSS_FIT_MAX_ROWS = 100_000
CROSS_FIT_FOLDS = 3
#: below this many training rows the trees are kept shallow (see ``gbm_size_params``)
SHALLOW_TREE_ROWS = 2_000
SMOTE_NEIGHBOURS = 5
_MIN_PLATT_SLOPE = 1e-6
#: up to this many rows the numpy tree walk beats XGBoost's per-call cost (measured crossover ~5)
TREE_SCORER_MAX_ROWS = 4


class CalibratedBooster:
    """An XGBoost booster plus Platt scaling of its margin: ``p = sigmoid(slope * margin + b)``.

    The booster is trimmed to its best iteration and predicts with one thread: serving scores a
    few rows at a time, where thread start-up costs more than it saves (and a busy host makes
    OpenMP waits erratic). Up to ``TREE_SCORER_MAX_ROWS`` rows are scored by the checked numpy
    walk of :mod:`defectops.models.tree_scorer`, which skips XGBoost's fixed per-call cost.
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
        return np.asarray(self.booster.inplace_predict(Z, predict_type="margin"), np.float64)

    def tree_scorer(self) -> TreeScorer | None:
        """The numpy walk of the trees for a served record, built once (None: use the booster)."""
        if "_tree_scorer" not in self.__dict__:
            self.__dict__["_tree_scorer"] = compile_trees(self.booster)
        return self.__dict__["_tree_scorer"]

    def __getstate__(self) -> dict[str, Any]:
        # the scorer is derived from the booster: rebuilt after loading, never stored
        return {k: v for k, v in self.__dict__.items() if k != "_tree_scorer"}

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        p = _sigmoid(self.slope * self.margin(Z) + self.intercept)
        return np.column_stack([1.0 - p, p])


@runtime_checkable
class RowsElsewhere(Protocol):
    """Rows held by another engine, which fits and scores a classifier where they are.

    :class:`~defectops.engines.dask.frame.DistributedFrame` is one; this module knows it only by
    this
    protocol, so the model does not depend on the engine.
    """

    def fit_classifier(
        self, model: DefectClassifier, y: Any, init_model: DefectClassifier | None
    ) -> DefectClassifier: ...

    def classifier_scores(self, model: DefectClassifier) -> np.ndarray: ...


@dataclass(frozen=True)
class FitRecord:
    """How a model was fitted: its lineage, kept in the model's metadata and in MLflow.

    ``procedure``: ``"cross-fit"`` (fold models chose the rounds and scored the rows they left
    out; the released model is refitted on all ``rows``), ``"validation slice"`` (the model
    learned from ``rows``, the slice stopped and calibrated it) or ``"in-sample"`` (too few
    defects to hold any apart). ``fold_rounds``: the rounds each fold's early stopping kept;
    ``rounds``: the rounds the released booster added (0 for models without rounds);
    ``setting`` and ``settings_tried``: what ``--tune`` chose and how many settings it scored.
    """

    procedure: str
    rows: int
    folds: int
    fold_rounds: list[int]
    rounds: int
    #: tree parameters chosen over the defaults by ``--tune`` (empty: the defaults)
    setting: dict[str, Any] = field(default_factory=dict)
    #: how many settings the cross-fit scored (1 without ``--tune``)
    settings_tried: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DefectClassifier(ClassifierMixin, BaseEstimator):
    """One defect classifier, chosen by name; see the module docstring for the fit procedure.

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

        ``X`` may be rows another engine holds (:class:`RowsElsewhere`: the Dask engine's
        :class:`~defectops.engines.dask.frame.DistributedFrame`, rows on a cluster;
        ``gbm`` only): the same procedure then runs with xgboost's Dask estimator, see
        :func:`defectops.engines.dask.frame.fit_distributed`.
        """
        self._check_params()
        if _is_elsewhere(X):
            return X.fit_classifier(self, y, init_model)
        if not isinstance(X, pd.DataFrame):
            raise UserError(f"training data must be a pandas DataFrame (got {type(X).__name__})")
        target = _binary_target(y, len(X))
        fallbacks: list[str] = []
        init = self._usable_init(init_model, fallbacks)
        self.classes_ = np.array([0, 1])
        self.n_train_rows_ = len(target)
        self.best_iteration_: int | None = None

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

        if self.validation_fraction > 0 and len(target) >= CROSS_FIT_MAX_ROWS:
            return self._fit_with_slice(X, target, init, fallbacks)
        return self._cross_fit(X, target, init, fallbacks)

    def _cross_fit(
        self,
        X: pd.DataFrame,
        target: np.ndarray,
        init: DefectClassifier | None,
        fallbacks: list[str],
    ) -> DefectClassifier:
        """Fold models choose the rounds and score the rows they left out; one refit on all.

        Every training row is scored once by a model that did not learn from it; calibration
        and threshold are fitted on those out-of-fold scores, and the released model is refitted
        on every row with the mean of the folds' early-stopped round counts (as scikit-learn's
        ``CalibratedClassifierCV(ensemble=False)`` does for the calibration).
        """
        self.features_ = self._fitted_features(X, init)
        Z = self.features_.transform(X)
        folds = cross_fit_folds(target, self.random_state)
        if not folds:
            fallbacks.append(
                f"fewer than 2 defects ({int(target.sum())}): no cross-fitting, fitted on all "
                f"rows, threshold chosen on in-sample scores (optimistic)"
            )
            estimator = self._fit_estimator(Z, target, None, init, fallbacks)
            self.fit_record_ = FitRecord(
                "in-sample", len(target), 0, [], self._rounds(estimator, init)
            )
            return self._calibrate(estimator, target, self._raw_scores(estimator, Z), fallbacks)
        smallest = min(len(held) for _, held in folds)
        stop = self.validation_fraction > 0 and smallest >= MIN_VALIDATION_ROWS
        if not stop and self.validation_fraction > 0 and self.model == "gbm":
            fallbacks.append(
                f"too few rows to stop early ({len(target)} rows, {smallest} held out per fold, "
                f"need {MIN_VALIDATION_ROWS}): fixed round count, no early stopping"
            )

        def cross_fit(setting: dict[str, Any]) -> tuple[np.ndarray, list[int]]:
            return self._out_of_fold(Z, target, folds, stop, init, setting)

        setting, oof, fold_rounds, tried = self._tuned(cross_fit, target, tune=stop)
        rounds = max(1, round(float(np.mean(fold_rounds)))) if stop else None
        estimator = self._fit_estimator(
            Z, target, None, init, fallbacks, rounds=rounds, setting=setting
        )
        self.fit_record_ = FitRecord(
            "cross-fit",
            len(target),
            len(folds),
            fold_rounds,
            self._rounds(estimator, init),
            setting=setting,
            settings_tried=tried,
        )
        return self._calibrate(estimator, target, oof, fallbacks)

    def _out_of_fold(
        self,
        Z: Any,
        target: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
        stop: bool,
        init: DefectClassifier | None,
        setting: dict[str, Any],
    ) -> tuple[np.ndarray, list[int]]:
        """Every row's score by the fold model that left it out, and each fold's rounds."""
        # every fold at once, the cores shared out: a fold left to run alone would idle the rest
        threads = max(1, (os.cpu_count() or 1) // len(folds))

        def fit_fold(fold: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, Any]:
            learn, held = fold
            validation = (Z[held], target[held]) if stop else None
            estimator = self._fit_estimator(
                Z[learn], target[learn], validation, init, [], threads=threads, setting=setting
            )
            return held, estimator

        oof = np.empty(len(target), dtype=np.float64)
        fold_rounds: list[int] = []
        with ThreadPoolExecutor(len(folds)) as pool:  # the fits release the GIL
            for held, estimator in pool.map(fit_fold, folds):
                oof[held] = self._raw_scores(estimator, Z[held])
                fold_rounds.append(self._rounds(estimator, init))
        return oof, fold_rounds

    def _tuned(
        self,
        cross_fit: Callable[[dict[str, Any]], tuple[np.ndarray, list[int]]],
        target: np.ndarray,
        tune: bool,
    ) -> tuple[dict[str, Any], np.ndarray, list[int], int]:
        """The defaults' out-of-fold scores, or, with ``tune_seconds``, those of the setting
        whose scores have the best average precision among the ones scored in time.

        Returns the setting (empty: the defaults), its scores, its fold rounds and how many
        settings were scored. Every setting is scored on the same folds, so they compete on the
        same rows; the defaults are always scored first and win ties.
        """
        began = time.monotonic()
        setting: dict[str, Any] = {}
        oof, fold_rounds = cross_fit(setting)
        tried = 1
        if not (tune and self.tune_seconds > 0 and self.model == "gbm"):
            return setting, oof, fold_rounds, tried
        from sklearn.metrics import average_precision_score

        best = average_precision_score(target, oof)
        for candidate in tune_settings(len(target)):
            if time.monotonic() - began >= self.tune_seconds:
                break
            scores, rounds_kept = cross_fit(candidate)
            tried += 1
            score = average_precision_score(target, scores)
            if score > best:
                best, setting, oof, fold_rounds = score, candidate, scores, rounds_kept
        return setting, oof, fold_rounds, tried

    def _fit_with_slice(
        self,
        X: pd.DataFrame,
        target: np.ndarray,
        init: DefectClassifier | None,
        fallbacks: list[str],
    ) -> DefectClassifier:
        """Large data: one stratified slice stops and calibrates, no refit (see above)."""
        fit_rows, val_rows = _validation_split(
            target, self.validation_fraction, self.random_state, fallbacks
        )
        if val_rows is None:
            return self._cross_fit(X, target, init, fallbacks)
        X_fit, y_fit = X.iloc[fit_rows], target[fit_rows]
        self.features_ = self._fitted_features(X_fit, init)
        Z_fit = self.features_.transform(X_fit)
        validation = (self.features_.transform(X.iloc[val_rows]), target[val_rows])
        estimator = self._fit_estimator(Z_fit, y_fit, validation, init, fallbacks)
        self.fit_record_ = FitRecord(
            "validation slice", len(fit_rows), 0, [], self._rounds(estimator, init)
        )
        return self._calibrate(
            estimator, validation[1], self._raw_scores(estimator, validation[0]), fallbacks
        )

    def _fitted_features(self, X: pd.DataFrame, init: DefectClassifier | None) -> FeatureBuilder:
        """The features to train on: the predecessor's (frozen, new IDs learned) or new ones."""
        if init is not None:
            return copy.deepcopy(init.features_).learn_new_categories(X)
        return self._new_features("codes" if self.model == "gbm" else "sparse").fit(X)

    def _rounds(self, estimator: Any, init: DefectClassifier | None) -> int:
        """Boosting rounds this fit added (0 for the other models)."""
        if self.model != "gbm":
            return 0
        before = init.estimator_.n_trees if init is not None else 0
        return int(estimator.num_boosted_rounds()) - before

    def _calibrate(
        self, estimator: Any, chosen_y: np.ndarray, raw: np.ndarray, fallbacks: list[str]
    ) -> DefectClassifier:
        """Platt-scale a booster's margins and choose the threshold, on held-apart rows."""
        if self.model == "gbm":
            self.best_iteration_ = estimator.num_boosted_rounds() - 1
            slope, intercept = _platt(raw, chosen_y, fallbacks)
            self.estimator_ = CalibratedBooster(estimator, slope, intercept)
            scores = _sigmoid(slope * raw + intercept)
        else:
            self.estimator_ = estimator
            scores = raw
        self.threshold_ = choose_threshold(
            chosen_y, scores, self.threshold_objective, self.cost_ratio
        )
        self.fallbacks_ = fallbacks
        return self

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
            return self._fit_gbm(Z, y, validation, init, rounds, threads, setting)
        if self.model == "logreg":
            return self._fit_logreg(Z, y, init)
        return self._fit_seed_ensemble(Z, y, fallbacks)

    def _fit_gbm(
        self,
        Z: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None,
        init: DefectClassifier | None,
        rounds: int | None = None,
        threads: int | None = None,
        setting: dict[str, Any] | None = None,
    ) -> Any:
        """Return the booster, trimmed to the best iteration when early stopping ran."""
        import xgboost

        options = self._gbm_options(y, validation is not None, init is not None, rounds)
        options.update(setting or {})
        if threads is not None:
            options["n_jobs"] = threads
        classifier = xgboost.XGBClassifier(**options)
        classifier.fit(
            Z,
            y,
            eval_set=[validation] if validation is not None else None,
            xgb_model=init.estimator_.booster if init is not None else None,
            verbose=False,
        )
        booster = classifier.get_booster()
        if validation is not None:
            booster = booster[: classifier.best_iteration + 1]
        booster.set_param({"nthread": 1})
        return booster

    def _gbm_options(
        self, y: np.ndarray, early_stopping: bool, warm: bool, rounds: int | None = None
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
            "feature_types": self.features_.feature_types_,
            "early_stopping_rounds": GBM_EARLY_STOPPING if early_stopping else None,
            "random_state": self.random_state,
            **GBM_PARAMS,
            **gbm_size_params(len(y)),
            **({"learning_rate": GBM_WARM_LEARNING_RATE} if warm else {}),
        }

    def _fit_logreg(self, Z: Any, y: np.ndarray, init: DefectClassifier | None) -> Any:
        from sklearn.linear_model import LogisticRegression

        logreg = LogisticRegression(C=1.0, solver="lbfgs", max_iter=2000)
        if init is not None:
            logreg.set_params(warm_start=True)
            logreg.coef_ = init.estimator_.coef_.copy()
            logreg.intercept_ = init.estimator_.intercept_.copy()
        return logreg.fit(Z, y)

    def _fit_seed_ensemble(self, Z: Any, y: np.ndarray, fallbacks: list[str]) -> Any:
        from imblearn.over_sampling import SMOTE, RandomOverSampler
        from sklearn.ensemble import (
            GradientBoostingClassifier,
            RandomForestClassifier,
            VotingClassifier,
        )
        from sklearn.linear_model import LogisticRegression

        minority = int(np.bincount(y, minlength=2).min())
        sampler: Any
        if minority > SMOTE_NEIGHBOURS:
            sampler = SMOTE(k_neighbors=SMOTE_NEIGHBOURS, random_state=self.random_state)
        elif minority >= 2:
            sampler = SMOTE(k_neighbors=minority - 1, random_state=self.random_state)
            fallbacks.append(
                f"minority class has {minority} rows, fewer than SMOTE needs for "
                f"{SMOTE_NEIGHBOURS} neighbours: SMOTE with k_neighbors={minority - 1}"
            )
        else:
            sampler = RandomOverSampler(random_state=self.random_state)
            fallbacks.append(
                f"minority class has {minority} row: random over-sampling instead of SMOTE"
            )
        Z_res, y_res = sampler.fit_resample(Z, y)
        ensemble = VotingClassifier(
            [
                ("logreg", LogisticRegression(C=1.0, max_iter=2000)),
                (
                    "forest",
                    RandomForestClassifier(
                        n_estimators=250, n_jobs=2, random_state=self.random_state
                    ),
                ),
                ("boosting", GradientBoostingClassifier(random_state=self.random_state)),
            ],
            voting="soft",
        )
        ensemble.fit(Z_res, y_res)
        # predict with one thread: for the few rows of a request, starting threads costs ~40 ms
        ensemble.named_estimators_["forest"].set_params(n_jobs=1)
        return ensemble

    def _raw_scores(self, estimator: Any, Z: Any) -> np.ndarray:
        """Margins for a booster (Platt scaling comes after), defect probabilities otherwise."""
        if self.model == "gbm":
            return np.asarray(estimator.inplace_predict(Z, predict_type="margin"), np.float64)
        return _defect_column(estimator, Z)

    # -- predicting ------------------------------------------------------------------------------

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` probabilities, columns ``[good, defect]``."""
        p = self.decision_scores(X)
        return np.column_stack([1.0 - p, p])

    def decision_scores(self, X: pd.DataFrame) -> np.ndarray:
        """The defect probability of each row (what ``threshold_`` is compared with)."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("this DefectClassifier is not fitted yet; call fit first")
        if _is_elsewhere(X):
            return X.classifier_scores(self)
        return _defect_column(self.estimator_, self.features_.transform(X))

    def predict_with_threads(self, n: int) -> DefectClassifier:
        """Let the booster predict with ``n`` threads (a whole file, not a served request).

        Models are stored to predict with one thread, which is right for the service's small
        requests; a command scoring millions of rows in one call gains from every core.
        """
        booster = getattr(getattr(self, "estimator_", None), "booster", None)
        if booster is not None:
            booster.set_param({"nthread": int(n)})
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


def choose_threshold(
    y_true: Any, scores: Any, objective: str = "f1", cost_ratio: float = 5.0
) -> float:
    """The score at which to call a defect (predict ``score >= threshold``).

    Maximises F1, or minimises ``cost_ratio * FN + FP``, over the distinct scores, all at once
    from cumulative counts of the scores sorted high to low. Ties go to the highest threshold
    (fewest alarms). Meant for training-side scores only: choosing it on the hold-out would make
    the hold-out estimate optimistic. One class only (or no rows): 0.5.
    """
    if objective not in THRESHOLD_OBJECTIVES:
        raise UserError(
            f"unknown threshold objective {objective!r}; choose one of: "
            f"{', '.join(THRESHOLD_OBJECTIVES)}"
        )
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(s):
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    if y.all() or not y.any():
        return 0.5
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_value = np.append(s[1:] != s[:-1], True)
    tp = np.cumsum(y)[last_of_value]
    fp = np.cumsum(~y)[last_of_value]
    candidates = s[last_of_value]
    fn = tp[-1] - tp
    if objective == "f1":
        return float(candidates[np.argmax(2 * tp / (2 * tp + fp + fn))])
    cost = cost_ratio * fn + fp
    best = int(np.argmin(cost))
    if cost_ratio * tp[-1] < cost[best]:  # flagging nothing is cheaper than any threshold
        return float(np.nextafter(candidates[0], np.inf))
    return float(candidates[best])


# -- helpers --------------------------------------------------------------------------------------


def gbm_size_params(rows: int) -> dict[str, Any]:
    """Tree settings by training size: shallow trees while rows are few, deeper with more.

    A few hundred rows cannot support depth-5 interactions: on SECOM (1,253 rows, 590 readings)
    depth 5 ranks the test rows at chance (ROC-AUC 0.51), depth 3 at 0.69.
    """
    return {"max_depth": 3 if rows < SHALLOW_TREE_ROWS else GBM_PARAMS["max_depth"]}


def tune_settings(rows: int) -> list[dict[str, Any]]:
    """The tree settings ``--tune`` scores after the defaults, most promising first: other
    depths, then regularisation (larger leaves, features and rows sampled per tree/split)."""
    default = gbm_size_params(rows)["max_depth"]
    depths = [{"max_depth": d} for d in (3, 2, 4, 6) if d != default]
    return [
        *depths,
        {"min_child_weight": 5.0},
        {"colsample_bynode": 0.5},
        {"subsample": 0.8, "colsample_bytree": 0.8},
        {"reg_lambda": 10.0},
    ]


def cross_fit_folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds (rows to learn from, rows held out), at most ``CROSS_FIT_FOLDS``.

    As many folds as there are defects when fewer (each held-out part then holds a defect);
    none when there are fewer than 2 of either class.
    """
    from sklearn.model_selection import StratifiedKFold

    k = min(CROSS_FIT_FOLDS, int(np.bincount(y, minlength=2).min()))
    if k < 2:
        return []
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _is_elsewhere(X: Any) -> TypeGuard[RowsElsewhere]:
    """Rows another engine holds (the Dask engine's frame), not a local frame or array."""
    if isinstance(X, pd.DataFrame | np.ndarray):
        return False
    return isinstance(X, RowsElsewhere)


def _binary_target(y: Any, n_rows: int) -> np.ndarray:
    values = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y).ravel()
    if len(values) != n_rows:
        raise UserError(f"target has {len(values)} values but the data has {n_rows} rows")
    if n_rows == 0:
        raise UserError("no training rows")
    try:
        numbers = values.astype(np.float64)
    except (TypeError, ValueError):
        raise UserError("target must hold 0/1 values; encode it first") from None
    if not np.isin(numbers, (0.0, 1.0)).all():
        raise UserError("target must hold 0/1 values without missing ones; encode it first")
    return numbers.astype(np.int64)


def _validation_split(
    y: np.ndarray, fraction: float, seed: int, fallbacks: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Row positions to fit on and to validate on (None: no usable slice, fit on all rows)."""
    from sklearn.model_selection import train_test_split

    everything = np.arange(len(y))
    n_val = int(np.ceil(fraction * len(y)))
    if n_val < MIN_VALIDATION_ROWS or len(y) - n_val < 2:
        fallbacks.append(
            f"too few rows for a validation slice ({len(y)} rows, {n_val} would be held out, "
            f"need {MIN_VALIDATION_ROWS}): fitted on all rows, no early stopping"
        )
        return everything, None
    stratify = y if np.bincount(y, minlength=2).min() >= 2 else None
    fit_rows, val_rows = train_test_split(
        everything, test_size=n_val, stratify=stratify, random_state=seed
    )
    for part, rows in (("validation slice", val_rows), ("fit part", fit_rows)):
        if np.unique(y[rows]).size < 2:
            fallbacks.append(
                f"a class is missing from the {part} ({int(y.sum())} defects in {len(y)} rows): "
                f"fitted on all rows, no early stopping"
            )
            return everything, None
    return np.sort(fit_rows), np.sort(val_rows)


def _platt(margin: np.ndarray, y: np.ndarray, fallbacks: list[str]) -> tuple[float, float]:
    """Platt's (1999) sigmoid fit of labels on margins, with his smoothed targets.

    The smoothed targets ``(n_pos + 1) / (n_pos + 2)`` and ``1 / (n_neg + 2)`` keep a small slice
    with few defects from giving probabilities of exactly 0 or 1.
    """
    from scipy.optimize import minimize

    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    target = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * margin + params[1]
        residual = _sigmoid(z) - target
        value = float(np.sum(np.logaddexp(0.0, z) - target * z))
        return value, np.array([np.dot(residual, margin), residual.sum()])

    start = np.array([1.0, np.log((n_pos + 1) / (n_neg + 1))])
    result = minimize(
        loss, start, jac=True, method="L-BFGS-B", bounds=[(_MIN_PLATT_SLOPE, None), (None, None)]
    )
    slope, intercept = (float(v) for v in result.x)
    if slope <= _MIN_PLATT_SLOPE * 1.01:
        fallbacks.append(
            "Platt slope not positive (the booster does not rank the calibration rows): "
            "held at a tiny positive value, probabilities near the base rate"
        )
    return slope, intercept


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _defect_column(estimator: Any, Z: Any) -> np.ndarray:
    """The probability of class 1, also for a model that saw one class only."""
    proba = estimator.predict_proba(Z)
    classes = list(estimator.classes_)
    if 1 in classes:
        return np.asarray(proba[:, classes.index(1)], dtype=np.float64)
    return np.zeros(proba.shape[0], dtype=np.float64)
