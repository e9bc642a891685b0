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

Everything is computed from counts at the reference's fixed edges (:func:`summarise`), which
merge exactly by addition; :func:`compare_counts` turns them into the report. One frame is one
summary; the dask engine summarises each partition where it lives and merges the summaries
(:mod:`defectops.engines.dask.batch`), so both engines give the same report. The batch median is
read off the same counts (exact to within one reference percentile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from defectops.core.config import MonitorSettings
from defectops.data.schema import DataSchema, category_text
from defectops.monitoring.profile import (
    PERCENTILES,
    numeric_bin_index,
    psi,
)

STATUSES = ("ok", "warn", "drift")
#: categorical columns whose training data was at least this new are rotating identifiers
ROTATING = 0.5
#: allowance multiplier of a profile with one allowance (made before per-size allowances)
HEADROOM = 1.25
#: the least spread assumed of a column's log PSI between windows (a few windows can show less)
MIN_LOG_SD = 0.3
#: unseen values named in a report, per column (the most frequent, ties in text order)
UNSEEN_SHOWN = 10


def level(value: float, warn: float, drift: float) -> str:
    if not math.isfinite(value) or value < warn:
        return "ok"
    return "warn" if value < drift else "drift"


def worst(statuses: list[str]) -> str:
    return max(statuses, key=STATUSES.index, default="ok")


# -- summarising rows into counts -----------------------------------------------------------------


@dataclass
class NumericCounts:
    """One numeric column of a batch, as counts at the reference's fixed edges.

    ``bins``: values per reference bin, the last one missing (for PSI); ``below``: present values
    per interval between consecutive reference percentiles, ``(-inf, p0], (p0, p1], ...,
    (p100, inf)`` (for KS and the median); ``low``/``high``: the smallest and largest present
    value. Counts of two parts of a batch add up to the counts of the whole batch.
    """

    bins: np.ndarray
    below: np.ndarray
    low: float = math.inf
    high: float = -math.inf

    @property
    def present(self) -> int:
        return int(self.below.sum())

    @property
    def rows(self) -> int:
        return int(self.bins.sum())

    def merge(self, other: NumericCounts) -> NumericCounts:
        return NumericCounts(
            self.bins + other.bins,
            self.below + other.below,
            min(self.low, other.low),
            max(self.high, other.high),
        )


@dataclass
class CategoryCounts:
    """One categorical column: values per reference bin (top values, other, missing), present
    values, and each value the training data never had with its count (``None``: no known
    values to compare with)."""

    bins: np.ndarray
    present: int
    unseen: dict[str, int] | None

    def merge(self, other: CategoryCounts) -> CategoryCounts:
        unseen = None
        if self.unseen is not None and other.unseen is not None:
            unseen = dict(self.unseen)
            for value, count in other.unseen.items():
                unseen[value] = unseen.get(value, 0) + count
        return CategoryCounts(self.bins + other.bins, self.present + other.present, unseen)


@dataclass
class BatchCounts:
    """Everything the drift comparison needs of a batch: counts per column and of the scores.

    Made from rows by :func:`summarise`; two parts of a batch merge exactly (by addition), so a
    batch spread over a cluster is summarised where its partitions are and merged on the client.
    """

    rows: int
    numeric: dict[str, NumericCounts]
    categorical: dict[str, CategoryCounts]
    scores: NumericCounts

    def merge(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(
            self.rows + other.rows,
            {c: n.merge(other.numeric[c]) for c, n in self.numeric.items()},
            {c: n.merge(other.categorical[c]) for c, n in self.categorical.items()},
            self.scores.merge(other.scores),
        )


def numeric_counts(ref: dict[str, Any], values: np.ndarray) -> NumericCounts:
    """Counts of ``values`` at the reference column's bin edges and percentiles."""
    edges = np.asarray(ref["edges"], dtype=np.float64)
    points = np.asarray(ref["percentiles"], dtype=np.float64)
    bins = np.bincount(numeric_bin_index(values, edges), minlength=len(ref["counts"]))
    present = values[np.isfinite(values)]
    below = np.bincount(np.searchsorted(points, present, side="left"), minlength=points.size + 1)
    if not present.size:
        return NumericCounts(bins, below)
    return NumericCounts(bins, below, float(present.min()), float(present.max()))


def category_counts(
    ref: dict[str, Any], values: pd.Series, known: set[str] | None
) -> CategoryCounts:
    """Counts of ``values`` over the reference's top values, and the unseen ones by value.

    Counted per distinct value (one pass over the rows), as text the way the profile counted it.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    per_value = np.bincount(codes[codes >= 0], minlength=len(uniques))
    listed = {v: i for i, v in enumerate(ref["values"])}
    other, missing = len(ref["values"]), len(ref["values"]) + 1
    bins = np.zeros(len(ref["counts"]), dtype=np.int64)
    bins[missing] = int((codes < 0).sum())
    unseen: dict[str, int] = {}
    for value, n in zip(uniques, per_value.tolist(), strict=True):
        text = category_text(value)
        bins[missing if text is None else listed.get(text, other)] += n
        if known is not None and text is not None and text not in known:
            unseen[text] = unseen.get(text, 0) + n
    present = int(len(codes) - bins[missing])
    return CategoryCounts(bins, present, unseen if known is not None else None)


def summarise(
    profile: dict[str, Any],
    known_categories: dict[str, list[str]],
    frame: pd.DataFrame,
    schema: DataSchema,
    scores: np.ndarray,
) -> BatchCounts:
    """The counts of rows ``frame`` and their ``scores`` against the profile's fixed edges."""
    numeric = {
        col: numeric_counts(
            profile["numeric"][col],
            pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64),
        )
        for col in schema.numeric
    }
    categorical = {
        col: category_counts(
            profile["categorical"][col],
            frame[col],
            set(known_categories[col]) if col in known_categories else None,
        )
        for col in schema.categorical
    }
    score_counts = numeric_counts(profile["scores"], np.asarray(scores, dtype=np.float64))
    return BatchCounts(len(frame), numeric, categorical, score_counts)


# -- comparing counts with the profile ------------------------------------------------------------


def allowance_for(ref: dict[str, Any], rows: int, z: float) -> float:
    """The PSI that a batch of ``rows`` rows of this column exceeds with nothing wrong only with
    probability ``1 - Phi(z)``: a log-normal quantile of the PSI of training windows of that
    size (their log mean and sd interpolated linearly in log size between the sizes measured,
    the smallest size's scaled up as ``1 / rows`` below it, the largest size's above it), and
    never below the largest PSI a training window of that size showed, and never above the
    largest PSI a batch can have (all of it in one bin): a column that clustered can put a
    batch anywhere is never alarmed on by PSI. A profile of one size (``allowance`` only)
    gives that, with ``HEADROOM``.
    """
    table = ref.get("allowances")
    if not table:
        return HEADROOM * float(ref.get("allowance", 0.0))
    sizes, means, sds, largest = (np.array(c, dtype=np.float64) for c in zip(*table, strict=True))
    rows = max(int(rows), 1)
    at = np.log(min(max(rows, sizes[0]), sizes[-1]))
    logs = np.log(sizes)
    mean, sd = np.interp(at, logs, means), max(np.interp(at, logs, sds), MIN_LOG_SD)
    value = max(math.exp(mean + z * sd), float(np.interp(at, logs, largest)))
    return min(value * max(1.0, sizes[0] / rows), ceiling(ref))


def ceiling(ref: dict[str, Any]) -> float:
    """The largest PSI a batch of values the training data had can show: all of it in the
    one bin that makes it largest (a bin the training data never filled, new values or
    missing ones, can still go beyond)."""
    counts = np.asarray(ref["counts"], dtype=np.float64)
    filled = np.flatnonzero(counts > 0)
    if not filled.size:
        return math.inf
    return float(psi(counts, np.eye(len(counts))[filled]).max())


def alarm_z(settings: MonitorSettings, columns: int) -> float:
    """The normal quantile that keeps a batch's chance of a false DRIFT on any of ``columns``
    columns near ``settings.false_alarm_rate`` (Bonferroni)."""
    return float(stats.norm.isf(settings.false_alarm_rate / max(columns, 1)))


def _psi_fields(
    ref: dict[str, Any], counts: np.ndarray, settings: MonitorSettings, z: float | None
) -> dict:
    value = float(psi(np.asarray(ref["counts"]), counts))
    allowed = allowance_for(ref, int(np.sum(counts)), alarm_z(settings, 1) if z is None else z)
    return {
        "psi": value,
        "bins": bin_labels(ref),
        "counts": counts.tolist(),
        "reference_counts": np.asarray(ref["counts"]).tolist(),
        "allowance": allowed,
        "excess": max(0.0, value - allowed),
        "margin": allowed + settings.psi_drift - value,
        "status": level(value - allowed, settings.psi_warn, settings.psi_drift),
    }


def bin_labels(ref: dict[str, Any]) -> list[str]:
    """What each count of a column counts, so a report (and its picture) reads on its own:
    ``≤edge`` intervals and ``>last`` for a number, the known values and ``other`` for a
    category; ``missing`` last for both."""
    if "values" in ref:  # categorical
        return [*map(str, ref["values"]), "other", "missing"]
    edges = ref["edges"]
    above = [f">{edges[-1]:.3g}"] if edges else ["all"]
    return [*(f"≤{e:.3g}" for e in edges), *above, "missing"]


def numeric_drift(
    ref: dict[str, Any], values: np.ndarray, settings: MonitorSettings
) -> dict[str, Any]:
    """PSI over the reference's bins (and missing) and KS at its percentiles."""
    return numeric_drift_of(ref, numeric_counts(ref, values), settings)


def numeric_drift_of(
    ref: dict[str, Any], counts: NumericCounts, settings: MonitorSettings, z: float | None = None
) -> dict[str, Any]:
    """:func:`numeric_drift` of a column's counts (``z``: see :func:`alarm_z`; one column's
    when not given)."""
    ks, p_value = _ks(ref, counts)
    ref_rows = sum(ref["counts"])
    rows = counts.rows
    return {
        "kind": "numeric",
        **_psi_fields(ref, counts.bins, settings, z),
        "ks": ks,
        "ks_p_value": p_value,
        "missing_rate": float(1 - counts.present / rows) if rows else 0.0,
        "reference_missing_rate": ref["counts"][-1] / ref_rows if ref_rows else 0.0,
        "reference_median": ref["percentiles"][50] if ref["percentiles"] else None,
        "current_median": _median(ref, counts),
    }


def _ks(ref: dict[str, Any], counts: NumericCounts) -> tuple[float | None, float | None]:
    n = counts.present
    if not ref["percentiles"] or not n:
        return None, None
    # share of values <= each point: the counts per interval between the points, accumulated
    current = np.cumsum(counts.below)[:-1] / n
    statistic = float(np.max(np.abs(current - PERCENTILES / 100)))
    n_ref = sum(ref["counts"][:-1])
    effective = n_ref * n / (n_ref + n)
    return statistic, float(stats.kstwobign.sf(statistic * math.sqrt(effective)))


def _median(ref: dict[str, Any], counts: NumericCounts) -> float | None:
    """The batch's median, interpolated within the reference percentile interval holding it.

    Counts merge where values do not, so the median is read off them: exact to within one
    percentile interval of the reference (the batch's own minimum and maximum bound the two
    open ends).
    """
    n = counts.present
    if not n:
        return None
    edges = np.concatenate([[counts.low], np.asarray(ref["percentiles"]), [counts.high]])
    edges = np.clip(edges, counts.low, counts.high)
    cumulative = np.cumsum(counts.below)
    k = int(np.searchsorted(cumulative, n / 2, side="left"))
    inside = counts.below[k]
    share = (n / 2 - (cumulative[k] - inside)) / inside
    return float(edges[k] + share * (edges[k + 1] - edges[k]))


def categorical_drift(
    ref: dict[str, Any], values: pd.Series, known: set[str] | None, settings: MonitorSettings
) -> dict[str, Any]:
    """PSI over the top values, other and missing; unseen rate against the training novelty."""
    return categorical_drift_of(ref, category_counts(ref, values, known), settings)


def categorical_drift_of(
    ref: dict[str, Any], counts: CategoryCounts, settings: MonitorSettings, z: float | None = None
) -> dict[str, Any]:
    """:func:`categorical_drift` of a column's counts."""
    fields = _psi_fields(ref, counts.bins, settings, z)
    unseen_rate, unseen_values = 0.0, []
    if counts.unseen is not None and counts.present:
        unseen_rate = sum(counts.unseen.values()) / counts.present
        ranked = sorted(counts.unseen.items(), key=lambda item: (-item[1], item[0]))
        unseen_values = [value for value, _ in ranked[:UNSEEN_SHOWN]]
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
    counts = summarise(profile, known_categories, frame, schema, scores)
    return compare_counts(profile, counts, settings)


def compare_counts(
    profile: dict[str, Any], counts: BatchCounts, settings: MonitorSettings
) -> dict[str, Any]:
    """:func:`compare` of a batch's counts (one frame's, or merged from its partitions)."""
    watched = [c for c in counts.numeric if informative(profile["numeric"][c])] + [
        c for c in counts.categorical if informative(profile["categorical"][c])
    ]
    z = alarm_z(settings, len(watched) + 1)  # the scores are watched too
    features: list[dict[str, Any]] = []
    for col, numeric in counts.numeric.items():
        drift = numeric_drift_of(profile["numeric"][col], numeric, settings, z)
        features.append({"feature": col, **drift})
    for col, category in counts.categorical.items():
        drift = categorical_drift_of(profile["categorical"][col], category, settings, z)
        features.append({"feature": col, **drift})
    for feature in features:
        if feature["feature"] not in watched:  # no model can have learned from it
            feature["status"] = "ok"
            feature["constant_in_training"] = True
    features.sort(key=_severity, reverse=True)
    score = numeric_drift_of(profile["scores"], counts.scores, settings, z)
    status = worst([f["status"] for f in features] + [score["status"]])
    return {"status": status, "rows": counts.rows, "features": features, "scores": score}


def informative(ref: dict[str, Any]) -> bool:
    """Whether the training data held more than one value of the column: a column that was
    constant (or missing) in every training row taught the model nothing, so its change cannot
    move a score; it is reported, never alarmed on. Rotating identifiers neither."""
    if "values" in ref:  # categorical
        return ref.get("distinct", 0) > 1 and ref["novelty_rate"] < ROTATING
    points = ref.get("percentiles") or []
    return len(points) > 1 and points[0] < points[-1]


def _severity(feature: dict[str, Any]) -> tuple[int, float, float]:
    if feature.get("constant_in_training"):
        return 0, 0.0, 0.0
    if feature["kind"] == "categorical" and feature["rotating_identifier"]:
        return 0, 0.0, 0.0  # never ranked above a column that can drift
    measure = feature["excess"]
    if feature["kind"] == "categorical":
        measure = max(measure, feature["unseen_rate"] - feature["expected_unseen_rate"])
    return STATUSES.index(feature["status"]), measure, feature["psi"]
