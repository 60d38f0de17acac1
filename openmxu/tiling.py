"""Tiling: how a matrix multiplication is cut into array tiles and laid out as memory words.

A word is one vector entering or leaving the array: lane ``i`` of a vector of signed
``width``-bit values sits at bits ``[i * width, (i + 1) * width)`` in two's complement, which
is the bit layout of the array's ``ArrayLayout`` stream payloads.
"""

from dataclasses import dataclass

import numpy as np

from .config import Config
from .golden import _check_operand

__all__ = ["pack_vectors", "unpack_vectors", "pad", "ArrayPlan", "plan_array_matmul"]


def pack_vectors(vectors, width):
    """Pack the rows of a 2-D integer array into words, lane 0 in the low bits."""
    vectors = np.asarray(vectors, dtype=np.int64)
    mask = (1 << width) - 1
    words = []
    for row in vectors.tolist():
        word = 0
        for lane, value in enumerate(row):
            word |= (value & mask) << (lane * width)
        words.append(word)
    return words


def unpack_vectors(words, lanes, width):
    """Unpack words into a ``len(words)`` x ``lanes`` array of signed values."""
    mask, half = (1 << width) - 1, 1 << (width - 1)
    dtype = np.int64 if width <= 64 else object
    out = np.empty((len(words), lanes), dtype=dtype)
    for index, word in enumerate(words):
        for lane in range(lanes):
            value = (int(word) >> (lane * width)) & mask
            out[index, lane] = value - (1 << width) if value >= half else value
    return out


def pad(x, row_multiple, col_multiple):
    """Zero-pad a matrix so that its shape is a multiple of the given sizes."""
    rows = -(-x.shape[0] // row_multiple) * row_multiple
    cols = -(-x.shape[1] // col_multiple) * col_multiple
    out = np.zeros((rows, cols), dtype=np.int64)
    out[:x.shape[0], :x.shape[1]] = x
    return out


@dataclass(frozen=True)
class ArrayPlan:
    """A matmul laid out for an array running from its own memories (the array harness).

    ``a_words`` and ``b_words`` are the memory images; ``steps`` the harness loop counts
    ``(m_steps, k_steps, n_steps)``; ``c_words`` the number of result words.
    """

    config: Config
    m: int
    k: int
    n: int
    a_words: list
    b_words: list
    steps: tuple
    c_words: int

    @property
    def n_tiles(self):
        return -(-self.n // self.config.cols)

    def unpack_result(self, words):
        """The ``m`` x ``n`` result from the C memory image."""
        cfg = self.config
        vectors = unpack_vectors(words, cfg.cols, cfg.acc_width)
        m_padded = len(words) // self.n_tiles
        full = vectors.reshape(m_padded, self.n_tiles * cfg.cols)
        return full[:self.m, :self.n]


def plan_array_matmul(config, a, b):
    """Lay out ``a @ b`` for the array harness of ``config`` (see :mod:`sim.harness`)."""
    a = _check_operand("a", a, config.operand_width)
    b = _check_operand("b", b, config.operand_width)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: a is {a.shape}, b is {b.shape}")
    m, k = a.shape
    n = b.shape[1]
    if 0 in (m, k, n):
        raise ValueError(f"every dimension must be at least 1, not m={m}, k={k}, n={n}")
    rows, cols, width = config.rows, config.cols, config.operand_width
    b_padded = pad(b, rows, cols)
    k_padded, n_padded = b_padded.shape
    n_tiles = n_padded // cols
    # B: row k of the n-th column tile at k * NT + nt (both dataflows).
    b_words = pack_vectors(b_padded.reshape(k_padded, n_tiles, cols).reshape(-1, cols), width)
    if config.dataflow == "ws":
        a_padded = pad(a, 1, rows)
        k_tiles = k_padded // rows
        # A: the k-th slice of row m at kt * M + m.
        slices = a_padded.reshape(m, k_tiles, rows).transpose(1, 0, 2).reshape(-1, rows)
        steps = (m, k_tiles, n_tiles)
        m_padded = m
    else:
        a_padded = pad(a, rows, 1)
        m_tiles = a_padded.shape[0] // rows
        # A: column k of the mt-th row tile at mt * K + k.
        slices = a_padded.reshape(m_tiles, rows, k).transpose(0, 2, 1).reshape(-1, rows)
        steps = (m_tiles, k, n_tiles)
        m_padded = m_tiles * rows
    if config.dataflow == "os":
        # The output-stationary array needs no K padding: drop padded rows of B again.
        b_words = b_words[:k * n_tiles]
    return ArrayPlan(config=config, m=m, k=k, n=n, a_words=pack_vectors(slices, width),
                     b_words=b_words, steps=steps, c_words=m_padded * n_tiles)
