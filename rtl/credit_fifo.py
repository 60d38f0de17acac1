"""A synchronous FIFO for a producer that counts credits, with no full flag on its write side.

A producer that knows how many entries it has in flight (the systolic arrays count the
results they owe against the FIFO's capacity before they accept an operand) does not need
the FIFO to tell it when it is full, and a full flag ANDed into the write enable puts a
comparison in front of the widest fan-out in the design: the enable of every storage cell.
This FIFO writes its storage on every cycle instead, at the write pointer, and the write
strobe only advances the pointer. The slot at the write pointer is never occupied, so what
is written there on a cycle without a write is overwritten by the next write before
anything reads it. The storage's write enable is therefore constant: in distributed RAM
each bank's enable is a decode of the registered pointer, in block RAM it is tied high.

The read side is a registered output, as in :class:`amaranth.lib.fifo.SyncFIFOBuffered`:
the storage's synchronous read port holds the head entry, so the storage maps to block RAM
where it is large enough to.
"""

from amaranth import Module, Signal, Mux
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import check_int, validating

__all__ = ["CreditFIFO"]


class CreditFIFO(wiring.Component):
    """A synchronous FIFO of ``depth`` entries whose writer never exceeds the capacity.

    Writing to a FIFO that already holds ``depth`` entries (counting the one being read on
    the same cycle as gone) corrupts the oldest entry; the writer's credit count rules it
    out. The members follow :class:`amaranth.lib.fifo.FIFOInterface`, without ``w_rdy``.

    Parameters
    ----------
    width : int
        Bits per entry (1 to 4096).
    depth : int
        Capacity in entries (1 to 4096), the output register included.

    Members
    -------
    w_data : ``In(width)``
        The entry to write.
    w_en : ``In(1)``
        Write ``w_data`` this cycle.
    r_data : ``Out(width)``
        The oldest entry, valid while ``r_rdy``.
    r_rdy : ``Out(1)``
        The FIFO holds an entry; a register.
    r_en : ``In(1)``
        Remove the oldest entry (if ``r_rdy``).
    """

    def __init__(self, *, width, depth):
        with validating(self):
            check_int("width", width, 1, 4096)
            check_int("depth", depth, 1, 4096)
        self.width, self.depth = width, depth
        super().__init__({
            "w_data": In(width),
            "w_en": In(1),
            "r_data": Out(width),
            "r_rdy": Out(1),
            "r_en": In(1),
        })

    def __repr__(self):
        return f"CreditFIFO(width={self.width}, depth={self.depth})"

    def elaborate(self, platform):
        m = Module()
        # The storage holds at most depth - 1 entries: while the output register is empty it
        # holds at most one (any entry is fetched at once). So of depth slots one is always
        # free, the one written on every cycle, and reads never collide with that write
        # (a single-entry FIFO gets a second slot for the same reason).
        slots = max(self.depth, 2)
        m.submodules.storage = storage = Memory(shape=self.width, depth=slots, init=[])
        write = storage.write_port()
        read = storage.read_port(transparent_for=())

        def advance(pointer):
            return Mux(pointer == slots - 1, 0, pointer + 1)

        write_pointer = Signal(range(slots))
        read_pointer = Signal(range(slots))
        stored = Signal(range(slots))  # entries in the storage, not yet in the output register
        fetch = Signal()
        m.d.comb += [
            write.addr.eq(write_pointer),
            write.data.eq(self.w_data),
            write.en.eq(1),
            fetch.eq((stored != 0) & (~self.r_rdy | self.r_en)),
            read.addr.eq(read_pointer),
            read.en.eq(fetch),
            self.r_data.eq(read.data),
        ]
        with m.If(self.w_en):
            m.d.sync += write_pointer.eq(advance(write_pointer))
        with m.If(fetch):
            m.d.sync += [read_pointer.eq(advance(read_pointer)), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        m.d.sync += stored.eq(stored + self.w_en - fetch)
        return m
