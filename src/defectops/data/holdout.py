"""Which rows are held out to compare models: recent ones, and enough defects to tell models apart.

The rule, for ``holdout: tail`` (the default), on rows in production order:

1. Take the last ``holdout_fraction`` of the rows.
2. Each class must appear there at least ``want`` times, where ``want`` is the smaller of
   ``holdout_min_defects`` and what a stratified hold-out of that size would hold
   (``ceil(holdout_fraction * class count)``): a small file is not asked for more than it has.
3. When a class falls short, the hold-out widens back in time, row by row from the end, until
   both classes are there ``want`` times, as long as it stays within ``holdout_max_fraction``
   of the rows: still the most recent rows, so models are judged on the line as it is now.
4. When even the widest tail falls short (defects clustered early in the line's history), the
   hold-out is a seeded stratified sample of ``holdout_fraction`` of the rows instead.

``holdout: stratified`` always takes step 4. Whatever was chosen is said, with why, in the
training report and on the terminal.

>>> y = np.r_[np.ones(10), np.zeros(90)]          # defects only in the first tenth
>>> choice = choose_holdout(y, "tail", 0.2, min_defects=20, max_fraction=0.4, seed=1)
>>> choice.rule, len(choice.positions), choice.defects
('stratified', 20, 2)
>>> y = np.r_[np.zeros(50), np.ones(5), np.zeros(45)]
>>> choice = choose_holdout(y, "tail", 0.2, min_defects=20, max_fraction=0.5, seed=1)
>>> choice.rule, len(choice.positions), choice.defects
('widened tail', 46, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from defectops.core.errors import UserError


@dataclass(frozen=True)
class Holdout:
    """The hold-out's sorted row positions, the rule that chose them, and why."""

    positions: np.ndarray
    rule: str
    why: str
    defects: int
    fraction: float

    @property
    def is_tail(self) -> bool:
        return self.rule != "stratified"

    def describe(self) -> str:
        return f"{self.rule}: {len(self.positions):,} rows, {self.defects:,} defects ({self.why})"

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "rows": len(self.positions),
            "defects": self.defects,
            "fraction": self.fraction,
            "why": self.why,
        }


def holdout_size(n_rows: int, fraction: float) -> int:
    """Rows kept aside: ``fraction`` of the valid rows, rounded up; at least one."""
    n_hold = max(1, math.ceil(n_rows * fraction))
    if n_hold >= n_rows:
        raise UserError(f"only {n_rows} valid rows: too few to keep a hold-out aside")
    return n_hold


def choose_holdout(
    y: np.ndarray,
    strategy: str,
    fraction: float,
    *,
    min_defects: int,
    max_fraction: float,
    seed: int,
) -> Holdout:
    """The hold-out of rows labelled ``y`` (1 defect, 0 good, in production order)."""
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    n_hold = holdout_size(n, fraction)
    if strategy == "stratified":
        return _stratified(y, n_hold, seed, "as configured (holdout: stratified)", fraction)
    want = {cls: min(min_defects, math.ceil(fraction * int(np.sum(y == cls)))) for cls in (0, 1)}
    tail = y[-n_hold:]
    if all(np.sum(tail == cls) >= want[cls] for cls in (0, 1)):
        return Holdout(
            np.arange(n - n_hold, n),
            "tail",
            f"the last {fraction:.0%} of the rows",
            int(tail.sum()),
            fraction,
        )
    widest = min(n - 1, math.floor(n * max_fraction))
    needed = max(_rows_from_end(y, cls, want[cls]) for cls in (0, 1))
    needed = max(needed, n_hold)
    if needed <= widest:
        return Holdout(
            np.arange(n - needed, n),
            "widened tail",
            f"the last {fraction:.0%} held {int(tail.sum())} defects and "
            f"{int(len(tail) - tail.sum())} good parts; widened back in time until it holds "
            f"{want[1]} and {want[0]}, within holdout_max_fraction {max_fraction:g}",
            int(y[-needed:].sum()),
            fraction,
        )
    short = int(y[-widest:].sum()) if widest > 0 else 0
    return _stratified(
        y,
        n_hold,
        seed,
        f"even the last {max_fraction:.0%} of the rows hold only {short} defects "
        f"(fewer than {want[1]}): defects are clustered earlier in the line's history",
        fraction,
    )


def _rows_from_end(y: np.ndarray, cls: int, count: int) -> int:
    """The fewest rows from the end holding ``count`` rows of class ``cls`` (``n + 1`` when
    there are not that many)."""
    if count <= 0:
        return 0
    hits = np.flatnonzero(y[::-1] == cls)
    return int(hits[count - 1]) + 1 if len(hits) >= count else len(y) + 1


def _stratified(y: np.ndarray, n_hold: int, seed: int, why: str, fraction: float) -> Holdout:
    counts = np.bincount(y, minlength=2)
    stratify = y if counts.min() >= 2 else None
    _, hold = train_test_split(
        np.arange(len(y)), test_size=n_hold, stratify=stratify, random_state=seed
    )
    hold = np.sort(hold)
    return Holdout(hold, "stratified", why, int(y[hold].sum()), fraction)
