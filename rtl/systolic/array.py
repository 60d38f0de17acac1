"""The systolic arrays: a grid of processing elements with skew, deskew and flow control.

The grid itself never stalls. Operands enter through a one-cycle entry register and the skew
buffers; data-less cycles carry zeros (the output-stationary array) or whatever the input
holds (the weight-stationary one, whose controller knows which wavefronts to keep). Results
leave through the deskew buffer into a result FIFO, and an operand is accepted only when
the FIFO is sure to have room for the results it will produce (credit-based flow control).
A consumer that stops reading therefore stops the producer within a cycle, while the grid
needs no clock enable and its fan-out stays local.
"""

from amaranth import Module, Signal, Shape, Cat, Mux, signed
from amaranth.lib import wiring, data, stream
from amaranth.lib.wiring import In, Out

from ..fifo import CreditFIFO
from ..params import check_int, check_widths, validating
from .layouts import weight_row, activation_beat, operand_beat, result_beat
from .pe import WeightStationaryPE, OutputStationaryPE, MultiplierPair
from .skew import Skew

__all__ = ["WeightStationaryArray", "OutputStationaryArray", "build_array"]


class _ArraySignature(wiring.Signature):
    """Parameters, validation, equality and repr shared by the array signatures."""

    def __init__(self, *, rows, cols, operand_width=8, acc_width=32):
        check_int("rows", rows, 1, 64)
        check_int("cols", cols, 1, 64)
        check_widths(operand_width, acc_width)
        self.rows, self.cols = rows, cols
        self.operand_width, self.acc_width = operand_width, acc_width
        super().__init__(self.members_for(rows=rows, cols=cols, operand_width=operand_width,
                                          acc_width=acc_width))

    def _params(self):
        return (self.rows, self.cols, self.operand_width, self.acc_width)

    def __eq__(self, other):
        return type(self) is type(other) and self._params() == other._params()

    def __hash__(self):
        return hash((type(self), self._params()))

    def __repr__(self):
        return (f"{type(self).__qualname__}(rows={self.rows}, cols={self.cols}, "
                f"operand_width={self.operand_width}, acc_width={self.acc_width})")


def _shift_line(m, name, value, length):
    """A ``length``-stage shift register of one bit; returns its output (``value`` delayed)."""
    line = Signal(length, name=name)
    m.d.sync += line.eq(Cat(value, line[:-1]) if length > 1 else value)
    return line[length - 1]


class _SystolicArray(wiring.Component):
    """What both arrays share: parameters, the PE grid with its skew and deskew buffers, and
    the result FIFO."""

    pe_class = None  # the processing element
    pairs_cells = False  # cells may share a DSP block (cells_per_dsp=2)
    grid_reset_less = False  # the skew and deskew buffers have no reset (nor has the PE)
    fed_north = None  # the south-flowing PE signal the column skew buffer feeds
    result = None  # the south-flowing PE signal the bottom row hands to the deskew buffer

    def __init__(self, *, rows, cols, operand_width=8, acc_width=32, hard_multipliers=None,
                 cells_per_dsp=1):
        self.rows, self.cols = rows, cols
        self.operand_width, self.acc_width = operand_width, acc_width
        with validating(self):
            signature = self.Signature(rows=rows, cols=cols, operand_width=operand_width,
                                       acc_width=acc_width)
            if hard_multipliers is not None:
                check_int("hard_multipliers", hard_multipliers, 0, rows * cols)
            if self.pairs_cells:
                check_int("cells_per_dsp", cells_per_dsp, 1, 2)
            elif cells_per_dsp != 1:
                raise ValueError(f"cells_per_dsp must be 1 for {type(self).__name__} (its "
                                 f"cells multiply without registers), not {cells_per_dsp!r}")
            if cells_per_dsp == 2:
                check_int("operand_width", operand_width, 2, 8,
                          extra=" with cells_per_dsp=2 (a DSP block's 8x8 multipliers)")
        self.hard_multipliers = rows * cols if hard_multipliers is None else hard_multipliers
        self.cells_per_dsp = cells_per_dsp
        super().__init__(signature)

    @property
    def paired_cells(self):
        """The cells (the first in row-major order) whose multipliers share DSP blocks two
        by two (:class:`~rtl.systolic.pe.MultiplierPair`): every hard cell when
        ``cells_per_dsp`` is 2, else none."""
        return self.hard_multipliers if self.cells_per_dsp == 2 else 0

    def _multiplier(self, index):
        """The multiplier kind of the cell ``index`` in row-major order."""
        if index < self.paired_cells:
            return "paired"
        return "hard" if index < self.hard_multipliers else "soft"

    @property
    def latency(self):
        """Cycles from accepting an operand to its first result entering the result FIFO:
        entry register 1, skew and wavefront ``rows - 1 + c``, the cell's
        ``result_delay`` (1, or 2 for a weight-stationary cell's product register), deskew
        ``cols - 1 - c``."""
        return self.rows + self.cols - 1 + self.pe_class.result_delay

    def psum_width(self, row):
        """Width of the partial sums leaving row ``row`` of the grid: ``acc_width``."""
        return self.acc_width

    def _row_lane(self):
        """Layout of one row lane of the west edge: the PE's east-flowing signals."""
        return data.StructLayout(self.pe_class.east_ports(self.operand_width, self.acc_width))

    def _grid(self, m, entry_rows, entry_cols):
        """The skew buffers, the PE grid and the deskew buffer; returns the deskewed results.

        ``entry_rows`` (one :meth:`_row_lane` per row) and ``entry_cols`` (one operand per
        column) are the registered operands entering the west and north edges.
        """
        rows, cols = self.rows, self.cols
        reset_less = self.grid_reset_less
        # A skew buffer per east-flowing signal: the west-edge cells' inputs are then
        # separate signals, which the Verilog keeps as the cells' own ports (slices of one
        # buffer's output become one anonymous port per cell).
        row_skews = {}
        for name, shape in self.pe_class.east_ports(self.operand_width,
                                                     self.acc_width).items():
            skew = Skew(lanes=rows, shape=shape, reset_less=reset_less)
            m.submodules[f"row_skew_{name}"] = row_skews[name] = skew
            m.d.comb += [skew.i[r].eq(entry_rows[r][name]) for r in range(rows)]
        m.submodules.col_skew = col_skew = Skew(lanes=cols, shape=signed(self.operand_width),
                                                reset_less=reset_less)
        m.submodules.deskew = deskew = Skew(lanes=cols,
                                            shape=signed(self.psum_width(rows - 1)),
                                            descending=True, reset_less=reset_less)
        m.d.comb += col_skew.i.eq(entry_cols)

        # The first hard_multipliers cells in row-major order get the DSP blocks.
        pes = [[self.pe_class(operand_width=self.operand_width, acc_width=self.psum_width(r),
                              multiplier=self._multiplier(r * cols + c))
                for c in range(cols)] for r in range(rows)]

        def from_west(r, c, name):
            """The east-flowing signal ``name`` entering cell (r, c)."""
            return (row_skews[name].o[r] if c == 0
                    else getattr(pes[r][c - 1], f"{name}_out"))

        # An odd last paired cell has a pair of its own, its second lane left at zero: on
        # an iCE40 every hard cell is then on a hand-instantiated SB_MAC16 (see
        # rtl/systolic/ice40.py). The pair takes a cell's activation where the cell does.
        for first in range(0, self.paired_cells, 2):
            pair = MultiplierPair(operand_width=self.operand_width)
            m.submodules[f"multiplier_pair{first // 2}"] = pair
            for lane, index in enumerate(range(first, min(first + 2, self.paired_cells))):
                r, c = divmod(index, cols)
                m.d.comb += [
                    pair.a[lane].eq(from_west(r, c, "a")),
                    pair.w[lane].eq(pes[r][c].pair_w),
                    pes[r][c].pair_product.eq(pair.product[lane]),
                ]
        for r in range(rows):
            for c in range(cols):
                pe = pes[r][c]
                m.submodules[f"pe_r{r}_c{c}"] = pe
                for name in pe.east:
                    # A paired cell at the east edge forwards its activation to no one and
                    # multiplies it in its pair: its a_in would be a port it never reads.
                    if name == "a" and c == cols - 1 and pe.multiplier == "paired":
                        continue
                    m.d.comb += getattr(pe, f"{name}_in").eq(from_west(r, c, name))
                for name in pe.south:
                    if r > 0:
                        source = getattr(pes[r - 1][c], f"{name}_out")
                    else:
                        source = col_skew.o[c] if name == self.fed_north else 0
                    m.d.comb += getattr(pe, f"{name}_in").eq(source)
            # The east and south edges' forwarded signals stay unconnected.
        results = Signal(data.ArrayLayout(signed(self.acc_width), cols))
        for c in range(cols):
            m.d.comb += [
                deskew.i[c].eq(getattr(pes[rows - 1][c], f"{self.result}_out")),
                results[c].eq(deskew.o[c]),   # sign-extended to acc_width
            ]
        return results

    def _result_fifo(self, m, *, depth, write, data_in, last, credit):
        """The result FIFO behind the deskew buffer, driving :attr:`results`. ``credit`` is
        set the cycle after a result leaves: the in-flight count is the array's entry-side
        logic, which on a large part lies far from the FIFO's read side, so a register
        carries the pop across (the count stays one high for that cycle, never low)."""
        layout = result_beat(cols=self.cols, acc_width=self.acc_width)
        # The credits guarantee room, so the FIFO has no full flag: a comparison in front of
        # the write enable of its storage would be the array domain's longest path.
        m.submodules.result_fifo = fifo = CreditFIFO(width=Shape.cast(layout).width,
                                                     depth=depth)
        entry = Signal(layout)
        m.d.comb += [
            entry.data.eq(data_in),
            entry.last.eq(last),
            fifo.w_data.eq(entry),
            fifo.w_en.eq(write),
            self.results.valid.eq(fifo.r_rdy),
            self.results.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.results.ready),
        ]
        m.d.sync += credit.eq(fifo.r_rdy & self.results.ready)

    def __repr__(self):
        return (f"{type(self).__name__}(rows={self.rows}, cols={self.cols}, "
                f"operand_width={self.operand_width}, acc_width={self.acc_width}, "
                f"hard_multipliers={self.hard_multipliers}"
                + (f", cells_per_dsp={self.cells_per_dsp})" if self.pairs_cells else ")"))


class WeightStationaryArray(_SystolicArray):
    """A weight-stationary (TPU-style) ``rows`` x ``cols`` systolic array.

    A weight tile is ``rows`` rows of ``cols`` weights (``W[k][n]``, sent ``k = 0`` first).
    Each activation vector holds ``rows`` values (``A[m][k]``, one per weight row) and
    yields one result row ``sum_k A[m][k] * W[k][n]`` for the ``cols`` columns. The
    activation marked ``last`` ends the tile's pass; the next activation uses the next
    weight tile.

    Weights are double-buffered: up to two tiles may be loaded ahead of the activations, so
    loading tile ``t + 1`` overlaps streaming tile ``t``. Back to back, tiles of at least
    ``rows`` activation vectors stream without a bubble.

    Parameters
    ----------
    rows, cols : int
        Array size (1 to 64 each).
    operand_width : int
        Width of the signed operands (2 to 32).
    acc_width : int
        Width of the signed results (``2 * operand_width`` to 128); sums wrap.
    hard_multipliers : int or None
        Cells (row-major) whose multiplier synthesis may map to a DSP block; the others are
        built from logic (:data:`~rtl.systolic.pe.MULTIPLIERS`). ``None``: every cell.
    cells_per_dsp : int
        1, or 2 to put the hard cells two by two (in row-major order) on one DSP block's
        two 8x8 multipliers (:class:`~rtl.systolic.pe.MultiplierPair`: an iCE40
        ``SB_MAC16``, where synthesis maps one cell per block; plain multipliers with the
        same latency elsewhere). 2 needs ``operand_width`` of at most 8; an odd last hard
        cell has a block to itself.

    Members
    -------
    weights : ``In(stream.Signature(weight_row))``
        Weight rows, ``rows`` per tile.
    activations : ``In(stream.Signature(activation_beat))``
        Activation vectors; ``last`` on the final vector of a tile's pass.
    results : ``Out(stream.Signature(result_beat))``
        One result row per activation vector, in order; ``last`` copied from the activation.
    """

    class Signature(_ArraySignature):
        @staticmethod
        def members_for(*, rows, cols, operand_width, acc_width):
            return {
                "weights": In(stream.Signature(
                    weight_row(cols=cols, operand_width=operand_width))),
                "activations": In(stream.Signature(
                    activation_beat(rows=rows, operand_width=operand_width))),
                "results": Out(stream.Signature(
                    result_beat(cols=cols, acc_width=acc_width))),
            }

    dataflow = "ws"
    pe_class = WeightStationaryPE
    pairs_cells = True
    # Only the controller below has a reset (see WeightStationaryPE for why stale values in
    # the grid are harmless); the grid's registers would make its fan-out thousands.
    grid_reset_less = True
    fed_north = "w"
    result = "psum"

    def psum_width(self, row):
        """Width of the partial sums leaving row ``row``: enough for any sum of ``row + 1``
        products, at most ``acc_width``. A partial sum enters the top row as zero, so no sum
        narrower than ``acc_width`` can overflow, and one that needs ``acc_width`` wraps
        there as before: the results are those of ``acc_width`` sums all the way down, with
        shorter adders and fewer wires between the rows (21 bits instead of 32 for 32 rows
        of int8 products)."""
        half = 2 ** (self.operand_width - 1)
        terms = row + 1
        low, high = -half * (half - 1) * terms, half * half * terms
        needed = max(low.bit_length(), high.bit_length()) + 1   # signed
        return min(self.acc_width, max(needed, 2 * self.operand_width))

    @property
    def result_fifo_depth(self):
        # Room for every result in flight, so that credits never throttle a steady stream.
        return self.latency + 4

    def elaborate(self, platform):
        m = Module()
        rows, cols = self.rows, self.cols
        depth = self.result_fifo_depth

        # Tiles whose weights are loaded but whose activations have not all entered (0 to 2).
        tiles_ahead = Signal(range(3))
        weight_row_index = Signal(range(max(rows, 2)))
        load_bank = Signal()
        stream_bank = Signal()
        results_in_flight = Signal(range(depth + 1))
        # results_in_flight < depth, a register computed a cycle ahead (see below)
        result_room = Signal(init=1)
        result_credit = Signal()

        weight_accept = Signal()
        activation_accept = Signal()
        weight_tile_done = Signal()
        activation_tile_done = Signal()
        m.d.comb += [
            # Loading tile t + 1 into a bank must wait until the activations of tile t - 1,
            # the bank's previous user, have all entered the array.
            self.weights.ready.eq(tiles_ahead < 2),
            self.activations.ready.eq((tiles_ahead != 0) & result_room),
            weight_accept.eq(self.weights.valid & self.weights.ready),
            activation_accept.eq(self.activations.valid & self.activations.ready),
            weight_tile_done.eq(weight_accept & (weight_row_index == rows - 1)),
            activation_tile_done.eq(activation_accept & self.activations.payload.last),
        ]
        with m.If(weight_accept):
            with m.If(weight_row_index == rows - 1):
                m.d.sync += weight_row_index.eq(0)
            with m.Else():
                m.d.sync += weight_row_index.eq(weight_row_index + 1)
        m.d.sync += [
            tiles_ahead.eq(tiles_ahead + weight_tile_done - activation_tile_done),
            load_bank.eq(load_bank ^ weight_tile_done),
            stream_bank.eq(stream_bank ^ activation_tile_done),
        ]
        m.d.sync += results_in_flight.eq(results_in_flight + activation_accept - result_credit)
        # The count moves by at most one a cycle, so the next cycle's room is one of two
        # comparisons of the count register, chosen by acceptance and credit: neither carry
        # chain is on the acceptance path.
        with m.If(activation_accept & ~result_credit):
            m.d.sync += result_room.eq(results_in_flight < depth - 1)
        with m.Elif(result_credit & ~activation_accept):
            m.d.sync += result_room.eq(1)
        with m.Else():
            m.d.sync += result_room.eq(results_in_flight < depth)

        # Row lanes carry the activation and its bank, and the weight-load strobe of the row
        # whose weights are entering the columns this cycle.
        entry_rows = Signal(data.ArrayLayout(self._row_lane(), rows), reset_less=True)
        entry_cols = Signal(data.ArrayLayout(signed(self.operand_width), cols), reset_less=True)
        # Activations and weights enter whether accepted or not: a value that was not
        # accepted is never loaded into a bank and its products add only into partial sums
        # that no result row takes. Gating them would fan the acceptance out to every lane.
        for r in range(rows):
            m.d.sync += [
                entry_rows[r].a.eq(self.activations.payload.data[r]),
                entry_rows[r].sel.eq(stream_bank),
                entry_rows[r].load.eq(weight_accept & (weight_row_index == r)),
                entry_rows[r].load_bank.eq(load_bank),
            ]
        for c in range(cols):
            m.d.sync += entry_cols[c].eq(self.weights.payload[c])
        results = self._grid(m, entry_rows, entry_cols)

        self._result_fifo(
            m, depth=depth, data_in=results, credit=result_credit,
            write=_shift_line(m, "result_valid_line", activation_accept, self.latency),
            last=_shift_line(m, "result_last_line", activation_tile_done, self.latency))
        return m


class OutputStationaryArray(_SystolicArray):
    """An output-stationary (Gemmini-style) ``rows`` x ``cols`` systolic array.

    Each PE owns one element of a ``rows`` x ``cols`` output tile. Operand beats carry one
    step ``k`` of the inner dimension: ``a`` = ``A[m0 + i][k]`` for the tile's rows and
    ``b`` = ``B[k][n0 + j]`` for its columns; the beat marked ``last`` completes the tile,
    whose ``rows`` result rows then leave in order ``m0``, ``m0 + 1``, ... while the next tile
    already accumulates.

    A tile needs at least ``rows`` beats for its results to drain; the array delays the
    ``last`` beat of a shorter tile, so tiles with K of at least ``rows`` stream back to back
    without a bubble.

    Parameters
    ----------
    rows, cols : int
        Array size (1 to 64 each).
    operand_width : int
        Width of the signed operands (2 to 32).
    acc_width : int
        Width of the signed accumulators (``2 * operand_width`` to 128); sums wrap.
    hard_multipliers : int or None
        Cells (row-major) whose multiplier synthesis may map to a DSP block; the others are
        built from logic (:data:`~rtl.systolic.pe.MULTIPLIERS`). ``None``: every cell.

    Members
    -------
    operands : ``In(stream.Signature(operand_beat))``
        Operand beats, ``last`` on the final one of a tile.
    results : ``Out(stream.Signature(result_beat))``
        ``rows`` result rows per tile, ``last`` on the tile's final row.
    """

    class Signature(_ArraySignature):
        @staticmethod
        def members_for(*, rows, cols, operand_width, acc_width):
            return {
                "operands": In(stream.Signature(
                    operand_beat(rows=rows, cols=cols, operand_width=operand_width))),
                "results": Out(stream.Signature(
                    result_beat(cols=cols, acc_width=acc_width))),
            }

    dataflow = "os"
    pe_class = OutputStationaryPE
    fed_north = "b"
    result = "drain"

    @property
    def result_fifo_depth(self):
        return self.latency + self.rows + 4

    def elaborate(self, platform):
        m = Module()
        rows, cols = self.rows, self.cols
        depth = self.result_fifo_depth

        # Cycles until another tile may finish (the drain chain needs `rows` cycles).
        cooldown = Signal(range(max(rows, 2)))
        results_in_flight = Signal(range(depth + 1))
        result_credit = Signal()
        may_finish = Signal()
        accept = Signal()
        tile_done = Signal()
        m.d.comb += [
            may_finish.eq((cooldown == 0) & (results_in_flight <= depth - rows)),
            self.operands.ready.eq(~self.operands.payload.last | may_finish),
            accept.eq(self.operands.valid & self.operands.ready),
            tile_done.eq(accept & self.operands.payload.last),
        ]
        with m.If(tile_done):
            m.d.sync += cooldown.eq(rows - 1)
        with m.Elif(cooldown != 0):
            m.d.sync += cooldown.eq(cooldown - 1)
        m.d.sync += results_in_flight.eq(
            results_in_flight + Mux(tile_done, rows, 0) - result_credit)

        # Array row i holds output row rows - 1 - i: the drain chain emits the bottom row
        # first, so this mapping makes the result rows leave in natural order.
        entry_rows = Signal(data.ArrayLayout(self._row_lane(), rows))
        entry_cols = Signal(data.ArrayLayout(signed(self.operand_width), cols))
        for i in range(rows):
            m.d.sync += [
                entry_rows[i].a.eq(Mux(accept, self.operands.payload.a[rows - 1 - i], 0)),
                entry_rows[i].last.eq(tile_done),
            ]
        for c in range(cols):
            m.d.sync += entry_cols[c].eq(Mux(accept, self.operands.payload.b[c], 0))
        results = self._grid(m, entry_rows, entry_cols)

        # A finished tile's first result row leaves the deskew buffer `latency` cycles after
        # its last beat was accepted, the other rows on the cycles after it.
        first_row = _shift_line(m, "first_row_line", tile_done, self.latency)
        rows_left = Signal(range(max(rows, 2)))
        with m.If(first_row):
            m.d.sync += rows_left.eq(rows - 1)
        with m.Elif(rows_left != 0):
            m.d.sync += rows_left.eq(rows_left - 1)
        self._result_fifo(m, depth=depth, data_in=results, credit=result_credit,
                          write=first_row | (rows_left != 0),
                          last=(first_row & (rows == 1)) | (rows_left == 1))
        return m


def build_array(config, *, hard_multipliers=None, cells_per_dsp=1):
    """The array of ``config``'s dataflow and size (``hard_multipliers`` as for the arrays;
    ``cells_per_dsp`` as for :class:`WeightStationaryArray`, 1 for the output-stationary
    one)."""
    cls = {"ws": WeightStationaryArray, "os": OutputStationaryArray}[config.dataflow]
    return cls(rows=config.rows, cols=config.cols, operand_width=config.operand_width,
               acc_width=config.acc_width, hard_multipliers=hard_multipliers,
               cells_per_dsp=cells_per_dsp)
