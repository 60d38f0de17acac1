"""FIFOs whose storage is written on every cycle, for writers that never overrun them.

A full flag ANDed into a FIFO's write enable puts a comparison in front of the widest fan-out
in the design, the enable of every storage cell. The FIFOs here write their storage on every
cycle instead, at the write pointer, and the write strobe only advances the pointer. The slot
at the write pointer is never occupied, so what is written there on a cycle without a write is
overwritten by the next write before anything reads it, and the storage's write enable is
constant: in distributed RAM each bank's enable is a decode of the registered pointer, in
block RAM it is tied high.

:class:`CreditFIFO`
    Synchronous, for a producer that counts credits (the systolic arrays count the results
    they owe against their result FIFO's capacity before they accept an operand), so it has
    no full flag at all. Its read side is a registered output, as in
    :class:`amaranth.lib.fifo.SyncFIFOBuffered`, and its storage is block RAM.
:class:`CrossingFIFO`
    Asynchronous (Gray-coded pointers, two-flop synchronizers), for the array's clock
    crossing. Its read side reads the storage combinationally at the read pointer, a
    register, so the read address of every storage cell comes from a flip-flop rather than
    from the empty flag (as in :class:`amaranth.lib.fifo.AsyncFIFO`, whose read address is
    the pointer plus the read strobe): the storage is distributed RAM.
"""

from amaranth import Module, Signal, Mux, Cat
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import check_int, validating

__all__ = ["CreditFIFO", "CrossingFIFO"]


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
        # Block RAM even where distributed RAM would do: its address register is inside the
        # block, while distributed RAM takes the read address from the fabric, and with a
        # row of results per entry the address then fans out to hundreds of cells (11.5 ns
        # of routing on the ULX3S).
        m.submodules.storage = storage = Memory(shape=self.width, depth=slots, init=[],
                                                attrs={"ram_style": "block"})
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


def _gray(value):
    return value ^ (value >> 1)


def _binary(gray):
    bits = [gray[-1]]
    for index in reversed(range(len(gray) - 1)):
        bits.insert(0, bits[0] ^ gray[index])
    return Cat(*bits)


class CrossingFIFO(wiring.Component):
    """An asynchronous FIFO of ``depth - 1`` entries from ``w_domain`` to ``r_domain``.

    The design is Cummings' ("Simulation and Synthesis Techniques for Asynchronous FIFO
    Design", style 2, as in :class:`amaranth.lib.fifo.AsyncFIFO`): binary pointers one bit
    wider than the address, their Gray codes registered and carried across by two-flop
    synchronizers. It differs in where the storage's control comes from (see the module
    documentation): the storage is written at the write pointer on every write-domain
    cycle, which is why one of its ``depth`` slots is always free, and read
    combinationally at the read pointer. A reset must reach both domains while nothing is
    written (the boards' clocking holds both from the same PLL lock, and each side is idle
    until the other has left reset); one side reset alone would leave the pointers
    disagreeing, where :class:`amaranth.lib.fifo.AsyncFIFO` clears its read side from its
    write side's reset.

    Parameters
    ----------
    width : int
        Bits per entry (1 to 4096).
    depth : int
        Slots of storage, a power of two (4 to 64); the FIFO holds ``depth - 1`` entries
        (:attr:`capacity`).
    w_domain, r_domain : str
        The write and read clock domains.

    Members
    -------
    w_data : ``In(width)``
    w_en : ``In(1)``
        Write ``w_data`` this cycle, if ``w_rdy``.
    w_rdy : ``Out(1)``
        The FIFO has room.
    w_level : ``Out(range(depth))``
        Entries, as the write side knows them a cycle late: a register of the writes
        before the previous cycle, less the reads synchronized so far.
    r_data : ``Out(width)``
        The oldest entry, valid while ``r_rdy``.
    r_rdy : ``Out(1)``
        The FIFO holds an entry.
    r_en : ``In(1)``
        Remove the oldest entry (if ``r_rdy``).
    """

    def __init__(self, *, width, depth, w_domain="sync", r_domain="sync"):
        with validating(self):
            check_int("width", width, 1, 4096)
            check_int("depth", depth, 4, 64)
            if depth & (depth - 1):
                raise ValueError(f"depth must be a power of two, not {depth}")
        self.width, self.depth = width, depth
        self.w_domain, self.r_domain = w_domain, r_domain
        super().__init__({
            "w_data": In(width),
            "w_en": In(1),
            "w_rdy": Out(1),
            "w_level": Out(range(depth)),
            "r_data": Out(width),
            "r_rdy": Out(1),
            "r_en": In(1),
        })

    @property
    def capacity(self):
        return self.depth - 1

    def __repr__(self):
        return (f"CrossingFIFO(width={self.width}, depth={self.depth}, "
                f"w_domain={self.w_domain!r}, r_domain={self.r_domain!r})")

    def elaborate(self, platform):
        m = Module()
        bits = self.depth.bit_length()  # one more than the address
        write, read = m.d[self.w_domain], m.d[self.r_domain]
        m.submodules.storage = storage = Memory(shape=self.width, depth=self.depth, init=[])
        write_port = storage.write_port(domain=self.w_domain)
        read_port = storage.read_port(domain="comb")

        produce = Signal(bits)       # write domain: the write pointer,
        produce_gray = Signal(bits)  # its Gray code, a register
        consume = Signal(bits)       # read domain: the read pointer,
        consume_gray = Signal(bits)  # its Gray code, a register
        produce_gray_r = Signal(bits)
        consume_gray_w = Signal(bits)
        m.submodules.produce_sync = FFSynchronizer(produce_gray, produce_gray_r,
                                                   o_domain=self.r_domain)
        m.submodules.consume_sync = FFSynchronizer(consume_gray, consume_gray_w,
                                                   o_domain=self.w_domain)

        consume_w = Signal(bits)
        level = Signal(bits)
        do_write = Signal()
        do_read = Signal()
        # The next pointers wrap at ``bits`` bits before they are Gray-coded.
        produce_next = Signal(bits)
        consume_next = Signal(bits)
        m.d.comb += [
            produce_next.eq(produce + do_write),
            consume_next.eq(consume + do_read),
            level.eq(produce - consume_w),
            self.w_rdy.eq(level < self.capacity),
            do_write.eq(self.w_en & self.w_rdy),
            write_port.addr.eq(produce[:-1]),
            write_port.data.eq(self.w_data),
            write_port.en.eq(1),
        ]
        write += [
            produce.eq(produce_next),
            produce_gray.eq(_gray(produce_next)),
            consume_w.eq(_binary(consume_gray_w)),
            self.w_level.eq(level),
        ]

        m.d.comb += [
            self.r_rdy.eq(consume_gray != produce_gray_r),
            do_read.eq(self.r_en & self.r_rdy),
            read_port.addr.eq(consume[:-1]),
            self.r_data.eq(read_port.data),
        ]
        read += [
            consume.eq(consume_next),
            consume_gray.eq(_gray(consume_next)),
        ]
        return m
