"""cocotb backend of the host driver: runs :class:`openmxu.driver.MatmulJob` lists on
:class:`sim.accelerator.AcceleratorTestbench`.

The host loads memory and reads C back over the ``host`` AXI4 port (16-beat bursts, several
in flight) and drives the register bus like a board's bridge. Parameters come as JSON in
``OPENMXU_TEST_PARAMS``: ``jobs_file`` (a list of batches; a batch is a list of jobs queued
back to back before waiting), ``throttle`` (random stalls between the accelerator and the
memory) and ``results_file``, where the test writes per job the STATUS
fields, the counter deltas and the bytes read back, and the simulation speed.
"""

import json
import os
import time

import cocotb
from cocotb.triggers import FallingEdge, Timer
from cocotb.utils import get_sim_time

from openmxu.registers import Reg, COUNTERS, counter_index, STATUS_BUSY, STATUS_DONE, MAGIC
from rtl.mem.axi import Response
from .axi_manager import AxiManager
from .memory_tb import MemoryErrorWatch, reset

BURST_BYTES = 512
PAGE = 4096


class RegisterPort:
    """Drives the register bus (:class:`rtl.accel.registers.RegisterBus`)."""

    def __init__(self, dut):
        self.dut = dut
        dut.bus__addr.value = 0
        dut.bus__w_en.value = 0
        dut.bus__r_en.value = 0
        dut.bus__w_data.value = 0

    async def write(self, index, value):
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.bus__addr.value = index
        dut.bus__w_data.value = value
        dut.bus__w_en.value = 1
        await FallingEdge(dut.clk)
        dut.bus__w_en.value = 0

    async def read(self, index):
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.bus__addr.value = index
        dut.bus__r_en.value = 1
        await FallingEdge(dut.clk)
        dut.bus__r_en.value = 0
        return int(dut.bus__r_data.value)

    async def counters(self):
        values = {}
        for name, _ in COUNTERS:
            low = await self.read(counter_index(name))
            high = await self.read(counter_index(name) + 1)
            values[name] = low | high << 32
        return values


def _chunks(address, length):
    """Bursts of at most 512 bytes that do not cross a 4 KB page."""
    end = address + length
    while address < end:
        size = min(BURST_BYTES, end - address, PAGE - address % PAGE)
        yield address, size
        address += size


async def load(host, address, data):
    beat = host.data_bytes
    assert address % beat == 0 and len(data) % beat == 0, (address, len(data))
    writes = [host.start_write(chunk, data[chunk - address:chunk - address + size])
              for chunk, size in _chunks(address, len(data))]
    for txn in writes:
        resp = await txn.wait()
        assert resp == Response.OKAY, f"host write at {txn.address:#x} answered {resp}"


async def fetch(host, address, length):
    reads = [host.start_read(chunk, size) for chunk, size in _chunks(address, length)]
    out = bytearray()
    for txn in reads:
        data, resp = await txn.wait()
        assert resp == Response.OKAY, f"host read at {txn.address:#x} answered {resp}"
        out += data
    return bytes(out)


POLL_CYCLES = 256


async def wait_idle(dut, registers, timeout_cycles):
    """Wait until no command is queued or running, reading STATUS every POLL_CYCLES (a
    timer, so that Python does not run in the cycles between)."""
    for _ in range(timeout_cycles // POLL_CYCLES + 1):
        status = await registers.read(Reg.STATUS)
        if not status & STATUS_BUSY:
            return status
        await Timer(POLL_CYCLES, unit="ns")
    raise AssertionError(f"the accelerator is still busy after {timeout_cycles} cycles "
                         f"(STATUS {status:#x})")


@cocotb.test()
async def run_jobs(dut):
    params = json.loads(os.environ["OPENMXU_TEST_PARAMS"])
    with open(params["jobs_file"]) as f:
        batches = json.load(f)
    await reset(dut, ("bus__addr", "bus__w_en", "bus__r_en", "bus__w_data", "throttle"))
    dut.throttle.value = int(params.get("throttle", False))
    cocotb.start_soon(MemoryErrorWatch(dut).watch())
    registers = RegisterPort(dut)
    assert await registers.read(Reg.ID) == MAGIC, "ID register does not read MAGIC"

    results = []
    run_cycles = 0
    run_seconds = 0.0
    for batch in batches:
        # The host port's model samples its channels every cycle: it runs only while the
        # host moves data, not while the accelerator computes.
        await FallingEdge(dut.clk)
        host = AxiManager(dut, "host", dut.clk, max_reads=8, max_writes=8)
        for job in batch:
            for address, data in job["loads"]:
                await load(host, address, bytes.fromhex(data))
        host.stop()
        before = await registers.counters()
        started_cycle = get_sim_time("ns")
        started = time.monotonic()
        finished_before = (await registers.read(Reg.STATUS)) >> 16
        for job in batch:
            for index, value in job["registers"]:
                await registers.write(index, value)
            free = await registers.read(Reg.QUEUE)
            assert free > 0, "the command queue is full"
            await registers.write(Reg.COMMAND, 1)
        # Wait for the interrupt line of each command, then for the queue to drain.
        limit = params.get("timeout_cycles", 20_000_000)
        status = await wait_idle(dut, registers, limit)
        run_seconds += time.monotonic() - started
        run_cycles += int(get_sim_time("ns") - started_cycle)
        after = await registers.counters()
        finished = ((status >> 16) - finished_before) & 0xFFFF
        assert finished == len(batch), f"{finished} of {len(batch)} commands finished"
        assert status & STATUS_DONE and int(dut.irq.value) == 1, "irq is not raised"
        await registers.write(Reg.STATUS, STATUS_DONE)
        assert int(dut.irq.value) == 0, "writing STATUS.done does not clear irq"
        host = AxiManager(dut, "host", dut.clk, max_reads=8, max_writes=8)
        for job in batch:
            address, length = job["readback"]
            data = await fetch(host, address, length)
            results.append({
                # Per-command errors of a batch: only the last one is in STATUS.
                "error": (status >> 8) & 0xFF,
                "counters": {name: after[name] - before[name] for name, _ in COUNTERS},
                "data": data.hex(),
            })
        host.stop()
    with open(params["results_file"], "w") as f:
        json.dump({"results": results, "sim_cycles": run_cycles,
                   "sim_seconds": run_seconds}, f)
