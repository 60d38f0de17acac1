"""The HBM-style memory system: address decoding, the AXI4 port signature, the DRAM command
interface, a timing-checked device model, the per-channel controller, the AXI4 ports, the
crossbar, the whole memory system and a traffic generator for benchmarks."""

from .address import AddressDecoder
from .axi import AXI4Signature, Burst, Response
from .commands import DramSignature, RowCommand, ColumnCommand
from .controller import ChannelController
from .device import DramDevice
from .port import AXI4Port
from .interconnect import Crossbar
from .system import MemorySystem

__all__ = ["AddressDecoder", "AXI4Signature", "Burst", "Response", "DramSignature",
           "RowCommand", "ColumnCommand", "ChannelController", "DramDevice", "AXI4Port",
           "Crossbar", "MemorySystem"]
