"""Validate a batch against the data contract: fatal problems stop, bad rows are quarantined.

Three levels, so that one bad sensor reading never stops a plant's run and a wrong file never
trains a model:

* fatal (:class:`~defectops.core.errors.UserError`, nothing written): missing target column, not two
  target classes, no feature columns, a configured column the data lacks;
* row-level (rows go to quarantine with a reason, the run goes on): missing target, a number that
  does not parse, an infinite value, an order value that does not parse;
* warnings in the report: null rates, constant columns, duplicate rows, values outside the
  reference range, unseen categories, class balance.

Rows in = rows kept + rows quarantined, always.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from defectops.core import atomic
from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.guards import drop_hint
from defectops.data.io import read_as, write_table
from defectops.data.markers import marker_counts, to_numbers
from defectops.data.schema import (
    DataSchema,
    category_strings,
    check_columns,
    check_scalar_columns,
    encode_target,
    infer_schema,
    unknown_labels,
)
from defectops.data.timestamps import infer_format
from defectops.data.timestamps import parse as parse_timestamps

REASON_COLUMN = "quarantine_reason"
#: the reason of a row whose label is of neither class (see :func:`refuse_unknown_labels`)
UNKNOWN_LABEL = "unknown_label"
#: a timestamp column of a schema from before formats were recorded: read as ISO 8601
_NO_FORMAT = "ISO8601"
ROW_COLUMN = "source_row"
#: a column with a larger share of missing values is reported
NULL_RATE_WARN = 0.2
#: a minority class below this share is reported
MINORITY_WARN = 0.05
_TOP = 10
#: unseen categories named in the report, per column
_EXAMPLES = 3


@dataclass
class ValidationResult:
    """The clean rows (typed, ordered, target as 0/1), the quarantined ones and the report."""

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    schema: DataSchema
    report: dict[str, Any]

    @property
    def y(self) -> np.ndarray:
        return self.frame[self.schema.target].to_numpy(dtype=np.int8)


def validate(
    raw: pd.DataFrame,
    settings: Settings,
    *,
    schema: DataSchema | None = None,
    reference: dict[str, Any] | None = None,
    source: str = "",
    labels: Literal["required", "optional"] = "required",
    describe: bool = True,
) -> ValidationResult:
    """Check ``raw`` against the contract and split it into clean and quarantined rows.

    ``schema`` is the champion's contract for later batches (inferred from ``raw`` when absent);
    ``reference`` holds the training data's ranges and categories (see :func:`reference_profile`)
    so out-of-range values and unseen categories are reported. With ``labels="optional"`` (a
    production batch whose labels come later) the target may be absent or blank: such rows are
    kept with a missing label (nullable ``Int8``) instead of being quarantined. ``describe=False``
    skips the column profiles and warnings of the report (the costly part on millions of rows)
    for callers that only need the clean rows and the counts.
    """
    optional = labels == "optional"
    inferred = schema is None
    if len(raw) == 0:
        require_valid_rows(source or "data", 0, 0)
    how = read_as(raw)
    if raw.attrs:  # pandas deep-copies attrs on every operation: not worth it for 600 columns
        raw = raw.copy(deep=False)
        raw.attrs = {}
    if schema is None:
        schema = infer_schema(raw, settings)
    else:
        has_target = schema.target in raw.columns
        check_columns(raw, schema, need_target=not optional)
        check_scalar_columns(raw, [*schema.features, *([schema.target] if has_target else [])])

    frame, reasons, markers = typed_rows(raw, schema, optional=optional)
    bad_rows = bad_row_mask(reasons, len(frame))
    quarantine = _quarantine_frame(raw, reasons, bad_rows)
    refuse_unknown_labels(quarantine, schema, source)
    clean = clean_rows(frame, bad_rows, schema, optional=optional)
    if describe:
        profile = RowsProfile.of(
            len(raw), clean, schema, reasons, reference, exact=True, markers=markers
        )
        report = build_report(profile, schema, reference, source, inferred=inferred)
        report["read_as"] = how
    else:
        report = {
            "source": source,
            "rows_read": len(raw),
            "rows_kept": len(clean),
            "rows_quarantined": int(bad_rows.sum()),
        }
    return ValidationResult(frame=clean, quarantine=quarantine, schema=schema, report=report)


def typed_rows(
    raw: pd.DataFrame, schema: DataSchema, *, optional: bool = False
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, dict[str, int]]]:
    """Every row typed by its role; per reason the rows that must be quarantined; per column
    the missing-value markers found (see :mod:`defectops.data.markers`).

    ``optional``: a missing label is not a reason (labels come later). A label of neither
    class is always a reason (``unknown_label``), which the callers turn into a refusal.

    Row by row, never looking at other rows: so a partition of a large data set is checked
    exactly as the same rows would be in one frame (the dask engine applies it per partition).
    """
    frame = raw.copy()
    reasons: dict[str, np.ndarray] = {}
    markers = schema.na_values
    found: dict[str, dict[str, int]] = {}

    def count(col: str) -> None:
        if counts := marker_counts(frame[col], markers):
            found[col] = counts

    if schema.target in frame.columns:
        count(schema.target)
        target = encode_target(
            frame[schema.target], schema.positive_label, schema.negative_label, markers
        )
        unknown = (target == -1).to_numpy()
        if unknown.any():
            reasons[UNKNOWN_LABEL] = unknown
            target = target.where(~unknown, np.nan)
    else:
        target = pd.Series(np.nan, index=frame.index, dtype=float)
    if not optional:
        reasons["missing_target"] = target.isna().to_numpy() & ~reasons.get(
            UNKNOWN_LABEL, np.zeros(len(frame), dtype=bool)
        )
    frame[schema.target] = target

    for col in schema.numeric:
        count(col)
        values, unparseable = to_numbers(frame[col], markers)
        array = values.to_numpy()
        infinite = np.isinf(array)
        beyond = np.isfinite(array) & (np.abs(array) > schema.max_abs_value)
        if unparseable.any():
            reasons[f"unparseable_number:{col}"] = unparseable
        if infinite.any():
            reasons[f"infinite_value:{col}"] = infinite
        if beyond.any():
            reasons[f"beyond_max_abs_value:{col}"] = beyond
        frame[col] = values
    for col in schema.categorical:
        count(col)
        frame[col] = category_strings(frame[col], markers)
    formats = schema.timestamp_formats
    for col in schema.timestamps:
        if col not in frame.columns:  # not a feature: a batch without it keeps its file order
            continue
        count(col)
        fmt = formats.get(col) or _format_of(frame[col], col, markers)
        parsed = parse_timestamps(frame[col], fmt, markers)
        if col == schema.order_by:
            bad = parsed.isna().to_numpy()
            if bad.any():
                reasons[f"bad_order_value:{col}"] = bad
        frame[col] = parsed
    order = schema.order_by
    if order is not None and order in frame.columns and order not in schema.timestamps:
        count(order)
        values, _ = to_numbers(frame[order], markers)
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            reasons[f"bad_order_value:{order}"] = bad
        frame[order] = values
    return frame, reasons, found


def _format_of(values: pd.Series, name: str, markers: tuple[str, ...]) -> str:
    """The format of a timestamp column a schema has no format for (written before formats
    were recorded): inferred from this batch."""
    found = infer_format(values, name, markers)
    return found.format if found is not None else _NO_FORMAT


def require_valid_rows(
    source: str, rows_read: int, rows_kept: int, reasons: dict[str, int] | None = None
) -> None:
    """Refuse a file with no row, or none that passes the contract: whatever a verb would do
    next (a report, a model, a stored batch, predictions) would be empty, and exit 0 for it
    would hide that the file is not what it was thought to be."""
    if rows_read == 0:
        raise UserError(f"{source}: holds no rows (a header only?); nothing written")
    if rows_kept == 0:
        top = sorted((reasons or {}).items(), key=lambda item: -item[1])[:3]
        why = f" ({', '.join(f'{name}: {n:,}' for name, n in top)})" if top else ""
        raise UserError(
            f"{source}: none of its {rows_read:,} rows passes the data contract{why}; "
            "nothing written"
        )


def usable_counts(typed: pd.DataFrame, columns: Iterable[str]) -> dict[str, int]:
    """Per column, the rows with a usable (present, parsed) value: counts that add up across
    partitions."""
    return {c: int(typed[c].notna().sum()) for c in columns if c in typed.columns}


def merge_counts(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, n in part.items():
            total[name] = total.get(name, 0) + n
    return total


def require_usable_features(source: str, rows: int, counts: dict[str, int]) -> None:
    """Refuse data in which a feature column has no usable value at all: every row would be
    scored or learned from without it, which is a broken export, not a batch of parts."""
    dead = [name for name, n in counts.items() if n == 0]
    if rows and dead:
        more = f" (and {len(dead) - 1} more: {', '.join(dead[1:4])})" if len(dead) > 1 else ""
        raise UserError(
            f"{source}: feature column {dead[0]!r}{more} has no usable value in its {rows:,} "
            "rows (all missing, or no number); the champion needs it: fix the export"
        )


def reason_counts(quarantine: pd.DataFrame) -> dict[str, int]:
    """Rows per reason in a quarantine frame (a row with two reasons counts for both)."""
    counts: dict[str, int] = {}
    if len(quarantine) and REASON_COLUMN in quarantine:
        for text in quarantine[REASON_COLUMN]:
            for name in str(text).split("; "):
                if name:
                    counts[name] = counts.get(name, 0) + 1
    return counts


def refuse_unknown_labels(quarantine: pd.DataFrame, schema: DataSchema, source: str) -> None:
    """A label of neither class stops the batch (exit 2, nothing stored): a third class must
    never be read as good parts, nor quietly dropped from a batch that is otherwise fine."""
    if not len(quarantine) or REASON_COLUMN not in quarantine:
        return
    hit = quarantine[REASON_COLUMN].str.contains(UNKNOWN_LABEL, regex=False).to_numpy()
    if not hit.any():
        return
    values = unknown_labels(
        quarantine.loc[hit, schema.target],
        pd.Series(-1.0, index=quarantine.index[hit]),
        schema.na_values,
    )
    negative = schema.negative_label or "good"
    raise UserError(
        f"{source or 'data'}: target {schema.target!r} has values the model's two classes do "
        f"not cover: {', '.join(map(repr, values))} ({int(hit.sum())} rows); the classes are "
        f"{schema.positive_label!r} (defect) and {negative!r}: map the labels onto them first"
    )


def bad_row_mask(reasons: dict[str, np.ndarray], n_rows: int) -> np.ndarray:
    """Rows with at least one reason to be quarantined."""
    bad_rows = np.zeros(n_rows, dtype=bool)
    for mask in reasons.values():
        bad_rows |= mask
    return bad_rows


def clean_rows(
    frame: pd.DataFrame,
    bad_rows: np.ndarray,
    schema: DataSchema,
    *,
    sort: bool = True,
    optional: bool = False,
) -> pd.DataFrame:
    """The kept rows: target as int8, in production order, without the dropped columns.

    ``sort=False`` is for one partition of rows already in order (the dask engine checks the
    order across partitions instead of sorting them all in one place).
    """
    clean = frame.loc[~bad_rows].copy()
    clean[schema.target] = clean[schema.target].astype("Int8" if optional else np.int8)
    if sort and schema.order_by is not None and schema.order_by in clean.columns:
        clean = clean.sort_values(schema.order_by, kind="stable")
    dropped = [c for c in schema.dropped if c in clean.columns]
    return clean.drop(columns=dropped).reset_index(drop=True)


class ValidationOutputs(Protocol):
    """What :func:`write_outputs` writes: a report and the quarantined rows (any engine)."""

    report: dict[str, Any]
    quarantine: pd.DataFrame


def write_outputs(result: ValidationOutputs, settings: Settings) -> dict[str, Path]:
    """Write the validation report and, when rows were quarantined, the quarantine file."""
    written = {
        "report": atomic.write_json(
            settings.reports_dir / "data_validation_report.json", result.report
        )
    }
    if len(result.quarantine):
        written["quarantine"] = write_table(result.quarantine, settings.quarantine_path)
    else:
        settings.quarantine_path.unlink(missing_ok=True)
    return written


def reference_profile(
    frame: pd.DataFrame, schema: DataSchema, max_categories: int = 10_000
) -> dict:
    """The training data's numeric ranges and known categories, to check later batches against.

    Rows spread over partitions (a :class:`~defectops.engines.dask.frame.DistributedFrame`) are
    profiled
    per partition and merged exactly (:func:`merge_reference_profiles`).
    """
    if not isinstance(frame, pd.DataFrame):
        return frame.reference_profile(schema, max_categories)
    numeric = {
        col: {"min": _finite(frame[col].min()), "max": _finite(frame[col].max())}
        for col in schema.numeric
    }
    categorical = {
        col: sorted(frame[col].dropna().astype(str).unique().tolist())[:max_categories]
        for col in schema.categorical
    }
    return {"numeric": numeric, "categorical": categorical}


def merge_reference_profiles(parts: list[dict], max_categories: int = 10_000) -> dict:
    """The :func:`reference_profile` of all rows from the profiles of their partitions.

    Exact: the smallest minimum, the largest maximum, the sorted union of the categories (so the
    partitions' profiles must be made with an unlimited ``max_categories``).
    """
    numeric: dict[str, dict[str, float | None]] = {}
    categorical: dict[str, list[str]] = {}
    for part in parts:
        for col, bounds in part["numeric"].items():
            have = numeric.setdefault(col, {"min": None, "max": None})
            for key, pick in (("min", min), ("max", max)):
                values = [v for v in (have[key], bounds[key]) if v is not None]
                have[key] = pick(values) if values else None
        for col, known in part["categorical"].items():
            categorical[col] = sorted(set(categorical.get(col, [])) | set(known))
    return {
        "numeric": numeric,
        "categorical": {col: known[:max_categories] for col, known in categorical.items()},
    }


# -- helpers --------------------------------------------------------------------------------------


def _quarantine_frame(
    raw: pd.DataFrame, reasons: dict[str, np.ndarray], bad_rows: np.ndarray
) -> pd.DataFrame:
    rows = raw.loc[bad_rows].copy()
    rows.insert(0, REASON_COLUMN, reason_labels(reasons, bad_rows)[bad_rows])
    rows.insert(0, ROW_COLUMN, np.flatnonzero(bad_rows))
    return rows.reset_index(drop=True)


def reason_labels(reasons: dict[str, np.ndarray], bad_rows: np.ndarray) -> np.ndarray:
    """Per row, its reasons joined by ``; `` (empty for a row without any)."""
    labels = np.full(len(bad_rows), "", dtype=object)
    for name, mask in reasons.items():
        labels[mask] = np.where(labels[mask] == "", name, labels[mask] + "; " + name)
    return labels


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


@dataclass
class RowsProfile:
    """What the validation report says about some rows, as counts that add up across partitions.

    :meth:`of` profiles one frame (all rows, or one partition), :meth:`merge` combines the
    profiles of consecutive partitions, :func:`build_report` turns a profile into the report. The
    local engine profiles the whole frame once; the dask engine profiles each partition where it
    lives and merges the results, so both reports come from the same code and the same counts.

    Two numbers cannot be merged from partition summaries: the distinct values of a numeric or
    time column (``n_unique``) and the duplicate rows. :meth:`of` counts them when ``exact`` is
    true (a whole frame); for partitions they stay ``None`` and the engine fills them in with a
    global count (see :mod:`defectops.engines.dask.frame`). Means are sums over counts, so a merged
    mean
    can differ from the one-frame mean in the last bits of the float (summation order); every
    count, minimum, maximum, category and check is identical.
    """

    rows_read: int
    rows_kept: int
    positives: int
    reasons: dict[str, int]
    labelled: int
    columns: dict[str, dict[str, Any]]
    duplicates: int | None
    out_of_range: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, tuple[int, int, list[str]]] = field(default_factory=dict)
    markers: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        rows_read: int,
        clean: pd.DataFrame,
        schema: DataSchema,
        reasons: dict[str, np.ndarray],
        reference: dict[str, Any] | None = None,
        *,
        exact: bool = True,
        markers: dict[str, dict[str, int]] | None = None,
    ) -> RowsProfile:
        """Profile ``clean`` (the kept rows of ``rows_read`` rows read); ``markers`` are the
        missing-value markers :func:`typed_rows` found in all ``rows_read`` rows."""
        columns = {
            col: _column_stats(clean[col], role, exact=exact)
            for col, role in _roles(schema)
            if col in clean.columns  # a batch may come without its timestamp column
        }
        out_of_range: dict[str, int] = {}
        unseen: dict[str, tuple[int, int, list[str]]] = {}
        if reference is not None:
            for col, bounds in reference.get("numeric", {}).items():
                if col in clean and bounds.get("min") is not None:
                    values = clean[col]
                    outside = (values < bounds["min"]) | (values > bounds["max"])
                    out_of_range[col] = int(outside.sum())
            for col, known in reference.get("categorical", {}).items():
                if col in clean:
                    present = clean[col].dropna()
                    new = present[~present.isin(set(known))]
                    examples = sorted(map(str, new.unique()))[:_EXAMPLES]
                    unseen[col] = (len(new), len(present), examples)
        duplicates = (int(clean.duplicated().sum()) if len(clean) else 0) if exact else None
        return cls(
            rows_read=rows_read,
            rows_kept=len(clean),
            positives=int(clean[schema.target].sum()) if len(clean) else 0,
            reasons={name: int(mask.sum()) for name, mask in reasons.items() if mask.any()},
            labelled=int(clean[schema.target].notna().sum()),
            columns=columns,
            duplicates=duplicates,
            out_of_range=out_of_range,
            unseen=unseen,
            markers=dict(markers or {}),
        )

    def merge(self, other: RowsProfile) -> RowsProfile:
        """The profile of this profile's rows followed by ``other``'s (order matters for ties)."""
        reasons = dict(self.reasons)
        for name, count in other.reasons.items():
            reasons[name] = reasons.get(name, 0) + count
        unseen = dict(self.unseen)
        for col, (new, present, examples) in other.unseen.items():
            had = unseen.get(col, (0, 0, []))
            merged = sorted(set(had[2]) | set(examples))[:_EXAMPLES]
            unseen[col] = (had[0] + new, had[1] + present, merged)
        out_of_range = dict(self.out_of_range)
        for col, count in other.out_of_range.items():
            out_of_range[col] = out_of_range.get(col, 0) + count
        markers = {col: dict(counts) for col, counts in self.markers.items()}
        for col, counts in other.markers.items():
            have = markers.setdefault(col, {})
            for marker, n in counts.items():
                have[marker] = have.get(marker, 0) + n
        return RowsProfile(
            rows_read=self.rows_read + other.rows_read,
            rows_kept=self.rows_kept + other.rows_kept,
            positives=self.positives + other.positives,
            reasons=reasons,
            labelled=self.labelled + other.labelled,
            columns={
                col: _merge_stats(stats, other.columns[col]) for col, stats in self.columns.items()
            },
            duplicates=None,
            out_of_range=out_of_range,
            unseen=unseen,
            markers={col: dict(sorted(counts.items())) for col, counts in markers.items()},
        )


def _roles(schema: DataSchema) -> list[tuple[str, str]]:
    roles = {c: "numeric" for c in schema.numeric}
    roles |= {c: "categorical" for c in schema.categorical}
    roles |= {c: "timestamp" for c in schema.timestamps}
    return list(roles.items())


def _column_stats(values: pd.Series, role: str, *, exact: bool) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "role": role,
        "dtype": str(values.dtype),
        "n": len(values),
        "nulls": int(values.isna().sum()),
        "n_unique": int(values.nunique(dropna=True)) if exact else None,
    }
    if role == "numeric":
        stats.update(min=values.min(), max=values.max(), sum=values.sum(), count=values.count())
    elif role == "categorical":
        # first-seen order, as value_counts keeps it for equal counts
        stats["counts"] = values.value_counts(dropna=True, sort=False)
        stats["n_unique"] = len(stats["counts"])
    elif role == "timestamp":
        present = values.notna().any()
        stats.update(min=values.min() if present else None, max=values.max() if present else None)
    return stats


def _merge_stats(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {**a, "n": a["n"] + b["n"], "nulls": a["nulls"] + b["nulls"], "n_unique": None}
    for key, pick in (("min", min), ("max", max)):
        if key in a:
            values = [v for v in (a[key], b[key]) if v is not None and not pd.isna(v)]
            out[key] = pick(values) if values else None
    if a["role"] == "numeric":
        out.update(sum=a["sum"] + b["sum"], count=a["count"] + b["count"])
    if a["role"] == "categorical":
        both = pd.concat([a["counts"], b["counts"]])
        out["counts"] = both.groupby(level=0, sort=False).sum()
        out["n_unique"] = len(out["counts"])
    return out


def _column_profile(stats: dict[str, Any]) -> dict[str, Any]:
    role, n = stats["role"], stats["n"]
    profile: dict[str, Any] = {
        "role": role,
        "dtype": stats["dtype"],
        "null_rate": stats["nulls"] / n if n else 0.0,
        "n_unique": stats["n_unique"],
    }
    if role == "numeric":
        mean = stats["sum"] / stats["count"] if stats["count"] else None
        profile.update(min=_finite(stats["min"]), max=_finite(stats["max"]), mean=_finite(mean))
    elif role == "categorical":
        top = stats["counts"].sort_values(ascending=False, kind="stable").head(_TOP)
        profile["top"] = {str(k): int(v) for k, v in top.items()}
    elif role == "timestamp" and stats["min"] is not None:
        profile.update(min=_iso(stats["min"]), max=_iso(stats["max"]))
    return profile


def _iso(value: Any) -> str:
    return pd.Timestamp(value).isoformat()


def _check(name: str, ok: bool, detail: str, *, fail: bool = False) -> dict[str, str]:
    return {
        "name": name,
        "status": "pass" if ok else ("fail" if fail else "warn"),
        "detail": detail,
    }


def build_report(
    profile: RowsProfile,
    schema: DataSchema,
    reference: dict[str, Any] | None,
    source: str,
    *,
    inferred: bool = True,
) -> dict[str, Any]:
    """The validation report (JSON-ready) of a profile; the same for every engine.

    ``inferred``: the schema was decided from these rows, so the guards' findings (identifiers,
    leak suspects) are checks of this report; a later batch read with a champion's schema is
    not judged on them again.
    """
    if profile.duplicates is None or any(s["n_unique"] is None for s in profile.columns.values()):
        raise ValueError("the profile lacks its global counts (n_unique, duplicates)")
    columns = {col: _column_profile(stats) for col, stats in profile.columns.items()}
    checks: list[dict[str, str]] = []
    n_kept = profile.rows_kept

    quarantined = profile.rows_read - n_kept
    checks.append(
        _check(
            "row_level",
            quarantined == 0,
            f"{quarantined} of {profile.rows_read} rows quarantined",
        )
    )
    high_null = {c: p["null_rate"] for c, p in columns.items() if p["null_rate"] > NULL_RATE_WARN}
    checks.append(
        _check(
            "null_rates",
            not high_null,
            f"no column above {NULL_RATE_WARN:.0%} missing"
            if not high_null
            else "; ".join(f"{c}: {r:.1%} missing" for c, r in sorted(high_null.items())),
        )
    )
    constant = [c for c in schema.features if columns[c]["n_unique"] <= 1]
    checks.append(
        _check(
            "constant_columns",
            not constant,
            "none" if not constant else "constant: " + ", ".join(constant),
        )
    )
    duplicates = profile.duplicates
    checks.append(_check("duplicates", duplicates == 0, f"{duplicates} duplicate rows"))

    labelled = profile.labelled
    positives = profile.positives
    negatives = labelled - positives
    rate = positives / labelled if labelled else float("nan")
    minority = min(rate, 1 - rate) if labelled else 0.0
    if labelled or not n_kept:
        checks.append(
            _check(
                "class_balance",
                minority >= MINORITY_WARN,
                f"defect rate {rate:.2%} ({positives} defects, {negatives} good)",
            )
        )
    else:
        checks.append(_check("class_balance", True, "no labels yet: checked when they come"))
    if reference is not None:
        checks.extend(_reference_checks(profile, reference))
    if inferred:
        checks.extend(guard_checks(schema))
    for col, fmt in schema.timestamp_formats.items():
        if col in columns:
            columns[col]["format"] = fmt

    counts = {name: count for name, count in sorted(profile.reasons.items()) if count}
    status = (
        "fail"
        if any(c["status"] == "fail" for c in checks)
        else ("warn" if any(c["status"] == "warn" for c in checks) else "pass")
    )
    return {
        "source": source,
        "status": status,
        "rows_read": profile.rows_read,
        "rows_kept": n_kept,
        "rows_quarantined": quarantined,
        "quarantined_by_reason": counts,
        "schema": schema.to_dict(),
        "class_balance": {"defects": positives, "good": negatives, "defect_rate": rate},
        "rows_unlabelled": int(n_kept - labelled),
        "missing_markers": profile.markers,
        "columns": columns,
        "checks": checks,
    }


def guard_checks(schema: DataSchema) -> list[dict[str, str]]:
    """The ``identifiers`` and ``leakage`` checks: what :mod:`defectops.data.guards` found."""
    ids = schema.identifiers
    kept = [c for c in ids if c in schema.features]
    if ids:
        why = "; ".join(f"{c}: {w}" for c, w in ids.items())
        fate = (
            "kept as features (keep_identifiers)"
            if len(kept) == len(ids)
            else "left out of the features; --keep-identifiers keeps them"
        )
        id_detail = f"{why}: {fate}"
    else:
        id_detail = "no column is unique per row or a row counter"
    leaks = schema.leak_suspects
    if leaks:
        hint = drop_hint(schema.dropped, list(leaks))
        leak_detail = (
            "; ".join(f"{c}: {w}" for c, w in leaks.items())
            + f"; if they are written after inspection, add {hint}"
        )
    else:
        leak_detail = "no column alone decides the label"
    return [
        _check("identifiers", not ids, id_detail),
        _check("leakage", not leaks, leak_detail),
    ]


def _reference_checks(profile: RowsProfile, reference: dict[str, Any]) -> list[dict[str, str]]:
    out_of_range = []
    for col, bounds in reference.get("numeric", {}).items():
        if col not in profile.out_of_range or not profile.rows_kept:
            continue
        share = profile.out_of_range[col] / profile.rows_kept
        if share > 0:
            out_of_range.append(
                f"{col}: {share:.1%} outside [{bounds['min']:g}, {bounds['max']:g}]"
            )
    unseen = []
    for col in reference.get("categorical", {}):
        if col not in profile.unseen:
            continue
        new, present, examples = profile.unseen[col]
        if new:
            unseen.append(f"{col}: {new / max(present, 1):.1%} unseen (e.g. {', '.join(examples)})")
    return [
        _check("out_of_range", not out_of_range, "; ".join(out_of_range) or "all within range"),
        _check("unseen_categories", not unseen, "; ".join(unseen) or "none"),
    ]
