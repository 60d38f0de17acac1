"""cocotb testbench of the memory system driven by its hardware traffic generators
(:class:`sim.memory.MemoryTestbench` with ``traffic=True``): access patterns at simulator
speed, with no Python in the per-cycle loop.

The test reads ``OPENMXU_TEST_PARAMS`` (JSON):

``patterns``
    list of ``{"name", "beats", "random", "read_weight", "write_weight", "bursts",
    "window_log2", "bases"}``: one run each, one after the other on the same simulation;
    ``bases`` gives every port's window base.
``report``
    path of the JSON file the results go to: per pattern the traffic counters of every
    port, the controller counters of every channel (differences over the run), the wall-clock
    seconds and the cycles.

A device's timing violation fails the run at once, naming the channel, rule, bank and cycle.
"""

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, First

from rtl.mem.device import describe_error
from rtl.mem.system import counter_layout
from sim.memory import traffic_counter_layout
from sim.packing import unpack
from amaranth.lib import data

__all__ = ["MemoryErrorWatch", "reset"]


class MemoryErrorWatch:
    """Fails the test as soon as a device model latches a timing error."""

    def __init__(self, dut, timing=None):
        self.dut, self.timing = dut, timing

    def message(self):
        dut = self.dut
        return (f"channel {int(dut.error_channel.value)}: "
                + describe_error(int(dut.error_rule.value), int(dut.error_bank.value),
                                 int(dut.error_cycle.value), timing=self.timing))

    async def watch(self):
        await RisingEdge(self.dut.error)
        raise AssertionError(f"DRAM timing violation: {self.message()}")


async def reset(dut, inputs=()):
    cocotb.start_soon(Clock(dut.clk, 1, unit="ns").start())
    for name in inputs:
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)


def _counters(dut, ports, channels):
    traffic = unpack(data.ArrayLayout(traffic_counter_layout(), ports),
                     dut.traffic_counters.value)
    memory = unpack(data.ArrayLayout(counter_layout(), channels), dut.counters.value)
    return traffic, memory


@cocotb.test()
async def traffic_patterns(dut):
    params = json.loads(os.environ["OPENMXU_TEST_PARAMS"])
    ports = len(dut.traffic_counters.value) // traffic_counter_layout().size
    channels = len(dut.counters.value) // counter_layout().size
    await reset(dut, ("start", "window_log2", "beats", "random", "read_weight",
                      "write_weight", "bursts", "base"))
    watch = MemoryErrorWatch(dut)
    watcher = cocotb.start_soon(watch.watch())
    results = []
    for pattern in params["patterns"]:
        for name in ("beats", "random", "read_weight", "write_weight", "bursts",
                     "window_log2"):
            getattr(dut, name).value = int(pattern[name])
        base_width = len(dut.base.value) // ports
        dut.base.value = sum(int(b) << (p * base_width) for p, b in enumerate(pattern["bases"]))
        _, before = _counters(dut, ports, channels)
        await FallingEdge(dut.clk)
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        started = time.perf_counter()
        await First(RisingEdge(dut.done), watcher)
        seconds = time.perf_counter() - started
        await FallingEdge(dut.clk)
        assert not dut.error.value, f"DRAM timing violation: {watch.message()}"
        traffic, after = _counters(dut, ports, channels)
        for port in traffic:
            assert port["errors"] == 0, f"{pattern['name']}: error responses: {port}"
        results.append({
            "name": pattern["name"],
            "traffic": traffic,
            "channels": [{name: a[name] - b[name] for name in a}
                         for a, b in zip(after, before)],
            "seconds": seconds,
        })
    watcher.cancel()
    with open(params["report"], "w") as file:
        json.dump(results, file, indent=1)
