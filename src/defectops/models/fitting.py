"""The fit procedure every model shares: which rows fit, stop, calibrate and set the threshold.

For every model (recorded in ``fit_record_``, a :class:`FitRecord`):

* fewer than ``CROSS_FIT_MAX_ROWS`` rows, *cross-fitting*: the features are fitted on all rows
  (they never see the label); ``CROSS_FIT_FOLDS`` stratified folds each fit the estimator on the
  other folds, stopping early on their own rows (gbm), and score their rows; Platt scaling and
  ``threshold_`` (:func:`~defectops.models.threshold.choose_threshold`) are fitted on those
  out-of-fold scores, and the released estimator is refitted on *all* rows with the folds' mean
  round count. No training row is left unused, and no row's score used for calibration comes
  from a model that learned it;
* from ``CROSS_FIT_MAX_ROWS`` rows on, a stratified validation slice (``validation_fraction``)
  stops, calibrates and sets the threshold, and the model keeps what it learned from the rest.

The hold-out is never seen here.

Fallbacks (each appends one line to ``fallbacks_``): folds too small to stop on (fewer than
``MIN_VALIDATION_ROWS`` rows held out per fold): the folds and the refit boost a fixed
``GBM_ROUNDS_NO_SLICE`` / ``GBM_WARM_ROUNDS_NO_SLICE`` rounds; fewer than 2 defects (no folds):
fit on all rows, threshold on in-sample scores, which are optimistic.

:class:`FitProcedure` is the procedure; :class:`~defectops.models.classifier.DefectClassifier`
supplies what differs by model: the features, one fit of the estimator, its raw scores and the
rounds it added.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd

from defectops.features.builder import FeatureBuilder
from defectops.models.calibration import platt, sigmoid
from defectops.models.gbm import CalibratedBooster
from defectops.models.splits import MIN_VALIDATION_ROWS, cross_fit_folds, validation_split
from defectops.models.threshold import choose_threshold
from defectops.models.tuning import tuned

#: below this many training rows every model is cross-fitted and refitted on all rows; above it
#: a single validation slice (at least 15,000 rows) stops and calibrates, and the model keeps the
#: 85% it learned from: a refit would double the fit time for 15% more rows (also the size up to
#: which the Dask engine fits on one worker, see ``defectops.engines.dask.frame``)
CROSS_FIT_MAX_ROWS = 100_000

Folds = list[tuple[np.ndarray, np.ndarray]]


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


class FitProcedure:
    """The procedure of the module docstring, for a classifier that supplies the four hooks.

    The hooks are methods, not arguments, so that a subclass can watch or replace them (the
    tests record which rows each estimator learned from and scored).
    """

    # parameters and learned attributes of the classifier the procedure reads and sets
    model: str
    random_state: int
    validation_fraction: float
    tune_seconds: float
    threshold_objective: str
    cost_ratio: float
    features_: FeatureBuilder
    estimator_: Any
    threshold_: float
    fallbacks_: list[str]
    fit_record_: FitRecord
    best_iteration_: int | None

    # -- hooks -------------------------------------------------------------------------------------

    def _fitted_features(self, X: pd.DataFrame, init: Self | None) -> FeatureBuilder:
        raise NotImplementedError

    def _fit_estimator(
        self,
        Z: Any,
        y: np.ndarray,
        validation: tuple[Any, np.ndarray] | None,
        init: Self | None,
        fallbacks: list[str],
        *,
        rounds: int | None = None,
        threads: int | None = None,
        setting: dict[str, Any] | None = None,
    ) -> Any:
        raise NotImplementedError

    def _raw_scores(self, estimator: Any, Z: Any) -> np.ndarray:
        raise NotImplementedError

    def _rounds(self, estimator: Any, init: Self | None) -> int:
        raise NotImplementedError

    # -- the procedure -----------------------------------------------------------------------------

    def _fit_by_size(
        self, X: pd.DataFrame, target: np.ndarray, init: Self | None, fallbacks: list[str]
    ) -> Self:
        """Cross-fit below ``CROSS_FIT_MAX_ROWS`` rows (or no validation fraction), else a slice.

        A refit on all rows would double the fit time of large data for little gain; a slice of
        15% of ``CROSS_FIT_MAX_ROWS`` is big enough to stop, calibrate and set the threshold on.
        """
        if self.validation_fraction > 0 and len(target) >= CROSS_FIT_MAX_ROWS:
            return self._fit_with_slice(X, target, init, fallbacks)
        return self._cross_fit(X, target, init, fallbacks)

    def _cross_fit(
        self, X: pd.DataFrame, target: np.ndarray, init: Self | None, fallbacks: list[str]
    ) -> Self:
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

        # only the booster has settings to tune, and only when its folds stop early
        seconds = self.tune_seconds if stop and self.model == "gbm" else 0.0
        setting, oof, fold_rounds, tried = tuned(cross_fit, target, seconds)
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
        folds: Folds,
        stop: bool,
        init: Self | None,
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

    def _fit_with_slice(
        self, X: pd.DataFrame, target: np.ndarray, init: Self | None, fallbacks: list[str]
    ) -> Self:
        """Large data: one stratified slice stops and calibrates, no refit (see above)."""
        fit_rows, val_rows = validation_split(
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

    def _calibrate(
        self, estimator: Any, chosen_y: np.ndarray, raw: np.ndarray, fallbacks: list[str]
    ) -> Self:
        """Platt-scale a booster's margins and choose the threshold, on held-apart rows."""
        if self.model == "gbm":
            self.best_iteration_ = estimator.num_boosted_rounds() - 1
            slope, intercept = platt(raw, chosen_y, fallbacks)
            self.estimator_ = CalibratedBooster(estimator, slope, intercept)
            scores = sigmoid(slope * raw + intercept)
        else:
            self.estimator_ = estimator
            scores = raw
        self.threshold_ = choose_threshold(
            chosen_y, scores, self.threshold_objective, self.cost_ratio
        )
        self.fallbacks_ = fallbacks
        return self
