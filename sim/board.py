"""A board as a simulation top: :class:`boards.soc.BoardSoC` with its UART pins at the top
level, and for the SDRAM back-end the pin-level chip model (:class:`sim.sdram_chip.SDRAMChip`)
on its memory pins, so that the host driver's bytes travel the whole board path.

``memory_error`` is the back-end's first timing violation: the HBM emulator's device checkers,
or the SDRAM chip model's init and timing checks.
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from boards.soc import BoardSoC
from .sdram_chip import SDRAMChip

__all__ = ["BoardTestbench"]


class BoardTestbench(wiring.Component):
    """A :class:`~boards.soc.BoardSoC` (same parameters, keyword-only) with a chip model on
    the SDRAM pins.

    Members
    -------
    uart_rx : ``In(1, init=1)``
    uart_tx : ``Out(1, init=1)``
    irq : ``Out(1)``
    memory_error : ``Out(1)``
    """

    def __init__(self, *, sdram_stored_rows=4, **soc_parameters):
        self.soc = BoardSoC(**soc_parameters)
        self._chip = None
        if self.soc.memory == "sdram":
            self._chip = SDRAMChip(timing="sdr", stored_rows=sdram_stored_rows,
                                   init_cycles=soc_parameters.get("sdram_init_cycles"))
        super().__init__({
            "uart_rx": In(1, init=1),
            "uart_tx": Out(1, init=1),
            "irq": Out(1),
            "memory_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.board = soc = self.soc
        m.d.comb += [soc.uart_rx.eq(self.uart_rx), self.uart_tx.eq(soc.uart_tx),
                     self.irq.eq(soc.irq)]
        if self._chip is None:
            m.d.comb += self.memory_error.eq(soc.memory_error)
        else:
            m.submodules.sdram_chip = chip = self._chip
            wiring.connect(m, soc.sdram, chip.pins)
            m.d.comb += self.memory_error.eq(chip.error)
        return m
