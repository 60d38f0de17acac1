"""The HBM-style memory system: address decoding (controllers, ports and models to follow)."""

from .address import AddressDecoder

__all__ = ["AddressDecoder"]
