"""The golden model wraps like two's-complement hardware, and the tiler round-trips."""

import numpy as np
import pytest

from openmxu import Config, golden
from openmxu.tiling import pack_vectors, unpack_vectors, plan_array_matmul


def _reference(a, b, acc_width):
    """Element by element with Python integers, wrapping after every addition."""
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=object)
    half, mask = 1 << (acc_width - 1), (1 << acc_width) - 1
    for i in range(m):
        for j in range(n):
            acc = 0
            for p in range(k):
                acc = ((acc + int(a[i, p]) * int(b[p, j]) + half) & mask) - half
            out[i, j] = acc
    return out


@pytest.mark.parametrize("acc_width", [16, 20, 32])
def test_matches_per_step_wrapping(acc_width):
    a, b = golden.operands("random", 5, 300, 4, seed=3)
    assert np.array_equal(golden.matmul(a, b, acc_width=acc_width), _reference(a, b, acc_width))


def test_int32_wraps_past_two_to_the_31():
    k = 131_073  # 131,073 x 16,384 = 2**31 + 16,384
    a = np.full((1, k), -128)
    b = np.full((k, 1), -128)
    assert golden.matmul(a, b)[0, 0] == -(1 << 31) + 16_384


def test_wide_accumulators_use_exact_integers():
    a, b = golden.operands("most_negative", 2, 64, 2, operand_width=32)
    c = golden.matmul(a, b, operand_width=32, acc_width=128)
    assert c[0, 0] == 64 * (1 << 62)


def test_operand_checks():
    with pytest.raises(ValueError, match=r"outside the signed 8-bit range \[-128, 127\]"):
        golden.matmul(np.array([[128]]), np.array([[1]]))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        golden.matmul(np.zeros((2, 3), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="must hold integers"):
        golden.matmul(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="kind must be one of"):
        golden.operands("ones", 1, 1, 1)


@pytest.mark.parametrize("kind", golden.OPERAND_KINDS)
def test_operand_kinds(kind):
    a, b = golden.operands(kind, 6, 7, 5, seed=1)
    assert a.shape == (6, 7) and b.shape == (7, 5)
    assert a.min() >= -128 and a.max() <= 127
    if kind == "random":
        assert a.min() == -128 and a.max() == 127  # the extremes are always present
    if kind == "identity":
        assert np.array_equal(golden.matmul(a, b)[:, :5], a[:, :5])


def test_vector_packing_round_trips():
    values = np.array([[-128, 127, 0, -1], [5, -5, 64, -64]])
    words = pack_vectors(values, 8)
    assert words[0] == 0xFF_00_7F_80
    assert np.array_equal(unpack_vectors(words, 4, 8), values)


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_plan_pads_and_counts(dataflow):
    config = Config(rows=3, cols=2, dataflow=dataflow)
    a, b = golden.operands("random", 4, 5, 3, seed=2)
    plan = plan_array_matmul(config, a, b)
    if dataflow == "ws":
        assert plan.steps == (4, 2, 2)  # M, K / rows rounded up, N / cols rounded up
        assert len(plan.a_words) == 4 * 2 and len(plan.b_words) == 6 * 2
    else:
        assert plan.steps == (2, 5, 2)  # M / rows rounded up, K, N / cols rounded up
        assert len(plan.a_words) == 2 * 5 and len(plan.b_words) == 5 * 2
    with pytest.raises(ValueError, match="every dimension must be at least 1"):
        plan_array_matmul(config, np.zeros((0, 2), int), np.zeros((2, 2), int))


# --- Requantization (the int8 output stage) ----------------------------------------------

def _rq(acc, scale=1, shift=0, rounding="half_even", relu=False):
    return golden.requantize(np.array(acc), scale=scale, shift=shift, rounding=rounding, relu=relu)


def _requantize_reference(acc, scale, shift, rounding, relu):
    """With Python's exact fractions: ``round`` on a Fraction rounds ties to even."""
    from fractions import Fraction
    import math
    x = Fraction(int(acc) * scale, 1 << shift)
    q = round(x) if rounding == "half_even" else math.floor(x + Fraction(1, 2))
    q = min(max(q, -128), 127)
    return max(q, 0) if relu else q


@pytest.mark.parametrize("acc, scale, shift, half_even, half_up", [
    (5, 1, 1, 2, 3), (-5, 1, 1, -2, -2), (7, 1, 1, 4, 4), (-7, 1, 1, -4, -3),
    (3, 1, 1, 2, 2), (-3, 1, 1, -2, -1), (1, 1, 1, 0, 1), (-1, 1, 1, 0, 0),
    (10, 1, 2, 2, 3), (-10, 1, 2, -2, -2), (6, 1, 2, 2, 2), (-6, 1, 2, -2, -1),
    (5, 1 << 15, 16, 2, 3), (-5, 1 << 15, 16, -2, -2),  # p = +-2.5 * 2**16
    (3 << 15, 1 << 15, 31, 2, 2), (-3 << 15, 1 << 15, 31, -2, -1),  # p = +-1.5 * 2**31
    (-(1 << 31), 1 << 15, 47, 0, 0),  # p = -0.5 * 2**47, the only tie that shift 47 can reach
])
def test_ties_round_to_even_or_toward_plus_infinity(acc, scale, shift, half_even, half_up):
    assert _rq([acc], scale=scale, shift=shift, rounding="half_even")[0] == half_even
    assert _rq([acc], scale=scale, shift=shift, rounding="half_up")[0] == half_up


@pytest.mark.parametrize("rounding", golden.ROUNDING)
def test_non_ties_round_to_nearest(rounding):
    # 9/4 = 2.25 -> 2, 11/4 = 2.75 -> 3, and the same below zero.
    assert list(_rq([9, 11, -9, -11], shift=2, rounding=rounding)) == [2, 3, -2, -3]


def test_shift_zero_is_identity_then_saturation():
    assert list(_rq([-129, -128, -1, 0, 1, 127, 128])) == [-128, -128, -1, 0, 1, 127, 127]
    assert list(_rq([-1, 2, 3], scale=3)) == [-3, 6, 9]


def test_saturates_both_ways():
    assert _rq([(1 << 31) - 1], scale=65535)[0] == 127
    assert _rq([-(1 << 31)], scale=65535)[0] == -128
    assert _rq([-(1 << 31)], scale=65535, rounding="half_up")[0] == -128


def test_relu_applies_after_saturation():
    assert list(_rq([-(1 << 31), -1, 0, 5, 1 << 20], relu=True)) == [0, 0, 0, 5, 127]
    assert list(_rq([-3, 3], shift=1, rounding="half_up", relu=True)) == [0, 2]


def test_scale_zero_gives_zero():
    assert list(_rq([-(1 << 31), -1, 0, (1 << 31) - 1], scale=0, shift=5)) == [0, 0, 0, 0]


def test_keeps_shape_and_returns_int64():
    out = golden.requantize(np.arange(-6, 6).reshape(3, 4), scale=1, shift=1)
    assert out.shape == (3, 4) and out.dtype == np.int64
    assert golden.requantize(7, scale=1, shift=1).shape == ()


@pytest.mark.parametrize("rounding", golden.ROUNDING)
@pytest.mark.parametrize("shift", [0, 1, 15, 16, 31, 46, 47])
def test_matches_exact_fraction_reference(rounding, shift):
    rng = np.random.default_rng(1000 + shift)
    low, high = -(1 << 31), (1 << 31) - 1
    for scale in (1, 3, 1 << 15, 65535, int(rng.integers(0, 1 << 16))):
        uniform = rng.integers(low, high + 1, size=300)
        # Values within one of a tie: p = j * 2**shift + half + d, divided back by the scale.
        j = rng.integers(-(1 << 10), 1 << 10, size=100)
        half = (1 << shift) >> 1
        ties = [((int(jj) << shift) + half + d) // scale for jj in j for d in (-1, 0, 1)]
        acc = np.clip(np.concatenate([uniform, ties, [low, low + 1, -1, 0, 1, high - 1, high]]),
                      low, high).astype(np.int64)
        for relu in (False, True):
            got = golden.requantize(acc, scale=scale, shift=shift, rounding=rounding, relu=relu)
            want = [_requantize_reference(a, scale, shift, rounding, relu) for a in acc]
            assert got.tolist() == want, (scale, relu)


def test_output_stage_int32_is_acc_or_relu():
    acc = np.array([[-(1 << 31), -1], [0, (1 << 31) - 1]])
    assert np.array_equal(golden.output_stage(acc), acc)
    assert np.array_equal(golden.output_stage(acc, relu=True), [[0, 0], [0, (1 << 31) - 1]])


def test_output_stage_int8_is_requantize():
    acc = np.array([-1000, -5, 5, 1000])
    want = golden.requantize(acc, scale=3, shift=2, rounding="half_up", relu=True)
    got = golden.output_stage(acc, out="int8", scale=3, shift=2, rounding="half_up", relu=True)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=-1), r"scale must be an integer in \[0, 65535\]"),
    (dict(scale=65536), r"scale must be an integer in \[0, 65535\]"),
    (dict(scale=1.0), r"scale must be an integer in \[0, 65535\]"),
    (dict(shift=-1), r"shift must be an integer in \[0, 47\]"),
    (dict(shift=48), r"shift must be an integer in \[0, 47\]"),
    (dict(rounding="nearest"), r"rounding must be one of half_even, half_up"),
])
def test_requantize_rejects_bad_parameters(kwargs, message):
    kwargs = dict(dict(scale=1, shift=0), **kwargs)
    with pytest.raises(ValueError, match=message):
        golden.requantize(np.array([1]), **kwargs)
    with pytest.raises(ValueError, match=message):
        golden.output_stage(np.array([1]), out="int8", **kwargs)


@pytest.mark.parametrize("acc", [[1 << 31], [-(1 << 31) - 1], [1 << 70], [0.5]])
def test_acc_must_be_int32(acc):
    with pytest.raises(ValueError, match="acc"):
        golden.requantize(np.array(acc), scale=1, shift=0)
    with pytest.raises(ValueError, match="acc"):
        golden.output_stage(np.array(acc))


def test_output_stage_rejects_unknown_out():
    with pytest.raises(ValueError, match="out must be one of int32, int8"):
        golden.output_stage(np.array([1]), out="int16")
