"""The profile of partitioned rows equals the local one where it can, and is within its bounds.

The local :func:`~defectops.monitoring.profile.build_profile` of the whole frame is the known
answer. Quantiles are checked by rank: an estimate ``x`` of the ``q`` quantile of ``n`` values
must have at least ``q (n - 1) - n / K`` values ``<= x`` and at most ``q (n - 1) + n / K + 1``
values ``< x`` (the bound :class:`QuantileSketch` states), which holds for ties too.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from defectops.core.config import load_settings
from defectops.data.schema import DataSchema, category_strings
from defectops.data.schema_inference import infer_schema
from defectops.data.simulate import SimulationSpec, simulate
from defectops.monitoring.profile import (
    PERCENTILES,
    allowances,
    build_profile,
    category_bin_index,
    numeric_bin_index,
    psi,
)
from defectops.monitoring.quantile_sketch import QuantileSketch, rank_error
from defectops.monitoring.sketch import PandasParts, distributed_profile

ROWS = 30_000
WINDOW = 500
#: the allowances' base windows for ROWS rows (``base_rows``)
BASE = 100
SCORES = np.linspace(0.0, 1.0, 700) ** 2


def within_bound(values: np.ndarray, q: np.ndarray, estimate: np.ndarray, bound: float) -> None:
    ordered = np.sort(values)
    rank = q * (ordered.size - 1)
    at_most = np.searchsorted(ordered, estimate, side="right")  # values <= estimate
    below = np.searchsorted(ordered, estimate, side="left")  # values < estimate
    assert np.all(at_most >= rank - bound), (rank - at_most).max() / bound
    assert np.all(below <= rank + bound + 1), (below - rank - 1).max() / bound


def split(values: np.ndarray, parts: int, seed: int = 0) -> list[np.ndarray]:
    """Uneven pieces, as partitions are."""
    cuts = np.sort(np.random.default_rng(seed).choice(values.size, parts - 1, replace=False))
    return np.split(values, cuts)


def skewed(kind: str, n: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(7)
    if kind == "lognormal":
        return rng.lognormal(0.0, 2.0, n)
    if kind == "ties":  # a handful of values, one of them most of the rows
        return rng.choice([0.0, 1.0, 2.0, 5.0, 50.0], n, p=[0.9, 0.05, 0.03, 0.015, 0.005])
    if kind == "constant":
        return np.full(n, 3.25)
    values = rng.normal(10.0, 1.0, n)  # sorted: each partition holds its own range
    values[rng.random(n) < 0.3] = np.nan
    return np.sort(values)


# -- the sketch -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lognormal", "ties", "constant", "sorted-with-gaps"])
@pytest.mark.parametrize("points", [50, 2_000])
def test_merged_quantiles_are_within_the_stated_rank_bound(kind: str, points: int) -> None:
    values = skewed(kind)
    pieces = split(values, 9)
    merged = QuantileSketch.union(QuantileSketch.of(p, points) for p in pieces)
    present = values[np.isfinite(values)]
    assert merged.rows == present.size
    q = np.linspace(0.0, 1.0, 1001)
    estimate = merged.quantiles(q)
    within_bound(present, q, estimate, rank_error(present.size, points))
    assert estimate[0] == present.min() and estimate[-1] == present.max()
    # the union is the same in any order and nesting
    again = QuantileSketch.union(
        [QuantileSketch.union(QuantileSketch.of(p, points) for p in pieces[5:]),
         *(QuantileSketch.of(p, points) for p in pieces[:5])]
    )  # fmt: skip
    np.testing.assert_array_equal(again.quantiles(q), estimate)


def test_bound_is_needed_and_not_loose_by_orders_of_magnitude() -> None:
    """A sketch of 50 points is really approximate, and its error is of the order it states."""
    values = skewed("lognormal")
    merged = QuantileSketch.union(QuantileSketch.of(p, 50) for p in split(values, 9))
    q = np.linspace(0.0, 1.0, 1001)
    worst = np.abs(np.searchsorted(np.sort(values), merged.quantiles(q)) - q * (values.size - 1))
    assert 0.05 * rank_error(values.size, 50) < worst.max() <= rank_error(values.size, 50) + 1


def test_exactly_numpys_quantiles_when_no_partition_is_larger_than_the_sketch() -> None:
    values = skewed("lognormal", 9_000)
    merged = QuantileSketch.union(QuantileSketch.of(p, 2_000) for p in np.array_split(values, 6))
    q = np.concatenate([PERCENTILES / 100, np.linspace(0, 1, 11)])
    np.testing.assert_array_equal(merged.quantiles(q), np.quantile(values, q))


def test_all_missing_values_give_an_empty_sketch() -> None:
    pieces = [np.full(10, np.nan), np.array([np.inf, -np.inf])]
    merged = QuantileSketch.union(QuantileSketch.of(p) for p in pieces)
    assert merged.rows == 0
    with pytest.raises(ValueError, match="no values"):
        merged.quantiles(np.array([0.5]))


# -- the profile ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def line() -> tuple[pd.DataFrame, DataSchema]:
    """Simulated rows with gaps, one numeric column blank throughout and one constant."""
    frame, _ = simulate(SimulationSpec(rows=ROWS, seed=5, missing_rate=0.05))
    schema = infer_schema(frame, load_settings(flags={}, environ={}))
    frame[schema.numeric[0]] = np.nan
    frame[schema.numeric[1]] = 7.5
    return frame, schema


def parts_of(frame: pd.DataFrame, lengths: list[int]) -> PandasParts:
    bounds = np.cumsum([0, *lengths])
    assert bounds[-1] == len(frame)
    return PandasParts(
        tuple(frame.iloc[a:b].reset_index(drop=True) for a, b in itertools.pairwise(bounds))
    )


def repeat(rows: int, total: int = ROWS) -> list[int]:
    return [rows] * (total // rows) + ([total % rows] if total % rows else [])


@pytest.mark.parametrize(
    "lengths",
    [repeat(2 * WINDOW), repeat(3 * WINDOW), repeat(BASE // 3), [29_000, 300, 400, 300]],
    ids=["two-windows", "three-windows", "shorter-than-a-window", "small-after-large"],
)
def test_equal_to_the_local_profile_when_windows_line_up(line, lengths: list[int]) -> None:
    """Sketches that keep every value and partitions whose lengths are whole windows (of the
    allowances' base as of the novelty's) or shorter than a base window (short ones are
    windowed together): every number equals the local profile's."""
    frame, schema = line
    got = distributed_profile(parts_of(frame, lengths), schema, SCORES, WINDOW, points=ROWS)
    assert got == build_profile(frame, schema, SCORES, WINDOW)
    assert got["numeric"][schema.numeric[0]]["counts"] == [0, ROWS]  # all missing
    assert got["numeric"][schema.numeric[1]]["edges"] == [7.5]  # constant: one edge


def test_large_partitions_edges_and_percentiles_within_the_sketch_bound(line) -> None:
    frame, schema = line
    points = 64  # partitions of 4,321 rows are then summarised, not kept
    got = distributed_profile(parts_of(frame, repeat(4_321)), schema, SCORES, WINDOW, points=points)
    ref = build_profile(frame, schema, SCORES, WINDOW)
    assert got["rows"] == ref["rows"] and got["window_rows"] == ref["window_rows"]
    assert got["scores"] == ref["scores"]
    assert got["categorical"].keys() == ref["categorical"].keys()
    for col, mine in got["categorical"].items():  # exact
        for key in ("values", "counts", "distinct"):
            assert mine[key] == ref["categorical"][col][key], (col, key)
    deciles = np.linspace(0, 1, 11)[1:-1]
    approximate = 0
    for col in schema.numeric[2:]:
        mine, local = got["numeric"][col], ref["numeric"][col]
        values = pd.to_numeric(frame[col]).to_numpy(np.float64)
        present = values[np.isfinite(values)]
        bound = rank_error(present.size, points)
        assert sum(mine["counts"]) == ROWS
        assert mine["counts"][-1] == local["counts"][-1] == ROWS - present.size  # missing
        if np.unique(present).size > present.size / 2:  # a reading, not a count
            # each bin holds its tenth of the rows to within the bound at either edge
            tenths = np.array(mine["counts"][:-1]) - present.size / 10
            assert np.all(np.abs(tenths) <= 2 * bound + 1), col
            assert len(mine["edges"]) == len(local["edges"]) == 9
            within_bound(present, deciles, np.array(mine["edges"]), bound)
        within_bound(present, PERCENTILES / 100, np.array(mine["percentiles"]), bound)
        approximate += mine["percentiles"] != local["percentiles"]
    assert approximate  # the bound was put to work
    for col in schema.numeric[:2]:
        assert got["numeric"][col] == ref["numeric"][col]


def window_labels(lengths: list[int], window: int) -> np.ndarray:
    """Row by row, the window the profile documents it in (-1: none): windows start at each
    partition that holds a whole one; rows before such a partition form one stretch."""
    labels = np.full(sum(lengths), -1)
    starts = np.cumsum([0, *lengths])
    stretch_from, label = 0, 0
    for start, n in zip(starts[:-1], lengths, strict=True):
        if n >= window:  # end the stretch before this partition, then start one here
            for a in range(stretch_from, start - window + 1, window):
                labels[a : a + window] = label
                label += 1
            stretch_from = start
    for a in range(stretch_from, len(labels) - window + 1, window):
        labels[a : a + window] = label
        label += 1
    return labels


def novelty_by_rows(text: pd.Series, labels: np.ndarray) -> float:
    """``novelty_rate`` read row by row: every row seen marks its value seen."""
    codes, _ = pd.factorize(text, use_na_sentinel=True)
    seen = np.zeros(codes.max() + 2, dtype=bool)
    shares, done = [], 0
    for w in range(labels.max() + 1):
        rows = np.flatnonzero(labels == w)
        seen[codes[done : rows[0]]] = True  # rows between windows
        part = codes[rows]
        part = part[part >= 0]
        if w and part.size:
            shares.append((~seen[part]).mean())
        seen[part] = True
        done = rows[-1] + 1
    return float(np.mean(shares))


def test_windows_cut_inside_partitions_and_close_to_the_local_profile(line) -> None:
    """Partitions of 1,750 rows: windows sit inside them, so the allowances and novelty rate
    are the ones of those windows exactly, and close to the local profile's.

    The allowances come from base windows of 100 rows: runs of 5 of them (500 rows) starting at
    each, whose largest PSI is ``allowance``; close means within a factor of 2. The novelty
    rate (windows of 500) within 0.05; it depends on where a new shift or batch first appears.
    """
    frame, schema = line
    lengths = [*repeat(1_750, ROWS - 750), 350, 400]
    got = distributed_profile(parts_of(frame, lengths), schema, SCORES, WINDOW)
    ref = build_profile(frame, schema, SCORES, WINDOW)
    labels = window_labels(lengths, WINDOW)
    base_labels = window_labels(lengths, BASE)
    assert 0 < (base_labels < 0).sum() < len(lengths) * BASE  # some rows left out, few
    windowed = base_labels >= 0
    for kind in ("numeric", "categorical"):
        for col, mine in got[kind].items():
            if kind == "numeric":
                values = pd.to_numeric(frame[col]).to_numpy(np.float64)
                index = numeric_bin_index(values, np.array(mine["edges"]))
            else:
                index = category_bin_index(category_strings(frame[col]), mine["values"])
            n_bins = len(mine["counts"])
            assert np.bincount(index, minlength=n_bins).tolist() == mine["counts"]
            windows = np.bincount(
                base_labels[windowed] * n_bins + index[windowed],
                minlength=(base_labels.max() + 1) * n_bins,
            ).reshape(-1, n_bins)
            runs = np.array([windows[i : i + 5].sum(axis=0) for i in range(len(windows) - 4)])
            expected = float(psi(np.array(mine["counts"]), runs).max())
            table = allowances(np.array(mine["counts"]), windows, BASE)
            if col == schema.numeric[0]:
                expected, table = 0.0, []  # all missing: no allowance, as locally
            assert mine["allowance"] == pytest.approx(expected, rel=1e-3), col
            assert mine["allowances"] == table, col
            local = ref[kind][col]["allowance"]
            assert local / 2 <= mine["allowance"] <= 2 * local or local == mine["allowance"], col
            if kind == "categorical":
                text = category_strings(frame[col])
                assert mine["novelty_rate"] == pytest.approx(novelty_by_rows(text, labels)), col
                assert abs(mine["novelty_rate"] - ref[kind][col]["novelty_rate"]) <= 0.05, col


# -- on a cluster ---------------------------------------------------------------------------------


def test_profile_on_a_cluster_equals_the_one_of_the_same_partitions_in_memory(
    cluster: str, tmp_path: Path
) -> None:
    from distributed import Client

    from defectops.engines.dask.validate import validate_distributed

    frame, _ = simulate(SimulationSpec(rows=12_000, seed=9, missing_rate=0.05))
    data = tmp_path / "train"
    data.mkdir()
    for i, start in enumerate(range(0, len(frame), 2_900)):
        frame.iloc[start : start + 2_900].to_parquet(data / f"part-{i:05d}.parquet", index=False)
    settings = load_settings(flags={"artifacts": tmp_path / "artifacts"}, environ={})
    with Client(cluster) as client:
        validated = validate_distributed(data, settings, client)
        rows, schema = validated.frame, validated.schema
        assert len(rows.parts) == 5
        remote = distributed_profile(rows, schema, SCORES, 1_000, points=500)
        in_memory = PandasParts(tuple(part.load() for part in rows.parts))
        assert remote == distributed_profile(in_memory, schema, SCORES, 1_000, points=500)
        whole = rows.gather()
    local = build_profile(whole, schema, SCORES, 1_000)
    assert remote["rows"] == len(whole) == local["rows"]
    for col, mine in remote["categorical"].items():
        assert (mine["values"], mine["counts"]) == (
            local["categorical"][col]["values"],
            local["categorical"][col]["counts"],
        )
