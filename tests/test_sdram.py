"""The ULX3S's SDR SDRAM back-end: boards/sdram.py (SDRAMPHY) against sim/sdram_chip.py (a
pin-level chip model whose checker is rtl.mem.device.DramDevice's plus the init sequence and
the dq bus).

* amaranth.sim (fast): the init sequence to the cycle; a scripted command stream through the
  PHY with row commands deferred behind column commands, masked writes and reads at the
  controller's latency; the chip model's own rules, each broken once; a PHY with a shortened
  power-up wait, a wrong CAS latency or no row slack, each caught with its rule code.
* cocotb on Verilator (one build, :func:`sim.board_memory.sdram_design`): the memory system
  (``controller_timing("sdr")``) -> SDRAMPHY -> chip model under random AXI traffic for more
  than two refresh intervals, every byte compared, no chip or PHY error; and the checker
  proven live in that build by driving the chip's pins directly (``inject``).

The cocotb tests are the ``sdram_*`` coroutines at the end of this file (run in the simulator
as module ``tests.test_sdram``; pytest does not collect them).
"""

import gc
import json
import os
import random
import time
import warnings

import pytest
from amaranth import Module, UnusedElaboratable
from amaranth.lib import wiring
from amaranth.sim import Simulator

from boards.sdram import (SDRAMPHY, PinCommand, pin_command, controller_timing,
                          mode_register, check_sdr_timing, default_init_cycles, READ_DELAY,
                          TMRD)
from openmxu.dram import preset
from rtl.mem.commands import RowCommand, ColumnCommand
from sim.sdram_chip import SDRAMChip, ChipRule, describe_chip_error

SDR = preset("sdr")
INIT = 40                       # a shortened power-up wait, in cycles
ACT, PRE, PREA, REF = RowCommand.ACT, RowCommand.PRE, RowCommand.PREA, RowCommand.REF
RD, WR = ColumnCommand.RD, ColumnCommand.WR


def _simulate(top, testbench):
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def _phy_and_chip(*, phy_kwargs=None, chip_kwargs=None):
    phy = SDRAMPHY(**{"init_cycles": INIT, **(phy_kwargs or {})})
    chip = SDRAMChip(**{"init_cycles": INIT, **(chip_kwargs or {})})
    m = Module()
    m.submodules.phy, m.submodules.chip = phy, chip
    wiring.connect(m, phy.pins, chip.pins)
    return m, phy, chip


def _error(ctx, chip):
    rule, bank, cycle = (ctx.get(chip.error_rule), ctx.get(chip.error_bank),
                         ctx.get(chip.error_cycle))
    return {"error": ctx.get(chip.error), "rule": ChipRule(rule), "bank": bank, "cycle": cycle,
            "message": describe_chip_error(rule, bank, cycle)}


# --- Presets ----------------------------------------------------------------------------------

def test_controller_timing_allows_for_the_phy():
    """cl gains READ_DELAY; the rules counting from a row command gain row_slack; tRC stays
    at least tRAS + tRP; trefi shrinks by the refresh skew spread over the postponable
    refreshes; the rest is the chip's."""
    t = controller_timing("sdr")
    assert t.name == "sdr-phy"
    assert t.cl == SDR.cl + READ_DELAY == 4
    assert (t.trcd_rd, t.trcd_wr, t.tras, t.trp, t.trrd_s, t.trrd_l, t.trfc) == (3, 3, 6, 3, 3, 3, 8)
    assert t.trc == 9 == t.tras + t.trp
    assert t.trefi == SDR.trefi - 1
    for name in ("burst_bytes", "banks", "rows", "row_bytes", "cwl", "twr", "trtp", "tccd_s",
                 "tccd_l", "twtr_s", "twtr_l", "max_postponed_refreshes"):
        assert getattr(t, name) == getattr(SDR, name), name
    unslacked = controller_timing("sdr", row_slack=0)
    assert (unslacked.trcd_rd, unslacked.trp, unslacked.cl) == (SDR.trcd_rd, SDR.trp, 4)


def test_mode_register_and_init_figures():
    assert mode_register("sdr") == 0x23                 # BL8, sequential, CL 2
    assert mode_register(SDR.replace(cl=3)) == 0x33
    assert default_init_cycles("sdr") == 20_000         # 200 us at 100 MHz
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        phy = SDRAMPHY()
        assert phy.init_cycles == 20_000 and phy.read_latency == 4
        assert phy.controller_timing == controller_timing("sdr")
        del phy
        gc.collect()


@pytest.mark.parametrize("kwargs, message", [
    ({"timing": "hbm2-2000"}, "timing must describe an SDR SDRAM the PHY can drive: cwl must be 0"),
    ({"timing": SDR.replace(cl=4)}, "cl must be 2 or 3"),
    ({"timing": SDR.replace(burst_bytes=32, tccd_s=16, tccd_l=16, trtp=16)},
     "burst length of 1, 2, 4 or 8, not 16"),
    ({"init_cycles": 0}, "init_cycles must be between 1 and 131072"),
    ({"row_slack": 5}, "row_slack must be between 0 and 4"),
    ({"read_capture": "both"}, "read_capture must be 'rise' or 'fall'"),
])
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SDRAMPHY(**kwargs)


def test_chip_model_parameters():
    with pytest.raises(ValueError, match="stored_rows must be a power of two"):
        SDRAMChip(stored_rows=3)
    with pytest.raises(ValueError, match="timing must describe an SDR SDRAM"):
        SDRAMChip(timing="hbm3-6400")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        assert SDRAMChip(stored_rows=4).storage_bytes == 16 * 1024
        gc.collect()  # the component is in a reference cycle: collect it while ignored
    assert check_sdr_timing("sdr") is SDR


# --- Initialization ---------------------------------------------------------------------------

def test_init_sequence_to_the_cycle():
    """NOP with CKE high through the wait, then PRECHARGE ALL, tRP, AUTO REFRESH, tRFC, AUTO
    REFRESH, tRFC, LOAD MODE REGISTER 0x23, tMRD, ready; the chip model agrees."""
    m, phy, chip = _phy_and_chip()
    expected = phy.init_sequence()
    assert [(c, cmd) for c, cmd, _ in expected] == [
        (INIT, PinCommand.PRECHARGE), (INIT + SDR.trp, PinCommand.AUTO_REFRESH),
        (INIT + SDR.trp + SDR.trfc, PinCommand.AUTO_REFRESH),
        (INIT + SDR.trp + 2 * SDR.trfc, PinCommand.LOAD_MODE),
        (INIT + SDR.trp + 2 * SDR.trfc + TMRD, None)]

    async def testbench(ctx):
        seen = []
        for cycle in range(expected[-1][0] + 5):
            assert ctx.get(phy.pins.cke) == 1
            command = PinCommand(ctx.get(pin_command(phy.pins)))
            if command != PinCommand.NOP:
                seen.append((cycle, command, ctx.get(phy.pins.a)))
            if ctx.get(phy.ready) and not any(c is None for _, c, _ in seen):
                seen.append((cycle, None, None))
            assert not ctx.get(chip.error), _error(ctx, chip)
            assert ctx.get(chip.initialized) == (cycle > expected[3][0])
            await ctx.tick()
        assert seen == expected
        assert ctx.get(phy.error) == 0

    _simulate(m, testbench)


def test_shortened_power_up_wait_is_caught():
    """A PHY that waits 30 cycles against a chip that needs 40: INIT_EARLY at cycle 30."""
    m, phy, chip = _phy_and_chip(phy_kwargs={"init_cycles": 30})

    async def testbench(ctx):
        await ctx.tick().repeat(60)
        error = _error(ctx, chip)
        assert error["error"] and error["rule"] == ChipRule.INIT_EARLY and error["cycle"] == 30
        assert "before the power-up wait ended" in error["message"]

    _simulate(m, testbench)


def test_wrong_cas_latency_is_caught():
    """A PHY programming CL 3 into a chip model expecting CL 2: MODE at the LOAD MODE
    REGISTER."""
    m, phy, chip = _phy_and_chip(phy_kwargs={"timing": SDR.replace(cl=3)})
    load = phy.init_sequence()[3][0]

    async def testbench(ctx):
        await ctx.tick().repeat(load + 3)
        error = _error(ctx, chip)
        assert error["rule"] == ChipRule.MODE and error["cycle"] == load

    _simulate(m, testbench)


# --- Commands through the PHY -----------------------------------------------------------------

def _beats(seed):
    rng = random.Random(seed)
    return [(rng.getrandbits(16), rng.choice([0, 0, 1, 2])) for _ in range(SDR.burst_cycles)]


def _expected(beats):
    """Read beats of a burst written with ``beats`` over zeros (the model starts at 0)."""
    out = []
    for value, mask in beats:
        keep = (0xFF if mask & 1 else 0) | (0xFF00 if mask & 2 else 0)
        out.append(value & ~keep & 0xFFFF)
    return out


def run_script(script, *, cycles, phy_kwargs=None):
    """Drive the PHY's command interface from ``script`` (``{cycle: [command, ...]}``, cycle 0
    the first with ``ready``; a command is ``(RowCommand, bank, row)`` or ``(ColumnCommand,
    bank, column[, beats])``); returns the read beats ``{cycle: rdata}``, the pin commands
    ``[(cycle, PinCommand, ba, a)]``, the chip's error and the PHY's error and deferrals."""
    m, phy, chip = _phy_and_chip(phy_kwargs=phy_kwargs)
    bus = phy.dram
    result = {"reads": {}, "pins": []}

    async def testbench(ctx):
        await ctx.tick().until(phy.ready)
        writes = {}
        for cycle in range(cycles):
            ctx.set(bus.row_valid, 0)
            ctx.set(bus.col_valid, 0)
            for command in script.get(cycle, ()):
                if isinstance(command[0], RowCommand):
                    cmd, bank, row = command
                    ctx.set(bus.row_valid, 1)
                    ctx.set(bus.row_cmd, cmd)
                    ctx.set(bus.row_bank, bank)
                    ctx.set(bus.row, row)
                else:
                    cmd, bank, column, *beats = command
                    ctx.set(bus.col_valid, 1)
                    ctx.set(bus.col_cmd, cmd)
                    ctx.set(bus.col_bank, bank)
                    ctx.set(bus.column, column)
                    for k, beat in enumerate(beats[0] if beats else ()):
                        writes[cycle + k] = beat
            value, mask = writes.get(cycle, (0xDEAD, 0b11))
            ctx.set(bus.wdata, value)
            ctx.set(bus.wmask, mask)
            if ctx.get(bus.rdata_valid):
                result["reads"][cycle] = ctx.get(bus.rdata)
            await ctx.tick()
            command = PinCommand(ctx.get(pin_command(phy.pins)))
            if command != PinCommand.NOP:
                result["pins"].append((cycle + 1, command, ctx.get(phy.pins.ba),
                                       ctx.get(phy.pins.a)))
        result.update(chip=_error(ctx, chip), phy_error=ctx.get(phy.error),
                      deferred=ctx.get(phy.deferred))

    _simulate(m, testbench)
    return result


@pytest.mark.parametrize("read_capture", ["rise", "fall"])
def test_commands_data_and_deferred_row_commands(read_capture):
    """ACT, masked WR, RD, PRE and ACT at the controller preset's figures, twice with a row
    and a column command in one cycle: the row command reaches the pins one cycle late, the
    column command on time; the chip sees no violation; reads return the written bytes
    (masked bytes untouched) exactly cl = 4 cycles after RD, one beat per cycle."""
    t = controller_timing("sdr")
    first, second = _beats(1), _beats(2)
    script = {
        0: [(ACT, 0, 1)],
        t.trcd_wr: [(WR, 0, 5, first), (ACT, 1, 2)],             # ACT deferred
        11: [(WR, 1, 7, second)],
        19: [(RD, 0, 5)],
        27: [(RD, 1, 7), (PRE, 0, 0)],                           # PRE deferred
        30: [(ACT, 0, 3)],
        40: [(PREA, 0, 0)],
        43: [(REF, 0, 0)],
    }
    result = run_script(script, cycles=60, phy_kwargs={"read_capture": read_capture})
    assert not result["chip"]["error"], result["chip"]
    assert result["phy_error"] == 0 and result["deferred"] == 2
    reads = result["reads"]
    assert sorted(reads) == list(range(19 + t.cl, 19 + t.cl + 8)) + list(range(27 + t.cl, 27 + t.cl + 8))
    assert [reads[19 + t.cl + k] for k in range(8)] == _expected(first)
    assert [reads[27 + t.cl + k] for k in range(8)] == _expected(second)
    A, W, R, P, F = (PinCommand.ACTIVE, PinCommand.WRITE, PinCommand.READ,
                     PinCommand.PRECHARGE, PinCommand.AUTO_REFRESH)
    assert result["pins"] == [
        (1, A, 0, 1), (4, W, 0, 5 * 8), (5, A, 1, 2), (12, W, 1, 7 * 8), (20, R, 0, 5 * 8),
        (28, R, 1, 7 * 8), (29, P, 0, 0), (31, A, 0, 3), (41, P, 0, 1 << 10), (44, F, 0, 0)]


def test_no_row_slack_breaks_the_chip():
    """With row_slack 0 the controller preset keeps the chip's tRP; a PRE deferred behind a
    RD then meets an ACT tRP later at the interface but one cycle short at the chip: the chip
    model reports TRP for the bank, and the PHY flags the deferral."""
    script = {
        0: [(ACT, 0, 0)],
        2: [(ACT, 1, 0)],
        8: [(RD, 0, 0), (PRE, 1, 0)],       # PRE deferred to the next cycle
        10: [(ACT, 1, 1)],                  # tRP = 2 after the PRE at the interface
    }
    result = run_script(script, cycles=20, phy_kwargs={"row_slack": 0})
    chip = result["chip"]
    assert chip["error"] and chip["rule"] == ChipRule.TRP and chip["bank"] == 1, chip
    assert "tRP violated" in chip["message"]
    assert result["phy_error"] == 1
    # The same stream with the default slack and its preset's tRP (3) is clean.
    result = run_script({0: [(ACT, 0, 0)], 3: [(ACT, 1, 0)], 9: [(RD, 0, 0), (PRE, 1, 0)],
                         12: [(ACT, 1, 1)]}, cycles=20)
    assert not result["chip"]["error"] and result["phy_error"] == 0


def _max_row_commands(t, length):
    """The most row commands a controller obeying preset ``t`` can issue in a window of
    each length ``0 .. length`` (``result[L]``), by exhaustive search over bank states: ACT
    of a closed bank after tRP, tRC, tRRD and tRFC; PRE of an open bank after tRAS; PREA
    once every open bank allows it, after which only REF (the controller refreshes); REF
    with every bank closed, tRP and tRFC met. (tRTP and tWR, left out, only forbid more.)"""
    cap = max(t.trrd_s, t.tras, t.trp, t.trc, t.trfc)

    def step(state):
        banks, since_act, refreshing, since_ref, since_pre = state

        def tick(banks, since_act, refreshing, since_ref, since_pre):
            return (tuple(sorted((o, min(a + 1, cap), min(p + 1, cap)) for o, a, p in banks)),
                    min(since_act + 1, cap), refreshing, min(since_ref + 1, cap),
                    min(since_pre + 1, cap))

        yield 0, tick(banks, since_act, refreshing, since_ref, since_pre)
        if not refreshing:
            for i, (is_open, act, pre) in enumerate(banks):
                others = banks[:i] + banks[i + 1:]
                if (not is_open and pre >= t.trp and act >= t.trc and since_act >= t.trrd_s
                        and since_ref >= t.trfc):
                    yield 1, tick(others + ((1, 0, pre),), 0, 0, since_ref, since_pre)
                if is_open and act >= t.tras:
                    yield 1, tick(others + ((0, act, 0),), since_act, 0, since_ref, 0)
            opened = [act for is_open, act, _ in banks if is_open]
            if opened and min(opened) >= t.tras:
                closed = tuple((0, a, 0) if o else (o, a, p) for o, a, p in banks)
                yield 1, tick(closed, since_act, 1, since_ref, 0)
        if not any(o for o, _, _ in banks) and since_pre >= t.trp and since_ref >= t.trfc:
            yield 1, tick(banks, since_act, 0, 0, since_pre)

    reset = (((0, cap, cap),) * t.banks, cap, 0, cap, cap)
    reachable, frontier = {reset}, {reset}
    while frontier:
        frontier = {new for state in frontier for _, new in step(state)} - reachable
        reachable |= frontier
    best, result = dict.fromkeys(reachable, 0), [0]
    for _ in range(length):
        following = {}
        for state, count in best.items():
            for issued, new in step(state):
                following[new] = max(following.get(new, 0), count + issued)
        best = following
        result.append(max(best.values()))
    return result


def test_one_cycle_of_row_slack_is_enough():
    """A row command waits two cycles only if, over some window of L cycles, the row commands
    arriving (and the column commands, at most one per tCCD) outnumber the L + 1 pin slots
    up to its issue: at least L + 2 - ceil((L + 1) / tCCD) row commands in L cycles. The
    controller's preset for row_slack 1 never allows that: checked exhaustively up to a
    period P = 3 tCCD, and beyond by splitting a window into periods (P issues at most
    P - P / tCCD)."""
    t = controller_timing("sdr", row_slack=1)
    period = 3 * t.tccd_s
    most = _max_row_commands(t, period)

    def needed(length):
        return length + 2 - -(-(length + 1) // t.tccd_s)

    assert all(most[length] < needed(length) for length in range(period + 1)), most
    assert most[period] <= period - period // t.tccd_s
    assert most[t.tccd_s] == t.tccd_s - 1       # 7 in 8 cycles: the figure the PHY's docs give


def test_command_before_ready_is_an_error():
    m, phy, chip = _phy_and_chip()

    async def testbench(ctx):
        await ctx.tick().repeat(5)
        ctx.set(phy.dram.row_valid, 1)
        await ctx.tick()
        ctx.set(phy.dram.row_valid, 0)
        await ctx.tick()
        assert ctx.get(phy.error) == 1
        assert PinCommand(ctx.get(pin_command(phy.pins))) == PinCommand.NOP

    _simulate(m, testbench)


# --- The chip model's own rules ---------------------------------------------------------------

def _init_program(start=INIT):
    """A correct init sequence as ``{cycle: (PinCommand, ba, a)}``; returns it and the first
    cycle a command may follow."""
    refresh = start + SDR.trp
    load = refresh + 2 * SDR.trfc
    return {start: (PinCommand.PRECHARGE, 0, 1 << 10), refresh: (PinCommand.AUTO_REFRESH, 0, 0),
            refresh + SDR.trfc: (PinCommand.AUTO_REFRESH, 0, 0),
            load: (PinCommand.LOAD_MODE, 0, mode_register("sdr"))}, load + TMRD


def drive_pins(program, *, cycles, oe=()):
    """Drive a chip model's pins: ``program`` maps cycles to ``(PinCommand, ba, a)``; ``oe``
    lists the cycles with ``dq_oe`` high. Returns the chip's error."""
    chip = SDRAMChip(init_cycles=INIT)
    pins = chip.pins
    result = {}

    async def testbench(ctx):
        ctx.set(pins.cke, 1)
        for cycle in range(cycles):
            command, ba, a = program.get(cycle, (PinCommand.NOP, 0, 0))
            ctx.set(pin_command(pins), command)
            ctx.set(pins.ba, ba)
            ctx.set(pins.a, a)
            ctx.set(pins.dq_oe, cycle in oe)
            await ctx.tick()
        result.update(_error(ctx, chip))

    _simulate(chip, testbench)
    return result


def _after_init(commands, *, oe=()):
    program, ready = _init_program()
    for offset, command in commands.items():
        program[ready + offset] = command
    return drive_pins(program, cycles=ready + 40, oe={ready + c for c in oe}), ready


def test_chip_model_accepts_a_correct_sequence():
    error, _ = _after_init({0: (PinCommand.ACTIVE, 1, 2), 2: (PinCommand.WRITE, 1, 8)},
                           oe=range(2, 10))
    assert not error["error"], error


@pytest.mark.parametrize("case, rule", [
    ("refresh_before_precharge", ChipRule.INIT_ORDER),
    ("load_after_one_refresh", ChipRule.INIT_ORDER),
    ("refresh_too_soon", ChipRule.INIT_TIMING),
    ("command_within_tmrd", ChipRule.INIT_TIMING),
    ("load_mode_bank", ChipRule.MODE),
])
def test_chip_model_init_rules(case, rule):
    program, ready = _init_program()
    start = INIT
    if case == "refresh_before_precharge":
        program = {start: (PinCommand.AUTO_REFRESH, 0, 0)}
        bad = start
    elif case == "load_after_one_refresh":
        load = max(program)
        del program[load - SDR.trfc]
        bad = load
    elif case == "refresh_too_soon":
        program[start + 1] = program.pop(start + SDR.trp)
        bad = start + 1
    elif case == "command_within_tmrd":
        bad = ready - 1
        program[bad] = (PinCommand.ACTIVE, 0, 0)
    else:
        load = max(program)
        program[load] = (PinCommand.LOAD_MODE, 1, mode_register("sdr"))
        bad = load
    error = drive_pins(program, cycles=ready + 10)
    assert error["rule"] == rule and error["cycle"] == bad, error


@pytest.mark.parametrize("case, rule, bank", [
    ("auto_precharge", ChipRule.UNSUPPORTED, 1),
    ("unaligned_column", ChipRule.UNSUPPORTED, 1),
    ("burst_terminate", ChipRule.UNSUPPORTED, 0),
    ("undriven_write", ChipRule.DQ_UNDRIVEN, 0),
    ("write_into_read_data", ChipRule.DQ_CONFLICT, 0),
    ("read_too_soon", ChipRule.TRCD_RD, 1),
    ("row_beyond_storage", ChipRule.STORAGE, 2),
])
def test_chip_model_rules_after_init(case, rule, bank):
    activate = {0: (PinCommand.ACTIVE, 1, 0)}
    oe = ()
    if case == "auto_precharge":
        commands, bad = {**activate, 2: (PinCommand.READ, 1, 1 << 10)}, 2
    elif case == "unaligned_column":
        commands, bad = {**activate, 2: (PinCommand.READ, 1, 3)}, 2
    elif case == "burst_terminate":
        commands, bad = {3: (PinCommand.BURST_TERMINATE, 0, 0)}, 3
    elif case == "undriven_write":
        commands, bad, oe = {**activate, 2: (PinCommand.WRITE, 1, 0)}, 2, range(2, 9)
    elif case == "write_into_read_data":
        # Read data in cycles 4..11 (CL 2); the controller drives dq in 12, the cycle after.
        commands, bad, oe = {**activate, 2: (PinCommand.READ, 1, 0)}, 12, (12,)
    elif case == "read_too_soon":
        commands, bad = {**activate, 1: (PinCommand.READ, 1, 0)}, 1
    else:
        commands, bad = {0: (PinCommand.ACTIVE, 2, 4)}, 0
    error, ready = _after_init(commands, oe=oe)
    if case == "undriven_write":
        bad += 7
    assert error["rule"] == rule and error["bank"] == bank, error
    assert error["cycle"] == ready + bad, (error, ready + bad)


def test_describe_chip_error():
    assert describe_chip_error(ChipRule.TRCD_RD, 3, 99).startswith(
        "tRCD_RD violated: RD to bank 3 at cycle 99")
    assert "on sdr" in describe_chip_error(6, 3, 99)
    assert describe_chip_error(32, 0, 7) == ("init: command at cycle 7 before the power-up "
                                             "wait ended")
    with pytest.raises(ValueError, match="rule must be a ChipRule"):
        describe_chip_error(31, 0, 0)


# --- cocotb on Verilator ----------------------------------------------------------------------

VERILATOR_INIT = 500


def _run_cocotb(testcase, params, tmp_path):
    from sim.board_memory import sdram_design
    from sim.runner import run
    report = tmp_path / "report.json"
    run(sdram_design(init_cycles=VERILATOR_INIT), "tests.test_sdram", testcase=testcase,
        params={**params, "report": str(report), "init_cycles": VERILATOR_INIT},
        test_name=testcase)
    figures = json.loads(report.read_text())
    print(f"{testcase}: {json.dumps(figures)}")
    return figures


@pytest.mark.xdist_group("board_sdram")
def test_memory_system_on_the_sdram_chip(tmp_path):
    """MemorySystem(controller_timing("sdr")) -> SDRAMPHY -> chip model: the whole stored
    region filled, then rounds of random masked writes and reads across rows and banks (row
    conflicts) for more than three refresh intervals, every byte of every read compared with
    a model; refreshes keep pace; no chip-model or PHY error."""
    figures = _run_cocotb("sdram_random_traffic", {"seed": 3}, tmp_path)
    t = controller_timing("sdr")
    assert figures["cycles"] > 3 * SDR.trefi
    assert figures["refreshes"] >= figures["cycles"] // t.trefi - t.max_postponed_refreshes
    assert figures["refreshes"] >= 3
    assert figures["row_misses"] > 50 and figures["compared_bytes"] >= 16 * 1024
    # Row commands met column commands, and their deferral broke no rule of the chip.
    assert figures["deferred_row_commands"] > 0


@pytest.mark.xdist_group("board_sdram")
def test_chip_checker_is_live_in_the_build(tmp_path):
    """In the same build, pins driven by the testbench: a command during the power-up wait
    is INIT_EARLY; after the PHY's init, a RD one cycle after its ACT is TRCD_RD (code 6) with
    the bank and the cycle of the RD."""
    figures = _run_cocotb("sdram_checker_live", {}, tmp_path)
    assert figures["init_early"] == {"rule": ChipRule.INIT_EARLY.value, "cycle": 10}
    assert figures["trcd"]["rule"] == ChipRule.TRCD_RD.value == 6
    assert figures["trcd"]["bank"] == 2
    assert figures["trcd"]["cycle"] == figures["trcd"]["expected_cycle"]


# The cocotb side. Imported by the simulator (``tests.test_sdram``); names without the test_
# prefix keep pytest from collecting them.
try:
    import cocotb
except ImportError:         # pytest runs without cocotb installed
    cocotb = None

if cocotb is not None:
    from cocotb.triggers import FallingEdge, RisingEdge, ReadOnly, with_timeout

    _PIN_INPUTS = ("clk", "cke", "cs_n", "ras_n", "cas_n", "we_n", "ba", "a", "dqm", "dq_o",
                   "dq_oe")

    def _params():
        return json.loads(os.environ.get("OPENMXU_TEST_PARAMS", "{}"))

    def _chip_error(dut):
        rule, bank, cycle = (int(dut.error_rule.value), int(dut.error_bank.value),
                             int(dut.error_cycle.value))
        return rule, bank, cycle, describe_chip_error(rule, bank, cycle)

    async def _reset(dut):
        from sim.memory_tb import reset
        await reset(dut, ["inject"] + [f"s_axi__0__{name}" for name in
                                        ("awvalid", "wvalid", "bready", "arvalid", "rready")])
        for name in _PIN_INPUTS:
            getattr(dut, f"inject_pins__{name}").value = 0

    async def _watch(dut):
        await RisingEdge(dut.error)
        raise AssertionError(f"SDRAM chip model: {_chip_error(dut)[3]}")

    async def _until_ready(dut, cycles):
        await with_timeout(RisingEdge(dut.ready), cycles, "ns")
        await FallingEdge(dut.clk)

    def _inject(dut, command, ba=0, a=0):
        pins = {"cke": 1, "ba": ba, "a": a, "dqm": 0, "dq_o": 0, "dq_oe": 0,
                "cs_n": command.value >> 3 & 1, "ras_n": command.value >> 2 & 1,
                "cas_n": command.value >> 1 & 1, "we_n": command.value & 1}
        for name, value in pins.items():
            getattr(dut, f"inject_pins__{name}").value = value

    @cocotb.test()
    async def sdram_random_traffic(dut):
        from openmxu.address_map import AddressMap
        from rtl.mem.axi import BOUNDARY, MAX_BURST_BEATS, Response
        from rtl.mem.system import counter_layout
        from amaranth.lib import data
        from sim.axi_manager import AxiManager
        from sim.packing import unpack

        params = _params()
        rng = random.Random(params.get("seed", 1))
        timing = controller_timing("sdr")
        await _reset(dut)
        watcher = cocotb.start_soon(_watch(dut))
        await _until_ready(dut, params["init_cycles"] + 100)
        started, wall = int(dut.cycle.value), time.perf_counter()
        manager = AxiManager(dut, "s_axi__0", dut.clk, valid_gap=0.2, ready_gap=0.2,
                             max_reads=4, max_writes=4, seed=rng.getrandbits(32))
        amap = AddressMap(timing=timing, channels=1)
        beat = timing.burst_bytes
        # Rows 0..3 of every bank: the chip model's storage (the row is the top field).
        size = 4 << amap.shifts["row"]
        model = bytearray(size)

        async def wait(txns, what):
            for txn in txns:
                await with_timeout(txn.wait(), 200_000, "ns")
            assert not manager.errors, manager.errors
            bad = [txn for txn in txns if txn.resp != Response.OKAY]
            assert not bad, f"{what}: error responses {bad[:3]}"

        def random_burst():
            address = rng.randrange(size // beat) * beat
            beats = min(rng.randint(1, MAX_BURST_BEATS), (size - address) // beat,
                        (BOUNDARY - address % BOUNDARY) // beat)
            return address, beats * beat

        # Fill, so that every byte is known.
        fill = []
        for address in range(0, size, MAX_BURST_BEATS * beat):
            payload = bytes(rng.getrandbits(8) for _ in range(MAX_BURST_BEATS * beat))
            model[address:address + len(payload)] = payload
            fill.append(manager.start_write(address, payload, id=rng.randrange(16)))
        await wait(fill, "fill")

        compared, rounds = 0, 0
        while int(dut.cycle.value) - started < 3.5 * timing.trefi or rounds < 4:
            rounds += 1
            # Writes that do not overlap each other (AXI orders none of them), random strobes.
            writes, taken = [], set()
            for _ in range(24):
                address, length = random_burst()
                span = set(range(address, address + length))
                if span & taken:
                    continue
                taken |= span
                payload = bytes(rng.getrandbits(8) for _ in range(length))
                enables = [rng.random() < 0.8 for _ in range(length)]
                for i, byte in enumerate(payload):
                    if enables[i]:
                        model[address + i] = byte
                writes.append(manager.start_write(address, payload, byte_enable=enables,
                                                  id=rng.randrange(16)))
            await wait(writes, f"round {rounds} writes")
            reads = []
            for _ in range(24):
                address, length = random_burst()
                reads.append(manager.start_read(address, length, id=rng.randrange(16)))
            await wait(reads, f"round {rounds} reads")
            for txn in reads:
                expected = bytes(model[txn.address:txn.address + txn.length])
                assert txn.data == expected, (
                    f"read of {txn.length} B at {txn.address:#x}: got {txn.data.hex()}, "
                    f"expected {expected.hex()}")
                compared += txn.length
        # Everything, once more.
        final = [manager.start_read(address, MAX_BURST_BEATS * beat, id=rng.randrange(16))
                 for address in range(0, size, MAX_BURST_BEATS * beat)]
        await wait(final, "final read-back")
        for txn in final:
            assert txn.data == bytes(model[txn.address:txn.address + txn.length]), txn
            compared += txn.length

        await FallingEdge(dut.clk)
        cycles = int(dut.cycle.value) - started
        counters = unpack(data.ArrayLayout(counter_layout(), 1), int(dut.counters.value))[0]
        assert not int(dut.error.value), _chip_error(dut)[3]
        assert not int(dut.phy_error.value), "the PHY flagged an error"
        watcher.cancel()
        manager.stop()
        report = {"cycles": cycles, "rounds": rounds, "compared_bytes": compared,
                  "deferred_row_commands": int(dut.deferred.value),
                  "seconds": round(time.perf_counter() - wall, 2), **counters}
        with open(params["report"], "w") as file:
            json.dump(report, file)

    @cocotb.test()
    async def sdram_checker_live(dut):
        params = _params()
        report = {}
        # 1. The chip's pins from the testbench from reset: a PRECHARGE ALL at cycle 10, far
        #    inside the power-up wait.
        await _reset(dut)
        dut.inject.value = 1
        _inject(dut, PinCommand.NOP)
        while int(dut.cycle.value) < 10:
            await FallingEdge(dut.clk)
        _inject(dut, PinCommand.PRECHARGE, a=1 << 10)
        await FallingEdge(dut.clk)
        _inject(dut, PinCommand.NOP)
        await FallingEdge(dut.clk)
        assert int(dut.error.value)
        rule, _, cycle, _ = _chip_error(dut)
        report["init_early"] = {"rule": rule, "cycle": cycle}

        # 2. Reset; the PHY initializes the chip; then the testbench takes the pins and
        #    reads one cycle after an ACT (tRCD is 2).
        dut.rst.value = 1
        dut.inject.value = 0
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        await _until_ready(dut, params["init_cycles"] + 100)
        assert int(dut.initialized.value) and not int(dut.error.value)
        await FallingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.inject.value = 1
        _inject(dut, PinCommand.ACTIVE, ba=2, a=1)
        await FallingEdge(dut.clk)
        _inject(dut, PinCommand.READ, ba=2, a=0)
        await ReadOnly()
        expected_cycle = int(dut.cycle.value)
        await FallingEdge(dut.clk)
        _inject(dut, PinCommand.NOP)
        await FallingEdge(dut.clk)
        assert int(dut.error.value)
        rule, bank, cycle, message = _chip_error(dut)
        report["trcd"] = {"rule": rule, "bank": bank, "cycle": cycle,
                          "expected_cycle": expected_cycle, "message": message}
        with open(params["report"], "w") as file:
            json.dump(report, file)
