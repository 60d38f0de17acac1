"""The whole accelerator as a simulation top: :class:`rtl.top.Accelerator` on port 0 (through
a switchable random-stall injector) of a memory system with timing-checked device models (:class:`sim.memory.MemoryTestbench`), and
port 1 at the top level for the host, which loads A and B and reads C back through it as a
board's host bridge would.
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.accel.registers import RegisterBus
from rtl.top import Accelerator
from .axi_throttle import AXIThrottle
from .memory import MemoryTestbench

__all__ = ["AcceleratorTestbench", "stored_bytes"]


def stored_bytes(config, stored_rows):
    """Bytes from address 0 that device models storing ``stored_rows`` rows per bank back
    (:meth:`openmxu.address_map.AddressMap.stored_bytes`)."""
    return config.address_map.stored_bytes(stored_rows)


class AcceleratorTestbench(wiring.Component):
    """The accelerator of ``config`` with its memory system and device models.

    Parameters
    ----------
    config : Config
    stored_rows : int
        Rows per bank the device models store; commands may use :func:`stored_bytes`.

    Members
    -------
    bus : ``In(RegisterBus())``
    host : ``In(AXI4Signature(...))``
        The host's memory port.
    irq : ``Out(1)``
    throttle : ``In(1)``
        Random stalls on every channel between the accelerator and the memory system
        (:class:`sim.axi_throttle.AXIThrottle`).
    error, error_channel, error_rule, error_bank, error_cycle : ``Out``
        The device models' first timing violation (:class:`sim.memory.MemoryTestbench`).
    counters : ``Out``
        The channel controllers' counters.
    """

    def __init__(self, config, *, stored_rows=64):
        self.config = config
        self._memory = MemoryTestbench(
            timing=config.memory_preset, channels=config.channels, ports=2,
            order=config.address_order, bank_queue_depth=config.bank_queue_depth,
            id_width=config.axi_id_width, stored_rows=stored_rows)
        self.memory_bytes = stored_bytes(config, stored_rows)
        self._accelerator = Accelerator(config, memory_bytes=self.memory_bytes)
        memory_members = self._memory.signature.members
        super().__init__({
            "bus": In(RegisterBus()),
            "host": In(self._accelerator.axi_signature),
            "irq": Out(1),
            "throttle": In(1),
            **{name: memory_members[name] for name in (
                "counters", "error", "error_channel", "error_rule", "error_bank",
                "error_cycle")},
        })

    @property
    def shared_modules(self):
        return self._memory.shared_modules

    @property
    def accelerator(self):
        return self._accelerator

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = self._memory
        m.submodules.accelerator = accelerator = self._accelerator
        m.submodules.throttle = throttle = AXIThrottle(accelerator.axi_signature)
        wiring.connect(m, accelerator.m_axi, throttle.s_axi)
        wiring.connect(m, throttle.m_axi, memory.s_axi[0])
        m.d.comb += throttle.enable.eq(self.throttle)
        wiring.connect(m, wiring.flipped(self.host), memory.s_axi[1])
        wiring.connect(m, wiring.flipped(self.bus), accelerator.bus)
        m.d.comb += self.irq.eq(accelerator.irq)
        for name in ("counters", "error", "error_channel", "error_rule", "error_bank",
                     "error_cycle"):
            m.d.comb += getattr(self, name).eq(getattr(memory, name))
        return m
