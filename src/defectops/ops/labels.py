"""``defectops label``: late inspection labels joined to a stored batch, then the retrain policy.

Inspection results arrive hours or days after a part was made; they are joined on
``ingest.label_key`` to the stored rows, committed, and the retrain policy is applied as after an
``ingest``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from defectops.core.config import Settings
from defectops.core.errors import UserError
from defectops.core.lock import RunLock
from defectops.data.io import read_raw
from defectops.data.schema import DataSchema, category_strings, encode_target, unknown_labels
from defectops.data.store import BATCH_COLUMN, ROW_COLUMN, DataStore
from defectops.data.timestamps import parse as parse_timestamps
from defectops.ops.ingest import IngestResult, finish_pending


def attach_labels(settings: Settings, batch_id: str, labels_path: Path) -> IngestResult:
    """Join late labels to a stored batch on ``ingest.label_key``; retrain by policy."""
    key = settings.ingest.label_key
    if key is None:
        raise UserError(
            "no label key configured: set ingest.label_key (e.g. DEFECTOPS_INGEST__LABEL_KEY="
            "part_id) to the column that identifies a part in both files"
        )
    labels = read_raw(labels_path)
    with RunLock(settings.artifacts, purpose="label"):
        store = DataStore(settings.store_dir)
        manifest = store.load()
        if manifest.pending:  # an ingest or label a crash interrupted: finish it first
            finish_pending(settings, store, manifest)
        record = manifest.find(batch_id)
        if record is None or manifest.schema is None:
            known = ", ".join(b.batch_id for b in manifest.batches[-5:]) or "none"
            raise UserError(f"batch {batch_id!r} is not in the store (latest: {known})")
        schema = DataSchema.from_dict(manifest.schema)
        target = schema.target
        for column in (key, target):
            if column not in labels.columns:
                raise UserError(f"{labels_path}: column {column!r} is missing from the labels")
        rows = store.read_batch(batch_id)
        if key not in rows.columns:
            raise UserError(f"label key {key!r} is not a column of batch {batch_id!r}")
        given = encode_target(
            labels[target], schema.positive_label, schema.negative_label, schema.na_values
        )
        if (given == -1).any():
            unknown = unknown_labels(labels[target], given, schema.na_values)
            raise UserError(
                f"{labels_path}: target {target!r} has values the model's two classes do not "
                f"cover: {', '.join(map(repr, unknown))}; the classes are "
                f"{schema.positive_label!r} (defect) and {schema.negative_label or 'good'!r}: "
                "map the labels onto them first"
            )
        if given.isna().any():
            bad = int(given.isna().sum())
            raise UserError(f"{labels_path}: {bad} labels are missing or not a known class value")
        keys = _join_keys(labels[key], rows[key], schema)
        if keys.duplicated().any():
            twice = keys[keys.duplicated()].iloc[0]
            raise UserError(f"{labels_path}: key {twice!r} appears more than once")
        lookup = pd.Series(given.to_numpy(), index=keys.to_numpy())
        stored_keys = _join_keys(rows[key], rows[key], schema)
        found = stored_keys.map(lookup)
        matched = int(found.notna().sum())
        if matched == 0:
            raise UserError(f"none of the {len(labels)} labels match a row of batch {batch_id!r}")
        rows[target] = found.where(found.notna(), rows[target]).astype("Int8")
        store.write_batch(batch_id, rows.drop(columns=[BATCH_COLUMN, ROW_COLUMN]))
        record.labelled_rows = int(rows[target].notna().sum())
        manifest.pending = {"kind": "label", "trigger": batch_id}
        store.save(manifest)  # the commit point of the labels
        outcome = finish_pending(settings, store, manifest)
        outcome.training = {
            "labels_matched": matched,
            "labels_unmatched": len(labels) - matched,
            **outcome.training,
        }
        return outcome


def _join_keys(values: pd.Series, like: pd.Series, schema: DataSchema) -> pd.Series:
    """Keys in one comparable form: timestamps as timestamps (in the schema's format for the
    column), anything else as canonical text."""
    if pd.api.types.is_datetime64_any_dtype(like):
        fmt = schema.timestamp_formats.get(str(like.name), "datetime")
        if not pd.api.types.is_datetime64_any_dtype(values) and fmt == "datetime":
            fmt = "ISO8601"
        return parse_timestamps(values, fmt, schema.na_values).reset_index(drop=True)
    return category_strings(values, schema.na_values).reset_index(drop=True)
