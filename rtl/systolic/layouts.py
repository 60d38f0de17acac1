"""Payload layouts of the systolic array's streams.

Defined once here and used by the RTL, by the testbench models (through
:mod:`sim.packing`) and by the host-side tiler, so that a field moves in one place only.
"""

from amaranth import signed
from amaranth.lib import data

__all__ = ["weight_row", "activation_beat", "operand_beat", "result_beat"]


def weight_row(*, cols, operand_width):
    """One row of a weight tile: ``cols`` signed weights (weight-stationary array)."""
    return data.ArrayLayout(signed(operand_width), cols)


def activation_beat(*, rows, operand_width):
    """One activation vector of ``rows`` signed values; ``last`` ends the weight tile's pass."""
    return data.StructLayout({
        "data": data.ArrayLayout(signed(operand_width), rows),
        "last": 1,
    })


def operand_beat(*, rows, cols, operand_width):
    """One step of the inner dimension for an output-stationary tile.

    ``a`` is a column slice of A (``rows`` values), ``b`` a row slice of B (``cols`` values);
    ``last`` marks the final step of the tile.
    """
    return data.StructLayout({
        "a": data.ArrayLayout(signed(operand_width), rows),
        "b": data.ArrayLayout(signed(operand_width), cols),
        "last": 1,
    })


def result_beat(*, cols, acc_width):
    """One row of results: ``cols`` signed sums; ``last`` ends the tile's results."""
    return data.StructLayout({
        "data": data.ArrayLayout(signed(acc_width), cols),
        "last": 1,
    })
