"""The iCEBreaker (Lattice iCE40UP5K) array bench.

No configuration of the whole accelerator fits the UP5K yet (the fit check refuses it; see
docs/boards.md), so the iCEBreaker has no board top. What the part does take is
measured with the array alone: :class:`ICEBreakerArrayBench` runs the board's array on the
12 MHz oscillator, fed pseudo-random operands, its results folded to an LED
(``openmxu bitstream --board icebreaker --array-only``). Every cell's multiply maps to an
``SB_MAC16`` (``synth_ice40 -dsp``), or, with ``--cells-per-dsp 2``, every pair of cells
shares one in its dual 8x8 mode (:class:`~rtl.systolic.pe.MultiplierPair`): 16 cells, a 4x4
array, on the part's 8 blocks.
"""

from amaranth import Elaboratable, Module
from amaranth.lib import io

from .array_bench import PseudoRandomArrayDriver, bench_array

__all__ = ["ICEBreakerArrayBench"]


class ICEBreakerArrayBench(Elaboratable):
    """The board's systolic array alone in ``sync`` (the platform's 12 MHz clock, with its
    power-on reset), fed pseudo-random operands and folded to the red LED.

    Parameters
    ----------
    board : Board
    config : Config
        Its ``rows``, ``cols`` and dataflow are the array's.
    array_mhz : None
        The array runs in ``sync``; there is no PLL here.
    hard_multipliers : int or None
        Array cells whose multiplier may map to an ``SB_MAC16``; default the board's (every
        cell).
    cells_per_dsp : int
        1, or 2 for two cells on each ``SB_MAC16``
        (:class:`~rtl.systolic.WeightStationaryArray`).
    """

    def __init__(self, *, board, config, array_mhz=None, hard_multipliers=None,
                 cells_per_dsp=1):
        if array_mhz is not None:
            raise ValueError(f"array_mhz must be None for {board.name}: its array bench runs "
                             f"on the board's {board.clock_mhz} MHz clock, not {array_mhz!r}")
        self.array = bench_array(board=board, config=config, hard_multipliers=hard_multipliers,
                                 cells_per_dsp=cells_per_dsp)

    def elaborate(self, platform):
        m = Module()
        m.submodules.driver = driver = PseudoRandomArrayDriver(self.array)
        m.submodules.led_r = led = io.Buffer("o", platform.request("led_r", 0, dir="-"))
        m.d.comb += led.o.eq(driver.out)
        return m
