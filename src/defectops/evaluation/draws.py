"""Row indices drawn with replacement: the numbers ``Generator.integers`` gives, drawn faster.

The bootstrap draws millions of indices per comparison, and ``rng.integers(0, n, size)``
calls the bit generator once for every index. For ``n`` below 2**32 numpy
takes each index from one 32-bit word with Lemire's method: the word times ``n``, shifted right
by 32 bits, and a word is skipped (the next one used instead) when the product's low 32 bits
fall below ``2**32 % n``. PCG64 hands out its 64-bit outputs as 32-bit words, low half first.
So the same indices come from the raw 64-bit outputs, read many at a call, and a multiply, a
minimum and a shift over whole arrays: about a fifth less time. Where that reading does not
hold (another bit generator, a word already half used, a big-endian machine, ``n`` out of
range) the draws go through ``integers`` itself. ``tests/unit/evaluation/test_draws.py``
holds the two to the same numbers, skipped words and half-used outputs included.
"""

from __future__ import annotations

import sys

import numpy as np

#: 32-bit words per raw 64-bit output
_HALVES = 2
#: words read and scaled at a time: about what the CPU's L2 cache keeps between passes
_PIECE = 1 << 17


class IndexDraws:
    """Successive blocks of ``rng.integers(0, n, size)``, read straight off PCG64's outputs.

    Owns ``rng`` from here on: a block may end halfway through a 64-bit output, whose other
    half starts the next block, so nothing else may draw from ``rng`` in between. A block is
    valid until the next one is drawn: one buffer serves them all (a fresh megabyte a block
    costs page faults).
    """

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.rng, self.n = rng, n
        state = rng.bit_generator.state
        self.direct = (
            sys.byteorder == "little"
            and np.dtype(np.intp).itemsize == 8
            and state["bit_generator"] == "PCG64"
            and not state["has_uint32"]
            and 2 <= n < 2**32
        )
        self.threshold = (1 << 32) % max(n, 1)  # Lemire's: products whose low word is below
        self.spare: int | None = None  # the high half of the last output, not yet used
        self.buffer = np.empty(0, dtype=np.uint64)

    def __call__(self, size: int) -> np.ndarray:
        """The next ``size`` indices, as ``intp``."""
        if not self.direct:
            return self.rng.integers(0, self.n, size=size)
        if len(self.buffer) < size:
            self.buffer = np.empty(size, dtype=np.uint64)
        out, done = self.buffer[:size], 0
        while done < size:  # a piece at a time, so each pass finds it in the CPU's cache
            piece = self._scaled(out[done : done + _PIECE])
            low = piece.view(np.uint32)[0::2]  # little-endian: each product's low word
            if low.min() < self.threshold:  # about once in 2**32 / threshold words
                kept = piece[low >= self.threshold]  # numpy skips those words
                piece = piece[: len(kept)]
                piece[:] = kept
            piece >>= np.uint64(32)
            done += len(piece)
        return out.view(np.intp)

    def _scaled(self, out: np.ndarray) -> np.ndarray:
        """``out`` filled with the next 32-bit words, each times ``n`` (64 bits, exact)."""
        first = 0
        if self.spare is not None and len(out):
            out[0] = self.spare * self.n
            first, self.spare = 1, None
        need = len(out) - first
        if need:
            raw = self.rng.bit_generator.random_raw(-(-need // _HALVES)).view(np.uint32)
            np.multiply(raw[:need], np.uint64(self.n), out=out[first:])
            if need % _HALVES:
                self.spare = int(raw[-1])
        return out
