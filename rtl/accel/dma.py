"""DMA engines: a reader that keeps several bursts in flight under distinct AXI IDs and
returns their beats tagged, and a writer that turns result rows into write bursts.

Both speak simple streams to the accelerator and the AXI4 channel signals to the memory
port; :class:`rtl.top.Accelerator` shares one AXI4 port among the readers (round robin on
AR, R routed by ID) and the writer.
"""

from amaranth import Module, Signal, Mux, Array, Cat
from amaranth.lib import wiring, data, stream
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from rtl.mem.axi import Response
from rtl.mem.bits import lowest_set
from ..params import check_int, validating

__all__ = ["read_request_layout", "read_beat_layout", "ar_layout", "r_layout", "DMAReader",
           "write_row_layout", "DMAWriter"]

MAX_BEATS = 16
PAGE_BITS = 12
PAGE_BYTES = 1 << PAGE_BITS


def read_request_layout(addr_width, tag_width):
    """A read burst: ``beats - 1`` (``len``) full beats from ``addr``; ``tag`` comes back with
    every beat."""
    return data.StructLayout({"addr": addr_width, "len": 4, "tag": tag_width})


def read_beat_layout(data_width, tag_width):
    """One returned beat: its burst's ``tag``, its ``index`` in the burst, ``last`` and
    ``error`` (a response other than OKAY)."""
    return data.StructLayout({"data": data_width, "tag": tag_width, "index": 4, "last": 1,
                              "error": 1})


def ar_layout(addr_width, id_width):
    return data.StructLayout({"id": id_width, "addr": addr_width, "len": 4})


def r_layout(data_width, id_width):
    return data.StructLayout({"id": id_width, "data": data_width, "resp": Response,
                              "last": 1})


class DMAReader(wiring.Component):
    """Issues read bursts under the AXI IDs ``first_id .. first_id + ids - 1``.

    Each burst takes a free ID, so up to ``ids`` bursts are in flight, possibly on different
    pseudo-channels, and their beats may return out of order across bursts (never within
    one). Up to ``bursts_per_id`` bursts share an ID, in order; with ``ids == 1`` the beats
    return in request order. A request that crosses a
    4 KB page goes out as two bursts; its beats keep their index in the request, and only
    the request's final beat has ``last``. A client that cannot take
    beats at any moment must bound its requests by the room it has: ``beats`` has no ready.

    Parameters
    ----------
    addr_width, data_width, id_width : int
        Of the AXI4 port.
    first_id, ids : int
        The IDs this reader owns.
    bursts_per_id : int
        Bursts in flight per ID.
    tag_width : int
        Width of the client's tag.

    Members
    -------
    requests : ``In(stream.Signature(read_request_layout))``
    beats : ``Out(stream.Signature(read_beat_layout, always_ready=True))``
    ar : ``Out(stream.Signature(ar_layout))``
        Read addresses, towards the port's AR channel.
    r : ``In(stream.Signature(r_layout, always_ready=True))``
        Every R beat of the port; the reader takes the ones with its IDs.
    idle : ``Out(1)``
        No burst in flight.
    """

    def __init__(self, *, addr_width, data_width, id_width, first_id, ids, tag_width,
                 bursts_per_id=1):
        with validating(self):
            check_int("id_width", id_width, 1, 16)
            check_int("ids", ids, 1, 16)
            check_int("bursts_per_id", bursts_per_id, 1, 16)
            check_int("first_id", first_id, 0, (1 << id_width) - ids)
            check_int("tag_width", tag_width, 1, 64)
        self.first_id, self.ids, self.data_width = first_id, ids, data_width
        self.bursts_per_id = bursts_per_id
        super().__init__({
            "requests": In(stream.Signature(read_request_layout(addr_width, tag_width))),
            "beats": Out(stream.Signature(read_beat_layout(data_width, tag_width),
                                          always_ready=True)),
            "ar": Out(stream.Signature(ar_layout(addr_width, id_width))),
            "r": In(stream.Signature(r_layout(data_width, id_width), always_ready=True)),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ids = self.ids
        tag_width = len(self.requests.payload.tag)
        depth = self.bursts_per_id
        # Per ID, the bursts in flight in order: tag, first beat's index in the request, and
        # whether the burst ends its request.
        info = data.StructLayout({"tag": tag_width, "base": 4, "final": 1})
        entries = Array(Array(Signal(info, name=f"id{i}_burst{j}") for j in range(depth))
                        for i in range(ids))
        heads = Array(Signal(range(depth), name=f"id{i}_head") for i in range(ids))
        tails = Array(Signal(range(depth), name=f"id{i}_tail") for i in range(ids))
        in_flight = [Signal(range(depth + 1), name=f"id{i}_bursts") for i in range(ids)]
        has_room = Signal(ids)
        m.d.comb += has_room.eq(Cat(*(count < depth for count in in_flight)))
        counts = Array(Signal(4, name=f"id{i}_beat") for i in range(ids))

        def advance(pointer):
            return Mux(pointer == depth - 1, 0, pointer + 1) if depth > 1 else pointer

        # A request waits in `pending` and leaves as one burst, or as two where it crosses a
        # 4 KB page (AXI bursts must not); each burst takes a free ID and records the tag,
        # its first beat's index in the request, and whether it ends the request.
        beat_shift = (self.data_width // 8).bit_length() - 1
        pending = Signal()
        addr = Signal.like(self.requests.payload.addr)
        beats_left = Signal(5)
        tag = Signal(tag_width)
        base = Signal(4)
        to_page_end = Signal(range(PAGE_BYTES // (self.data_width // 8) + 1))
        burst = Signal(5)
        final = Signal()
        m.d.comb += [
            to_page_end.eq((PAGE_BYTES - addr[:PAGE_BITS]) >> beat_shift),
            burst.eq(Mux(beats_left > to_page_end, to_page_end, beats_left)),
            final.eq(burst == beats_left),
        ]
        free = lowest_set(m, has_room, range(max(ids, 2)), "free_id")
        issue = Signal()
        m.d.comb += [
            issue.eq(pending & has_room.any() & (~self.ar.valid | self.ar.ready)),
            self.requests.ready.eq(~pending | (issue & final)),
        ]
        with m.If(issue):
            m.d.sync += [
                self.ar.valid.eq(1),
                self.ar.payload.id.eq(self.first_id + free),
                self.ar.payload.addr.eq(addr),
                self.ar.payload.len.eq(burst - 1),
                entries[free][tails[free]].tag.eq(tag),
                entries[free][tails[free]].base.eq(base),
                entries[free][tails[free]].final.eq(final),
                tails[free].eq(advance(tails[free])),
                addr.eq(addr + (burst << beat_shift)),
                beats_left.eq(beats_left - burst),
                base.eq(base + burst),
            ]
        with m.Elif(self.ar.ready):
            m.d.sync += self.ar.valid.eq(0)
        with m.If(self.requests.valid & self.requests.ready):
            m.d.sync += [
                pending.eq(1),
                addr.eq(self.requests.payload.addr),
                beats_left.eq(self.requests.payload.len + 1),
                tag.eq(self.requests.payload.tag),
                base.eq(0),
            ]
        with m.Elif(issue & final):
            m.d.sync += pending.eq(0)

        # R: beats of our IDs come out tagged.
        local = Signal(range(max(ids, 2)))
        mine = Signal()
        head = Signal(info)
        m.d.comb += head.eq(entries[local][heads[local]])
        m.d.comb += [
            local.eq(self.r.payload.id - self.first_id),
            mine.eq(self.r.valid & _in_range(self.r.payload.id, self.first_id, ids)),
            self.beats.valid.eq(mine),
            self.beats.payload.data.eq(self.r.payload.data),
            self.beats.payload.tag.eq(head.tag),
            self.beats.payload.index.eq(head.base + counts[local]),
            self.beats.payload.last.eq(self.r.payload.last & head.final),
            self.beats.payload.error.eq(self.r.payload.resp != Response.OKAY),
        ]
        with m.If(mine):
            m.d.sync += counts[local].eq(Mux(self.r.payload.last, 0, counts[local] + 1))
            with m.If(self.r.payload.last):
                m.d.sync += heads[local].eq(advance(heads[local]))

        for i in range(ids):
            taken = issue & (free == i)
            released = mine & self.r.payload.last & (local == i)
            m.d.sync += in_flight[i].eq(in_flight[i] + taken - released)
        m.d.comb += self.idle.eq(~Cat(*(count != 0 for count in in_flight)).any()
                                 & ~self.ar.valid & ~pending)
        return m


def _in_range(value, first, count):
    """``first <= value < first + count``, without comparisons that are always true."""
    above = value >= first if first > 0 else 1
    below = value < first + count if first + count < 1 << len(value) else 1
    return above & below


def write_row_layout(addr_width, row_bits):
    """One row to write: ``len + 1`` beats from ``addr``, their data and byte strobes
    (beat ``i`` in bits ``[i * beat_bits, (i + 1) * beat_bits)``)."""
    return data.StructLayout({"addr": addr_width, "len": 2, "data": row_bits,
                              "strb": row_bits // 8})


class DMAWriter(wiring.Component):
    """Writes rows of one to four beats and counts the responses.

    Every beat is a burst of its own, so none crosses a 4 KB page whatever the strides; its
    AW and W go out as soon as the port takes them, and up to the port's limit of bursts
    wait for their B. ``idle`` is high when no row is queued
    and every burst has its response; ``error`` latches a response other than OKAY until
    ``clear``.

    Parameters
    ----------
    addr_width, data_width, id_width : int
        Of the AXI4 port.
    row_bits : int
        Width of a row: a multiple of ``data_width``, at most four beats.
    depth : int
        Rows the input FIFO holds.

    Members
    -------
    rows : ``In(stream.Signature(write_row_layout))``
    aw : ``Out(stream.Signature({"addr", "len"}))``
        Write addresses; the AXI ID is the port owner's choice.
    w : ``Out(stream.Signature({"data", "strb", "last"}))``
    b : ``In(stream.Signature({"resp"}))``
    idle, error : ``Out(1)``
    clear : ``In(1)``
    """

    def __init__(self, *, addr_width, data_width, id_width, row_bits, depth=8):
        with validating(self):
            if row_bits % data_width or not 1 <= row_bits // data_width <= 4:
                raise ValueError(f"row_bits must be one to four beats of {data_width} bits, "
                                 f"not {row_bits}")
            check_int("depth", depth, 2, 256)
        self.data_width, self.row_bits, self.depth = data_width, row_bits, depth
        super().__init__({
            "rows": In(stream.Signature(write_row_layout(addr_width, row_bits))),
            "aw": Out(stream.Signature(data.StructLayout({"addr": addr_width, "len": 4}))),
            "w": Out(stream.Signature(data.StructLayout({
                "data": data_width, "strb": data_width // 8, "last": 1}))),
            "b": In(stream.Signature(data.StructLayout({"resp": Response}))),
            "idle": Out(1),
            "error": Out(1),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        beat_bits = self.data_width
        layout = write_row_layout(len(self.aw.payload.addr), self.row_bits)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=layout.size, depth=self.depth)
        m.d.comb += [
            fifo.w_data.eq(self.rows.payload),
            fifo.w_en.eq(self.rows.valid),
            self.rows.ready.eq(fifo.w_rdy),
        ]
        row = Signal(layout)
        m.d.comb += row.eq(fifo.r_data)

        # Every beat of the head row is a burst of its own (so that no burst crosses a 4 KB
        # page); its AW and W leave independently, and the next beat follows when both have.
        aw_sent = Signal()
        w_sent = Signal()
        beat = Signal(2)
        aw_done = Signal()
        w_done = Signal()
        m.d.comb += [
            self.aw.valid.eq(fifo.r_rdy & ~aw_sent),
            self.aw.payload.addr.eq(row.addr + (beat << ((beat_bits // 8).bit_length() - 1))),
            self.aw.payload.len.eq(0),
            self.w.valid.eq(fifo.r_rdy & ~w_sent),
            self.w.payload.data.eq(row.data.word_select(beat, beat_bits)),
            self.w.payload.strb.eq(row.strb.word_select(beat, beat_bits // 8)),
            self.w.payload.last.eq(1),
            aw_done.eq(aw_sent | self.aw.ready),
            w_done.eq(w_sent | self.w.ready),
        ]
        beat_done = Signal()
        pop = Signal()
        m.d.comb += [beat_done.eq(fifo.r_rdy & aw_done & w_done),
                     pop.eq(beat_done & (beat == row.len)),
                     fifo.r_en.eq(pop)]
        with m.If(beat_done):
            m.d.sync += [aw_sent.eq(0), w_sent.eq(0), beat.eq(Mux(pop, 0, beat + 1))]
        with m.Else():
            with m.If(self.aw.valid & self.aw.ready):
                m.d.sync += aw_sent.eq(1)
            with m.If(self.w.valid & self.w.ready):
                m.d.sync += w_sent.eq(1)

        # Responses: every burst gets one B.
        outstanding = Signal(range(257))
        m.d.comb += self.b.ready.eq(1)
        aw_fire = Signal()
        m.d.comb += aw_fire.eq(self.aw.valid & self.aw.ready)
        m.d.sync += outstanding.eq(outstanding + aw_fire - self.b.valid)
        with m.If(self.clear):
            m.d.sync += self.error.eq(0)
        with m.Elif(self.b.valid & (self.b.payload.resp != Response.OKAY)):
            m.d.sync += self.error.eq(1)
        m.d.comb += self.idle.eq(~fifo.r_rdy & (fifo.level == 0) & (outstanding == 0))
        return m
