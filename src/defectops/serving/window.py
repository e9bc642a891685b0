"""The rows the service scored lately: a fixed-size ring of sampled rows, for drift checks.

Drift is judged on what the line sends now, so the service keeps the last ``capacity`` rows it
scored (a share ``sample_rate`` of them, drawn by a seeded generator, so a replayed stream keeps
the same rows). Memory is fixed when the window is made: one float matrix for the numeric
features, one object matrix for the categorical ones (a column of it per feature), the scores
and which champion scored each row.

Rows enter on the event loop, as part of a request, so adding them is slice copies into the
preallocated arrays (a few microseconds for one record, tens for a thousand); the drift summary
copies the window under the same lock from a worker thread and does its work on the copy.

>>> window = ScoredWindow(("a",), ("c",), capacity=3)
>>> window.add_one([1.0, "x"], 0.2, model=0)
>>> window.add_many(np.array([[2.0], [3.0], [4.0]]), [np.array(["y", "z", "w"], dtype=object)],
...                 np.array([0.3, 0.4, 0.5]), model=0)
>>> snap = window.snapshot()
>>> snap.numbers[:, 0].tolist(), snap.categories[:, 0].tolist(), window.size, window.added
([2.0, 3.0, 4.0], ['y', 'z', 'w'], 3, 4)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class WindowSnapshot:
    """A copy of the window's rows, oldest first."""

    numbers: np.ndarray  # (rows, numeric features), float64, NaN = missing
    categories: np.ndarray  # (rows, categorical features), object
    scores: np.ndarray  # (rows,), the defect probability served
    models: np.ndarray  # (rows,), int32: which champion scored the row
    added: int  # rows that went through the window since it was made (a change counter)

    def __len__(self) -> int:
        return len(self.scores)


class ScoredWindow:
    """The last ``capacity`` sampled rows scored with one feature layout."""

    def __init__(
        self,
        numeric: tuple[str, ...],
        categorical: tuple[str, ...],
        capacity: int,
        *,
        sample_rate: float = 1.0,
        seed: int = 0,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1 (got {capacity})")
        if not 0.0 < sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be in (0, 1] (got {sample_rate})")
        self.numeric, self.categorical = numeric, categorical
        self.capacity = capacity
        self.sample_rate = sample_rate
        self._rng = np.random.default_rng(seed)
        self._numbers = np.full((capacity, len(numeric)), np.nan)
        self._categories = np.full((capacity, len(categorical)), None, dtype=object)
        self._scores = np.zeros(capacity)
        self._models = np.zeros(capacity, dtype=np.int32)
        self._n_numeric = len(numeric)
        self._next = 0
        self.size = 0
        self.added = 0
        self._lock = threading.Lock()

    def add_one(self, values: Sequence[Any], score: float, *, model: int) -> None:
        """One record, its values in feature order (numeric ones: float or None)."""
        if self.sample_rate < 1.0 and self._rng.random() >= self.sample_rate:
            return
        n = self._n_numeric
        with self._lock:
            i = self._next
            self._numbers[i] = values[:n]
            self._categories[i] = values[n:]
            self._scores[i] = score
            self._models[i] = model
            self._next = (i + 1) % self.capacity
            if self.size < self.capacity:
                self.size += 1
            self.added += 1

    def add_many(
        self,
        numbers: np.ndarray,
        categories: Sequence[np.ndarray],
        scores: np.ndarray,
        *,
        model: int,
    ) -> None:
        """A batch: ``numbers`` (rows x numeric), one object array per categorical, scores."""
        rows = len(scores)
        if self.sample_rate < 1.0:
            keep = np.flatnonzero(self._rng.random(rows) < self.sample_rate)
            if keep.size == 0:
                return
            if keep.size < rows:
                numbers = numbers[keep]
                categories = [column[keep] for column in categories]
                scores = scores[keep]
                rows = keep.size
        if rows > self.capacity:  # only the newest rows would survive anyway
            numbers = numbers[-self.capacity :]
            categories = [column[-self.capacity :] for column in categories]
            scores = scores[-self.capacity :]
            skipped, rows = rows - self.capacity, self.capacity
        else:
            skipped = 0
        with self._lock:
            start = self._next
            first = min(rows, self.capacity - start)  # up to the end of the ring, then wrap
            pieces = [(start, 0, first)]
            if rows > first:
                pieces.append((0, first, rows - first))
            for at, offset, n in pieces:
                dst, src = slice(at, at + n), slice(offset, offset + n)
                self._numbers[dst] = numbers[src]
                for j, column in enumerate(categories):
                    self._categories[dst, j] = column[src]
                self._scores[dst] = scores[src]
                self._models[dst] = model
            self._next = (start + rows) % self.capacity
            self.size = min(self.capacity, self.size + rows)
            self.added += rows + skipped

    def snapshot(self) -> WindowSnapshot:
        """A consistent copy of the rows, oldest first."""
        with self._lock:
            size, end, added = self.size, self._next, self.added
            if size < self.capacity:
                order: slice | np.ndarray = slice(0, size)
            else:
                order = np.r_[end : self.capacity, 0:end]
            return WindowSnapshot(
                numbers=self._numbers[order].copy(),
                categories=self._categories[order].copy(),
                scores=self._scores[order].copy(),
                models=self._models[order].copy(),
                added=added,
            )
