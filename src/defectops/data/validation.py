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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from defectops.core import atomic
from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.io import read_as, write_table
from defectops.data.quarantine import bad_row_mask, quarantine_frame, refuse_unknown_labels
from defectops.data.row_typing import clean_rows, typed_rows
from defectops.data.rows_profile import RowsProfile
from defectops.data.schema import DataSchema, check_columns, check_scalar_columns
from defectops.data.schema_inference import infer_schema
from defectops.data.validation_report import build_report


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
    ``reference`` holds the training data's ranges and categories (see
    :func:`~defectops.data.reference.reference_profile`) so out-of-range values and unseen
    categories are reported. With ``labels="optional"`` (a production batch whose labels come
    later) the target may be absent or blank: such rows are kept with a missing label (nullable
    ``Int8``) instead of being quarantined. ``describe=False`` skips the column profiles and
    warnings of the report (the costly part on millions of rows) for callers that only need the
    clean rows and the counts.
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
    quarantine = quarantine_frame(raw, reasons, bad_rows)
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


class ValidationOutputs(Protocol):
    """What :func:`write_outputs` writes: a report and the quarantined rows (any engine)."""

    report: dict[str, Any]
    quarantine: pd.DataFrame


def write_outputs(result: ValidationOutputs, settings: Settings) -> dict[str, Path]:
    """Write the validation report and, when rows were quarantined, the quarantine file."""
    written = {"report": atomic.write_json(settings.layout.validation_report, result.report)}
    if len(result.quarantine):
        written["quarantine"] = write_table(result.quarantine, settings.quarantine_path)
    else:
        settings.quarantine_path.unlink(missing_ok=True)
    return written
