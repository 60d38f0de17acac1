"""Simulation tops of the boards' memory back-ends: the memory system on the SDR SDRAM PHY and
a pin-level chip model, built with Verilator by :func:`sdram_design`.

::

    s_axi ──> MemorySystem(timing=controller_timing("sdr"))   in reset until phy.ready
                 │ dram[0]
              SDRAMPHY("sdr") ──pins──┐
                                      ├─ Mux(inject) ──> SDRAMChip("sdr")
              inject_pins (testbench) ┘

``inject`` hands the chip's pins to the testbench, which can then break a rule on purpose
(proving that the chip model's checker is live) without a second build.
"""

from amaranth import Module, Mux, ResetInserter
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from boards.sdram import SDRAMPHY, SDRAMPinSignature
from rtl.mem.system import MemorySystem, counter_layout
from rtl.params import validating
from .runner import Design
from .sdram_chip import SDRAMChip, ChipRule

__all__ = ["SDRAMTestbench", "sdram_design"]

#: The pins a testbench can drive instead of the PHY (all but ``dq_i``).
_DRIVEN_PINS = ("clk", "cke", "cs_n", "ras_n", "cas_n", "we_n", "ba", "a", "dqm", "dq_o",
                "dq_oe")


class SDRAMTestbench(wiring.Component):
    """:class:`~rtl.mem.system.MemorySystem` (one channel) -> :class:`boards.sdram.SDRAMPHY` ->
    :class:`sim.sdram_chip.SDRAMChip`, as a Verilator top.

    Parameters
    ----------
    timing : str or TimingPreset
        The chip (default ``"sdr"``); the memory system gets the PHY's
        :attr:`~boards.sdram.SDRAMPHY.controller_timing`.
    row_slack, init_cycles, read_capture
        As for :class:`~boards.sdram.SDRAMPHY`; the chip requires the same ``init_cycles``.
    stored_rows : int
        Rows per bank the chip model stores.
    ports, bank_queue_depth, id_width, address_bits, read_bursts, write_bursts
        As for :class:`~rtl.mem.system.MemorySystem`.

    Members
    -------
    s_axi : ``In(AXI4Signature(...)).array(ports)``
    counters : ``Out(data.ArrayLayout(counter_layout(), 1))``
    ready : ``Out(1)``
        The PHY has initialized the chip (the memory system runs from then on).
    phy_error : ``Out(1)``
        The PHY's sticky error.
    deferred : ``Out(16)``
        Row commands the PHY deferred behind column commands.
    initialized, error, error_rule, error_bank, error_cycle, cycle : ``Out``
        The chip model's (``error_rule`` a :class:`~sim.sdram_chip.ChipRule`).
    inject : ``In(1)``
        The chip's pins come from ``inject_pins`` instead of the PHY.
    inject_pins : ``In(SDRAMPinSignature(timing=timing))``
        ``inject_pins.dq_i`` is the chip's ``dq`` drive.
    """

    def __init__(self, *, timing="sdr", row_slack=1, init_cycles=None, read_capture="rise",
                 stored_rows=4, ports=1, bank_queue_depth=2, id_width=4, address_bits=None,
                 read_bursts=8, write_bursts=8):
        with validating(self):
            self._phy = SDRAMPHY(timing=timing, init_cycles=init_cycles, row_slack=row_slack,
                                 read_capture=read_capture)
            self._system = MemorySystem(timing=self._phy.controller_timing, channels=1,
                                        ports=ports, bank_queue_depth=bank_queue_depth,
                                        id_width=id_width, address_bits=address_bits,
                                        read_bursts=read_bursts, write_bursts=write_bursts)
            self._chip = SDRAMChip(timing=timing, stored_rows=stored_rows,
                                   init_cycles=self._phy.init_cycles)
        chip = self._chip
        super().__init__({
            "s_axi": In(self._system.axi_signature).array(ports),
            "counters": Out(data.ArrayLayout(counter_layout(), 1)),
            "ready": Out(1),
            "phy_error": Out(1),
            "deferred": Out(16),
            "initialized": Out(1),
            "error": Out(1),
            "error_rule": Out(ChipRule),
            "error_bank": Out(chip.error_bank.shape()),
            "error_cycle": Out(len(chip.error_cycle)),
            "cycle": Out(len(chip.cycle)),
            "inject": In(1),
            "inject_pins": In(SDRAMPinSignature(timing=self._phy.timing)),
        })

    @property
    def system(self):
        return self._system

    @property
    def phy(self):
        return self._phy

    @property
    def chip(self):
        return self._chip

    def elaborate(self, platform):
        m = Module()
        system, phy, chip = self._system, self._phy, self._chip
        # The controller has no ready input: it starts, refresh timer and all, once the chip
        # is initialized.
        m.submodules.memory = ResetInserter({"sync": ~phy.ready})(system)
        m.submodules.phy = phy
        m.submodules.chip = chip
        for p in range(len(system.s_axi)):
            wiring.connect(m, wiring.flipped(self.s_axi[p]), system.s_axi[p])
        wiring.connect(m, system.dram[0], phy.dram)
        for name in _DRIVEN_PINS:
            m.d.comb += getattr(chip.pins, name).eq(
                Mux(self.inject, getattr(self.inject_pins, name), getattr(phy.pins, name)))
        m.d.comb += [
            phy.pins.dq_i.eq(chip.pins.dq_i),
            self.inject_pins.dq_i.eq(chip.pins.dq_i),
            self.counters.eq(system.counters),
            self.ready.eq(phy.ready),
            self.phy_error.eq(phy.error),
            self.deferred.eq(phy.deferred),
            self.initialized.eq(chip.initialized),
            self.error.eq(chip.error),
            self.error_rule.eq(chip.error_rule),
            self.error_bank.eq(chip.error_bank),
            self.error_cycle.eq(chip.error_cycle),
            self.cycle.eq(chip.cycle),
        ]
        return m


def sdram_design(*, timing="sdr", row_slack=1, init_cycles=500, stored_rows=4, bank_queue_depth=2,
                 bursts=4, read_capture="rise"):
    """The :class:`SDRAMTestbench` as a cached Verilator build: the power-up wait shortened
    to ``init_cycles``, and a small memory system (``bank_queue_depth`` requests per bank, ``bursts`` in
    flight per direction) to keep the build short."""
    name = timing if isinstance(timing, str) else timing.name
    params = {"timing": name, "row_slack": row_slack, "init_cycles": init_cycles,
              "stored_rows": stored_rows, "bank_queue_depth": bank_queue_depth, "bursts": bursts,
              "read_capture": read_capture}
    if not isinstance(timing, str):
        params["timing_figures"] = timing.describe()
    return Design(name=f"board_sdram_{name.replace('-', '_')}_s{row_slack}_{read_capture}",
                  factory=lambda: SDRAMTestbench(
                      timing=timing, row_slack=row_slack, init_cycles=init_cycles,
                      stored_rows=stored_rows, bank_queue_depth=bank_queue_depth,
                      read_bursts=bursts, write_bursts=bursts, read_capture=read_capture),
                  params=params, memory_init=False)
