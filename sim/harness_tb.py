"""cocotb testbench of the array harness: whole matrix multiplications at simulator speed.

The test reads its cases from ``OPENMXU_TEST_PARAMS`` (JSON):

``config``
    keyword arguments of :class:`openmxu.Config`.
``cases``
    list of ``{"kind", "m", "k", "n", "seed", "in_stall", "out_stall"}``; ``kind`` is one
    of :data:`openmxu.golden.OPERAND_KINDS`, the stalls are probabilities out of 256.
``report`` (optional)
    path of a JSON file to write the measured cycles and simulation speed to.

Every result is compared bit-exactly with :func:`openmxu.golden.matmul`.
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, with_timeout

from openmxu import Config, golden
from openmxu.tiling import plan_array_matmul

__all__ = ["HarnessDriver"]


class HarnessDriver:
    """Drives :class:`sim.harness.ArrayHarness`: load A and B, run, read C back."""

    def __init__(self, dut, config):
        self.dut, self.config = dut, config
        self.clock = dut.clk

    async def start(self):
        cocotb.start_soon(Clock(self.clock, 10, unit="ns").start())
        dut = self.dut
        for name in ("start", "load_a", "load_b", "in_stall", "out_stall", "seed",
                     "m_steps", "k_steps", "n_steps", "load_addr", "load_data", "read_addr"):
            getattr(dut, name).value = 0
        dut.rst.value = 1
        for _ in range(3):
            await FallingEdge(self.clock)
        dut.rst.value = 0

    def capacity(self):
        return {name: 1 << len(self.dut.load_addr) for name in ("a", "b", "c")}

    async def _write(self, strobe, words):
        dut = self.dut
        for address, word in enumerate(words):
            await FallingEdge(self.clock)
            dut.load_addr.value = address
            dut.load_data.value = word
            strobe.value = 1
        await FallingEdge(self.clock)
        strobe.value = 0

    async def read(self, count):
        dut, words = self.dut, []
        await FallingEdge(self.clock)
        for address in range(count):
            dut.read_addr.value = address
            await FallingEdge(self.clock)
            words.append(dut.read_data.value.to_unsigned())
        return words

    async def matmul(self, a, b, *, in_stall=0, out_stall=0, seed=1):
        """``a @ b`` on the harness; returns ``(c, cycles)``."""
        plan = plan_array_matmul(self.config, a, b)
        await self._write(self.dut.load_a, plan.a_words)
        await self._write(self.dut.load_b, plan.b_words)
        dut = self.dut
        dut.m_steps.value, dut.k_steps.value, dut.n_steps.value = plan.steps
        dut.in_stall.value, dut.out_stall.value, dut.seed.value = in_stall, out_stall, seed
        dut.start.value = 1
        await FallingEdge(self.clock)
        dut.start.value = 0
        # A hang guard, far above any legal run: every beat of every tile at the array's
        # slowest tile rate, slowed by the stall rates.
        beats = int(np.prod(plan.steps)) + len(plan.b_words) + plan.c_words
        slowdown = 256 / max(1, 256 - max(in_stall, out_stall))
        bound = int(beats * self.config.rows * slowdown * 2) + 10_000
        await with_timeout(RisingEdge(dut.done), bound * 10, "ns")
        await FallingEdge(self.clock)
        cycles = dut.cycles.value.to_unsigned()
        c = plan.unpack_result(await self.read(plan.c_words))
        return c, cycles


@cocotb.test()
async def matmul_cases(dut):
    """Every case of the parameter file, checked against the golden model."""
    params = json.loads(os.environ["OPENMXU_TEST_PARAMS"])
    config = Config(**params["config"])
    driver = HarnessDriver(dut, config)
    await driver.start()
    report = []
    for case in params["cases"]:
        a, b = golden.operands(case.get("kind", "random"), case["m"], case["k"], case["n"],
                               seed=case.get("seed", 0), operand_width=config.operand_width)
        expected = golden.matmul(a, b, operand_width=config.operand_width,
                                 acc_width=config.acc_width)
        started = time.monotonic()
        c, cycles = await driver.matmul(a, b, in_stall=case.get("in_stall", 0),
                                        out_stall=case.get("out_stall", 0),
                                        seed=case.get("seed", 0) + 1)
        seconds = time.monotonic() - started
        mismatches = np.argwhere(c != expected)
        assert mismatches.size == 0, (
            f"{case}: {len(mismatches)} wrong elements, first at {tuple(mismatches[0])}: "
            f"got {c[tuple(mismatches[0])]}, expected {expected[tuple(mismatches[0])]}")
        utilization = case["m"] * case["k"] * case["n"] / (cycles * config.rows * config.cols)
        dut._log.info(f"{case}: PASS, {cycles} cycles, utilization {utilization:.3f}")
        report.append({**case, "cycles": cycles, "utilization": utilization,
                       "wall_seconds": seconds})
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump(report, f, indent=1)


@cocotb.test()
async def compute_speed(dut):
    """Simulation speed with cocotb out of the per-cycle loop (for `make bench`)."""
    params = json.loads(os.environ["OPENMXU_TEST_PARAMS"])
    if "speed" not in params:
        return
    config = Config(**params["config"])
    driver = HarnessDriver(dut, config)
    await driver.start()
    case = params["speed"]
    a, b = golden.operands("random", case["m"], case["k"], case["n"], seed=7,
                           operand_width=config.operand_width)
    plan = plan_array_matmul(config, a, b)
    await driver._write(dut.load_a, plan.a_words)
    await driver._write(dut.load_b, plan.b_words)
    dut.m_steps.value, dut.k_steps.value, dut.n_steps.value = plan.steps
    total_cycles, started = 0, time.monotonic()
    for _ in range(case.get("repeat", 1)):
        dut.start.value = 1
        await FallingEdge(driver.clock)
        dut.start.value = 0
        await RisingEdge(dut.done)
        await FallingEdge(driver.clock)
        total_cycles += dut.cycles.value.to_unsigned()
    seconds = time.monotonic() - started
    with open(params["speed_report"], "w") as f:
        json.dump({"cycles": total_cycles, "seconds": seconds,
                   "cycles_per_second": total_cycles / seconds}, f)
