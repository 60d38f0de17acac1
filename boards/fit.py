"""Does a configuration fit a board's part? Checked twice: by estimate before anything is
built, and exactly from Yosys's cell counts before placement.

The estimate counts what the generator knows it instantiates: one DSP block per array cell
with a hard multiplier (:class:`~rtl.systolic.WeightStationaryArray`'s
``hard_multipliers``), the output stage's int32 x 16-bit scale multipliers, block RAM for the
A-panel buffers, the accumulators, the FIFOs and an emulated memory's storage, and logic from
per-part figures fitted to synthesis runs of this code (see :data:`LOGIC`). It is meant to
refuse hopeless configurations in a second, not to replace the exact check: nextpnr fails
with "no BELs remaining" late and obscurely when a design asks for more than the part has,
so :func:`check_cells` reads Yosys's report and stops the build first.
"""

import math
import re

from rtl.accel.geometry import Geometry

__all__ = ["FitError", "estimate", "check_fit", "check_cells", "CELLS"]


class FitError(ValueError):
    """The configuration needs more of a resource than the part has."""


#: The iCE40's flip-flop cells: clock edge, enable, and set or reset (synchronous or not).
ICE40_FLIP_FLOPS = tuple(f"SB_DFF{edge}{enable}{reset}" for edge in ("", "N")
                         for enable in ("", "E") for reset in ("", "SR", "R", "SS", "S"))

#: Yosys cell names per family and the fit check's resource each counts toward (with the
#: LUT4s a cell stands for: an ECP5 CCU2C carry cell is two). Flip-flops are counted too:
#: an iCE40 logic cell has one LUT4 and one flip-flop, so a design can run out of either.
CELLS = {
    "ecp5": {"LUT4": ("LUT4", 1), "CCU2C": ("LUT4", 2), "TRELLIS_FF": ("FF", 1),
             "MULT18X18D": ("DSP", 1), "DP16KD": ("BRAM", 1)},
    "ice40": {"SB_LUT4": ("LUT4", 1), "SB_MAC16": ("DSP", 1), "SB_RAM40_4K": ("BRAM", 1),
              "SB_SPRAM256KA": ("SPRAM", 1),
              **{cell: ("FF", 1) for cell in ICE40_FLIP_FLOPS}},
}

#: Logic per part, LUT4s: a fixed part (sequencer, registers, DMA, host link), a part per
#: array column (accumulators, output stage lane, result FIFO), per soft multiplier cell, per
#: hard one (the adder of the partial sum, the weight banks), and per memory channel
#: (controller, port, emulated device). Fitted to Yosys runs of this code.
LOGIC = {
    # Fitted to Yosys runs of whole ULX3S tops (LUT4 + 2 x CCU2C): 4x4 with one HBM2
    # channel, 34,525; 16x16 with two channels and 152 soft cells, 108,397; and the 16x16
    # accelerator alone, 33,700 (980 a column in the result path, 40 a hard cell). Those
    # ports kept 16 bursts per direction; with the board's 4 (boards.soc.BoardSoC), the
    # default 16x8 top with 8 soft cells went from 44,508 to 36,538, so a channel (its
    # controller, emulated device and share of the two AXI ports) is about 13,000. A soft
    # cell on carry chains (rtl/systolic/ecp5.py) is 114 (52 CCU2C, 10 LUT4; 188 before),
    # a hard one 42: the 32x8 top with 121 soft cells synthesizes to 48,710.
    "ecp5": {"base": 8900, "per_col": 1000, "per_soft_cell": 115, "per_hard_cell": 40,
             "per_channel": 13000},
    # 12,565 SB_LUT4 for a 2x4 accelerator with 8-byte beats and no memory controller
    # (it also made 97 SB_RAM40_4K: the iCE40 has no distributed RAM for the small FIFOs,
    # which the block RAM estimate below does not count).
    "ice40": {"base": 8200, "per_col": 1000, "per_soft_cell": 180, "per_hard_cell": 40,
              "per_channel": 3500},
}

#: Bits per block RAM and the widest port: ECP5 DP16KD 18 kbit (x36), iCE40 EBR 4 kbit (x16).
BLOCK_RAM = {"ecp5": (18 * 1024, 36), "ice40": (4 * 1024, 16)}
#: DSP blocks per output-stage lane: a 32 x 16 signed product needs two 18 x 18 (ECP5) or
#: two 16 x 16 (iCE40) multipliers.
SCALE_DSPS = 2
#: DSP blocks of the control logic: the activation path's quarter-panel stride product
#: (the sequencer builds its span products by shift and add). Counted from Yosys runs: 5 on
#: the ECP5 default top (141 in all with 120 cells and 16 output lanes on DSP blocks).
CONTROL_DSPS = {"ecp5": 5, "ice40": 4}


def _memory_blocks(family, width, depth):
    bits, widest = BLOCK_RAM[family]
    deep = bits // widest
    if depth * width <= 2048 and family == "ecp5":
        return 0  # small FIFOs become distributed RAM
    return math.ceil(width / widest) * math.ceil(depth / deep)


def estimate(board, config, *, memory, hard_multipliers=None, stored_rows=2):
    """``{resource: (needed, available)}`` for ``config`` on ``board`` (see the module
    documentation)."""
    family = board.family
    timing = config.address_map.timing
    g = Geometry.from_config(config, beat_bytes=timing.burst_bytes,
                             addr_width=min(config.address_map.address_bits, 32))
    hard = config.macs if hard_multipliers is None else hard_multipliers
    soft = config.macs - hard
    dsp = hard + SCALE_DSPS * config.cols + CONTROL_DSPS[family]

    beat = g.beat_bits
    # The AXI ports' reorder buffers, the host link's buffer and the result FIFO: about 12.
    blocks = (12 + _memory_blocks(family, beat, 2 * g.panel_depth)     # A panels
              + _memory_blocks(family, 32 * config.cols, 2 * g.block_m)  # accumulators
              + _memory_blocks(family, g.row_bits, 8)                   # output FIFO
              + _memory_blocks(family, 8 * config.cols, 2 * 64))        # weight rows
    channels = 0
    if memory == "hbm":
        channels = config.channels
        stored = config.address_map.stored_bytes(stored_rows) * 8
        blocks += channels * _memory_blocks(family, 8 * timing.data_bytes_per_cycle,
                                            stored // channels // (8 * timing.data_bytes_per_cycle))
    elif memory == "sdram":
        channels = 1
    logic = LOGIC[family]
    luts = (logic["base"] + logic["per_col"] * config.cols + logic["per_soft_cell"] * soft
            + logic["per_hard_cell"] * hard + logic["per_channel"] * channels)
    needed = {"LUT4": luts, "DSP": dsp, "BRAM": blocks}
    return {resource: (used, board.resources[resource]) for resource, used in needed.items()}


def check_fit(board, config, *, memory, hard_multipliers=None, stored_rows=2):
    """:func:`estimate`, raising :class:`FitError` naming each resource the part lacks."""
    if memory not in board.memories:
        raise FitError(f"memory must be one of {', '.join(map(repr, board.memories))} on "
                       f"{board.name}, not {memory!r}")
    figures = estimate(board, config, memory=memory, hard_multipliers=hard_multipliers,
                       stored_rows=stored_rows)
    short = [f"{resource}: needs about {used}, {board.name} has {available}"
             for resource, (used, available) in figures.items() if used > available]
    if short:
        hint = ""
        hard = config.macs if hard_multipliers is None else hard_multipliers
        dsp, available = figures["DSP"]
        if dsp > available and dsp - hard <= available:
            hint = (f" (with at most {available - (dsp - hard)} hard_multipliers the other "
                    f"array cells build their multipliers from logic)")
        raise FitError(f"{config.rows}x{config.cols} does not fit {board.name}: "
                       + "; ".join(short) + hint)
    return figures


def synthesized_cells(report_text):
    """Cell counts of the last statistics block in a Yosys log: ``{cell: count}``."""
    blocks = report_text.split("Printing statistics.")
    if len(blocks) < 2:
        raise FitError("the Yosys log holds no statistics")
    cells = {}
    for line in blocks[-1].splitlines():
        match = re.match(r"\s+(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$", line)
        if match:
            count, cell = int(match.group(1)), match.group(2)
            cells[cell] = max(cells.get(cell, 0), count)
    return cells


def check_cells(board, report_path):
    """``{resource: (used, available)}`` from the synthesized netlist; :class:`FitError`
    naming the resource when the part has too few."""
    with open(report_path) as f:
        cells = synthesized_cells(f.read())
    used = {}
    for cell, count in cells.items():
        if cell in CELLS[board.family]:
            resource, weight = CELLS[board.family][cell]
            used[resource] = used.get(resource, 0) + weight * count
    figures = {resource: (count, board.resources[resource])
               for resource, count in used.items() if resource in board.resources}
    short = [f"{resource}: synthesis made {count}, {board.name} has {available}"
             for resource, (count, available) in figures.items() if count > available]
    if short:
        raise FitError("the synthesized design does not fit: " + "; ".join(short)
                       + f" (Yosys report {report_path})")
    return figures
