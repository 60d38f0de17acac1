"""Formal checks of the systolic array's arithmetic and alignment.

* The processing elements (:mod:`rtl.systolic.pe`) compute the two's-complement sum of
  products wrapped at ``acc_width``. The property keeps its own weight banks (or running
  sum) and computes each product itself: at int8 x int8 into int32 as the product of the
  operands sign-extended to 32 bits (the PE multiplies at 16 bits and extends the product),
  and at int4 x int4 as the textbook sum of partial products, the sign bit's weight
  negative, so that no multiplier is compared with itself. (The partial-product reference
  at int8 also proves, in minutes rather than seconds: too slow for every run.) Induction
  needs only that the PE's registers equal the property's.
* The skew and deskew buffers (:mod:`rtl.systolic.skew`) delay lane ``i`` by ``i`` and by
  ``lanes - 1 - i`` cycles, so that in sequence every lane is delayed ``lanes - 1`` cycles:
  the wavefront the array needs in between is undone exactly.
* The weight-stationary and output-stationary arrays (:mod:`rtl.systolic.array`), skew,
  grid and deskew together, put into their result FIFO, exactly ``latency`` cycles after
  the operand, the row a reference in the property computed from the streams: the bounded
  proof of the arrays' cycle alignment, with covers of full passes.
* Their result FIFO (:class:`~rtl.fifo.CreditFIFO`), with a writer that keeps its
  credits and a free reader, hands out every entry unchanged and in order; a writer that
  overruns the capacity by one entry breaks it (a mutation job), so the credits the arrays
  count are exactly what the FIFO needs.
* The array's clock-crossing FIFO (:class:`~rtl.fifo.CrossingFIFO`), with both clocks free
  inputs (a ``multiclock`` job, so the two clocks' edges come in every order), hands out
  every entry unchanged and in order and never holds more than its capacity; given its spare
  slot, the writer overwrites the oldest entry (a mutation job).
"""

from amaranth import (Module, Signal, Cat, Const, Mux, ClockDomain, ClockSignal,
                      ResetSignal, signed)
from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from rtl.fifo import CreditFIFO, CrossingFIFO
from rtl.systolic.pe import WeightStationaryPE, OutputStationaryPE
from rtl.systolic.skew import Skew
from rtl.systolic.array import WeightStationaryArray, OutputStationaryArray
from rtl.systolic.layouts import weight_row, activation_beat, operand_beat
from .job import FormalJob
from .netlist import Netlist

__all__ = ["reference_product", "PEHarness", "SkewHarness", "CreditFIFOHarness",
           "CrossingFIFOHarness", "ArrayHarness", "JOBS"]


def reference_product(m, a, b, width, name):
    """``a * b`` (signed) wrapped to ``width`` bits, as the sum of the partial products of
    ``b``'s bits with the sign bit's weight negative. Returns a ``signed(width)`` wire."""
    terms = []
    for k in range(len(b)):
        partial = Signal(signed(width), name=f"{name}_partial{k}")
        m.d.comb += partial.eq(Mux(b[k], a << k, 0))
        terms.append(partial)
    product = Signal(signed(width), name=name)
    total = Const(0, signed(width))
    for term in terms[:-1]:
        total = total + term
    m.d.comb += product.eq(total - terms[-1])
    return product


class PEHarness(wiring.Component):
    """One processing element with free inputs and a reference model.

    Weight-stationary: the reference keeps the two weight banks as the load strobes say and
    predicts ``psum_out = psum_in + product`` one cycle on, where ``product`` is
    ``a_in * weight[sel_in]`` of two cycles before (the cell's operand and product
    registers). Output-stationary:
    it keeps the running sum of ``a_in * b_in`` and predicts ``drain_out``: the finished sum
    after a ``last`` pair, else ``drain_in`` of two cycles before. The forwarded operands are
    checked to be one register behind.

    Parameters
    ----------
    dataflow : ``"ws"`` or ``"os"``
    operand_width, acc_width : int
    lemmas : bool
        Assert that the PE's weight banks (or accumulator and drain register) equal the
        reference's, which makes the proof 1-inductive.
    reference : ``"partial_products"`` or ``"multiply"``
        How the property computes a product: as the sum of partial products
        (:func:`reference_product`), or with the operands sign-extended to ``acc_width``
        and multiplied there (which solvers prove equal to the PE's much faster at int8).
    """

    def __init__(self, *, dataflow, operand_width, acc_width, lemmas=True,
                 reference="partial_products"):
        if reference not in ("partial_products", "multiply"):
            raise ValueError(f"reference must be 'partial_products' or 'multiply', "
                             f"not {reference!r}")
        self.reference = reference
        self.dataflow = dataflow
        self.pe_class = {"ws": WeightStationaryPE, "os": OutputStationaryPE}[dataflow]
        self.operand_width, self.acc_width = operand_width, acc_width
        self.lemmas = lemmas
        ports = {**self.pe_class.east_ports(operand_width, acc_width),
                 **self.pe_class.south_ports(operand_width, acc_width)}
        super().__init__({f"{name}_in": In(shape) for name, shape in ports.items()})

    def _product(self, m, a, b):
        if self.reference == "partial_products":
            return reference_product(m, a, b, self.acc_width, "reference_product")
        product = Signal(signed(self.acc_width), name="reference_product")
        m.d.comb += product.eq(a.as_signed() * b.as_signed())
        return product

    def elaborate(self, platform):
        m = Module()
        m.d.comb += Assume(~ResetSignal())
        pe = self.pe_class(operand_width=self.operand_width, acc_width=self.acc_width)
        netlist = Netlist(pe)
        m.submodules.pe = netlist
        ports = {**pe.east, **pe.south}
        for name in ports:
            m.d.comb += getattr(pe, f"{name}_in").eq(getattr(self, f"{name}_in"))

        # Every forwarded signal (all but the result) is its input one cycle late.
        result = "psum" if self.dataflow == "ws" else "drain"
        for name, shape in ports.items():
            if name == result:
                continue
            previous = Signal(shape, name=f"previous_{name}")
            m.d.sync += previous.eq(getattr(pe, f"{name}_in"))
            m.d.comb += Assert(getattr(pe, f"{name}_out") == previous, f"{name} forwarded")

        acc_shape = signed(self.acc_width)
        if self.dataflow == "ws":
            banks = [Signal(signed(self.operand_width), name=f"reference_weight{i}")
                     for i in range(2)]
            for i in range(2):
                with m.If(pe.load_in & (pe.load_bank_in == i)):
                    m.d.sync += banks[i].eq(pe.w_in)
            weight = Signal(signed(self.operand_width))
            m.d.comb += weight.eq(Mux(pe.sel_in, banks[1], banks[0]))
            product = self._product(m, pe.a_in, weight)
            # The cell registers the operands, then the product, and adds it to the partial
            # sum of the cycle after.
            a_1 = Signal(signed(self.operand_width), name="reference_a_1")
            weight_1 = Signal(signed(self.operand_width), name="reference_weight_1")
            product_1 = Signal(acc_shape, name="reference_product_1")
            product_2 = Signal(acc_shape, name="reference_product_2")
            expected = Signal(acc_shape)
            m.d.sync += [a_1.eq(pe.a_in), weight_1.eq(weight), product_1.eq(product),
                         product_2.eq(product_1), expected.eq(pe.psum_in + product_2)]
            m.d.comb += Assert(pe.psum_out == expected,
                               "psum_out is psum_in + the product of a and w two cycles "
                               "before")
            if self.lemmas:
                for i in range(2):
                    m.d.comb += Assert(netlist.signal(f"weight_bank{i}") == banks[i],
                                       "lemma: weight bank")
                m.d.comb += [
                    Assert(netlist.signal("operand_a") == a_1, "lemma: operand register"),
                    Assert(netlist.signal("operand_w") == weight_1, "lemma: operand register"),
                    Assert(netlist.signal("product").as_signed() == product_2,
                           "lemma: product register"),
                ]
        else:
            running = Signal(acc_shape, name="reference_sum")
            product = self._product(m, pe.a_in, pe.b_in)
            drain_1 = Signal(acc_shape)
            expected = Signal(acc_shape)
            m.d.sync += drain_1.eq(pe.drain_in)
            with m.If(pe.last_in):
                m.d.sync += [running.eq(0), expected.eq(running + product)]
            with m.Else():
                m.d.sync += [running.eq(running + product), expected.eq(drain_1)]
            m.d.comb += Assert(pe.drain_out == expected, "drain_out is the tile's sum or the "
                                                         "chain")
            if self.lemmas:
                m.d.comb += [
                    Assert(netlist.signal("acc") == running, "lemma: accumulator"),
                    Assert(netlist.signal("drain_pipe") == drain_1, "lemma: drain chain"),
                ]
        return m


class SkewHarness(wiring.Component):
    """A skew buffer feeding a deskew buffer of the same lanes, as the array uses them
    around its grid (the grid adds the same delay to every lane of the wavefront).

    Each lane of the skew output is asserted to be its input ``lane`` cycles late and each
    lane of the deskew output its input ``lanes - 1 - lane`` cycles late, against delay
    lines of the property; hence every lane leaves ``lanes - 1`` cycles after it entered,
    with the lanes of one vector together again.
    """

    def __init__(self, *, lanes, width):
        self.lanes, self.width = lanes, width
        super().__init__({"i": In(data.ArrayLayout(signed(width), lanes))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += Assume(~ResetSignal())
        lanes, shape = self.lanes, signed(self.width)
        m.submodules.skew = skew = Skew(lanes=lanes, shape=shape)
        m.submodules.deskew = deskew = Skew(lanes=lanes, shape=shape, descending=True)
        m.d.comb += [skew.i.eq(self.i), deskew.i.eq(skew.o)]

        # history[d][i]: lane i of the input d cycles ago.
        history = [self.i]
        for d in range(1, lanes):
            stage = Signal(data.ArrayLayout(shape, lanes), name=f"history{d}")
            m.d.sync += stage.eq(history[-1])
            history.append(stage)
        for lane in range(lanes):
            assert skew.delay(lane) == lane and deskew.delay(lane) == lanes - 1 - lane
            m.d.comb += [
                Assert(skew.o[lane] == history[lane][lane], "skew lane delay"),
                Assert(deskew.o[lane] == history[lanes - 1][lane], "deskew realigns"),
            ]
        # A vector of distinct lanes leaving whole: every lane non-zero and different.
        distinct = Cat(deskew.o[i] != deskew.o[j] for i in range(lanes)
                       for j in range(i + 1, lanes)).all() if lanes > 1 else Const(1)
        m.d.comb += Cover(distinct & Cat(deskew.o[i] != 0 for i in range(lanes)).all())
        return m


class CreditFIFOHarness(wiring.Component):
    """A :class:`~rtl.fifo.CreditFIFO` between a writer that keeps ``credits`` entries
    at most inside it (a write and a read in the same cycle count as both done) and a free
    reader.

    The properties number the entries as they are written and as they are read: the entry
    numbered by a free constant must leave with the data it was written with, as the same
    numbered entry (so nothing is lost, changed, duplicated or reordered), and nothing is
    read from an empty FIFO. With ``credits = depth`` this must hold; with ``depth + 1`` the
    FIFO's spare slot is gone and a mutation job expects a counterexample.

    Parameters
    ----------
    width, depth : int
        Of the FIFO.
    credits : int
        The writer's bound on the entries inside (default ``depth``).
    """

    def __init__(self, *, width, depth, credits=None):
        self.width, self.depth = width, depth
        self.credits = depth if credits is None else credits
        super().__init__({"w_en": In(1), "w_data": In(width), "r_en": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += Assume(~ResetSignal())
        m.submodules.fifo = fifo = CreditFIFO(width=self.width, depth=self.depth)
        m.d.comb += [fifo.w_en.eq(self.w_en), fifo.w_data.eq(self.w_data),
                     fifo.r_en.eq(self.r_en)]
        pop = fifo.r_rdy & fifo.r_en

        inside = Signal(range(self.credits + 2))
        m.d.comb += Assume(inside + self.w_en - pop <= self.credits)
        m.d.sync += inside.eq(inside + self.w_en - pop)
        m.d.comb += Assert(~fifo.r_rdy | (inside != 0), "an entry read from an empty FIFO")

        watched = AnyConst(4)
        written = Signal(4)
        read = Signal(4)
        kept = Signal(self.width)
        m.d.sync += [written.eq(written + self.w_en), read.eq(read + pop)]
        with m.If(self.w_en & (written == watched)):
            m.d.sync += kept.eq(self.w_data)
        with m.If(pop & (read == watched)):
            m.d.comb += Assert(fifo.r_data == kept, "an entry left changed or out of order")

        # Full, then streaming: three entries handed over on consecutive cycles.
        streak = Signal(range(4))
        m.d.sync += streak.eq(Mux(pop, Mux(streak == 3, 3, streak + 1), 0))
        m.d.comb += Cover((inside == self.depth) & (streak == 3))
        return m


class _CrossingFIFOWithoutSpareSlot(CrossingFIFO):
    """A mutation: lets the writer fill every slot, the one written on every cycle too."""

    @property
    def capacity(self):
        return self.depth


class CrossingFIFOHarness(wiring.Component):
    """A :class:`~rtl.fifo.CrossingFIFO` between two clock domains whose clocks are free
    inputs, so that their edges come in any order and at any ratio (a ``multiclock`` job),
    with a free writer that respects ``w_rdy`` and a free reader.

    The entries are numbered as they are written (in the write domain) and as they are read
    (in the read domain): the entry numbered by a free constant must be read with the data it
    was written with, as the same numbered entry; nothing is read that was not written; and
    the FIFO never holds more than its capacity. The properties are immediate, so they hold
    at every time step, between clock edges too (the read side's data is combinational).
    With the spare slot taken away (``mutant``) the writer overwrites the oldest entry and
    the job expects a counterexample.

    Parameters
    ----------
    width, depth : int
        Of the FIFO.
    mutant : bool
        Check :class:`_CrossingFIFOWithoutSpareSlot` instead.
    """

    def __init__(self, *, width, depth, mutant=False):
        self.width, self.depth, self.mutant = width, depth, mutant
        super().__init__({"w_clk": In(1), "r_clk": In(1), "w_en": In(1),
                          "w_data": In(width), "r_en": In(1)})

    def elaborate(self, platform):
        m = Module()
        for name, clock in (("write", self.w_clk), ("read", self.r_clk)):
            m.domains += ClockDomain(name)
            # The registers start from their initial values; no reset.
            m.d.comb += [ClockSignal(name).eq(clock), ResetSignal(name).eq(0)]
        fifo_class = _CrossingFIFOWithoutSpareSlot if self.mutant else CrossingFIFO
        m.submodules.fifo = fifo = fifo_class(width=self.width, depth=self.depth,
                                              w_domain="write", r_domain="read")
        m.d.comb += [fifo.w_en.eq(self.w_en), fifo.w_data.eq(self.w_data),
                     fifo.r_en.eq(self.r_en)]
        push = fifo.w_en & fifo.w_rdy
        pop = fifo.r_en & fifo.r_rdy

        # Numbers wide enough that the difference of two never wraps past the capacity.
        number_bits = self.depth.bit_length() + 2
        written = Signal(number_bits)
        read = Signal(number_bits)
        m.d.write += written.eq(written + push)
        m.d.read += read.eq(read + pop)
        inside = Signal(number_bits)
        m.d.comb += inside.eq(written - read)
        m.d.comb += [
            Assert(inside <= fifo.capacity, "more entries inside than the capacity"),
            Assert(~fifo.r_rdy | (inside != 0), "an entry read that was not written"),
        ]

        watched = AnyConst(number_bits)
        kept = Signal(self.width)
        with m.If(push & (written == watched)):
            m.d.write += kept.eq(self.w_data)
        with m.If(pop & (read == watched)):
            m.d.comb += Assert(fifo.r_data == kept, "an entry read changed or out of order")

        # The FIFO fills up, then empties: every pointer has crossed both ways.
        was_full = Signal()
        with m.If(inside == fifo.capacity):
            m.d.read += was_full.eq(1)
        m.d.comb += Cover(was_full & (inside == 0) & (written != 0))
        # Both pointers wrap (one more entry read than the pointers count).
        m.d.comb += Cover(read == 2 * self.depth + 1)
        return m


class ArrayHarness(wiring.Component):
    """A systolic array with free input streams, a free consumer and a reference.

    The reference computes, when the array accepts an operand, what the array owes for it:
    for the weight-stationary array the row ``sum_k A[k] * W[k][n]`` with the weights of
    the activation's tile (two tiles held, as the array's double buffer allows); for the
    output-stationary array, on a tile's ``last`` beat, the tile's ``rows`` rows of ``sum_k
    a_k[i] * b_k[j]``. The array's :attr:`latency` later (row ``i`` of an output tile ``i``
    cycles after that), the row must enter the result FIFO, with its ``last`` flag, and
    nothing else may: that is the alignment of skew, grid and deskew, with the datapath's
    fixed latency, which the solver checks without having to pair results across the
    FIFO's variable delay. The FIFO (:class:`~rtl.fifo.CreditFIFO`, proved by its own
    jobs) keeps the order; the property checks its flow control: every result handed over
    is owed, and no more results are owed than it holds.

    Parameters
    ----------
    dataflow : ``"ws"`` or ``"os"``
    rows, cols, operand_width, acc_width : int
    free_reset : bool
        Reset is a free input, asserted at any time for any number of cycles; it resets the
        reference too. The weight-stationary array resets only its controller, so this
        checks that what a reset leaves in the grid never reaches a result.
    """

    def __init__(self, *, dataflow, rows, cols, operand_width, acc_width, free_reset=False):
        self.dataflow = dataflow
        self.free_reset = free_reset
        self.rows, self.cols = rows, cols
        self.operand_width, self.acc_width = operand_width, acc_width
        if dataflow == "ws":
            members = {
                "weights_valid": In(1),
                "weights": In(weight_row(cols=cols, operand_width=operand_width)),
                "activations_valid": In(1),
                "activations": In(activation_beat(rows=rows, operand_width=operand_width)),
            }
        else:
            members = {
                "operands_valid": In(1),
                "operands": In(operand_beat(rows=rows, cols=cols,
                                            operand_width=operand_width)),
            }
        super().__init__({**members, "results_ready": In(1)})

    def elaborate(self, platform):
        m = Module()
        if not self.free_reset:
            m.d.comb += Assume(~ResetSignal())
        rows, cols = self.rows, self.cols
        acc_shape = signed(self.acc_width)
        cls = {"ws": WeightStationaryArray, "os": OutputStationaryArray}[self.dataflow]
        array = cls(rows=rows, cols=cols, operand_width=self.operand_width,
                    acc_width=self.acc_width)
        netlist = Netlist(array)
        m.submodules.array = netlist
        fifo = netlist.instance_of(CreditFIFO)
        m.d.comb += array.results.ready.eq(self.results_ready)
        pop = array.results.valid & array.results.ready
        latency = array.latency

        # What the array owes for the operand accepted this cycle: one row per activation,
        # or ``rows`` rows per finished output tile.
        if self.dataflow == "ws":
            accepted, owed = self._weight_stationary(m, array)
        else:
            accepted, owed = self._output_stationary(m, array)
        per_accept = len(owed)

        # Results owed: + on acceptance, - on each result handed over.
        depth = array.result_fifo_depth
        count = Signal(range(depth + per_accept + 1))
        with m.If(pop):
            m.d.comb += Assert(count != 0, "a result nobody owed")
        next_count = count + Mux(accepted, per_accept, 0) - pop
        m.d.comb += Assert(next_count <= depth, "more results owed than the result FIFO holds")
        m.d.sync += count.eq(next_count)

        # The owed rows, delayed: ``line[d]`` is what was accepted d cycles ago.
        row_layout = data.StructLayout({"data": data.ArrayLayout(acc_shape, cols), "last": 1})
        line_layout = data.StructLayout({"valid": 1,
                                         "rows": data.ArrayLayout(row_layout, per_accept)})
        line = [Signal(line_layout, name="owed_now")]
        m.d.comb += line[0].valid.eq(accepted)
        for i in range(per_accept):
            m.d.comb += line[0].rows[i].eq(owed[i])
        for d in range(1, latency + per_accept):
            stage = Signal(line_layout, name=f"owed_{d}_ago")
            m.d.sync += stage.eq(line[-1])
            line.append(stage)
        entering = data.View(row_layout, fifo.w_data)
        due = Cat(line[latency + i].valid for i in range(per_accept)).any()
        m.d.comb += Assert(fifo.w_en == due, "a result enters the FIFO off its cycle")
        for i in range(per_accept):
            with m.If(line[latency + i].valid):
                m.d.comb += [
                    Assert(entering.data == line[latency + i].rows[i].data, "wrong result"),
                    Assert(entering.last == line[latency + i].rows[i].last, "wrong last flag"),
                ]

        # Full passes: two tiles' last results handed over.
        passes = Signal(range(3))
        with m.If(pop & array.results.payload.last & (passes != 2)):
            m.d.sync += passes.eq(passes + 1)
        m.d.comb += Cover(passes == 2)
        return m

    def _weight_stationary(self, m, array):
        rows, cols = self.rows, self.cols
        acc_shape = signed(self.acc_width)
        m.d.comb += [
            array.weights.valid.eq(self.weights_valid),
            array.weights.payload.eq(self.weights),
            array.activations.valid.eq(self.activations_valid),
            array.activations.payload.eq(self.activations),
        ]
        # Two tiles of weights, filled and used in order.
        tiles = [[Signal(weight_row(cols=cols, operand_width=self.operand_width),
                         name=f"tile{t}_row{k}") for k in range(rows)] for t in range(2)]
        loaded = Signal(range(3))          # complete tiles not yet streamed
        fill_tile = Signal()
        fill_row = Signal(range(max(rows, 2)))
        use_tile = Signal()
        weight_accept = array.weights.valid & array.weights.ready
        activation_accept = array.activations.valid & array.activations.ready
        tile_loaded = weight_accept & (fill_row == rows - 1)
        tile_used = activation_accept & array.activations.payload.last
        with m.If(weight_accept):
            for t in range(2):
                for k in range(rows):
                    with m.If((fill_tile == t) & (fill_row == k)):
                        m.d.sync += tiles[t][k].eq(array.weights.payload)
            m.d.sync += [fill_row.eq(Mux(tile_loaded, 0, fill_row + 1)),
                         fill_tile.eq(fill_tile ^ tile_loaded)]
        m.d.sync += [loaded.eq(loaded + tile_loaded - tile_used),
                     use_tile.eq(use_tile ^ tile_used)]
        # Weights go only into a free tile, activations only of a loaded one.
        with m.If(weight_accept):
            m.d.comb += Assert(loaded < 2, "weights accepted with both tiles in use")
        with m.If(activation_accept):
            m.d.comb += Assert(loaded != 0, "activation accepted without its weights")
        entry = Signal(data.StructLayout({"data": data.ArrayLayout(acc_shape, cols),
                                          "last": 1}), name="ws_owed")
        a = array.activations.payload.data
        # Summed down the column in the order the partial sums flow, each step wrapped:
        # the same value as any other order, and the form a solver compares fastest.
        for n in range(cols):
            total = Const(0, acc_shape)
            for k in range(rows):
                weight = Signal(signed(self.operand_width), name=f"ws_weight{k}_{n}")
                m.d.comb += weight.eq(Mux(use_tile, tiles[1][k][n], tiles[0][k][n]))
                step = Signal(acc_shape, name=f"ws_partial{k}_{n}")
                m.d.comb += step.eq(total + a[k] * weight)
                total = step
            m.d.comb += entry.data[n].eq(total)
        m.d.comb += entry.last.eq(array.activations.payload.last)
        return activation_accept, [entry]

    def _output_stationary(self, m, array):
        rows, cols = self.rows, self.cols
        acc_shape = signed(self.acc_width)
        m.d.comb += [
            array.operands.valid.eq(self.operands_valid),
            array.operands.payload.eq(self.operands),
        ]
        accept = array.operands.valid & array.operands.ready
        beat = array.operands.payload
        sums = [[Signal(acc_shape, name=f"sum{i}_{j}") for j in range(cols)]
                for i in range(rows)]
        finished = [[Signal(acc_shape, name=f"finished{i}_{j}") for j in range(cols)]
                    for i in range(rows)]
        for i in range(rows):
            for j in range(cols):
                m.d.comb += finished[i][j].eq(sums[i][j] + beat.a[i] * beat.b[j])
                with m.If(accept):
                    m.d.sync += sums[i][j].eq(Mux(beat.last, 0, finished[i][j]))
        tile_done = accept & beat.last
        # A finished tile owes its rows in order, the last one flagged.
        entries = []
        for i in range(rows):
            entry = Signal(data.StructLayout({"data": data.ArrayLayout(acc_shape, cols),
                                              "last": 1}), name=f"os_owed{i}")
            for j in range(cols):
                m.d.comb += entry.data[j].eq(finished[i][j])
            m.d.comb += entry.last.eq(i == rows - 1)
            entries.append(entry)
        return tile_done, entries


def _job(name, mode, depth, description, cls, solver="yices", **parameters):
    return FormalJob(name=name, mode=mode, depth=depth, description=description,
                     solver=solver, build=lambda: cls(**parameters))


def _fifo_job(name, mode, depth, description, *, entries, credits=None, expect="pass"):
    return FormalJob(name=name, mode=mode, depth=depth, description=description, expect=expect,
                     build=lambda: CreditFIFOHarness(width=4, depth=entries, credits=credits))


def _crossing_job(name, mode, depth, description, *, slots, mutant=False, expect="pass"):
    return FormalJob(name=name, mode=mode, depth=depth, description=description, expect=expect,
                     multiclock=True,
                     build=lambda: CrossingFIFOHarness(width=2, depth=slots, mutant=mutant))


JOBS = (
    _job("pe_ws_int8", "prove", 2,
         "weight-stationary PE, int8 x int8 into int32: psum_out is psum_in plus a_in times "
         "the selected weight bank, wrapped, for all time (k-induction; reference: the "
         "product of the operands sign-extended to 32 bits)",
         PEHarness, solver="z3", dataflow="ws", operand_width=8, acc_width=32,
         reference="multiply"),
    _job("pe_os_int8", "prove", 2,
         "output-stationary PE, int8 x int8 into int32: a tile's drained sum is the wrapped "
         "sum of its products and the drain chain moves one cell per two cycles, for all "
         "time (k-induction; reference: the product sign-extended to 32 bits)",
         PEHarness, solver="z3", dataflow="os", operand_width=8, acc_width=32,
         reference="multiply"),
    _job("pe_ws_int4", "prove", 2,
         "weight-stationary PE, int4 x int4 into 10 bits, against the product as the sum of "
         "partial products (no multiplier in the reference), for all time (k-induction)",
         PEHarness, solver="z3", dataflow="ws", operand_width=4, acc_width=10),
    _job("pe_os_int4", "prove", 2,
         "output-stationary PE, int4 x int4 into 10 bits, against the product as the sum of "
         "partial products, for all time (k-induction)",
         PEHarness, solver="z3", dataflow="os", operand_width=4, acc_width=10),
    _job("skew_deskew_4", "prove", 5,
         "skew then deskew of 4 lanes: lane i is delayed i cycles, then 3 - i, so every "
         "lane leaves 3 cycles after it entered (k-induction)",
         SkewHarness, lanes=4, width=4),
    _job("skew_deskew_4_cover", "cover", 8,
         "skew then deskew of 4 lanes passes a vector of four distinct lanes",
         SkewHarness, lanes=4, width=4),
    _fifo_job("credit_fifo_3", "bmc", 14,
              "CreditFIFO of 3 entries (the arrays' result FIFO), writer within its credits, "
              "free reader: every entry leaves unchanged and in order, none from an empty "
              "FIFO (within 14 cycles: the pointers wrap three times)",
              entries=3),
    _fifo_job("credit_fifo_1", "bmc", 12,
              "CreditFIFO of 1 entry (its spare slot is a second one): every entry leaves "
              "unchanged and in order, none from an empty FIFO (within 12 cycles)",
              entries=1),
    _fifo_job("credit_fifo_3_cover", "cover", 12,
              "CreditFIFO of 3 entries fills up, then hands out three entries on consecutive "
              "cycles",
              entries=3),
    _fifo_job("credit_fifo_mutant_overrun", "bmc", 12,
              "mutation: a writer that keeps 4 entries in a CreditFIFO of 3 overwrites one; "
              "the proof must fail with a counterexample",
              entries=3, credits=4, expect="fail"),
    _crossing_job("crossing_fifo_4", "bmc", 40,
                  "CrossingFIFO of 4 slots between two free clocks, free writer within "
                  "w_rdy, free reader: every entry is read unchanged and in order, none that "
                  "was not written, never more than 3 inside, at every time step "
                  "(multiclock; within 40 steps, in which both pointers wrap)",
                  slots=4),
    _crossing_job("crossing_fifo_4_cover", "cover", 40,
                  "CrossingFIFO of 4 slots between two free clocks fills up, then empties; "
                  "and 9 entries pass, so both pointers wrap within the 40 steps of "
                  "crossing_fifo_4",
                  slots=4),
    _crossing_job("crossing_fifo_mutant_no_spare_slot", "bmc", 40,
                  "mutation: a CrossingFIFO whose writer may fill all 4 slots overwrites its "
                  "oldest entry (the slot written on every cycle); the proof must fail with "
                  "a counterexample",
                  slots=4, mutant=True, expect="fail"),
    _job("array_ws_2x3", "bmc", 14,
         "weight-stationary 2x3 array, int2 into 4 bits, free streams and consumer: every "
         "result row enters the result FIFO exactly latency cycles after its activation, "
         "with the weights of its tile, and the FIFO never overflows (within 14 cycles)",
         ArrayHarness, dataflow="ws", rows=2, cols=3, operand_width=2, acc_width=4),
    _job("array_ws_2x3_reset", "bmc", 24,
         "weight-stationary 2x3 array with reset a free input: whatever a reset leaves in "
         "the grid (which has no reset) never reaches a result row (within 24 cycles)",
         ArrayHarness, dataflow="ws", rows=2, cols=3, operand_width=2, acc_width=4,
         free_reset=True),
    _job("array_os_2x3", "bmc", 14,
         "output-stationary 2x3 array, int2 into 4 bits, free streams and consumer: every "
         "tile's rows enter the result FIFO from latency cycles after its last beat, in "
         "order, and the FIFO never overflows (within 14 cycles)",
         ArrayHarness, dataflow="os", rows=2, cols=3, operand_width=2, acc_width=4),
    _job("array_ws_2x3_cover", "cover", 24,
         "weight-stationary 2x3 array: two full tile passes leave the array",
         ArrayHarness, dataflow="ws", rows=2, cols=3, operand_width=2, acc_width=4),
    _job("array_os_2x3_cover", "cover", 24,
         "output-stationary 2x3 array: two full tile passes leave the array",
         ArrayHarness, dataflow="os", rows=2, cols=3, operand_width=2, acc_width=4),
)
