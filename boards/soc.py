"""What every board top holds, whatever the board: the host link on a UART, the accelerator,
and a memory back-end the two share.

::

    uart_rx ──> HostLinkUART ──bus──────────────────────────> Accelerator.bus
    uart_tx <──┘     └──m_axi──> slice ──> memory port 1        │ m_axi
                                           memory port 0 <── slice

Each AXI4 link passes an :class:`~rtl.mem.axi_slice.AXI4RegisterSlice`, so that the memory
ports' READY logic and the DMA engines' handshakes are never one combinational path.

The board tops (:mod:`boards.ulx3s`, :mod:`boards.icebreaker`) add the clock, the reset and
the pins; simulation builds this component as it is, with models on its memory pins
(``tests/test_board.py``), so the whole board path runs on Verilator.

Memory back-ends (``memory``):

``"hbm"``
    :class:`boards.hbm_emulator.HBMEmulator`: the memory system's controllers in front of
    block-RAM pseudo-channels that keep the HBM timing of ``config.memory_preset``.
``"sdram"``
    The memory system with one ``"sdr"`` channel and :class:`boards.sdram.SDRAMPHY` on the
    ``sdram`` pins (the ULX3S's 32 MB SDR SDRAM). ``config.memory_preset`` must be ``"sdr"``.
``"spram"``
    :class:`boards.spram.SPRAMMemory`: the iCE40UP5K's 128 KB of single-port RAM.
"""

from amaranth import Module, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openmxu.config import Config
from rtl.params import check_int, validating
from rtl.mem.axi_slice import AXI4RegisterSlice
from rtl.top import Accelerator
from .host_link import HostLinkUART
from .uart import divisor_for

__all__ = ["BoardSoC", "MEMORIES", "SPRAM_BYTES", "memory_bytes"]

MEMORIES = ("hbm", "sdram", "spram")
#: The iCE40UP5K's four SB_SPRAM256KA.
SPRAM_BYTES = 128 * 1024


def memory_bytes(config, memory, *, stored_rows=2):
    """Bytes from address 0 that commands may use on the ``memory`` back-end."""
    if memory == "hbm":
        return config.address_map.stored_bytes(stored_rows)
    if memory == "spram":
        return min(SPRAM_BYTES, config.address_map.capacity_bytes)
    return config.address_map.capacity_bytes


class BoardSoC(wiring.Component):
    """The host link, the accelerator and its memory (see the module documentation).

    Parameters
    ----------
    config : Config
        The accelerator.
    memory : str
        One of :data:`MEMORIES`.
    clock_hz : int
        Frequency of the ``sync`` domain (for the UART divisor and the link timeout).
    baud : int
        UART bit rate; ``clock_hz / baud`` must be within 2 % of an integer of at least 4.
    stored_rows : int
        ``"hbm"`` only: rows per bank held in block RAM.
    queue_depth : int
        Commands the accelerator queues.
    bursts : int
        ``"hbm"`` and ``"sdram"``: bursts in flight per memory port and direction (1 to 64).
        The default 4 keeps the ports small and shallow on an FPGA (on ECP5, 16 slots cost
        about 11,000 LUT4s more for the two ports, and their oldest-slot selection becomes
        the longest logic path); the accelerator's reads are 16-beat bursts, so four cover
        the emulator's latency.
    hard_multipliers : int or None
        Array cells on DSP blocks (:class:`rtl.top.Accelerator`).
    array_domain : str
        The systolic array's clock domain (:class:`rtl.top.Accelerator`); the board top
        defines it when it is not ``"sync"``.
    link_timeout_ms : float
        A frame that stops arriving for this long is dropped and answered with TIMEOUT.
    sdram_init_cycles : int or None
        ``"sdram"`` only: the power-up wait before initialization (default 200 us of
        ``clock_hz``; simulations shorten it).
    sdram_read_capture : str
        ``"sdram"`` only: ``"fall"`` (the board, whose chip clock is shifted by 180 degrees)
        or ``"rise"`` (a simulation whose chip model shares the clock);
        :class:`boards.sdram.SDRAMPHY`.

    Members
    -------
    uart_rx : ``In(1, init=1)``
    uart_tx : ``Out(1, init=1)``
    irq : ``Out(1)``
        The accelerator's interrupt (``STATUS.done``).
    memory_error : ``Out(1)``
        ``"hbm"``: a pseudo-channel saw a timing violation (sticky).
    sdram : ``Out(SDRAMPins)``
        ``"sdram"`` only: the chip's pins.
    """

    def __init__(self, *, config, memory, clock_hz, baud, stored_rows=2, queue_depth=4,
                 bursts=4, hard_multipliers=None, array_domain="sync", link_timeout_ms=50.0,
                 sdram_init_cycles=None, sdram_read_capture="fall"):
        with validating(self):
            if not isinstance(config, Config):
                raise ValueError(f"config must be an openmxu.Config, not {config!r}")
            if memory not in MEMORIES:
                raise ValueError(f"memory must be one of {', '.join(map(repr, MEMORIES))}, "
                                 f"not {memory!r}")
            check_int("clock_hz", clock_hz, 1_000_000, 1_000_000_000)
            self.divisor = divisor_for(clock_hz, baud)
            if memory == "sdram" and config.memory_preset != "sdr":
                raise ValueError(f"memory_preset must be 'sdr' for the SDRAM back-end, not "
                                 f"{config.memory_preset!r}")
            if memory == "sdram" and config.channels != 1:
                raise ValueError(f"channels must be 1 for the SDRAM back-end (one chip), not "
                                 f"{config.channels}")
            if not 0.01 <= link_timeout_ms <= 10_000:
                raise ValueError(f"link_timeout_ms must be between 0.01 and 10000, not "
                                 f"{link_timeout_ms}")
            self.config = config
            self.memory = memory
            self.clock_hz = clock_hz
            self.baud = baud
            self.memory_bytes = memory_bytes(config, memory, stored_rows=stored_rows)
            self.bursts = bursts
            self._memory = self._memory_backend(stored_rows, sdram_init_cycles,
                                                sdram_read_capture)
            self.accelerator = Accelerator(config, memory_bytes=self.memory_bytes,
                                           queue_depth=queue_depth,
                                           hard_multipliers=hard_multipliers,
                                           array_domain=array_domain)
        sig = self.accelerator.axi_signature
        self.link = HostLinkUART(divisor=self.divisor, data_bytes=sig.data_width // 8,
                                 addr_width=sig.addr_width, id_width=sig.id_width,
                                 timeout_cycles=max(20 * self.divisor,
                                                    round(clock_hz * link_timeout_ms / 1000)))
        members = {
            "uart_rx": In(1, init=1),
            "uart_tx": Out(1, init=1),
            "irq": Out(1),
            "memory_error": Out(1),
        }
        if memory == "sdram":
            members["sdram"] = Out(self._phy.pins.signature)
        super().__init__(members)

    def _memory_backend(self, stored_rows, sdram_init_cycles, sdram_read_capture):
        config = self.config
        if self.memory == "hbm":
            from .hbm_emulator import HBMEmulator
            backend = HBMEmulator(
                timing=config.memory_preset, channels=config.channels, ports=2,
                order=config.address_order, id_width=config.axi_id_width,
                bank_queue_depth=min(config.bank_queue_depth, 2), read_bursts=self.bursts,
                write_bursts=self.bursts, stored_rows=stored_rows)
            return backend
        if self.memory == "sdram":
            from rtl.mem.system import MemorySystem
            from .sdram import SDRAMPHY
            if sdram_init_cycles is None:
                sdram_init_cycles = round(self.clock_hz * 200e-6)
            # The PHY samples read data on the falling edge: the chip's clock pin is the
            # PLL's 180-degree output, so a CL 2 beat is valid around sync's falling edge.
            self._phy = SDRAMPHY(timing="sdr", init_cycles=sdram_init_cycles,
                                 read_capture=sdram_read_capture)
            # The controller is told the PHY's latency and command slack
            # (boards.sdram.controller_timing), not the bare chip's.
            return MemorySystem(
                timing=self._phy.controller_timing, channels=1, ports=2,
                order=config.address_order, id_width=config.axi_id_width,
                bank_queue_depth=min(config.bank_queue_depth, 2), read_bursts=self.bursts,
                write_bursts=self.bursts)
        from .spram import SPRAMMemory
        address_map = config.address_map
        backend = SPRAMMemory(data_bytes=address_map.timing.burst_bytes,
                              addr_width=address_map.address_bits,
                              id_width=config.axi_id_width, ports=2)
        return backend

    def __repr__(self):
        return (f"BoardSoC({self.config!r}, memory={self.memory!r}, clock_hz={self.clock_hz}, "
                f"baud={self.baud})")

    def elaborate(self, platform):
        m = Module()
        m.submodules.host_link = link = self.link
        m.submodules.accelerator = accelerator = self.accelerator
        if self.memory == "sdram":
            # The controller has no ready input: it is held in reset until the PHY has
            # initialized the chip.
            m.submodules.memory = memory = ResetInserter({"sync": ~self._phy.ready})(
                self._memory)
        else:
            m.submodules.memory = memory = self._memory
        m.d.comb += [link.rx.eq(self.uart_rx), self.uart_tx.eq(link.tx),
                     self.irq.eq(accelerator.irq)]
        wiring.connect(m, link.bus, accelerator.bus)
        for port, manager in enumerate((accelerator.m_axi, link.m_axi)):
            m.submodules[f"slice{port}"] = axi_slice = AXI4RegisterSlice(
                self.accelerator.axi_signature)
            wiring.connect(m, manager, axi_slice.s_axi)
            wiring.connect(m, axi_slice.m_axi, memory.s_axi[port])
        if self.memory == "hbm":
            m.d.comb += self.memory_error.eq(memory.error)
        if self.memory == "sdram":
            m.submodules.sdram_phy = phy = self._phy
            wiring.connect(m, memory.dram[0], phy.dram)
            wiring.connect(m, phy.pins, wiring.flipped(self.sdram))
        return m
