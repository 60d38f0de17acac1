"""The B side: weight tiles read from memory, one row of ``cols`` weights per beat, and sent
to the array in the tiling order of :mod:`rtl.accel.activations`.

Rows of the last K tile past K, and columns past N, are zeros. Row reads use one AXI ID, so
their beats return in order while up to :data:`ROWS_AHEAD` rows are in flight across the
pseudo-channels; with the array's two weight buffers, loading runs up to four tiles ahead of
the activations.
"""

from amaranth import Module, Signal, Mux
from amaranth.lib import wiring, stream, data
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import Out

from rtl.systolic.layouts import weight_row
from .geometry import path_members, chunk_tiles, DIM_BITS
from .loops import LoopNest

__all__ = ["WeightPath", "ROWS_AHEAD"]

ROWS_AHEAD = 16


class WeightPath(wiring.Component):
    """Reads weight tiles and streams their rows to the array (see the module documentation).

    Parameters
    ----------
    geometry : Geometry

    Members
    -------
    start, descriptor, plan, requests, beats, done
        As for every path (:func:`~rtl.accel.geometry.path_members`); ``done`` once every
        row of the command has been sent.
    weights : ``Out(stream.Signature(weight_row))``
    """

    def __init__(self, *, geometry):
        g = self.geometry = geometry
        self.tag_width = 1
        super().__init__({
            **path_members(g, tag_width=self.tag_width),
            "weights": Out(stream.Signature(weight_row(cols=g.cols, operand_width=8))),
        })

    def elaborate(self, platform):
        m = Module()
        g, d, plan = self.geometry, self.descriptor, self.plan
        loop = LoopNest(m, "weights", [
            ("mt", plan.m_blocks), ("nt", plan.n_tiles), ("kc", plan.k_chunks),
            ("kt", lambda loop: chunk_tiles(g, plan, loop)), ("r", g.rows)])

        # What the output side needs to know of each row, in order.
        groups = g.beat_bytes // g.cols
        meta_layout = data.StructLayout({"zero": 1, "group": range(max(groups, 2)),
                                         "lanes": range(g.cols + 1)})
        m.submodules.meta = meta = SyncFIFOBuffered(width=meta_layout.size, depth=ROWS_AHEAD)
        m.submodules.rows = rows = SyncFIFOBuffered(width=g.beat_bits, depth=ROWS_AHEAD)

        k = Signal(DIM_BITS + 1)
        row_addr = Signal(32)
        column = Signal(DIM_BITS + 6)
        m.d.comb += column.eq(loop.index["nt"] << g.log2_cols)
        zero = Signal()
        n_left = Signal(DIM_BITS + 1)
        m.d.comb += [zero.eq(k >= d.k), n_left.eq(d.n - column)]
        entry = data.View(meta_layout, meta.w_data)
        m.d.comb += [
            entry.zero.eq(zero),
            entry.group.eq((column >> g.log2_cols) & (groups - 1)),
            entry.lanes.eq(Mux(n_left >= g.cols, g.cols, n_left)),
            self.requests.valid.eq(~loop.done & ~self.start & ~zero & meta.w_rdy),
            self.requests.payload.addr.eq(row_addr
                                          + ((column >> g.beat_shift) << g.beat_shift)),
            self.requests.payload.len.eq(0),
            self.requests.payload.tag.eq(0),
            meta.w_en.eq(~loop.done & ~self.start & meta.w_rdy
                         & (zero | self.requests.ready)),
        ]
        with m.If(self.start):
            loop.start()
            m.d.sync += [k.eq(0), row_addr.eq(d.b_addr)]
        with m.Elif(meta.w_en):
            loop.step()
            # K restarts with every (mt, nt); within it, rows follow one another in B.
            with m.If(loop.is_last("kc", "kt", "r")):
                m.d.sync += [k.eq(0), row_addr.eq(d.b_addr)]
            with m.Else():
                m.d.sync += [k.eq(k + 1), row_addr.eq(row_addr + d.b_stride)]

        # Beats never wait: at most ROWS_AHEAD rows are between the two FIFOs.
        m.d.comb += [rows.w_data.eq(self.beats.payload.data), rows.w_en.eq(self.beats.valid)]
        head = Signal(meta_layout)
        m.d.comb += head.eq(meta.r_data)
        out = Signal(weight_row(cols=g.cols, operand_width=8))
        word = rows.r_data.word_select(head.group, 8 * g.cols) if groups > 1 else rows.r_data
        for lane in range(g.cols):
            m.d.comb += out[lane].eq(Mux(~head.zero & (lane < head.lanes),
                                         word[8 * lane:8 * lane + 8], 0))
        ready = Signal()
        m.d.comb += [
            ready.eq(meta.r_rdy & (head.zero | rows.r_rdy)),
            self.weights.valid.eq(ready),
            self.weights.payload.eq(out),
            meta.r_en.eq(ready & self.weights.ready),
            rows.r_en.eq(ready & self.weights.ready & ~head.zero),
            self.done.eq(loop.done & ~meta.r_rdy),
        ]
        return m
