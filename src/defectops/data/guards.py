"""Columns that would make a model look good and be useless: identifiers and label leaks.

Both are looked for once, when the data contract is decided, before any training.

Identifiers
    A text or categorical column unique per row (a serial number such as ``M14860``), or an
    integer column that rises with the row order (a row counter such as ``UDI``). Hashed or
    split on, they add only noise, or learn *when* a row was written instead of what it
    measured. They are left out of the features by default (``keep_identifiers`` keeps them).
Leak suspects
    A column that alone decides the label for a large share of the defects: a value that
    always means defect (a failure-mode flag written after inspection), or a number that ranks
    the defects almost perfectly on its own (ROC-AUC of at least ``LEAK_AUC``). They are
    reported with the ``--drop`` that removes them, and refused under ``strict``; they stay
    features otherwise, because only the user knows when a column is written.

The rules are written so that real process readings do not trip them: a float reading is never
an identifier, and a value only "always means defect" when it is seen ``MIN_VALUE_ROWS`` times.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: fewer rows than this: too few to call a column unique or a counter
MIN_ROWS = 50
#: a counter goes up (or stays) at least this often from one row to the next
COUNTER_STEPS = 0.99
#: a value "always means defect" only when it occurs at least this often
MIN_VALUE_ROWS = 5
#: ... and the values that always mean defect cover at least this share of the defects
LEAK_SHARE = 0.1
#: a single number ranking the defects at least this well is a leak suspect
LEAK_AUC = 0.99
#: fewer defects than this: no leak can be told from chance
MIN_DEFECTS = 10


def find_identifiers(
    numbers: dict[str, pd.Series], categories: dict[str, pd.Series]
) -> dict[str, str]:
    """``{column: why}`` for the identifiers among typed columns, in file order.

    ``numbers`` holds numeric columns as float (NaN missing), ``categories`` categorical ones
    as text (None missing).
    """
    found: dict[str, str] = {}
    for name, values in categories.items():
        present = values.dropna()
        if len(present) >= MIN_ROWS and len(present) >= 0.5 * len(values):
            distinct = present.nunique()
            if distinct == len(present):
                found[name] = f"unique per row ({distinct:,} distinct values in {len(present):,})"
    for name, values in numbers.items():
        kept = values.dropna().to_numpy(dtype=float)
        if len(kept) < MIN_ROWS or len(kept) < 0.9 * len(values):
            continue
        if not np.all(np.isfinite(kept)) or not np.all(kept == np.floor(kept)):
            continue
        rising = float(np.mean(np.diff(kept) >= 0))
        distinct = len(np.unique(kept))
        if rising >= COUNTER_STEPS and distinct >= COUNTER_STEPS * len(kept):
            found[name] = f"a counter rising with the row order ({kept[0]:g} to {kept[-1]:g})"
    return found


def find_leak_suspects(
    numbers: dict[str, pd.Series], categories: dict[str, pd.Series], y: np.ndarray
) -> dict[str, str]:
    """``{column: why}`` for the columns that alone decide the label of many defects.

    ``y`` is 1 for defect, 0 for good, NaN for unlabelled rows.
    """
    labelled = ~np.isnan(y)
    target = y[labelled]
    defects = int(target.sum())
    if defects < MIN_DEFECTS or defects == len(target):
        return {}
    found: dict[str, str] = {}
    columns: list[tuple[str, pd.Series, bool]] = [
        *((name, values, True) for name, values in numbers.items()),
        *((name, values, False) for name, values in categories.items()),
    ]
    for name, values, numeric in columns:
        kept = values[labelled]
        pure = _pure_defect_values(kept, target)
        covered = sum(count for _, count in pure)
        if pure and covered >= LEAK_SHARE * defects:
            shown = ", ".join(_value_text(v) for v, _ in pure[:3])
            more = f" and {len(pure) - 3} more" if len(pure) > 3 else ""
            found[name] = (
                f"value {shown}{more} always means defect ({covered} of {defects} defects)"
            )
            continue
        if numeric:
            auc = _single_column_auc(kept.to_numpy(dtype=float), target)
            if auc is not None and auc >= LEAK_AUC:
                found[name] = f"alone ranks the defects with ROC-AUC {auc:.3f}"
    return found


def drop_hint(existing: Sequence[str], suspects: Sequence[str]) -> str:
    """The exact ``--drop`` option that removes the suspects (with the columns already dropped)."""
    import shlex

    names = [*existing, *(s for s in suspects if s not in existing)]
    return f"--drop {shlex.quote(','.join(names))}"


def _pure_defect_values(values: pd.Series, target: np.ndarray) -> list[tuple[object, int]]:
    """The values (seen ``MIN_VALUE_ROWS`` times or more) whose rows are all defects, with
    their counts, most frequent first."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    present = codes >= 0
    if not present.any():
        return []
    size = np.bincount(codes[present], minlength=len(uniques))
    defects = np.bincount(codes[present], weights=target[present], minlength=len(uniques))
    pure = np.flatnonzero((size >= MIN_VALUE_ROWS) & (defects == size))
    pure = pure[np.argsort(-size[pure], kind="stable")]
    values_seen = np.asarray(uniques, dtype=object)
    return [(values_seen[i], int(size[i])) for i in pure]


def _single_column_auc(values: np.ndarray, target: np.ndarray) -> float | None:
    """ROC-AUC of the column alone (either direction), on the rows where it is present."""
    present = np.isfinite(values)
    if present.sum() < MIN_ROWS:
        return None
    x, t = values[present], target[present]
    positives = int(t.sum())
    negatives = len(t) - positives
    if positives < MIN_DEFECTS or negatives == 0:
        return None
    ranks = pd.Series(x).rank(method="average").to_numpy()
    auc = (ranks[t == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    return float(max(auc, 1 - auc))


def _value_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)
