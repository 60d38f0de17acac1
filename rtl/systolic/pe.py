"""Processing elements: one signed multiply-accumulate cell of the systolic array.

A cell's ports come in pairs: ``<name>_in`` from the west or north neighbour and
``<name>_out`` to the east or south one, each output one register behind its input, so that
every wire in the array is one PE long. :attr:`east` and :attr:`south` list the pairs; the
array wires any cell from them. Sums wrap in two's complement at ``acc_width``.
"""

import operator

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from ..params import check_int, check_widths, validating
from . import ecp5, ice40

__all__ = ["WeightStationaryPE", "OutputStationaryPE", "MultiplierPair", "MULTIPLIERS",
           "soft_multiply"]

#: How a cell's multiplier is built: ``"hard"`` leaves ``*`` to synthesis, which maps it to a
#: DSP block when the part has one; ``"soft"`` spells it out as a sum of partial products,
#: which synthesis builds from logic. A part with fewer DSP blocks than cells (the ECP5-85F
#: has 156 for a 16x16 array) mixes the two. A weight-stationary cell may also be
#: ``"paired"``: it multiplies in a :class:`MultiplierPair` it shares with another cell.
MULTIPLIERS = ("hard", "soft")


def partial_products(a, b):
    """The shifted partial products of signed ``a * b``, one per bit of ``b``; the one of
    ``b``'s sign bit is negated (it weighs ``-2 ** (len(b) - 1)``). Their sum, wrapped to
    ``len(a) + len(b)`` bits, is the product."""
    terms = [Mux(b[i], a, 0).as_signed() << i for i in range(len(b))]
    terms[-1] = -terms[-1]
    return terms


def registered_product(m, a, w, product, *, multiply=operator.mul, prefix=""):
    """``product <= multiply(a, w)`` two cycles late: a register on each operand in front of
    the multiplier (``<prefix>operand_a``, ``<prefix>operand_w``), ``product`` behind it.
    The registers have no reset."""
    operand_a = Signal(a.shape(), name=f"{prefix}operand_a", reset_less=True)
    operand_w = Signal(w.shape(), name=f"{prefix}operand_w", reset_less=True)
    m.d.sync += [
        operand_a.eq(a),
        operand_w.eq(w),
        product.eq(multiply(operand_a, operand_w)),
    ]


def soft_multiply(a, b):
    """``a * b`` for signed ``a`` and ``b`` as a sum of :func:`partial_products`, so that no
    multiplier cell reaches synthesis."""
    return sum(partial_products(a, b)).as_signed()[:len(a) + len(b)].as_signed()


class _ProcessingElement(wiring.Component):
    #: Cycles from an operand entering the cell to its product being part of the cell's
    #: result register.
    result_delay = 1
    #: The multiplier kinds the cell takes.
    multipliers = MULTIPLIERS

    def __init__(self, *, operand_width=8, acc_width=32, multiplier="hard"):
        with validating(self):
            check_widths(operand_width, acc_width)
            if multiplier not in self.multipliers:
                raise ValueError(f"multiplier must be one of {self.multipliers}, "
                                 f"not {multiplier!r}")
        self.operand_width = operand_width
        self.acc_width = acc_width
        self.multiplier = multiplier
        members = {}
        for name, shape in {**self.east, **self.south}.items():
            members[f"{name}_in"] = In(shape)
            members[f"{name}_out"] = Out(shape)
        if multiplier == "paired":
            # The selected weight goes to the shared MultiplierPair (the activation is the
            # array's own a_in), the product comes back.
            members.update(pair_w=Out(signed(operand_width)),
                           pair_product=In(signed(2 * operand_width)))
        super().__init__(members)

    @property
    def east(self):
        """Signals that flow west to east: ``{name: shape}``."""
        return self.east_ports(self.operand_width, self.acc_width)

    @property
    def south(self):
        """Signals that flow north to south: ``{name: shape}``."""
        return self.south_ports(self.operand_width, self.acc_width)

    def _multiply(self, a, b):
        return soft_multiply(a, b) if self.multiplier == "soft" else a * b

    def __repr__(self):
        return (f"{type(self).__name__}(operand_width={self.operand_width}, "
                f"acc_width={self.acc_width}, multiplier={self.multiplier!r})")


class WeightStationaryPE(_ProcessingElement):
    """A weight-stationary cell: ``operands <= (a_in, weight[sel_in])``, then
    ``product <= operand_a * operand_w``, then ``psum_out <= psum_in + product``.

    The multiplier (a DSP block on an FPGA) has a register on each side, so that neither the
    route into it nor the partial-sum adder after it shares its path: the partial sum from
    the north arrives two cycles after the activation from the west, which only delays the
    whole array's results by two cycles (:attr:`result_delay` is 3). On an ECP5 a hard cell's
    registers are the DSP block's own (:func:`.ecp5.registered_multiplier`); on an iCE40
    with DSP blocks a hard cell has a :class:`MultiplierPair` to itself (one lane of an
    ``SB_MAC16``), and a paired cell shares one.

    No register of the cell has a reset, so that the array's reset reaches only its
    controller (a reset fanned out to every cell was the array's longest path). A value left
    in the grid by a reset, or entered on a cycle without an accepted operand, never meets a
    valid activation: each row lane is a pipeline in which whatever was there at reset runs
    ahead of the first weight load after it, which rewrites the bank before the first
    activation to use it arrives, and a partial sum enters the top row as zero.

    The cell keeps two weight banks. The activation flowing east carries the bank it is to be
    multiplied with (``sel``), and a weight load flowing east tells the cell when the weight
    passing south is its own and which bank it goes to. The array streams with one bank while
    the next tile's weights load into the other one (the shadow register of a TPU), and since
    the bank tags travel with the wavefront, each cell switches tiles exactly when the first
    activation of the new tile reaches it.

    Parameters
    ----------
    operand_width : int
        Width of the signed activation and weight (2 to 32).
    acc_width : int
        Width of the signed partial sum (``2 * operand_width`` to 128); sums wrap.
    multiplier : str
        ``"hard"``, ``"soft"`` (:data:`MULTIPLIERS`) or ``"paired"``: the operand and
        product registers are those of a :class:`MultiplierPair` shared with another cell,
        which the array feeds with ``a_in`` and ``pair_w``.

    Members
    -------
    a_in, a_out : signed activation from the west, registered to the east
    sel_in, sel_out : weight bank the activation uses
    load_in, load_out : ``w_in`` is this cell's weight this cycle
    load_bank_in, load_bank_out : bank the weight is loaded into
    w_in, w_out : signed weight from the north, registered to the south
    psum_in, psum_out : partial sum from the north (one cycle behind ``a_in``), updated
        and registered to the south
    pair_w, pair_product : only with ``multiplier="paired"``: the weight ``a_in`` is to be
        multiplied with (the bank ``sel_in`` selects), and the product of the two, two
        cycles later
    """

    result_delay = 3
    multipliers = MULTIPLIERS + ("paired",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # A signature's members cannot be reset-less, so the output registers are replaced.
        for name, shape in {**self.east, **self.south}.items():
            setattr(self, f"{name}_out", Signal(shape, name=f"{name}_out", reset_less=True))

    @staticmethod
    def east_ports(operand_width, acc_width):
        return {"a": signed(operand_width), "sel": 1, "load": 1, "load_bank": 1}

    @staticmethod
    def south_ports(operand_width, acc_width):
        return {"w": signed(operand_width), "psum": signed(acc_width)}

    def _ecp5_soft_multiplier(self, m, weight, product):
        """The logic multiplier on ECP5 carry chains (:mod:`.ecp5`): the pair sums with
        their partial products' ANDs inside the adders, then one chain per addition of the
        product register's tree, with the same registers and latency as the generic one."""
        width = self.operand_width
        low, high = -2 ** (width - 1), 2 ** (width - 1) - 1   # a partial product's range
        addends = []        # (value, weight as a power of two, range)
        for index in range(0, width, 2):
            odd = index + 1 if index + 1 < width else None
            negate = "even" if index == width - 1 else "odd" if odd == width - 1 else None
            name = f"partial_sum{index // 2}"
            total = Signal(signed(ecp5.pair_width(width)), name=f"{name}_next")
            for number, cell in enumerate(ecp5.partial_product_pair(
                    self.a_in, weight[index], None if odd is None else weight[odd], total,
                    negate=negate, name=name)):
                m.submodules[f"{name}_ccu{number}"] = cell
            pair = Signal.like(total, name=name, reset_less=True)
            m.d.sync += pair.eq(total)
            even_range = (-high, -low) if negate == "even" else (low, high)
            odd_range = ((0, 0) if odd is None else (-2 * high, -2 * low)
                         if negate == "odd" else (2 * low, 2 * high))
            addends.append((pair, index, (even_range[0] + odd_range[0],
                                          even_range[1] + odd_range[1])))
        level = 0
        while len(addends) > 1:
            combined = []
            for number in range(0, len(addends) - 1, 2):
                (x, shift_x, range_x), (y, shift_y, range_y) = addends[number:number + 2]
                shift = shift_y - shift_x
                bounds = (range_x[0] + (range_y[0] << shift),
                          range_x[1] + (range_y[1] << shift))
                bits = max(bounds[0].bit_length(), bounds[1].bit_length()) + 1
                name = f"product_sum{level}_{number // 2}"
                total = Signal(signed(min(bits, 2 * width - shift_x)), name=name)
                cells, statements = ecp5.shifted_sum(x, y, shift, total, name=name)
                for index, cell in enumerate(cells):
                    m.submodules[f"{name}_ccu{index}"] = cell
                m.d.comb += statements
                combined.append((total, shift_x, bounds))
            addends = combined + addends[len(addends) // 2 * 2:]
            level += 1
        value, shift, _ = addends[0]
        m.d.sync += product.eq(value << shift)

    def elaborate(self, platform):
        m = Module()
        weight_bank0 = Signal(signed(self.operand_width), reset_less=True)
        weight_bank1 = Signal(signed(self.operand_width), reset_less=True)
        weight = Mux(self.sel_in, weight_bank1, weight_bank0)
        product = Signal(signed(2 * self.operand_width), reset_less=True)

        on_ecp5 = getattr(platform, "family", None) == "ecp5"
        if self.multiplier == "hard" and self.operand_width <= 18 and on_ecp5:
            m.submodules.multiplier = ecp5.registered_multiplier(self.a_in, weight, product)
        elif (self.multiplier == "hard" and self.operand_width <= ice40.HALF_WIDTH
                and ice40.has_mac16(platform)):
            # A block of its own, hand-instantiated: Yosys' SB_MAC16 inference
            # (synth_ice40 -dsp) drops or misplaces the sign extension of a product added
            # into a wider partial sum (see rtl/systolic/ice40.py).
            m.submodules.multiplier = block = MultiplierPair(operand_width=self.operand_width)
            m.d.comb += [
                block.a[0].eq(self.a_in),
                block.w[0].eq(weight),
                product.eq(block.product[0]),
            ]
        elif self.multiplier == "soft":
            # The first adder level of a logic multiplier takes the operand registers'
            # place: pairs of partial products are summed straight from the inputs, and the
            # product register adds the pairs, two short carry chains each side.
            if on_ecp5:
                self._ecp5_soft_multiplier(m, weight, product)
            else:
                terms = partial_products(self.a_in, weight)
                pairs = []
                for index in range(0, len(terms), 2):
                    pair = Signal(signed(2 * self.operand_width), reset_less=True,
                                  name=f"partial_sum{index // 2}")
                    m.d.sync += pair.eq(sum(terms[index:index + 2]))
                    pairs.append(pair)
                m.d.sync += product.eq(sum(pairs))
        elif self.multiplier == "paired":
            m.d.comb += [
                self.pair_w.eq(weight),
                product.eq(self.pair_product),
            ]
        else:
            registered_product(m, self.a_in, weight, product, multiply=self._multiply)
        m.d.sync += [
            self.a_out.eq(self.a_in),
            self.sel_out.eq(self.sel_in),
            self.load_out.eq(self.load_in),
            self.load_bank_out.eq(self.load_bank_in),
            self.w_out.eq(self.w_in),
            # Truncation to acc_width is the two's-complement wrap.
            self.psum_out.eq(self.psum_in + product),
        ]
        with m.If(self.load_in & ~self.load_bank_in):
            m.d.sync += weight_bank0.eq(self.w_in)
        with m.If(self.load_in & self.load_bank_in):
            m.d.sync += weight_bank1.eq(self.w_in)
        return m


class OutputStationaryPE(_ProcessingElement):
    """An output-stationary cell: ``acc <= acc + a_in * b_in``, drained south between tiles.

    ``last_in`` marks the final operand pair of a tile. On it the cell restarts its
    accumulator for the next tile and moves the finished sum into its drain register, so the
    next tile streams in without a gap. The drain registers of a column form a chain with two
    registers per cell (``drain`` and ``drain_pipe``): a finished sum travels one cell per two
    cycles, which exactly absorbs the one-cycle skew between rows, and the bottom of the column
    emits the sums of rows ``rows - 1``, ``rows - 2``, ... ``0`` on consecutive cycles. The
    next tile may finish no earlier than ``rows`` cycles after this one.

    Parameters
    ----------
    operand_width : int
        Width of the signed operands (2 to 32).
    acc_width : int
        Width of the signed accumulator (``2 * operand_width`` to 128); sums wrap.
    multiplier : str
        ``"hard"`` or ``"soft"`` (:data:`MULTIPLIERS`).

    Members
    -------
    a_in, a_out : signed operand from the west, registered to the east
    last_in, last_out : the operand pair is the last of its tile
    b_in, b_out : signed operand from the north, registered to the south
    drain_in, drain_out : finished sums moving south (``drain_out`` is the drain register)
    """

    @staticmethod
    def east_ports(operand_width, acc_width):
        return {"a": signed(operand_width), "last": 1}

    @staticmethod
    def south_ports(operand_width, acc_width):
        return {"b": signed(operand_width), "drain": signed(acc_width)}

    def elaborate(self, platform):
        m = Module()
        acc_shape = signed(self.acc_width)
        product = Signal(signed(2 * self.operand_width))
        acc = Signal(acc_shape)
        drain_pipe = Signal(acc_shape)

        m.d.comb += product.eq(self._multiply(self.a_in, self.b_in))
        m.d.sync += [
            self.a_out.eq(self.a_in),
            self.last_out.eq(self.last_in),
            self.b_out.eq(self.b_in),
            drain_pipe.eq(self.drain_in),
        ]
        with m.If(self.last_in):
            m.d.sync += [
                acc.eq(0),
                self.drain_out.eq(acc + product),
            ]
        with m.Else():
            m.d.sync += [
                acc.eq(acc + product),
                self.drain_out.eq(drain_pipe),
            ]
        return m


class MultiplierPair(wiring.Component):
    """The multipliers of two weight-stationary cells in one block (cells with
    ``multiplier="paired"``): ``product[i] <= a[i] * w[i]``, two cycles late, with the
    operand and product registers of :func:`registered_product`, so that the cells keep
    their :attr:`~WeightStationaryPE.result_delay`.

    On an iCE40 part with DSP blocks the pair is one ``SB_MAC16`` in its dual 8x8 mode
    (:func:`.ice40.dual_multiplier`): 16 cells on the UP5K's 8 blocks, where synthesis maps
    one cell per block. Elsewhere it is two plain multipliers.

    Parameters
    ----------
    operand_width : int
        Width of the signed operands (2 to 8: a DSP block's 8x8 multipliers).

    Members
    -------
    a, w : ``In(ArrayLayout(signed(operand_width), 2))``
        The two cells' activations and weights.
    product : ``Out(ArrayLayout(signed(2 * operand_width), 2))``
        Their products.
    """

    def __init__(self, *, operand_width=8):
        with validating(self):
            check_int("operand_width", operand_width, 2, ice40.HALF_WIDTH)
        self.operand_width = operand_width
        operands = data.ArrayLayout(signed(operand_width), 2)
        super().__init__({"a": In(operands), "w": In(operands),
                          "product": Out(data.ArrayLayout(signed(2 * operand_width), 2))})

    def elaborate(self, platform):
        m = Module()
        if ice40.has_mac16(platform):
            products = [Signal(signed(2 * ice40.HALF_WIDTH), name=f"product{lane}")
                        for lane in range(2)]
            m.submodules.mac16 = ice40.dual_multiplier(
                [self.a[0], self.a[1]], [self.w[0], self.w[1]], products)
        else:
            products = [Signal(signed(2 * self.operand_width), name=f"product{lane}",
                               reset_less=True) for lane in range(2)]
            for lane in range(2):
                registered_product(m, self.a[lane], self.w[lane], products[lane],
                                   prefix=f"cell{lane}_")
        m.d.comb += [self.product[lane].eq(products[lane]) for lane in range(2)]
        return m

    def __repr__(self):
        return f"MultiplierPair(operand_width={self.operand_width})"
