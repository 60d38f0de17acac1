"""The AXI4 traffic generator against a Python AXI4 subordinate model.

The model takes AR, AW and W with random backpressure, answers every burst after a random
latency with random gaps on RVALID/BVALID (in order, or with R beats interleaved across IDs),
gives SLVERR for chosen addresses, and checks the AXI rules a manager must keep (payloads
stable while not accepted, W after its AW and in AW order, the W data function, RREADY and
BREADY high). Every run is also checked for what holds of any run (:func:`check_run`): the
number of bursts, the outstanding limit, ``done`` rising once and staying, ``cycles`` equal
to the measured span and every counter equal to what the model saw.
"""

import inspect
import math
import random
import re
from collections import deque

import pytest
from amaranth import Shape, unsigned
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from rtl.export import convert
from rtl.mem.axi import Burst, Response, burst_problem
from rtl.mem.traffic import (TrafficGenerator, COUNTERS, COUNTER_BITS, LFSR_TAPS,
                             DEFAULT_SEEDS, lfsr_step, lfsr_leap, write_data)

SLVERR, OKAY = Response.SLVERR, Response.OKAY


def make(addr_width=32, data_width=64, id_width=4, max_outstanding=16):
    return TrafficGenerator(addr_width=addr_width, data_width=data_width, id_width=id_width,
                            max_outstanding=max_outstanding)


def pattern(*, base=0, window_log2=16, beats=1, random=0, seed=0, read_weight=1,
            write_weight=0, bursts=16):
    return dict(base=base, window_log2=window_log2, beats=beats, random=random, seed=seed,
                read_weight=read_weight, write_weight=write_weight, bursts=bursts)


# --- The subordinate model ------------------------------------------------------------------

class Subordinate:
    """A cycle-by-cycle AXI4 subordinate for the generator's ``m_axi``.

    ``ready_rate``: chance of AxREADY/WREADY each cycle; ``valid_rate``: chance of offering
    a due R beat or B response; ``latency``: (min, max) cycles from the AR or the last W beat
    to the first response; ``error(addr)``: bursts at which addresses get SLVERR;
    ``error_beats``: ``"all"`` or ``"first"`` beat of an erroneous read carries SLVERR;
    ``interleave``: R beats of bursts with different IDs interleave at random.
    """

    def __init__(self, gen, *, seed=0, ready_rate=1.0, valid_rate=1.0, latency=(1, 4),
                 error=lambda addr: False, error_beats="all", interleave=False):
        self.gen, self.bus, self.sig = gen, gen.m_axi, gen.axi_signature
        self.rng = random.Random(seed)
        self.ready_rate, self.valid_rate, self.latency = ready_rate, valid_rate, latency
        self.error, self.error_beats, self.interleave = error, error_beats, interleave
        self.now = 0
        self.reads = []              # accepted read bursts not yet completed, in AR order
        self.w_bursts = deque()      # accepted AWs whose W beats are not all in
        self.b_queue = deque()       # write bursts waiting for their B, in order
        self.held = {}               # channel: payload offered but not accepted last cycle
        self.begin()

    def begin(self):
        """Start the logs of a new run (the in-flight state carries over)."""
        self.ar, self.aw, self.w = [], [], []
        self.r_done, self.b_done = [], []      # (cycle, error) of completed bursts
        self.max_reads = self.max_writes = 0

    def _delay(self):
        return self.rng.randint(*self.latency)

    def _offer_read(self):
        due = []
        for i, burst in enumerate(self.reads):
            if burst["due"] <= self.now and all(b["id"] != burst["id"] for b in self.reads[:i]):
                due.append(burst)
            if not self.interleave:
                break
        if due and self.rng.random() < self.valid_rate:
            return self.rng.choice(due)
        return None

    def _payload(self, ctx, names):
        return tuple(ctx.get(getattr(self.bus, name)) for name in names)

    def _stable(self, ctx, channel, names):
        """AXI: once VALID is high, it and the payload hold until READY. Returns the
        handshake."""
        valid = ctx.get(getattr(self.bus, f"{channel}valid"))
        payload = self._payload(ctx, names)
        if channel in self.held:
            assert valid, f"cycle {self.now}: {channel}valid dropped before {channel}ready"
            assert payload == self.held[channel], (
                f"cycle {self.now}: {channel} payload changed before {channel}ready")
        ready = ctx.get(getattr(self.bus, f"{channel}ready"))
        self.held.pop(channel, None)
        if valid and not ready:
            self.held[channel] = payload
        return valid and ready

    async def cycle(self, ctx):
        bus, rng, now = self.bus, self.rng, self.now
        beat_bytes = self.sig.beat_bytes

        # Drive the subordinate's outputs.
        for name in ("arready", "awready", "wready"):
            ctx.set(getattr(bus, name), rng.random() < self.ready_rate)
        read = self._offer_read()
        ctx.set(bus.rvalid, read is not None)
        if read is not None:
            bad = read["error"] and (self.error_beats == "all" or read["beat"] == 0)
            ctx.set(bus.rid, read["id"])
            ctx.set(bus.rresp, SLVERR if bad else OKAY)
            ctx.set(bus.rlast, read["beat"] == read["len"])
            ctx.set(bus.rdata, 0)
        write = (self.b_queue[0] if self.b_queue and self.b_queue[0]["due"] <= now
                 and rng.random() < self.valid_rate else None)
        ctx.set(bus.bvalid, write is not None)
        if write is not None:
            ctx.set(bus.bid, write["id"])
            ctx.set(bus.bresp, SLVERR if write["error"] else OKAY)

        # The generator takes every response at once.
        assert ctx.get(bus.rready) and ctx.get(bus.bready), f"cycle {now}: RREADY/BREADY low"

        # Address channels.
        fields = ("id", "addr", "len", "size", "burst")
        if self._stable(ctx, "ar", [f"ar{f}" for f in fields]):
            request = dict(zip(fields, self._payload(ctx, [f"ar{f}" for f in fields])))
            request["cycle"] = now
            self.ar.append(request)
            self.reads.append(dict(id=request["id"], len=request["len"], beat=0,
                                   due=now + self._delay(), error=self.error(request["addr"]),
                                   bad=False))
            self.max_reads = max(self.max_reads, len(self.reads))
        if self._stable(ctx, "aw", [f"aw{f}" for f in fields]):
            request = dict(zip(fields, self._payload(ctx, [f"aw{f}" for f in fields])))
            request["cycle"] = now
            self.aw.append(request)
            self.w_bursts.append(dict(request, beat=0))
            self.max_writes = max(self.max_writes, len(self.w_bursts) + len(self.b_queue))

        # W: every beat belongs to the oldest AW whose beats are not all in.
        if self._stable(ctx, "w", ["wdata", "wstrb", "wlast"]):
            data, strobe, last = self._payload(ctx, ["wdata", "wstrb", "wlast"])
            assert self.w_bursts, f"cycle {now}: W beat before its AW"
            burst = self.w_bursts[0]
            address = burst["addr"] + burst["beat"] * beat_bytes
            assert data == write_data(address, addr_width=self.sig.addr_width,
                                      data_width=self.sig.data_width), (
                f"cycle {now}: WDATA {data:#x} for the beat at {address:#x}")
            assert strobe == (1 << self.sig.strobe_width) - 1, f"cycle {now}: WSTRB {strobe:#x}"
            assert last == (burst["beat"] == burst["len"]), (
                f"cycle {now}: WLAST {last} on beat {burst['beat']} of {burst['len'] + 1}")
            self.w.append(dict(cycle=now, data=data, strobe=strobe, last=last))
            burst["beat"] += 1
            if last:
                self.w_bursts.popleft()
                self.b_queue.append(dict(id=burst["id"], due=now + self._delay(),
                                         error=self.error(burst["addr"])))

        # Responses.
        if read is not None:
            read["bad"] |= ctx.get(bus.rresp) != OKAY
            read["beat"] += 1
            if read["beat"] > read["len"]:
                self.reads.remove(read)
                self.r_done.append((now, read["bad"]))
        if write is not None:
            self.b_queue.popleft()
            self.b_done.append((now, write["error"]))
        self.now += 1


# --- Running the generator ------------------------------------------------------------------

class Run:
    """What one run did: the model's logs, the generator's busy/done per cycle (``trace``,
    from the start cycle on) and its counters at the end."""


async def run(ctx, gen, model, inputs, *, restart_at=(), linger=12, limit=20000):
    """Pulse ``start`` with ``inputs`` and clock the model until ``done`` has been high for
    ``linger`` cycles. ``restart_at``: cycles of the run with another ``start`` pulse."""
    for name, value in inputs.items():
        ctx.set(getattr(gen, name), value)
    model.begin()
    result = Run()
    result.inputs, result.start, result.trace = inputs, model.now, []
    for cycle in range(limit):
        ctx.set(gen.start, cycle == 0 or cycle in restart_at)
        busy, done = ctx.get(gen.busy), ctx.get(gen.done)
        result.trace.append((busy, done))
        if cycle and done:
            for name in ("arvalid", "awvalid", "wvalid"):
                assert not ctx.get(getattr(gen.m_axi, name)), f"{name} after done"
        await model.cycle(ctx)
        await ctx.tick()
        if len(result.trace) > linger and all(d for _, d in result.trace[-linger:]):
            break
    else:
        pytest.fail(f"no done within {limit} cycles")
    result.counters = {name: ctx.get(getattr(gen, name)) for name in COUNTERS}
    for name in ("ar", "aw", "w", "r_done", "b_done", "max_reads", "max_writes"):
        setattr(result, name, getattr(model, name))
    return result


def check_run(gen, result):
    """What holds of every run."""
    inputs, counters, beat_bytes = result.inputs, result.counters, gen.axi_signature.beat_bytes
    empty = inputs["bursts"] == 0 or inputs["read_weight"] + inputs["write_weight"] == 0
    assert len(result.ar) + len(result.aw) == (0 if empty else inputs["bursts"])
    assert len(result.r_done) == len(result.ar) and len(result.b_done) == len(result.aw)
    assert len(result.w) == len(result.aw) * inputs["beats"]
    assert result.max_reads <= gen.max_outstanding
    assert result.max_writes <= gen.max_outstanding

    # done: low from the cycle after start while busy, then rises once and stays; busy is
    # its complement meanwhile.
    after = result.trace[1:]
    dones = [d for _, d in after]
    first_done = dones.index(1)
    assert dones == [0] * first_done + [1] * (len(dones) - first_done)
    assert [b for b, _ in after] == [1 - d for d in dones]
    responses = [c for c, _ in result.r_done + result.b_done]
    if empty:
        assert first_done == 0 and counters["cycles"] == 1
    else:
        last = max(responses)
        assert result.start + 1 + first_done == last + 1, "done not right after the last response"
        assert counters["cycles"] == last - result.start + 1

    burst_bytes = inputs["beats"] * beat_bytes
    assert counters["read_bursts"] == len(result.r_done)
    assert counters["write_bursts"] == len(result.b_done)
    assert counters["read_bytes"] == len(result.r_done) * burst_bytes
    assert counters["write_bytes"] == len(result.b_done) * burst_bytes
    assert counters["errors"] == sum(e for _, e in result.r_done + result.b_done)


def simulate(gen, runs, **model_options):
    """Run ``runs`` (a list of inputs, or of (inputs, options of :func:`run`)) one after the
    other in one simulation; every run passes :func:`check_run`. Returns the results."""
    model = Subordinate(gen, **model_options)
    results = []

    async def testbench(ctx):
        for _ in range(3):      # idle before the first start: nothing is issued
            assert not ctx.get(gen.m_axi.arvalid) and not ctx.get(gen.m_axi.awvalid)
            assert not ctx.get(gen.busy) and not ctx.get(gen.done)
            await ctx.tick()
        model.now = 3
        for spec in runs:
            inputs, options = spec if isinstance(spec, tuple) else (spec, {})
            results.append(await run(ctx, gen, model, inputs, **options))

    sim = Simulator(gen)
    sim.add_clock(1e-9)
    sim.add_testbench(testbench)
    sim.run()
    for result in results:
        check_run(gen, result)
    return results


# --- Reference address sequences ------------------------------------------------------------

def sequential_offsets(count, burst_bytes, window):
    """Each burst where the previous one ended; to the next 4 KB boundary instead of across
    one; to the window's start instead of past its end."""
    offsets, offset = [], 0
    for _ in range(count):
        offsets.append(offset)
        offset += burst_bytes
        if offset % 4096 + burst_bytes > 4096:
            offset = (offset // 4096 + 1) * 4096
        if offset + burst_bytes > window:
            offset = 0
    return offsets


def random_offsets(count, *, seed, lfsr_width, window, align):
    state = seed or DEFAULT_SEEDS[lfsr_width]
    offsets = []
    for _ in range(count):
        offsets.append(state & (window - 1) & ~(align - 1))
        state = lfsr_leap(state, lfsr_width)
    return offsets


def kinds(count, read_weight, write_weight):
    return ["read" if k % (read_weight + write_weight) < read_weight else "write"
            for k in range(count)]


def issue_order(result):
    """Bursts sorted by address: the issue order for a sequential run that does not wrap."""
    bursts = [("read", r["addr"]) for r in result.ar] + [("write", w["addr"]) for w in result.aw]
    return sorted(bursts, key=lambda b: b[1])


# --- Sequential patterns --------------------------------------------------------------------

def test_sequential_reads_follow_each_other_and_wrap():
    gen = make(data_width=64)
    inputs = pattern(base=0x12340000, window_log2=9, beats=4, bursts=40)
    result, = simulate(gen, [inputs], seed=1, ready_rate=0.6, valid_rate=0.7, latency=(1, 8))
    # 32 B bursts in a 512 B window: 16 per window, then back to its start.
    assert [r["addr"] for r in result.ar] == [0x12340000 + (32 * k) % 512 for k in range(40)]
    assert {(r["len"], r["size"], r["burst"]) for r in result.ar} == {(3, 3, Burst.INCR)}
    assert [r["id"] for r in result.ar] == [k % 16 for k in range(40)]
    assert result.aw == [] and result.w == []


def test_sequential_writes_stream_their_beats():
    gen = make(data_width=64)
    inputs = pattern(base=0x8000, window_log2=12, beats=4, read_weight=0, write_weight=1,
                     bursts=24)
    result, = simulate(gen, [inputs], seed=2, ready_rate=0.5, valid_rate=0.6)
    assert [w["addr"] for w in result.aw] == [0x8000 + 32 * k for k in range(24)]
    assert {(w["len"], w["size"], w["burst"]) for w in result.aw} == {(3, 3, Burst.INCR)}
    assert [w["id"] for w in result.aw] == [k % 16 for k in range(24)]
    # 4 beats per burst, WLAST on every fourth, data = the beat's address repeated.
    assert [b["last"] for b in result.w] == [0, 0, 0, 1] * 24
    assert [b["data"] for b in result.w] == [(0x8000 + 8 * k) * 0x1_0000_0001
                                             for k in range(96)]
    assert {b["strobe"] for b in result.w} == {0xFF}
    # Each burst's first beat comes after its AW was accepted, or with it.
    firsts = [b["cycle"] for b in result.w[::4]]
    assert all(w["cycle"] <= first for w, first in zip(result.aw, firsts))
    assert result.ar == []


def test_base_bits_inside_the_window_are_ignored():
    gen = make(data_width=64)
    result, = simulate(gen, [pattern(base=0x12345, window_log2=8, beats=2, bursts=20)])
    assert [r["addr"] for r in result.ar] == [0x12300 + (16 * k) % 256 for k in range(20)]


def test_sequential_odd_burst_never_crosses_4k_or_leaves_the_window():
    gen = make(data_width=256)
    # 3 beats of 32 B = 96 B: 4096 is not a multiple, and neither is the 16 KB window.
    inputs = pattern(base=0x40000, window_log2=14, beats=3, read_weight=1, write_weight=1,
                     bursts=400)
    result, = simulate(gen, [inputs], seed=3, ready_rate=0.9, latency=(1, 2))
    offsets = sequential_offsets(400, 96, 1 << 14)
    assert max(offsets) + 96 <= 1 << 14 and offsets.count(0) >= 2     # it wraps
    assert [r["addr"] for r in result.ar] == [0x40000 + o for o in offsets[0::2]]
    assert [w["addr"] for w in result.aw] == [0x40000 + o for o in offsets[1::2]]
    for burst in result.ar + result.aw:
        assert burst_problem(burst["addr"], burst["len"], burst["size"], burst["burst"],
                             signature=gen.axi_signature) is None


# --- Random patterns ------------------------------------------------------------------------

@pytest.mark.parametrize("beats, burst_bytes", [(1, 32), (2, 64), (8, 256)])
def test_random_addresses_in_window_aligned_and_spread(beats, burst_bytes):
    gen = make(data_width=256)
    base, window = 0x7_0000, 1 << 16
    inputs = pattern(base=base, window_log2=16, beats=beats, random=1, read_weight=2,
                     write_weight=1, bursts=240)
    result, = simulate(gen, [inputs], seed=4, ready_rate=0.8, valid_rate=0.8)
    addresses = [r["addr"] for r in result.ar] + [w["addr"] for w in result.aw]
    offsets = [a - base for a in addresses]
    assert all(0 <= o < window and o % burst_bytes == 0 for o in offsets)
    assert all(burst_problem(b["addr"], b["len"], b["size"], b["burst"],
                             signature=gen.axi_signature) is None
               for b in result.ar + result.aw)
    # Spread: nearly all distinct, every eighth of the window hit, both values of the lowest
    # address bit above the alignment.
    slots = window // burst_bytes
    expected_distinct = slots * (1 - math.exp(-240 / slots))
    assert len(set(offsets)) >= 0.9 * expected_distinct
    assert all(sum(o * 8 // window == k for o in offsets) >= 10 for k in range(8))
    assert {o // burst_bytes % 2 for o in offsets} == {0, 1}
    # The exact sequence: the LFSR of the reference, in mix order over reads and writes.
    reference = random_offsets(240, seed=0, lfsr_width=gen.lfsr_width, window=window,
                               align=burst_bytes)
    mix = kinds(240, 2, 1)
    assert [r["addr"] for r in result.ar] == [base + o for o, k in zip(reference, mix)
                                              if k == "read"]
    assert [w["addr"] for w in result.aw] == [base + o for o, k in zip(reference, mix)
                                              if k == "write"]


def test_random_odd_burst_aligned_to_the_next_power_of_two():
    gen = make(data_width=256)
    inputs = pattern(base=0, window_log2=13, beats=3, random=1, bursts=64)
    result, = simulate(gen, [inputs], seed=5)
    offsets = [r["addr"] for r in result.ar]
    assert all(o % 128 == 0 and o + 96 <= 1 << 13 for o in offsets)
    assert len(set(offsets)) >= 32      # of 64 slots; 40 expected for 64 independent draws
    assert offsets == random_offsets(64, seed=0, lfsr_width=32, window=1 << 13, align=128)


def test_seed_selects_the_sequence_and_runs_repeat():
    gen = make(data_width=64)
    runs = [pattern(window_log2=20, random=1, seed=seed, bursts=20) for seed in (0, 0, 0x1234)]
    default, again, seeded = simulate(gen, runs)
    addresses = [[r["addr"] for r in result.ar] for result in (default, again, seeded)]
    assert addresses[0] == addresses[1]
    assert addresses[0] != addresses[2]
    assert addresses[2] == random_offsets(20, seed=0x1234, lfsr_width=32, window=1 << 20,
                                          align=8)


def test_wide_addresses_use_the_64_bit_lfsr():
    gen = make(addr_width=48, data_width=128)
    assert gen.lfsr_width == 64
    inputs = pattern(base=0, window_log2=48, beats=16, random=1, bursts=32)
    result, = simulate(gen, [inputs])
    offsets = [r["addr"] for r in result.ar]
    assert offsets == random_offsets(32, seed=0, lfsr_width=64, window=1 << 48, align=256)
    assert max(offsets) >= 1 << 46        # the upper address bits are random too


@pytest.mark.parametrize("width", [32, 64])
def test_lfsr_is_maximal_length(width):
    """The LFSR's step has order 2**width - 1: its characteristic polynomial is primitive."""
    def apply(columns, vector):
        result = 0
        for j, column in enumerate(columns):
            if vector >> j & 1:
                result ^= column
        return result

    def power(exponent):
        result = [1 << j for j in range(width)]
        square = [lfsr_step(1 << j, width) for j in range(width)]
        while exponent:
            if exponent & 1:
                result = [apply(square, c) for c in result]
            square = [apply(square, c) for c in square]
            exponent >>= 1
        return result

    period = (1 << width) - 1
    primes = {32: [3, 5, 17, 257, 65537],
              64: [3, 5, 17, 257, 641, 65537, 6700417]}[width]
    assert math.prod(primes) == period
    assert all(all(p % d for d in range(2, math.isqrt(p) + 1)) for p in primes)
    identity = [1 << j for j in range(width)]
    assert power(period) == identity
    assert all(power(period // p) != identity for p in primes)
    # Leaping by the width in steps keeps the period: the width is coprime to it.
    assert math.gcd(width, period) == 1
    assert LFSR_TAPS[width] >> (width - 1) == 1 and DEFAULT_SEEDS[width] != 0


# --- Mix ------------------------------------------------------------------------------------

@pytest.mark.parametrize("read_weight, write_weight", [(2, 1), (1, 0), (0, 1), (3, 5)])
def test_mix_order_and_ratio(read_weight, write_weight):
    gen = make(data_width=64)
    inputs = pattern(window_log2=20, beats=2, read_weight=read_weight,
                     write_weight=write_weight, bursts=31)
    result, = simulate(gen, [inputs], seed=6, ready_rate=0.7, valid_rate=0.8)
    expected = kinds(31, read_weight, write_weight)
    assert [kind for kind, _ in issue_order(result)] == expected
    assert [addr for _, addr in issue_order(result)] == [16 * k for k in range(31)]
    assert len(result.ar) == expected.count("read")
    assert len(result.aw) == expected.count("write")


def test_mix_2_to_1_counts():
    gen = make(data_width=256)
    inputs = pattern(window_log2=16, beats=2, read_weight=2, write_weight=1, bursts=300)
    result, = simulate(gen, [inputs], seed=7, ready_rate=0.9)
    assert result.counters["read_bursts"] == 200
    assert result.counters["write_bursts"] == 100
    assert result.counters["read_bytes"] == 2 * result.counters["write_bytes"] == 200 * 64


# --- Outstanding limit, counters, errors ----------------------------------------------------

@pytest.mark.parametrize("limit", [1, 4])
def test_outstanding_limit_reached_never_exceeded(limit):
    gen = make(data_width=64, max_outstanding=limit)
    inputs = pattern(window_log2=16, beats=2, read_weight=1, write_weight=1, bursts=60)
    result, = simulate(gen, [inputs], seed=8, latency=(10, 30))
    # check_run asserts the limit; with slow responses it is also reached.
    assert result.max_reads == limit and result.max_writes == limit


def test_errors_counted_per_burst():
    gen = make(data_width=64)
    error = lambda addr: addr % 256 == 0            # one burst in eight
    inputs = pattern(window_log2=12, beats=4, read_weight=2, write_weight=1, bursts=96)
    result, = simulate(gen, [inputs], seed=9, ready_rate=0.8, valid_rate=0.8, error=error)
    read_errors = sum(e for _, e in result.r_done)
    write_errors = sum(e for _, e in result.b_done)
    assert read_errors > 0 and write_errors > 0
    assert result.counters["errors"] == read_errors + write_errors == 12     # not 4 per read


def test_errors_with_interleaved_read_data():
    """R beats of different IDs interleave and only the first beat of a bad burst carries
    SLVERR: the error still belongs to its burst."""
    gen = make(data_width=64, max_outstanding=8)
    error = lambda addr: addr % 96 == 0
    inputs = pattern(window_log2=16, beats=4, bursts=120)
    result, = simulate(gen, [inputs], seed=10, latency=(1, 12), interleave=True,
                       error=error, error_beats="first")
    expected = sum(error(r["addr"]) for r in result.ar)
    assert expected > 10
    assert result.counters["errors"] == expected


def test_responses_out_of_order_across_ids():
    """IDs rotate, so an interleaving subordinate gets distinct IDs for the bursts in
    flight; the run completes and counts as usual."""
    gen = make(data_width=64, id_width=5, max_outstanding=32)
    result, = simulate(gen, [pattern(window_log2=16, beats=2, bursts=100)], seed=11,
                       latency=(1, 20), interleave=True)
    assert [r["id"] for r in result.ar] == [k % 32 for k in range(100)]
    assert result.counters["read_bursts"] == 100


# --- Runs: done, restart, cycles ------------------------------------------------------------

def test_start_while_busy_is_ignored_and_next_run_resets_counters():
    gen = make(data_width=64)
    first = pattern(window_log2=12, beats=2, read_weight=1, write_weight=1, bursts=30)
    second = pattern(base=0x10000, window_log2=12, beats=1, read_weight=0, write_weight=1,
                     bursts=5)
    a, b = simulate(gen, [(first, {"restart_at": (5, 15)}), second], seed=12,
                    ready_rate=0.7, latency=(2, 6))
    assert a.counters["read_bursts"] + a.counters["write_bursts"] == 30
    assert b.counters["write_bursts"] == 5 and b.counters["read_bursts"] == 0
    assert b.counters["write_bytes"] == 5 * 8
    assert [w["id"] for w in b.aw] == list(range(5))        # IDs restart at 0
    assert [w["addr"] for w in b.aw] == [0x10000 + 8 * k for k in range(5)]


@pytest.mark.parametrize("inputs", [pattern(bursts=0),
                                    pattern(read_weight=0, write_weight=0, bursts=10)])
def test_empty_run_is_done_at_once(inputs):
    gen = make()
    result, = simulate(gen, [inputs])
    assert result.ar == [] and result.aw == []
    assert result.trace[1] == (0, 1)
    assert result.counters == {name: int(name == "cycles") for name in COUNTERS}


def test_cycles_is_the_span_from_start_to_last_response():
    gen = make(data_width=64)
    result, = simulate(gen, [pattern(beats=1, bursts=1)], latency=(7, 7))
    # start, AR register, AR accepted, 7 cycles to the R beat.
    assert result.ar[0]["cycle"] == result.start + 2
    assert result.r_done[0][0] == result.start + 2 + 7
    assert result.counters["cycles"] == 2 + 7 + 1


def test_single_write_latency():
    gen = make(data_width=64)
    inputs = pattern(beats=2, read_weight=0, write_weight=1, bursts=1)
    result, = simulate(gen, [inputs], latency=(5, 5))
    # AW accepted two cycles after start, its beats in the two cycles after that, B 5
    # cycles after the last beat.
    assert result.aw[0]["cycle"] == result.start + 2
    assert [b["cycle"] for b in result.w] == [result.start + 3, result.start + 4]
    assert result.b_done[0][0] == result.start + 4 + 5
    assert result.counters["cycles"] == 4 + 5 + 1


# --- Throughput -----------------------------------------------------------------------------

def test_back_to_back_reads_one_per_cycle():
    gen = make(data_width=256)
    result, = simulate(gen, [pattern(beats=1, bursts=64)], latency=(1, 1))
    cycles = [r["cycle"] for r in result.ar]
    assert cycles == list(range(cycles[0], cycles[0] + 64))
    assert result.counters["cycles"] <= 64 + 4


def test_back_to_back_single_beat_writes_one_per_cycle():
    gen = make(data_width=256)
    inputs = pattern(beats=1, read_weight=0, write_weight=1, bursts=64)
    result, = simulate(gen, [inputs], latency=(1, 1))
    for cycles in ([w["cycle"] for w in result.aw], [b["cycle"] for b in result.w]):
        assert cycles == list(range(cycles[0], cycles[0] + 64))
    assert result.counters["cycles"] <= 64 + 5


def test_write_beats_stream_without_gaps_between_bursts():
    gen = make(data_width=256)
    inputs = pattern(beats=4, read_weight=0, write_weight=1, bursts=16)
    result, = simulate(gen, [inputs], latency=(1, 1))
    cycles = [b["cycle"] for b in result.w]
    assert cycles == list(range(cycles[0], cycles[0] + 64))
    assert result.counters["cycles"] <= 64 + 5


def test_mixed_bursts_one_per_cycle():
    gen = make(data_width=256)
    inputs = pattern(beats=1, read_weight=2, write_weight=1, bursts=60)
    result, = simulate(gen, [inputs], latency=(1, 1))
    cycles = sorted(r["cycle"] for r in result.ar + result.aw)
    assert cycles == list(range(cycles[0], cycles[0] + 60))


# --- Parameters, members, Verilog -----------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    ({"addr_width": 11}, "addr_width must be between 12 and 64, not 11"),
    ({"addr_width": 65}, "addr_width must be between 12 and 64, not 65"),
    ({"data_width": 4}, "data_width must be between 8 and 1024, not 4"),
    ({"data_width": 96}, "data_width must be a power of two between 8 and 1024, not 96"),
    ({"id_width": 3}, "id_width must be between 4 and 16, not 3"),
    ({"id_width": 17}, "id_width must be between 4 and 16, not 17"),
    ({"max_outstanding": 0}, "max_outstanding must be between 1 and 64, not 0"),
    ({"max_outstanding": 65}, "max_outstanding must be between 1 and 64, not 65"),
    ({"max_outstanding": 2.0}, "max_outstanding must be an integer, not 2.0"),
])
def test_parameter_validation_names_the_parameter(params, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make(**params)


def test_parameters_are_keyword_only():
    parameters = inspect.signature(TrafficGenerator).parameters.values()
    assert [p.name for p in parameters] == ["addr_width", "data_width", "id_width",
                                            "max_outstanding"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)


def test_members_and_repr():
    gen = make(addr_width=40, data_width=128, id_width=6, max_outstanding=8)
    members = gen.signature.members
    assert members["m_axi"].signature == gen.axi_signature
    assert members["m_axi"].flow.name == "Out"
    widths = {"start": 1, "base": 40, "window_log2": 6, "beats": 5, "random": 1, "seed": 64,
              "read_weight": 4, "write_weight": 4, "bursts": 32, "busy": 1, "done": 1,
              **{name: COUNTER_BITS for name in COUNTERS}}
    for name, width in widths.items():
        assert Shape.cast(members[name].shape) == unsigned(width), name
    outputs = {"busy", "done", *COUNTERS}
    assert {name for name in widths if members[name].flow.name == "Out"} == outputs
    assert repr(gen) == ("TrafficGenerator(addr_width=40, data_width=128, id_width=6, "
                         "max_outstanding=8)")
    Fragment.get(gen, None)         # and it elaborates


@pytest.mark.parametrize("params", [{}, {"addr_width": 12, "data_width": 8,
                                         "max_outstanding": 1},
                                    {"addr_width": 64, "data_width": 1024, "id_width": 16,
                                     "max_outstanding": 64}])
def test_converts_to_verilog(params):
    text = convert(make(**params), name="openmxu_traffic")
    assert re.search(r"^module openmxu_traffic\b", text, re.MULTILINE)
    assert "m_axi__arvalid" in text and "m_axi__wdata" in text and "cycles" in text
