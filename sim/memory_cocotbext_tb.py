"""cocotb testbench of the memory system's AXI4 port 0 driven by an independent AXI master
model: cocotbext-axi's ``AxiMaster`` (:class:`sim.memory.MemoryTestbench` with
``traffic=False``).

cocotbext-axi cuts every ``read``/``write`` into bursts itself. With ``max_burst_len=16`` and
an aligned start address, all its bursts are INCR bursts of 1 to 16 full-width beats that do
not cross 4 KB, which the port carries out (a length that is not a multiple of the beat size
only narrows ``WSTRB`` on the last beat). What the master sends otherwise, and what the port
answers, is checked in :func:`unsupported_bursts`:

* an unaligned start address: the first burst starts at the unaligned address (AXI allows
  that, the port does not): ``SLVERR``, that burst touches no memory; the following bursts
  start aligned and are carried out. The operation as a whole reports ``SLVERR``.
* an explicit narrow ``size``: every burst gets ``SLVERR`` and touches no memory; reads give
  zeros.
* ``max_burst_len`` above 16 (cocotbext-axi's default is 256): the long bursts get
  ``SLVERR``.

The tests read ``OPENMXU_TEST_PARAMS`` (JSON): ``seed`` (default 1), and for
:func:`concurrent_random` ``rounds`` and ``operations`` (per round).

Every test keeps a Python model of the bytes it wrote and compares only those (the device
storage starts uninitialized), stays below 1 MiB (the rows the device models store with one
channel) and fails at once on a DRAM timing violation (:class:`sim.memory_tb.MemoryErrorWatch`).
"""

import json
import logging
import os
import random

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from cocotbext.axi import AxiBus, AxiMaster, AxiResp

from sim.memory_tb import MemoryErrorWatch, reset

#: Beat (and data bus) bytes of the HBM2 port.
BEAT = 32
#: The port's longest burst.
MAX_BEATS = 16
#: Bytes the device models store with one channel (rows 0 to 63 of every bank).
STORED = 1 << 20


def _params():
    return json.loads(os.environ.get("OPENMXU_TEST_PARAMS", "{}"))


class Model:
    """The bytes the test wrote, by address (other bytes are undefined)."""

    def __init__(self):
        self.bytes = {}

    def write(self, address, data):
        for i, byte in enumerate(data):
            self.bytes[address + i] = byte

    def check(self, address, data, what):
        """Compare the known bytes of a read of ``data`` at ``address``."""
        wrong = [(address + i, byte, self.bytes[address + i]) for i, byte in enumerate(data)
                 if address + i in self.bytes and self.bytes[address + i] != byte]
        assert not wrong, (f"{what}: {len(wrong)} wrong bytes, first (address, read, "
                           f"expected): {[(hex(a), r, e) for a, r, e in wrong[:8]]}")
        return sum(1 for i in range(len(data)) if address + i in self.bytes)


async def setup(dut, *, max_burst_len=MAX_BEATS):
    """Clock, reset, the master on port 0 and the timing-error watch."""
    bus = AxiBus.from_prefix(dut, "s_axi__0", bus_separator="__")
    master = AxiMaster(bus, dut.clk, dut.rst, max_burst_len=max_burst_len)
    for interface in (master.write_if, master.read_if):
        interface.log.setLevel(logging.WARNING)   # it logs every burst and byte at INFO
    await reset(dut)
    watch = MemoryErrorWatch(dut)
    watcher = cocotb.start_soon(watch.watch())
    return master, watch, watcher


async def finish(dut, master, watch, watcher):
    await master.wait()
    for _ in range(8):
        await FallingEdge(dut.clk)
    assert not dut.error.value, f"DRAM timing violation: {watch.message()}"
    watcher.cancel()


def _random_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


async def _background(master, model, rng, address, length):
    """Write random bytes over the beats that hold ``[address, address + length)``."""
    start = address // BEAT * BEAT
    end = -(-(address + length) // BEAT) * BEAT
    data = _random_bytes(rng, end - start)
    resp = await master.write(start, data)
    assert resp.resp == AxiResp.OKAY, f"background write at {start:#x}: {resp.resp!r}"
    model.write(start, data)


#: (address, length) of aligned-start transfers: one byte to several KB, short tails, bursts
#: cut at 16 beats and at 4 KB boundaries.
ALIGNED_CASES = [
    (0x00000, 1), (0x00020, 2), (0x00040, 31), (0x00060, 32), (0x00080, 33), (0x000c0, 64),
    (0x00100, 100), (0x00200, 511), (0x00400, 512), (0x00600, 513), (0x00a00, 1000),
    (0x01000, 4096), (0x02f80, 300), (0x03fe0, 64), (0x05000, 5000), (0x08020, 8192 + 7),
    (0x40000, 12345), (0xff000, 4096),
]


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def aligned_lengths(dut):
    """Writes and reads at aligned addresses of 1 B to 12 KB, byte-exact (including the bytes
    of the last beat that the write's strobes must leave alone)."""
    rng = random.Random(_params().get("seed", 1))
    master, watch, watcher = await setup(dut)
    model = Model()
    for address, length in ALIGNED_CASES:
        assert address + length <= STORED
        await _background(master, model, rng, address, length)
        data = _random_bytes(rng, length)
        resp = await master.write(address, data)
        assert resp.resp == AxiResp.OKAY, f"write {length} B at {address:#x}: {resp.resp!r}"
        model.write(address, data)
        # Read exactly what was written, then the whole beats around it (tail bytes that
        # the strobes kept).
        resp = await master.read(address, length)
        assert resp.resp == AxiResp.OKAY, f"read {length} B at {address:#x}: {resp.resp!r}"
        assert resp.data == data, f"read {length} B at {address:#x}: data differ"
        start, end = address // BEAT * BEAT, -(-(address + length) // BEAT) * BEAT
        resp = await master.read(start, end - start)
        assert resp.resp == AxiResp.OKAY
        model.check(start, resp.data, f"beats around {length} B at {address:#x}")
    # Everything again, after all the writes: nothing overwrote anything else.
    for address, length in ALIGNED_CASES:
        start, end = address // BEAT * BEAT, -(-(address + length) // BEAT) * BEAT
        resp = await master.read(start, end - start)
        assert resp.resp == AxiResp.OKAY
        model.check(start, resp.data, f"final read of {length} B at {address:#x}")
    await finish(dut, master, watch, watcher)


@cocotb.test(timeout_time=2, timeout_unit="ms")
async def unsupported_bursts(dut):
    """What the port answers to the bursts cocotbext-axi makes of unaligned and narrow
    accesses and of bursts longer than 16 beats: SLVERR, and no memory is touched by them."""
    rng = random.Random(_params().get("seed", 1) + 100)
    master, watch, watcher = await setup(dut)
    model = Model()

    async def expect(address, length, *, write_resp, read_resp, written, size=None,
                     max_burst_len=MAX_BEATS, what=""):
        """Write random data over a known background and read it back (with ``size`` and
        ``max_burst_len``); ``written`` is the byte range (relative to ``address``) that the
        accepted bursts must have written."""
        await _background(master, model, rng, address, length)
        master.write_if.max_burst_len = master.read_if.max_burst_len = max_burst_len
        data = _random_bytes(rng, length)
        resp = await master.write(address, data, size=size)
        assert resp.resp == write_resp, f"{what}: write answered {resp.resp!r}"
        first, stop = written
        model.write(address + first, data[first:stop])
        resp = await master.read(address, length, size=size)
        assert resp.resp == read_resp, f"{what}: read answered {resp.resp!r}"
        master.write_if.max_burst_len = master.read_if.max_burst_len = MAX_BEATS
        return data, resp.data

    # Unaligned start, all beats in the first burst: nothing written; reads give zeros.
    data, read = await expect(0x10005, 100, write_resp=AxiResp.SLVERR,
                              read_resp=AxiResp.SLVERR, written=(0, 0), what="unaligned 100 B")
    assert read == bytes(100), "unaligned read: a rejected burst must read as zeros"
    resp = await master.read(0x10000, 160)
    model.check(0x10000, resp.data, "after the rejected unaligned write")

    # Unaligned start, 1000 B: the first burst (16 beats from 0x20005, up to 0x201ff) is
    # rejected, the second (from 0x20200) is carried out.
    address = 0x20005
    split = 0x20200 - address
    data, read = await expect(address, 1000, write_resp=AxiResp.SLVERR,
                              read_resp=AxiResp.SLVERR, written=(split, 1000),
                              what="unaligned 1000 B")
    assert read[:split] == bytes(split), "unaligned read: the rejected first burst gives zeros"
    assert read[split:] == data[split:], "unaligned read: the accepted second burst's data"
    resp = await master.read(address // BEAT * BEAT, 1024 + BEAT)
    model.check(address // BEAT * BEAT, resp.data, "after the half-rejected unaligned write")

    # Unaligned single byte.
    data, read = await expect(0x30011, 1, write_resp=AxiResp.SLVERR, read_resp=AxiResp.SLVERR,
                              written=(0, 0), what="unaligned 1 B")
    assert read == b"\0"

    # Narrow bursts (4 bytes per beat) at an aligned address.
    for size in (0, 2, 4):
        data, read = await expect(0x40000 + 0x100 * size, 64, size=size,
                                  write_resp=AxiResp.SLVERR, read_resp=AxiResp.SLVERR,
                                  written=(0, 0), what=f"narrow size {size}")
        assert read == bytes(64)

    # Bursts longer than 16 beats (cocotbext-axi's default max_burst_len is 256).
    data, read = await expect(0x50000, 1024, max_burst_len=256, write_resp=AxiResp.SLVERR,
                              read_resp=AxiResp.SLVERR, written=(0, 0), what="32-beat burst")
    assert read == bytes(1024)

    # The port still works: every byte written so far.
    for start in (0x10000, 0x20000, 0x30000, 0x40000, 0x50000):
        resp = await master.read(start, 0x500)
        assert resp.resp == AxiResp.OKAY
        model.check(start, resp.data, f"final read at {start:#x}")
    await finish(dut, master, watch, watcher)


def _pauses(rng, busy):
    """An endless pause pattern: runs of pauses and of go, ``busy`` the share paused."""
    while True:
        paused = rng.random() < busy
        for _ in range(rng.randint(1, 6)):
            yield paused


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def concurrent_random(dut):
    """Many reads and writes in flight at once (every op gets the next of 16 IDs) with
    random backpressure on all five channels, checked byte by byte against the model.

    Each round starts ``operations`` transfers on disjoint address ranges (so their order
    does not matter), waits for all of them, and then checks the reads and records the
    writes.
    """
    params = _params()
    rng = random.Random(params.get("seed", 1) + 200)
    rounds, operations = params.get("rounds", 12), params.get("operations", 24)
    master, watch, watcher = await setup(dut)
    model = Model()
    for channel, busy in ((master.write_if.aw_channel, 0.3), (master.write_if.w_channel, 0.3),
                          (master.write_if.b_channel, 0.4), (master.read_if.ar_channel, 0.3),
                          (master.read_if.r_channel, 0.4)):
        channel.set_pause_generator(_pauses(random.Random(rng.getrandbits(32)), busy))

    # Every operation gets a 4 KB slot of the stored megabyte (many banks and rows) and may
    # run on into the next slot: the slots of a round are two apart, so its ranges are
    # disjoint.
    earlier = {slot: [] for slot in range(STORED // 4096)}   # (address, length) of writes
    reads = writes = checked = 0
    for round_ in range(rounds):
        shift = rng.randrange(2)
        chosen = rng.sample(range(shift, STORED // 4096, 2), operations)
        pending = []
        for slot in chosen:
            # Aligned start, any length: one byte up to several bursts and a 4 KB crossing.
            beat = rng.randrange(4096 // BEAT)
            length = rng.choice([1, rng.randint(1, 64), rng.randint(1, 600),
                                 rng.randint(1, 3000)])
            address = slot * 4096 + beat * BEAT
            length = min(length, STORED - address)
            write = rng.random() < (0.7 if round_ < 2 else 0.5)
            if not write and earlier[slot] and rng.random() < 0.8:
                # Mostly read around an earlier write from this slot (so that most reads
                # compare bytes), staying in this slot and the next.
                first, size = rng.choice(earlier[slot])
                address = max(slot * 4096, first - BEAT * rng.randint(0, 2))
                length = min(first + size + rng.randint(0, 64) - address,
                             slot * 4096 + 8192 - address, STORED - address)
            if write:
                data = _random_bytes(rng, length)
                earlier[slot].append((address, length))
                pending.append(("write", address, data,
                                cocotb.start_soon(master.write(address, data))))
            else:
                pending.append(("read", address, length,
                                cocotb.start_soon(master.read(address, length))))
        results = []
        for kind, address, payload, task in pending:
            resp = await task
            results.append(resp)
            assert resp.resp == AxiResp.OKAY, f"{kind} at {address:#x}: {resp.resp!r}"
        for (kind, address, payload, _), resp in zip(pending, results):
            if kind == "write":
                model.write(address, payload)
                writes += 1
            else:
                assert len(resp.data) == payload
                checked += model.check(address, resp.data, f"read at {address:#x}")
                reads += 1
    # Read back everything written.
    compared = checked
    known = sorted(model.bytes)
    spans, start = [], known[0]
    for a, b in zip(known, known[1:] + [None]):
        if b != a + 1:
            spans.append((start, a + 1))
            start = b
    tasks = []
    for first, stop in spans:
        tasks.append((first, cocotb.start_soon(master.read(first, stop - first))))
    for first, task in tasks:
        resp = await task
        assert resp.resp == AxiResp.OKAY, f"final read at {first:#x}: {resp.resp!r}"
        checked += model.check(first, resp.data, f"final read at {first:#x}")
    dut._log.info(f"{writes} writes, {reads} reads ({compared} bytes compared), "
                  f"{len(spans)} final reads ({checked - compared} bytes compared), "
                  f"{len(model.bytes)} bytes written")
    assert compared > 0 and checked - compared == len(model.bytes) > 0
    await finish(dut, master, watch, watcher)
