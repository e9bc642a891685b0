"""A :class:`~defectops.models.classifier.DefectClassifier` fitted and scored where the rows are.

``gbm`` only, by the local procedure's own rule. A chunk of fewer than ``CROSS_FIT_MAX_ROWS``
rows is gathered on the worker holding most of it and cross-fitted there exactly as the local
engine does. A larger one is boosted by :class:`xgboost.dask.DaskXGBClassifier` on the
partitions' feature matrices: the same parameters, the same stratified validation slice (drawn
from the labels, one byte per row, gathered on the client), early stopping, and ``xgb_model=``
the previous booster for the warm-start strategy. The result is the usual
:class:`~defectops.models.classifier.DefectClassifier`: Platt scaling and the threshold are
fitted on the validation slice's margins, gathered as one float per row.

The fitted :class:`~defectops.features.builder.FeatureBuilder` is applied per partition. Fitting
it merges per-partition summaries
(:meth:`~defectops.features.builder.FeatureBuilder.numeric_moments`,
:meth:`~defectops.features.builder.FeatureBuilder.buckets_seen`), so the category codes are the
ones a local fit gives.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from defectops.core.errors import UserError
from defectops.engines.dask.parts import StagedPart, apply, rows_of
from defectops.models import fitting
from defectops.models.classifier import DefectClassifier
from defectops.models.fitting import FitRecord
from defectops.models.splits import validation_split
from defectops.models.target import binary_target

if TYPE_CHECKING:
    from distributed import Client, Future

    from defectops.features.builder import FeatureBuilder, NumericMoments


class ClusterRows(Protocol):
    """What fitting and scoring use of a :class:`~defectops.engines.dask.frame.DistributedFrame`.

    The frame's ``fit_classifier`` and ``classifier_scores`` call this module, so the frame is
    named here by what it offers rather than imported.
    """

    @property
    def client(self) -> Client: ...

    @property
    def parts(self) -> tuple[Any, ...]: ...

    @property
    def lengths(self) -> tuple[int, ...]: ...

    def __len__(self) -> int: ...

    def take(self, keep: np.ndarray) -> ClusterRows: ...

    def gather_each(self, fn: Callable[..., Any], **kwargs: Any) -> list[Any]: ...


def fit_distributed(
    model: DefectClassifier,
    X: ClusterRows,
    y: Any,
    *,
    init_model: DefectClassifier | None = None,
) -> DefectClassifier:
    """:meth:`DefectClassifier.fit <defectops.models.classifier.DefectClassifier.fit>` on the
    cluster.

    The local procedure, chosen by the same rule. Fewer than ``CROSS_FIT_MAX_ROWS`` rows (or a
    chunk that cannot hold a slice apart): the rows are gathered on the worker that holds most
    of them and the local fit runs there (cross-fitting, refit on all rows), so the model is the
    local engine's, bit for bit. XGBoost's distributed quantile sketch would change the trees of
    a chunk of a few thousand rows visibly; on hundreds of thousands it does not matter.
    Larger chunks: stratified validation slice, features fitted on the rest (or the
    predecessor's with new categories learned, for warm start), XGBoost with early stopping on
    the slice on every worker holding rows (continuing ``init_model``'s booster), Platt
    scaling and the threshold on the slice. Their models depend slightly on how the rows are
    spread over the workers. Returns ``model``, fitted.
    """
    if model.model != "gbm":
        raise UserError(f"the dask engine trains gbm only, not {model.model!r}")
    target = binary_target(y, len(X))
    # the local procedure's rule, read from its module when fitting: one rule for both engines
    if model.validation_fraction == 0 or len(target) < fitting.CROSS_FIT_MAX_ROWS:
        return _fit_on_one_worker(model, X, target, init_model)
    fallbacks: list[str] = []
    init = model._usable_init(init_model, fallbacks)
    fit_rows, val_rows = validation_split(
        target, model.validation_fraction, model.random_state, fallbacks=[]
    )
    if np.bincount(target, minlength=2).min() == 0 or val_rows is None:
        return _fit_on_one_worker(model, X, target, init_model)

    in_validation = np.zeros(len(target), dtype=bool)
    in_validation[val_rows] = True
    X_fit, X_val = X.take(~in_validation), X.take(in_validation)
    y_fit, y_val = target[fit_rows], target[val_rows]
    features = _fitted_features(model, X_fit, init)
    model.classes_ = np.array([0, 1])
    model.n_train_rows_ = len(target)
    model.features_ = features
    booster, raw = _boost(model, (X_fit, y_fit), (X_val, y_val), init)
    rounds = model._rounds(booster, init)
    model.fit_record_ = FitRecord("validation slice", len(fit_rows), 0, [], rounds)
    return model._calibrate(booster, y_val, raw, fallbacks)


def _fitted_features(
    model: DefectClassifier, X_fit: ClusterRows, init: DefectClassifier | None
) -> FeatureBuilder:
    """New features fitted from the partitions' merged summaries, or for warm start the
    predecessor's with the new categories learned."""
    if init is not None:
        features = copy.deepcopy(init.features_)
        features.learn_new_buckets(_union_buckets(X_fit.gather_each(_buckets, features=features)))
        return features
    features = model._new_features("codes")
    moments = X_fit.gather_each(_moments, features=features)
    buckets = X_fit.gather_each(_buckets, features=features)
    features.fit_from_parts(functools.reduce(_merge_moments, moments), _union_buckets(buckets))
    return features


def _boost(
    model: DefectClassifier,
    fit: tuple[ClusterRows, np.ndarray],
    val: tuple[ClusterRows, np.ndarray],
    init: DefectClassifier | None,
) -> tuple[Any, np.ndarray]:
    """XGBoost's Dask estimator on every worker holding training rows, stopped early on the
    validation slice: the booster (up to its best round) and the slice's margins."""
    import xgboost
    from xgboost import dask as dxgb

    (X_fit, y_fit), (X_val, y_val) = fit, val
    client = X_fit.client
    Z_fit, fit_blocks = _feature_array(X_fit, model.features_)
    Z_val, _ = _feature_array(X_val, model.features_)
    options = model._gbm_options(y_fit, early_stopping=True, warm=init is not None)
    options["n_jobs"] = None  # each worker uses the threads it has
    classifier = dxgb.DaskXGBClassifier(**options)
    classifier.client = client
    with xgboost.config_context(verbosity=0):  # passed on to the workers: no per-round chatter
        classifier.fit(
            Z_fit,
            _label_array(client, y_fit, X_fit.lengths),
            eval_set=[(Z_val, _label_array(client, y_val, X_val.lengths))],
            xgb_model=init.estimator_.booster if init is not None else None,
            verbose=False,
        )
    holders = client.who_has(fit_blocks)
    #: how many workers boosted (held training rows): lineage, and what the tests check
    model.fit_workers_ = len({w for block in fit_blocks for w in holders.get(block.key, ())})
    booster = classifier.get_booster()[: classifier.best_iteration + 1]
    booster.set_param({"nthread": 1})
    margins = dxgb.inplace_predict(client, booster, Z_val, predict_type="margin")
    raw = np.asarray(client.compute(margins, sync=True), dtype=np.float64)
    return booster, raw


def _fit_on_one_worker(
    model: DefectClassifier,
    X: ClusterRows,
    target: np.ndarray,
    init_model: DefectClassifier | None,
) -> DefectClassifier:
    """The local fit of all of ``X``'s rows, run on the worker that holds most of them."""
    future = X.client.submit(
        _fit_rows, model, list(X.parts), target, init_model, workers=_one_worker(X) or None,
        pure=False,
    )  # fmt: skip
    fitted = future.result()
    model.__dict__.update(fitted.__dict__)  # fit() fills the estimator it was called on
    model.fit_workers_ = 1
    return model


def _fit_rows(
    model: DefectClassifier,
    parts: list[Any],
    target: np.ndarray,
    init_model: DefectClassifier | None,
) -> DefectClassifier:
    rows = pd.concat([rows_of(part) for part in parts], ignore_index=True)
    return type(model).fit(model, rows, target, init_model=init_model)


def decision_scores(model: DefectClassifier, X: ClusterRows) -> np.ndarray:
    """The model's defect probability of every row, computed where the rows are, in order."""
    if not len(X):
        return np.empty(0, dtype=np.float64)
    model_ref = X.client.scatter(model, broadcast=True, hash=False)
    scores = X.gather_each(_scores, model=model_ref)
    return np.concatenate(scores).astype(np.float64, copy=False)


def _merge_moments(a: NumericMoments, b: NumericMoments) -> NumericMoments:
    return a.merge(b)


def _union_buckets(parts: list[list[np.ndarray]]) -> list[np.ndarray]:
    if not parts:
        return []
    return [np.unique(np.concatenate(column)) for column in zip(*parts, strict=True)]


def _feature_array(frame: ClusterRows, features: FeatureBuilder) -> tuple[Any, list[Future]]:
    """The model matrix of every partition, as one dask array with known chunk sizes.

    Staged partitions are dealt out to every worker by rows (so each boosts on a like share);
    partitions in memory stay where they are. Returns the array and its blocks' futures.
    """
    import dask.array as da

    client = frame.client
    features_ref = client.scatter(features, broadcast=True, hash=False)
    futures = [
        client.submit(apply, part, _transform, features=features_ref, workers=w, pure=False)
        for part, w in zip(frame.parts, _placement(frame), strict=True)
    ]
    width = features.n_features_out_
    blocks = [
        da.from_delayed(future, shape=(n, width), dtype=np.float32)
        for future, n in zip(futures, frame.lengths, strict=True)
    ]
    return da.concatenate(blocks, axis=0), list(futures)


def _placement(frame: ClusterRows) -> list[list[str] | None]:
    """Per partition, the workers a task on it may run on (see ``_feature_array``)."""
    everyone = sorted(frame.client.scheduler_info()["workers"])
    rows = dict.fromkeys(everyone, 0)
    out: list[list[str] | None] = []
    for part, n in zip(frame.parts, frame.lengths, strict=True):
        if not isinstance(part, StagedPart) or not everyone:
            out.append(None)
            continue
        worker = min(everyone, key=lambda w: (rows[w], w))
        rows[worker] += n
        out.append([worker])
    return out


def _label_array(client: Client, y: np.ndarray, lengths: Sequence[int]) -> Any:
    """``y`` cut like the feature blocks."""
    import dask.array as da

    bounds = np.cumsum([0, *lengths])
    pieces = [y[a:b] for a, b in itertools.pairwise(bounds)]
    futures = client.scatter(pieces, hash=False)
    return da.concatenate(
        [
            da.from_delayed(f, shape=(len(p),), dtype=y.dtype)
            for f, p in zip(futures, pieces, strict=True)
        ]
    )


def _one_worker(frame: ClusterRows) -> list[str]:
    """The worker that holds most of ``frame``'s rows in memory (the fewest rows move to it);
    for staged rows, which every worker reads alike, the first worker by address."""
    from distributed import Future

    in_memory = [p for p in frame.parts if isinstance(p, Future)]
    if not in_memory:
        return sorted(frame.client.scheduler_info()["workers"])[:1]
    holders = frame.client.who_has(in_memory)
    rows: dict[str, int] = {}
    for part, n in zip(frame.parts, frame.lengths, strict=True):
        if not isinstance(part, Future):
            continue
        for worker in holders.get(part.key, ()):
            rows[worker] = rows.get(worker, 0) + n
    if not rows:
        return []
    return [min(rows, key=lambda w: (-rows[w], w))]


# -- functions run on the workers, one partition at a time ----------------------------------------


def _moments(part: pd.DataFrame, features: FeatureBuilder) -> NumericMoments:
    return features.numeric_moments(part)


def _buckets(part: pd.DataFrame, features: FeatureBuilder) -> list[np.ndarray]:
    return features.buckets_seen(part)


def _transform(part: pd.DataFrame, features: FeatureBuilder) -> np.ndarray:
    return np.asarray(features.transform(part), dtype=np.float32)


def _scores(part: pd.DataFrame, model: DefectClassifier) -> np.ndarray:
    return model.decision_scores(part)
