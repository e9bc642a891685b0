"""Compare a batch with a model's profile: PSI and KS per column, unseen values, score drift.

A column's status comes from its PSI *beyond its allowance* (the batch-to-batch movement the
training data itself showed, see :mod:`defectops.monitoring.profile`, plus ``HEADROOM``): below
``psi_warn`` ok, below ``psi_drift`` warn, else drift (0.1 and 0.25 by default, the usual
reading of PSI). A sensor that never moved more than 0.02 between training batches drifts at
0.27; a shift column that swings by 4 between day and night batches does not. ``HEADROOM``
is there because a new batch beats the largest of N earlier ones about 1 time in N+1.

Categoricals also count unseen values, beyond what the training data showed (its novelty
rate). Rotating identifiers (novelty of at least ``ROTATING``, e.g. supplier batches) are only
reported: every batch brings new ones, so a batch is "all other" against any reference and
neither PSI nor the unseen share can tell drift from the normal case.

The KS statistic is measured at the reference's 101 percentiles (exact there, so within one
percentile of the full two-sample statistic); its p-value uses the asymptotic Kolmogorov
distribution with the two sample sizes. It is reported, not used for the status: batches are
not random samples, so on thousands of rows every shift is "significant".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from defectops.config import MonitorSettings
from defectops.data.schema import DataSchema, category_strings
from defectops.monitoring.profile import (
    PERCENTILES,
    category_bin_index,
    numeric_bin_index,
    psi,
)

STATUSES = ("ok", "warn", "drift")
#: categorical columns whose training data was at least this new are rotating identifiers
ROTATING = 0.5
#: allowance multiplier: a new batch may move a little more than the most any training batch did
HEADROOM = 1.25


def level(value: float, warn: float, drift: float) -> str:
    if not math.isfinite(value) or value < warn:
        return "ok"
    return "warn" if value < drift else "drift"


def worst(statuses: list[str]) -> str:
    return max(statuses, key=STATUSES.index, default="ok")


def _psi_fields(ref: dict[str, Any], index: np.ndarray, settings: MonitorSettings) -> dict:
    counts = np.bincount(index, minlength=len(ref["counts"]))
    value = float(psi(np.asarray(ref["counts"]), counts))
    allowed = HEADROOM * float(ref["allowance"])
    return {
        "psi": value,
        "counts": counts.tolist(),
        "allowance": allowed,
        "excess": max(0.0, value - allowed),
        "status": level(value - allowed, settings.psi_warn, settings.psi_drift),
    }


def numeric_drift(
    ref: dict[str, Any], values: np.ndarray, settings: MonitorSettings
) -> dict[str, Any]:
    """PSI over the reference's bins (and missing) and KS at its percentiles."""
    index = numeric_bin_index(values, np.asarray(ref["edges"], dtype=np.float64))
    present = values[np.isfinite(values)]
    ks, p_value = _ks(ref, present)
    ref_rows = sum(ref["counts"])
    return {
        "kind": "numeric",
        **_psi_fields(ref, index, settings),
        "ks": ks,
        "ks_p_value": p_value,
        "missing_rate": float(1 - present.size / values.size) if values.size else 0.0,
        "reference_missing_rate": ref["counts"][-1] / ref_rows if ref_rows else 0.0,
        "reference_median": ref["percentiles"][50] if ref["percentiles"] else None,
        "current_median": float(np.median(present)) if present.size else None,
    }


def _ks(ref: dict[str, Any], present: np.ndarray) -> tuple[float | None, float | None]:
    points = np.asarray(ref["percentiles"], dtype=np.float64)
    if not points.size or not present.size:
        return None, None
    # share of values <= each point, without sorting the batch: bin by the points, accumulate
    below = np.searchsorted(points, present, side="left")
    current = np.cumsum(np.bincount(below, minlength=points.size + 1))[:-1] / present.size
    statistic = float(np.max(np.abs(current - PERCENTILES / 100)))
    n_ref = sum(ref["counts"][:-1])
    effective = n_ref * present.size / (n_ref + present.size)
    return statistic, float(stats.kstwobign.sf(statistic * math.sqrt(effective)))


def categorical_drift(
    ref: dict[str, Any], values: pd.Series, known: set[str] | None, settings: MonitorSettings
) -> dict[str, Any]:
    """PSI over the top values, other and missing; unseen rate against the training novelty."""
    text = category_strings(values)
    fields = _psi_fields(ref, category_bin_index(text, ref["values"]), settings)
    present = text.dropna()
    unseen_rate, unseen_values = 0.0, []
    if known is not None and len(present):
        unseen = ~present.isin(known)
        unseen_rate = float(unseen.mean())
        unseen_values = present[unseen].value_counts().index[:10].tolist()
    rotating = ref["novelty_rate"] >= ROTATING
    if rotating:  # every batch brings new ids: neither their share nor PSI says anything
        fields["status"] = "ok"
    else:
        excess = unseen_rate - ref["novelty_rate"]
        unseen_status = level(excess, settings.unseen_warn, settings.unseen_drift)
        fields["status"] = worst([fields["status"], unseen_status])
    return {
        "kind": "categorical",
        **fields,
        "unseen_rate": unseen_rate,
        "expected_unseen_rate": ref["novelty_rate"],
        "unseen_values": unseen_values,
        "rotating_identifier": rotating,
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


def _severity(feature: dict[str, Any]) -> tuple[int, float, float]:
    if feature["kind"] == "categorical" and feature["rotating_identifier"]:
        return 0, 0.0, 0.0  # never ranked above a column that can drift
    measure = feature["excess"]
    if feature["kind"] == "categorical":
        measure = max(measure, feature["unseen_rate"] - feature["expected_unseen_rate"])
    return STATUSES.index(feature["status"]), measure, feature["psi"]
