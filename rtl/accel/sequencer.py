"""The sequencer: takes a descriptor from the command queue, checks it, derives the loop
bounds, starts the operand and result paths together and reports the end of the command.

Checks, in this order (the first that fails is the command's error code, and the command
finishes at once without a memory access):

* ``ZERO_DIMENSION``: M, K or N is 0;
* ``DIMENSION_TOO_LARGE``: M, K or N above ``MAX_DIMENSION``;
* ``MISALIGNED_ADDRESS``: A, B or C not at a multiple of the beat size (32 bytes);
* ``MISALIGNED_STRIDE``: a row stride not a multiple of the beat size;
* ``STRIDE_TOO_SMALL``: rows that would overlap (a stride below the row's bytes);
* ``BAD_QUANT``: a shift above ``MAX_SHIFT``, or ``ACCUMULATE`` with int8 output;
* ``OUT_OF_RANGE``: a matrix reaching past the memory;
* ``OVERLAP``: C overlapping A or B.

A matrix spans from its address to the end of its last row rounded up to whole beats, the
bytes the DMA engines touch.
"""

from amaranth import Module, Signal, Mux, Cat
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from openmxu.registers import ErrorCode, Flags, MAX_DIMENSION, MAX_SHIFT
from .geometry import descriptor_layout, plan_layout, DIM_BITS

__all__ = ["Sequencer"]

SPAN_BITS = 56


class Sequencer(wiring.Component):
    """Runs the commands of the queue one after the other (see the module documentation).

    Parameters
    ----------
    geometry : Geometry
    memory_bytes : int
        Bytes of memory behind the port: matrices must end at or below.

    Members
    -------
    commands : ``In(stream.Signature(descriptor_layout()))``
    start : ``Out(1)``
        One-cycle pulse: the paths begin the command in ``descriptor`` and ``plan``.
    descriptor : ``Out(descriptor_layout())``
    plan : ``Out(plan_layout())``
    paths_done : ``In(1)``
        Every path has finished and the writer has all its responses.
    bus_error : ``In(1)``
        A response other than OKAY arrived during the command.
    busy : ``Out(1)``
    finished : ``Out(1)``
        One-cycle pulse at the end of a command, with its ``error``.
    error : ``Out(8)``
    """

    def __init__(self, *, geometry, memory_bytes):
        self.geometry, self.memory_bytes = geometry, memory_bytes
        super().__init__({
            "commands": In(stream.Signature(descriptor_layout())),
            "start": Out(1),
            "descriptor": Out(descriptor_layout()),
            "plan": Out(plan_layout()),
            "paths_done": In(1),
            "bus_error": In(1),
            "busy": Out(1),
            "finished": Out(1),
            "error": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        g, d = self.geometry, self.descriptor
        beat_mask = g.beat_bytes - 1
        int8 = d.flags[Flags.INT8.bit_length() - 1]
        accumulate = d.flags[Flags.ACCUMULATE.bit_length() - 1]
        shift = d.quant[16:22]

        def beats_up(value):
            return (value + beat_mask) & ~beat_mask

        # The checks run once per command, so they take several short cycles rather than one
        # long one: each state below registers what the next one needs.
        c_row = Signal(DIM_BITS + 2)
        m.d.comb += c_row.eq(Mux(int8, d.n, d.n << 2))
        conditions = [
            (ErrorCode.ZERO_DIMENSION, (d.m == 0) | (d.k == 0) | (d.n == 0)),
            (ErrorCode.DIMENSION_TOO_LARGE,
             (d.m > MAX_DIMENSION) | (d.k > MAX_DIMENSION) | (d.n > MAX_DIMENSION)),
            (ErrorCode.MISALIGNED_ADDRESS,
             ((d.a_addr | d.b_addr | d.c_addr) & beat_mask).any()),
            (ErrorCode.MISALIGNED_STRIDE,
             ((d.a_stride | d.b_stride | d.c_stride) & beat_mask).any()),
            (ErrorCode.STRIDE_TOO_SMALL,
             ((d.m > 1) & (d.a_stride < d.k)) | ((d.k > 1) & (d.b_stride < d.n))
             | ((d.m > 1) & (d.c_stride < c_row))),
            (ErrorCode.BAD_QUANT, (shift > MAX_SHIFT) | (accumulate & int8)),
        ]
        # CHECK registers each condition; PLAN picks the first that holds.
        failed = Signal(len(conditions))
        early = Signal(ErrorCode)
        for index, (code, _) in reversed(list(enumerate(conditions))):
            with m.If(failed[index]):
                m.d.comb += early.eq(code)

        # SPAN: a matrix spans (rows - 1) * stride + its last row in whole beats. The three
        # products are built by shift and add, one bit of (rows - 1) per cycle (at most
        # DIM_BITS cycles): no multiplier block and no adder tree for what runs once per command.
        spans = [Signal(SPAN_BITS, name=f"{name}_span") for name in "abc"]
        strides = [Signal(SPAN_BITS, name=f"{name}_stride_shifted") for name in "abc"]
        multipliers = [Signal(DIM_BITS, name=f"{name}_rows_left") for name in "abc"]

        # ENDS and BOUNDS: the ends of the three matrices, then their comparisons.
        ends = [Signal(SPAN_BITS, name=f"{name}_end") for name in "abc"]
        a_end, b_end, c_end = ends
        out_of_range = Signal()
        overlap = Signal()
        late = Signal(ErrorCode)
        with m.If(early != ErrorCode.NONE):
            m.d.comb += late.eq(early)
        with m.Elif(out_of_range):
            m.d.comb += late.eq(ErrorCode.OUT_OF_RANGE)
        with m.Elif(overlap):
            m.d.comb += late.eq(ErrorCode.OVERLAP)

        # K elements of the last chunk, less one.
        k_last_less_one = Signal(g.log2_block_k)
        m.d.comb += k_last_less_one.eq((d.k - 1) & (g.block_k - 1))
        bus_error = Signal()

        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                m.d.comb += self.commands.ready.eq(1)
                with m.If(self.commands.valid):
                    m.d.sync += d.eq(self.commands.payload)
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [failed[index].eq(condition)
                             for index, (_, condition) in enumerate(conditions)]
                for span, stride, multiplier, rows, row_bytes, step in zip(
                        spans, strides, multipliers, (d.m, d.k, d.m),
                        (beats_up(d.k), beats_up(d.n), beats_up(c_row)),
                        (d.a_stride, d.b_stride, d.c_stride)):
                    m.d.sync += [span.eq(row_bytes), stride.eq(step),
                                 multiplier.eq((rows - 1)[:DIM_BITS])]
                m.next = "SPAN"
            with m.State("SPAN"):
                m.d.comb += self.busy.eq(1)
                with m.If(Cat(*multipliers) == 0):
                    m.next = "ENDS"
                for span, stride, multiplier in zip(spans, strides, multipliers):
                    with m.If(multiplier[0]):
                        m.d.sync += span.eq(span + stride)
                    m.d.sync += [stride.eq(stride << 1), multiplier.eq(multiplier >> 1)]
            with m.State("ENDS"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [end.eq(address + span) for end, address, span
                             in zip(ends, (d.a_addr, d.b_addr, d.c_addr), spans)]
                m.next = "BOUNDS"
            with m.State("BOUNDS"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    out_of_range.eq((a_end > self.memory_bytes) | (b_end > self.memory_bytes)
                                    | (c_end > self.memory_bytes)),
                    overlap.eq(((d.c_addr < a_end) & (d.a_addr < c_end))
                               | ((d.c_addr < b_end) & (d.b_addr < c_end))),
                ]
                m.next = "PLAN"
            with m.State("PLAN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    self.plan.m_blocks.eq(((d.m - 1) >> g.log2_block_m) + 1),
                    self.plan.m_last_rows.eq(((d.m - 1) & (g.block_m - 1)) + 1),
                    self.plan.n_tiles.eq(((d.n - 1) >> g.log2_cols) + 1),
                    self.plan.k_chunks.eq(((d.k - 1) >> g.log2_block_k) + 1),
                    self.plan.k_last_tiles.eq((k_last_less_one >> g.log2_rows) + 1),
                    self.plan.k_last_beats.eq((k_last_less_one >> g.beat_shift) + 1),
                    self.error.eq(late),
                    bus_error.eq(0),
                ]
                with m.If(late != ErrorCode.NONE):
                    m.next = "FINISH"
                with m.Else():
                    m.next = "START"
            with m.State("START"):
                m.d.comb += [self.busy.eq(1), self.start.eq(1)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.bus_error):
                    m.d.sync += bus_error.eq(1)
                with m.If(self.paths_done):
                    with m.If(bus_error | self.bus_error):
                        m.d.sync += self.error.eq(ErrorCode.BUS_ERROR)
                    m.next = "FINISH"
            with m.State("FINISH"):
                m.d.comb += [self.busy.eq(1), self.finished.eq(1)]
                m.next = "IDLE"
        return m
