"""The numpy golden model: the bit-exact reference for every test of openmxu.

Products of signed ``operand_width``-bit integers are summed in an ``acc_width``-bit
two's-complement accumulator that wraps on overflow, exactly like the hardware.
"""

import numpy as np

__all__ = ["matmul", "wrap", "random_operands"]


def wrap(values, width):
    """Wrap integers into the signed two's-complement range of ``width`` bits."""
    values = np.asarray(values, dtype=object if width > 64 else np.int64)
    if width > 64:
        mask, half = (1 << width) - 1, 1 << (width - 1)
        return np.vectorize(lambda v: ((int(v) + half) & mask) - half, otypes=[object])(values)
    if width == 64:
        return values
    mask, half = np.int64((1 << width) - 1), np.int64(1 << (width - 1))
    return ((values + half) & mask) - half


def _check_operand(name, x, operand_width):
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, not of shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, not {x.dtype}")
    low, high = -(1 << (operand_width - 1)), (1 << (operand_width - 1)) - 1
    if x.size and (x.min() < low or x.max() > high):
        raise ValueError(f"{name} holds values outside the signed {operand_width}-bit range "
                         f"[{low}, {high}]")
    return x.astype(np.int64)


def matmul(a, b, *, operand_width=8, acc_width=32):
    """``C = A @ B`` with signed operands and a wrapping ``acc_width``-bit accumulator.

    Returns an ``int64`` array (``object`` above 64 bits) holding the wrapped values.
    Because two's-complement addition is associative modulo ``2**acc_width``, wrapping once at
    the end equals wrapping after every addition, which is what the hardware does.
    """
    a = _check_operand("a", a, operand_width)
    b = _check_operand("b", b, operand_width)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: a is {a.shape}, b is {b.shape}")
    if acc_width > 64 or 2 * operand_width + max(a.shape[1], 1).bit_length() > 63:
        exact = a.astype(object) @ b.astype(object)
    else:
        exact = a @ b
    return wrap(exact, acc_width)


def random_operands(rng, m, k, n, *, operand_width=8, extremes=True):
    """Random signed matrices ``A`` (m x k) and ``B`` (k x n) for tests and demos.

    With ``extremes`` a share of the entries is forced to the most negative and most positive
    operand values, the cases where sign handling and wrapping break first.
    """
    low, high = -(1 << (operand_width - 1)), (1 << (operand_width - 1)) - 1
    a = rng.integers(low, high + 1, size=(m, k), dtype=np.int64)
    b = rng.integers(low, high + 1, size=(k, n), dtype=np.int64)
    if extremes:
        for x in (a, b):
            pick = rng.random(x.shape)
            x[pick < 0.05] = low
            x[(pick >= 0.05) & (pick < 0.10)] = high
    return a, b


#: Operand patterns for tests: each stresses a different part of the datapath.
OPERAND_KINDS = ("random", "extremes", "zeros", "identity", "most_negative")


def operands(kind, m, k, n, *, seed=0, operand_width=8):
    """Test matrices ``A`` (m x k) and ``B`` (k x n) of a named pattern.

    ``random``: uniform, with 5 % each of the two extreme values; ``extremes``: only the most
    negative and most positive values; ``zeros``: all zero; ``identity``: random ``A`` and an
    identity ``B`` (ones on the diagonal of its top square); ``most_negative``: every entry
    the most negative value, so every product is the largest positive one and long sums wrap
    soonest.
    """
    if kind not in OPERAND_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OPERAND_KINDS)}, not {kind!r}")
    rng = np.random.default_rng(seed)
    low, high = -(1 << (operand_width - 1)), (1 << (operand_width - 1)) - 1
    if kind == "random":
        return random_operands(rng, m, k, n, operand_width=operand_width)
    if kind == "extremes":
        return (rng.choice([low, high], size=(m, k)).astype(np.int64),
                rng.choice([low, high], size=(k, n)).astype(np.int64))
    if kind == "zeros":
        return np.zeros((m, k), np.int64), np.zeros((k, n), np.int64)
    if kind == "identity":
        a, _ = random_operands(rng, m, k, n, operand_width=operand_width)
        return a, np.eye(k, n, dtype=np.int64)
    return np.full((m, k), low, np.int64), np.full((k, n), low, np.int64)
