"""An AXI4 register slice: one register stage on each of the five channels, at full
throughput.

Every channel gets a skid buffer (:func:`rtl.skid.skid_buffer`): VALID and the payload leave
the slice from registers, and READY leaves it from a register too, so no combinational path
crosses the slice in either direction. A transfer takes one more cycle, and a channel still
moves one transfer per cycle while its sink keeps READY high.

An FPGA top puts a slice between blocks whose handshakes would otherwise chain into one long
path, such as the accelerator's DMA engines and the memory system's port, whose READY comes
from its burst-slot selection.
"""

from amaranth import Module, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..params import validating
from ..skid import skid_buffer
from .axi import AXI4Signature, CHANNELS

__all__ = ["AXI4RegisterSlice"]

class AXI4RegisterSlice(wiring.Component):
    """``s_axi`` (from a manager) to ``m_axi`` (to a subordinate) through one register stage
    per channel (see the module documentation).

    Parameters
    ----------
    signature : AXI4Signature
        Of both sides.

    Members
    -------
    s_axi : ``In(signature)``
    m_axi : ``Out(signature)``
    """

    def __init__(self, signature):
        with validating(self):
            if not isinstance(signature, AXI4Signature):
                raise ValueError(f"signature must be an AXI4Signature, not {signature!r}")
        self.axi_signature = signature
        super().__init__({"s_axi": In(signature), "m_axi": Out(signature)})

    def __repr__(self):
        return f"AXI4RegisterSlice({self.axi_signature!r})"

    def elaborate(self, platform):
        m = Module()
        for name, (valid, ready, fields, downstream) in CHANNELS.items():
            source, sink = (self.s_axi, self.m_axi) if downstream else (self.m_axi, self.s_axi)
            skid_buffer(m, name,
                        source_valid=getattr(source, valid),
                        source_ready=getattr(source, ready),
                        source_payload=Cat(*(getattr(source, f) for f in fields)),
                        sink_valid=getattr(sink, valid),
                        sink_ready=getattr(sink, ready),
                        sink_payload=Cat(*(getattr(sink, f) for f in fields)))
        return m

