"""The one preprocessing path shared by training and serving: a frame in, a model matrix out.

Training, hold-out scoring and the HTTP service all call :meth:`FeatureBuilder.transform`, so a
value is turned into features the same way everywhere, whether it arrives in a million-row batch
or as one JSON record whose numbers are strings.

Numeric columns
    Coerced with ``pd.to_numeric(errors="coerce")`` (an API may send ``"12.5"``); ``inf`` counts as
    missing, because no model here can use it and a linear model turns it into NaN. A value
    missing in a column that had none in ``fit`` is read as the column's training median
    (``median_``): the one rule for every model (see :meth:`FeatureBuilder._fill_unseen_missing`).
Categorical columns
    Canonicalised with :func:`defectops.data.schema.category_strings` (``101``, ``101.0`` and
    ``"101"`` are one ID), missing becomes a value of its own (``"<missing>"``), then *feature
    hashed*: no vocabulary is learned, so an ID first seen at serving time needs no refit and never
    fails, and the model size is fixed by ``n_buckets`` however many IDs a plant has. The hash is
    ``pd.util.hash_array`` (SipHash with a fixed key: the same in every process and platform, unlike
    Python's ``hash``) of the text, mixed with a salt from the column name so that machine ``7`` and
    operator ``7`` land in different buckets. Only the distinct values of a column are hashed.
Crosses
    ``"auto"`` adds machine x operator (an operator may run one machine badly), hashed from the two
    columns' hashes rather than from concatenated strings.

Two layouts of the same information:

* ``output="sparse"`` (linear models, the seed ensemble): CSR float64 ``[standardised numeric |
  missing indicators | n_buckets signed hashed columns]``. A missing number becomes 0, which is the
  training mean after scaling, and its indicator column says it was missing.
* ``output="codes"`` (gradient-boosted trees, which need neither scaling nor imputation): dense
  float32 ``[raw numeric with NaN | one category code per categorical column and cross]``, with
  :attr:`FeatureBuilder.feature_types_` telling XGBoost which columns are categorical. The code
  is not the bucket index itself but the bucket's rank among the buckets seen in ``fit``
  (``0 .. k-1``; a bucket never seen is NaN, i.e. missing for the trees). XGBoost's categorical
  split search costs time in proportion to the largest code, not to the distinct values, so
  bucket indices up to 4095 made boosting ~10x slower than these compact codes. The codes are
  append-only: :meth:`FeatureBuilder.learn_new_categories` gives IDs first seen in a later chunk
  codes of their own without changing any existing code, which is how a warm-started booster
  learns about new supplier batches while its old trees keep their meaning.

Frames of at most ``SMALL_BATCH`` rows take a lean path (one ``to_numpy`` of the frame instead of
one pandas call per column), because per-column pandas overhead, not arithmetic, is what a single
served record costs. Both paths share the hashing code and give identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from defectops.core.errors import UserError
from defectops.features.hashing import (
    TOP_BIT,
    cell_hashes,
    column_hashes,
    crossed_hashes,
    hash_values,
    plain_column_hashes,
    salt,
)
from defectops.features.moments import NumericMoments, column_scaling
from defectops.features.small_batch import object_table, parse_numbers

#: frames with at most this many rows take the lean path (see the module docstring)
SMALL_BATCH = 32


class FeatureBuilder(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """Turn a frame into a model matrix: scaled numbers, missing flags and hashed IDs.

    Parameters
    ----------
    numeric, categorical
        Column names; other columns of the frame are ignored.
    crosses
        ``"auto"`` (machine x operator when both exist), a sequence of ``(a, b)`` pairs of
        categorical columns, or ``()`` / ``None`` for none.
    n_buckets
        Width of the hashed block; two IDs share a bucket with probability ``1 / n_buckets``.
    output
        ``"sparse"`` for linear models, ``"codes"`` for gradient-boosted trees.

    Learned attributes: ``numeric_``, ``categorical_``, ``crosses_`` (resolved pairs), ``mean_``
    and ``scale_`` (NaN-aware; 1 where the spread is 0 or unknown), ``missing_indicator_`` (the
    numeric columns with missing values in fit, which get an indicator column),
    ``category_buckets_`` (codes layout: the buckets seen, in code order), ``feature_types_``
    (codes layout, for XGBoost), ``n_features_out_`` and ``feature_names_out_``.
    """

    def __init__(
        self,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        crosses: str | Sequence[tuple[str, str]] | None = "auto",
        n_buckets: int = 4096,
        output: Literal["sparse", "codes"] = "sparse",
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.crosses = crosses
        self.n_buckets = n_buckets
        self.output = output

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureBuilder:
        """Learn the numeric scaling and, for ``codes``, which buckets occur.

        Hashing itself learns nothing, which is what lets any ID be served later.
        """
        numeric, categorical = self._setup()
        frame = _check_frame(X, numeric + categorical)
        if len(frame) == 0:
            raise UserError("no rows to fit the features on")
        mean, std, missing, median = column_scaling(self._numeric_values(frame))
        return self._finish(mean, std, missing, lambda: self._seen(frame), median)

    def numeric_moments(self, X: pd.DataFrame) -> NumericMoments:
        """Count, mean and squared deviations of each numeric column of ``X`` (one partition).

        With :meth:`buckets_seen` and :meth:`fit_from_parts` this fits the features on data
        spread over many partitions: each partition is summarised where it lives, only the
        summaries travel.
        """
        numeric, categorical = self._setup()
        values = self._numeric_values(_check_frame(X, numeric + categorical))
        return NumericMoments.of(values)

    def buckets_seen(self, X: pd.DataFrame) -> list[np.ndarray]:
        """The distinct hash buckets of each categorical column and cross in ``X``."""
        numeric, categorical = self._setup()
        return self._seen(_check_frame(X, numeric + categorical))

    def fit_from_parts(
        self, moments: NumericMoments, buckets: Sequence[np.ndarray] | None = None
    ) -> FeatureBuilder:
        """Fit from the merged summaries of all partitions, as :meth:`fit` would on all rows.

        ``moments`` is the :meth:`~defectops.features.moments.NumericMoments.merge` of every
        partition's :meth:`numeric_moments`; ``buckets`` the union of their :meth:`buckets_seen`
        (codes layout). The codes are the same as :meth:`fit` gives; the scaling agrees up to float
        rounding (the moments are combined pairwise, Chan et al. 1979).
        """
        self._setup()
        if moments.n_rows == 0:
            raise UserError("no rows to fit the features on")
        seen = list(buckets) if buckets is not None else None
        return self._finish(
            moments.mean,
            moments.std,
            moments.count < moments.n_rows,
            lambda: seen or [],
            moments.median,
        )

    def _setup(self) -> tuple[list[str], list[str]]:
        """Everything learned from the parameters alone: columns, crosses, salts."""
        numeric, categorical = self._check_params()
        self.numeric_ = numeric
        self.categorical_ = categorical
        self.crosses_ = self._resolve_crosses(categorical)
        index = {name: i for i, name in enumerate(categorical)}
        self._cross_positions_ = [(index[a], index[b]) for a, b in self.crosses_]
        self.salts_ = np.array([salt(c) for c in categorical], dtype=np.uint64)
        self.cross_salts_ = np.array([salt(f"{a} x {b}") for a, b in self.crosses_], np.uint64)
        return numeric, categorical

    def _finish(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        missing: np.ndarray,
        seen: Callable[[], list[np.ndarray]],
        median: np.ndarray,
    ) -> FeatureBuilder:
        numeric, categorical = self.numeric_, self.categorical_
        self.mean_ = mean
        self.scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.missing_indicator_ = missing
        self.median_ = median

        n_hashed = len(categorical) + len(self.crosses_)
        self.category_buckets_: list[np.ndarray] = [np.empty(0, np.int64)] * n_hashed
        if self.output == "codes":
            if n_hashed:
                self._grow(seen())
            names = [*numeric, *categorical, *(f"{a} x {b}" for a, b in self.crosses_)]
            self.feature_types_: list[str] | None = ["q"] * len(numeric) + ["c"] * n_hashed
            self.n_features_out_ = len(names)
        else:
            flagged = [
                f"{c} missing" for c, m in zip(numeric, self.missing_indicator_, strict=True) if m
            ]
            names = [*numeric, *flagged]
            self.feature_types_ = None
            self.n_features_out_ = len(names) + (self.n_buckets if n_hashed else 0)
        self._leading_names_ = names
        self.feature_names_in_ = np.asarray(numeric + categorical, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def _check_params(self) -> tuple[list[str], list[str]]:
        for role in ("numeric", "categorical"):
            if isinstance(getattr(self, role), str):
                raise UserError(f"{role} must be a list of column names, not one string")
        numeric, categorical = list(self.numeric), list(self.categorical)
        names = numeric + categorical
        if not names:
            raise UserError("FeatureBuilder needs at least one numeric or categorical column")
        repeated = sorted({c for c in names if names.count(c) > 1})
        if repeated:
            raise UserError(
                f"column {repeated[0]!r} is listed twice (as numeric and/or categorical); "
                f"give each feature column one role"
            )
        if not isinstance(self.n_buckets, int | np.integer) or self.n_buckets < 1:
            raise UserError(f"n_buckets must be a positive integer (got {self.n_buckets!r})")
        if self.output not in ("sparse", "codes"):
            raise UserError(f"output must be 'sparse' or 'codes' (got {self.output!r})")
        return numeric, categorical

    def _resolve_crosses(self, categorical: list[str]) -> list[tuple[str, str]]:
        if self.crosses is None:
            return []
        if isinstance(self.crosses, str):
            if self.crosses != "auto":
                raise UserError(
                    f"crosses must be 'auto' or a list of column pairs (got {self.crosses!r})"
                )
            machine = next((c for c in categorical if "machine" in c.lower()), None)
            operator = next(
                (c for c in categorical if "operator" in c.lower() and c != machine), None
            )
            return [(machine, operator)] if machine and operator else []
        pairs = []
        for pair in self.crosses:
            a, b = pair
            for name in (a, b):
                if name not in categorical:
                    raise UserError(
                        f"cross {a!r} x {b!r}: column {name!r} is not a categorical feature"
                    )
            if a == b:
                raise UserError(f"cross {a!r} x {b!r}: a column cannot be crossed with itself")
            pairs.append((a, b))
        return pairs

    # -- transforming ----------------------------------------------------------------------------

    def transform(self, X: pd.DataFrame) -> sp.csr_matrix | np.ndarray:
        """The model matrix of ``X``; unseen IDs and missing values never fail."""
        if not hasattr(self, "n_features_out_"):
            raise NotFittedError("this FeatureBuilder is not fitted yet; call fit first")
        if not isinstance(X, pd.DataFrame):
            raise UserError(f"features need a pandas DataFrame (got {type(X).__name__})")
        if len(X) <= SMALL_BATCH and X.columns.is_unique:
            values, hashes = self._small_batch(X)
        else:
            frame = _check_frame(X, self.numeric_ + self.categorical_)
            values = self._numeric_values(frame)
            hashes = self._hashes_by_column(frame)
        return self._matrix(values, hashes)

    def transform_columns(
        self, numbers: np.ndarray, categories: Sequence[np.ndarray]
    ) -> sp.csr_matrix | np.ndarray:
        """The model matrix from columns already split by role, as :meth:`transform` makes it.

        ``numbers`` is ``(rows, len(numeric_))`` float64 (NaN = missing), ``categories`` one
        array per ``categorical_`` column of plain values (text, numbers, None: what a JSON
        body holds; see :func:`plain_column_hashes`). For a caller that holds columns, not a
        frame (the service's batch reader): building a DataFrame only to take it apart costs
        more than the transform.
        """
        if not hasattr(self, "n_features_out_"):
            raise NotFittedError("this FeatureBuilder is not fitted yet; call fit first")
        values = np.array(numbers, dtype=np.float64, ndmin=2, copy=True)
        if values.shape[1] != len(self.numeric_) or len(categories) != len(self.categorical_):
            raise UserError(
                f"expected {len(self.numeric_)} numeric and {len(self.categorical_)} categorical "
                f"columns (got {values.shape[1]} and {len(categories)})"
            )
        return self._matrix(values, plain_column_hashes(categories, self.salts_))

    def _matrix(self, values: np.ndarray, hashes: list[np.ndarray]) -> sp.csr_matrix | np.ndarray:
        values[~np.isfinite(values)] = np.nan
        self._fill_unseen_missing(values)
        if self.output == "codes":
            return self._codes(values, hashes)
        return self._sparse(values, hashes)

    def _fill_unseen_missing(self, values: np.ndarray) -> None:
        """A number missing where training saw none is read as the training median.

        Where training saw missing values the model learned what they mean (an indicator
        column, a default direction of each tree split). Where it saw none it learned nothing:
        a tree sends the row down an arbitrary branch (one AI4I model flagged every part with a
        blank torque), a linear model reads the mean. The median is the one answer for every
        model. A model fitted before medians were recorded keeps its old behaviour.
        """
        median = getattr(self, "median_", None)
        if median is None or not values.size:
            return
        for j in np.flatnonzero(~self.missing_indicator_ & np.isfinite(median)):
            column = values[:, j]
            column[np.isnan(column)] = median[j]

    def learn_new_categories(self, X: pd.DataFrame) -> FeatureBuilder:
        """Give the buckets first seen in ``X`` new category codes; existing codes never change.

        Only the ``codes`` layout has such codes (the sparse layout needs nothing learned).
        Numeric scaling is left alone, so a model fitted on the old codes stays valid.
        """
        if not hasattr(self, "category_buckets_"):
            raise NotFittedError("this FeatureBuilder is not fitted yet; call fit first")
        if self.output != "codes" or not self.category_buckets_:
            return self
        return self._grow(self._seen(_check_frame(X, self.numeric_ + self.categorical_)))

    def learn_new_buckets(self, buckets: Sequence[np.ndarray]) -> FeatureBuilder:
        """:meth:`learn_new_categories` from the merged :meth:`buckets_seen` of partitions."""
        if not hasattr(self, "category_buckets_"):
            raise NotFittedError("this FeatureBuilder is not fitted yet; call fit first")
        if self.output != "codes" or not self.category_buckets_:
            return self
        return self._grow(list(buckets))

    def _seen(self, frame: pd.DataFrame) -> list[np.ndarray]:
        if not self.categorical_:
            return []
        buckets = self._all_hashes(self._hashes_by_column(frame)) % np.uint64(self.n_buckets)
        return [np.unique(column) for column in buckets.T.astype(np.int64)]

    def _grow(self, seen: list[np.ndarray]) -> FeatureBuilder:
        grown = []
        for known, new in zip(self.category_buckets_, seen, strict=True):
            grown.append(np.concatenate([known, np.setdiff1d(new, known)]))
        self.category_buckets_ = grown
        # one sorted key per (column, bucket), so a single searchsorted finds every code
        keys = np.concatenate([j * self.n_buckets + b for j, b in enumerate(grown)])
        codes = np.concatenate([np.arange(len(b), dtype=np.float32) for b in grown])
        order = np.argsort(keys)
        self._code_keys_, self._code_values_ = keys[order], codes[order]
        return self

    @property
    def feature_names_out_(self) -> np.ndarray:
        """Readable output names: ``hash#<bucket>`` for the buckets all categorical columns share.

        Built on demand rather than stored, so that a model with millions of buckets does not
        carry millions of strings in its file.
        """
        if not hasattr(self, "_leading_names_"):
            raise AttributeError("feature_names_out_ exists once the FeatureBuilder is fitted")
        hashed = self.n_features_out_ - len(self._leading_names_)
        names = [*self._leading_names_, *(f"hash#{b}" for b in range(hashed))]
        return np.asarray(names, dtype=object)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The output names (see :attr:`feature_names_out_`)."""
        if not hasattr(self, "_leading_names_"):
            raise NotFittedError("this FeatureBuilder is not fitted yet; call fit first")
        return self.feature_names_out_

    def bucket_of(self, column: str, value: Any) -> tuple[int, int]:
        """``(bucket, sign)`` of one value of a categorical column, to read a model's weights."""
        if not hasattr(self, "salts_"):
            raise NotFittedError("this FeatureBuilder is not fitted yet; call fit first")
        if column not in self.categorical_:
            raise UserError(f"column {column!r} is not a categorical feature")
        which = [self.categorical_.index(column)]
        h = hash_values([np.array([value], dtype=object)], self.salts_[which])
        return int(h[0] % np.uint64(self.n_buckets)), int(1 - 2 * int(h[0] >> TOP_BIT))

    def _numeric_values(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.numeric_)), dtype=np.float64)
        for j, name in enumerate(self.numeric_):
            parsed = pd.to_numeric(frame[name], errors="coerce")
            out[:, j] = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def _hashes_by_column(self, frame: pd.DataFrame) -> list[np.ndarray]:
        return column_hashes([frame[name] for name in self.categorical_], self.salts_)

    def _small_batch(self, X: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
        """Few rows: one object array for the whole frame and plain Python per value.

        For a request's one row, pandas' per-call overhead (Series, factorize) costs far more
        than the work; every value goes through the same ``category_text`` as the batch path.
        """
        position = {name: i for i, name in enumerate(X.columns.tolist())}
        for name in (*self.numeric_, *self.categorical_):
            if name not in position:
                _check_frame(X, self.numeric_ + self.categorical_)  # raises, naming the column
        table = object_table(X)
        values = parse_numbers(table[:, [position[c] for c in self.numeric_]])
        columns = table[:, [position[c] for c in self.categorical_]].T
        if not len(columns):
            return values, []
        return values, cell_hashes(columns, self.salts_)

    def _all_hashes(self, hashes: list[np.ndarray]) -> np.ndarray:
        """(rows, categorical + crosses) uint64: a cross hashes the pair of the columns' hashes."""
        return crossed_hashes(hashes, self._cross_positions_, self.cross_salts_)

    def _codes(self, values: np.ndarray, hashes: list[np.ndarray]) -> np.ndarray:
        n = len(values)
        out = np.empty((n, self.n_features_out_), dtype=np.float32)
        k = len(self.numeric_)
        out[:, :k] = values
        if not hashes:
            return out
        buckets = (self._all_hashes(hashes) % np.uint64(self.n_buckets)).astype(np.int64)
        keys = buckets + np.arange(buckets.shape[1], dtype=np.int64) * self.n_buckets
        position = np.searchsorted(self._code_keys_, keys).clip(max=len(self._code_keys_) - 1)
        hit = self._code_keys_[position] == keys
        out[:, k:] = np.where(hit, self._code_values_[position], np.float32(np.nan))
        return out

    def _sparse(self, values: np.ndarray, hashes: list[np.ndarray]) -> sp.csr_matrix:
        n = len(values)
        missing = np.isnan(values)
        scaled = (values - self.mean_) / self.scale_
        scaled[missing] = 0.0
        flags = missing[:, self.missing_indicator_].astype(np.float64)
        dense_width = scaled.shape[1] + flags.shape[1]
        width = dense_width + (len(hashes) + len(self.crosses_) if hashes else 0)
        index_type = np.int32 if (n + 1) * width < np.iinfo(np.int32).max else np.int64
        parts_data = [scaled, flags]
        parts_index = [np.broadcast_to(np.arange(dense_width, dtype=index_type), (n, dense_width))]
        if hashes:
            h = self._all_hashes(hashes)
            parts_data.append(1.0 - 2.0 * (h >> TOP_BIT).astype(np.float64))
            parts_index.append((h % np.uint64(self.n_buckets)).astype(index_type) + dense_width)
        data = np.concatenate(parts_data, axis=1)
        indices = np.concatenate(parts_index, axis=1)
        indptr = np.arange(0, (n + 1) * width, width, dtype=index_type)
        matrix = sp.csr_matrix(
            (data.ravel(), indices.ravel(), indptr), shape=(n, self.n_features_out_)
        )
        matrix.sum_duplicates()  # sorts each row and adds colliding buckets
        return matrix


def _check_frame(X: Any, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise UserError(f"features need a pandas DataFrame (got {type(X).__name__})")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UserError(f"column {missing[0]!r} is missing from the data{more}; the model needs it")
    if not X.columns.is_unique:
        twice = [c for c in columns if c in set(X.columns[X.columns.duplicated()])]
        if twice:
            raise UserError(f"column {twice[0]!r} appears more than once in the data")
    return X
