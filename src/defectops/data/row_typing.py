"""Each row typed by its column's role, with its reasons to be quarantined, and the rows kept.

Both engines type rows with these functions, the dask engine once per partition, so a row is
judged the same wherever it is read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from defectops.data.markers import marker_counts, to_numbers
from defectops.data.quarantine import UNKNOWN_LABEL
from defectops.data.schema import DataSchema, category_strings, encode_target
from defectops.data.timestamps import infer_format
from defectops.data.timestamps import parse as parse_timestamps

#: a timestamp column of a schema from before formats were recorded: read as ISO 8601
_NO_FORMAT = "ISO8601"


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
