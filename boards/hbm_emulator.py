"""An HBM emulator for FPGA boards: the memory system's controllers, unchanged, in front of
block-RAM pseudo-channels that keep HBM timing.

Each pseudo-channel is a :class:`~rtl.mem.device.DramDevice`: its storage becomes block RAM,
and its timing checker, built into the bitstream, latches the first rule a controller breaks.
The accelerator therefore sees HBM latencies, bank conflicts, refresh and bus turnarounds on
a board that has no HBM, and cycle counts measured on the board compare with the simulator's.

Only the first ``stored_rows`` rows of every bank are stored: commands may use
:meth:`AddressMap.stored_bytes <openmxu.address_map.AddressMap.stored_bytes>` bytes from
address 0 when the row is the top address field, as in the default address order.
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openmxu.address_map import DEFAULT_ORDER
from rtl.mem.device import DramDevice, ErrorRule
from rtl.mem.system import MemorySystem
from rtl.params import validating

__all__ = ["HBMEmulator"]


class HBMEmulator(wiring.Component):
    """A :class:`~rtl.mem.system.MemorySystem` with a block-RAM
    :class:`~rtl.mem.device.DramDevice` on every pseudo-channel.

    Parameters
    ----------
    timing, channels, ports, order, id_width, bank_queue_depth, read_bursts, write_bursts
        As for :class:`~rtl.mem.system.MemorySystem`.
    stored_rows : int
        Rows per bank held in block RAM (a power of two).

    Members
    -------
    s_axi : ``In(AXI4Signature(...)).array(ports)``
        The memory system's ports.
    error : ``Out(1)``
        A pseudo-channel saw a timing violation (sticky until reset).
    error_rule : ``Out(ErrorRule)``
        The first violated rule (the lowest channel's when several fail in one cycle).
    """

    def __init__(self, *, timing="hbm2-2000", channels=1, ports=1, order=DEFAULT_ORDER,
                 id_width=4, bank_queue_depth=2, read_bursts=16, write_bursts=16, stored_rows=2):
        with validating(self):
            self._system = MemorySystem(timing=timing, channels=channels, ports=ports,
                                        order=order, id_width=id_width,
                                        bank_queue_depth=bank_queue_depth, read_bursts=read_bursts,
                                        write_bursts=write_bursts)
            self._devices = [DramDevice(timing=self._system.timing, stored_rows=stored_rows)
                             for _ in range(channels)]
        self.stored_rows = stored_rows
        super().__init__({
            "s_axi": In(self._system.axi_signature).array(ports),
            "error": Out(1),
            "error_rule": Out(ErrorRule),
        })

    @property
    def system(self):
        return self._system

    @property
    def storage_bytes(self):
        """Bytes of block RAM holding data, over all pseudo-channels."""
        return sum(device.storage_bytes for device in self._devices)

    def __repr__(self):
        return (f"HBMEmulator({self._system!r}, stored_rows={self.stored_rows})")

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = system = self._system
        for port in range(len(self.s_axi)):
            wiring.connect(m, wiring.flipped(self.s_axi[port]), system.s_axi[port])
        for channel in reversed(range(len(self._devices))):
            m.submodules[f"channel{channel}"] = device = self._devices[channel]
            wiring.connect(m, system.dram[channel], device.dram)
            # The last assignment wins: the lowest failing channel is reported.
            with m.If(device.error):
                m.d.comb += [self.error.eq(1), self.error_rule.eq(device.error_rule)]
        return m
