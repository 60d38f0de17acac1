"""The HBM-style memory system (in progress): address decoding, the AXI4 port signature, the
DRAM command interface, a timing-checked device model and the per-channel controller core."""

from .address import AddressDecoder
from .axi import AXI4Signature, Burst, Response
from .commands import DramSignature, RowCommand, ColumnCommand
from .controller import ChannelController
from .device import DramDevice

__all__ = ["AddressDecoder", "AXI4Signature", "Burst", "Response", "DramSignature",
           "RowCommand", "ColumnCommand", "ChannelController", "DramDevice"]
