"""Validate a batch against the data contract: fatal problems stop, bad rows are quarantined.

Three levels, so that one bad sensor reading never stops a plant's run and a wrong file never
trains a model:

* fatal (:class:`~defectops.errors.UserError`, nothing written): missing target column, not two
  target classes, no feature columns, a configured column the data lacks;
* row-level (rows go to quarantine with a reason, the run goes on): missing target, a number that
  does not parse, an infinite value, an order value that does not parse;
* warnings in the report: null rates, constant columns, duplicate rows, values outside the
  reference range, unseen categories, class balance.

Rows in = rows kept + rows quarantined, always.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from defectops import atomic
from defectops.config import Settings
from defectops.data.io import write_table
from defectops.data.schema import (
    DataSchema,
    category_strings,
    check_columns,
    check_scalar_columns,
    encode_target,
    infer_schema,
    parse_timestamps,
)

REASON_COLUMN = "quarantine_reason"
ROW_COLUMN = "source_row"
#: a column with a larger share of missing values is reported
NULL_RATE_WARN = 0.2
#: a minority class below this share is reported
MINORITY_WARN = 0.05
_TOP = 10


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
    if schema is None:
        schema = infer_schema(raw, settings)
    else:
        has_target = schema.target in raw.columns
        check_columns(raw, schema, need_target=not optional)
        check_scalar_columns(raw, [*schema.features, *([schema.target] if has_target else [])])

    frame = raw.copy()
    reasons: dict[str, np.ndarray] = {}
    if schema.target in frame.columns:
        target = encode_target(frame[schema.target], schema.positive_label)
    else:
        target = pd.Series(np.nan, index=frame.index, dtype=float)
    if not optional:
        reasons["missing_target"] = target.isna().to_numpy()
    frame[schema.target] = target

    for col in schema.numeric:
        original = frame[col]
        values = _to_float(original)
        unparseable = values.isna().to_numpy() & ~_is_missing(original)
        infinite = np.isinf(values.to_numpy())
        if unparseable.any():
            reasons[f"unparseable_number:{col}"] = unparseable
        if infinite.any():
            reasons[f"infinite_value:{col}"] = infinite
        frame[col] = values
    for col in schema.categorical:
        frame[col] = category_strings(frame[col])
    for col in schema.timestamps:
        if col not in frame.columns:  # not a feature: a batch without it keeps its file order
            continue
        parsed = parse_timestamps(frame[col])
        if col == schema.order_by:
            bad = parsed.isna().to_numpy()
            if bad.any():
                reasons[f"bad_order_value:{col}"] = bad
        frame[col] = parsed
    ordered = schema.order_by is not None and schema.order_by in frame.columns
    if ordered and schema.order_by not in schema.timestamps:
        values = _to_float(frame[schema.order_by])
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            reasons[f"bad_order_value:{schema.order_by}"] = bad
        frame[schema.order_by] = values

    bad_rows = np.zeros(len(frame), dtype=bool)
    for mask in reasons.values():
        bad_rows |= mask
    quarantine = _quarantine_frame(raw, reasons, bad_rows)
    clean = frame.loc[~bad_rows].copy()
    clean[schema.target] = clean[schema.target].astype("Int8" if optional else np.int8)
    if schema.order_by is not None and schema.order_by in clean.columns:
        clean = clean.sort_values(schema.order_by, kind="stable")
    dropped = [c for c in schema.dropped if c in clean.columns]
    clean = clean.drop(columns=dropped).reset_index(drop=True)

    if describe:
        report = _report(raw, clean, schema, reasons, bad_rows, reference, source)
    else:
        report = {
            "source": source,
            "rows_read": len(raw),
            "rows_kept": len(clean),
            "rows_quarantined": int(bad_rows.sum()),
        }
    return ValidationResult(frame=clean, quarantine=quarantine, schema=schema, report=report)


def write_outputs(result: ValidationResult, settings: Settings) -> dict[str, Path]:
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
    """The training data's numeric ranges and known categories, to check later batches against."""
    numeric = {
        col: {"min": _finite(frame[col].min()), "max": _finite(frame[col].max())}
        for col in schema.numeric
    }
    categorical = {
        col: sorted(frame[col].dropna().astype(str).unique().tolist())[:max_categories]
        for col in schema.categorical
    }
    return {"numeric": numeric, "categorical": categorical}


# -- helpers --------------------------------------------------------------------------------------


def _to_float(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype(object).where(~_is_missing_series(values), None)
    return pd.to_numeric(text, errors="coerce").astype(float)


def _is_missing_series(values: pd.Series) -> pd.Series:
    missing = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        missing |= values.astype(str).str.strip().eq("")
    return missing


def _is_missing(values: pd.Series) -> np.ndarray:
    return _is_missing_series(values).to_numpy(dtype=bool)


def _quarantine_frame(
    raw: pd.DataFrame, reasons: dict[str, np.ndarray], bad_rows: np.ndarray
) -> pd.DataFrame:
    rows = raw.loc[bad_rows].copy()
    labels = np.full(int(bad_rows.sum()), "", dtype=object)
    for name, mask in reasons.items():
        hit = mask[bad_rows]
        labels[hit] = np.where(labels[hit] == "", name, labels[hit] + "; " + name)
    rows.insert(0, REASON_COLUMN, labels)
    rows.insert(0, ROW_COLUMN, np.flatnonzero(bad_rows))
    return rows.reset_index(drop=True)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _column_profile(values: pd.Series, role: str) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "role": role,
        "dtype": str(values.dtype),
        "null_rate": float(values.isna().mean()) if len(values) else 0.0,
        "n_unique": int(values.nunique(dropna=True)),
    }
    if role == "numeric":
        profile.update(
            min=_finite(values.min()), max=_finite(values.max()), mean=_finite(values.mean())
        )
    elif role == "categorical":
        top = values.value_counts(dropna=True).head(_TOP)
        profile["top"] = {str(k): int(v) for k, v in top.items()}
    elif role == "timestamp" and values.notna().any():
        profile.update(min=str(values.min()), max=str(values.max()))
    return profile


def _check(name: str, ok: bool, detail: str, *, fail: bool = False) -> dict[str, str]:
    return {
        "name": name,
        "status": "pass" if ok else ("fail" if fail else "warn"),
        "detail": detail,
    }


def _report(
    raw: pd.DataFrame,
    clean: pd.DataFrame,
    schema: DataSchema,
    reasons: dict[str, np.ndarray],
    bad_rows: np.ndarray,
    reference: dict[str, Any] | None,
    source: str,
) -> dict[str, Any]:
    roles = {c: "numeric" for c in schema.numeric}
    roles |= {c: "categorical" for c in schema.categorical}
    roles |= {c: "timestamp" for c in schema.timestamps if c in clean.columns}
    columns = {col: _column_profile(clean[col], role) for col, role in roles.items()}
    checks: list[dict[str, str]] = []

    quarantined = int(bad_rows.sum())
    checks.append(
        _check("row_level", quarantined == 0, f"{quarantined} of {len(raw)} rows quarantined")
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
    duplicates = int(clean.duplicated().sum()) if len(clean) else 0
    checks.append(_check("duplicates", duplicates == 0, f"{duplicates} duplicate rows"))

    labelled = clean[schema.target].dropna()
    positives = int(labelled.sum())
    negatives = len(labelled) - positives
    rate = positives / len(labelled) if len(labelled) else float("nan")
    minority = min(rate, 1 - rate) if len(labelled) else 0.0
    if len(labelled) or not len(clean):
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
        checks.extend(_reference_checks(clean, schema, reference))

    counts = {name: int(mask.sum()) for name, mask in sorted(reasons.items()) if mask.any()}
    status = (
        "fail"
        if any(c["status"] == "fail" for c in checks)
        else ("warn" if any(c["status"] == "warn" for c in checks) else "pass")
    )
    return {
        "source": source,
        "status": status,
        "rows_read": len(raw),
        "rows_kept": len(clean),
        "rows_quarantined": quarantined,
        "quarantined_by_reason": counts,
        "schema": schema.to_dict(),
        "class_balance": {"defects": positives, "good": negatives, "defect_rate": rate},
        "rows_unlabelled": int(len(clean) - len(labelled)),
        "columns": columns,
        "checks": checks,
    }


def _reference_checks(
    clean: pd.DataFrame, schema: DataSchema, reference: dict[str, Any]
) -> list[dict[str, str]]:
    out_of_range = []
    for col, bounds in reference.get("numeric", {}).items():
        if col not in clean or bounds.get("min") is None:
            continue
        values = clean[col]
        share = float(((values < bounds["min"]) | (values > bounds["max"])).mean())
        if share > 0:
            out_of_range.append(
                f"{col}: {share:.1%} outside [{bounds['min']:g}, {bounds['max']:g}]"
            )
    unseen = []
    for col, known in reference.get("categorical", {}).items():
        if col not in clean:
            continue
        present = clean[col].dropna()
        new = present[~present.isin(set(known))]
        if len(new):
            examples = ", ".join(sorted(map(str, new.unique()))[:3])
            unseen.append(f"{col}: {len(new) / max(len(present), 1):.1%} unseen (e.g. {examples})")
    return [
        _check("out_of_range", not out_of_range, "; ".join(out_of_range) or "all within range"),
        _check("unseen_categories", not unseen, "; ".join(unseen) or "none"),
    ]
