"""The champion being served, swapped atomically when ``production/metadata.json`` changes.

A :class:`LoadedModel` is immutable once built: a request takes ``holder.current`` once and uses
that object to the end, so a swap in the middle of a request never mixes two models. Loading and
verifying (sha256) happen off the event loop; a model that fails either is never swapped in.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from defectops.core.layout import METADATA, PRODUCTION_DIR
from defectops.evaluation.records import ModelRecord
from defectops.registry.local import LocalRegistry
from defectops.scoring.predict import Champion
from defectops.serving.columns import BatchRules
from defectops.serving.schemas import (
    DEFAULT_MAX_CATEGORY_LENGTH,
    batch_model,
    columns_model,
    feature_values,
    record_model,
)

log = logging.getLogger("defectops.serving")


@dataclass(frozen=True)
class LoadedModel:
    """One verified champion with everything a request needs, built once per load."""

    champion: Champion
    version: str
    metadata_sha256: str
    reference: dict[str, Any]
    record: type[BaseModel]
    batch: type[BaseModel]
    batch_columns: type[BaseModel]
    features: tuple[str, ...]  # numeric, then categorical: the record model's field order
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    columns: pd.Index
    threshold: float
    rules: BatchRules
    #: the drift profile stored with the champion (None: trained before profiles existed)
    profile: dict[str, Any] | None = None
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def metadata(self) -> ModelRecord:
        return self.champion.metadata

    def values(self, parsed: BaseModel) -> list[Any]:
        """The feature values of a parsed record, in feature order (ignored columns left out)."""
        return feature_values(parsed, len(self.features))

    def frame(self, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
        """Rows in feature order as a DataFrame, the cheapest way (one object block).

        The FeatureBuilder coerces numeric columns itself (``pd.to_numeric``), so an object
        block scores exactly like the typed columns of a file.
        """
        values = np.empty((len(rows), len(self.features)), dtype=object)
        if rows:
            values[:] = rows
        return pd.DataFrame(values, columns=self.columns, dtype=object, copy=False)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores of ``frame``; a categorical value that the data contract reads as missing
        (``?``, ``NA``: the champion's ``na_values``) is missing here too, as in training."""
        markers = self.champion.schema.na_values
        if markers and self.categorical:
            frame = frame.copy(deep=False)
            for col in self.categorical:
                values = frame[col]
                hit = values.isin(markers).to_numpy()
                if hit.any():
                    frame[col] = values.where(~hit, None)
        return self.champion.model.decision_scores(frame)


def request_schema_change(served: LoadedModel | None, new: LoadedModel) -> str | None:
    """What a request must change to be taken by ``new`` instead of ``served`` (None: nothing)."""
    if served is None:
        return None
    before = {c: "numeric" for c in served.numeric} | {c: "categorical" for c in served.categorical}
    after = {c: "numeric" for c in new.numeric} | {c: "categorical" for c in new.categorical}
    if before == after:
        return None
    parts = []
    if added := [c for c in after if c not in before]:
        parts.append("added " + ", ".join(added))
    if removed := [c for c in before if c not in after]:
        parts.append("removed " + ", ".join(removed))
    if retyped := [
        f"{c} ({before[c]} -> {after[c]})" for c in after if before.get(c, after[c]) != after[c]
    ]:
        parts.append("changed " + ", ".join(retyped))
    return "; ".join(parts)


def metadata_digest(artifacts: Path) -> str | None:
    """sha256 of production/metadata.json (the commit point), or None when there is none."""
    try:
        return hashlib.sha256(
            (Path(artifacts) / PRODUCTION_DIR / METADATA).read_bytes()
        ).hexdigest()
    except FileNotFoundError:
        return None


def load_model(
    artifacts: Path,
    *,
    max_batch: int,
    unknown_fields: Literal["reject", "ignore"],
    max_category_length: int = DEFAULT_MAX_CATEGORY_LENGTH,
    attempts: int = 3,
) -> LoadedModel:
    """Load and verify the champion; retried when production/ changed while it was read."""
    last: Exception | None = None
    for _ in range(attempts):
        before = metadata_digest(artifacts)
        try:
            champion = Champion.load(Path(artifacts))
            stored = LocalRegistry(artifacts).champion_schema()
        except Exception as exc:  # a promotion mid-read deletes the old file: retry once
            last = exc
            if metadata_digest(artifacts) == before:
                raise
            continue
        if metadata_digest(artifacts) != before or before is None:
            continue
        champion.model.prepare_batches()  # off the request path, like the rest of a load
        reference = stored.get("reference") or {}
        schema = champion.schema
        record = record_model(
            schema, reference, unknown_fields, max_category_length=max_category_length
        )
        features = tuple(schema.features)
        return LoadedModel(
            champion=champion,
            version=str(champion.metadata.get("version", champion.metadata.get("chunk_id"))),
            metadata_sha256=before,
            reference=reference,
            record=record,
            batch=batch_model(record, max_batch),
            batch_columns=columns_model(
                schema,
                reference,
                max_batch,
                unknown_fields,
                max_category_length=max_category_length,
            ),
            features=features,
            numeric=tuple(schema.numeric),
            categorical=tuple(schema.categorical),
            columns=pd.Index(features, dtype=object),
            threshold=champion.threshold,
            rules=BatchRules.for_schema(
                schema,
                max_batch=max_batch,
                max_category_length=max_category_length,
                unknown_fields=unknown_fields,
            ),
            profile=stored.get("profile"),
        )
    raise RuntimeError(f"production/ kept changing while loading the champion ({last})")


class ModelHolder:
    """The one reference to the model being served, plus what the poller needs to compare."""

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = Path(artifacts)
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        #: the metadata digest last tried (loaded or refused), so a bad model is not retried
        #: on every poll; a changed metadata.json is tried again
        self.last_seen: str | None = None
        self.lock = threading.Lock()

    def changed(self) -> bool:
        digest = metadata_digest(self.artifacts)
        return digest is not None and digest != self.last_seen

    def swap(self, model: LoadedModel) -> LoadedModel | None:
        """Make ``model`` current; returns the one it replaced."""
        old, self.current = self.current, model
        self.last_error = None
        return old
