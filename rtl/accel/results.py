"""The C side: accumulators that sum the array's partial results over K, and the output
stage that turns finished blocks into rows of C.

The accumulator memory holds two banks of ``block_m`` rows of ``cols`` int32 sums. Results
arrive in the tiling order of :mod:`rtl.accel.activations`; the first K tile of a block
writes its bank, later ones add to it (a read-modify-write at one row per cycle, the read
port transparent to the write so back-to-back updates of one row see each other). While the
array fills one bank, the output stage drains the other:

1. read the row (and, with ``ACCUMULATE``, take the old C row fetched ahead by the C reader);
2. add the old C row;
3. multiply by ``scale`` (int8 output);
4. shift;
5. decide the rounding (half to even, or half up) from the bits shifted out, and find the
   row's beat address and the columns below N;
6. round, saturate to int8 and apply ReLU; then place the row in its beat with byte strobes
   for the columns below N, and queue it for the writer.

Each step is one register stage, so that no step holds more than one wide carry chain.
"""

from amaranth import Module, Signal, Mux, Cat, Const, signed
from amaranth.lib import wiring, memory, stream, data
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from openmxu.registers import Flags
from rtl.systolic.layouts import result_beat
from .dma import write_row_layout
from .geometry import path_members, block_rows, chunk_tiles, DIM_BITS
from .loops import LoopNest

__all__ = ["ResultPath"]

OUTPUT_DEPTH = 8
OLD_ROWS = 4
PIPELINE = 6


class ResultPath(wiring.Component):
    """Accumulates results and writes C (see the module documentation).

    Parameters
    ----------
    geometry : Geometry

    Members
    -------
    start, descriptor, plan, requests, beats, done
        As for every path (:func:`~rtl.accel.geometry.path_members`): ``requests`` are old C
        rows (``ACCUMULATE`` only); ``done`` once every row of C is queued for the writer.
    results : ``In(stream.Signature(result_beat))``
        From the array.
    rows : ``Out(stream.Signature(write_row_layout))``
        Rows of C for the :class:`~rtl.accel.dma.DMAWriter`.
    """

    def __init__(self, *, geometry):
        g = self.geometry = geometry
        super().__init__({
            **path_members(g, tag_width=1),
            "results": In(stream.Signature(result_beat(cols=g.cols, acc_width=32))),
            "rows": Out(stream.Signature(write_row_layout(g.addr_width, g.row_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        g, d, plan = self.geometry, self.descriptor, self.plan
        cols = g.cols
        lanes = data.ArrayLayout(signed(32), cols)
        m.submodules.accumulators = accumulators = memory.Memory(
            shape=lanes, depth=2 * g.block_m, init=[])
        update = accumulators.write_port()
        fetch = accumulators.read_port(transparent_for=(update,))
        drain = accumulators.read_port()

        # A bank is full from its block's last update until the output stage has read it.
        full = Signal(2)
        completed = Signal(2)
        drained = Signal(2)
        m.d.sync += full.eq((full | completed) & ~drained)

        flags = d.flags
        accumulate = flags[Flags.ACCUMULATE.bit_length() - 1]
        int8 = flags[Flags.INT8.bit_length() - 1]
        half_up = flags[Flags.HALF_UP.bit_length() - 1]
        relu = flags[Flags.RELU.bit_length() - 1]

        # -- Accumulation ------------------------------------------------------------------
        loop = LoopNest(m, "accumulate", [
            ("mt", plan.m_blocks), ("nt", plan.n_tiles), ("kc", plan.k_chunks),
            ("kt", lambda loop: chunk_tiles(g, plan, loop)),
            ("r", lambda loop: block_rows(g, plan, loop))])
        bank = Signal()
        accept = Signal()
        m.d.comb += [
            self.results.ready.eq(~loop.done & ~self.start & ~full.bit_select(bank, 1)),
            accept.eq(self.results.valid & self.results.ready),
            fetch.addr.eq(Cat(loop.index["r"][:g.log2_block_m], bank)),
            fetch.en.eq(accept),
        ]
        with m.If(self.start):
            loop.start()
            m.d.sync += bank.eq(0)
        with m.Elif(accept):
            loop.step()
            with m.If(loop.is_last("kc", "kt", "r")):
                m.d.sync += bank.eq(~bank)

        adding = Signal()
        first = Signal()
        block_end = Signal()
        address = Signal.like(update.addr)
        partial = Signal(lanes)
        m.d.sync += [
            adding.eq(accept),
            first.eq(loop.is_first("kc", "kt")),
            block_end.eq(loop.is_last("kc", "kt", "r")),
            address.eq(fetch.addr),
            partial.eq(self.results.payload.data),
        ]
        total = Signal(lanes)
        for lane in range(cols):
            m.d.comb += total[lane].eq(Mux(first, 0, fetch.data[lane]) + partial[lane])
        m.d.comb += [update.addr.eq(address), update.data.eq(total), update.en.eq(adding)]
        m.d.comb += completed.bit_select(address[-1], 1).eq(adding & block_end)

        # -- Old C rows (ACCUMULATE) -------------------------------------------------------
        old_loop = LoopNest(m, "old", [("mt", plan.m_blocks), ("nt", plan.n_tiles),
                                       ("r", lambda loop: block_rows(g, plan, loop))])
        c_groups = max(1, g.beat_bytes // (4 * cols))
        m.submodules.old_rows = old_rows = SyncFIFOBuffered(width=g.row_bits, depth=OLD_ROWS)
        old_pending = Signal(range(OLD_ROWS + 1))
        old_block = Signal(32)
        old_row = Signal(32)
        old_column = Signal(DIM_BITS + 8)
        m.d.comb += old_column.eq(old_loop.index["nt"] << (g.log2_cols + 2))
        old_issue = Signal()
        m.d.comb += [
            self.requests.valid.eq(~old_loop.done & ~self.start
                                   & (old_rows.level + old_pending < OLD_ROWS)),
            self.requests.payload.addr.eq(old_row + ((old_column >> g.beat_shift)
                                                      << g.beat_shift)),
            self.requests.payload.len.eq(g.c_row_beats - 1),
            old_issue.eq(self.requests.valid & self.requests.ready),
        ]
        # Started only for ACCUMULATE: a loop left unfinished would resume with the next
        # command's descriptor before its start.
        with m.If(self.start & accumulate):
            old_loop.start()
        with m.If(self.start):
            m.d.sync += [old_block.eq(d.c_addr), old_row.eq(d.c_addr)]
        with m.Elif(old_issue):
            old_loop.step()
            _advance_rows(m, g, old_loop, d.c_stride, old_block, old_row)
        gathered = Signal(g.row_bits)
        beat_data = self.beats.payload.data
        if g.c_row_beats > 1:
            with m.If(self.beats.valid):
                m.d.sync += gathered.word_select(self.beats.payload.index[:2],
                                                 g.beat_bits).eq(beat_data)
            m.d.comb += old_rows.w_data.eq(Cat(gathered[:-g.beat_bits], beat_data))
        else:
            m.d.comb += old_rows.w_data.eq(beat_data)
        row_arrived = Signal()
        m.d.comb += [row_arrived.eq(self.beats.valid & self.beats.payload.last),
                     old_rows.w_en.eq(row_arrived)]
        m.d.sync += old_pending.eq(old_pending + old_issue - row_arrived)

        # -- Output stage ------------------------------------------------------------------
        out_loop = LoopNest(m, "drain", [("mt", plan.m_blocks), ("nt", plan.n_tiles),
                                         ("r", lambda loop: block_rows(g, plan, loop))])
        m.submodules.output = output = SyncFIFOBuffered(
            width=write_row_layout(g.addr_width, g.row_bits).size, depth=OUTPUT_DEPTH)
        drain_bank = Signal()
        in_flight = Signal(range(PIPELINE + 1))
        issue = Signal()
        m.d.comb += issue.eq(~out_loop.done & ~self.start & full.bit_select(drain_bank, 1)
                             & (~accumulate | old_rows.r_rdy)
                             & (output.level + in_flight < OUTPUT_DEPTH))
        out_block = Signal(32)
        out_row = Signal(32)
        with m.If(self.start):
            out_loop.start()
            m.d.sync += [drain_bank.eq(0), out_block.eq(d.c_addr), out_row.eq(d.c_addr)]
        with m.Elif(issue):
            out_loop.step()
            _advance_rows(m, g, out_loop, d.c_stride, out_block, out_row)
            with m.If(out_loop.last["r"]):
                m.d.sync += drain_bank.eq(~drain_bank)
                m.d.comb += drained.bit_select(drain_bank, 1).eq(1)
        m.d.comb += [
            drain.addr.eq(Cat(out_loop.index["r"][:g.log2_block_m], drain_bank)),
            drain.en.eq(issue),
            old_rows.r_en.eq(issue & accumulate),
        ]

        # Each stage: valid, the row's address and column position, and its data.
        where = data.StructLayout({"addr": 32, "nt": DIM_BITS})
        valid = [Signal(name=f"s{i}_valid") for i in range(1, PIPELINE + 1)]
        # The row's place is needed until s4, where its beat address and lanes are found.
        place_stage = 4
        place = [Signal(where, name=f"s{i}_where") for i in range(1, place_stage + 1)]
        m.d.sync += [valid[0].eq(issue), place[0].addr.eq(out_row),
                     place[0].nt.eq(out_loop.index["nt"])]
        for i in range(1, PIPELINE):
            m.d.sync += valid[i].eq(valid[i - 1])
        for i in range(1, len(place)):
            m.d.sync += place[i].eq(place[i - 1])
        m.d.comb += in_flight.eq(sum(valid))

        # s1: the row is read; take the old C row with it.
        old = Signal(lanes)
        with m.If(issue):
            if c_groups > 1:
                group = out_loop.index["nt"] & (c_groups - 1)
                m.d.sync += old.eq(old_rows.r_data.word_select(group, 32 * cols))
            else:
                m.d.sync += old.eq(old_rows.r_data[:32 * cols])
        # s2: add.
        summed = Signal(lanes)
        for lane in range(cols):
            m.d.sync += summed[lane].eq(drain.data[lane] + Mux(accumulate, old[lane], 0))
        # s3: scale.
        scale = d.quant[:16]
        shift = d.quant[16:22]
        product = [Signal(signed(49), name=f"product{lane}") for lane in range(cols)]
        passed = Signal(lanes)
        m.d.sync += passed.eq(summed)
        for lane in range(cols):
            m.d.sync += product[lane].eq(summed[lane] * scale)
        # s4: shift, and keep the bits shifted out.
        quotient = [Signal(signed(49), name=f"quotient{lane}") for lane in range(cols)]
        rest = [Signal(48, name=f"rest{lane}") for lane in range(cols)]
        kept = Signal(lanes)
        m.d.sync += kept.eq(passed)
        half = Signal(48)
        mask = Signal(48)
        m.d.comb += [half.eq((Const(1, 49) << shift) >> 1),
                     mask.eq((Const(1, 49) << shift) - 1)]
        for lane in range(cols):
            m.d.sync += [quotient[lane].eq(product[lane] >> shift),
                         rest[lane].eq(product[lane].as_unsigned()[:48] & mask)]
        # s5: decide the rounding from the bits shifted out; place the row in its beat.
        round_up = Signal(cols)
        truncated = [Signal(signed(49), name=f"truncated{lane}") for lane in range(cols)]
        unscaled = Signal(lanes)
        m.d.sync += unscaled.eq(kept)
        for lane in range(cols):
            q = quotient[lane]
            tie = rest[lane] == half
            m.d.sync += [
                truncated[lane].eq(q),
                round_up[lane].eq((shift != 0) & ((rest[lane] > half)
                                                  | (tie & (half_up | q[0])))),
            ]
        where_s4 = place[place_stage - 1]
        n_left = Signal(DIM_BITS + 1)
        m.d.comb += n_left.eq(d.n - (where_s4.nt << g.log2_cols))
        lane_on = Signal(cols)
        beat_addr = Signal(g.addr_width)
        int8_column = where_s4.nt << g.log2_cols
        int32_column = where_s4.nt << (g.log2_cols + 2)
        # The lane group of the beat the row's columns fall in.
        int8_groups = g.beat_bytes // cols
        groups = max(int8_groups, c_groups)
        beat_group = Signal(range(groups))
        m.d.sync += [
            beat_addr.eq(where_s4.addr + ((Mux(int8, int8_column, int32_column)
                                           >> g.beat_shift) << g.beat_shift)),
            lane_on.eq(Cat(*(lane < n_left for lane in range(cols)))),
            beat_group.eq(Mux(int8, where_s4.nt & (int8_groups - 1),
                              where_s4.nt & (c_groups - 1))),
        ]
        # s6: round, saturate to int8, apply ReLU.
        int8_lanes = data.ArrayLayout(signed(8), cols)
        bytes_ = Signal(int8_lanes)
        words = Signal(lanes)
        for lane in range(cols):
            r = Signal(signed(50), name=f"rounded{lane}")
            m.d.comb += r.eq(truncated[lane] + round_up[lane])
            saturated = Mux(r > 127, 127, Mux(r < -128, -128, r))
            m.d.sync += [
                bytes_[lane].eq(Mux(relu & (saturated < 0), 0, saturated)),
                words[lane].eq(Mux(relu & (unscaled[lane] < 0), 0, unscaled[lane])),
            ]
        row_addr = Signal(g.addr_width)
        row_lanes = Signal(cols)
        row_group = Signal(range(groups))
        m.d.sync += [row_addr.eq(beat_addr), row_lanes.eq(lane_on), row_group.eq(beat_group)]
        # Queue the row for the writer.
        row = data.View(write_row_layout(g.addr_width, g.row_bits), output.w_data)
        m.d.comb += row.addr.eq(row_addr)
        with m.If(int8):
            group = row_group if int8_groups > 1 else 0
            m.d.comb += [
                row.len.eq(0),
                row.data.word_select(group, 8 * cols).eq(bytes_),
                row.strb.word_select(group, cols).eq(row_lanes),
            ]
        with m.Else():
            group = row_group if c_groups > 1 else 0
            m.d.comb += [
                row.len.eq(g.c_row_beats - 1),
                row.data.word_select(group, 32 * cols).eq(words),
                row.strb.word_select(group, 4 * cols).eq(
                    Cat(*(row_lanes[lane].replicate(4) for lane in range(cols)))),
            ]
        m.d.comb += [
            output.w_en.eq(valid[PIPELINE - 1]),
            self.rows.valid.eq(output.r_rdy),
            self.rows.payload.eq(output.r_data),
            output.r_en.eq(self.rows.ready),
            self.done.eq(out_loop.done & (in_flight == 0) & ~output.r_rdy),
        ]
        return m


def _advance_rows(m, g, loop, stride, block, row):
    """Row addresses of a loop over (mt, nt, r): the next row, the block's first row again
    for the next N tile, or the next block's first row."""
    with m.If(loop.is_last("nt", "r")):
        next_block = block + (stride << g.log2_block_m)
        m.d.sync += [block.eq(next_block), row.eq(next_block)]
    with m.Elif(loop.last["r"]):
        m.d.sync += row.eq(block)
    with m.Else():
        m.d.sync += row.eq(row + stride)
