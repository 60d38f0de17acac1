"""ECP5 cells of a processing element, instantiated by hand where synthesis maps poorly.

Two pieces of a cell are placed on ECP5 primitives directly when the platform is an ECP5
(:class:`~rtl.systolic.pe.WeightStationaryPE` chooses):

* a hard multiplier on a ``MULT18X18D`` with the block's own input and output registers
  (:func:`registered_multiplier`);
* the first adder level of a logic multiplier on ``CCU2C`` carry chains that compute their
  partial products inside the adder (:func:`partial_product_pair`).

Everywhere else (simulation, Verilog export, other parts) the cell is plain Amaranth with the
same registers and latency; ``tests/test_ecp5_cells.py`` proves the two equal with Yosys'
models of the primitives.
"""

from amaranth import Signal, Const, Cat, Instance, ClockSignal

__all__ = ["registered_multiplier", "partial_product_pair", "pair_width", "shifted_sum"]


def registered_multiplier(a, b, product):
    """A ``MULT18X18D`` computing ``product`` = ``a * b`` (signed, up to 18 bits each)
    two cycles late, with the block's own input and output registers. Synthesis does not
    move fabric registers into the block; without them a route into the block, its multiply
    and the route out are one path (about 16 ns on the LFE5U-85F, against 10 at 100 MHz).

    The block's registers have no reset, like the rest of the cell."""
    ports = {}
    for name, value in (("A", a), ("B", b)):
        extended = value.as_signed()
        for i in range(18):
            ports[f"i_{name}{i}"] = extended[min(i, len(value) - 1)]
    for i in range(18):
        ports[f"i_C{i}"] = 0
    for i in range(36):
        ports[f"o_P{i}"] = product[i] if i < len(product) else Signal(name=f"unused_p{i}")
    parameters = {"p_REG_INPUTA_CLK": "CLK0", "p_REG_INPUTB_CLK": "CLK0",
                  "p_REG_OUTPUT_CLK": "CLK0", "p_GSR": "DISABLED", "p_RESETMODE": "SYNC"}
    for register in ("INPUTA", "INPUTB", "OUTPUT"):
        parameters.update({f"p_REG_{register}_CE": "CE0", f"p_REG_{register}_RST": "RST0"})
    return Instance("MULT18X18D", **parameters, **ports,
                    i_SIGNEDA=1, i_SIGNEDB=1, i_SOURCEA=0, i_SOURCEB=0,
                    i_CLK0=ClockSignal(), i_CE0=1, i_RST0=0)


def pair_width(operand_width):
    """Bits of a :func:`partial_product_pair` sum: two signed partial products, the second
    shifted by one."""
    return operand_width + 2


def _half_init(negated_on_ab):
    """INIT of one CCU2C half that adds ``u = A & B`` (or ``~(A & B)``) and ``v = C & D``.

    The half's sum bit is ``F ^ carry_in`` with ``F = LUT4(A, B, C, D)``, and when ``F`` is
    0 its carry out is ``INIT[3:0]`` looked up by ``(A, B)`` alone, i.e. ``F`` at
    ``C = D = 0``. With ``F = u ^ v`` that is ``u``, the right carry (both addends equal
    ``u`` when ``F`` is 0) because ``v`` is 0 at ``C = D = 0``. So an AND in front of each
    addend costs no LUT of its own; a plain addend ties its second input to 1."""
    init = 0
    for index in range(16):
        a, b, c, d = (index >> bit & 1 for bit in range(4))
        u = 1 - (a & b) if negated_on_ab else a & b
        init |= (u ^ (c & d)) << index
    return init


def _carry_chain(halves, total, *, inverted, name):
    """``CCU2C`` cells adding, at each bit of ``total``, ``halves[i] = (ab, cd)``: the AND of
    the two values in ``ab`` (inverted if ``inverted``, with a carry in of 1: a subtraction)
    and the AND of those in ``cd``; ``None`` for a 0 addend bit (a 1 when inverted)."""
    zero = Const(0, 1)
    carry = Const(int(inverted), 1)
    cells = []
    for index in range(0, len(total), 2):
        ports = {}
        for half in range(2):
            position = index + half
            if position < len(total):
                ab, cd = halves[position]
                ab = ab or (zero, zero)
                cd = cd or (zero, zero)
                init = _half_init(inverted)
                output = total[position]
            else:
                ab = cd = (zero, zero)
                init = 0
                output = Signal(name=f"{name}_unused_s{position}")
            ports.update({f"i_A{half}": ab[0], f"i_B{half}": ab[1],
                          f"i_C{half}": cd[0], f"i_D{half}": cd[1],
                          f"o_S{half}": output,
                          f"p_INIT{half}": Const(init, 16), f"p_INJECT1_{half}": "NO"})
        carry_out = Signal(name=f"{name}_carry{index // 2}")
        cells.append(Instance("CCU2C", i_CIN=carry, o_COUT=carry_out, **ports))
        carry = carry_out
    return cells


def partial_product_pair(a, b_even, b_odd, total, *, negate=None, name="pair"):
    """``CCU2C`` cells that put ``pp(b_even) + 2 * pp(b_odd)`` into ``total``, where
    ``pp(bit)`` is ``a`` if ``bit`` else 0, signed. Each half of a ``CCU2C`` ANDs and adds
    one bit of both partial products (:func:`_half_init`).

    Parameters
    ----------
    a : signed Value
        The multiplicand.
    b_even, b_odd : 1-bit Value or None
        The multiplier bits of the two partial products; ``b_odd`` ``None`` for a pair with
        one product (an odd operand width).
    total : Signal
        ``pair_width(len(a))`` bits: the pair's sum, two's complement.
    negate : ``"even"``, ``"odd"`` or None
        Subtract that partial product instead (the one of a multiplier's sign bit).
    name : str
        Prefix of the cells' internal signals.

    Returns
    -------
    list of Instance
    """
    width = len(a)
    if len(total) != pair_width(width):
        raise ValueError(f"total must be {pair_width(width)} bits, not {len(total)}")
    if negate not in (None, "even", "odd"):
        raise ValueError(f"negate must be 'even', 'odd' or None, not {negate!r}")

    def operand(bit, shift, position):
        """The two AND inputs of a partial product's bit ``position``, sign-extended."""
        if bit is None or position < shift:
            return None
        return a[min(position - shift, width - 1)], bit

    halves = []
    for position in range(len(total)):
        even, odd = operand(b_even, 0, position), operand(b_odd, 1, position)
        # A subtracted product sits on A and B, where the carry lookup reads it.
        halves.append((odd, even) if negate == "odd" else (even, odd))
    return _carry_chain(halves, total, inverted=negate is not None, name=name)


def shifted_sum(x, y, shift, total, *, name="sum"):
    """``CCU2C`` cells that put ``x + (y << shift)`` (signed, wrapped to ``len(total)``
    bits) into ``total``; the ``shift`` bits below ``y`` are ``x``'s, with no cell.
    Returns ``(cells, statements)``.

    Synthesis would merge a sum of several values into one multi-operand adder built
    mostly from LUTs (Yosys' ``$macc``); a chain per addition is smaller."""
    one = Const(1, 1)

    def bit(value, position):
        return value.as_signed()[min(position, len(value) - 1)]

    high = Signal(len(total) - shift, name=f"{name}_high")
    halves = [((bit(x, shift + position), one), (bit(y, position), one))
              for position in range(len(high))]
    cells = _carry_chain(halves, high, inverted=False, name=name)
    return cells, [total.eq(Cat(x.as_unsigned()[:shift], high))]
