"""The DRAM command interface and the timing-checked device model of one pseudo-channel.

Every timing rule is exercised twice from the same command sequence: with the last command
exactly on time (no error at all, so every other rule held too) and one cycle early (the
device latches that rule, the bank and the cycle). Most run on ``FAST``, HBM2-2000 with short,
pairwise distinct figures so that a command one cycle early breaks one rule only, and again on
HBM3-6400 where its figures allow.
"""

import random
from dataclasses import dataclass

import pytest
from amaranth import Module, Signal, Fragment
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from openmxu.dram import PRESETS, preset
from rtl.mem.commands import (RowCommand, ColumnCommand, DramSignature, row_command_layout,
                              column_command_layout, row_command, column_command,
                              drive_commands)
from rtl.mem.device import DramDevice, ErrorRule, ERROR_MESSAGES, describe_error
from sim.packing import merge_bytes

ACT, PRE, PREA, REF = RowCommand.ACT, RowCommand.PRE, RowCommand.PREA, RowCommand.REF
RD, WR = ColumnCommand.RD, ColumnCommand.WR

# HBM2-2000's organization with short timing: tRC above tRAS + tRP, _l above _s, tFAW above
# 4 x tRRD_S + 1, tCCD_S above the 2 burst cycles, refresh due every 2 x 60 cycles.
FAST = preset("hbm2-2000").replace(
    name="fast", cl=6, cwl=3, trcd_rd=5, trcd_wr=4, trp=4, tras=9, trc=16, twr=3, trtp=2,
    tccd_s=3, tccd_l=5, trrd_s=2, trrd_l=3, tfaw=12, twtr_s=2, twtr_l=4, trefi=60, trfc=8,
    max_postponed_refreshes=1)

#: What the testbench drives on wdata when no write beat is due: a device that stores it at
#: the wrong cycle corrupts the data the tests read back.
GARBAGE = 0xA5


@dataclass(frozen=True)
class Command:
    cycle: int
    cmd: object             # RowCommand or ColumnCommand
    bank: int = 0
    arg: int = 0            # row of an ACT, column of a RD/WR
    beats: tuple = ()       # (data, mask) per write beat


def act(cycle, bank, row=0):
    return Command(cycle, ACT, bank, row)


def pre(cycle, bank):
    return Command(cycle, PRE, bank)


def prea(cycle):
    return Command(cycle, PREA)


def ref(cycle):
    return Command(cycle, REF)


def rd(cycle, bank, column=0):
    return Command(cycle, RD, bank, column)


def wr(cycle, bank, column=0, beats=()):
    return Command(cycle, WR, bank, column, tuple(beats))


def simulate(timing, commands, *, stored_rows=4, cycles=None):
    """Issue ``commands`` in their cycles (write beats ``cwl`` cycles after each WR), run
    until every read has returned, and report the error outputs and the read beats as
    ``{cycle: rdata}``."""
    dut = DramDevice(timing=timing, stored_rows=stored_rows)
    t = dut.timing
    row_at, column_at, beat_at = {}, {}, {}
    for command in commands:
        slots = row_at if isinstance(command.cmd, RowCommand) else column_at
        assert command.cycle not in slots, f"two commands on one bus in cycle {command.cycle}"
        slots[command.cycle] = command
        for k, beat in enumerate(command.beats):
            beat_at[command.cycle + t.cwl + k] = beat
    if cycles is None:
        cycles = max(command.cycle for command in commands) + t.cl + t.burst_cycles + 2
    garbage = int.from_bytes(bytes([GARBAGE]) * t.data_bytes_per_cycle, "little")
    result = {"reads": {}}

    async def testbench(ctx):
        bus = dut.dram
        for cycle in range(cycles):
            assert ctx.get(dut.cycle) == cycle
            command = row_at.get(cycle)
            ctx.set(bus.row_valid, command is not None)
            if command is not None:
                ctx.set(bus.row_cmd, command.cmd)
                ctx.set(bus.row_bank, command.bank)
                ctx.set(bus.row, command.arg)
            command = column_at.get(cycle)
            ctx.set(bus.col_valid, command is not None)
            if command is not None:
                ctx.set(bus.col_cmd, command.cmd)
                ctx.set(bus.col_bank, command.bank)
                ctx.set(bus.column, command.arg)
            wdata, wmask = beat_at.get(cycle, (garbage, 0))
            ctx.set(bus.wdata, wdata)
            ctx.set(bus.wmask, wmask)
            if ctx.get(bus.rdata_valid):
                result["reads"][cycle] = ctx.get(bus.rdata)
            else:
                assert ctx.get(bus.rdata) == 0
            await ctx.tick()
        result.update(error=ctx.get(dut.error), rule=ctx.get(dut.error_rule),
                      bank=ctx.get(dut.error_bank), cycle=ctx.get(dut.error_cycle))
        if result["error"]:
            result["message"] = dut.describe_error(result["rule"], result["bank"],
                                                   result["cycle"])

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(testbench)
    sim.run()
    return result


def assert_no_error(result):
    assert not result["error"], result.get("message")
    assert result["rule"] == ErrorRule.NONE


def assert_error(result, rule, bank, cycle):
    assert result["error"], f"expected {rule.name} at cycle {cycle}, got no error"
    assert (result["rule"], result["bank"], result["cycle"]) == (rule, bank, cycle), \
        result["message"]


# The legal sequence, on every preset --------------------------------------------------------

def beats_of(rng, t):
    return [rng.getrandbits(8 * t.data_bytes_per_cycle) for _ in range(t.burst_cycles)]


def merge(old, new, mask, t):
    """``new`` written over ``old`` with the bytes whose mask bit is set kept (the device's
    mask is DFI polarity, the inverse of a write strobe)."""
    nbytes = t.data_bytes_per_cycle
    return merge_bytes(old, new, ~mask & ((1 << nbytes) - 1), nbytes)


@pytest.mark.parametrize("timing", [FAST, *PRESETS.values()], ids=lambda t: t.name)
def test_legal_sequence_stores_and_returns_data(timing):
    t, rng = timing, random.Random(timing.name)
    bank, row, burst = t.banks - 1, 3, t.burst_cycles
    full = (1 << t.data_bytes_per_cycle) - 1
    x, y, z = beats_of(rng, t), beats_of(rng, t), beats_of(rng, t)
    masks_y = [rng.getrandbits(t.data_bytes_per_cycle) for _ in range(burst)]
    masks_z = [rng.getrandbits(t.data_bytes_per_cycle) | 1 for _ in range(burst)]
    masks_y[0] = full          # a fully masked beat changes nothing
    # ACT; WR column 1; WR column 1 again, masked; WR column 2 (over zeros), masked; RD both
    # after tWTR; PRE after tRAS, tRTP and tWR; REF after tRP; ACT after tRFC (and tRC); RD
    # column 1 again: the data outlives the refresh.
    w1 = t.trcd_wr
    w2 = w1 + t.tccd_l
    w3 = w2 + t.tccd_l
    r1 = max(w3 + t.cwl + burst + t.twtr_l, t.trcd_rd)
    r2 = r1 + t.tccd_l
    p = max(t.tras, r2 + t.trtp, w3 + t.cwl + burst + t.twr)
    f = p + t.trp
    a1 = max(f + max(1, t.trfc), t.trc)
    r3 = a1 + t.trcd_rd
    commands = [
        act(0, bank, row),
        wr(w1, bank, 1, [(beat, 0) for beat in x]),
        wr(w2, bank, 1, zip(y, masks_y)),
        wr(w3, bank, 2, zip(z, masks_z)),
        rd(r1, bank, 1), rd(r2, bank, 2),
        pre(p, bank), ref(f), act(a1, bank, row), rd(r3, bank, 1),
    ]
    result = simulate(t, commands)
    assert_no_error(result)
    column1 = [merge(old, new, mask, t) for old, new, mask in zip(x, y, masks_y)]
    column2 = [merge(0, new, mask, t) for new, mask in zip(z, masks_z)]
    expected = {}
    for start, data in ((r1, column1), (r2, column2), (r3, column1)):
        for k, beat in enumerate(data):
            expected[start + t.cl + k] = beat
    assert result["reads"] == expected
    assert column1[0] == x[0]


def test_banks_and_rows_hold_separate_data():
    t = FAST
    # Same column in two banks of one group and in two rows of one bank.
    a, b = 5, 6
    data = {(a, 0): 0x11, (b, 0): 0x22, (a, 1): 0x33}
    beats = {key: [value, value + 1] for key, value in data.items()}
    commands = [act(0, a, 0), act(t.trrd_l, b, 0),
                wr(10, a, 7, [(beat, 0) for beat in beats[a, 0]]),
                wr(15, b, 7, [(beat, 0) for beat in beats[b, 0]]),
                pre(25, a), act(29, a, 1),
                wr(34, a, 7, [(beat, 0) for beat in beats[a, 1]]),
                pre(44, a), act(48, a, 0),
                rd(53, a, 7), rd(58, b, 7), pre(61, a), act(65, a, 1), rd(70, a, 7)]
    result = simulate(t, commands)
    assert_no_error(result)
    reads = sorted(result["reads"].items())
    assert [value for _, value in reads] == beats[a, 0] + beats[b, 0] + beats[a, 1]


def test_rd_and_pre_together_read_the_closing_row():
    # ideal: trtp = 0, so a RD may issue with the PRE of its bank and still reads the row.
    t = preset("ideal")
    beats = [(0x1234, 0), (0x5678, 0)]
    commands = [act(0, 5, 2), wr(1, 5, 3, beats), rd(3, 5, 3), pre(3, 5), act(4, 5, 1)]
    result = simulate(t, commands)
    assert_no_error(result)
    assert result["reads"] == {4: 0x1234, 5: 0x5678}


# One cycle early: each rule --------------------------------------------------------------------
#
# Each case builds the sequence with its last command exactly on time and returns it with the
# bank the error names; the early variant moves the last command one cycle earlier.

def banks_of(t):
    """A bank (bank 1 of group 1), another bank of its group, and one of another group."""
    per_group = t.banks_per_group
    return per_group + 1, per_group + 2, 2 * per_group + 1


def case_trcd_rd(t):
    a, _, _ = banks_of(t)
    return [act(0, a), rd(t.trcd_rd, a)], a


def case_trcd_wr(t):
    a, _, _ = banks_of(t)
    return [act(0, a), wr(t.trcd_wr, a)], a


def case_tras(t):
    a, _, _ = banks_of(t)
    return [act(0, a), pre(t.tras, a)], a


def case_tras_prea(t):
    # PREA closes both; only the later ACT's bank is early.
    a, _, s = banks_of(t)
    return [act(0, a), act(t.trrd_s, s), prea(t.trrd_s + t.tras)], s


def case_trc(t):
    a, _, _ = banks_of(t)
    return [act(0, a), pre(t.tras, a), act(t.trc, a)], a


def case_trp(t):
    # The PRE late enough that one cycle early still meets tRC.
    a, _, _ = banks_of(t)
    p = max(t.tras, t.trc - t.trp + 1)
    return [act(0, a), pre(p, a), act(p + t.trp, a)], a


def case_trp_ref(t):
    a, _, _ = banks_of(t)
    return [act(0, a), pre(t.tras, a), ref(t.tras + t.trp)], a


def case_trrd_l(t):
    a, l, _ = banks_of(t)
    return [act(0, a), act(t.trrd_l, l)], l


def case_trrd_s(t):
    a, _, s = banks_of(t)
    return [act(0, a), act(t.trrd_s, s)], s


def _four_acts(t):
    # ACTs to groups 0, 1, 2, 3, the second one cycle later than tRRD_S needs, so that both
    # a fifth ACT at tFAW and a sixth at tFAW after the second are one cycle early without
    # breaking tRRD.
    if t.tfaw < 4 * t.trrd_s + 2:
        pytest.skip(f"tfaw = {t.tfaw} never binds before trrd_s = {t.trrd_s} on {t.name}")
    per_group, s = t.banks_per_group, t.trrd_s
    times = [0, s + 1, 2 * s + 1, 3 * s + 1]
    return [act(time, group * per_group) for group, time in enumerate(times)], times


def case_tfaw(t):
    acts, _ = _four_acts(t)
    return acts + [act(t.tfaw, 1)], 1


def case_tfaw_sliding(t):
    acts, times = _four_acts(t)
    bank = t.banks_per_group + 1
    return acts + [act(t.tfaw, 1), act(times[1] + t.tfaw, bank)], bank


def case_trfc(t):
    a, _, _ = banks_of(t)
    return [ref(0), act(t.trfc, a)], a


def case_trfc_ref(t):
    return [ref(0), ref(t.trfc)], 0


def case_trtp(t):
    # The RD late enough that one cycle early still meets tRAS.
    a, _, _ = banks_of(t)
    r = max(t.trcd_rd, t.tras - t.trtp + 1)
    return [act(0, a), rd(r, a), pre(r + t.trtp, a)], a


def case_twr(t):
    a, _, _ = banks_of(t)
    end = t.cwl + t.burst_cycles + t.twr
    w = max(t.trcd_wr, t.tras - end + 1)
    return [act(0, a), wr(w, a), pre(w + end, a)], a


def _two_banks(t, other, rrd, trcd):
    a, _, _ = banks_of(t)
    return [act(0, a), act(rrd, other)], a, rrd + trcd


def case_tccd_l_rd(t):
    _, l, _ = banks_of(t)
    acts, a, start = _two_banks(t, l, t.trrd_l, t.trcd_rd)
    return acts + [rd(start, a), rd(start + t.tccd_l, l)], l


def case_tccd_l_wr(t):
    _, l, _ = banks_of(t)
    acts, a, start = _two_banks(t, l, t.trrd_l, t.trcd_wr)
    return acts + [wr(start, a), wr(start + t.tccd_l, l)], l


def case_tccd_s_rd(t):
    _, _, s = banks_of(t)
    acts, a, start = _two_banks(t, s, t.trrd_s, t.trcd_rd)
    return acts + [rd(start, a), rd(start + t.tccd_s, s)], s


def case_tccd_s_wr(t):
    _, _, s = banks_of(t)
    acts, a, start = _two_banks(t, s, t.trrd_s, t.trcd_wr)
    return acts + [wr(start, a), wr(start + t.tccd_s, s)], s


def _write_then_read(t, other, rrd, twtr):
    acts, a, _ = _two_banks(t, other, rrd, 0)
    gap = t.cwl + t.burst_cycles + twtr
    # The WR late enough that the RD, even one cycle early, meets its own tRCD.
    w = max(rrd + t.trcd_wr, rrd + t.trcd_rd - gap + 1)
    return acts + [wr(w, a), rd(w + gap, other)], other


def case_twtr_l(t):
    _, l, _ = banks_of(t)
    return _write_then_read(t, l, t.trrd_l, t.twtr_l)


def case_twtr_s(t):
    _, _, s = banks_of(t)
    return _write_then_read(t, s, t.trrd_s, t.twtr_s)


def case_bus_conflict(t):
    # RD to WR is bounded by the data bus only: the write data must follow the read data.
    a, _, _ = banks_of(t)
    gap = t.cl + t.burst_cycles - t.cwl
    r = max(t.trcd_rd, t.trcd_wr - gap + 1)
    return [act(0, a), rd(r, a), wr(r + gap, a)], a


CASES = {
    "tRCD_RD": (case_trcd_rd, ErrorRule.TRCD_RD),
    "tRCD_WR": (case_trcd_wr, ErrorRule.TRCD_WR),
    "tRAS": (case_tras, ErrorRule.TRAS),
    "tRAS-PREA": (case_tras_prea, ErrorRule.TRAS),
    "tRC": (case_trc, ErrorRule.TRC),
    "tRP": (case_trp, ErrorRule.TRP),
    "tRP-REF": (case_trp_ref, ErrorRule.TRP),
    "tRRD_L": (case_trrd_l, ErrorRule.TRRD_L),
    "tRRD_S": (case_trrd_s, ErrorRule.TRRD_S),
    "tFAW": (case_tfaw, ErrorRule.TFAW),
    "tFAW-sliding": (case_tfaw_sliding, ErrorRule.TFAW),
    "tRFC": (case_trfc, ErrorRule.TRFC),
    "tRFC-REF": (case_trfc_ref, ErrorRule.TRFC),
    "tRTP": (case_trtp, ErrorRule.TRTP),
    "tWR": (case_twr, ErrorRule.TWR),
    "tCCD_L-RD": (case_tccd_l_rd, ErrorRule.TCCD_L),
    "tCCD_L-WR": (case_tccd_l_wr, ErrorRule.TCCD_L),
    "tCCD_S-RD": (case_tccd_s_rd, ErrorRule.TCCD_S),
    "tCCD_S-WR": (case_tccd_s_wr, ErrorRule.TCCD_S),
    "tWTR_L": (case_twtr_l, ErrorRule.TWTR_L),
    "tWTR_S": (case_twtr_s, ErrorRule.TWTR_S),
    "bus-RD-WR": (case_bus_conflict, ErrorRule.BUS_CONFLICT),
}


@pytest.mark.parametrize("early", [False, True], ids=["on-time", "early"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("timing", [FAST, preset("hbm3-6400")], ids=lambda t: t.name)
def test_rule(timing, case, early):
    build, rule = CASES[case]
    commands, bank = build(timing)
    last = commands[-1]
    if early:
        commands[-1] = Command(last.cycle - 1, last.cmd, last.bank, last.arg, last.beats)
    result = simulate(timing, commands)
    if early:
        assert_error(result, rule, bank, last.cycle - 1)
        assert result["message"].startswith(ERROR_MESSAGES[rule].split(":")[0])
    else:
        assert_no_error(result)


def test_bank_group_distinction():
    # The same distance is legal across bank groups and too short within one.
    t = FAST
    a, l, s = banks_of(t)
    assert t.trrd_s < t.trrd_l and t.tccd_s < t.tccd_l and t.twtr_s < t.twtr_l
    assert_no_error(simulate(t, [act(0, a), act(t.trrd_s, s)]))
    assert_error(simulate(t, [act(0, a), act(t.trrd_s, l)]), ErrorRule.TRRD_L, l, t.trrd_s)
    start = 20
    assert_no_error(simulate(t, [act(0, a), act(3, l), act(6, s), rd(start, a),
                                 rd(start + t.tccd_s, s)]))
    assert_error(simulate(t, [act(0, a), act(3, l), act(6, s), rd(start, a),
                              rd(start + t.tccd_s, l)]), ErrorRule.TCCD_L, l, start + t.tccd_s)
    gap = t.cwl + t.burst_cycles + t.twtr_s
    assert_no_error(simulate(t, [act(0, a), act(3, l), act(6, s), wr(start, a),
                                 rd(start + gap, s)]))
    assert_error(simulate(t, [act(0, a), act(3, l), act(6, s), wr(start, a),
                              rd(start + gap, l)]), ErrorRule.TWTR_L, l, start + gap)


def test_trrd_does_not_apply_to_the_same_bank():
    # tRRD is between different banks; a bank's own ACTs are spaced by tRC. With tRRD_L
    # above tRC, an ACT to the same bank at tRC is legal.
    t = FAST.replace(trrd_s=20, trrd_l=20)
    a, _, _ = banks_of(t)
    assert_no_error(simulate(t, [act(0, a), pre(t.tras, a), act(t.trc, a)]))
    assert_error(simulate(t, [act(0, a), act(t.trc, a + 1)]), ErrorRule.TRRD_L, a + 1, t.trc)


def test_same_cycle_column_and_row_commands():
    t = preset("ideal")         # trcd 1, trtp 0, twr 0, cwl 0
    # RD with its bank's ACT: 0 cycles of tRCD.
    assert_error(simulate(t, [act(0, 5), rd(0, 5)]), ErrorRule.TRCD_RD, 5, 0)
    assert_no_error(simulate(t, [act(0, 5), rd(1, 5)]))
    # WR with its bank's PRE: the write data cannot end before the PRE.
    assert_error(simulate(t, [act(0, 5), wr(1, 5), pre(1, 5)]), ErrorRule.TWR, 5, 1)
    assert_no_error(simulate(t, [act(0, 5), wr(1, 5), pre(3, 5)]))
    # Row and column commands to different banks in one cycle are independent.
    assert_no_error(simulate(t, [act(0, 5), act(1, 6), rd(1, 5), pre(4, 6), wr(4, 5)]))


def test_refresh_starvation():
    t = FAST
    limit = (t.max_postponed_refreshes + 1) * t.trefi
    assert_no_error(simulate(t, [ref(10), ref(10 + limit)]))
    assert_error(simulate(t, [ref(10), ref(10 + limit + 1)]), ErrorRule.REFRESH_STARVED, 0,
                 10 + limit + 1)
    # Reset counts as a REF in cycle 0.
    assert_no_error(simulate(t, [ref(limit)]))
    assert_error(simulate(t, [pre(0, 0)], cycles=limit + 3), ErrorRule.REFRESH_STARVED, 0,
                 limit + 1)
    # No refresh, no deadline.
    assert_no_error(simulate(preset("ideal"), [pre(0, 0)], cycles=100))


# State rules ---------------------------------------------------------------------------------

def test_act_to_an_open_bank():
    t = FAST
    a, _, _ = banks_of(t)
    assert_error(simulate(t, [act(0, a), act(t.trc, a)]), ErrorRule.ACT_OPEN, a, t.trc)


def test_rd_wr_to_a_closed_bank():
    t = FAST
    a, _, _ = banks_of(t)
    assert_error(simulate(t, [rd(0, 3)]), ErrorRule.BANK_CLOSED, 3, 0)
    assert_error(simulate(t, [act(0, a), pre(t.tras, a), wr(t.tras + 20, a)]),
                 ErrorRule.BANK_CLOSED, a, t.tras + 20)


def test_pre_of_a_closed_bank_is_a_no_op():
    t = FAST
    a, _, _ = banks_of(t)
    # Legal, and the second PRE does not restart tRP (ACT 2 cycles after it is fine).
    assert_no_error(simulate(t, [pre(0, 7), prea(1), act(2, a), pre(2 + t.tras, a),
                                 pre(2 + t.trc - 2, a), act(2 + t.trc, a)]))


def test_ref_with_a_bank_open():
    t = FAST
    a, _, s = banks_of(t)
    assert_error(simulate(t, [act(0, s), act(t.trrd_s, a), ref(40)]), ErrorRule.REF_OPEN, a, 40)
    assert_no_error(simulate(t, [act(0, s), act(t.trrd_s, a), prea(40), ref(40 + t.trp)]))


def test_row_outside_the_modelled_storage():
    t = FAST
    assert_error(simulate(t, [act(0, 2, 4)], stored_rows=4), ErrorRule.STORAGE, 2, 0)
    assert_no_error(simulate(t, [act(0, 2, 3)], stored_rows=4))
    result = simulate(t, [act(0, 2, t.rows - 1)], stored_rows=4)
    assert result["rule"] == ErrorRule.STORAGE
    assert "row outside the modelled storage" in result["message"]


def test_address_outside_a_one_value_field():
    # One column per row and one bank: their fields are one bit wide, so 1 is out of range.
    t = FAST.replace(row_bytes=32, banks=1, bank_groups=1)
    assert_error(simulate(t, [act(0, 0), rd(t.trcd_rd, 0, column=1)]), ErrorRule.ADDRESS, 0,
                 t.trcd_rd)
    assert_error(simulate(t, [act(0, 1)]), ErrorRule.ADDRESS, 1, 0)
    assert_no_error(simulate(t, [act(0, 0), rd(t.trcd_rd, 0, column=0)]))


def test_first_violation_is_kept():
    t = FAST
    a, _, _ = banks_of(t)
    result = simulate(t, [act(0, a), rd(1, a), act(2, a), rd(3, 0)])
    assert_error(result, ErrorRule.TRCD_RD, a, 1)


# Interface, parameters, messages ----------------------------------------------------------------

def test_signature():
    sig = DramSignature(timing="hbm2-2000")
    assert sig == DramSignature(timing=preset("hbm2-2000"))
    assert sig != DramSignature(timing="ideal")         # same widths, other contract
    assert sig.flip() == DramSignature(timing="hbm2-2000").flip()
    assert sig != sig.flip()
    assert repr(sig) == "DramSignature(timing='hbm2-2000')"
    assert repr(DramSignature(timing=FAST)).startswith("DramSignature(timing=TimingPreset(")
    assert list(sig.members) == ["row_valid", "row_cmd", "row_bank", "row", "col_valid",
                                 "col_cmd", "col_bank", "column", "wdata", "wmask", "rdata",
                                 "rdata_valid"]
    widths = {name: len(Signal(sig.members[name].shape))
              for name in ("row_bank", "row", "column", "wdata", "wmask")}
    assert widths == {"row_bank": 4, "row": 14, "column": 5, "wdata": 128, "wmask": 16}
    assert sig.members["rdata"].flow == wiring.In and sig.members["row_cmd"].shape is RowCommand
    sdr = DramSignature(timing="sdr")
    assert (sdr.bank_width, sdr.row_width, sdr.column_width, sdr.data_width) == (2, 13, 6, 16)
    for bad in (3, None, "ddr4"):
        with pytest.raises(ValueError, match="timing"):
            DramSignature(timing=bad)


def test_layout_views_and_drive_commands():
    t = preset("hbm2-2000")
    assert list(dict(row_command_layout(t).members)) == ["valid", "cmd", "bank", "row"]
    assert list(dict(column_command_layout(t).members)) == ["valid", "cmd", "bank", "column"]

    class Source(wiring.Component):
        def __init__(self):
            super().__init__({"dram": Out(DramSignature(timing=t)),
                              "row_in": In(row_command_layout(t)),
                              "column_in": In(column_command_layout(t))})

        def elaborate(self, platform):
            m = Module()
            m.d.comb += drive_commands(self.dram, row=self.row_in, column=self.column_in)
            return m

    dut = Source()

    async def testbench(ctx):
        ctx.set(dut.row_in, {"valid": 1, "cmd": PREA, "bank": 9, "row": 1234})
        ctx.set(dut.column_in, {"valid": 1, "cmd": WR, "bank": 3, "column": 17})
        assert (ctx.get(dut.dram.row_valid), ctx.get(dut.dram.row_cmd), ctx.get(dut.dram.row_bank),
                ctx.get(dut.dram.row)) == (1, PREA, 9, 1234)
        assert (ctx.get(dut.dram.col_valid), ctx.get(dut.dram.col_cmd),
                ctx.get(dut.dram.col_bank), ctx.get(dut.dram.column)) == (1, WR, 3, 17)
        view = row_command(dut.dram)
        assert ctx.get(view.bank) == 9 and ctx.get(view.cmd) == PREA
        assert ctx.get(column_command(dut.dram).column) == 17

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()


def test_device_parameters():
    dut = DramDevice(timing="sdr", stored_rows=8)
    assert dut.storage_bytes == 4 * 8 * 1024
    assert repr(dut) == "DramDevice(timing='sdr', stored_rows=8)"
    custom = DramDevice(timing=FAST, stored_rows=2)
    assert repr(custom).startswith("DramDevice(timing=TimingPreset(name='fast', ")
    Fragment.get(custom, None)
    assert dut.signature.members["dram"].signature == DramSignature(timing="sdr").flip()
    Fragment.get(dut, None)
    default = DramDevice(timing="hbm2-2000")
    assert default.stored_rows == 64 and default.storage_bytes == 1 << 20
    Fragment.get(default, None)
    for stored_rows in (0, 3, 16384 * 2, "4"):
        with pytest.raises(ValueError, match="stored_rows must be"):
            DramDevice(timing="hbm2-2000", stored_rows=stored_rows)
    with pytest.raises(ValueError, match="timing must be"):
        DramDevice(timing=42)


def test_error_messages():
    assert set(ERROR_MESSAGES) == set(ErrorRule)
    assert describe_error(ErrorRule.TRCD_RD, 3, 1234) == (
        "tRCD_RD violated: RD to bank 3 at cycle 1234 too soon after the bank's ACT")
    assert describe_error(6, 3, 1234, timing="hbm2-2000") == (
        "tRCD_RD violated: RD to bank 3 (group 0, bank 3) at cycle 1234 too soon after the "
        "bank's ACT (ACT to RD >= trcd_rd = 14 on hbm2-2000)")
    assert "(WR to PRE >= cwl + burst cycles + twr = 23 on hbm2-2000)" in describe_error(
        ErrorRule.TWR, 1, 2, timing="hbm2-2000")
    assert describe_error(ErrorRule.REFRESH_STARVED, 0, 99, timing="sdr").endswith(
        "(REF to REF <= (max_postponed_refreshes + 1) * trefi = 7020 on sdr)")
    with pytest.raises(ValueError, match="rule must be an ErrorRule or one of its codes 0 to 22"):
        describe_error(99, 0, 0)


def test_converts_to_rtlil():
    text = rtlil.convert(DramDevice(timing="sdr", stored_rows=2))
    assert "error_rule" in text and "dram__rdata_valid" in text
