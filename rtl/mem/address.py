"""Address decoding: a global byte address cut into channel, bank group, bank, row, column and
burst offset, following an :class:`~openmxu.address_map.AddressMap`."""

from amaranth import Module, unsigned
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from openmxu.address_map import AddressMap
from ..params import validating

__all__ = ["AddressDecoder", "fields_layout"]


def fields_layout(address_map):
    """The ``StructLayout`` of decoded fields. A field with one value (no bank groups on SDR,
    a single channel) is one bit wide and always 0, as zero-width wires export to Verilog
    as ``[-1:0]``, which tools read as two bits."""
    widths = address_map.widths
    return data.StructLayout({name: unsigned(max(1, widths[name]))
                              for name in ("channel", "bank_group", "bank", "row", "column",
                                           "offset")})


class AddressDecoder(wiring.Component):
    """Split an address into its fields, combinationally.

    The decoding is pure wiring (bit slices), so the interconnect and the controllers can
    each carry their own copy at no cost; the map lives in one place, the Python
    :class:`~openmxu.address_map.AddressMap` that the driver and the models also use.

    Parameters
    ----------
    address_map : AddressMap
        The field order and widths.

    Members
    -------
    address : ``In(address_map.address_bits)``
        A byte address below ``address_map.capacity_bytes``.
    fields : ``Out(fields_layout(address_map))``
        ``channel``, ``bank_group``, ``bank`` (within its group), ``row``, ``column`` (in
        bursts) and ``offset`` (byte within the burst), as :meth:`AddressMap.decode` gives.
        Fields the map gives no bits are 1 bit wide and 0.
    """

    def __init__(self, *, address_map):
        with validating(self):
            if not isinstance(address_map, AddressMap):
                raise ValueError(f"address_map must be an AddressMap, not {address_map!r}")
        self._address_map = address_map
        super().__init__({"address": In(address_map.address_bits),
                          "fields": Out(fields_layout(address_map))})

    @property
    def address_map(self):
        return self._address_map

    def elaborate(self, platform):
        m = Module()
        widths, shifts = self._address_map.widths, self._address_map.shifts
        for name, width in widths.items():
            if width:
                low = shifts[name]
                m.d.comb += self.fields[name].eq(self.address[low:low + width])
        return m

    def __repr__(self):
        return f"AddressDecoder(address_map={self._address_map!r})"
