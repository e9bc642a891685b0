"""Reading and checking what a run trains on, and setting the fixed hold-out aside before any
training (both engines)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.data.holdout import Holdout, choose_holdout
from defectops.data.io import read_raw
from defectops.data.prepared import PreparedData
from defectops.data.reference import reference_profile
from defectops.data.schema import DataSchema, line_differences
from defectops.data.validation import require_valid_rows, validate
from defectops.registry.local import LocalRegistry


def prepare(settings: Settings) -> PreparedData:
    """Read and validate everything the run needs; raises before anything is written."""
    if settings.data is None:
        raise UserError("no data file given; pass --data FILE (or set data: in the config)")
    validation = validate(read_raw(settings.data), settings, source=str(settings.data))
    report = validation.report
    require_valid_rows(
        str(settings.data),
        report["rows_read"],
        report["rows_kept"],
        report["quarantined_by_reason"],
    )
    frame = validation.frame
    schema = validation.schema
    if settings.holdout_data is not None:
        reference = reference_profile(frame, schema)
        held = validate(
            read_raw(settings.holdout_data),
            settings,
            schema=schema,
            reference=reference,
            source=str(settings.holdout_data),
        )
        data = PreparedData(validation, frame, held.frame, str(settings.holdout_data), held)
    else:
        train, holdout, choice = split_holdout(frame, schema, settings)
        data = PreparedData(validation, train, holdout, choice.describe(), choice=choice)
    check_prepared(data, data.holdout[schema.target].to_numpy())
    return data


def check_same_line(settings: Settings, schema: DataSchema) -> None:
    """An artifacts directory holds one line: a run whose data is another line (another target,
    defect class or set of features) is refused before anything is written, rather than
    replacing the champion that a service and its clients rely on."""

    local = LocalRegistry(settings.artifacts)
    if local.champion_metadata() is None:
        return
    kept = DataSchema.from_dict(local.champion_schema()["schema"])
    differences = line_differences(kept, schema)
    if differences:
        raise UserError(
            f"{settings.artifacts} holds another line than {settings.data}: "
            + "; ".join(differences)
            + " (than its champion); use another --artifacts directory for this line"
        )


def check_prepared(data: PreparedData, y_holdout: np.ndarray) -> None:
    """Both classes in the hold-out and rows left to train on, or one line saying what to do."""
    y = y_holdout
    if len(data.holdout) == 0 or y.min() == y.max():
        raise UserError(
            f"the hold-out ({data.holdout_source}, {len(data.holdout)} rows) does not hold both "
            "classes, so models cannot be compared on it; use a larger --holdout-fraction, "
            "--holdout stratified, or --holdout-data FILE"
        )
    if len(data.train) == 0:
        raise UserError("no rows left for training after the hold-out; use a smaller fraction")


def split_holdout(
    frame: pd.DataFrame, schema: DataSchema, settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame, Holdout]:
    """Training rows (in order), the fixed hold-out, and the rule that chose it (see
    :mod:`defectops.data.holdout`); decided once, before any training."""
    choice = holdout_of(frame[schema.target].to_numpy(), settings)
    keep = np.ones(len(frame), dtype=bool)
    keep[choice.positions] = False
    return frame.iloc[np.flatnonzero(keep)], frame.iloc[choice.positions], choice


def holdout_of(y: np.ndarray, settings: Settings) -> Holdout:
    """The settings' hold-out rule applied to labels in production order."""
    return choose_holdout(
        y,
        settings.holdout,
        settings.holdout_fraction,
        min_defects=settings.holdout_min_defects,
        max_fraction=settings.holdout_max_fraction,
        seed=settings.seed,
    )
