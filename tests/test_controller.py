"""The pseudo-channel controller core against the timing-checked device model.

Every test wires a :class:`ChannelController` to a :class:`DramDevice` and fails if the device
latches any timing error during the run (its error is sticky, so checking at the end or at a
timeout is enough), naming the rule, bank and cycle. Every response is checked against a
byte-level scoreboard (strobes honoured). On top of that: random traffic with request gaps
and response backpressure on every preset and on small custom ones; same-address ordering;
queue and credit sizes; refresh under sustained load and at idle; the streaming rate of
sequential reads; the row-hit / row-miss counters against a Python count; the starvation
bound; credits under a stalled consumer; the unloaded read latency against the preset's
analytical figures plus the controller's pipeline delay
(:meth:`ChannelController.read_latency`); and write batching: the column commands in
batches of one kind, a lone request of the other kind within the starvation bound, and a
read after a write (or a write after a read) to one burst address served without waiting
for the next batch.

The tests run the default four requests per bank (:data:`BANK_QUEUE_DEPTH`);
``test_queue_and_credit_sizes`` runs one, two and sixteen.
"""

import random
from collections import deque
from dataclasses import dataclass, field

import pytest
from amaranth import Elaboratable, Module, Shape
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.sim import Simulator

from openmxu.dram import MAX_CYCLES, preset
from rtl.mem.commands import RowCommand, ColumnCommand
from rtl.mem.controller import (ChannelController, BankMachine, COUNTERS, COUNTER_BITS,
                                COMMAND_DELAY, PIPELINE_DELAY, BANK_COMMAND_SPACING, request_layout,
                                response_layout)
from rtl.mem.device import DramDevice
from sim.packing import merge_bytes

# HBM2-2000's organization with short timing (as in test_device): refresh due every 60
# cycles, one of them postponable.
FAST = preset("hbm2-2000").replace(
    name="fast", cl=6, cwl=3, trcd_rd=5, trcd_wr=4, trp=4, tras=9, trc=16, twr=3, trtp=2,
    tccd_s=3, tccd_l=5, trrd_s=2, trrd_l=3, tfaw=12, twtr_s=2, twtr_l=4, trefi=60, trfc=8,
    max_postponed_refreshes=1)

#: HBM2-2000 with refresh ten times as often, so that short runs see several refreshes.
HBM2_SHORT_REFRESH = preset("hbm2-2000").replace(name="hbm2-short-refresh", trefi=390,
                                                   trfc=60, max_postponed_refreshes=2)

#: One bank, no postponement: every REF is forced by the deadline.
ONE_BANK = FAST.replace(name="one-bank", banks=1, bank_groups=1, trefi=80,
                        max_postponed_refreshes=0)

#: One-cycle bursts (tCCD_S 1), two banks in two groups, eight columns, write data with the
#: WR (cwl 0), and tWR, tRTP and tWTR_S of 0 cycles.
TINY = FAST.replace(name="tiny", data_bytes_per_cycle=8, burst_bytes=8, banks=2,
                    bank_groups=2, row_bytes=64, rows=8, cl=2, cwl=0, trcd_rd=2, trcd_wr=1,
                    trp=2, tras=3, trc=6, twr=0, trtp=0, tccd_s=1, tccd_l=2, trrd_s=1,
                    trrd_l=2, tfaw=0, twtr_s=0, twtr_l=1, trefi=70, trfc=5)

#: The queue depth of the simulations unless a test says otherwise (see the module docstring).
BANK_QUEUE_DEPTH = 4


@dataclass
class Request:
    write: bool
    bank: int
    row: int
    column: int
    data: int = 0
    strobe: int = 0


@dataclass
class Result:
    cycles: int = 0
    accepted: dict = field(default_factory=dict)      # request index: cycle
    responded: dict = field(default_factory=dict)     # request index: cycle
    commands: list = field(default_factory=list)      # (cycle, command, bank, row / column)
    first_beats: list = field(default_factory=list)   # cycles of read beat 0 on the bus
    counters: dict = field(default_factory=dict)
    max_column_in_stall: int = 0                      # RD + WR issued by the stall's end


class Harness(Elaboratable):
    def __init__(self, timing, stored_rows, **kwargs):
        self.controller = ChannelController(timing=timing, **kwargs)
        self.device = DramDevice(timing=timing, stored_rows=stored_rows)

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = self.controller
        m.submodules.device = self.device
        wiring.connect(m, self.controller.dram, self.device.dram)
        return m



def run(timing, requests, *, stored_rows=4, request_rate=1.0, ready_rate=1.0, seed=0,
        one_at_a_time=False, gap=0, stall=None, monitor=False, max_cycles=20000,
        bank_queue_depth=BANK_QUEUE_DEPTH, **kwargs):
    """Send ``requests`` in order, take the responses and check each against a scoreboard of
    every byte. ``request_rate`` / ``ready_rate``: chance per cycle of offering the next
    request / taking a response. ``one_at_a_time``: wait for each response (then ``gap``
    idle cycles) before the next request. ``stall``: ``(first, last)`` cycles in which no
    response is taken. ``monitor``: record the commands and read beats on the interface.
    Further keywords go to the controller. Fails on a device timing error, a wrong response
    or a timeout."""
    harness = Harness(timing, stored_rows, bank_queue_depth=bank_queue_depth, **kwargs)
    ctrl, dev = harness.controller, harness.device
    t = ctrl.timing
    rng = random.Random(seed)
    result = Result()

    async def testbench(ctx):
        model = {}                  # (bank, row, column): burst contents
        expected = {}               # tag: (request index, write, data)
        free_tags = deque(range(1 << ctrl.tag_width))
        index, offered, not_before, taken = 0, None, 0, False
        bus = ctrl.dram
        cycle = beats = 0
        try:
            while index < len(requests) or offered is not None or expected:
                if cycle == max_cycles:
                    check_device(ctx)
                    pytest.fail(f"timeout: {len(expected)} responses missing, "
                                f"{len(requests) - index} requests not sent")
                if taken:       # the request went at the last clock edge
                    ctx.set(ctrl.requests.valid, 0)
                    taken = False
                # Offer the next request (held until taken, as streams require).
                if (offered is None and index < len(requests) and cycle >= not_before
                        and not (one_at_a_time and expected) and rng.random() < request_rate):
                    request = requests[index]
                    offered = (index, free_tags.popleft(), request)
                    ctx.set(ctrl.requests.payload, {
                        "write": request.write, "bank": request.bank, "row": request.row,
                        "column": request.column, "tag": offered[1], "data": request.data,
                        "strobe": request.strobe})
                    ctx.set(ctrl.requests.valid, 1)
                    index += 1
                stalled = stall is not None and stall[0] <= cycle <= stall[1]
                ready = not stalled and rng.random() < ready_rate
                ctx.set(ctrl.responses.ready, ready)

                if offered is not None and ctx.get(ctrl.requests.ready):
                    number, tag, request = offered
                    key = (request.bank, request.row, request.column)
                    old = model.get(key, 0)
                    if request.write:
                        model[key] = merge_bytes(old, request.data, request.strobe, t.burst_bytes)
                    expected[tag] = (number, request.write, None if request.write else old)
                    result.accepted[number] = cycle
                    offered = None
                    taken = True
                if ready and ctx.get(ctrl.responses.valid):
                    response = ctx.get(ctrl.responses.payload)
                    tag = response.tag
                    assert tag in expected, f"cycle {cycle}: response with unknown tag {tag}"
                    number, write, data = expected.pop(tag)
                    free_tags.append(tag)
                    assert response.write == write, f"request {number}: wrong kind of response"
                    if not write:
                        assert response.data == data, (
                            f"request {number} {requests[number]}: read {response.data:#x}, "
                            f"expected {data:#x}")
                    result.responded[number] = cycle
                    if one_at_a_time:
                        not_before = cycle + 1 + gap
                if monitor:
                    if ctx.get(bus.row_valid):
                        command = RowCommand(ctx.get(bus.row_cmd))
                        result.commands.append((cycle, command, ctx.get(bus.row_bank),
                                                ctx.get(bus.row)))
                    if ctx.get(bus.col_valid):
                        command = ColumnCommand(ctx.get(bus.col_cmd))
                        result.commands.append((cycle, command, ctx.get(bus.col_bank),
                                                ctx.get(bus.column)))
                    if ctx.get(bus.rdata_valid):
                        if beats % t.burst_cycles == 0:
                            result.first_beats.append(cycle)
                        beats += 1
                if stall is not None and stalled:
                    result.max_column_in_stall = max(result.max_column_in_stall,
                                                     ctx.get(ctrl.reads) + ctx.get(ctrl.writes))
                await ctx.tick()
                cycle += 1
        except AssertionError:
            check_device(ctx)      # a timing error is the likelier cause
            raise
        result.cycles = cycle
        result.counters = {name: ctx.get(getattr(ctrl, name)) for name in COUNTERS}
        check_device(ctx)

    def check_device(ctx):
        if ctx.get(dev.error):
            rule, bank, when = (ctx.get(dev.error_rule), ctx.get(dev.error_bank),
                                ctx.get(dev.error_cycle))
            pytest.fail(f"device timing error: {dev.describe_error(rule, bank, when)}")

    sim = Simulator(harness)
    sim.add_clock(1e-9)
    sim.add_testbench(testbench)
    sim.run()
    return result, ctrl


# Traffic ------------------------------------------------------------------------------------

def random_requests(t, rng, count, *, banks=None, rows=4, columns=4, write_share=0.5):
    """Random reads and writes over a small address space (so that hits, misses and
    same-address sequences are all common). Strobes: all set, none set, or random."""
    if banks is None:
        # Two banks of group 0, one of group 1 and the last bank.
        banks = sorted({0, min(1, t.banks - 1), t.banks_per_group % t.banks, t.banks - 1})
    requests = []
    for _ in range(count):
        write = rng.random() < write_share
        strobe = rng.choice([(1 << t.burst_bytes) - 1, 0, rng.getrandbits(t.burst_bytes)])
        requests.append(Request(write, rng.choice(banks), rng.randrange(rows),
                                rng.randrange(min(columns, t.columns)),
                                rng.getrandbits(8 * t.burst_bytes) if write else 0,
                                strobe if write else 0))
    return requests


def reads(bank, row, columns):
    return [Request(False, bank, row, column) for column in columns]


PRESET_NAMES = ["hbm2-2000", "hbm3-6400", "sdr", "ideal"]


@pytest.mark.parametrize("timing", [preset(name) for name in PRESET_NAMES]
                         + [FAST, ONE_BANK, TINY], ids=lambda t: t.name)
def test_random_traffic_with_backpressure(timing):
    """Random reads and writes, random request gaps, random response backpressure: every
    byte as the scoreboard says, and no timing rule broken (``run`` checks both)."""
    t = timing
    rng = random.Random(t.name)
    requests = random_requests(t, rng, 150)
    result, ctrl = run(t, requests, request_rate=0.6, ready_rate=0.5, seed=t.name)
    counters = result.counters
    assert counters["reads"] + counters["writes"] == len(requests)
    assert counters["writes"] == sum(request.write for request in requests)
    assert counters["row_hits"] + counters["row_misses"] == len(requests)
    assert counters["bytes"] == (counters["reads"] + counters["writes"]) * t.burst_bytes
    assert 0 < counters["busy_cycles"] <= result.cycles
    if t.refresh_enabled:
        # No more refreshes owed at the end than the preset lets the controller postpone
        # (and the one under way); with a short trefi that means some refreshes.
        assert (counters["refreshes"]
                >= result.cycles // t.trefi - t.max_postponed_refreshes - 1)
        if t.trefi < 100:
            assert counters["refreshes"] > 0


@pytest.mark.parametrize("timing, kwargs", [
    (preset("hbm2-2000"), {"bank_queue_depth": 1, "response_depth": 1}),
    (FAST, {"bank_queue_depth": 2, "response_depth": 2, "tag_width": 4}),
    (TINY, {"bank_queue_depth": 16}),
], ids=["hbm2-q1-r1", "fast-q2-r2", "tiny-q16"])
def test_queue_and_credit_sizes(timing, kwargs):
    """The smallest queue and credit counts, and the largest queue."""
    rng = random.Random(7)
    requests = random_requests(timing, rng, 50)
    result, ctrl = run(timing, requests, request_rate=0.8, ready_rate=0.5, **kwargs)
    assert result.counters["reads"] + result.counters["writes"] == len(requests)


def test_same_address_requests_complete_in_order():
    """Back-to-back writes and reads of one burst (with partial strobes) among other
    traffic to its bank: each read returns what the writes before it left."""
    t = preset("hbm2-2000")
    rng = random.Random(3)
    a, b = (2, 1, 7), (2, 3, 7)         # one bank, two rows, one column

    def write(address, strobe):
        return Request(True, *address, rng.getrandbits(8 * t.burst_bytes), strobe)

    full = (1 << t.burst_bytes) - 1
    requests = [write(a, full), Request(False, *a), write(b, full), write(a, 0x0000FFFF),
                Request(False, *a), Request(False, *b), write(a, 0xF0F0F0F0),
                write(a, 0), Request(False, *a), Request(False, *a), write(b, 0x1),
                Request(False, *b)]
    run(t, requests * 3)


@pytest.mark.parametrize("timing", [HBM2_SHORT_REFRESH, FAST, ONE_BANK], ids=lambda t: t.name)
def test_refresh_under_sustained_load(timing):
    """Requests always waiting, spread over every bank with mostly row misses (so that tRRD
    and tFAW bind): refreshes are postponed at most as far as the preset allows (the device
    checks every REF-to-REF distance) and keep the average rate."""
    t = timing
    rng = random.Random(5)
    requests = random_requests(t, rng, 600 if t.trefi > 100 else 150,
                               banks=range(t.banks), write_share=0.3, rows=4, columns=32)
    result, ctrl = run(t, requests, monitor=True)
    refs = [cycle for cycle, command, _, _ in result.commands if command == RowCommand.REF]
    assert result.counters["refreshes"] == len(refs)
    limit = (t.max_postponed_refreshes + 1) * t.trefi
    assert refs[0] <= limit and all(b - a <= limit for a, b in zip(refs, refs[1:]))
    # No more than max_postponed_refreshes (and the one under way) owed at the end.
    assert len(refs) >= result.cycles // t.trefi - t.max_postponed_refreshes - 1
    assert result.cycles > 5 * t.trefi


def test_refresh_when_idle():
    """With nothing to do the controller refreshes as soon as a refresh is due: about every
    trefi cycles."""
    t = HBM2_SHORT_REFRESH
    # One read, then nothing for four refresh intervals, then another read.
    result, ctrl = run(t, [Request(False, 0, 0, 0), Request(False, 3, 1, 0)],
                       one_at_a_time=True, gap=4 * t.trefi + 100, monitor=True)
    refs = [cycle for cycle, command, _, _ in result.commands if command == RowCommand.REF]
    assert len(refs) >= 4
    # Each REF soon after the timer asks for it (the first one closes the open row first).
    for k, cycle in enumerate(refs[:4]):
        assert (k + 1) * t.trefi < cycle <= (k + 1) * t.trefi + t.tras + t.trp + 4


# Performance -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PRESET_NAMES)
def test_sequential_reads_stream_at_tccd(name):
    """Reads of consecutive columns of one open row issue one RD every tccd_l cycles (one
    bank group); alternating between two bank groups, one every tccd_s."""
    t = preset(name)
    count = 24
    result, ctrl = run(t, reads(1, 2, [k % t.columns for k in range(count)]), monitor=True)
    rds = [cycle for cycle, command, _, _ in result.commands if command == ColumnCommand.RD]
    assert len(rds) == count
    steady = rds[4:]
    assert steady[-1] - steady[0] == (len(steady) - 1) * t.tccd_l, rds
    assert {b - a for a, b in zip(steady, steady[1:])} == {t.tccd_l}
    assert result.counters["row_hits"] == count - 1 and result.counters["row_misses"] == 1
    if t.bank_groups > 1:
        other = t.banks_per_group + 1                   # bank 1 of group 1
        requests = [Request(False, (1, other)[k % 2], 2, k // 2 % t.columns)
                    for k in range(2 * count)]
        result, ctrl = run(t, requests, monitor=True)
        rds = [cycle for cycle, command, _, _ in result.commands
               if command == ColumnCommand.RD]
        steady = rds[6:]
        assert {b - a for a, b in zip(steady, steady[1:])} == {t.tccd_s}, rds


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_unloaded_read_latency(name):
    """An unloaded read that finds another row open in its bank: PRE, ACT and RD after
    COMMAND_DELAY cycles, tRP and tRCD apart (at least BANK_COMMAND_SPACING), first data
    ``row_miss_read_latency`` later, the response ``read_overhead`` cycles after that
    figure; a row hit: ``cl`` instead."""
    t = preset(name)
    bank = t.banks - 1
    requests = [Request(False, bank, 1, 0), Request(False, bank, 2, 3),
                Request(False, bank, 2, 5)]
    result, ctrl = run(t, requests, one_at_a_time=True, gap=100, monitor=True)
    assert ctrl.read_overhead == PIPELINE_DELAY + t.burst_cycles - 1
    assert result.counters["refreshes"] == 0
    miss, hit = 1, 2
    commands = [(cycle - result.accepted[miss], command) for cycle, command, _, _
                in result.commands if result.accepted[miss] < cycle <= result.responded[miss]]
    trp, trcd = max(t.trp, BANK_COMMAND_SPACING), max(t.trcd_rd, BANK_COMMAND_SPACING)
    assert commands == [
        (COMMAND_DELAY, RowCommand.PRE),
        (COMMAND_DELAY + trp, RowCommand.ACT),
        (COMMAND_DELAY + trp + trcd, ColumnCommand.RD)]
    first_beat = result.first_beats[miss] - result.accepted[miss]
    assert first_beat == COMMAND_DELAY + trp + trcd + t.cl
    measured = result.responded[miss] - result.accepted[miss]
    assert measured == ctrl.read_latency()
    if min(t.trp, t.trcd_rd) >= BANK_COMMAND_SPACING:
        assert measured == t.row_miss_read_latency + ctrl.read_overhead
    measured_hit = result.responded[hit] - result.accepted[hit]
    assert measured_hit == t.row_hit_read_latency + ctrl.read_overhead == ctrl.read_latency(
        row_hit=True)
    assert result.counters["row_misses"] == 2 and result.counters["row_hits"] == 1


# Policy ----------------------------------------------------------------------------------

def test_row_hit_and_miss_counters():
    """A scripted sequence, one request at a time: a request is a row hit exactly when its
    bank still has its row open from the previous access (open-page policy)."""
    t = preset("hbm2-2000")
    rng = random.Random(11)
    requests = [Request(rng.random() < 0.4, rng.choice([0, 1, 5]), rng.randrange(3),
                        rng.randrange(4), rng.getrandbits(8 * t.burst_bytes),
                        rng.getrandbits(t.burst_bytes)) for _ in range(30)]
    open_rows, hits = {}, 0
    for request in requests:
        hits += open_rows.get(request.bank) == request.row
        open_rows[request.bank] = request.row
    result, ctrl = run(t, requests, one_at_a_time=True)
    counters = result.counters
    assert result.counters["refreshes"] == 0
    assert (counters["row_hits"], counters["row_misses"]) == (hits, len(requests) - hits)
    assert 5 < hits < 25
    writes = sum(request.write for request in requests)
    assert (counters["reads"], counters["writes"]) == (len(requests) - writes, writes)


SHORT_LIMIT = 24


@pytest.mark.parametrize("limit", [SHORT_LIMIT, 1000])
def test_starvation_bound(limit):
    """A stream of row hits keeps a miss to the same bank waiting (first-ready FCFS), but
    only until the miss has waited ``starvation_limit`` cycles."""
    t = preset("hbm2-2000")
    hits = reads(0, 0, range(t.columns)) + reads(0, 0, range(t.columns))
    requests = hits[:4] + [Request(False, 0, 1, 0)] + hits[4:]
    result, ctrl = run(t, requests, starvation_limit=limit)
    waited = result.responded[4] - result.accepted[4]
    # After the limit: the hits already picked, then tRTP, tRP, tRCD and the read itself.
    bound = (SHORT_LIMIT + t.trtp + t.row_miss_read_latency + ctrl.read_overhead
             + 4 * t.tccd_l)
    if limit == SHORT_LIMIT:
        assert waited <= bound
        assert result.responded[4] < result.responded[len(requests) - 1]
    else:
        # Without the bound the miss waits for every hit queued behind it.
        assert waited > bound
        assert result.responded[4] > max(cycle for number, cycle in result.responded.items()
                                          if number != 4)


def test_backpressure_holds_responses():
    """A consumer that stops taking responses stops the column commands once the credits
    are spent; nothing is lost, and everything completes once it resumes."""
    t = preset("hbm2-2000")
    rng = random.Random(9)
    requests = random_requests(t, rng, 60)
    result, ctrl = run(t, requests, stall=(0, 400))
    assert result.max_column_in_stall == ctrl.response_depth
    assert len(result.responded) == len(requests)


# Write batching ------------------------------------------------------------------------------

def column_commands(result):
    """(cycle picked, is a WR) of every RD and WR, in order (picked a cycle before it is on
    the interface)."""
    return [(cycle - 1, command == ColumnCommand.WR) for cycle, command, _, _ in result.commands
            if command in (ColumnCommand.RD, ColumnCommand.WR)]


def distinct_requests(t, rng, count, *, banks, rows, columns, write_share=0.5):
    """Random reads and writes, each to its own burst address (full strobes)."""
    addresses = rng.sample([(bank, row, column) for bank in banks for row in range(rows)
                            for column in range(columns)], count)
    full = (1 << t.burst_bytes) - 1
    return [Request(True, *address, rng.getrandbits(8 * t.burst_bytes), full)
            if rng.random() < write_share else Request(False, *address)
            for address in addresses]


def test_writes_are_batched_between_watermarks():
    """Mixed reads and writes arriving back to back, at the default depth and watermarks, to
    distinct addresses and with no starvation bound in reach (so that neither exception
    applies): the column commands come in batches of one kind, at least three write batches
    as long as the watermarks' distance, and the data bus changes direction a fraction as
    often as the requests do (which is what an in-order controller would pay)."""
    t = preset("hbm2-2000")
    rng = random.Random(21)
    requests = distinct_requests(t, rng, 240, banks=range(t.banks), rows=2, columns=32)
    result, ctrl = run(t, requests, starvation_limit=MAX_CYCLES, monitor=True)
    high, low = ctrl.write_high_watermark, ctrl.write_low_watermark
    assert (ctrl.bank_queue_depth, high, low) == (4, 16, 4)
    columns = column_commands(result)
    batches, length = [], 0
    for _, write in columns + [(None, False)]:
        if write:
            length += 1
        elif length:
            batches.append(length)
            length = 0
    assert sum(length >= high - low for length in batches) >= 3, batches
    turnarounds = sum(a != b for (_, a), (_, b) in zip(columns, columns[1:]))
    alternations = sum(a.write != b.write for a, b in zip(requests, requests[1:]))
    assert turnarounds * 4 < alternations, (turnarounds, alternations)


def hit_stream(t, write, count, rng, banks=(0, 4)):
    """Row hits of one kind alternating between two bank groups: one burst every tccd_s."""
    full = (1 << t.burst_bytes) - 1
    return [Request(write, banks[k % 2], 0, k // 2 % t.columns,
                    rng.getrandbits(8 * t.burst_bytes) if write else 0, full if write else 0)
            for k in range(count)]


def column_cycles(result, write, bank=None):
    """Cycles of the WRs (or RDs) on the interface, to ``bank`` or to any bank."""
    command = ColumnCommand.WR if write else ColumnCommand.RD
    return [cycle for cycle, kind, to, _ in result.commands
            if kind == command and (bank is None or to == bank)]


@pytest.mark.parametrize("limit", [64, 2000])
@pytest.mark.parametrize("lone", ["write", "read"])
def test_lone_request_of_the_other_kind(lone, limit):
    """A stream of reads keeps a lone write waiting (one pending write is far below the high
    watermark), and a stream of writes a lone read (the queue full of writes never gets down
    to the low one), but only until it has waited ``starvation_limit`` cycles: it is then
    served within a bus turnaround, its ACT and its latency, and the stream goes on after
    it. Without the bound in reach it waits until its kind's mode comes."""
    t = preset("hbm2-2000")
    rng = random.Random(lone)
    requests = hit_stream(t, lone == "read", 150, rng)
    bank = 8                                    # closed, in a third bank group
    requests.insert(8, Request(lone == "write", bank, 0, 0, rng.getrandbits(8 * t.burst_bytes),
                               (1 << t.burst_bytes) - 1))
    result, ctrl = run(t, requests, starvation_limit=limit, monitor=True)
    waited = result.responded[8] - result.accepted[8]
    (its_command,) = column_cycles(result, lone == "write", bank)
    others = column_cycles(result, lone == "read")
    if limit == 64:
        # Once it has waited the limit it is as a request just accepted to a closed bank:
        # its ACT, then its RD or WR after tRCD or, if later, after the bus has turned
        # around; then its latency and the pipeline's.
        turnaround = max(t.cl + t.burst_cycles - t.cwl,              # RD to WR
                         t.cwl + t.burst_cycles + t.twtr_s)          # WR to RD
        bound = (limit + max(turnaround, t.trcd_rd, t.trcd_wr) + max(t.cl, t.cwl)
                 + ctrl.read_overhead)
        assert limit <= waited <= bound, (waited, bound)
        assert sum(cycle > its_command for cycle in others) > 40
    else:
        assert waited > 200
        # A write waits for the last read; a read until the writes are down to the low
        # watermark.
        later = sum(cycle > its_command for cycle in others)
        assert later <= (ctrl.write_low_watermark if lone == "read" else 0)


@pytest.mark.parametrize("first", ["write", "read"])
def test_same_address_request_of_the_other_kind_goes_out_of_batch(first):
    """In read mode (a stream of reads), a read after a write to one burst address gets the
    written data without waiting for a write batch or the starvation bound: the write is
    served out of its mode, while an unrelated write queued earlier still waits for the
    bound. In write mode (a stream of writes) the same for a write after a read, the read
    returning the data from before the write (the scoreboard checks both)."""
    t = preset("hbm2-2000")
    rng = random.Random(first)
    full = (1 << t.burst_bytes) - 1
    mode_writes = first == "read"               # the stream's kind
    address, unrelated = (12, 0, 2), (8, 0, 1)  # closed banks, in two more bank groups

    def request(write, where):
        return Request(write, *where, rng.getrandbits(8 * t.burst_bytes) if write else 0,
                       full if write else 0)

    requests = hit_stream(t, mode_writes, 200, rng)
    requests[5:5] = [request(not mode_writes, unrelated)]
    requests[40:40] = [request(first == "write", address), request(first == "read", address)]
    # A write before, so that the read in write mode finds data; a read after, of the data
    # the pair's write left.
    requests = [request(True, address)] + requests + [request(False, address)]
    unrelated_number, pair = 6, (41, 42)
    result, ctrl = run(t, requests, monitor=True)
    limit = ctrl.starvation_limit
    waited = result.responded[pair[1]] - result.accepted[pair[1]]
    assert waited <= limit // 4, waited
    # The out-of-mode request of the pair went before the unrelated one, which waited for
    # the bound.
    assert result.responded[pair[0]] < result.responded[unrelated_number]
    assert result.responded[unrelated_number] - result.accepted[unrelated_number] >= limit
    # Nothing else left the mode: two turnarounds for the pair's out-of-mode request (in
    # read mode with the first write, which the read waits on too), two for the unrelated
    # request at the bound, and in write mode two for the last read (read mode again once
    # the writes are down to the low watermark).
    columns = column_commands(result)
    turnarounds = sum(a != b for (_, a), (_, b) in zip(columns, columns[1:]))
    assert turnarounds <= 6, turnarounds


# Parameters and interface -------------------------------------------------------------------

def unused(elaboratable):
    """Built only to look at its parameters: not a design left unelaborated by mistake."""
    elaboratable._MustUse__silence = True
    return elaboratable


def test_parameters_and_interface():
    ctrl = unused(ChannelController(timing="hbm2-2000"))
    assert (ctrl.bank_queue_depth, ctrl.starvation_limit, ctrl.tag_width) == (8, 256, 8)
    assert ctrl.capacity == 128
    assert ctrl.response_depth == ChannelController.full_rate_response_depth("hbm2-2000")
    assert (ctrl.write_high_watermark, ctrl.write_low_watermark) == (32, 8)
    assert repr(ctrl) == ("ChannelController(timing='hbm2-2000', bank_queue_depth=8, "
                          "starvation_limit=256, tag_width=8, response_depth=11, "
                          "write_high_watermark=32, write_low_watermark=8)")
    # Default watermarks of other depths: a quarter of the capacity (rounded up), a quarter
    # of that, and the low one below a given high one.
    for kwargs, watermarks in [({"bank_queue_depth": 1}, (4, 1)),
                               ({"bank_queue_depth": 2}, (8, 2)),
                               ({"bank_queue_depth": 4}, (16, 4)),
                               ({"timing": "sdr", "bank_queue_depth": 1}, (1, 0)),
                               ({"timing": "sdr", "bank_queue_depth": 3}, (3, 0)),
                               ({"write_high_watermark": 4}, (4, 1)),
                               ({"write_high_watermark": 1}, (1, 0)),
                               ({"write_low_watermark": 0}, (32, 0)),
                               ({"write_high_watermark": 128, "write_low_watermark": 127},
                                (128, 127))]:
        ctrl = unused(ChannelController(**{"timing": "hbm2-2000", **kwargs}))
        assert (ctrl.write_high_watermark, ctrl.write_low_watermark) == watermarks, kwargs
    assert COUNTER_BITS == 48
    assert {name: Shape.cast(ctrl.signature.members[name].shape).width for name in COUNTERS} == {
        name: 48 for name in ("reads", "writes", "bytes", "row_hits", "row_misses",
                              "refreshes", "busy_cycles")}
    assert ctrl.refresh_deadline < 9 * 3900
    assert unused(ChannelController(timing="ideal")).refresh_deadline is None
    widths = {name: field.width for name, field in request_layout("hbm2-2000")}
    assert widths == {"write": 1, "bank": 4, "row": 14, "column": 5, "tag": 8, "data": 256,
                      "strobe": 32}
    assert {name: field.width for name, field in response_layout("sdr", tag_width=4)} == {
        "tag": 4, "write": 1, "data": 128}
    assert set(COUNTERS) <= set(ctrl.signature.members)
    assert repr(unused(BankMachine(timing="sdr", depth=2, tag_width=4, starvation_limit=8))) == (
        "BankMachine(timing='sdr', depth=2, tag_width=4, starvation_limit=8)")
    for kwargs, message in [({"bank_queue_depth": 0}, "bank_queue_depth must be"),
                            ({"bank_queue_depth": 17},
                             r"bank_queue_depth must be between 1 and 16, not 17"),
                            ({"starvation_limit": 0}, "starvation_limit must be"),
                            ({"tag_width": 0}, "tag_width must be"),
                            ({"response_depth": 0}, "response_depth must be"),
                            ({"write_high_watermark": 0},
                             r"write_high_watermark must be between 1 and 128 "),
                            ({"write_high_watermark": 129}, "write_high_watermark must be"),
                            ({"bank_queue_depth": 1, "write_high_watermark": 17},
                             r"write_high_watermark must be between 1 and 16 \(at most "
                             r"the capacity, banks x bank_queue_depth = 16\), not 17"),
                            ({"write_high_watermark": 1.5}, "write_high_watermark must be an "
                                                            "integer"),
                            ({"write_low_watermark": -1},
                             r"write_low_watermark must be between 0 and 31 "),
                            ({"write_low_watermark": 32},
                             r"write_low_watermark must be between 0 and 31 \(below "
                             r"write_high_watermark = 32\), not 32"),
                            ({"write_high_watermark": 10, "write_low_watermark": 10},
                             "write_low_watermark must be between 0 and 9 "),
                            ({"write_high_watermark": 1, "write_low_watermark": 1},
                             "write_low_watermark must be between 0 and 0 "),
                            ({"write_low_watermark": True}, "write_low_watermark must be an "
                                                            "integer"),
                            ({"timing": "ddr4"}, "timing preset must be"),
                            ({"timing": FAST.replace(trefi=16, trfc=8,
                                                     max_postponed_refreshes=0)},
                             "trefi = 16 is too short")]:
        with pytest.raises(ValueError, match=message):
            ChannelController(**{"timing": "hbm2-2000", **kwargs})
    text = rtlil.convert(ChannelController(timing="sdr", bank_queue_depth=2))
    assert "dram__row_cmd" in text and "row_misses" in text
