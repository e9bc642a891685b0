"""Score a file with the champion: the input rows, in their order, plus three columns.

Rows are read through the data contract with the champion's schema (the markers, formats and
bounds it was trained with), so a file scores exactly as the same rows did during evaluation.
A row the contract refuses (a reading that is no number, beyond the bounds) gets no score and
says why in ``quarantine_reason``, and is written as read to a quarantine file beside the
output; a file in which no row can be scored is refused. Extra columns pass through untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from defectops.data.io import read_raw, write_table
from defectops.data.quarantine import (
    REASON_COLUMN,
    ROW_COLUMN,
    bad_row_mask,
    reason_counts,
    reason_labels,
)
from defectops.data.row_typing import typed_rows
from defectops.data.schema import DataSchema, check_columns, check_scalar_columns
from defectops.data.validation import require_usable_features, require_valid_rows, usable_counts
from defectops.evaluation.records import ModelRecord
from defectops.registry.local import LocalRegistry

PROBABILITY = "defect_probability"
PREDICTION = "defect_pred"


@dataclass
class Champion:
    """A verified champion with what it needs to read new rows."""

    model: Any
    metadata: ModelRecord
    schema: DataSchema

    @classmethod
    def load(cls, artifacts: Path) -> Champion:
        registry = LocalRegistry(artifacts)
        model, metadata = registry.load_champion()
        schema = DataSchema.from_dict(registry.champion_schema()["schema"])
        return cls(model, metadata, schema)

    @property
    def threshold(self) -> float:
        return float(self.model.threshold_)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        check_columns(frame, self.schema, need_target=False)
        return self.model.decision_scores(frame[list(self.schema.features)])


def score_rows(raw: pd.DataFrame, champion: Champion) -> pd.DataFrame:
    """``raw`` as read, plus the probability, the prediction (both empty for a row the contract
    refuses) and the refusal's reason (empty for a scored row). The same on both engines."""
    raw = raw.reset_index(drop=True)
    typed, reasons = typed_features(raw, champion)
    return scored_rows(raw, typed, reasons, champion)


def usable_in(raw: pd.DataFrame, champion: Champion) -> dict[str, int]:
    """Per feature column, the rows of ``raw`` with a usable value (one partition's share)."""
    typed, _ = typed_features(raw.reset_index(drop=True), champion)
    return usable_counts(typed, champion.schema.features)


def typed_features(
    raw: pd.DataFrame, champion: Champion
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The feature columns typed by the champion's contract, and the reasons to refuse rows."""
    schema = champion.schema
    features = list(schema.features)
    check_columns(raw, schema, need_target=False)
    check_scalar_columns(raw, features)
    typed, reasons, _ = typed_rows(raw[features], schema, optional=True)
    return typed, reasons


def scored_rows(
    raw: pd.DataFrame, typed: pd.DataFrame, reasons: dict[str, np.ndarray], champion: Champion
) -> pd.DataFrame:
    features = list(champion.schema.features)
    bad = bad_row_mask(reasons, len(typed))
    probability = np.full(len(raw), np.nan)
    if (~bad).any():
        probability[~bad] = champion.model.decision_scores(typed.loc[~bad, features])
    result = raw.copy()
    result.attrs = {}
    result[PROBABILITY] = probability
    flagged = pd.array(np.where(bad, 0, probability >= champion.threshold), dtype="Int8")
    flagged[bad] = pd.NA
    result[PREDICTION] = flagged
    result[REASON_COLUMN] = reason_labels(reasons, bad).astype(str)
    return result


def check_scored(data: Path, rows: int, scored: int, reasons: dict[str, int]) -> None:
    """Refuse a file with no row to score: nothing would be written but empty predictions."""
    require_valid_rows(str(data), rows, scored, reasons)


def quarantine_path(out: Path) -> Path:
    """Where ``predict`` writes the rows it refused: ``scored.csv`` -> ``scored_quarantine.csv``
    beside it (for a directory of Parquet files, beside the directory)."""
    name = out.name
    for suffix in (".csv.gz", ".tsv.gz", ".csv", ".tsv", ".txt", ".parquet", ".pq"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out.with_name(f"{name}_quarantine.csv")


def refused_rows(result: pd.DataFrame, first_row: int = 0) -> pd.DataFrame:
    """The rows of a scored frame that the contract refused, laid out like ``validate``'s
    quarantine: ``source_row`` (counted from the file's first row), the reason, the row as read.
    ``first_row`` is the position of ``result``'s first row in the file (a partition's offset)."""
    refused = np.flatnonzero(result[REASON_COLUMN].to_numpy() != "")
    rows = result.iloc[refused].drop(columns=[PROBABILITY, PREDICTION, REASON_COLUMN])
    rows.insert(0, REASON_COLUMN, result[REASON_COLUMN].to_numpy()[refused])
    rows.insert(0, ROW_COLUMN, refused.astype(np.int64) + first_row)
    return rows.reset_index(drop=True)


def write_quarantine(refused: pd.DataFrame, out: Path) -> Path | None:
    """``refused`` (from :func:`refused_rows`) in ``quarantine_path(out)``; when no row was
    refused, the quarantine of an earlier call to the same ``out`` is removed, so the file beside
    an output always belongs to it."""
    path = quarantine_path(out)
    if not len(refused):
        path.unlink(missing_ok=True)
        return None
    return write_table(refused, path)


def predict_file(artifacts: Path, data: Path, out: Path) -> pd.DataFrame:
    """Write ``data`` with the prediction columns appended to ``out``, and the rows the contract
    refused (not scored) to ``quarantine_path(out)``; nothing is written when no row can be
    scored."""
    champion = Champion.load(artifacts)
    champion.model.predict_with_threads(os.cpu_count() or 1)
    raw = read_raw(data)
    typed, reasons = typed_features(raw, champion)
    require_usable_features(str(data), len(raw), usable_counts(typed, champion.schema.features))
    result = scored_rows(raw, typed, reasons, champion)
    scored = int(result[PROBABILITY].notna().sum())
    refused = result.loc[result[REASON_COLUMN] != "", [REASON_COLUMN]]
    check_scored(data, len(result), scored, reason_counts(refused))
    write_quarantine(refused_rows(result), out)
    write_table(result, out)
    return result
