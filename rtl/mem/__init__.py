"""The HBM-style memory system (in progress): address decoding, the AXI4 port signature, the
DRAM command interface, a timing-checked device model, the per-channel controller core and a
first AXI4 port in front of it."""

from .address import AddressDecoder
from .axi import AXI4Signature, Burst, Response
from .commands import DramSignature, RowCommand, ColumnCommand
from .controller import ChannelController
from .device import DramDevice
from .port import AXI4ChannelPort

__all__ = ["AddressDecoder", "AXI4Signature", "Burst", "Response", "DramSignature",
           "RowCommand", "ColumnCommand", "ChannelController", "DramDevice", "AXI4ChannelPort"]
