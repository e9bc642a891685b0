"""Quarantined rows: each with its position in the file and the reasons it broke the contract.

One bad sensor reading must never stop a plant's run: such a row goes to quarantine with its
reasons and the run goes on. A label of neither class is the exception: it stops the batch, see
:func:`refuse_unknown_labels`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from defectops.core.errors import UserError
from defectops.data.schema import DataSchema, unknown_labels

REASON_COLUMN = "quarantine_reason"
#: the reason of a row whose label is of neither class (see :func:`refuse_unknown_labels`)
UNKNOWN_LABEL = "unknown_label"
ROW_COLUMN = "source_row"


def bad_row_mask(reasons: dict[str, np.ndarray], n_rows: int) -> np.ndarray:
    """Rows with at least one reason to be quarantined."""
    bad_rows = np.zeros(n_rows, dtype=bool)
    for mask in reasons.values():
        bad_rows |= mask
    return bad_rows


def reason_labels(reasons: dict[str, np.ndarray], bad_rows: np.ndarray) -> np.ndarray:
    """Per row, its reasons joined by ``; `` (empty for a row without any)."""
    labels = np.full(len(bad_rows), "", dtype=object)
    for name, mask in reasons.items():
        labels[mask] = np.where(labels[mask] == "", name, labels[mask] + "; " + name)
    return labels


def quarantine_frame(
    raw: pd.DataFrame, reasons: dict[str, np.ndarray], bad_rows: np.ndarray
) -> pd.DataFrame:
    rows = raw.loc[bad_rows].copy()
    rows.insert(0, REASON_COLUMN, reason_labels(reasons, bad_rows)[bad_rows])
    rows.insert(0, ROW_COLUMN, np.flatnonzero(bad_rows))
    return rows.reset_index(drop=True)


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
