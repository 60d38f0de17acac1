"""The boards openmxu builds for: their parts, resources, default accelerator and clocks.

A :class:`Board` ties an amaranth-boards platform to the top that fills it and to what the
part offers, so that the fit check (:mod:`boards.fit`), the build (:mod:`boards.build`) and
the host driver (``openmxu run --board``) agree on one description.
"""

import importlib
from dataclasses import dataclass, field, replace

from openmxu.config import Config

__all__ = ["Board", "BOARDS", "board"]


def _load(path):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Board:
    """One FPGA board.

    Parameters
    ----------
    name : str
        The name ``make bitstream BOARD=...`` takes.
    family : str
        ``"ice40"`` or ``"ecp5"``.
    platform_class : str
        ``"module:Class"`` of the amaranth-boards platform.
    top_class : str or None
        ``"module:Class"`` of the board top, built as ``Top(board=, config=, memory=,
        clock_mhz=, array_mhz=, hard_multipliers=)``; ``None`` for a board no configuration
        fits yet.
    resources : dict
        What the part has, by the fit check's resource names (``"LUT4"``, ``"FF"``,
        ``"DSP"``, ``"BRAM"``, ``"SPRAM"``; see :data:`boards.fit.CELLS`).
    config : Config
        The accelerator the board carries by default.
    hard_multipliers : int or None
        Array cells of the default configuration on DSP blocks (the rest use logic); ``None``
        for all.
    memory : str
        The default memory back-end (:data:`boards.soc.MEMORIES`).
    memories : tuple of str
        The back-ends the board has.
    memory_variants : dict
        For a back-end other than ``memory``, the fields that differ on it (``config``: a
        back-end's timing preset sets the memory beat, and the array's rows and columns are at
        most one beat of operands; tool options); see :meth:`with_memory`.
    clock_mhz : float
        Target clock of the ``sync`` domain (host link, sequencer, DMA engines, memory).
    baud : int
        Host link bit rate.
    array_mhz : float or None
        Target clock of the systolic array's own domain
        (:class:`~rtl.systolic.ArrayClockCrossing`); ``None``: the array runs in ``sync``.
    array_bench_class : str or None
        ``"module:Class"`` of a top with the array alone in its own domain (or in ``sync``
        when ``array_mhz`` is ``None``), built as ``Bench(board=, config=, array_mhz=,
        hard_multipliers=)`` (``openmxu bitstream --array-only``), and with
        ``cells_per_dsp=2`` on an iCE40 board.
    controller_bench_class : str or None
        ``"module:Class"`` of a top with one memory channel controller alone in ``sync``,
        built as ``Bench(board=, timing=, clock_mhz=, controller_options=)``
        (``openmxu bitstream --controller-only``).
    controller_mhz : float or None
        Target clock of the controller bench: the rate the memory system would need to feed
        the array at its own clock.
    synth_opts, nextpnr_opts : str
        Extra tool options.
    script_after_synth : str
        Yosys commands after the synthesis command (``{name}`` is the top's name).
    bitstream_suffix : str
    """

    name: str
    family: str
    platform_class: str
    top_class: str
    resources: dict
    config: Config
    hard_multipliers: object
    memory: str
    memories: tuple
    clock_mhz: float
    baud: int
    memory_variants: dict = field(default_factory=dict)
    array_mhz: object = None
    array_bench_class: object = None
    controller_bench_class: object = None
    controller_mhz: object = None
    synth_opts: str = ""
    nextpnr_opts: str = ""
    script_after_synth: str = ""
    bitstream_suffix: str = "bit"
    notes: tuple = field(default=())

    @property
    def memory_bytes(self):
        """Bytes commands may use with the default configuration and memory."""
        from .soc import memory_bytes
        return memory_bytes(self.config, self.memory)

    def with_memory(self, memory):
        """This board with ``memory`` (one of :attr:`memories`) as its back-end, with the
        accelerator and tool options it has there (:attr:`memory_variants`)."""
        if memory not in self.memories:
            raise ValueError(f"memory must be one of {', '.join(map(repr, self.memories))} "
                             f"on {self.name}, not {memory!r}")
        if memory == self.memory:
            return self
        return replace(self, memory=memory, memory_variants={},
                       **self.memory_variants.get(memory, {}))

    def platform(self):
        return _load(self.platform_class)()

    def hard_multipliers_for(self, config):
        """Cells of ``config``'s array on DSP blocks: the board's figure, at most every cell
        (``None``: every cell)."""
        if self.hard_multipliers is None:
            return None
        return min(config.macs, self.hard_multipliers)

    def top(self, **kwargs):
        if self.top_class is None:
            raise ValueError(f"{self.name} has no board top: " + " ".join(self.notes))
        return _load(self.top_class)(board=self, **kwargs)

    def array_bench(self, **kwargs):
        if self.array_bench_class is None:
            raise ValueError(f"{self.name} has no array bench")
        return _load(self.array_bench_class)(board=self, **kwargs)

    def controller_bench(self, **kwargs):
        if self.controller_bench_class is None:
            raise ValueError(f"{self.name} has no controller bench")
        return _load(self.controller_bench_class)(board=self, **kwargs)


BOARDS = {
    board.name: board for board in (
        Board(
            name="ulx3s-85f", family="ecp5",
            platform_class="amaranth_boards.ulx3s:ULX3S_85F_Platform",
            top_class="boards.ulx3s:ULX3STop",
            array_bench_class="boards.ulx3s:ULX3SArrayBench",
            controller_bench_class="boards.ulx3s:ULX3SControllerBench", controller_mhz=100.0,
            # LFE5U-85F: 83,640 LUT4s and as many flip-flops, 208 18-kbit block RAMs,
            # 156 18x18 multipliers (the open flow has no 9x9 mode).
            resources={"LUT4": 83_640, "FF": 83_640, "DSP": 156, "BRAM": 208},
            # 32 x 8 cells (256 MACs) and one HBM2 pseudo-channel emulated in block RAM
            # (64 KB stored). The array runs in its own 100 MHz domain; the sequencer, DMA
            # engines and memory system at a third of it, 33.3 MHz, which hands the array a
            # third of the vectors it could take: the memory channel controller alone routes
            # at about 75 MHz on this part (`--controller-only`). Two requests per bank
            # (32 in all) keep the controller to about 7,000 LUT4s; the default eight make it
            # about 25,000.
            config=Config(rows=32, cols=8, channels=1, block_m=64, block_k=256,
                          bank_queue_depth=2, clock_mhz=100 / 3),
            # 135 cells on DSP blocks, and 21 blocks outside the array (two per column in
            # the output stage, 5 in address arithmetic): all 156 of the part's. The other
            # 121 cells build their multipliers from carry chains (rtl/systolic/ecp5.py).
            hard_multipliers=135,
            memory="hbm", memories=("hbm", "sdram"),
            memory_variants={"sdram": dict(
                # The SDR preset's 16-byte beat holds 16 operands: a 16x8 array (128 MACs,
                # every cell on a DSP block) on the board's 32 MB SDRAM.
                config=Config(rows=16, cols=8, channels=1, block_m=64, block_k=256,
                              bank_queue_depth=2, clock_mhz=25.0, memory_preset="sdr"),
                # The memory system and the chip at 25 MHz: the scheduler routes at 32 to
                # 34 MHz beside the PHY.
                clock_mhz=25.0,
                nextpnr_opts="--router router2")},
            clock_mhz=100 / 3, array_mhz=100.0, baud=1_000_000,
            # Yosys 0.70 maps ECP5 LUTs with abc9 only, which takes tens of minutes on some of
            # the wide FIFOs here; classic abc maps the same netlist in about a minute.
            synth_opts="-run begin:map_luts",
            script_after_synth="techmap -map +/lattice/latches_map.v; abc -lut 4 -dress; "
                               "clean; synth_ecp5 -top {name} -run map_cells:",
            # router1 routes the whole design (array 111.4 MHz, sync 39.7 MHz on the netlist
            # of 4607816; 5,293 s of routing on a loaded machine), where router2 diverged on
            # it with two seeds and on the netlist before with three; on the SDRAM variant
            # router2 routes in about 4 minutes where router1 stalls. (nextpnr 0.11.1's
            # --placer-heap-beta changes nothing here: HeAP's iterations on the whole board
            # are identical at 0.55, 0.65 and 0.9.)
            nextpnr_opts="--router router1",
            bitstream_suffix="bit"),
        Board(
            name="icebreaker", family="ice40",
            platform_class="amaranth_boards.icebreaker:ICEBreakerPlatform",
            top_class=None,
            # The array alone does fit: its 8 cells on the 8 SB_MAC16, at 12 MHz; or a 4x4
            # array with two cells per SB_MAC16 (its dual 8x8 mode, cells_per_dsp=2).
            array_bench_class="boards.icebreaker:ICEBreakerArrayBench",
            # iCE40UP5K: 5,280 LUT4s, 30 4-kbit block RAMs, 8 SB_MAC16, 4 x 32 KB SPRAM.
            resources={"LUT4": 5_280, "FF": 5_280, "DSP": 8, "BRAM": 30, "SPRAM": 4},
            config=Config(rows=2, cols=4, channels=1, block_m=16, block_k=32,
                          memory_preset="ideal", bank_queue_depth=1, clock_mhz=12.0),
            hard_multipliers=None, memory="spram", memories=("spram",),
            clock_mhz=12.0, baud=115_200,
            # No -dsp: Yosys' SB_MAC16 inference (ice40_dsp) gets the sign extension of a
            # product added into a wider partial sum wrong (YosysHQ/yosys#2648; the 2x4 bench
            # came out as 4 blocks and no partial-sum adders for 8 cells), and rewrites
            # hand-instantiated blocks. The array's hard cells instantiate their blocks
            # (rtl/systolic/ice40.py), proved equal to plain multipliers in
            # tests/test_ice40_cells.py.
            synth_opts="", bitstream_suffix="bin",
            notes=("The smallest board design, the same 8 MACs as an 8x1 array (one output "
                   "lane) with 8-byte SPRAM beats and a one-deep command queue, synthesizes "
                   "to 10,966 SB_LUT4 and 7,382 flip-flops (Yosys 0.70, its cells on the 8 "
                   "SB_MAC16), against the UP5K's 5,280 LUT4s; the fit check refuses every "
                   "configuration.",)),
    )
}


def board(name):
    """The :class:`Board` called ``name``; ``ValueError`` lists the known names."""
    try:
        return BOARDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"board must be one of {', '.join(map(repr, BOARDS))}, "
                         f"not {name!r}") from None
