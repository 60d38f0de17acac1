"""Priority encoders over bit vectors, shared by the memory-system blocks that pick one slot
or one bank out of many."""

from amaranth import Signal

__all__ = ["lowest_set", "onehot_index"]


def lowest_set(m, bits, shape, name):
    """A wire of ``shape`` holding the index of the lowest set bit of ``bits`` (0 when none
    is)."""
    index = Signal(shape, name=name)
    # The last assignment wins, so walking down leaves the lowest set bit.
    for i in reversed(range(len(bits))):
        with m.If(bits[i]):
            m.d.comb += index.eq(i)
    return index


def onehot_index(m, onehot, shape, name):
    """A wire of ``shape`` holding the index of the set bit of a one-hot vector (0 when none
    is)."""
    index = Signal(shape, name=name)
    for i in range(len(onehot)):
        with m.If(onehot[i]):
            m.d.comb += index.eq(i)
    return index
