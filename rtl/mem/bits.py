"""Priority encoders, arbiters and one-hot selections over bit vectors, shared by the
memory-system blocks that pick one slot, bank or port out of many."""

from amaranth import Signal, Cat, Const, Mux

__all__ = ["lowest_set", "onehot_index", "round_robin", "interleaved_round_robin", "select_onehot"]


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


def round_robin(m, requests, count, *, accepted, name, hold=True):
    """A round-robin arbiter over ``count`` request bits: returns the one-hot grant. The
    priority moves past the granted requester in the cycle ``accepted`` is high. With
    ``hold``, a grant that is not accepted holds while its requester still requests (a
    stream's payload must not change under a waiting valid)."""
    if count == 1:
        return requests
    last = Signal(range(count), name=f"{name}_last", init=count - 1)
    # Requests above the last grant first, then the rest from the bottom.
    above = Signal(count, name=f"{name}_above")
    m.d.comb += above.eq(requests & Cat(Const(0, 1), *(last < i for i in range(1, count))))
    candidates = Mux(above.any(), above, requests)
    lowest = candidates & ~(candidates - 1)
    grant = Signal(count, name=f"{name}_grant")
    if hold:
        held = Signal(count, name=f"{name}_held")   # last cycle's grant, not accepted
        m.d.comb += grant.eq(Mux((held & requests).any(), held, lowest))
        m.d.sync += held.eq(Mux(accepted, 0, grant))
    else:
        m.d.comb += grant.eq(lowest)
    with m.If(accepted & requests.any()):
        for i in range(count):
            with m.If(grant[i]):
                m.d.sync += last.eq(i)
    return grant


def interleaved_round_robin(m, requests, groups, *, name):
    """Round robin over ``groups`` equal groups of request bits, taken in interleaved order
    (the first member of every group, then the second of every group, ...), so that the
    requesters that follow each other in the rotation belong to different groups. When
    whole groups turn eligible and ineligible together (a group just served waits), a
    rotation in plain order would reach the other members of the group just served while
    it waits, and keep serving its first member; in interleaved order every member gets
    its turn. Returns the one-hot grant."""
    count = len(requests)
    size = count // groups
    # order[p] is the position p of the rotation's requester: group (p % groups), member
    # (p // groups); as a flat index, group * size + member.
    flat = [(p % groups) * size + p // groups for p in range(count)]
    rotated = round_robin(m, Cat(*(requests[i] for i in flat)), count, accepted=Const(1),
                          name=name, hold=False)
    grant = Signal(count, name=f"{name}_grant")
    m.d.comb += grant.eq(Cat(*(rotated[flat.index(i)] for i in range(count))))
    return grant


def select_onehot(onehot, values):
    """The element of ``values`` whose bit of ``onehot`` is set (0 when none is), as an
    AND-OR tree: one level of gates per bit rather than a chain of multiplexers."""
    result = 0
    for bit, value in zip(onehot, values):
        result = result | Mux(bit, value, 0)
    return result
