"""The validation report: per column profiles and the checks that warn or fail, as JSON.

It is written from a :class:`~defectops.data.rows_profile.RowsProfile`, so both engines report
the same rows the same way.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from defectops.data.guards import drop_hint
from defectops.data.reference import finite
from defectops.data.rows_profile import RowsProfile
from defectops.data.schema import DataSchema

#: a column with a larger share of missing values is reported
NULL_RATE_WARN = 0.2
#: a minority class below this share is reported
MINORITY_WARN = 0.05
_TOP = 10


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
    checks = _row_checks(profile, schema, columns)
    checks.append(_class_balance_check(profile))
    if reference is not None:
        checks.extend(_reference_checks(profile, reference))
    if inferred:
        checks.extend(guard_checks(schema))
    for col, fmt in schema.timestamp_formats.items():
        if col in columns:
            columns[col]["format"] = fmt

    n_kept, labelled, positives = profile.rows_kept, profile.labelled, profile.positives
    counts = {name: count for name, count in sorted(profile.reasons.items()) if count}
    return {
        "source": source,
        "status": _status(checks),
        "rows_read": profile.rows_read,
        "rows_kept": n_kept,
        "rows_quarantined": profile.rows_read - n_kept,
        "quarantined_by_reason": counts,
        "schema": schema.to_dict(),
        "class_balance": {
            "defects": positives,
            "good": labelled - positives,
            "defect_rate": _defect_rate(profile),
        },
        "rows_unlabelled": int(n_kept - labelled),
        "missing_markers": profile.markers,
        "columns": columns,
        "checks": checks,
    }


def _row_checks(
    profile: RowsProfile, schema: DataSchema, columns: dict[str, dict[str, Any]]
) -> list[dict[str, str]]:
    """The ``row_level``, ``null_rates``, ``constant_columns`` and ``duplicates`` checks."""
    quarantined = profile.rows_read - profile.rows_kept
    high_null = {c: p["null_rate"] for c, p in columns.items() if p["null_rate"] > NULL_RATE_WARN}
    constant = [c for c in schema.features if columns[c]["n_unique"] <= 1]
    duplicates = profile.duplicates
    return [
        _check(
            "row_level",
            quarantined == 0,
            f"{quarantined} of {profile.rows_read} rows quarantined",
        ),
        _check(
            "null_rates",
            not high_null,
            f"no column above {NULL_RATE_WARN:.0%} missing"
            if not high_null
            else "; ".join(f"{c}: {r:.1%} missing" for c, r in sorted(high_null.items())),
        ),
        _check(
            "constant_columns",
            not constant,
            "none" if not constant else "constant: " + ", ".join(constant),
        ),
        _check("duplicates", duplicates == 0, f"{duplicates} duplicate rows"),
    ]


def _defect_rate(profile: RowsProfile) -> float:
    """The labelled rows' share of defects (NaN when no row has its label yet)."""
    return profile.positives / profile.labelled if profile.labelled else float("nan")


def _class_balance_check(profile: RowsProfile) -> dict[str, str]:
    labelled, positives = profile.labelled, profile.positives
    if not labelled and profile.rows_kept:
        return _check("class_balance", True, "no labels yet: checked when they come")
    rate = _defect_rate(profile)
    minority = min(rate, 1 - rate) if labelled else 0.0
    return _check(
        "class_balance",
        minority >= MINORITY_WARN,
        f"defect rate {rate:.2%} ({positives} defects, {labelled - positives} good)",
    )


def _status(checks: list[dict[str, str]]) -> str:
    """``fail`` when a check failed, else ``warn`` when one warns, else ``pass``."""
    if any(c["status"] == "fail" for c in checks):
        return "fail"
    return "warn" if any(c["status"] == "warn" for c in checks) else "pass"


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
        profile.update(min=finite(stats["min"]), max=finite(stats["max"]), mean=finite(mean))
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
