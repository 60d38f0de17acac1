"""Random backpressure on an AXI4 link, for testbenches: a pass-through that, while
``enable`` is high, blocks each of the five channels in pseudo-random cycles (about one in
four, from a 16-bit LFSR per channel).

A blocked channel shows neither VALID to its sink nor READY to its source, so no transfer
happens. A channel whose sink has seen VALID without READY is not blocked in the next
cycle, so VALID, once shown, stays until the transfer, as AXI requires.
"""

from amaranth import Module, Signal, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.mem.axi import CHANNELS

__all__ = ["AXIThrottle"]

LFSR_TAPS = 0xB400


class AXIThrottle(wiring.Component):
    """Passes ``s_axi`` (from a manager) to ``m_axi`` (to a subordinate) with random stalls.

    Parameters
    ----------
    signature : AXI4Signature
    seed : int
        Seed of the first channel's LFSR (the others follow it).

    Members
    -------
    s_axi : ``In(signature)``
    m_axi : ``Out(signature)``
    enable : ``In(1)``
    """

    def __init__(self, signature, *, seed=0x1D2C):
        self.seed = seed
        super().__init__({"s_axi": In(signature), "m_axi": Out(signature), "enable": In(1)})

    def elaborate(self, platform):
        m = Module()
        for index, (name, (valid, ready, payload, downstream)) in enumerate(CHANNELS.items()):
            source, sink = (self.s_axi, self.m_axi) if downstream else (self.m_axi, self.s_axi)
            lfsr = Signal(16, name=f"{name}_lfsr", init=(self.seed * (index + 1)) & 0xFFFF | 1)
            m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ LFSR_TAPS, lfsr >> 1))
            shown = Signal(name=f"{name}_shown")      # the sink saw VALID without READY
            block = Signal(name=f"{name}_block")
            m.d.comb += block.eq(self.enable & (lfsr[:2] == 0) & ~shown)
            m.d.comb += [
                getattr(sink, valid).eq(getattr(source, valid) & ~block),
                getattr(source, ready).eq(getattr(sink, ready) & ~block),
            ]
            m.d.sync += shown.eq(getattr(sink, valid) & ~getattr(sink, ready))
            for signal in payload:
                m.d.comb += getattr(sink, signal).eq(getattr(source, signal))
        return m
