"""The numpy golden model: the bit-exact reference for every test of openmxu.

Products of signed ``operand_width``-bit integers are summed in an ``acc_width``-bit
two's-complement accumulator that wraps on overflow, exactly like the hardware.
"""

import numpy as np

__all__ = ["matmul", "wrap", "random_operands", "ROUNDING", "requantize", "output_stage",
           "accelerator_output"]


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


#: Rounding modes of the output stage's right shift (see :func:`requantize`).
ROUNDING = ("half_even", "half_up")

#: Output formats of the output stage (see :func:`output_stage`).
OUTPUTS = ("int32", "int8")

_SCALE_MAX = (1 << 16) - 1
_SHIFT_MAX = 47
_INT8_MIN, _INT8_MAX = -128, 127


def _check_int_param(name, value, high):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [0, {high}], not {value!r}")
    if not 0 <= int(value) <= high:
        raise ValueError(f"{name} must be an integer in [0, {high}], not {int(value)}")
    return int(value)


def _check_stage(scale, shift, rounding):
    scale = _check_int_param("scale", scale, _SCALE_MAX)
    shift = _check_int_param("shift", shift, _SHIFT_MAX)
    if not isinstance(rounding, str) or rounding not in ROUNDING:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDING)}, not {rounding!r}")
    return scale, shift


def _check_acc(acc):
    """``acc`` as an ``int64`` array, or ValueError unless it holds signed 32-bit integers."""
    acc = np.asarray(acc)
    if acc.dtype == object:
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                   for v in acc.flat):
            raise ValueError("acc must hold integers")
    elif not np.issubdtype(acc.dtype, np.integer):
        raise ValueError(f"acc must hold integers, not {acc.dtype}")
    low, high = -(1 << 31), (1 << 31) - 1
    if acc.size and (int(acc.min()) < low or int(acc.max()) > high):
        raise ValueError(f"acc holds values outside the signed 32-bit range [{low}, {high}]")
    return acc.astype(np.int64)


def requantize(acc, *, scale, shift, rounding="half_even", relu=False):
    """int32 accumulators -> int8, exactly like the hardware output stage.

    ``acc`` holds signed 32-bit integers, ``scale`` is an unsigned 16-bit integer
    (0..65535) and ``shift`` an integer 0..47; ``rounding`` is one of :data:`ROUNDING`.
    Each value goes through, with exact integers:

    1. ``p = acc * scale``, which fits in 48 signed bits;
    2. ``q = p`` if ``shift == 0``; otherwise, with ``half = 2**(shift - 1)``:

       - ``half_up``: ``q = floor((p + half) / 2**shift)``, so ties go toward +infinity
         (-2.5 -> -2, 2.5 -> 3);
       - ``half_even``: ``q = floor(p / 2**shift)`` and ``r = p - q * 2**shift``
         (so ``0 <= r < 2**shift``), then ``q += 1`` if ``r > half`` or if ``r == half`` and
         ``q`` is odd, so ties go to the even neighbour (-2.5 -> -2, 2.5 -> 2);

    3. ``q`` saturates to [-128, 127];
    4. with ``relu``, ``q = max(q, 0)`` (after the saturation).

    Every intermediate fits in ``int64`` (``|p + half| < 2**48``), so the whole computation
    is vectorised; ``floor`` of a division by ``2**shift`` is an arithmetic right shift.
    Returns an ``int64`` array of the shape of ``acc``. Raises ValueError naming the
    offending argument for an ``acc`` outside int32, a ``scale`` or ``shift`` outside its
    range (or not an integer), or an unknown ``rounding``.
    """
    scale, shift = _check_stage(scale, shift, rounding)
    p = _check_acc(acc) * np.int64(scale)
    if shift == 0:
        q = p
    elif rounding == "half_up":
        q = (p + np.int64(1 << (shift - 1))) >> np.int64(shift)
    else:
        half = np.int64(1 << (shift - 1))
        q = p >> np.int64(shift)
        r = p & np.int64((1 << shift) - 1)  # p - q * 2**shift in two's complement
        q = q + ((r > half) | ((r == half) & ((q & 1) == 1)))
    q = np.clip(q, _INT8_MIN, _INT8_MAX)
    if relu:
        q = np.maximum(q, 0)
    return np.asarray(q, dtype=np.int64)


def output_stage(acc, *, out="int32", scale=1, shift=0, rounding="half_even", relu=False):
    """What the hardware writes back for int32 accumulators ``acc``.

    ``out="int32"``: ``acc`` unchanged, or ``max(acc, 0)`` with ``relu``; ``scale``,
    ``shift`` and ``rounding`` do not change the result but are still checked, so a bad
    configuration is caught whichever output is chosen. ``out="int8"``:
    ``requantize(acc, scale=scale, shift=shift, rounding=rounding, relu=relu)``.
    Returns an ``int64`` array of the shape of ``acc``; raises ValueError for an unknown
    ``out`` and for everything :func:`requantize` rejects.
    """
    if not isinstance(out, str) or out not in OUTPUTS:
        raise ValueError(f"out must be one of {', '.join(OUTPUTS)}, not {out!r}")
    if out == "int8":
        return requantize(acc, scale=scale, shift=shift, rounding=rounding, relu=relu)
    _check_stage(scale, shift, rounding)
    acc = _check_acc(acc)
    return np.maximum(acc, 0) if relu else acc


def accelerator_output(a, b, *, c=None, out="int32", scale=1, shift=0, rounding="half_even",
                       relu=False):
    """What the accelerator writes for ``a @ b``: the output stage of the wrapped int32 sums,
    plus ``c`` (wrapped again) when accumulating into C."""
    acc = matmul(a, b)
    if c is not None:
        acc = wrap(acc + np.asarray(c, dtype=np.int64), 32)
    return output_stage(acc, out=out, scale=scale, shift=shift, rounding=rounding, relu=relu)
