"""Pack and unpack stream payloads by their Amaranth layouts, for testbench models.

The layouts come from :mod:`rtl.systolic.layouts`, so a model sees the same fields as the
gateware: structures are ``dict``, arrays are ``list``, numbers are ``int`` (signed where the
shape is signed).
"""

from amaranth.hdl import Shape, ShapeCastable
from amaranth.lib import data

__all__ = ["pack", "unpack", "merge_bytes"]


def pack(shape, value):
    """The bits of ``value`` laid out as ``shape``, as a non-negative ``int``."""
    if isinstance(shape, data.StructLayout):
        bits = 0
        for name, fld in shape:
            bits |= pack(fld.shape, value.get(name, 0)) << fld.offset
        return bits
    if isinstance(shape, data.ArrayLayout):
        if len(value) != shape.length:
            raise ValueError(f"expected {shape.length} elements, not {len(value)}")
        elem = Shape.cast(shape.elem_shape).width
        bits = 0
        for index, item in enumerate(value):
            bits |= pack(shape.elem_shape, item) << (index * elem)
        return bits
    width = Shape.cast(shape).width
    value = int(value)
    return value & ((1 << width) - 1)


def unpack(shape, bits):
    """The value whose bits, laid out as ``shape``, are ``bits``."""
    bits = int(bits)
    if isinstance(shape, data.StructLayout):
        return {name: unpack(fld.shape, bits >> fld.offset) for name, fld in shape}
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape).width
        return [unpack(shape.elem_shape, bits >> (index * elem))
                for index in range(shape.length)]
    shape = Shape.cast(shape)
    bits &= (1 << shape.width) - 1
    if shape.signed and shape.width and bits >> (shape.width - 1):
        bits -= 1 << shape.width
    return bits


def merge_bytes(old, new, strobe, nbytes):
    """``new`` written over ``old`` (both ``nbytes`` wide) in the bytes whose ``strobe`` bit
    is set, as AXI ``WSTRB`` does; a scoreboard's model of a masked write."""
    mask = 0
    for byte in range(nbytes):
        if strobe >> byte & 1:
            mask |= 0xFF << 8 * byte
    return (old & ~mask) | (new & mask)
