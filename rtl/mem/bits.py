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


def interleaved_round_robin(m, levels, groups, *, name, accepted=Const(1)):
    """Round robin over ``groups`` equal groups of request bits, taken in interleaved order
    (the first member of every group, then the second of every group, ...), so that the
    requesters that follow each other in the rotation belong to different groups. When
    whole groups turn eligible and ineligible together (a group just served waits), a
    rotation in plain order would reach the other members of the group just served while
    it waits, and keep serving its first member; in interleaved order every member gets
    its turn.

    ``levels`` is one request vector, or a list of them in priority order: the first level
    with a request is served, in one rotation shared by all levels. Returns the one-hot
    grant; the rotation moves past it in a cycle ``accepted`` is high.

    Each level's grant is the lowest set bit of its requests after the last grant followed
    by all of its requests: one carry chain of twice the requesters, and an OR of the two
    halves. The same chain gives the positions after the grant, the next rotation."""
    if not isinstance(levels, (list, tuple)):
        levels = [levels]
    count = len(levels[0])
    size = count // groups
    # order[p] is the position p of the rotation's requester: group (p % groups), member
    # (p // groups); as a flat index, group * size + member.
    flat = [(p % groups) * size + p // groups for p in range(count)]
    after_last = Signal(count, name=f"{name}_after_last")  # positions after the last grant
    rotated_grant = Signal(count, name=f"{name}_rotated")
    choice = Const(0, count)
    after_choice = Const(0, count)
    any_level = Const(0, 1)
    for k, level in reversed(list(enumerate(levels))):
        rotated = Signal(count, name=f"{name}_level{k}")
        m.d.comb += rotated.eq(Cat(*(level[i] for i in flat)))
        after = Signal(count, name=f"{name}_level{k}_after")
        m.d.comb += after.eq(rotated & after_last)
        candidates = Cat(after, rotated)
        below = Signal(2 * count, name=f"{name}_level{k}_below")   # bits below the lowest
        m.d.comb += below.eq(candidates - 1)
        lowest = candidates & ~below
        # Above the lowest set bit: the bits that the borrow of ``candidates - 1`` left
        # alone. A grant among ``after`` has the rest of ``after`` above it; a grant among
        # the rest, the rest of ``rotated``.
        above = ~(candidates ^ below)
        choice = Mux(rotated.any(), lowest[:count] | lowest[count:], choice)
        after_choice = Mux(rotated.any(), Mux(after.any(), above[:count], above[count:]),
                           after_choice)
        any_level = any_level | rotated.any()
    m.d.comb += rotated_grant.eq(choice)
    with m.If(accepted & any_level):
        m.d.sync += after_last.eq(after_choice)
    grant = Signal(count, name=f"{name}_grant")
    m.d.comb += grant.eq(Cat(*(rotated_grant[flat.index(i)] for i in range(count))))
    return grant


def select_onehot(onehot, values):
    """The element of ``values`` whose bit of ``onehot`` is set (0 when none is), as an
    AND-OR tree: one level of gates per bit rather than a chain of multiplexers."""
    result = 0
    for bit, value in zip(onehot, values):
        result = result | Mux(bit, value, 0)
    return result
