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
