"""cocotb tests of the memory system (:class:`sim.memory.MemoryTestbench` without traffic
generators) through its AXI4 ports, driven by :class:`sim.axi_manager.AxiManager`.

Every test watches the device models (:class:`sim.memory_tb.MemoryErrorWatch`), so a DRAM
timing violation or an access outside the stored rows fails it at once, and every wait is
bounded by a timeout. The managers fail a test on any AXI rule the subordinate breaks (see
:mod:`sim.axi_manager`).

Parameters (JSON in ``OPENMXU_TEST_PARAMS``):

``timing``, ``channels``, ``ports``, ``order``, ``stored_rows``
    The design's configuration (as given to :func:`sim.designs.memory_design`).
``seed``
    Seed of the data, the addresses and the backpressure.
``read_latency``, ``read_latency_hit``
    ``row_miss_latency``: the expected figures, from
    :meth:`rtl.mem.system.MemorySystem.read_latency`.
``starvation_limit``, ``bank_queue_depth``
    ``refresh_and_starvation``: the controller's figures the latency bound is derived from.
``cycles``, ``aggressor_reads``, ``trace``
    ``refresh_and_starvation``: cycles of load; read bursts the aggressor port keeps in
    flight (default 3); with ``trace``, every burst's cycles go into the report.
``ops``
    ``random_traffic``: bursts per port.
``report``
    Optional path of a JSON file the test writes its measured figures to.
"""

import json
import os
import random

import cocotb
from amaranth.lib import data
from cocotb.triggers import ClockCycles, FallingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_time

from openmxu.address_map import AddressMap, DEFAULT_ORDER
from openmxu.dram import preset
from rtl.mem.axi import BOUNDARY, MAX_BURST_BEATS, Burst, Response
from rtl.mem.controller import ChannelController
from rtl.mem.system import counter_layout
from sim.axi_manager import AxiManager
from sim.memory_tb import MemoryErrorWatch, reset
from sim.packing import unpack

OKAY, SLVERR, DECERR = Response.OKAY, Response.SLVERR, Response.DECERR


# --- Bench ------------------------------------------------------------------------------------

class Bench:
    """The DUT, its configuration, its managers and helpers shared by the tests."""

    def __init__(self, dut):
        self.dut = dut
        self.params = json.loads(os.environ.get("OPENMXU_TEST_PARAMS", "{}"))
        p = self.params
        self.timing = preset(p.get("timing", "hbm2-2000"))
        self.channels = p.get("channels", 1)
        self.ports = p.get("ports", 1)
        self.amap = AddressMap(timing=self.timing, channels=self.channels,
                               order=tuple(p.get("order", DEFAULT_ORDER)))
        self.capacity = self.amap.capacity_bytes
        self.beat = self.timing.burst_bytes
        self.stored_rows = p.get("stored_rows", 64)
        #: Addresses below this are in rows 0..stored_rows-1 of every bank (the row is the
        #: top field in the maps used here).
        self.stored_limit = self.stored_rows << self.amap.shifts["row"]
        self.rng = random.Random(p.get("seed", 1))
        self.managers = []
        self.report = {}

    async def start(self, per_port=None, **manager_args):
        """Reset, start the error watch and one manager per port, with ``manager_args``
        (or ``per_port[port]``)."""
        inputs = [f"s_axi__{port}__{name}" for port in range(self.ports)
                  for name in AxiManager.OUTPUTS]
        await reset(self.dut, inputs)
        self.reset_cycle = self.now()
        self.watch = MemoryErrorWatch(self.dut, self.timing)
        self.watcher = cocotb.start_soon(self.watch.watch())
        for port in range(self.ports):
            args = per_port[port] if per_port is not None else manager_args
            self.managers.append(AxiManager(self.dut, f"s_axi__{port}", self.dut.clk,
                                            seed=self.rng.getrandbits(32), name=f"port {port}",
                                            **args))
        return self.managers

    def now(self):
        """The next rising edge's number (as :meth:`AxiManager.now`). The clock of
        :func:`sim.memory_tb.reset` has a 1 ns period, so cycles are nanoseconds, which is
        also what the timeouts count in."""
        return -(-int(get_sim_time("ps")) // 1000)

    def counters(self):
        return unpack(data.ArrayLayout(counter_layout(), self.channels),
                      int(self.dut.counters.value))

    def total(self, name):
        return sum(channel[name] for channel in self.counters())

    async def wait(self, txns, cycles, what):
        """Wait for every transaction of ``txns``, failing after ``cycles`` cycles."""
        txns = list(txns)

        async def all_done():
            for txn in txns:
                await txn.wait()
        try:
            await with_timeout(all_done(), cycles, "ns")
        except SimTimeoutError:
            self.check_managers()       # a protocol error stops a manager's channel
            missing = [t for t in txns if not t.complete]
            raise AssertionError(f"{what}: {len(missing)} of {len(txns)} bursts not answered "
                                 f"within {cycles} cycles, e.g. {missing[:3]}") from None
        self.check_managers()
        return [t.result() for t in txns]

    async def idle(self, cycles=1):
        await ClockCycles(self.dut.clk, cycles)
        await FallingEdge(self.dut.clk)

    def check_managers(self):
        for manager in self.managers:
            assert not manager.errors, manager.errors

    def finish(self):
        self.check_managers()
        assert not int(self.dut.error.value), f"DRAM error: {self.watch.message()}"
        self.watcher.cancel()
        for manager in self.managers:
            manager.stop()
        if "report" in self.params:
            with open(self.params["report"], "w") as file:
                json.dump(self.report, file, indent=1)

    def random_bytes(self, n):
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def address(self, **fields):
        return self.amap.encode(**fields)


def _bursts(start, end, beat, max_beats=MAX_BURST_BEATS):
    """``(address, length)`` of legal bursts (at most ``max_beats``, not crossing 4 KB)
    covering ``[start, end)``."""
    out = []
    address = start
    while address < end:
        length = min(end - address, max_beats * beat, BOUNDARY - address % BOUNDARY)
        out.append((address, length))
        address += length
    return out


def _diff(got, expected, base):
    """A short description of the first differing bytes."""
    bad = [i for i in range(min(len(got), len(expected))) if got[i] != expected[i]]
    if len(got) != len(expected):
        return f"length {len(got)} != {len(expected)}"
    return (f"{len(bad)} bytes differ, first at {base + bad[0]:#x}: got "
            f"{got[bad[0]:bad[0] + 8].hex()} expected {expected[bad[0]:bad[0] + 8].hex()}")


# --- random_traffic ---------------------------------------------------------------------------

class Scoreboard:
    """Byte-level model of the memory below ``size``: values and which bytes are known."""

    def __init__(self, size):
        self.mem = bytearray(size)
        self.known = bytearray(size)
        self.compared = 0
        self.mismatches = []

    def write(self, address, payload, enables=None):
        for i, byte in enumerate(payload):
            if enables is None or enables[i]:
                self.mem[address + i] = byte
                self.known[address + i] = 1

    def check(self, address, got, what):
        for i, byte in enumerate(got):
            if self.known[address + i]:
                self.compared += 1
                if self.mem[address + i] != byte:
                    self.mismatches.append(
                        f"{what}: byte {address + i:#x} read {byte:#04x}, expected "
                        f"{self.mem[address + i]:#04x}")


def _traffic_regions(bench, port):
    """Three regions of a port, each crossing a channel boundary (the first two) or a row
    boundary (the third); the ports use different rows of the same banks, so they conflict
    in the banks but never share bytes."""
    shifts = bench.amap.shifts
    channel_step = 1 << shifts["channel"]
    row_step = 1 << shifts["row"]
    rows = [(2, 10, 20), (5, 13, 30), (34, 42, 50), (37, 45, 55)][port]
    return [
        (rows[0] * row_step + channel_step - 0x0E00, rows[0] * row_step + channel_step + 0x0A00),
        (rows[1] * row_step + channel_step - 0x0700, rows[1] * row_step + channel_step + 0x0500),
        (rows[2] * row_step + row_step - 0x0600, rows[2] * row_step + row_step + 0x0600),
    ]


GUARD = 128


@cocotb.test()
async def random_traffic(dut):
    """Random reads and writes from every port with backpressure on all five channels,
    checked byte by byte; guard bytes around every region; counters against the beats."""
    bench = Bench(dut)
    ops = bench.params.get("ops", 150)
    managers = await bench.start(valid_gap=0.3, ready_gap=0.3, max_reads=6, max_writes=6)
    beat = bench.beat
    rng = bench.rng
    board = Scoreboard(bench.stored_limit)
    regions = {p: _traffic_regions(bench, p) for p in range(bench.ports)}
    spans = sorted((start - GUARD, end + GUARD, p) for p, rs in regions.items()
                   for start, end in rs)
    for (_, end_a, pa), (start_b, _, pb) in zip(spans, spans[1:]):
        assert end_a <= start_b, f"regions of ports {pa} and {pb} overlap"
    assert spans[0][0] >= 0 and spans[-1][1] <= bench.stored_limit

    # Initial contents: a pattern over each region and its guards, from the owning port.
    init = []
    for p, rs in regions.items():
        for start, end in rs:
            for address, length in _bursts(start - GUARD, end + GUARD, beat):
                payload = bench.random_bytes(length)
                board.write(address, payload)
                init.append(managers[p].start_write(address, payload,
                                                    id=rng.randrange(16)))
    await bench.wait(init, 40_000, "initial writes")
    assert all(t.resp == OKAY for t in init), [t for t in init if t.resp != OKAY][:3]

    # Random traffic. A port never reads bytes a write of its own has outstanding, nor
    # writes bytes a read or a write of its own has outstanding (AXI orders neither).
    busy_reads = [dict() for _ in managers]
    busy_writes = [dict() for _ in managers]
    traffic = []

    def beats_of(address, length):
        return range(address, address + length, beat)

    def release(busy, address, length):
        for a in beats_of(address, length):
            busy[a] -= 1
            if not busy[a]:
                del busy[a]

    async def port_traffic(p):
        manager = managers[p]
        issued = 0
        while issued < ops:
            await FallingEdge(dut.clk)
            if manager.pending >= 10:
                continue
            start, end = rng.choice(regions[p])
            address = start + rng.randrange((end - start) // beat) * beat
            beats = min(rng.randint(1, MAX_BURST_BEATS), (end - address) // beat,
                        (BOUNDARY - address % BOUNDARY) // beat)
            length = beats * beat
            write = rng.random() < 0.5
            addresses = beats_of(address, length)
            if any(a in busy_writes[p] for a in addresses):
                continue
            if write and any(a in busy_reads[p] for a in addresses):
                continue
            ident = rng.randrange(16)
            if write:
                payload = bench.random_bytes(length)
                enables = []
                for _ in range(beats):
                    mode = rng.random()
                    enables += ([1] * beat if mode < 0.6 else [0] * beat if mode < 0.7
                                else [rng.getrandbits(1) for _ in range(beat)])
                for a in addresses:
                    busy_writes[p][a] = busy_writes[p].get(a, 0) + 1

                def written(txn, payload=payload, enables=enables, p=p):
                    if txn.resp == OKAY:
                        board.write(txn.address, payload, enables)
                    release(busy_writes[p], txn.address, txn.length)
                traffic.append(manager.start_write(address, payload, id=ident,
                                                   byte_enable=enables, on_done=written))
            else:
                for a in addresses:
                    busy_reads[p][a] = busy_reads[p].get(a, 0) + 1

                def read(txn, p=p):
                    board.check(txn.address, txn.data, f"port {p} {txn}")
                    release(busy_reads[p], txn.address, txn.length)
                traffic.append(manager.start_read(address, length, id=ident, on_done=read))
            issued += 1

    tasks = [cocotb.start_soon(port_traffic(p)) for p in range(bench.ports)]
    try:
        await with_timeout(_join(tasks), 200_000, "ns")
    except SimTimeoutError:
        raise AssertionError("random traffic: the ports could not issue their bursts "
                             "within 200000 cycles") from None
    await bench.wait(traffic, 40_000, "random traffic")
    bad = [t for t in traffic if t.resp != OKAY]
    assert not bad, f"error responses to legal bursts: {bad[:3]}"
    assert not board.mismatches, board.mismatches[:10]
    compared_during = board.compared

    # Read everything back: regions and guards, every byte known.
    final = []
    for p, rs in regions.items():
        for start, end in rs:
            for address, length in _bursts(start - GUARD, end + GUARD, beat):
                final.append(managers[p].start_read(address, length, id=rng.randrange(16)))
    await bench.wait(final, 40_000, "final read-back")
    for txn in final:
        assert txn.resp == OKAY, txn
        expected = bytes(board.mem[txn.address:txn.address + txn.length])
        assert all(board.known[txn.address:txn.address + txn.length])
        assert txn.data == expected, f"read-back of {txn}: {_diff(txn.data, expected, txn.address)}"

    # Counters: one RD or WR per beat, 32 B each, whatever channel it went to.
    await bench.idle(10)
    read_beats = sum(t.beats for m in managers for t in m.transactions if t.kind == "read")
    write_beats = sum(t.beats for m in managers for t in m.transactions if t.kind == "write")
    counters = bench.counters()
    reads, writes = bench.total("reads"), bench.total("writes")
    assert reads == read_beats, f"{reads} RD commands for {read_beats} read beats: {counters}"
    assert writes == write_beats, f"{writes} WR commands for {write_beats} write beats"
    assert bench.total("bytes") == (read_beats + write_beats) * beat, counters
    assert all(c["reads"] and c["writes"] for c in counters), \
        f"every channel must have seen traffic: {counters}"
    assert compared_during > 10_000, f"only {compared_during} bytes compared during traffic"
    # Bursts answered before a burst issued earlier (of another ID, in the same direction).
    overtakes = 0
    for m in managers:
        for kind in ("read", "write"):
            issued = sorted((t for t in traffic if t in m.transactions and t.kind == kind),
                            key=lambda t: t.address_cycle)
            overtakes += sum(b.last_cycle < a.last_cycle for a, b in zip(issued, issued[1:]))
    bench.report.update(bursts=len(traffic), read_beats=read_beats, write_beats=write_beats,
                        compared_during_traffic=compared_during, overtakes=overtakes,
                        counters=counters)
    dut._log.info("random_traffic: %d bursts (%d answered before the one issued before them), "
                  "%d read and %d write beats, %d bytes compared during traffic", len(traffic),
                  overtakes, read_beats, write_beats, compared_during)
    bench.finish()


async def _join(tasks):
    for task in tasks:
        await task


# --- id_ordering ------------------------------------------------------------------------------

@cocotb.test()
async def id_ordering(dut):
    """A row miss (slow) and a row hit (fast) issued back to back on one channel: with
    different IDs the hit completes before the miss returns anything; with one ID the miss
    completes first. Likewise for writes and B."""
    bench = Bench(dut)
    [manager, *_] = await bench.start()
    length = 4 * bench.beat        # 4 beats: bank groups 0..3 of one bank field and row
    assert bench.amap.order[0] == "bank_group", "needs the bank group as the lowest field"

    def region(bank, row):
        return bench.address(channel=0, bank=bank, row=row)

    x_rows = [40, 41, 42, 43]
    y = region(1, 50)
    contents = {region(0, r): bench.random_bytes(length) for r in x_rows}
    contents[y] = bench.random_bytes(length)
    await bench.wait([manager.start_write(a, d, id=0) for a, d in contents.items()], 2000,
                     "setup writes")
    # Open row 45 of bank field 0 and row 50 of bank field 1, then let everything settle.
    await bench.wait([manager.start_read(region(0, 45), length, id=0),
                      manager.start_read(y, length, id=0)], 2000, "opening reads")
    await bench.idle(200)
    figures = {}

    async def pair(kind, x_address, x_id, y_id):
        if kind == "read":
            x = manager.start_read(x_address, length, id=x_id)
            yt = manager.start_read(y, length, id=y_id)
        else:
            contents[x_address] = bench.random_bytes(length)
            contents[y] = bench.random_bytes(length)
            x = manager.start_write(x_address, contents[x_address], id=x_id)
            yt = manager.start_write(y, contents[y], id=y_id)
        await bench.wait([x, yt], 2000, f"{kind} pair")
        assert x.resp == OKAY and yt.resp == OKAY, (x, yt)
        assert yt.address_cycle > x.address_cycle, "X must be issued first"
        if kind == "read":
            assert x.data == contents[x_address], _diff(x.data, contents[x_address], x_address)
            assert yt.data == contents[y], _diff(yt.data, contents[y], y)
        await bench.idle(200)
        return x, yt

    # Reads, different IDs: Y (hit) overtakes X (miss).
    x, yt = await pair("read", region(0, 40), 1, 2)
    assert yt.last_cycle < x.first_cycle, (
        f"different IDs: the hit's RLAST (cycle {yt.last_cycle}) must come before the miss's "
        f"first beat (cycle {x.first_cycle})")
    figures["read_ids_differ"] = {"miss_first": x.first_cycle - x.address_cycle,
                                  "hit_last": yt.last_cycle - x.address_cycle}
    # Reads, one ID: X first, Y after it.
    x, yt = await pair("read", region(0, 41), 3, 3)
    assert x.last_cycle < yt.first_cycle, (
        f"same ID: the miss's RLAST (cycle {x.last_cycle}) must come before the hit's first "
        f"beat (cycle {yt.first_cycle})")
    figures["read_same_id"] = {"miss_last": x.last_cycle - x.address_cycle,
                               "hit_first": yt.first_cycle - x.address_cycle}
    # Writes, different IDs: Y's B before X's.
    x, yt = await pair("write", region(0, 42), 4, 5)
    assert yt.b_cycle < x.b_cycle, (
        f"different IDs: the hit's B (cycle {yt.b_cycle}) must come before the miss's "
        f"(cycle {x.b_cycle})")
    figures["write_ids_differ"] = {"miss_b": x.b_cycle - x.address_cycle,
                                   "hit_b": yt.b_cycle - x.address_cycle}
    # Writes, one ID: X's B first.
    x, yt = await pair("write", region(0, 43), 6, 6)
    assert x.b_cycle < yt.b_cycle, (x, yt)
    figures["write_same_id"] = {"miss_b": x.b_cycle - x.address_cycle,
                                "hit_b": yt.b_cycle - x.address_cycle}
    # Everything written is there.
    for address, expected in contents.items():
        got, resp = await with_timeout(manager.read(address, length), 2000, "ns")
        assert resp == OKAY and got == expected, _diff(got, expected, address)
    bench.report["figures"] = figures
    dut._log.info("id_ordering (cycles from X's address handshake): %s", figures)
    bench.finish()


# --- refresh_and_starvation -------------------------------------------------------------------

def pattern(address, length, salt=0):
    """Deterministic contents: every write of the load writes these bytes, so any read
    can be checked whatever the order of the writes."""
    return bytes(((a * 0x9E3779B1 + salt) >> 11) & 0xFF for a in range(address, address + length))


@cocotb.test()
async def refresh_and_starvation(dut):
    """Sustained load on one channel: a stream of row hits from port 0 and row misses to the
    same banks from port 1 (which FR-FCFS would starve without its limit), plus traffic on
    the other channel. Every burst's latency stays under a bound derived from the
    starvation limit; refreshes keep up with tREFI; reads see what was written."""
    bench = Bench(dut)
    p = bench.params
    t = bench.timing
    cycles = p.get("cycles", 40_000)
    limit = p["starvation_limit"]
    depth = p["bank_queue_depth"]
    # Port 0, the aggressor: 16-beat bursts that hit open rows (reads of row 3 of bank field
    # 0 and writes to row 3 of bank field 1 on channel 0, some reads and writes of rows 7
    # and 8 of channel 1), enough in flight to keep channel 0's queue full of row hits.
    # Port 1, the victim: short bursts, one read and one write at a time, to other rows of
    # the same banks of channel 0: row misses, which FR-FCFS serves only once the hits
    # stop, or once they have waited the starvation limit.
    aggressor = {"valid_gap": 0.0, "ready_gap": 0.05,
                 "max_reads": p.get("aggressor_reads", 3), "max_writes": 1}
    victim = {"valid_gap": 0.1, "ready_gap": 0.1, "max_reads": 1, "max_writes": 1}
    managers = await bench.start(per_port=[aggressor, victim])
    rng = bench.rng
    beat = bench.beat
    block = 4 * 1024              # all 32 columns x 4 bank groups of one bank field

    def block_at(channel, bank, row):
        return bench.address(channel=channel, bank=bank, row=row)

    areas = {
        0: {"read": [block_at(0, 0, 3)], "write": [block_at(0, 1, 3)],
            "other": [block_at(1, 2, 7), block_at(1, 3, 8)]},
        1: {"read": [block_at(0, 0, 11), block_at(0, 0, 12)],
            "write": [block_at(0, 1, 13), block_at(0, 1, 14)]},
    }
    setup = []
    for port, kinds in areas.items():
        for base in sorted({b for bases in kinds.values() for b in bases}):
            for address, length in _bursts(base, base + block, beat):
                setup.append(managers[port].start_write(address, pattern(address, length)))
    await bench.wait(setup, 20_000, "setup writes")
    assert all(txn.resp == OKAY for txn in setup)

    load = []
    mismatches = []

    def check(txn):
        if txn.resp != OKAY or txn.data != pattern(txn.address, txn.length):
            mismatches.append(txn)

    start_cycle = bench.now()
    end_cycle = start_cycle + cycles
    samples = []

    async def port_load(port):
        manager = managers[port]
        kinds = areas[port]
        while bench.now() < end_cycle:
            await FallingEdge(dut.clk)
            if port == 0:
                choice = rng.random()
                kind = "read" if choice < 0.65 else "write" if choice < 0.85 else "other"
                beats = MAX_BURST_BEATS
            else:
                kind = rng.choice(["read", "write"])
                beats = rng.randint(1, 4)
            write = kind == "write" or (kind == "other" and rng.random() < 0.5)
            # Keep each direction's slots busy, with one more burst waiting for a slot.
            if (manager.pending_writes > manager.max_writes if write
                    else manager.pending_reads > manager.max_reads):
                continue
            base = rng.choice(kinds[kind])
            address = base + rng.randrange(block // beat - beats + 1) * beat
            length = beats * beat
            ident = rng.randrange(16)
            if write:
                load.append(manager.start_write(address, pattern(address, length), id=ident))
            else:
                load.append(manager.start_read(address, length, id=ident, on_done=check))

    async def sample_refreshes():
        while bench.now() < end_cycle:
            await ClockCycles(dut.clk, 1000)
            elapsed = bench.now() - bench.reset_cycle
            counters = bench.counters()
            samples.append((elapsed, [c["refreshes"] for c in counters]))
            for channel, c in enumerate(counters):
                floor = elapsed // t.trefi - (t.max_postponed_refreshes + 1)
                assert c["refreshes"] >= floor, (
                    f"channel {channel}: {c['refreshes']} refreshes after {elapsed} cycles, "
                    f"fewer than {elapsed} // tREFI - (max postponed + 1) = {floor}")

    tasks = [cocotb.start_soon(port_load(port)) for port in range(bench.ports)]
    sampler = cocotb.start_soon(sample_refreshes())
    try:
        await with_timeout(_join(tasks), cycles + 10_000, "ns")
    except SimTimeoutError:
        raise AssertionError("the load did not stop in time") from None
    await bench.wait(load, 20_000, "load")
    await sampler
    assert not mismatches, f"{len(mismatches)} reads returned wrong data, e.g. {mismatches[:2]}"

    # The latency bound (cycles from the AW/AR handshake to B or the last R beat):
    #
    # * starvation_limit: how long younger row hits may bypass a request in its bank's
    #   queue; after that the hits to its bank wait for it, and the mode is its kind;
    # * another starvation_limit: with starved requests of both kinds, the other kind's
    #   mode lasts that long (and until it has served one of its starved requests);
    # * bank_queue_depth row cycles: the requests older than it in its bank's queue (at most
    #   bank_queue_depth - 1, starved too) go first, each at worst a row miss (tRC covers
    #   PRE, ACT and the column command) plus a write-to-read turnaround (cwl + burst +
    #   tWTR_L), and then its own;
    # * two refreshes (drain to PREA, then tRFC): a window this long spans at most two
    #   tREFI ticks;
    # * the unloaded read latency of a row miss (the fixed pipeline);
    # * the R beats with READY dropped at random (twice the beats).
    # The victim's bursts (at most 8 beats in flight) enter the queues at once; the
    # aggressor's beats are row hits, at most 64 in flight, which the controller serves
    # within the row cycles above. Without the starvation limit a victim burst would wait
    # as long as the aggressor streams (the whole run).
    row_cycle = t.trc + t.cwl + t.burst_cycles + t.twtr_l
    refresh = ChannelController._refresh_drain(t) + t.trfc
    bound = (2 * limit + depth * row_cycle + 2 * refresh + p["read_latency"]
             + 2 * MAX_BURST_BEATS)
    worst = max(load, key=lambda txn: txn.latency)
    by_port = [max((txn.latency for txn in load if txn in m.transactions), default=0)
               for m in managers]
    dut._log.info("refresh_and_starvation: %d bursts, max latency %d (bound %d): %s; per "
                  "port %s", len(load), worst.latency, bound, worst, by_port)
    assert worst.latency <= bound, (
        f"burst latency {worst.latency} above the bound {bound} (2 x starvation limit {limit} "
        f"+ {depth} x row cycle {row_cycle} + 2 x refresh {refresh} + read latency "
        f"{p['read_latency']} + R beats {2 * MAX_BURST_BEATS}): {worst}")
    # The bound is about starvation only if requests waited that long: port 1's misses must
    # have been held back by port 0's hits for about the starvation limit.
    assert by_port[1] > limit, (
        f"port 1's row misses never waited longer than the starvation limit ({by_port[1]} "
        f"<= {limit}): the load does not exercise starvation")

    # Refresh: under load the controller postpones refreshes (at most
    # max_postponed_refreshes are owed); once idle it catches up, so after an idle stretch
    # as long as the owed refreshes take, every tREFI elapsed has had its REF.
    counters = bench.counters()
    load_end = bench.now() - bench.reset_cycle
    under_load = [c["refreshes"] for c in counters]
    catch_up = (t.max_postponed_refreshes + 2) * (ChannelController._refresh_drain(t) + t.trfc)
    await bench.idle(catch_up)
    elapsed = bench.now() - bench.reset_cycle
    counters = bench.counters()
    for channel, c in enumerate(counters):
        # REFs owed: one per tREFI since reset (the timer ticks at tREFI - 1); the last
        # may still be under way; one more may have been pulled in by the deadline.
        low = (elapsed - refresh) // t.trefi
        high = (elapsed + 1) // t.trefi + 1
        assert low <= c["refreshes"] <= high, (
            f"channel {channel}: {c['refreshes']} refreshes {elapsed} cycles after reset "
            f"(idle since {load_end}), expected {low} to {high} (tREFI {t.trefi})")
        floor = load_end // t.trefi - (t.max_postponed_refreshes + 1)
        assert under_load[channel] >= floor, (channel, under_load, floor)
    bench.report.update(bursts=len(load), max_latency=worst.latency, bound=bound,
                        max_latency_per_port=by_port, cycles_under_load=load_end,
                        refreshes_under_load=under_load, cycles=elapsed,
                        refreshes=[c["refreshes"] for c in counters], samples=samples,
                        row_hits=[c["row_hits"] for c in counters],
                        row_misses=[c["row_misses"] for c in counters])
    if bench.params.get("trace"):
        bench.report["trace"] = [
            [port, txn.kind, txn.address, txn.beats, txn.id, txn.address_cycle,
             txn.first_cycle, txn.last_cycle]
            for port, m in enumerate(managers) for txn in m.transactions]
    bench.finish()


# --- decode_errors ----------------------------------------------------------------------------

@cocotb.test()
async def decode_errors(dut):
    """DECERR for bursts reaching past the map's capacity (no aliasing), SLVERR for the
    bursts the port does not support; neither touches memory, all beats are exchanged,
    and the port keeps working."""
    bench = Bench(dut)
    [manager, *_] = await bench.start(valid_gap=0.2, ready_gap=0.2)
    beat = bench.beat
    capacity = bench.capacity
    width = manager.addr_width
    assert (1 << width) > capacity, (
        f"the port's addresses ({width} bits) must reach past the capacity {capacity:#x}")
    timeout = 20_000

    async def write_ok(address, payload):
        resp = await with_timeout(manager.write(address, payload), timeout, "ns")
        assert resp == OKAY, (hex(address), resp)

    async def read_ok(address, length):
        got, resp = await with_timeout(manager.read(address, length), timeout, "ns")
        assert resp == OKAY, (hex(address), resp)
        return got

    async def check_unchanged(address, expected, what):
        for start, length in _bursts(address, address + len(expected), beat):
            got = await read_ok(start, length)
            want = expected[start - address:start - address + length]
            assert got == want, f"{what}: memory changed: {_diff(got, want, start)}"

    async def still_works(what):
        address = 0x7000
        payload = bench.random_bytes(MAX_BURST_BEATS * beat)
        await write_ok(address, payload)
        got = await read_ok(address, len(payload))
        assert got == payload, f"after {what}: {_diff(got, payload, address)}"

    async def rejected(expected, address, length, what, **burst):
        """A write and a read of the burst get ``expected`` on B and every R beat, with all
        their beats and zero data."""
        wtxn = manager.start_write(address, bench.random_bytes(length), **burst)
        rtxn = manager.start_read(address, length, **burst)
        await bench.wait([wtxn, rtxn], timeout, what)
        assert wtxn.resp == expected, f"{what}: BRESP {wtxn.resp}, expected {expected}"
        assert len(wtxn.w_cycles) == wtxn.beats
        assert len(rtxn.r_beats) == rtxn.beats, f"{what}: {len(rtxn.r_beats)} R beats"
        assert all(b.resp == expected for b in rtxn.r_beats), (
            f"{what}: RRESP {[b.resp.name for b in rtxn.r_beats]}, expected {expected}")
        assert all(b.data == 0 for b in rtxn.r_beats), f"{what}: RDATA not 0"
        assert [b.last for b in rtxn.r_beats] == [False] * (rtxn.beats - 1) + [True]
        return wtxn, rtxn

    # Reference contents at the low addresses the aliases would hit.
    reference = {address: bench.random_bytes(MAX_BURST_BEATS * beat)
                 for address in (0x0, 0x1000, 0x2E00)}
    for address, payload in reference.items():
        await write_ok(address, payload)

    # DECERR: past the capacity, aliases of the reference bursts, and the very top of the
    # address space (whose end wraps past 2**width).
    cases = []
    for address in reference:
        for k in (1, 2, (1 << width) // capacity - 1):
            cases.append((address + k * capacity, address))
    cases.append((capacity, 0x0))
    top = (1 << width) - BOUNDARY
    for alias, original in cases:
        await rejected(DECERR, alias, MAX_BURST_BEATS * beat, f"burst at {alias:#x}")
        await check_unchanged(original, reference[original], f"burst at {alias:#x}")
    await rejected(DECERR, top, MAX_BURST_BEATS * beat, f"burst at {top:#x}")
    await rejected(DECERR, capacity, beat, "single beat at the capacity")
    await check_unchanged(0x0, reference[0x0], "single beat at the capacity")
    await still_works("DECERR")

    # SLVERR: every burst the port does not support; memory below it is pre-written.
    unsupported = [
        ("FIXED", 0x3000, 4 * beat, {"burst": Burst.FIXED}),
        ("WRAP", 0x3040, 4 * beat, {"burst": Burst.WRAP}),
        ("reserved burst type", 0x3100, 4 * beat, {"burst": 3}),
        ("narrow (8 B beats)", 0x3200, 32, {"size": 3}),
        ("unaligned start", 0x3308, 2 * beat - 8, {}),
        ("crossing 4 KB", 0x3FC0, 4 * beat, {}),
        ("17 beats", 0x4400, 17 * beat, {}),
        ("256 beats", 0x8000, 256 * beat, {}),
    ]
    for what, address, length, burst in unsupported:
        # Everything any reading of the burst could touch (FIXED and WRAP stay inside
        # the aligned span) is written first.
        start = address - address % (4 * beat)
        span = start, max(address + length, start + 4 * beat)
        span = (span[0], span[1] + (-span[1]) % beat)
        before = bench.random_bytes(span[1] - span[0])
        for a, n in _bursts(span[0], span[1], beat):
            await write_ok(a, before[a - span[0]:a - span[0] + n])
        wtxn, rtxn = await rejected(SLVERR, address, length, what, **burst)
        assert wtxn.beats == rtxn.beats == length // (1 << burst.get("size", manager.size)) + (
            what == "unaligned start"), (what, wtxn.beats, rtxn.beats)
        await check_unchanged(span[0], before, what)
        await still_works(what)
    resps = [txn.resp.name for txn in manager.transactions]
    bench.report.update(decerr_cases=len(cases) + 2, slverr_cases=len(unsupported),
                        responses={name: resps.count(name) for name in set(resps)})
    assert resps.count("DECERR") == 2 * (len(cases) + 2)
    assert resps.count("SLVERR") == 2 * len(unsupported)
    bench.finish()


# --- row_miss_latency -------------------------------------------------------------------------

@cocotb.test()
async def row_miss_latency(dut):
    """Unloaded reads: from the AR handshake to the first RVALID takes exactly
    ``MemorySystem.read_latency()`` on a row miss and ``read_latency(row_hit=True)`` on a
    hit, from every port to every channel."""
    bench = Bench(dut)
    expected_miss = bench.params["read_latency"]
    expected_hit = bench.params["read_latency_hit"]
    managers = await bench.start()
    beat = bench.beat
    # Well before the first tREFI: no refresh is owed yet (and if one comes, the
    # measurement is repeated).
    await bench.idle(300)
    places = [(port, channel, bank_group, bank)
              for port in range(bench.ports) for channel in range(bench.channels)
              for bank_group, bank in ((0, 0), (3, 2))]
    places = [(port, channel, bank_group, (bank + port) % bench.timing.banks_per_group)
              for port, channel, bank_group, bank in places]
    measured = []
    for port, channel, bank_group, bank in places:
        manager = managers[port]
        for attempt in range(2):
            r1, r2 = 20 + 2 * attempt, 21 + 2 * attempt

            def at(row, column):
                return bench.address(channel=channel, bank_group=bank_group, bank=bank,
                                     row=row, column=column)
            refreshes = bench.total("refreshes")
            await bench.wait([manager.start_read(at(r1, 0), beat)], 1000, "opening read")
            await bench.idle(100)       # tRAS, tRTP long met; everything idle
            miss = manager.start_read(at(r2, 1), beat)
            await bench.wait([miss], 1000, "row miss")
            await bench.idle(100)
            hit = manager.start_read(at(r2, 2), beat)
            await bench.wait([hit], 1000, "row hit")
            if bench.total("refreshes") == refreshes:
                break
            dut._log.info("a refresh intervened; measuring again")
        else:
            raise AssertionError("refreshes kept intervening")
        assert miss.resp == OKAY and hit.resp == OKAY
        figures = {"port": port, "channel": channel, "bank_group": bank_group, "bank": bank,
                   "miss": miss.first_valid_latency, "hit": hit.first_valid_latency}
        measured.append(figures)
        dut._log.info("row_miss_latency: %s (expected miss %d, hit %d)", figures,
                      expected_miss, expected_hit)
        assert miss.first_valid_latency == expected_miss, (
            f"row miss on {figures}: {miss.first_valid_latency} cycles from AR to the "
            f"first RVALID, expected read_latency() = {expected_miss}")
        assert hit.first_valid_latency == expected_hit, (
            f"row hit on {figures}: {hit.first_valid_latency} cycles, expected "
            f"read_latency(row_hit=True) = {expected_hit}")
        assert hit.r_beats[0].cycle == hit.r_beats[0].valid_cycle   # RREADY was high
    bench.report.update(measured=measured, expected_miss=expected_miss,
                        expected_hit=expected_hit)
    bench.finish()


# --- channel_split ----------------------------------------------------------------------------

@cocotb.test()
async def channel_split(dut):
    """With the channel as the lowest field, a 16-beat burst alternates channels beat by
    beat: the port splits it and puts it back together, in order, many bursts in flight
    with backpressure everywhere."""
    bench = Bench(dut)
    assert bench.amap.order[0] == "channel" and bench.channels == 2, bench.amap
    [manager, *_] = await bench.start(valid_gap=0.3, ready_gap=0.3, max_reads=8,
                                      max_writes=8)
    rng = bench.rng
    beat = bench.beat
    burst = MAX_BURST_BEATS * beat
    # Bursts starting on either channel (an odd beat start puts beat 0 on channel 1).
    addresses = [0x0, 0x200, 0x1E00, 0x3020, 0x5220, 0x10000, 0x2_0000, 0x4_0C20]
    for address in addresses:
        assert address % BOUNDARY + burst <= BOUNDARY
    board = Scoreboard(bench.stored_limit)
    before = bench.counters()
    for round_ in range(3):
        writes = []
        for address in addresses:
            payload = bench.random_bytes(burst)
            enables = None if round_ == 0 else [rng.random() < 0.7 for _ in range(burst)]
            board.write(address, payload, enables)
            writes.append(manager.start_write(address, payload, id=rng.randrange(16),
                                              byte_enable=enables))
        await bench.wait(writes, 10_000, f"writes of round {round_}")
        reads = [manager.start_read(address, burst, id=rng.randrange(16))
                 for address in addresses]
        await bench.wait(reads, 10_000, f"reads of round {round_}")
        for txn in writes + reads:
            assert txn.resp == OKAY, txn
        for txn in reads:
            expected = bytes(board.mem[txn.address:txn.address + burst])
            assert txn.data == expected, f"{txn}: {_diff(txn.data, expected, txn.address)}"
    await bench.idle(10)
    after = bench.counters()
    bursts = 3 * len(addresses)
    for channel, (b, a) in enumerate(zip(before, after)):
        for name in ("reads", "writes"):
            moved = a[name] - b[name]
            assert moved == bursts * MAX_BURST_BEATS // 2, (
                f"channel {channel}: {moved} {name}, expected half of the {bursts} bursts' "
                f"beats ({bursts * MAX_BURST_BEATS // 2})")
    bench.report["counters"] = after
    bench.finish()
