"""The AXI4 port, on one pseudo-channel, against the controller and the timing-checked device
model (amaranth.sim; the multi-channel memory system is tested under Verilator in
``test_memory_sim``).

A Python manager drives all five AXI channels cycle by cycle with random gaps on the valid
signals and random backpressure on ``bready``/``rready``. Responses are checked per ID: in
order within an ID, in any order across IDs. Traffic runs in rounds: in each
round the writes go to one half of the channel and the reads to the other, so every read has
one expected value (a byte-level scoreboard with strobes). Rejected bursts (FIXED, WRAP,
narrow, too long, 4 KB crossing: ``SLVERR``; beyond the channel: ``DECERR``) are mixed in,
and the later rounds read back the memory they aimed at, which must be unchanged. The device's
timing checker must stay silent.
"""

import random
from collections import deque

import pytest
from amaranth import Elaboratable, Module
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.sim import Simulator

from openmxu.dram import preset
from rtl.mem.axi import Burst, Response, check_burst
from rtl.mem.controller import ChannelController
from rtl.mem.device import DramDevice
from rtl.mem.port import AXI4Port
from sim.packing import merge_bytes

# FAST from test_controller, shrunk to 4 KB: 4 banks in 2 groups, 4 rows of 256 B. All rows
# are stored, so every address of the channel is backed.
SMALL = preset("hbm2-2000").replace(
    name="small", cl=6, cwl=3, trcd_rd=5, trcd_wr=4, trp=4, tras=9, trc=16, twr=3, trtp=2,
    tccd_s=3, tccd_l=5, trrd_s=2, trrd_l=3, tfaw=12, twtr_s=2, twtr_l=4, trefi=60, trfc=8,
    max_postponed_refreshes=1, banks=4, bank_groups=2, row_bytes=256, rows=4)

STORED_ROWS = 4
ADDRESS_BITS = 13          # one 4 KB channel behind an 8 KB window: the upper half DECERRs


class Harness(Elaboratable):
    def __init__(self):
        self.port = AXI4Port(timing=SMALL, id_width=4, address_bits=ADDRESS_BITS,
                             read_bursts=4, write_bursts=4)
        self.controller = ChannelController(timing=SMALL, bank_queue_depth=2,
                                            tag_width=self.port.tag_width)
        self.device = DramDevice(timing=SMALL, stored_rows=STORED_ROWS)

    def elaborate(self, platform):
        m = Module()
        m.submodules.port = self.port
        m.submodules.controller = self.controller
        m.submodules.device = self.device
        requests = self.port.requests
        m.d.comb += [
            self.controller.requests.valid.eq(requests.valid),
            self.controller.requests.payload.eq(requests.payload.request),
            requests.ready.eq(self.controller.requests.ready),
        ]
        wiring.connect(m, self.controller.responses, self.port.responses)
        wiring.connect(m, self.controller.dram, self.device.dram)
        return m



def expected_response(port, addr, len_, size, burst):
    resp = check_burst(addr, len_, size, burst, signature=port.axi_signature)
    if resp is not None:
        return resp
    if addr + (len_ + 1) * port.axi_signature.beat_bytes > port.capacity_bytes:
        return Response.DECERR
    return Response.OKAY


class PerID(dict):
    """Expected responses, a queue per ID: in order within an ID, any order across IDs."""

    def __missing__(self, ident):
        self[ident] = deque()
        return self[ident]

    def __bool__(self):
        return any(self.values())

    def __len__(self):
        return sum(len(queue) for queue in self.values())


class Manager:
    """The AXI manager and scoreboard."""

    def __init__(self, port, seed, valid_rate, ready_rate):
        self.port = port
        self.sig = port.axi_signature
        self.beat = self.sig.beat_bytes
        self.rng = random.Random(seed)
        self.valid_rate, self.ready_rate = valid_rate, ready_rate
        self.model = {}                  # beat-aligned address: contents
        self.log = []                    # (kind, resp) of every burst, for coverage checks
        self.acked = self.owed = 0       # write acknowledgements seen / needed by the Bs
        self.read_order = []             # IDs of the read bursts in the order R gave them
        self.issue_order = []            # IDs of the read bursts in AR order

    def random_ok_burst(self, low, high):
        beats = self.rng.randint(1, 16)
        start = self.rng.randrange(low // self.beat, high // self.beat - beats + 1)
        return start * self.beat, beats - 1, SIZE, Burst.INCR

    def round(self, writes, reads):
        """Build the channel queues of one round. ``writes``/``reads``: lists of
        ``(addr, len, size, burst)``. Returns the queues and the model after the round."""
        aw, w, ar = deque(), deque(), deque()
        b, r = PerID(), PerID()
        new_model = dict(self.model)
        for addr, len_, size, burst in writes:
            ident = self.rng.randrange(16)
            resp = expected_response(self.port, addr, len_, size, burst)
            self.log.append(("write", resp))
            aw.append(dict(awid=ident, awaddr=addr, awlen=len_, awsize=size, awburst=burst))
            for k in range(len_ + 1):
                data = self.rng.getrandbits(8 * self.beat)
                strobe = self.rng.getrandbits(self.beat)
                w.append(dict(wdata=data, wstrb=strobe, wlast=int(k == len_)))
                if resp == Response.OKAY:
                    key = addr + k * self.beat
                    new_model[key] = merge_bytes(new_model.get(key, 0), data, strobe, self.beat)
            b[ident].append((ident, resp, len_ + 1 if resp == Response.OKAY else 0))
        for addr, len_, size, burst in reads:
            ident = self.rng.randrange(16)
            resp = expected_response(self.port, addr, len_, size, burst)
            self.log.append(("read", resp))
            ar.append(dict(arid=ident, araddr=addr, arlen=len_, arsize=size, arburst=burst))
            self.issue_order.append(ident)
            for k in range(len_ + 1):
                data = (self.model.get(addr + k * self.beat, 0) if resp == Response.OKAY
                        else 0)
                r[ident].append((ident, data, resp, int(k == len_)))
        return (aw, w, b, ar, r), new_model


async def run_round(ctx, bus, controller, manager, queues, max_cycles=20000):
    """One round; a B must not come before the controller acknowledged its burst's
    writes (``manager.acked``, ``manager.owed``: write acknowledgements seen and due)."""
    aw, w, b, ar, r = queues
    responses = controller.responses
    rng = manager.rng
    current = {"aw": None, "w": None, "ar": None}
    sources = {"aw": aw, "w": w, "ar": ar}
    held = {"r": None, "b": None}       # a response offered but not taken must not change
    in_burst = {}
    read_order = manager.read_order
    for cycle in range(max_cycles):
        if not (aw or w or b or ar or r or any(current.values())):
            return
        for name, queue in sources.items():
            if current[name] is None:
                ctx.set(getattr(bus, f"{name}valid"), 0)
                if queue and rng.random() < manager.valid_rate:
                    current[name] = queue.popleft()
                    for field, value in current[name].items():
                        ctx.set(getattr(bus, field), value)
                    ctx.set(getattr(bus, f"{name}valid"), 1)
        bready = rng.random() < manager.ready_rate
        rready = rng.random() < manager.ready_rate
        ctx.set(bus.bready, bready)
        ctx.set(bus.rready, rready)

        for name in current:
            if current[name] is not None and ctx.get(getattr(bus, f"{name}ready")):
                current[name] = None
        for name, fields in (("r", ("rid", "rdata", "rresp", "rlast")),
                             ("b", ("bid", "bresp"))):
            if ctx.get(getattr(bus, f"{name}valid")):
                values = tuple(ctx.get(getattr(bus, f)) for f in fields)
                assert held[name] in (None, values), f"cycle {cycle}: {name} changed while stalled"
                held[name] = None if {"r": rready, "b": bready}[name] else values
            else:
                assert held[name] is None, f"cycle {cycle}: {name}valid dropped while stalled"
        if bready and ctx.get(bus.bvalid):
            assert b[ctx.get(bus.bid)], f"cycle {cycle}: unexpected B {ctx.get(bus.bid)}"
            ident, resp, beats = b[ctx.get(bus.bid)].popleft()
            manager.owed += beats
            assert manager.acked >= manager.owed, (
                f"cycle {cycle}: B before the controller acknowledged every write beat")
            assert (ctx.get(bus.bid), Response(ctx.get(bus.bresp))) == (ident, resp), (
                f"cycle {cycle}: B {ctx.get(bus.bid)} {Response(ctx.get(bus.bresp))}, "
                f"expected {ident} {resp}")
        if rready and ctx.get(bus.rvalid):
            rid = ctx.get(bus.rid)
            assert r[rid], f"cycle {cycle}: unexpected R {rid}"
            if not in_burst.get("r"):
                read_order.append(rid)
            ident, data, resp, last = r[rid].popleft()
            in_burst["r"] = not last
            got = (ctx.get(bus.rid), ctx.get(bus.rdata), Response(ctx.get(bus.rresp)),
                   ctx.get(bus.rlast))
            assert got == (ident, data, resp, last), (
                f"cycle {cycle}: R id {got[0]} data {got[1]:#x} {got[2]} last {got[3]}, "
                f"expected id {ident} data {data:#x} {resp} last {last}")
        if (ctx.get(responses.valid) and ctx.get(responses.ready)
                and ctx.get(responses.payload.write)):
            manager.acked += 1
        await ctx.tick()
    pytest.fail(f"timeout: {len(b)} B and {len(r)} R responses missing")


def simulate(rounds_of, *, seed=0, valid_rate=1.0, ready_rate=1.0):
    """``rounds_of(manager, index)`` gives the ``(writes, reads)`` of round ``index`` or
    ``None`` when done."""
    harness = Harness()
    port, dev = harness.port, harness.device
    manager = Manager(port, seed, valid_rate, ready_rate)

    async def testbench(ctx):
        index = 0
        try:
            while (spec := rounds_of(manager, index)) is not None:
                queues, new_model = manager.round(*spec)
                await run_round(ctx, port.s_axi, harness.controller, manager, queues)
                manager.model = new_model
                index += 1
        finally:
            if ctx.get(dev.error):
                rule, bank, when = (ctx.get(dev.error_rule), ctx.get(dev.error_bank),
                                    ctx.get(dev.error_cycle))
                pytest.fail(f"device timing error: {dev.describe_error(rule, bank, when)}")

    sim = Simulator(harness)
    sim.add_clock(1e-9)
    sim.add_testbench(testbench)
    sim.run()
    return manager


HALF = SMALL.banks * SMALL.rows * SMALL.row_bytes // 2
SIZE = 5      # log2(32 B beats)


def traffic_rounds(count, per_round, errors=()):
    """Writes to half ``i % 2`` and reads of the other half in round ``i``; round 0 also
    fills that other half so the reads see data. ``errors``: extra bursts added to every
    round after the first, as writes and as reads."""
    def rounds_of(manager, index):
        if index > count:
            return None
        if index == 0:
            writes = [manager.random_ok_burst(0, 2 * HALF) for _ in range(3 * per_round)]
            # A full 16-beat write at both ends of the channel.
            writes += [(0, 15, SIZE, Burst.INCR), (2 * HALF - 16 * 32, 15, SIZE, Burst.INCR)]
            return writes, []
        low = (index % 2) * HALF
        other = HALF - low
        writes = [manager.random_ok_burst(low, low + HALF) for _ in range(per_round)]
        reads = [manager.random_ok_burst(other, other + HALF) for _ in range(per_round)]
        # Read back everything in the last round, whole-burst by whole-burst.
        if index == count:
            reads += [(a, 15, SIZE, Burst.INCR) for a in range(0, 2 * HALF, 16 * 32)]
            writes = []
        writes += list(errors)
        reads += list(errors)
        return writes, reads
    return rounds_of


ERRORS = [
    (0x040, 3, SIZE, Burst.FIXED),            # SLVERR: FIXED
    (0x080, 3, SIZE, Burst.WRAP),             # SLVERR: WRAP
    (0x100, 1, SIZE - 1, Burst.INCR),         # SLVERR: narrow
    (0xFC0, 3, SIZE, Burst.INCR),             # SLVERR: crosses 4 KB (0x1000)
    (0x200, 16, SIZE, Burst.INCR),            # SLVERR: 17 beats
    (0x010, 0, SIZE, Burst.INCR),             # SLVERR: unaligned
    (0x1000 + 0x040, 3, SIZE, Burst.INCR),    # DECERR: aliases 0x040 if decoded wrongly
    (0x1FE0, 0, SIZE, Burst.INCR),            # DECERR: last beat of the window
]


def test_write_read_back():
    manager = simulate(traffic_rounds(4, 8), seed=1)
    assert all(resp == Response.OKAY for _, resp in manager.log)
    assert sorted(manager.read_order) == sorted(manager.issue_order)


@pytest.mark.parametrize("seed", [2, 3])
def test_backpressure_and_gaps(seed):
    simulate(traffic_rounds(4, 6), seed=seed, valid_rate=0.6, ready_rate=0.4)


def test_rejected_bursts_touch_no_memory():
    manager = simulate(traffic_rounds(3, 4, ERRORS), seed=4, valid_rate=0.8, ready_rate=0.7)
    # Rejected reads, answered at once, overtook earlier reads of other IDs (the order
    # within an ID is checked beat by beat in run_round).
    assert manager.read_order != manager.issue_order
    assert sorted(manager.read_order) == sorted(manager.issue_order)
    kinds = {(kind, resp) for kind, resp in manager.log}
    for kind in ("write", "read"):
        assert (kind, Response.SLVERR) in kinds and (kind, Response.DECERR) in kinds


def test_rejected_bursts_answered_immediately():
    """Rejected bursts alone, before any data was written: memory stays 0 throughout."""
    def rounds_of(manager, index):
        if index == 0:
            return list(ERRORS), []
        if index == 1:
            return [], [(a, 15, SIZE, Burst.INCR) for a in range(0, 2 * HALF, 16 * 32)]
        return None
    simulate(rounds_of, seed=5, valid_rate=0.7, ready_rate=0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"address_bits": 11}, "address_bits must be between 12 and 64"),
    ({"id_width": 3}, "id_width must be between 4 and 16"),
    ({"read_bursts": 0}, "read_bursts must be between 1 and 64"),
    ({"write_bursts": 65}, "write_bursts must be between 1 and 64"),
    ({"channels": 3}, "channels must be a power of two"),
    ({"order": ("row",)}, "order must be a permutation"),
])
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AXI4Port(timing=SMALL, **kwargs)


def test_parameters():
    port = AXI4Port(timing=SMALL)
    assert port.axi_signature.addr_width == 12
    assert port.axi_signature.data_width == 256
    assert port.tag_width == 4 + 4          # beat index and one of 16 slots
    small = AXI4Port(timing=SMALL, read_bursts=3, write_bursts=2)
    assert small.tag_width == 4 + 2
    rtlil.convert(small)
    assert "read_bursts=16" in repr(port)
    rtlil.convert(port)     # elaborates and converts with no driver conflicts
