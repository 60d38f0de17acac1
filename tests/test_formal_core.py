"""The formal jobs of the systolic array and the memory controller (rtl/formal/systolic.py,
rtl/formal/controller.py): every job builds and converts to RTLIL; the independent timing
checker and the reference product behave in simulation as the rules say; the wait bound is
built as documented; one fast check runs through SymbiYosys and passes, and the mutation job
fails with a counterexample that names the broken rule. ``make formal`` runs the rest."""

import re

import pytest
from amaranth import Elaboratable, Module
from amaranth.hdl import Signal, signed
from amaranth.sim import Simulator

from openmxu import formal as runner
from rtl.formal import controller, systolic
from rtl.formal.dram_rules import DramRuleChecker, RULES
from rtl.mem.commands import RowCommand, ColumnCommand, DramSignature
from rtl.mem.device import ErrorRule

JOBS = systolic.JOBS + controller.JOBS
JOBS_BY_NAME = {job.name: job for job in JOBS}

#: A k-induction of every timing rule of the tiny preset but the refresh deadline (a few
#: seconds).
PASSING = "controller_timing_tiny"
#: The controller with tRCD_RD one cycle short.
MUTATION = "controller_mutant_trcd"


def _tools_or_skip(solvers=("yices",)):
    try:
        return runner.tools(list(solvers))
    except runner.ToolsMissing as missing:
        pytest.skip(f"formal tools not installed ({missing})")


# Every job's conversion is tested with all the others in tests/test_formal.py.


def test_the_jobs_are_listed_and_described():
    from rtl.formal import JOB_MODULES
    assert "systolic" in JOB_MODULES and "controller" in JOB_MODULES
    assert any(job.expect == "fail" for job in controller.JOBS)
    assert {job.mode for job in JOBS} == {"prove", "bmc", "cover"}
    for job in JOBS:
        assert job.description


def test_the_checker_covers_every_rule_of_the_device():
    # The device's rules about command timing and bank state, each asserted by the checker
    # under its own name (ADDRESS and STORAGE are about the model's storage, not timing).
    device_rules = {rule.name.lower() for rule in ErrorRule} - {"none", "address", "storage"}
    assert device_rules == set(RULES)


class _CheckerBench(Elaboratable):
    """The checker, its assertions evaluated at the clock edges (see its ``domain``)."""

    def __init__(self, timing):
        self.bus = DramSignature(timing=timing).create()
        self.checker = DramRuleChecker(timing, self.bus, domain="sync")

    def elaborate(self, platform):
        m = Module()
        m.submodules.checker = self.checker
        return m


def _run_commands(timing, commands):
    """Put ``commands`` (one ``(row, column)`` per cycle, each ``None`` or a tuple of
    command, bank and row / column) on the checker's bus in simulation."""
    bench = _CheckerBench(timing)
    bus = bench.bus

    async def testbench(ctx):
        for row, column in commands + [(None, None)] * 2:
            ctx.set(bus.row_valid, row is not None)
            if row is not None:
                ctx.set(bus.row_cmd, row[0])
                ctx.set(bus.row_bank, row[1])
                ctx.set(bus.row, row[2])
            ctx.set(bus.col_valid, column is not None)
            if column is not None:
                ctx.set(bus.col_cmd, column[0])
                ctx.set(bus.col_bank, column[1])
                ctx.set(bus.column, column[2])
            await ctx.tick()

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


def _act_then_read(gap):
    act = ((RowCommand.ACT, 1, 1), None)
    idle = (None, None)
    read = (None, (ColumnCommand.RD, 1, 0))
    return [act] + [idle] * (gap - 1) + [read]


def test_checker_accepts_a_read_trcd_after_its_activate():
    _run_commands(controller.TINY, _act_then_read(controller.TINY.trcd_rd))


def test_checker_rejects_a_read_one_cycle_early():
    with pytest.raises(AssertionError, match="trcd_rd"):
        _run_commands(controller.TINY, _act_then_read(controller.TINY.trcd_rd - 1))


def test_checker_rejects_an_activate_of_an_open_bank():
    act = ((RowCommand.ACT, 0, 0), None)
    idle = (None, None)
    with pytest.raises(AssertionError, match="act_open"):
        _run_commands(controller.TINY, [act] + [idle] * controller.TINY.trc + [act])


def test_reference_product_is_the_signed_product():
    width = 4

    class Bench(Elaboratable):
        def __init__(self):
            self.a = Signal(signed(width))
            self.b = Signal(signed(width))

        def elaborate(self, platform):
            m = Module()
            self.product = systolic.reference_product(m, self.a, self.b, 10, "product")
            return m

    bench = Bench()

    async def testbench(ctx):
        for a in range(-8, 8):
            for b in range(-8, 8):
                ctx.set(bench.a, a)
                ctx.set(bench.b, b)
                assert ctx.get(bench.product) == a * b

    sim = Simulator(bench)
    sim.add_testbench(testbench)
    sim.run()


def test_the_bounded_check_of_the_wait_reaches_past_the_bound():
    job = JOBS_BY_NAME["controller_wait_mini"]
    assert job.depth > controller.wait_bound(**controller.WAIT_CONFIGURATION)


def test_the_wait_bound_grows_with_the_limit_the_queue_and_the_credits():
    base = dict(controller.WAIT_CONFIGURATION)
    bound = controller.wait_bound(**base)
    # Two starvation limits, and one more service per request ahead in the bank.
    assert controller.wait_bound(**{**base, "starvation_limit": 3}) > bound + 2
    assert controller.wait_bound(**{**base, "bank_queue_depth": 2}) > bound
    # With fewer credits than the full rate needs, a credit may have to come back first.
    assert controller.wait_bound(**{**base, "response_depth": 1}) > bound
    # Without refresh, no refresh term.
    no_refresh = controller.MINI.replace(name="no-refresh", trefi=0, trfc=0,
                                         max_postponed_refreshes=0)
    assert controller.wait_bound(**{**base, "timing": no_refresh}) < bound


def test_the_wait_bound_refuses_a_refresh_that_fills_its_interval():
    with pytest.raises(ValueError, match="refresh interval"):
        controller.wait_bound(controller.TINY, bank_queue_depth=1, starvation_limit=2)


def _broken_rules(vcd_text):
    """Names of the checker's ``broken_<rule>_<n>`` wires that are 1 somewhere in a VCD."""
    ids = dict(re.findall(r"\$var wire 1 (\S+) broken_(\w+?)_\d+ \$end", vcd_text))
    high = set(re.findall(r"^(?:b1 |1)(\S+)$", vcd_text, re.MULTILINE))
    return {rule for identifier, rule in ids.items() if identifier in high}


def test_a_proof_passes_and_the_mutation_fails_with_a_trace(tmp_path):
    found = _tools_or_skip()
    passing, mutation = JOBS_BY_NAME[PASSING], JOBS_BY_NAME[MUTATION]

    record = runner.run_job(passing, runner.write_job(passing, tmp_path), found)
    assert record["result"] == "PASS", record["log"]

    record = runner.run_job(mutation, runner.write_job(mutation, tmp_path), found)
    assert record["result"] == "FAIL", record["log"]
    assert record["counterexample"] is not None
    assert _broken_rules(open(record["counterexample"]).read()) == {"trcd_rd"}
