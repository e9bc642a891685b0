"""The counts behind a validation report, made per frame or per partition and then merged.

Both engines turn such a profile into their report with the same function, so the same rows give
the same report however they were spread (see :mod:`defectops.data.validation_report`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from defectops.data.schema import DataSchema

#: unseen categories named in the report, per column
EXAMPLES = 3


@dataclass
class RowsProfile:
    """What the validation report says about some rows, as counts that add up across partitions.

    :meth:`of` profiles one frame (all rows, or one partition), :meth:`merge` combines the
    profiles of consecutive partitions, :func:`~defectops.data.validation_report.build_report`
    turns a profile into the report. The local engine profiles the whole frame once; the dask
    engine profiles each partition where it lives and merges the results, so both reports come
    from the same code and the same counts.

    Two numbers cannot be merged from partition summaries: the distinct values of a numeric or
    time column (``n_unique``) and the duplicate rows. :meth:`of` counts them when ``exact`` is
    true (a whole frame); for partitions they stay ``None`` and the engine fills them in with a
    global count (see :mod:`defectops.engines.dask.frame`). Means are sums over counts, so a
    merged mean can differ from the one-frame mean in the last bits of the float (summation
    order); every count, minimum, maximum, category and check is identical.
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
        missing-value markers :func:`~defectops.data.row_typing.typed_rows` found in all
        ``rows_read`` rows."""
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
                    examples = sorted(map(str, new.unique()))[:EXAMPLES]
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
            merged = sorted(set(had[2]) | set(examples))[:EXAMPLES]
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
