"""The array in a clock domain of its own.

The grid of processing elements is the part of the accelerator whose logic is shortest per
register (a multiply, then an add) and the part that sets the peak rate, so a board may clock
it faster than the sequencer, the DMA engines and the memory system. :class:`ArrayClockCrossing`
wraps an array of :mod:`rtl.systolic.array` with the same interface in the ``sync`` domain and
runs the array in another: every stream of the array passes an asynchronous FIFO (Gray-coded
pointers, two-flop synchronizers; :class:`rtl.fifo.CrossingFIFO`)::

    sync domain                    │ array domain
    weights     ──> CrossingFIFO ──┼──> skid buffer ──> array.weights
    activations ──> CrossingFIFO ──┼──> skid buffer ──> array.activations
    results     <── CrossingFIFO <─┼─── register stages <── array.results

The skid buffers (:func:`rtl.skid.skid_buffer`) and the register stages keep the array's
handshakes apart from the FIFOs' pointer logic. On the input side, without them the array's
READY would drive the FIFO's read pointer and, through it, the read address of every storage
cell, and the FIFO's empty flag would drive the array's acceptance of a vector, which fans out
to every lane of its entry register. On the result side, the FIFO's full flag (a compare of
the write pointer with the synchronized Gray-coded read pointer) would drive the array's
result pop and, through it, the array's count of results in flight and its acceptance of the
next activation vector; a skid buffer there would still let it drive the enable of every
payload register, so the stage counts credits against the FIFO's registered level instead
(:func:`_registered_write`). The FIFOs themselves keep their flags off their storage: it is
written on every cycle at the write pointer and read at the read pointer, both registers
(:class:`amaranth.lib.fifo.AsyncFIFO` ANDs its full flag into the storage's write enable and
reads at the pointer plus its empty-flag-gated read strobe).

Nothing else crosses: the array has no other ports, and its credit-based flow control keeps
working on its own side. The crossing adds a few cycles of latency on each side; it does not
limit throughput, which is set by the slower of the two sides (one activation vector per
cycle of either clock).
"""

from amaranth import Module, Signal, Value, DomainRenamer
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..fifo import CrossingFIFO
from ..params import check_int, validating
from ..skid import skid_buffer

__all__ = ["ArrayClockCrossing"]


def _registered_write(m, name, *, domain, fifo, source):
    """Write ``source`` into ``fifo`` (a :class:`~rtl.fifo.CrossingFIFO` written in
    ``domain``) through two register stages whose READY, VALID and payload are all registers.

    A skid buffer would not do here: its payload registers are enabled by its sink's READY,
    and the FIFO's ``w_rdy`` is a compare of Gray-coded pointers, so the compare would drive
    the enable of every payload bit. Instead the stage counts credits: it accepts a transfer
    only when the FIFO is sure to have room for it two cycles later, from the FIFO's
    registered ``w_level`` (which lags the writes by two cycles and the reads by more) and
    the writes it has issued since. The FIFO's ``w_rdy`` is then high on every write, and the
    payload registers load every cycle.

    The payload passes two registers: the source's data may come straight out of a block RAM
    (the array's result FIFO), and the FIFO's storage may be placed far from it, so the first
    register sits by the source and the second by the storage, and neither hop carries both
    the block's output delay and the route between them."""
    capacity = fifo.capacity
    room = Signal(init=1, name=f"{name}_room")
    taken = Signal(name=f"{name}_taken")
    valid = Signal(name=f"{name}_valid")
    valid_before = Signal(name=f"{name}_valid_before")
    taken_payload = Signal(len(fifo.w_data), name=f"{name}_taken_payload", reset_less=True)
    payload = Signal(len(fifo.w_data), name=f"{name}_payload", reset_less=True)
    accept = Signal(name=f"{name}_accept")
    m.d.comb += [
        source.ready.eq(room),
        accept.eq(source.valid & room),
        fifo.w_en.eq(valid),
        fifo.w_data.eq(payload),
    ]
    # In cycle t, w_level counts the writes before t - 1; the writes of t - 1 and t
    # (valid_before, valid), the one taken last cycle (written in t + 1) and the one accepted
    # now (written in t + 2) come on top. Room in t + 1 means a write in t + 3 still fits.
    m.d[domain] += [
        taken_payload.eq(Value.cast(source.payload)),
        taken.eq(accept),
        payload.eq(taken_payload),
        valid.eq(taken),
        valid_before.eq(valid),
        room.eq(fifo.w_level + valid_before + valid + taken + accept <= capacity - 1),
    ]


class ArrayClockCrossing(wiring.Component):
    """``array`` run in clock domain ``domain``, seen from ``sync`` through one asynchronous
    FIFO per stream (see the module documentation).

    Parameters
    ----------
    array : WeightStationaryArray or OutputStationaryArray
        The array; it is elaborated in ``domain``.
    domain : str
        The array's clock domain (not ``"sync"``); the design that holds this component
        defines it, or a simulation or netlist gets ``<domain>_clk`` and ``<domain>_rst``
        ports.
    depth : int
        Slots of each FIFO (a power of two, 4 to 64), which holds one entry fewer. Eight
        cover the pointer synchronizers' round trip, so a stream keeps one transfer per
        cycle across.

    Members
    -------
    The members of ``array.signature``, in the ``sync`` domain.
    """

    def __init__(self, array, *, domain="array", depth=8):
        # A rejected crossing leaves its array unused too: no warning for either.
        with validating(self), validating(array):
            if not isinstance(domain, str) or not domain.isidentifier() or domain == "sync":
                raise ValueError(f"domain must be a clock domain name other than 'sync', "
                                 f"not {domain!r}")
            check_int("depth", depth, 4, 64)
            if depth & (depth - 1):
                raise ValueError(f"depth must be a power of two, not {depth}")
        self.array = array
        self.domain = domain
        self.depth = depth
        super().__init__(array.signature)

    def __repr__(self):
        return (f"ArrayClockCrossing({self.array!r}, domain={self.domain!r}, "
                f"depth={self.depth})")

    def elaborate(self, platform):
        m = Module()
        m.submodules.array = array = DomainRenamer(self.domain)(self.array)
        # The register stages sit on the array's side of each FIFO.
        for name, member in self.signature.members.items():
            outer, inner = getattr(self, name), getattr(self.array, name)
            width = len(Value.cast(inner.payload))
            if member.flow == In:
                m.submodules[f"{name}_fifo"] = fifo = CrossingFIFO(
                    width=width, depth=self.depth, w_domain="sync", r_domain=self.domain)
                m.d.comb += [
                    fifo.w_data.eq(outer.payload),
                    fifo.w_en.eq(outer.valid),
                    outer.ready.eq(fifo.w_rdy),
                ]
                skid_buffer(m, f"{name}_skid", domain=self.domain,
                            source_valid=fifo.r_rdy, source_ready=fifo.r_en,
                            source_payload=fifo.r_data, sink_valid=inner.valid,
                            sink_ready=inner.ready, sink_payload=Value.cast(inner.payload))
            else:
                m.submodules[f"{name}_fifo"] = fifo = CrossingFIFO(
                    width=width, depth=self.depth, w_domain=self.domain, r_domain="sync")
                _registered_write(m, f"{name}_write", domain=self.domain, fifo=fifo,
                                  source=inner)
                m.d.comb += [
                    outer.payload.eq(fifo.r_data),
                    outer.valid.eq(fifo.r_rdy),
                    fifo.r_en.eq(outer.ready),
                ]
        return m
