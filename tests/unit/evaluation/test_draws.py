"""The bootstrap's row indices are ``Generator.integers``'s, number for number.

The known answer is numpy's own ``rng.integers(0, n, size)`` on a generator with the same seed,
block after block. The sizes include ones whose Lemire threshold skips about half the words
(``n`` just above 2**31), odd block lengths (a block ending halfway through a 64-bit output),
empty blocks, and the cases read through ``integers`` itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from defectops.evaluation.draws import IndexDraws

#: 2**32 % n is 0 for powers of two, 2296 for 5,000 and 2**31 - 1 for 2**31 + 1 (half skipped)
SIZES = [2, 3, 7, 64, 1000, 5000, 5001, 65537, 2**31 - 1, 2**31 + 1, 3 * 2**30, 2**32 - 1]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_blocks_are_numpys_integers(n: int, seed: int) -> None:
    expected, drawn = np.random.default_rng(seed), np.random.default_rng(seed)
    draws = IndexDraws(drawn, n)
    assert draws.direct
    for size in [1, 0, 999, 2, 5, 1 << 12, 3, 0, 1]:
        block = draws(size)
        assert block.dtype == np.intp
        np.testing.assert_array_equal(block, expected.integers(0, n, size=size))


def test_a_bootstrap_run_is_numpys_integers() -> None:
    """1,000 resamples of 5,000 rows, in batches of 26 as the bootstrap draws them."""
    expected, draws = np.random.default_rng(7), IndexDraws(np.random.default_rng(7), 5000)
    for start in range(0, 1000, 26):
        size = min(26, 1000 - start)
        picks = expected.integers(0, 5000, size=(size, 5000))
        np.testing.assert_array_equal(draws(size * 5000), picks.ravel())


@pytest.mark.parametrize("n", [1, 2**32, 2**40])
def test_sizes_numpy_draws_otherwise_go_through_integers(n: int) -> None:
    draws = IndexDraws(np.random.default_rng(3), n)
    assert not draws.direct
    expected = np.random.default_rng(3).integers(0, n, size=100)
    np.testing.assert_array_equal(draws(100), expected)


def test_a_generator_holding_half_an_output_goes_through_integers() -> None:
    rng, expected = np.random.default_rng(5), np.random.default_rng(5)
    rng.integers(0, 10, size=1)  # one 32-bit word used, the other half kept by the generator
    expected.integers(0, 10, size=1)
    draws = IndexDraws(rng, 5000)
    assert not draws.direct
    np.testing.assert_array_equal(draws(101), expected.integers(0, 5000, size=101))
