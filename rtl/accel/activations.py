"""The A side: panels of A loaded from memory into a double-buffered scratchpad and
streamed into the array as activation vectors.

A panel is ``block_m`` rows of A by ``block_k`` elements of K (one burst per row, requested
from the panel's four quarters in turn so that the reads spread over the pseudo-channels). The
tiling order is ``for mt (M blocks): for nt (N tiles): for kc (K chunks): for kt (weight
tiles of the chunk): for r (rows of the block)``; the streamer sends row ``r``'s ``rows``
elements of tile ``kt`` as one activation vector. When K fits one chunk, a block's panel
serves every N tile and is loaded once; otherwise it is reloaded per N tile. While the
streamer works on one buffer the loader fills the other.
"""

from amaranth import Module, Signal, Mux, Array
from amaranth.lib import wiring, memory, stream
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import Out

from rtl.systolic.layouts import activation_beat
from .geometry import path_members, block_rows, chunk_tiles, DIM_BITS
from .loops import LoopNest

__all__ = ["ActivationPath"]

FIFO_DEPTH = 4


class ActivationPath(wiring.Component):
    """Loads A panels and streams activation vectors (see the module documentation).

    Parameters
    ----------
    geometry : Geometry

    Members
    -------
    start, descriptor, plan, requests, beats, done
        As for every path (:func:`~rtl.accel.geometry.path_members`): ``requests`` are panel
        rows, tagged with their first scratchpad word; ``done`` once every vector of the
        command has been sent.
    activations : ``Out(stream.Signature(activation_beat))``
        Towards the array; ``last`` ends each weight tile.
    waiting : ``Out(1)``
        The streamer has work but its panel is still loading.
    """

    def __init__(self, *, geometry):
        g = self.geometry = geometry
        self.tag_width = (2 * g.panel_depth - 1).bit_length()
        super().__init__({
            **path_members(g, tag_width=self.tag_width),
            "activations": Out(stream.Signature(activation_beat(rows=g.rows,
                                                                operand_width=8))),
            "waiting": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        g, d, plan = self.geometry, self.descriptor, self.plan

        m.submodules.panels = panels = memory.Memory(
            shape=g.beat_bits, depth=2 * g.panel_depth, init=[])
        fill = panels.write_port()
        read = panels.read_port()
        # A buffer is full from its last beat's arrival until the streamer is done with it.
        full = Signal(2)
        filled = Signal(2)
        released = Signal(2)
        m.d.sync += full.eq((full | filled) & ~released)

        # Whether the visit (mt, nt, kc) needs a panel of its own, or reuses the last one.
        def reloads(loop):
            return (plan.k_chunks != 1) | (loop.index["nt"] == 0)

        # -- Loader ------------------------------------------------------------------------
        visit = LoopNest(m, "load", [("mt", plan.m_blocks), ("nt", plan.n_tiles),
                                     ("kc", plan.k_chunks)])
        load_buffer = Signal()
        block_base = Signal(32)
        # Per buffer: every row requested, and beats still to arrive.
        requested = Signal(2)
        pending = [Signal(range(g.panel_depth + 1), name=f"pending{b}") for b in range(2)]

        # Rows are requested from four quarters of the panel in turn (rows 0, q, 2q, 3q, 1,
        # q + 1, ...), so that a panel spanning several pseudo-channels keeps them all busy.
        # A panel's shape is registered in three steps before its first request (DECIDE:
        # rows, quarter, start, beats; SCALE: the quarter's stride; PLACE: the four lanes'
        # first rows), so that the request path itself is short.
        deciding = Signal()
        scaling = Signal()
        placing = Signal()
        issuing = Signal()
        rows_here = Signal(DIM_BITS)
        quarter = Signal(range(g.block_m // 4 + 1))
        beats = Signal(5)
        panel_start = Signal(32)
        lane_step = Signal(32)
        lane_addr = Array(Signal(32, name=f"lane{l}_addr") for l in range(4))
        step = Signal(DIM_BITS + 2)
        lane = Signal(2)
        row = Signal(DIM_BITS + 2)            # lane * quarter + step // 4
        last_step = Signal()
        m.d.comb += lane.eq(step[:2])

        with m.If(self.start):
            visit.start()
            m.d.sync += [block_base.eq(d.a_addr), load_buffer.eq(0), issuing.eq(0),
                         deciding.eq(0), scaling.eq(0), placing.eq(0)]
        with m.Elif(~visit.done & ~issuing & ~deciding & ~scaling & ~placing):
            with m.If(~reloads(visit)):
                visit.step()
            with m.Elif(~full.bit_select(load_buffer, 1)
                        & ~requested.bit_select(load_buffer, 1)):
                rows = block_rows(g, plan, visit)
                m.d.sync += [
                    deciding.eq(1),
                    rows_here.eq(rows),
                    quarter.eq((rows + 3) >> 2),
                    beats.eq(Mux(visit.last["kc"], plan.k_last_beats, g.panel_words)),
                    panel_start.eq(block_base + (visit.index["kc"] << g.log2_block_k)),
                ]
        with m.Elif(deciding):
            m.d.sync += [deciding.eq(0), scaling.eq(1), lane_step.eq(quarter * d.a_stride)]
        with m.Elif(scaling):
            m.d.sync += [scaling.eq(0), placing.eq(1)]
            for l in range(4):
                m.d.sync += lane_addr[l].eq(panel_start + l * lane_step)
        with m.Elif(placing):
            m.d.sync += [placing.eq(0), issuing.eq(1), step.eq(0), row.eq(0),
                         last_step.eq(0)]

        row_exists = Signal()
        m.d.comb += [
            row_exists.eq(row < rows_here),
            self.requests.valid.eq(issuing & row_exists),
            self.requests.payload.addr.eq(lane_addr[lane]),
            self.requests.payload.len.eq(beats - 1),
            self.requests.payload.tag.eq((load_buffer * g.panel_depth)
                                         + (row << (g.panel_words.bit_length() - 1))),
        ]
        issued = Signal()
        advance = Signal()
        m.d.comb += [
            issued.eq(self.requests.valid & self.requests.ready),
            advance.eq(issuing & (~row_exists | self.requests.ready)),
        ]
        with m.If(advance):
            m.d.sync += [
                step.eq(step + 1),
                row.eq(Mux(lane == 3, row - 3 * quarter + 1, row + quarter)),
                last_step.eq(step + 2 == quarter << 2),
                lane_addr[lane].eq(lane_addr[lane] + d.a_stride),
            ]
            with m.If(last_step):
                m.d.sync += [issuing.eq(0), load_buffer.eq(~load_buffer)]
                visit.step()
        # The next M block starts block_m rows further on.
        with m.If(~self.start & ~visit.done & visit.is_last("nt", "kc")
                  & ((advance & last_step)
                     | (~issuing & ~deciding & ~scaling & ~placing & ~reloads(visit)))):
            m.d.sync += block_base.eq(block_base + (d.a_stride << g.log2_block_m))

        # Beats land at their tag plus their index; a buffer is full once it has every beat.
        beat_buffer = Signal()
        m.d.comb += [
            beat_buffer.eq(self.beats.payload.tag[-1]),
            fill.addr.eq(self.beats.payload.tag + self.beats.payload.index),
            fill.data.eq(self.beats.payload.data),
            fill.en.eq(self.beats.valid),
        ]
        for b in range(2):
            add = Mux(issued & (load_buffer == b), beats, 0)
            sub = self.beats.valid & (beat_buffer == b)
            m.d.sync += pending[b].eq(pending[b] + add - sub)
            with m.If(advance & last_step & (load_buffer == b)):
                m.d.sync += requested[b].eq(1)
            with m.Elif(requested[b] & (pending[b] == 0)):
                m.d.sync += requested[b].eq(0)
            m.d.comb += filled[b].eq(requested[b] & (pending[b] == 0))

        # -- Streamer ----------------------------------------------------------------------
        loop = LoopNest(m, "stream", [
            ("mt", plan.m_blocks), ("nt", plan.n_tiles), ("kc", plan.k_chunks),
            ("kt", lambda loop: chunk_tiles(g, plan, loop)),
            ("r", lambda loop: block_rows(g, plan, loop))])
        beat_layout = activation_beat(rows=g.rows, operand_width=8)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=beat_layout.size, depth=FIFO_DEPTH)
        use_buffer = Signal()
        staged = Signal()                     # a read is in flight to the FIFO
        issue = Signal()
        m.d.comb += [
            issue.eq(~loop.done & ~self.start & full.bit_select(use_buffer, 1)
                     & (fifo.level + staged < FIFO_DEPTH)),
            self.waiting.eq(~loop.done & ~full.bit_select(use_buffer, 1)),
            self.done.eq(visit.done & loop.done & ~staged & ~fifo.r_rdy),
        ]
        with m.If(self.start):
            loop.start()
            m.d.sync += use_buffer.eq(0)
        with m.Elif(issue):
            loop.step()
            # The panel is released after its final vector unless the next visit reuses it.
            with m.If(loop.is_last("kt", "r")
                      & ((plan.k_chunks != 1) | loop.last["nt"])):
                m.d.sync += use_buffer.eq(~use_buffer)
                m.d.comb += released.bit_select(use_buffer, 1).eq(1)

        # Vector kt of a panel row sits in beat (kt * rows) / beat_bytes, lane group
        # kt mod (beat_bytes / rows); K elements past the end are zeroed.
        k_offset = Signal(DIM_BITS + 1)
        m.d.comb += k_offset.eq(loop.index["kt"] << g.log2_rows)
        m.d.comb += [
            read.en.eq(issue),
            read.addr.eq((use_buffer * g.panel_depth)
                         + (loop.index["r"] << (g.panel_words.bit_length() - 1))
                         + (k_offset >> g.beat_shift)),
        ]
        groups = g.beat_bytes // g.rows
        group = Signal(range(max(groups, 2)))
        valid_lanes = Signal(range(g.rows + 1))
        last = Signal()
        k_left = Signal(DIM_BITS + 2)
        m.d.comb += k_left.eq(d.k - (loop.index["kc"] << g.log2_block_k) - k_offset)
        with m.If(issue):
            m.d.sync += [
                group.eq(loop.index["kt"] & (groups - 1)),
                valid_lanes.eq(Mux(k_left >= g.rows, g.rows, k_left)),
                last.eq(loop.last["r"]),
            ]
        m.d.sync += staged.eq(issue)
        vector = Signal(beat_layout)
        word = read.data.word_select(group, 8 * g.rows) if groups > 1 else read.data
        for lane in range(g.rows):
            m.d.comb += vector.data[lane].eq(
                Mux(lane < valid_lanes, word[8 * lane:8 * lane + 8], 0))
        m.d.comb += [
            vector.last.eq(last),
            fifo.w_data.eq(vector),
            fifo.w_en.eq(staged),
            self.activations.valid.eq(fifo.r_rdy),
            self.activations.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.activations.ready),
        ]
        return m
