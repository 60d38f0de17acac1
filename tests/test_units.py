"""amaranth.sim unit tests of the processing elements, the skew buffers, the result FIFO
and tiny arrays."""

from collections import deque

import numpy as np
import pytest
from amaranth import Fragment, Signal, ResetInserter, signed
from amaranth.sim import Simulator

from openmxu import golden
from rtl.fifo import CreditFIFO, CrossingFIFO
from rtl.systolic import (WeightStationaryPE, OutputStationaryPE, MultiplierPair, Skew,
                          WeightStationaryArray, OutputStationaryArray, ArrayClockCrossing)

#: Periods of the array's own clock against ``sync``'s 10 ns in the clock-crossing tests:
#: faster, slower, and faster by a ratio whose edges take every relative phase.
ARRAY_PERIODS = (3.9e-9, 23e-9, 7.3e-9)


def _simulate(dut, *testbenches, array_period=None):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    if array_period is not None:
        sim.add_clock(array_period, domain="array")
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


def test_ws_pe_multiplies_with_the_selected_bank_and_wraps():
    dut = WeightStationaryPE(operand_width=8, acc_width=16)

    async def testbench(ctx):
        # Load -128 into bank 0 and 127 into bank 1 as the weight passes south.
        for bank, weight in ((0, -128), (1, 127)):
            ctx.set(dut.w_in, weight)
            ctx.set(dut.load_in, 1)
            ctx.set(dut.load_bank_in, bank)
            await ctx.tick()
            assert ctx.get(dut.w_out) == weight
        ctx.set(dut.load_in, 0)
        cases = [  # (a, sel, psum_in, expected psum_out with 16-bit wrap)
            (-128, 0, 0, 16384),
            (-128, 0, 32767, -16385),      # 32767 + 16384 wraps
            (127, 1, -32768, -32768 + 16129),
            (-128, 1, 100, 100 - 16256),
            (0, 1, -5, -5),
        ]
        # The operands and the product are registered: the partial sum a product joins
        # arrives `lag` cycles after the activation, and the sum leaves a cycle after that.
        lag = dut.result_delay - 1
        for index, (a, sel, _, _) in enumerate(cases + [(0, 0, 0, 0)] * lag):
            ctx.set(dut.a_in, a)
            ctx.set(dut.sel_in, sel)
            ctx.set(dut.psum_in, cases[index - lag][2] if index >= lag else 0)
            await ctx.tick()
            if index >= lag:
                assert ctx.get(dut.psum_out) == cases[index - lag][3]
            assert ctx.get(dut.a_out) == a and ctx.get(dut.sel_out) == sel
        # A load into bank 1 leaves bank 0 alone.
        ctx.set(dut.w_in, 3)
        ctx.set(dut.load_in, 1)
        ctx.set(dut.load_bank_in, 1)
        ctx.set(dut.a_in, 2)
        ctx.set(dut.sel_in, 0)
        ctx.set(dut.psum_in, 0)
        await ctx.tick()
        ctx.set(dut.load_in, 0)
        ctx.set(dut.sel_in, 1)
        for _ in range(dut.result_delay - 1):
            await ctx.tick()
        assert ctx.get(dut.psum_out) == -256  # used bank 0 (-128)
        await ctx.tick()
        assert ctx.get(dut.psum_out) == 6  # bank 1 now holds 3

    _simulate(dut, testbench)


def test_os_pe_accumulates_and_drains_between_tiles():
    dut = OutputStationaryPE(operand_width=8, acc_width=32)

    async def testbench(ctx):
        tile = [(-128, -128), (127, -128), (5, 7), (-1, 1)]
        expected = sum(a * b for a, b in tile)
        ctx.set(dut.drain_in, 0)
        for index, (a, b) in enumerate(tile):
            ctx.set(dut.a_in, a)
            ctx.set(dut.b_in, b)
            ctx.set(dut.last_in, index == len(tile) - 1)
            await ctx.tick()
            assert (ctx.get(dut.a_out), ctx.get(dut.b_out)) == (a, b)
        # The finished sum is on drain_out right after the last pair; the next tile starts
        # from zero in the same cycle.
        assert ctx.get(dut.drain_out) == expected
        ctx.set(dut.a_in, 2)
        ctx.set(dut.b_in, 3)
        ctx.set(dut.last_in, 0)
        ctx.set(dut.drain_in, 1111)  # a sum from the PE above enters the drain chain
        await ctx.tick()
        ctx.set(dut.drain_in, 2222)
        await ctx.tick()
        # Two registers per PE: the value from above appears two cycles after it entered.
        assert ctx.get(dut.drain_out) == 1111
        ctx.set(dut.a_in, 4)
        ctx.set(dut.b_in, 5)
        ctx.set(dut.last_in, 1)
        await ctx.tick()
        assert ctx.get(dut.drain_out) == 2 * 3 + 2 * 3 + 4 * 5  # 2*3 entered twice

    _simulate(dut, testbench)


@pytest.mark.parametrize("descending", [False, True])
def test_skew_delays_each_lane(descending):
    lanes = 5
    dut = Skew(lanes=lanes, shape=signed(8), descending=descending)
    assert [dut.delay(i) for i in range(lanes)] == (
        [4, 3, 2, 1, 0] if descending else [0, 1, 2, 3, 4])
    seen = []

    async def testbench(ctx):
        for cycle in range(12):
            ctx.set(dut.i, [cycle * 10 + lane if cycle < 3 else 0 for lane in range(lanes)])
            seen.append(list(ctx.get(dut.o)))
            await ctx.tick()

    _simulate(dut, testbench)
    for lane in range(lanes):
        delay = dut.delay(lane)
        column = [row[lane] for row in seen]
        assert column[delay:delay + 3] == [lane, 10 + lane, 20 + lane]
        assert all(v == 0 for i, v in enumerate(column) if not delay <= i < delay + 3)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_credit_fifo_keeps_order_with_its_writer_within_credits(depth):
    """A writer that writes whenever its credits allow, against a reader ready at random:
    every entry comes out unchanged and in order."""
    dut = CreditFIFO(width=16, depth=depth)
    rng = np.random.default_rng(depth)
    expected, seen = deque(), []
    total = 200

    async def testbench(ctx):
        inside = written = 0
        for cycle in range(6 * total):
            # Stall the reader for a while at the start, then at random.
            reading = cycle >= 3 * depth and rng.random() < 0.6
            pop = ctx.get(dut.r_rdy) and reading
            write = written < total and inside - pop < depth and rng.random() < 0.8
            ctx.set(dut.r_en, reading)
            ctx.set(dut.w_en, write)
            ctx.set(dut.w_data, int(rng.integers(1 << 16)))
            if pop:
                seen.append(ctx.get(dut.r_data))
            if write:
                expected.append(ctx.get(dut.w_data))
                written += 1
            inside += write - pop
            await ctx.tick()
        assert written == total and inside == 0

    _simulate(dut, testbench)
    assert seen == list(expected)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_credit_fifo_drains_one_entry_a_cycle(depth):
    dut = CreditFIFO(width=16, depth=depth)

    async def testbench(ctx):
        for value in range(depth):
            ctx.set(dut.w_en, 1)
            ctx.set(dut.w_data, 0x100 + value)
            await ctx.tick()
        ctx.set(dut.w_en, 0)
        await ctx.tick().repeat(2)
        ctx.set(dut.r_en, 1)
        for value in range(depth):
            assert ctx.get(dut.r_rdy) and ctx.get(dut.r_data) == 0x100 + value
            await ctx.tick()
        assert not ctx.get(dut.r_rdy)

    _simulate(dut, testbench)


@pytest.mark.parametrize("cls,kwargs,message", [
    (CrossingFIFO, {"width": 8, "depth": 2}, "depth must be"),
    (CrossingFIFO, {"width": 8, "depth": 12}, "depth must be a power of two"),
    (CreditFIFO, {"width": 0, "depth": 4}, "width must be"),
    (CreditFIFO, {"width": 8, "depth": 0}, "depth must be"),
    (CreditFIFO, {"width": 8, "depth": 5000}, "depth must be"),
])
def test_fifos_reject_bad_parameters(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("array_period", ARRAY_PERIODS)
def test_crossing_fifo_keeps_order_across_clocks(array_period):
    """Writer in ``sync`` and reader in ``array``, each stalling at random: every entry
    comes out unchanged and in order, the write side never counts more than the capacity,
    and with both sides always willing it moves one entry per cycle of the slower clock."""
    dut = CrossingFIFO(width=16, depth=8, w_domain="sync", r_domain="array")
    rng = np.random.default_rng(int(array_period * 1e10))
    total = 300
    values = [int(v) for v in rng.integers(1 << 16, size=total)]
    seen = []

    async def writer(ctx):
        index = 0
        while index < total:
            ctx.set(dut.w_en, index < total and (index > total // 2 or rng.random() < 0.7))
            ctx.set(dut.w_data, values[index % total])
            assert ctx.get(dut.w_level) <= dut.capacity
            if ctx.get(dut.w_en) and ctx.get(dut.w_rdy):
                index += 1
            await ctx.tick()
        ctx.set(dut.w_en, 0)

    async def reader(ctx):
        cycles_at_full_rate = []
        cycle = 0
        while len(seen) < total:
            ready = len(seen) > total // 2 or rng.random() < 0.6
            ctx.set(dut.r_en, ready)
            if ready and ctx.get(dut.r_rdy):
                seen.append(ctx.get(dut.r_data))
                if len(seen) > total - 40:
                    cycles_at_full_rate.append(cycle)
            await ctx.tick("array")
            cycle += 1
            assert cycle < 20 * total, f"{len(seen)} of {total} entries read"
        # The last 40 entries, both sides always willing: one per cycle of the slower clock.
        span = cycles_at_full_rate[-1] - cycles_at_full_rate[0] + 1
        slower = max(1.0, 1e-8 / array_period)  # array cycles per sync cycle, at least 1
        assert span <= 40 * slower + 2, f"40 entries took {span} cycles of the read clock"

    _simulate(dut, writer, reader, array_period=array_period)
    assert seen == values


async def _collect(ctx, dut, results, *, count, budget, ready_probability=1.0):
    """Take result rows until ``count`` arrived, or fail after ``budget`` cycles (a lost row
    must fail the test, not hang it); READY is high in a random ``ready_probability`` of the
    cycles."""
    stalls = np.random.default_rng(3)
    for _ in range(budget):
        if len(results) >= count:
            return
        ready = ready_probability == 1.0 or stalls.random() < ready_probability
        ctx.set(dut.results.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(dut.results.valid, dut.results.payload)
        if valid and ready:
            results.append((list(payload.data), payload.last))
    raise AssertionError(f"{len(results)} of {count} result rows after {budget} cycles")


async def _send_weight_tiles(ctx, dut, tiles):
    for b in tiles:
        for row in b.tolist():
            ctx.set(dut.weights.payload, row)
            ctx.set(dut.weights.valid, 1)
            await ctx.tick().until(dut.weights.ready)
    ctx.set(dut.weights.valid, 0)


async def _send_activation_tiles(ctx, dut, tiles):
    for a in tiles:
        for index, vector in enumerate(a.tolist()):
            ctx.set(dut.activations.payload, {"data": vector, "last": index == len(a) - 1})
            ctx.set(dut.activations.valid, 1)
            await ctx.tick().until(dut.activations.ready)
    ctx.set(dut.activations.valid, 0)


def _run_ws(rows, cols, tiles, seed, hard_multipliers=None, array_period=None,
            ready_probability=1.0, cells_per_dsp=1, work=None):
    """Run ``tiles`` (activation rows per tile) of random operands, or ``work`` (a list of
    ``(a, b)`` tiles), through a weight-stationary array; compare with numpy."""
    rng = np.random.default_rng(seed)
    dut = WeightStationaryArray(rows=rows, cols=cols, hard_multipliers=hard_multipliers,
                                cells_per_dsp=cells_per_dsp)
    if array_period is not None:
        dut = ArrayClockCrossing(dut, domain="array")
    if work is None:
        work = [golden.random_operands(rng, m, rows, cols) for m in tiles]
    tiles = [len(a) for a, _ in work]
    results = []

    async def weights(ctx):
        await _send_weight_tiles(ctx, dut, [b for _, b in work])

    async def activations(ctx):
        await _send_activation_tiles(ctx, dut, [a for a, _ in work])

    async def sink(ctx):
        await _collect(ctx, dut, results, count=sum(tiles),
                       budget=int(20 * sum(tiles) / ready_probability) + 100,
                       ready_probability=ready_probability)

    _simulate(dut, weights, activations, sink, array_period=array_period)
    expected = [(row, i == len(a) - 1) for a, b in work
                for i, row in enumerate(golden.matmul(a, b).tolist())]
    assert results == expected


def _run_os(rows, cols, tiles, seed, hard_multipliers=None, array_period=None):
    rng = np.random.default_rng(seed)
    dut = OutputStationaryArray(rows=rows, cols=cols, hard_multipliers=hard_multipliers)
    if array_period is not None:
        dut = ArrayClockCrossing(dut, domain="array")
    work = [golden.random_operands(rng, rows, k, cols) for k in tiles]
    results = []

    async def operands(ctx):
        for a, b in work:
            for k in range(a.shape[1]):
                ctx.set(dut.operands.payload, {"a": a[:, k].tolist(), "b": b[k].tolist(),
                                               "last": k == a.shape[1] - 1})
                ctx.set(dut.operands.valid, 1)
                await ctx.tick().until(dut.operands.ready)
        ctx.set(dut.operands.valid, 0)

    async def sink(ctx):
        await _collect(ctx, dut, results, count=rows * len(tiles),
                       budget=20 * (sum(tiles) + rows * len(tiles)) + 100)

    _simulate(dut, operands, sink, array_period=array_period)
    expected = [(row, i == rows - 1) for a, b in work
                for i, row in enumerate(golden.matmul(a, b).tolist())]
    assert results == expected


@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 3), (3, 2)])
def test_tiny_ws_array(rows, cols):
    _run_ws(rows, cols, tiles=[5, 1, 2, 4], seed=rows * 10 + cols)


def test_ws_partial_sums_narrow_to_the_largest_sum_of_their_row():
    array = WeightStationaryArray(rows=32, cols=2)
    assert [array.psum_width(r) for r in (0, 1, 2, 3, 7, 15, 31)] == [16, 17, 17, 18, 19, 20, 21]
    narrow = WeightStationaryArray(rows=4, cols=2, acc_width=16)
    assert [narrow.psum_width(r) for r in range(4)] == [16] * 4
    Fragment.get(array, None)
    Fragment.get(narrow, None)


@pytest.mark.parametrize("rows", [2, 4, 32])
def test_ws_extreme_sums_fit_their_partial_sum_widths(rows):
    """The largest sum of a column, ``rows`` times (-128) x (-128) = ``rows * 2**14``, and the
    smallest, ``rows`` times (-128) x 127, come out exact: one bit fewer in any row's partial
    sum would wrap them."""
    most_negative = np.full((3, rows), -128, dtype=np.int64)
    weights = np.array([[-128, 127]] * rows, dtype=np.int64)
    most_positive = np.full((2, rows), 127, dtype=np.int64)
    _run_ws(rows, 2, tiles=None, seed=0, work=[(most_negative, weights),
                                               (most_positive, weights)])


@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 3), (3, 2)])
def test_tiny_os_array(rows, cols):
    _run_os(rows, cols, tiles=[5, 1, 2, 4], seed=rows * 10 + cols)


@pytest.mark.parametrize("busy_cycles", [2, 4, 7])
def test_ws_array_after_a_reset_in_mid_stream(busy_cycles):
    """Only the weight-stationary array's controller has a reset: a reset in mid-stream
    leaves weight loads, activations and partial sums in the grid. The tiles after it still
    match numpy, and no result from before it comes out."""
    rows, cols = 3, 2
    rng = np.random.default_rng(busy_cycles)
    soft_reset = Signal()
    dut = WeightStationaryArray(rows=rows, cols=cols)
    work = [golden.random_operands(rng, m, rows, cols) for m in (4, 1, 5)]
    results = []

    async def weights(ctx):
        # Before the reset: weights and activations of every value, results held back.
        ctx.set(dut.weights.valid, 1)
        ctx.set(dut.activations.valid, 1)
        for _ in range(busy_cycles):
            ctx.set(dut.weights.payload, rng.integers(-128, 128, cols).tolist())
            ctx.set(dut.activations.payload, {"data": rng.integers(-128, 128, rows).tolist(),
                                              "last": bool(rng.integers(2))})
            await ctx.tick()
        ctx.set(dut.weights.valid, 0)
        ctx.set(dut.activations.valid, 0)
        ctx.set(soft_reset, 1)
        await ctx.tick()
        ctx.set(soft_reset, 0)
        await _send_weight_tiles(ctx, dut, [b for _, b in work])

    async def activations(ctx):
        await ctx.tick().until(soft_reset)
        await _send_activation_tiles(ctx, dut, [a for a, _ in work])

    async def sink(ctx):
        await ctx.tick().until(soft_reset)
        await _collect(ctx, dut, results, count=sum(len(a) for a, _ in work), budget=300)

    _simulate(ResetInserter(soft_reset)(dut), weights, activations, sink)
    expected = [(row, i == len(a) - 1) for a, b in work
                for i, row in enumerate(golden.matmul(a, b).tolist())]
    assert results == expected


@pytest.mark.parametrize("array_period", ARRAY_PERIODS)
@pytest.mark.parametrize("run", [_run_ws, _run_os])
def test_arrays_in_their_own_clock_domain_match_numpy(run, array_period):
    """The array behind ArrayClockCrossing, on a clock faster or slower than sync's."""
    run(3, 2, tiles=[5, 1, 2, 4, 7], seed=11, array_period=array_period)


def test_clock_crossing_keeps_one_vector_per_cycle():
    """With the array's clock faster than sync, a long tile streams through the crossing
    at one activation vector and one result row per sync cycle, after a fixed latency."""
    rows, cols, m = 2, 2, 64
    dut = ArrayClockCrossing(WeightStationaryArray(rows=rows, cols=cols), domain="array")
    a, b = golden.random_operands(np.random.default_rng(5), m, rows, cols)
    results = []

    async def weights(ctx):
        await _send_weight_tiles(ctx, dut, [b])

    async def activations(ctx):
        await _send_activation_tiles(ctx, dut, [a])

    async def sink(ctx):
        ctx.set(dut.results.ready, 1)
        cycle = 0
        while len(results) < m and cycle < 20 * m:
            _, _, valid, payload = await ctx.tick().sample(dut.results.valid,
                                                           dut.results.payload)
            cycle += 1
            if valid:
                results.append((cycle, list(payload.data)))
        assert len(results) == m, f"{len(results)} of {m} result rows after {cycle} cycles"

    _simulate(dut, weights, activations, sink, array_period=ARRAY_PERIODS[0])
    assert [row for _, row in results] == golden.matmul(a, b).tolist()
    first, last = results[0][0], results[-1][0]
    assert last - first == m - 1, f"{m} rows took {last - first + 1} sync cycles"


@pytest.mark.parametrize("array_period", ARRAY_PERIODS)
def test_clock_crossing_holds_results_while_sync_stalls(array_period):
    """A results sink that takes a row one cycle in four fills the results FIFO: the
    crossing's write stage must stop the array in time (a write into a full FIFO would be
    lost) and lose nothing, whichever clock is faster."""
    _run_ws(2, 3, tiles=[9, 4, 12], seed=17, array_period=array_period,
            ready_probability=0.25)


@pytest.mark.parametrize("kwargs,message", [
    ({"domain": "sync"}, "domain must be a clock domain name other than 'sync'"),
    ({"domain": "not a name"}, "domain must be"),
    ({"depth": 2}, "depth must be"),
    ({"depth": 12}, "depth must be a power of two"),
])
@pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")
def test_clock_crossing_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ArrayClockCrossing(WeightStationaryArray(rows=2, cols=2), **kwargs)


@pytest.mark.parametrize("run", [_run_ws, _run_os])
def test_tiny_arrays_with_soft_multipliers(run):
    """Two of six cells keep the hard multiplier, four are built from logic."""
    run(2, 3, tiles=[5, 1, 2, 4], seed=7, hard_multipliers=2)



def test_soft_multiplier_is_exact_on_every_int8_pair():
    """The partial-product multiplier (for parts with fewer DSP blocks than cells) matches
    ``*`` for all 65,536 int8 pairs, -128 x -128 included."""
    from amaranth import Module, Signal
    from rtl.systolic.pe import soft_multiply
    m = Module()
    a, b = Signal(signed(8)), Signal(signed(8))
    product = Signal(signed(16))
    m.d.comb += product.eq(soft_multiply(a, b))

    async def testbench(ctx):
        values = range(-128, 128)
        for x in values:
            ctx.set(a, x)
            got = []
            for y in values:
                ctx.set(b, y)
                got.append(ctx.get(product))
            assert got == [x * y for y in values], f"a = {x}"

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("multiplier", ["hard", "soft"])
def test_ws_pe_pipeline_is_exact_on_every_int8_pair(multiplier):
    """Through the cell's registers (operands, or the logic multiplier's pair sums, then the
    product), every int8 pair gives its exact product, result_delay cycles later."""
    dut = WeightStationaryPE(operand_width=8, acc_width=32, multiplier=multiplier)
    values = range(-128, 128)

    async def testbench(ctx):
        for w in values:
            ctx.set(dut.w_in, w)
            ctx.set(dut.load_in, 1)
            await ctx.tick()
            ctx.set(dut.load_in, 0)
            got = []
            for index, a in enumerate(list(values) + [0] * dut.result_delay):
                ctx.set(dut.a_in, a)
                await ctx.tick()
                if index >= dut.result_delay - 1:
                    got.append(ctx.get(dut.psum_out))
            assert got[:len(values)] == [a * w for a in values], f"w = {w}"

    _simulate(dut, testbench)


@pytest.mark.parametrize("rows,cols,hard_multipliers", [(1, 1, None), (2, 3, None),
                                                        (2, 4, 5), (3, 3, 4)])
def test_tiny_ws_arrays_with_cells_paired_on_dsp_blocks(rows, cols, hard_multipliers):
    """Hard cells two to a block (an odd last one alone), the rest soft."""
    _run_ws(rows, cols, tiles=[5, 1, 2, 4], seed=rows * 10 + cols,
            hard_multipliers=hard_multipliers, cells_per_dsp=2)


def test_multiplier_pair_is_exact_on_every_int8_pair():
    """Both lanes of the generic pair, two cycles late, for all 65,536 int8 pairs (the
    iCE40 one is proved equal to it in tests/test_ice40_cells.py)."""
    dut = MultiplierPair()
    values = range(-128, 128)

    async def testbench(ctx):
        for a in values:
            got = []
            # A product is out after the second clock edge from its operands.
            for index, w in enumerate(list(values) + [0]):
                ctx.set(dut.a, [a, w])
                ctx.set(dut.w, [w, a])
                await ctx.tick()
                if index >= 1:
                    got.append(list(ctx.get(dut.product)))
            assert got == [[a * w, a * w] for w in values], f"a = {a}"

    _simulate(dut, testbench)


@pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")
def test_array_mixes_hard_and_soft_multipliers():
    array = WeightStationaryArray(rows=2, cols=4, hard_multipliers=3)
    assert array.hard_multipliers == 3
    Fragment.get(array, None)
    with pytest.raises(ValueError, match="hard_multipliers must be between 0 and 8"):
        WeightStationaryArray(rows=2, cols=4, hard_multipliers=9)
    with pytest.raises(ValueError, match="multiplier must be one of"):
        WeightStationaryPE(multiplier="lut")


@pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")
def test_cell_pairing_validates_eagerly():
    array = WeightStationaryArray(rows=3, cols=3, hard_multipliers=5, cells_per_dsp=2)
    assert array.paired_cells == 5
    assert repr(array).endswith("hard_multipliers=5, cells_per_dsp=2)")
    Fragment.get(array, None)  # it elaborates (and is not reported unused when collected)
    unpaired = WeightStationaryArray(rows=2, cols=2)
    assert unpaired.paired_cells == 0
    Fragment.get(unpaired, None)
    with pytest.raises(ValueError, match="cells_per_dsp must be between 1 and 2, not 3"):
        WeightStationaryArray(rows=2, cols=2, cells_per_dsp=3)
    with pytest.raises(ValueError, match="cells_per_dsp must be an integer, not 2.0"):
        WeightStationaryArray(rows=2, cols=2, cells_per_dsp=2.0)
    with pytest.raises(ValueError, match=r"operand_width must be between 2 and 8 with "
                                         r"cells_per_dsp=2 .*, not 12"):
        WeightStationaryArray(rows=2, cols=2, operand_width=12, cells_per_dsp=2)
    with pytest.raises(ValueError, match="cells_per_dsp must be 1 for OutputStationaryArray"):
        OutputStationaryArray(rows=2, cols=2, cells_per_dsp=2)
    with pytest.raises(ValueError, match=r"multiplier must be one of \('hard', 'soft'\), "
                                         r"not 'paired'"):
        OutputStationaryPE(multiplier="paired")
