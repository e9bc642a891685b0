"""``POST /predict``, ``POST /predict/batch``, ``POST /explain``: the champion scores records.

A scored row is counted by label, observed by the drift window and, when the request log is on,
kept for it; the batch route takes a columns body on a fast path that skips pydantic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

from defectops.serving.bodies import is_columns, json_response, read_body, validate
from defectops.serving.columns import columns_of_batch
from defectops.serving.deps import current_model, service_of
from defectops.serving.errors import ERROR_RESPONSES, ApiError, errors
from defectops.serving.explain import ExplainUnavailable, contributions
from defectops.serving.model_holder import LoadedModel
from defectops.serving.schemas import BatchPrediction, Explanation, Prediction

router = APIRouter()


def _split(loaded: LoadedModel, frame: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """A batch frame of the record path as (numeric matrix, one array per categorical)."""
    values = frame.to_numpy()
    n = len(loaded.numeric)
    return values[:, :n].astype(np.float64), list(values[:, n:].T)


@router.post("/predict", response_model=Prediction, responses=ERROR_RESPONSES)
async def predict(request: Request) -> Response:
    """Score one record (fields named exactly like the training columns)."""
    service = service_of(request)
    loaded = current_model(service)
    body = await read_body(request, service.limits)
    record = validate(loaded.record, body, service.limits.max_batch)
    values = loaded.values(record)
    p = float(loaded.score(loaded.frame([values]))[0])
    label = int(p >= loaded.threshold)
    service.label_counters[label].inc()
    service.live.scored(1, label)
    service.monitor.observe_one(loaded, values, p)
    if service.sink is not None:
        service.sink.add_one(loaded, values, p, label, "/predict")
    return json_response(
        {
            "defect_probability": p,
            "defect_pred": label,
            "threshold": loaded.threshold,
            "model_version": loaded.version,
        }
    )


@router.post("/predict/batch", response_model=BatchPrediction, responses=ERROR_RESPONSES)
async def predict_batch(request: Request) -> Response:
    """Score up to ``max_batch`` records at once (one feature pass, one model call).

    Scored on the event loop, not in a thread: most of the work holds the GIL anyway, and
    handing it between threads cost more CPU than it saved. Concurrency comes from
    ``--workers``.
    """
    service = service_of(request)
    loaded = current_model(service)
    body = await read_body(request, service.limits)
    max_batch = service.limits.max_batch
    columns = columns_of_batch(body, loaded.rules)
    if columns is not None:
        scores = loaded.champion.model.decision_scores_columns(*columns)
    else:
        if is_columns(body):  # not plainly valid: the pydantic model names the problem
            table = validate(loaded.batch_columns, body, max_batch).columns
            frame = loaded.frame(list(zip(*loaded.values(table), strict=True)))
        else:
            batch = validate(loaded.batch, body, max_batch)
            frame = loaded.frame([loaded.values(r) for r in batch.records])
        scores = loaded.score(frame)
        columns = _split(loaded, frame)
    labels = (scores >= loaded.threshold).astype(int)
    positives = int(labels.sum())
    service.label_counters[1].inc(positives)
    service.label_counters[0].inc(len(labels) - positives)
    service.live.scored(len(labels), positives)
    service.monitor.observe_many(loaded, *columns, scores)
    if service.sink is not None:
        service.sink.add_many(loaded, *columns, scores, labels, "/predict/batch")
    return json_response(
        {
            "predictions": [
                {"defect_probability": p, "defect_pred": y}
                for p, y in zip(scores.tolist(), labels.tolist(), strict=True)
            ],
            "threshold": loaded.threshold,
            "model_version": loaded.version,
        }
    )


@router.post("/explain", response_model=Explanation, responses={**ERROR_RESPONSES, **errors(400)})
async def explain(request: Request, top: int = Query(10, ge=1, le=1000)) -> Response:
    """The features that moved this record's score most (gbm: exact tree SHAP, margin units)."""
    service = service_of(request)
    loaded = current_model(service)
    body = await read_body(request, service.limits)
    record = validate(loaded.record, body, service.limits.max_batch)
    frame = loaded.frame([loaded.values(record)])
    try:
        detail = contributions(loaded.champion.model, frame, top)
    except ExplainUnavailable as exc:
        raise ApiError(400, "explain_not_available", str(exc)) from None
    p = float(loaded.score(frame)[0])
    return json_response(
        jsonable_encoder(
            {
                "defect_probability": p,
                "defect_pred": int(p >= loaded.threshold),
                "threshold": loaded.threshold,
                "model_version": loaded.version,
                **detail,
            }
        )
    )
