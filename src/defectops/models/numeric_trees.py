"""An XGBoost booster's one-category splits rewritten as numeric ones: the same margins, faster.

XGBoost predicts a model with categorical splits more slowly per row than a numeric one of the
same size (it leaves its fast tree layout and looks each category up in a bit set), and
the service's batches spend most of their time there. A one-vs-rest split (``max_cat_to_onehot``)
sends code ``c`` right and every other code left, which two numeric splits say as well:
``x < c`` goes left, then ``x < c + 1`` goes right and the rest left, down a copy of the left
subtree. XGBoost truncates a category to an integer and sends negative, too large and unknown
codes left, so for every input, missing values included (each new split keeps the old default
side), the same leaves are reached in the same order and the margins are bit-identical.

The twin is never trusted blindly either: :func:`numeric_twin` scores probe rows built from every
split point with both boosters and returns ``None`` unless they agree exactly.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

log = logging.getLogger("defectops.models")

PROBE_ROWS = 1024
#: a twin that would be this many times larger than the booster is not worth building
MAX_GROWTH = 8


def numeric_twin(booster: Any) -> Any | None:
    """A booster with the same margins and numeric splits only, or None (nothing to gain, a
    split of several categories, or a twin that does not agree with ``booster``)."""
    import xgboost  # present whenever a booster is: its pickle imports it

    try:
        model = json.loads(booster.save_raw("json"))
        trees = model["learner"]["gradient_booster"]["model"]["trees"]
        n_features = int(model["learner"]["learner_model_param"]["num_feature"])
    except (KeyError, TypeError, ValueError) as exc:  # gblinear, dart or a future format
        log.info("numeric twin not available: %s", exc)
        return None
    if not any(any(tree.get("split_type") or ()) for tree in trees):
        return None
    rewritten = [_numeric_tree(tree) for tree in trees]
    if any(tree is None for tree in rewritten):
        return None
    size = sum(len(tree["left_children"]) for tree in trees)
    if sum(len(tree["left_children"]) for tree in rewritten if tree) > MAX_GROWTH * size:
        return None
    model["learner"]["gradient_booster"]["model"]["trees"] = rewritten
    model["learner"]["feature_types"] = []
    probe = _probe_rows(trees, n_features)
    try:
        twin = xgboost.Booster()
        twin.load_model(bytearray(json.dumps(model).encode()))
        config = json.loads(booster.save_config())["learner"]["generic_param"]
        twin.set_param({"nthread": int(config.get("nthread") or 1)})
        margins = twin.inplace_predict(probe, predict_type="margin")
    except Exception as exc:  # only a speed-up: whatever goes wrong, the booster serves
        log.warning("numeric twin of the booster not built: %s", exc)
        return None
    expected = booster.inplace_predict(probe, predict_type="margin")
    if not np.array_equal(margins, expected):
        log.warning("numeric twin of the booster disagrees with it: not used")
        return None
    return twin


def _numeric_tree(tree: dict[str, Any]) -> dict[str, Any] | None:
    """``tree`` with every one-category split as two numeric ones (None: a wider split)."""
    left, right = tree["left_children"], tree["right_children"]
    kind = _split_kinds(tree)
    codes = _split_categories(tree)
    if any(len(sent) != 1 for sent in codes.values()):
        return None
    category = {node: sent[0] for node, sent in codes.items()}
    columns = ("split_indices", "split_conditions", "default_left")
    stats = ("base_weights", "loss_changes", "sum_hessian")
    out: dict[str, list[Any]] = {k: [] for k in ("left", "right", *columns, *stats)}

    def add(source: int) -> int:
        for key in (*columns, *stats):
            out[key].append(tree[key][source])
        out["left"].append(-1)
        out["right"].append(-1)
        return len(out["left"]) - 1

    def children(at: int, low: int, high: int) -> tuple[int, int]:
        """Copies of ``low`` and ``high`` as ``at``'s children, side by side: XGBoost finds a
        right child next to its left one."""
        first = add(low)
        out["left"][at], out["right"][at] = first, add(high)
        return first, first + 1

    def copy(source: int, at: int) -> None:
        """Fill node ``at`` (already added as a copy of ``source``) and its subtree."""
        if left[source] == -1:
            return
        if kind[source] != 1:
            low, high = children(at, left[source], right[source])
            copy(left[source], low)
            copy(right[source], high)
            return
        if source not in category:
            raise _Unreadable
        code = category[source]
        # x < code: the left subtree; else x < code + 1 (the category): the right subtree;
        # beyond it: a copy of the left one. A missing value takes the split's default side
        # at the first node; only a default right reaches the second, which must then go on
        # to the right subtree (its own left child).
        out["split_conditions"][at] = float(code)
        low, high = children(at, left[source], source)
        out["split_conditions"][high] = float(code + 1)
        out["default_left"][high] = 1
        copy(left[source], low)
        chosen, beyond = children(high, right[source], left[source])
        copy(right[source], chosen)
        copy(left[source], beyond)

    try:
        copy(0, add(0))
    except _Unreadable:
        return None
    n = len(out["left"])
    parents = [2147483647] * n
    for node in range(n):
        if out["left"][node] != -1:
            parents[out["left"][node]] = parents[out["right"][node]] = node
    numeric = {key: value for key, value in tree.items() if not key.startswith("categor")}
    numeric.update(
        {key: out[key] for key in (*columns, *stats)},
        left_children=out["left"],
        right_children=out["right"],
        parents=parents,
        split_type=[0] * n,
        categories=[],
        categories_nodes=[],
        categories_segments=[],
        categories_sizes=[],
        tree_param={**tree["tree_param"], "num_nodes": str(n), "num_deleted": "0"},
    )
    return numeric


def _split_kinds(tree: dict[str, Any]) -> list[int]:
    """Each node's split type (1: categorical); a tree of numeric splits may leave it out."""
    return list(tree.get("split_type") or [0] * len(tree["left_children"]))


def _split_categories(tree: dict[str, Any]) -> dict[int, list[int]]:
    """Each categorical split's node and the category codes it sends right."""
    return {
        node: [int(code) for code in tree["categories"][start : start + size]]
        for node, start, size in zip(
            tree.get("categories_nodes") or [],
            tree.get("categories_segments") or [],
            tree.get("categories_sizes") or [],
            strict=True,
        )
    }


class _Unreadable(Exception):
    """A categorical split without its category list."""


def _probe_rows(trees: list[dict[str, Any]], n_features: int) -> np.ndarray:
    """Rows whose values sit on, just below and beside every split, plus missing, negative,
    fractional and unknown codes."""
    values: list[list[float]] = [[np.nan, -1.0, -0.5, 0.0, 0.5, 1e9] for _ in range(n_features)]
    for tree in trees:
        kind = _split_kinds(tree)
        for node, child in enumerate(tree["left_children"]):
            if child != -1 and kind[node] != 1:
                at = np.float32(tree["split_conditions"][node])
                values[tree["split_indices"][node]] += [at, np.nextafter(at, np.float32(-np.inf))]
        for node, sent in _split_categories(tree).items():
            for code in sent:
                values[tree["split_indices"][node]] += [code - 1, code, code + 0.5, code + 1]
    rng = np.random.default_rng(0)
    probe = np.empty((PROBE_ROWS, n_features), np.float32)
    for j, candidates in enumerate(values):
        probe[:, j] = rng.choice(np.unique(np.asarray(candidates, np.float32)), PROBE_ROWS)
    return probe
