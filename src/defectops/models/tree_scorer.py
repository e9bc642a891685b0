"""Score a few rows on an XGBoost booster's trees with numpy, for the served single record.

XGBoost's ``inplace_predict`` has a fixed cost of roughly 150-300 us per call (argument
marshalling, its thread pool, a class built per call) whatever the number of rows, which made it
half of a served record's CPU time. Walking ~100 trees of depth 6 for a handful of rows is a
few dozen numpy operations, several times cheaper. Big batches still go to the booster, which
is faster there.

The scorer is never trusted blindly: :func:`compile_trees` scores probe rows built from every
split point (both sides of each threshold, missing values, every category in a split, unseen
codes) with both the booster and the numpy walk, and returns ``None`` when they disagree, so the
caller keeps using the booster.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger("defectops.models")

#: the walk adds leaves in XGBoost's order and precision, so margins should agree exactly;
#: the tolerance only absorbs a last-bit difference in the base margin's logit
AGREEMENT_TOLERANCE = 1e-6
PROBE_ROWS = 512


@dataclass(frozen=True)
class TreeScorer:
    """All trees flattened into one node table; a leaf points to itself so extra steps are no-ops.

    XGBoost's rules, which the probe check confirms: a numeric split sends ``x < threshold``
    left; a categorical split sends the categories listed in the node right and every other
    code (unseen, negative, too large) left; a missing value takes the node's default side.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    is_categorical: np.ndarray
    category_nodes: np.ndarray  # indices of the categorical split nodes
    category_keys_base: np.ndarray  # category_nodes * category_width
    value: np.ndarray
    roots: np.ndarray
    depth: int
    category_keys: np.ndarray  # sorted node * category_width + code, for the listed categories
    category_width: int
    base_margin: float

    def margin(self, X: np.ndarray) -> np.ndarray:
        """The booster's margin (log-odds) for each row of ``X`` (meant for very few rows)."""
        X = np.asarray(X, dtype=np.float32)
        return np.array([self._one(row) for row in X], dtype=np.float64).reshape(len(X))

    def _one(self, row: np.ndarray) -> float:
        """All nodes decide at once (a few operations on one array), then one lookup per level."""
        x = row[self.feature]  # the value each node looks at
        go_left = x < self.threshold
        if self.category_nodes.size:
            code = x[self.category_nodes]
            valid = code >= 0  # NaN compares False: missing is handled below
            key = self.category_keys_base + np.where(
                valid & (code < self.category_width), code, self.category_width - 1
            ).astype(np.int64)
            at = np.searchsorted(self.category_keys, key).clip(max=self.category_keys.size - 1)
            go_left[self.category_nodes] = ~(valid & (self.category_keys[at] == key))
        if np.isnan(row).any():
            go_left = np.where(np.isnan(x), self.default_left, go_left)
        step = np.where(go_left, self.left, self.right)  # each node's next node for this row
        node = self.roots
        for _ in range(self.depth):
            node = step[node]
        # XGBoost adds the trees' leaves one by one in float32 to the base margin: so do we,
        # which makes the result bit-identical rather than merely close
        leaves = np.concatenate([[self.base_margin], self.value[node]]).astype(np.float32)
        return float(np.cumsum(leaves, dtype=np.float32)[-1])


def compile_trees(booster: Any) -> TreeScorer | None:
    """The numpy scorer of ``booster``, or None when it is not a tree model it agrees with."""
    try:
        model = json.loads(booster.save_raw("json"))["learner"]
        trees = model["gradient_booster"]["model"]["trees"]
        n_features = int(model["learner_model_param"]["num_feature"])
    except (KeyError, TypeError, ValueError) as exc:  # gblinear, dart or a future format
        log.info("numpy tree scorer not available: %s", exc)
        return None
    if not trees:
        return None
    scorer = _flatten(trees, n_features, _base_margin(model))
    probe = _probe_rows(scorer, n_features)
    expected = np.asarray(booster.inplace_predict(probe, predict_type="margin"), np.float64)
    worst = float(np.max(np.abs(scorer.margin(probe) - expected)))
    if not worst <= AGREEMENT_TOLERANCE:
        log.warning("numpy tree scorer disagrees with the booster by %.3g: not used", worst)
        return None
    return scorer


def _base_margin(learner: dict[str, Any]) -> float:
    """The margin every row starts from: the base score, through the logit for logistic losses."""
    base = np.float32(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    if learner["objective"]["name"] in ("binary:logistic", "reg:logistic"):
        return float(np.float32(-np.log(np.float32(1.0) / base - np.float32(1.0))))
    return float(base)


def _flatten(trees: list[dict[str, Any]], n_features: int, base_margin: float) -> TreeScorer:
    left, right, feature, threshold, default_left, categorical, value, roots = (
        [] for _ in range(8)
    )
    keys: list[tuple[int, int]] = []
    depth, offset = 0, 0
    for tree in trees:
        lc = np.asarray(tree["left_children"], np.int64)
        rc = np.asarray(tree["right_children"], np.int64)
        n = len(lc)
        leaf = lc < 0
        own = np.arange(n) + offset
        left.append(np.where(leaf, own, lc + offset))
        right.append(np.where(leaf, own, rc + offset))
        feature.append(np.where(leaf, 0, np.asarray(tree["split_indices"], np.int64)))
        conditions = np.asarray(tree["split_conditions"], np.float32)
        threshold.append(np.where(leaf, np.float32(0), conditions))
        value.append(np.where(leaf, conditions, np.float32(0)))
        default_left.append(np.asarray(tree["default_left"], bool))
        is_cat = np.zeros(n, bool)
        split_type = tree.get("split_type") or [0] * n
        is_cat[:] = np.asarray(split_type, np.int64) == 1
        categorical.append(is_cat & ~leaf)
        cats = tree.get("categories") or []
        for node, start, size in zip(
            tree.get("categories_nodes") or [],
            tree.get("categories_segments") or [],
            tree.get("categories_sizes") or [],
            strict=True,
        ):
            keys.extend((node + offset, int(c)) for c in cats[start : start + size])
        roots.append(offset)
        depth = max(depth, _depth(lc, rc))
        offset += n
    # one spare code past the largest listed: where unseen or too-large codes are looked up
    width = max((c for _, c in keys), default=0) + 2
    is_categorical = np.concatenate(categorical)
    category_keys = np.unique(np.asarray([n * width + c for n, c in keys], np.int64))
    return TreeScorer(
        left=np.concatenate(left),
        right=np.concatenate(right),
        feature=np.concatenate(feature).clip(0, max(n_features - 1, 0)),
        threshold=np.concatenate(threshold),
        default_left=np.concatenate(default_left),
        is_categorical=is_categorical,
        category_nodes=np.flatnonzero(is_categorical),
        category_keys_base=np.flatnonzero(is_categorical) * width,
        value=np.concatenate(value),
        roots=np.asarray(roots, np.int64),
        depth=depth,
        category_keys=category_keys,
        category_width=width,
        base_margin=float(base_margin),
    )


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Edges on the longest root-to-leaf path."""
    level, frontier = 0, np.array([0])
    while True:
        children = np.concatenate([left[frontier], right[frontier]])
        children = children[children >= 0]
        if not children.size:
            return level
        frontier, level = children, level + 1


def _probe_rows(scorer: TreeScorer, n_features: int) -> np.ndarray:
    """Rows whose values sit on, just below and beside every split, plus missing values."""
    rng = np.random.default_rng(0)
    splits = ~scorer.is_categorical & (scorer.left != np.arange(len(scorer.left)))
    candidates: list[np.ndarray] = []
    for j in range(n_features):
        at = scorer.threshold[splits & (scorer.feature == j)]
        below = np.nextafter(at, np.float32(-np.inf))
        codes = (scorer.category_keys % scorer.category_width).astype(np.float32)
        own_codes = codes[
            np.isin(
                scorer.category_keys // scorer.category_width,
                np.flatnonzero(scorer.is_categorical & (scorer.feature == j)),
            )
        ]
        extra = np.array([np.nan, -1.0, 0.0, scorer.category_width + 3.0], np.float32)
        candidates.append(np.unique(np.concatenate([at, below, own_codes, extra])))
    probe = np.empty((PROBE_ROWS, n_features), np.float32)
    for j, values in enumerate(candidates):
        probe[:, j] = rng.choice(values, PROBE_ROWS)
    return probe
