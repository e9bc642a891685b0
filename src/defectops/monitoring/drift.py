"""Compare a batch with a model's profile: PSI and KS per column, unseen values, score drift.

Status per column comes from PSI (``< warn`` ok, ``< drift`` warn, else drift; 0.1 and 0.25 by
default, the usual reading) and, for categoricals, from the unseen-value rate *beyond what the
training data itself showed* (its novelty rate): a rotating identifier such as a supplier batch
is always new, a country that never changed before is not. For identifiers that mostly rotate
(novelty at least ``ROTATING``) PSI over their top values says nothing and is not computed.

The KS statistic is measured at the reference's 101 percentiles (exact there, so within one
percentile of the full two-sample statistic); its p-value uses the asymptotic Kolmogorov
distribution with the two sample sizes. It is reported, not used for the status: on thousands of
rows every tiny shift is "significant", while PSI measures how much the shape moved.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from defectops.config import MonitorSettings
from defectops.data.schema import DataSchema, category_strings
from defectops.monitoring.profile import PERCENTILES, bin_counts

STATUSES = ("ok", "warn", "drift")
#: categorical columns whose training data was at least this new are rotating identifiers
ROTATING = 0.5
#: share floor in PSI, so an empty bin on one side gives a large but finite term
_EPSILON = 1e-4


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins.

    >>> round(psi(np.array([50, 50]), np.array([50, 50])), 6)
    0.0
    >>> round(psi(np.array([50, 50]), np.array([90, 10])), 3)
    0.879
    """
    if reference.sum() == 0 or current.sum() == 0:
        return 0.0
    ref = np.maximum(reference / reference.sum(), _EPSILON)
    cur = np.maximum(current / current.sum(), _EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def level(value: float | None, warn: float, drift: float) -> str:
    if value is None or not math.isfinite(value) or value < warn:
        return "ok"
    return "warn" if value < drift else "drift"


def worst(statuses: list[str]) -> str:
    return max(statuses, key=STATUSES.index, default="ok")


def numeric_drift(
    ref: dict[str, Any], values: np.ndarray, settings: MonitorSettings
) -> dict[str, Any]:
    """PSI over the reference's bins (plus a missing bin) and KS at its percentiles."""
    present = values[np.isfinite(values)]
    edges = np.asarray(ref["edges"], dtype=np.float64)
    ref_counts = np.append(np.asarray(ref["counts"], dtype=np.float64), ref["missing"])
    cur_counts = np.append(bin_counts(present, edges), values.size - present.size)
    value = psi(ref_counts, cur_counts) if ref["counts"] else 0.0
    ks, p_value = _ks(ref, present)
    return {
        "kind": "numeric",
        "psi": value,
        "ks": ks,
        "ks_p_value": p_value,
        "missing_rate": float((values.size - present.size) / values.size) if values.size else 0.0,
        "reference_missing_rate": ref["missing"] / max(1, sum(ref["counts"]) + ref["missing"]),
        "mean": float(present.mean()) if present.size else None,
        "reference_median": ref["percentiles"][50] if ref["percentiles"] else None,
        "current_median": float(np.median(present)) if present.size else None,
        "status": level(value, settings.psi_warn, settings.psi_drift),
    }


def _ks(ref: dict[str, Any], present: np.ndarray) -> tuple[float | None, float | None]:
    points = np.asarray(ref["percentiles"], dtype=np.float64)
    if not points.size or not present.size:
        return None, None
    current = np.searchsorted(np.sort(present), points, side="right") / present.size
    statistic = float(np.max(np.abs(current - PERCENTILES / 100)))
    n_ref = sum(ref["counts"])
    effective = n_ref * present.size / (n_ref + present.size)
    return statistic, float(stats.kstwobign.sf(statistic * math.sqrt(effective)))


def categorical_drift(
    ref: dict[str, Any], values: pd.Series, known: set[str] | None, settings: MonitorSettings
) -> dict[str, Any]:
    """PSI over the top values, other and missing; unseen rate against the training novelty."""
    text = category_strings(values)
    present = text.dropna()
    counts = present.value_counts()
    listed = counts.reindex(ref["values"], fill_value=0).to_numpy(dtype=np.float64)
    other = float(len(present) - listed.sum())
    cur_counts = np.append(listed, [other, len(text) - len(present)])
    ref_counts = np.asarray([*ref["counts"], ref["other"], ref["missing"]], dtype=np.float64)
    rotating = ref["novelty_rate"] >= ROTATING
    value = None if rotating else psi(ref_counts, cur_counts)
    unseen_rate, unseen_values = 0.0, []
    if known is not None and len(present):
        unseen = ~present.isin(known)
        unseen_rate = float(unseen.mean())
        unseen_values = present[unseen].value_counts().index[:10].tolist()
    excess = max(0.0, unseen_rate - ref["novelty_rate"])
    status = worst(
        [
            level(value, settings.psi_warn, settings.psi_drift),
            level(excess, settings.unseen_warn, settings.unseen_drift),
        ]
    )
    return {
        "kind": "categorical",
        "psi": value,
        "unseen_rate": unseen_rate,
        "expected_unseen_rate": ref["novelty_rate"],
        "unseen_values": unseen_values,
        "rotating_identifier": rotating,
        "status": status,
    }


def compare(
    profile: dict[str, Any],
    known_categories: dict[str, list[str]],
    frame: pd.DataFrame,
    schema: DataSchema,
    scores: np.ndarray,
    settings: MonitorSettings,
) -> dict[str, Any]:
    """Drift of every feature and of the scores, ranked worst first, and the overall status."""
    features: list[dict[str, Any]] = []
    for col in schema.numeric:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
        features.append(
            {"feature": col, **numeric_drift(profile["numeric"][col], values, settings)}
        )
    for col in schema.categorical:
        known = set(known_categories[col]) if col in known_categories else None
        drift = categorical_drift(profile["categorical"][col], frame[col], known, settings)
        features.append({"feature": col, **drift})
    features.sort(key=_severity, reverse=True)
    score = numeric_drift(profile["scores"], np.asarray(scores, dtype=np.float64), settings)
    status = worst([f["status"] for f in features] + [score["status"]])
    return {"status": status, "rows": len(frame), "features": features, "scores": score}


def _severity(feature: dict[str, Any]) -> tuple[int, float]:
    measure = feature["psi"] if feature["psi"] is not None else 0.0
    if feature["kind"] == "categorical":
        measure = max(measure, feature["unseen_rate"] - feature["expected_unseen_rate"])
    return STATUSES.index(feature["status"]), measure
