"""A simulation harness that runs whole matrix multiplications through a systolic array.

The harness holds A, B and C in on-chip memories, streams tiles into the array at full rate
from RTL, and accumulates the results, so that a long run needs no Python in the per-cycle
loop: the testbench loads the memories, pulses ``start``, waits for ``done`` and reads C back.
Pseudo-random stalls (LFSR-driven) on every stream exercise the array's flow control at
simulator speed.

Memory layouts (one word per array vector; :mod:`openmxu.tiling` packs and unpacks them):

=========  ====================================  ====================================
memory     weight-stationary                     output-stationary
=========  ====================================  ====================================
A          ``A[m, kt*rows:(kt+1)*rows]`` at      ``A[mt*rows:(mt+1)*rows, k]`` at
           ``kt * M + m``                        ``mt * K + k``
B          ``B[k, nt*cols:(nt+1)*cols]`` at ``k * NT + nt`` (both dataflows)
C          ``C[m, nt*cols:(nt+1)*cols]`` at ``m * NT + nt`` (both dataflows)
=========  ====================================  ====================================

The loop counts ``m_steps``, ``k_steps`` and ``n_steps`` are (M, K / rows, N / cols) for the
weight-stationary array and (M / rows, K, N / cols) for the output-stationary one.
"""

import zlib

from amaranth import Module, Signal, Mux, Cat, Const
from amaranth.lib import wiring, memory, data
from amaranth.lib.wiring import In, Out

from rtl.params import check_int, validating
from rtl.systolic import build_array
from rtl.systolic.layouts import result_beat

__all__ = ["ArrayHarness"]

STEP_WIDTH = 20
LFSR_TAPS = 0xB400  # x^16 + x^14 + x^13 + x^11 + 1, maximal length


def _lfsr(m, name, seed, start):
    """A 16-bit Galois LFSR; returns its state. Reloaded from ``seed`` on ``start``."""
    state = Signal(16, name=name, init=1)
    with m.If(start):
        m.d.sync += state.eq(seed | 1)
    with m.Else():
        m.d.sync += state.eq(Mux(state[0], (state >> 1) ^ LFSR_TAPS, state >> 1))
    return state


class _LoopNest:
    """Nested counters stepped one innermost iteration at a time."""

    def __init__(self, m, name, limits):
        self.limits = limits
        self.index = [Signal(STEP_WIDTH, name=f"{name}_{axis}") for axis, _ in limits]
        self.last = [Signal(name=f"{name}_{axis}_last") for axis, _ in limits]
        for index, last, (_, limit) in zip(self.index, self.last, limits):
            m.d.comb += last.eq(index == limit - 1)
        self.final = Signal(name=f"{name}_final")
        m.d.comb += self.final.eq(Cat(*self.last).all())
        self._m = m

    def __getitem__(self, axis):
        return self.index[[name for name, _ in self.limits].index(axis)]

    def is_last(self, axis):
        return self.last[[name for name, _ in self.limits].index(axis)]

    def reset(self):
        self._m.d.sync += [index.eq(0) for index in self.index]

    def step(self):
        """Advance the innermost counter, carrying outwards."""
        m = self._m
        carry = Const(1)
        for index, last in reversed(list(zip(self.index, self.last))):
            with m.If(carry):
                m.d.sync += index.eq(Mux(last, 0, index + 1))
            carry = carry & last


class ArrayHarness(wiring.Component):
    """Memories, tile sequencing and accumulation around one systolic array.

    Parameters
    ----------
    config : :class:`openmxu.Config`
        Array configuration.
    a_depth, b_depth, c_depth : int
        Words in the A, B and C memories.

    Members
    -------
    start : ``In(1)``
        Pulse to run the multiplication described by the ``*_steps`` inputs.
    busy, done : ``Out(1)``
        ``busy`` while running; ``done`` from the end of a run to the next ``start``.
    cycles : ``Out(32)``
        Cycles of the last run, from ``start`` to ``done``.
    m_steps, k_steps, n_steps : ``In(20)``
        Loop counts, see the module documentation.
    in_stall, out_stall : ``In(8)``
        Probability (out of 256) that an operand stream skips presenting a beat in a cycle,
        and that the result stream is not ready in a cycle.
    seed : ``In(16)``
        Seed of the stall generators.
    load_a, load_b, load_addr, load_data : inputs
        Write port for the A and B memories.
    read_addr : ``In``, read_data : ``Out``
        Read port of the C memory (one cycle latency).
    """

    def __init__(self, config, *, a_depth, b_depth, c_depth):
        with validating(self):
            for name, depth in (("a_depth", a_depth), ("b_depth", b_depth),
                                ("c_depth", c_depth)):
                check_int(name, depth, 1, 1 << 20)
        self.config = config
        self.a_depth, self.b_depth, self.c_depth = a_depth, b_depth, c_depth
        self.a_width = config.rows * config.operand_width
        self.b_width = config.cols * config.operand_width
        self.c_width = config.cols * config.acc_width
        addr_width = max(a_depth - 1, b_depth - 1, c_depth - 1, 1).bit_length()
        super().__init__({
            "start": In(1), "busy": Out(1), "done": Out(1), "cycles": Out(32),
            "m_steps": In(STEP_WIDTH), "k_steps": In(STEP_WIDTH), "n_steps": In(STEP_WIDTH),
            "in_stall": In(8), "out_stall": In(8), "seed": In(16),
            "load_a": In(1), "load_b": In(1), "load_addr": In(addr_width),
            "load_data": In(max(self.a_width, self.b_width)),
            "read_addr": In(addr_width), "read_data": Out(self.c_width),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        rows, cols = cfg.rows, cfg.cols
        m.submodules.array = array = build_array(cfg)

        m.submodules.a_memory = a_mem = memory.Memory(shape=self.a_width, depth=self.a_depth,
                                                      init=[])
        m.submodules.b_memory = b_mem = memory.Memory(shape=self.b_width, depth=self.b_depth,
                                                      init=[])
        m.submodules.c_memory = c_mem = memory.Memory(shape=self.c_width, depth=self.c_depth,
                                                      init=[])
        for mem, strobe, width in ((a_mem, self.load_a, self.a_width),
                                   (b_mem, self.load_b, self.b_width)):
            port = mem.write_port()
            m.d.comb += [port.addr.eq(self.load_addr), port.data.eq(self.load_data[:width]),
                         port.en.eq(strobe)]
        readback = c_mem.read_port()
        m.d.comb += [readback.addr.eq(self.read_addr), self.read_data.eq(readback.data)]

        start = Signal()
        m.d.comb += start.eq(self.start & ~self.busy)
        with m.If(start):
            m.d.sync += [self.busy.eq(1), self.done.eq(0), self.cycles.eq(0)]
        with m.Elif(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        M, K, N = self.m_steps, self.k_steps, self.n_steps
        if cfg.dataflow == "ws":
            weights = _LoopNest(m, "weight_loop", [("n", N), ("k", K), ("row", rows)])
            self._feeder(m, "weight_feed", weights, start, array.weights, [
                (array.weights.payload, b_mem,
                 (weights["k"] * rows + weights["row"]) * N + weights["n"])])
            acts = _LoopNest(m, "activation_loop", [("n", N), ("k", K), ("m", M)])
            self._feeder(m, "activation_feed", acts, start, array.activations, [
                (array.activations.payload.data, a_mem, acts["k"] * M + acts["m"])],
                last=acts.is_last("m"))
            sink = _LoopNest(m, "result_loop", [("n", N), ("k", K), ("m", M)])
            c_addr = sink["m"] * N + sink["n"]
            accumulate = sink["k"] != 0
        else:
            ops = _LoopNest(m, "operand_loop", [("m", M), ("n", N), ("k", K)])
            self._feeder(m, "operand_feed", ops, start, array.operands, [
                (array.operands.payload.a, a_mem, ops["m"] * K + ops["k"]),
                (array.operands.payload.b, b_mem, ops["k"] * N + ops["n"])],
                last=ops.is_last("k"))
            sink = _LoopNest(m, "result_loop", [("m", M), ("n", N), ("row", rows)])
            c_addr = (sink["m"] * rows + sink["row"]) * N + sink["n"]
            accumulate = Const(0)

        # Result sink: read-modify-write of C, one result row per cycle. The read port is
        # transparent so that two consecutive rows to one address (M = 1) see each other.
        c_write = c_mem.write_port()
        c_read = c_mem.read_port(transparent_for=(c_write,))
        sink_running = Signal()
        out_stall_draw = _lfsr(m, "result_stall_lfsr",
                               self.seed ^ (zlib.crc32(b"result") & 0xFFFF), start)
        accept = Signal()
        m.d.comb += [
            array.results.ready.eq(sink_running & (out_stall_draw[:8] >= self.out_stall)),
            accept.eq(array.results.valid & array.results.ready),
            c_read.addr.eq(c_addr),
            c_read.en.eq(accept),
        ]
        pending_valid = Signal()
        pending_addr = Signal.like(c_write.addr)
        pending_accumulate = Signal()
        pending_data = Signal(result_beat(cols=cols, acc_width=cfg.acc_width).members["data"])
        pending_final = Signal()
        m.d.sync += [
            pending_valid.eq(accept),
            pending_addr.eq(c_addr),
            pending_accumulate.eq(accumulate),
            pending_data.eq(array.results.payload.data),
            pending_final.eq(accept & sink.final),
        ]
        old = data.View(pending_data.shape(), c_read.data)
        total = Signal(pending_data.shape())
        for c in range(cols):
            m.d.comb += total[c].eq(pending_data[c] + Mux(pending_accumulate, old[c], 0))
        m.d.comb += [c_write.addr.eq(pending_addr), c_write.data.eq(total),
                     c_write.en.eq(pending_valid)]
        with m.If(start):
            sink.reset()
            m.d.sync += sink_running.eq((M != 0) & (K != 0) & (N != 0))
        with m.Elif(accept):
            sink.step()
            with m.If(sink.final):
                m.d.sync += sink_running.eq(0)
        with m.If(pending_final):
            m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        return m

    def _feeder(self, m, name, loop, start, port, reads, last=None):
        """Stream words from memory into an array input, one beat per cycle when not stalled.

        ``reads`` lists ``(payload field, memory, address)``. A read port's data is the beat's
        payload: it only advances when the beat is taken, so a beat stays stable while the
        array holds ``ready`` low.
        """
        running = Signal(name=f"{name}_running")
        valid = Signal(name=f"{name}_valid")
        advance = Signal(name=f"{name}_advance")
        issue = Signal(name=f"{name}_issue")
        stall_draw = _lfsr(m, f"{name}_stall_lfsr", self.seed ^ (zlib.crc32(name.encode()) & 0xFFFF),
                           start)
        m.d.comb += [
            advance.eq(~valid | port.ready),
            issue.eq(running & advance & (stall_draw[:8] >= self.in_stall)),
            port.valid.eq(valid),
        ]
        with m.If(advance):
            m.d.sync += valid.eq(issue)
        for field, mem, address in reads:
            read = mem.read_port()
            m.d.comb += [read.addr.eq(address), read.en.eq(advance), field.eq(read.data)]
        if last is not None:
            last_reg = Signal(name=f"{name}_last")
            with m.If(advance):
                m.d.sync += last_reg.eq(last)
            m.d.comb += port.payload.last.eq(last_reg)

        with m.If(start):
            loop.reset()
            m.d.sync += [running.eq((self.m_steps != 0) & (self.k_steps != 0)
                                    & (self.n_steps != 0)), valid.eq(0)]
        with m.Elif(issue):
            loop.step()
            with m.If(loop.final):
                m.d.sync += running.eq(0)
