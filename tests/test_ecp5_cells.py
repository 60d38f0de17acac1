"""The hand-placed ECP5 cells of a processing element (``rtl/systolic/ecp5.py``) compute
exactly what the generic cell computes, and cost what they are for.

The proof runs Yosys' SAT solver on a miter of the two cells, the ECP5 one flattened with
Yosys' own simulation models of ``CCU2C`` and ``LUT4``, from the all-zero state with free
inputs every cycle, and compares their outputs at cycle 6. A cell's outputs depend only on
its two weight banks and its last three cycles of inputs, and by cycle 6 any weights can
have been loaded (cycles 1 and 2) before any three cycles of inputs: so the outputs of
every reachable state, at any cycle, are compared. (Comparing every cycle instead costs a
multiplier equivalence per cycle, minutes of SAT for int8.)
"""

import pytest
from amaranth.back import rtlil
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from boards.fit import synthesized_cells
from rtl.systolic import ecp5
from rtl.systolic.pe import WeightStationaryPE


def _prove_equal(operand_width, yosys):
    cell = dict(multiplier="soft", operand_width=operand_width,
                acc_width=2 * operand_width + 4)
    gold = rtlil.convert(WeightStationaryPE(**cell), name="generic")
    gate = rtlil.convert(WeightStationaryPE(**cell), name="ecp5",
                         platform=ULX3S_85F_Platform())
    return yosys("\n".join([
        f"read_rtlil <<rtlil\n{gate}\nrtlil",
        "read_verilog +/lattice/common_sim.vh +/lattice/ccu2c_sim.vh",
        # Derives each CCU2C's INIT into its model before flattening.
        "hierarchy -top ecp5", "proc", "flatten",
        f"read_rtlil <<rtlil\n{gold}\nrtlil",
        "proc",
        "miter -equiv -flatten -make_assert generic ecp5 miter",
        "hierarchy -top miter",
        "sat -verify -prove-asserts -set-init-zero -seq 6 -prove-skip 5 -show-ports miter",
    ]))


@pytest.mark.parametrize("operand_width", [2, 3, 5, 8])
def test_soft_multiplier_on_carry_chains_equals_the_generic_cell(operand_width, yosys):
    returncode, log = _prove_equal(operand_width, yosys)
    assert returncode == 0, log[-3000:]
    assert "SUCCESS" in log


def test_the_proof_fails_for_a_carry_chain_that_forgets_the_sign(monkeypatch, yosys):
    """A subtracted partial product built as an added one must not pass."""
    honest = ecp5._half_init
    monkeypatch.setattr(ecp5, "_half_init", lambda negated_on_ab: honest(False))
    returncode, log = _prove_equal(8, yosys)
    assert returncode != 0
    assert "proof did fail" in log


def _synthesized_cells(component, yosys):
    text = rtlil.convert(component, name="cell", platform=ULX3S_85F_Platform())
    returncode, log = yosys("\n".join([
        f"read_rtlil <<rtlil\n{text}\nrtlil",
        # The board build's synthesis (boards/catalog.py: classic abc for the LUTs).
        "synth_ecp5 -top cell -run begin:map_luts",
        "techmap -map +/lattice/latches_map.v; abc -lut 4 -dress; clean",
        "synth_ecp5 -top cell -run map_cells:",
        "stat",
    ]))
    assert returncode == 0, log[-3000:]
    return synthesized_cells(log)


def test_soft_cell_costs_under_120_lut4(yosys):
    """The partial products' ANDs live inside the carry chains and every addition is a
    chain of its own: 114 LUT4s' worth (52 CCU2C, 10 LUT4), against 188 for the same cell
    left to synthesis (49 CCU2C and 90 LUT4)."""
    cells = _synthesized_cells(WeightStationaryPE(multiplier="soft"), yosys)
    assert "MULT18X18D" not in cells
    assert cells.get("LUT4", 0) + 2 * cells["CCU2C"] <= 120, cells


def test_hard_cell_is_one_dsp_block(yosys):
    cells = _synthesized_cells(WeightStationaryPE(multiplier="hard"), yosys)
    assert cells["MULT18X18D"] == 1
    assert cells.get("LUT4", 0) + 2 * cells["CCU2C"] <= 50, cells


def test_partial_product_pair_checks_its_arguments():
    from amaranth import Signal, signed
    a = Signal(signed(8))
    with pytest.raises(ValueError, match="total must be 10 bits, not 9"):
        ecp5.partial_product_pair(a, a[0], a[1], Signal(9))
    with pytest.raises(ValueError, match="negate must be 'even', 'odd' or None"):
        ecp5.partial_product_pair(a, a[0], a[1], Signal(10), negate="both")
