"""The whole accelerator through its Python API (:class:`openmxu.accelerator.Accelerator`):
the RTL with its HBM memory system and timing-checked device models in Verilator, driven by
the host driver exactly as a board would be, and checked bit-exactly against the golden model
(:mod:`openmxu.golden`).

Every check of a command covers three things: the error code the command finished with, the
elements of C against the golden model, and every other byte read back (the 64-byte guard
regions before and after C and the padding at the end of each row of C), which must still hold
the fill the driver loaded.

Each simulator launch costs a few seconds, so every test queues all its commands in one
:meth:`~openmxu.accelerator.Accelerator.run_raw` call and reports every failing command at once.

Two designs, each built once (``xdist_group``): the default :class:`Config` (8x8 array, HBM2,
four pseudo-channels, ``block_m=128``, ``block_k=256``) and a 4x16 array with two
pseudo-channels, ``block_m=16`` and ``block_k=64``. As in ``tests/test_memory_sim.py``,
``--dist loadgroup`` does not group with pytest 9, so the tests of the second design come
second in the file: the two workers then start by building the two designs in parallel.
"""

import copy
import time

import numpy as np
import pytest

from openmxu import Config, golden
from openmxu.accelerator import Accelerator
from openmxu.driver import GUARD_BYTES
from openmxu.registers import DESCRIPTOR, DESCRIPTOR_BASE, ErrorCode, Flags, MAX_DIMENSION

DEFAULT = Config()
SMALL = Config(rows=4, cols=16, channels=2, block_m=16, block_k=64)

default_group = pytest.mark.xdist_group("accelerator_8x8_hbm2_4ch")
small_group = pytest.mark.xdist_group("accelerator_4x16_hbm2_2ch")

BEAT = 32
FIELDS = [name for name, _ in DESCRIPTOR]


# --------------------------------------------------------------------------------------------
# Helpers


def _round_up(value, multiple=BEAT):
    return -(-value // multiple) * multiple


_expected = golden.accelerator_output


class Case:
    """One command: a label for the messages, the job and what C must hold afterwards
    (``expected=None``: C exactly as loaded, for a command that must fail) and the error
    code STATUS must report for its batch."""

    def __init__(self, label, job, expected=None, error=ErrorCode.NONE):
        self.label, self.job, self.expected, self.error = label, job, expected, ErrorCode(error)

    @property
    def shape(self):
        return f"{self.job.m}x{self.job.k}x{self.job.n} {self.job.out}"


def _plan(acc, label, a, b, *, base=0, **options):
    """A :class:`Case` of ``a @ b`` with ``options`` (``out``, ``scale``, ..., ``c``)."""
    job = acc.plan(a, b, base=base, **options)
    return Case(label, job, _expected(a, b, **options))


def _plan_batch(acc, specs, base=0):
    """Cases of one batch queued together, laid out one after the other from ``base`` so
    that no two share a byte; ``specs`` are ``(label, a, b, options)``."""
    cases = []
    for label, a, b, options in specs:
        case = _plan(acc, label, a, b, base=base, **options)
        cases.append(case)
        base = _round_up(case.job.end)
    return cases


def _first_mismatch(got, expected):
    bad = np.argwhere(got != expected)
    index = tuple(int(i) for i in bad[0])
    return (f"{len(bad)} of {expected.size} elements differ, first at {index}: "
            f"got {int(got[index])}, expected {int(expected[index])}")


def _problems(case, outcome):
    """What is wrong with the outcome of ``case`` (an empty list if nothing)."""
    job = case.job
    data = bytes.fromhex(outcome["data"])
    problems = []
    if outcome["error"] != case.error:
        try:
            got = ErrorCode(outcome["error"]).name
        except ValueError:
            got = f"unknown code {outcome['error']}"
        problems.append(f"error {got}, expected {case.error.name}")
    if len(data) != len(job.initial_c):
        return problems + [f"read back {len(data)} bytes, expected {len(job.initial_c)}"]
    changed = job.untouched(data)
    if changed:
        where = ", ".join(f"C{offset - GUARD_BYTES:+d}" for offset in changed[:4])
        problems.append(f"{len(changed)} byte(s) outside C's elements changed (byte offsets "
                        f"from C[0][0]: {where}{', ...' if len(changed) > 4 else ''})")
    if case.expected is None:
        if data != job.initial_c:
            initial = job.result(job.initial_c)
            got = job.result(data)
            problems.append("C changed by a command that must not touch memory: "
                            + _first_mismatch(got, initial))
    else:
        got = job.result(data)
        if got.shape != case.expected.shape or not np.array_equal(got, case.expected):
            problems.append(_first_mismatch(got, case.expected))
    return problems


def _run(acc, batches):
    """Run ``batches`` (lists of :class:`Case`) in one simulator launch; fail with every
    command that went wrong, named by label and shape. Returns the raw report."""
    report = acc.run_raw([[case.job for case in batch] for batch in batches])
    cases = [case for batch in batches for case in batch]
    assert len(report["results"]) == len(cases), \
        f"{len(report['results'])} results for {len(cases)} commands"
    failures = []
    for case, outcome in zip(cases, report["results"]):
        problems = _problems(case, outcome)
        if problems:
            failures.append(f"{case.label} ({case.shape}): " + "; ".join(problems))
    assert not failures, (f"{len(failures)} of {len(cases)} commands failed:\n  "
                          + "\n  ".join(failures))
    return report


def _singles(cases):
    """Each case in a batch of its own."""
    return [[case] for case in cases]


def _register(job, name):
    return dict(job.registers)[DESCRIPTOR_BASE + FIELDS.index(name)]


def _edited(job, **fields):
    """A copy of ``job`` whose descriptor has ``fields`` changed (loads and read-back stay
    those of the valid job)."""
    bad = copy.copy(job)
    writes = dict(job.registers)
    for name, value in fields.items():
        writes[DESCRIPTOR_BASE + FIELDS.index(name)] = value % (1 << 32)
    bad.registers = sorted(writes.items())
    return bad


def _at_end(acc, case):
    """``case`` moved to the end of the memory: C's last row ends at the last byte, its
    leading guard before it, B and A below that (the read-back keeps only the leading guard,
    as there is no memory for the trailing one)."""
    job = case.job
    c_span = (job.m - 1) * job.c_stride + _round_up(job.element_bytes * job.n)
    assert c_span == job.m * job.c_stride
    c_addr = acc.memory_bytes - c_span
    (_, a_image), (_, b_image), (_, c_image) = job.loads
    b_addr = c_addr - GUARD_BYTES - len(b_image)
    a_addr = b_addr - len(a_image)
    moved = _edited(job, a_addr=a_addr, b_addr=b_addr, c_addr=c_addr)
    moved.loads = [(a_addr, a_image), (b_addr, b_image),
                   (c_addr - GUARD_BYTES, c_image[:-GUARD_BYTES])]
    moved.readback = (c_addr - GUARD_BYTES, len(c_image) - GUARD_BYTES)
    moved.initial_c = job.initial_c[:-GUARD_BYTES]
    moved.c_addr, moved.end = c_addr, acc.memory_bytes
    return Case(case.label, moved, case.expected, case.error)


def _realize(targets, k=2):
    """Operands whose product has the int32 sums ``targets`` in column 0, their negation in
    column 1 and 0 in column 2: ``B`` is ``[127, ..., 127, 1]`` (column 0), its negation and
    zeros, and each row of ``A`` is chosen to sum to its target. For exact tests of the
    output stage at chosen accumulator values."""
    rows = []
    for target in targets:
        row, rest = [], int(target)
        for slot in range(k - 1):
            value = int(np.clip(round(rest / (127 * (k - 1 - slot))), -128, 127))
            row.append(value)
            rest -= 127 * value
        assert -127 <= rest <= 127, f"target {target} out of reach with K = {k}"
        rows.append(row + [rest])
    column = np.array([127] * (k - 1) + [1], dtype=np.int64)
    b = np.stack([column, -column, np.zeros(k, dtype=np.int64)], axis=1)
    a = np.array(rows, dtype=np.int64)
    assert np.array_equal((a @ b)[:, 0], np.asarray(targets))
    return a, b


def _random(seed, m, k, n):
    return golden.random_operands(np.random.default_rng(seed), m, k, n)


# --------------------------------------------------------------------------------------------
# The default configuration


@default_group
def test_shapes():
    """Bit-exact int32 results against the golden model for shapes that leave partial tiles,
    blocks and chunks in every dimension: a single element, K = 1, M and N not multiples of
    the array, tall and skinny operands, a single long dot product, K over several
    ``block_k`` chunks, M over several ``block_m`` blocks, exact multiples of the array, and
    one job whose trailing guard ends at the last byte of the memory."""
    acc = Accelerator(DEFAULT)
    shapes = [(1, 1, 1), (20, 1, 30), (13, 40, 21), (300, 8, 3), (3, 8, 300), (1, 300, 1),
              (17, 600, 33), (260, 16, 12), (64, 64, 64), (9, 257, 7), (129, 255, 17)]
    cases = []
    for seed, (m, k, n) in enumerate(shapes):
        a, b = _random(seed, m, k, n)
        cases.append(_plan(acc, f"shape {m}x{k}x{n}", a, b))
    # The same job at the top of the memory: the guard after C ends at the last byte.
    a, b = _random(100, 33, 70, 19)
    size = acc.plan(a, b).end
    top = acc.memory_bytes - _round_up(size)
    cases.append(_plan(acc, "at the top of the memory", a, b, base=top))
    assert cases[-1].job.end <= acc.memory_bytes
    _run(acc, _singles(cases))


@small_group
def test_other_geometry():
    """A 4x16 array with two pseudo-channels, ``block_m=16`` and ``block_k=64`` (so that
    every shape below crosses blocks and chunks): odd shapes in int32, int8 (both roundings,
    ReLU) and accumulating into C, bit-exact, guards untouched; then a bad descriptor and the
    memory range of this configuration."""
    acc = Accelerator(SMALL)
    cases = []
    int32_shapes = [(1, 1, 1), (17, 5, 33), (33, 70, 17), (3, 4, 1), (50, 129, 16),
                    (16, 64, 16), (1, 200, 47)]
    for seed, (m, k, n) in enumerate(int32_shapes):
        a, b = _random(seed, m, k, n)
        cases.append(_plan(acc, f"int32 {m}x{k}x{n}", a, b))
    int8_jobs = [((5, 130, 47), dict(scale=77, shift=9, rounding="half_up", relu=True)),
                 ((40, 200, 16), dict(scale=1, shift=7, rounding="half_even")),
                 ((18, 3, 65), dict(scale=65535, shift=20, rounding="half_even"))]
    for seed, ((m, k, n), options) in enumerate(int8_jobs, start=20):
        a, b = _random(seed, m, k, n)
        cases.append(_plan(acc, f"int8 {m}x{k}x{n} {options}", a, b, out="int8", **options))
    rng = np.random.default_rng(30)
    for m, k, n in [(20, 65, 31), (33, 1, 17)]:
        a, b = golden.random_operands(rng, m, k, n)
        c = rng.integers(-2**31, 2**31, size=(m, n))
        cases.append(_plan(acc, f"accumulate {m}x{k}x{n}", a, b, c=c))
    a, b = _random(40, 3, 9, 5)
    relu = _plan(acc, "int32 with ReLU", a, b, relu=True)
    cases.append(relu)
    out_of_range = Case("A past the memory", _edited(relu.job, a_addr=acc.memory_bytes),
                        error=ErrorCode.OUT_OF_RANGE)
    a, b = _random(41, 21, 33, 18)
    size = acc.plan(a, b).end
    top = _plan(acc, "at the top of the memory", a, b,
                base=acc.memory_bytes - _round_up(size))
    _run(acc, _singles(cases + [out_of_range, top]))


@default_group
def test_extreme_operands():
    """All -128, all 127 and the two mixed (every product -16256), separately and over
    several K chunks, the ``extremes`` pattern (only -128 and 127) and random operands with
    5 % of each extreme."""
    acc = Accelerator(DEFAULT)
    cases = []
    for label, low_a, low_b, (m, k, n) in [
            ("all -128", -128, -128, (20, 300, 20)),
            ("all 127", 127, 127, (9, 513, 17)),
            ("A -128, B 127", -128, 127, (16, 40, 8)),
            ("A 127, B -128", 127, -128, (7, 260, 30)),
            ("all -128, one element", -128, -128, (1, 1, 1))]:
        a = np.full((m, k), low_a, dtype=np.int64)
        b = np.full((k, n), low_b, dtype=np.int64)
        cases.append(_plan(acc, label, a, b))
    for seed, (m, k, n) in enumerate([(24, 100, 40), (131, 600, 9)]):
        a, b = golden.operands("extremes", m, k, n, seed=seed)
        cases.append(_plan(acc, f"extremes {m}x{k}x{n}", a, b))
    a, b = golden.operands("most_negative", 8, 8, 8)
    cases.append(_plan(acc, "most negative in int8 (saturates)", a, b, out="int8"))
    for seed, (m, k, n) in enumerate([(40, 120, 24), (8, 1000, 8)], start=10):
        a, b = _random(seed, m, k, n)
        cases.append(_plan(acc, f"random {m}x{k}x{n}", a, b))
    _run(acc, _singles(cases))


@default_group
def test_requantization():
    """The int8 output stage at its edges, against ``golden.output_stage``: exact ties in
    both rounding modes for positive and negative values (also checked against hand-computed
    values), ties at the saturation limits, saturation to 127 and -128, ReLU with int8 and
    with int32 output, scale 0, shift 0, large shifts up to 47 and random settings."""
    acc = Accelerator(DEFAULT)
    cases = []
    # x / 2 for odd x: every value a tie.
    odd = list(range(-9, 10, 2)) + [0, 2, -2]
    a, b = _realize(odd)
    by_hand = {
        "half_even": {-9: -4, -7: -4, -5: -2, -3: -2, -1: 0, 1: 0, 3: 2, 5: 2, 7: 4, 9: 4},
        "half_up": {-9: -4, -7: -3, -5: -2, -3: -1, -1: 0, 1: 1, 3: 2, 5: 3, 7: 4, 9: 5},
    }
    for rounding, table in by_hand.items():
        case = _plan(acc, f"ties at shift 1 ({rounding})", a, b, out="int8", scale=1,
                     shift=1, rounding=rounding)
        for row, x in enumerate(odd):
            if x in table:
                assert case.expected[row, 0] == table[x], \
                    f"golden model: {x} / 2 {rounding} is {case.expected[row, 0]}"
        cases.append(case)
    # 3 t / 16 with 3 t = 8 mod 16: ties at every third value from -58.5 to 58.5.
    ties = [8 + 16 * j for j in range(-20, 20)]
    a, b = _realize(ties)
    for rounding in ("half_even", "half_up"):
        cases.append(_plan(acc, f"ties at scale 3, shift 4 ({rounding})", a, b, out="int8",
                           scale=3, shift=4, rounding=rounding))
    # 40 t / 4096 = 2.5 + 5 j: ties from -132.5 to 127.5, across both saturation limits
    # (127.5 rounds to 128 and saturates; -127.5 goes to -128 or -127 by the mode).
    ties = [256 + 512 * j for j in range(-27, 26)]
    a, b = _realize(ties)
    for rounding in ("half_even", "half_up"):
        for relu in (False, True):
            cases.append(_plan(acc, f"ties at the limits ({rounding}, relu={relu})", a, b,
                               out="int8", scale=40, shift=12, rounding=rounding, relu=relu))
    # Saturation at shift 0, on both sides of each limit, and far beyond.
    limits = [-16000, -1000, -130, -129, -128, -127, -1, 0, 1, 126, 127, 128, 129, 16000]
    a, b = _realize(limits)
    cases.append(_plan(acc, "saturation at shift 0", a, b, out="int8", scale=1, shift=0))
    cases.append(_plan(acc, "saturation at shift 0 with ReLU", a, b, out="int8", scale=1,
                       shift=0, relu=True))
    # Large accumulators (K = 600, every product near +-16384) against large scales.
    a, b = golden.operands("extremes", 24, 600, 20, seed=5)
    for shift in (0, 24, 31, 34, 40, 47):
        for rounding in ("half_even", "half_up"):
            cases.append(_plan(acc, f"scale 65535, shift {shift} ({rounding})", a, b,
                               out="int8", scale=65535, shift=shift, rounding=rounding))
    assert not cases[-1].expected.any(), "golden model: shift 47 of |p| < 2**46 is not 0"
    a, b = _random(6, 30, 50, 28)
    cases.append(_plan(acc, "scale 0", a, b, out="int8", scale=0, shift=5))
    cases.append(_plan(acc, "scale 0, shift 0, ReLU", a, b, out="int8", scale=0, shift=0,
                       relu=True, rounding="half_up"))
    cases.append(_plan(acc, "scale 3, shift 0", a, b, out="int8", scale=3, shift=0))
    cases.append(_plan(acc, "int8 with ReLU", a, b, out="int8", scale=5, shift=10,
                       relu=True))
    cases.append(_plan(acc, "int32 with ReLU", a, b, out="int32", relu=True))
    cases.append(_plan(acc, "int32 ignores scale and shift", a, b, out="int32", scale=0,
                       shift=47, rounding="half_up"))
    rng = np.random.default_rng(7)
    for index in range(6):
        m, k, n = (int(x) for x in rng.integers(1, 70, size=3))
        a, b = golden.random_operands(rng, m, k, n)
        options = dict(scale=int(rng.integers(0, 65536)), shift=int(rng.integers(0, 48)),
                       rounding=("half_even", "half_up")[index % 2], relu=bool(index & 2))
        cases.append(_plan(acc, f"random settings {options}", a, b, out="int8", **options))
    _run(acc, _singles(cases))


@default_group
def test_accumulate():
    """``C += A @ B`` in int32: random C over the whole int32 range, C = 0, and C near the
    limits so that the sum wraps (2**31 - 1 minus a little plus a positive product, -2**31
    plus a little plus a negative one, also with ReLU applied after the wrap), over several M
    blocks and K chunks; against ``wrap(A @ B + C, 32)``."""
    acc = Accelerator(DEFAULT)
    rng = np.random.default_rng(11)
    cases = []
    for m, k, n in [(30, 100, 20), (140, 300, 20), (1, 1, 1), (5, 8, 9)]:
        a, b = golden.random_operands(rng, m, k, n)
        c = rng.integers(-2**31, 2**31, size=(m, n))
        cases.append(_plan(acc, f"random C {m}x{k}x{n}", a, b, c=c))
    a, b = golden.random_operands(rng, 12, 40, 12)
    cases.append(_plan(acc, "C = 0", a, b, c=np.zeros((12, 12), dtype=np.int64)))
    m, k, n = 10, 16, 11
    high = 2**31 - 1 - rng.integers(0, 100_000, size=(m, n))
    a, b = np.full((m, k), 127), np.full((k, n), 127)   # each sum 258064
    case = _plan(acc, "C near 2**31 - 1, positive product (wraps)", a, b, c=high)
    assert (case.expected < 0).all(), "the sums were meant to wrap"
    cases.append(case)
    low = -2**31 + rng.integers(0, 100_000, size=(m, n))
    a, b = np.full((m, k), -128), np.full((k, n), 127)  # each sum -260096
    for relu in (False, True):
        case = _plan(acc, f"C near -2**31, negative product (wraps), relu={relu}", a, b,
                     c=low, relu=relu)
        assert (case.expected > 0).all(), "the sums were meant to wrap"
        cases.append(case)
    a, b = golden.random_operands(rng, 20, 30, 10)
    c = rng.integers(-2**31, 2**31, size=(20, 10))
    cases.append(_plan(acc, "random C with ReLU", a, b, c=c, relu=True))
    _run(acc, _singles(cases))


@default_group
def test_back_to_back():
    """Batches of four different commands queued together before waiting, each with its own
    A, B and C: int32 over several K chunks, int8 over several M blocks, accumulate and ReLU;
    then four tiny commands, which finish faster than the host queues them."""
    acc = Accelerator(DEFAULT)
    rng = np.random.default_rng(21)

    def ops(m, k, n):
        return golden.random_operands(rng, m, k, n)

    c = rng.integers(-2**31, 2**31, size=(17, 50))
    first = _plan_batch(acc, [
        ("int32, K over 2 chunks", *ops(40, 300, 24), {}),
        ("int8, M over 2 blocks", *ops(130, 20, 9),
         dict(out="int8", scale=77, shift=9, rounding="half_up")),
        ("accumulate", *ops(17, 33, 50), dict(c=c)),
        ("int32 with ReLU", *ops(9, 9, 9), dict(relu=True)),
    ])
    second = _plan_batch(acc, [
        ("tiny 1", *ops(1, 1, 1), {}),
        ("tiny 2", *ops(2, 3, 4), dict(out="int8", scale=3, shift=2)),
        ("tiny 3", *ops(3, 1, 2), dict(c=rng.integers(-2**31, 2**31, size=(3, 2)))),
        ("tiny 4", *ops(1, 9, 1), dict(relu=True)),
    ], base=_round_up(first[-1].job.end))
    _run(acc, [first, second])


@default_group
def test_memory_backpressure():
    """Random stalls on every channel between the accelerator and the memory system (reads,
    writes and responses): results still bit-exact, guards untouched, for int32 over several
    K chunks and M blocks, int8, accumulate and a batch of two commands."""
    acc = Accelerator(DEFAULT, throttle=True)
    rng = np.random.default_rng(31)
    cases = []
    for m, k, n in [(13, 40, 21), (17, 600, 33), (140, 64, 16)]:
        a, b = golden.random_operands(rng, m, k, n)
        cases.append(_plan(acc, f"int32 {m}x{k}x{n}", a, b))
    a, b = golden.random_operands(rng, 33, 300, 19)
    cases.append(_plan(acc, "int8 33x300x19", a, b, out="int8", scale=100, shift=14,
                       rounding="half_up"))
    a, b = golden.random_operands(rng, 20, 20, 20)
    c = rng.integers(-2**31, 2**31, size=(20, 20))
    cases.append(_plan(acc, "accumulate 20x20x20", a, b, c=c))
    batch = _plan_batch(acc, [
        ("batch 1", *golden.random_operands(rng, 9, 270, 10), {}),
        ("batch 2", *golden.random_operands(rng, 30, 30, 3), dict(out="int8", shift=3)),
    ])
    _run(acc, _singles(cases) + [batch])


# The descriptor of the valid job these are made from: 20 x 40 x 40, int32, A and B strides
# 64, C stride 160; A from 0, B from 1280, C from 3904 (after a guard), C's span 3200 bytes.
BAD_SHAPE = (20, 40, 40)


def _bad_descriptors(job, memory_bytes):
    """``(label, code, fields)`` of bad descriptors made from the valid ``job``."""
    reg = {name: _register(job, name) for name in FIELDS}
    a_addr, b_addr, c_addr = reg["a_addr"], reg["b_addr"], reg["c_addr"]
    m, k, n = reg["m"], reg["k"], reg["n"]
    b_span = (k - 1) * reg["b_stride"] + _round_up(n)
    c_span = (m - 1) * reg["c_stride"] + _round_up(4 * n)
    int8 = reg["flags"] | Flags.INT8
    quant = lambda shift: reg["quant"] & 0xFFFF | shift << 16    # noqa: E731
    E = ErrorCode
    return [
        ("M = 0", E.ZERO_DIMENSION, dict(m=0)),
        ("K = 0", E.ZERO_DIMENSION, dict(k=0)),
        ("N = 0", E.ZERO_DIMENSION, dict(n=0)),
        ("M = 2**20", E.DIMENSION_TOO_LARGE, dict(m=MAX_DIMENSION + 1)),
        ("K = 2**20", E.DIMENSION_TOO_LARGE, dict(k=MAX_DIMENSION + 1)),
        ("N = 2**32 - 1", E.DIMENSION_TOO_LARGE, dict(n=2**32 - 1)),
        ("A misaligned by 16", E.MISALIGNED_ADDRESS, dict(a_addr=a_addr + 16)),
        ("B misaligned by 1", E.MISALIGNED_ADDRESS, dict(b_addr=b_addr + 1)),
        ("C misaligned by 4", E.MISALIGNED_ADDRESS, dict(c_addr=c_addr + 4)),
        ("A stride 40", E.MISALIGNED_STRIDE, dict(a_stride=40)),
        ("B stride 48", E.MISALIGNED_STRIDE, dict(b_stride=48)),
        ("C stride 168", E.MISALIGNED_STRIDE, dict(c_stride=168)),
        ("A stride 32 < K", E.STRIDE_TOO_SMALL, dict(a_stride=32)),
        ("A stride 0", E.STRIDE_TOO_SMALL, dict(a_stride=0)),
        ("B stride 32 < N", E.STRIDE_TOO_SMALL, dict(b_stride=32)),
        ("C stride 128 < 4 N", E.STRIDE_TOO_SMALL, dict(c_stride=128)),
        ("int8 C stride 32 < N", E.STRIDE_TOO_SMALL, dict(flags=int8, c_stride=32)),
        ("shift 48", E.BAD_QUANT, dict(quant=quant(48))),
        ("shift 63", E.BAD_QUANT, dict(quant=quant(63))),
        ("ACCUMULATE with INT8", E.BAD_QUANT,
         dict(flags=Flags.INT8 | Flags.ACCUMULATE)),
        ("A at the end of the memory", E.OUT_OF_RANGE, dict(a_addr=memory_bytes)),
        ("B's last beat past the memory", E.OUT_OF_RANGE,
         dict(b_addr=memory_bytes - b_span + BEAT)),
        ("C's last beat past the memory", E.OUT_OF_RANGE,
         dict(c_addr=memory_bytes - c_span + BEAT)),
        ("C at 2**32 - 32", E.OUT_OF_RANGE, dict(c_addr=2**32 - BEAT)),
        ("A stride 2**32 - 32 (wraps in 32 bits)", E.OUT_OF_RANGE,
         dict(a_stride=2**32 - BEAT)),
        ("C stride 2**31 (wraps in 32 bits)", E.OUT_OF_RANGE, dict(c_stride=2**31)),
        ("C on A", E.OVERLAP, dict(c_addr=a_addr)),
        ("C's first beat on B's last", E.OVERLAP, dict(c_addr=b_addr + b_span - BEAT)),
        ("A on C", E.OVERLAP, dict(a_addr=c_addr)),
        ("B on C", E.OVERLAP, dict(b_addr=c_addr)),
        ("A's first beat on C's last", E.OVERLAP, dict(a_addr=c_addr + c_span - BEAT)),
        ("B's last beat on C's first", E.OVERLAP, dict(b_addr=c_addr - b_span + BEAT)),
        # The order of the checks: the first that fails is reported.
        ("M = 0 and A misaligned", E.ZERO_DIMENSION, dict(m=0, a_addr=a_addr + 16)),
        ("N too large and shift 48", E.DIMENSION_TOO_LARGE,
         dict(n=MAX_DIMENSION + 1, quant=quant(48))),
        ("A misaligned and a stride misaligned", E.MISALIGNED_ADDRESS,
         dict(a_addr=a_addr + 16, b_stride=48)),
        ("C stride misaligned and too small", E.MISALIGNED_STRIDE, dict(c_stride=136)),
        ("stride too small and shift 48", E.STRIDE_TOO_SMALL,
         dict(a_stride=32, quant=quant(48))),
        ("shift 48 and A past the memory", E.BAD_QUANT,
         dict(quant=quant(48), a_addr=memory_bytes)),
        ("A past the memory and C on B", E.OUT_OF_RANGE,
         dict(a_addr=memory_bytes, c_addr=b_addr)),
    ]


@default_group
def test_bad_descriptors():
    """Every error code but NONE and BUS_ERROR, each from a valid job with descriptor fields
    edited and in a batch of its own: the command reports its code and leaves the whole
    read-back region (C, its row padding and both guards) exactly as loaded; several
    conditions at once report the first in the sequencer's order. Then a bad command queued
    ahead of a good one, and good commands after all of them, including one whose A, B and C
    sit right at the end of the memory: all still work."""
    acc = Accelerator(DEFAULT)
    a, b = _random(51, *BAD_SHAPE)
    valid = acc.plan(a, b)
    assert (_register(valid, "c_addr"), valid.c_stride) == (3904, 160)
    bad = [Case(label, _edited(valid, **fields), error=code)
           for label, code, fields in _bad_descriptors(valid, acc.memory_bytes)]
    assert {case.error for case in bad} == set(ErrorCode) - {ErrorCode.NONE,
                                                             ErrorCode.BUS_ERROR}
    # A batch of a bad command and a good one: STATUS holds the last command's code (NONE),
    # the bad one leaves its C alone and the good one runs.
    ahead = Case("bad command queued ahead", _edited(valid, m=0))
    behind = _plan(acc, "good command behind it", *_random(52, 9, 30, 13),
                   base=_round_up(valid.end))
    after = [_plan(acc, "valid after the errors", a, b)]
    after.append(_at_end(acc, _plan(acc, "A, B, C at the end of the memory",
                                     *_random(53, 7, 33, 5))))
    _run(acc, _singles(bad) + [[ahead, behind]] + _singles(after))


@default_group
def test_stats():
    """Performance counters of a 128x128x128 command: over 90 % of the array's peak, every
    activation vector of every tile entering the array once (M x ceil(K/8) x ceil(N/8)
    cycles), C written once in whole beats, A and B read at least once, and no more active
    cycles than cycles."""
    acc = Accelerator(DEFAULT)
    m = k = n = 128
    a, b = _random(61, m, k, n)
    [result] = acc.run([[acc.plan(a, b)]])
    expected = golden.matmul(a, b)
    assert np.array_equal(result, expected), _first_mismatch(result, expected)
    stats = acc.last_stats
    print(f"128x128x128: {stats.as_dict()}")
    tiles = -(-k // DEFAULT.rows) * -(-n // DEFAULT.cols)
    assert stats.mac_active == m * tiles == m * k * n // DEFAULT.macs, stats
    assert stats.bytes_written == m * n * 4, stats
    assert stats.bytes_read >= m * k + k * n, stats
    assert stats.cycles >= stats.mac_active, stats
    assert stats.utilization > 0.9, f"utilization {stats.utilization:.3f}: {stats}"


@default_group
@pytest.mark.slow
def test_long_k_wraps():
    """M = N = 1 and K = 131080 with every operand -128: each product is 16384, so the sum
    (2147614720) passes 2**31 - 1 and the int32 accumulator wraps to -2147352576, exactly
    like the golden model."""
    acc = Accelerator(DEFAULT)
    k = 131080
    a = np.full((1, k), -128, dtype=np.int64)
    b = np.full((k, 1), -128, dtype=np.int64)
    case = _plan(acc, "K = 131080, all -128", a, b)
    assert case.expected[0, 0] == 16384 * k - 2**32 == -2147352576
    started = time.monotonic()
    report = _run(acc, [[case]])
    print(f"K = {k}: {report['sim_cycles']} cycles, {report['sim_seconds']:.1f} s of "
          f"simulation, {time.monotonic() - started:.1f} s in all")
