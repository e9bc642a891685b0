"""Per numeric column: the mean, spread and median the features are scaled and filled by.

Fitted on one frame (:func:`column_scaling`) or from summaries of partitions that merge exactly
(:class:`NumericMoments`), so the scaler can be fitted on data that no single machine holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the quantiles a partition's values are summarised at, for the median of many partitions
QUANTILES = np.linspace(0.0, 1.0, 101)


def column_scaling(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column of one frame: mean, population standard deviation, whether a value is missing,
    and median, all over the finite values only."""
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    clean = np.where(finite, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, clean.sum(axis=0) / np.maximum(count, 1), 0.0)
        var = np.where(finite, (clean - mean) ** 2, 0.0).sum(axis=0) / np.maximum(count, 1)
    median = column_medians(np.where(finite, values, np.nan))
    return mean, np.sqrt(var), ~finite.all(axis=0), median


def column_medians(values: np.ndarray) -> np.ndarray:
    """``np.nanmedian`` per column, NaN for a column without a value (and no warning)."""
    out = np.full(values.shape[1], np.nan)
    present = np.isfinite(values).any(axis=0)
    if present.any():
        out[present] = np.nanmedian(values[:, present], axis=0)
    return out


def _quantile_grid(values: np.ndarray) -> np.ndarray:
    """Each column's values at ``QUANTILES`` as ``(len(QUANTILES), columns)`` (NaN: none)."""
    grid = np.full((len(QUANTILES), values.shape[1]), np.nan)
    present = np.isfinite(values).any(axis=0)
    if present.any():
        grid[:, present] = np.nanquantile(values[:, present], QUANTILES, axis=0)
    return grid


@dataclass(frozen=True)
class NumericMoments:
    """Per numeric column: rows, finite values, their mean and summed squared deviations.

    Summaries of partitions merge exactly like the statistics of the rows taken together (up to
    float rounding), so the scaler of :class:`~defectops.features.builder.FeatureBuilder` can be
    fitted on data that no single machine holds.
    """

    n_rows: int
    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    #: per partition, its values at ``QUANTILES`` (rows) and its count, for the median: the
    #: median of the union is read off the weighted grid points (exact to a partition's 1%)
    grid: np.ndarray | None = None
    grid_counts: np.ndarray | None = None

    @classmethod
    def of(cls, values: np.ndarray) -> NumericMoments:
        finite = np.isfinite(values)
        count = finite.sum(axis=0)
        clean = np.where(finite, values, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, clean.sum(axis=0) / np.maximum(count, 1), 0.0)
            m2 = np.where(finite, (clean - mean) ** 2, 0.0).sum(axis=0)
        grid = _quantile_grid(np.where(finite, values, np.nan))
        return cls(len(values), count, mean, m2, grid, count[None, :].astype(float))

    def merge(self, other: NumericMoments) -> NumericMoments:
        """Chan, Golub and LeVeque's pairwise update of count, mean and M2; the grids stacked."""
        count = self.count + other.count
        delta = other.mean - self.mean
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(count > 0, other.count / np.maximum(count, 1), 0.0)
            mean = self.mean + delta * weight
            m2 = self.m2 + other.m2 + delta**2 * self.count * weight
        grids = [g for g in (self.grid, other.grid) if g is not None]
        counts = [c for c in (self.grid_counts, other.grid_counts) if c is not None]
        return NumericMoments(
            self.n_rows + other.n_rows,
            count,
            mean,
            m2,
            np.concatenate(grids) if grids else None,
            np.concatenate(counts) if counts else None,
        )

    @property
    def median(self) -> np.ndarray:
        """Each column's median, from the partitions' quantile grids (NaN: no value)."""
        n_columns = len(self.count)
        if self.grid is None or self.grid_counts is None:
            return np.full(n_columns, np.nan)
        k = len(QUANTILES)
        out = np.full(n_columns, np.nan)
        for j in range(n_columns):
            points = self.grid[:, j]
            weights = np.repeat(self.grid_counts[:, j], k) / k  # each point 1/k of its part
            keep = np.isfinite(points) & (weights > 0)
            if not keep.any():
                continue
            order = np.argsort(points[keep], kind="stable")
            cumulative = np.cumsum(weights[keep][order])
            half = cumulative[-1] / 2
            out[j] = points[keep][order][np.searchsorted(cumulative, half)]
        return out

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation, as :func:`column_scaling` computes it for a frame."""
        return np.sqrt(self.m2 / np.maximum(self.count, 1))
