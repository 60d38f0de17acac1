"""iCE40 cells of the processing elements, instantiated by hand where synthesis cannot.

An ``SB_MAC16`` holds two 8x8 multipliers, but Yosys maps multiplies to it only in its 16x16
mode: one int8 cell per block, 8 cells on the UP5K. :func:`dual_multiplier` puts two cells'
multiplies on one block in its dual 8x8 mode, with the block's own registers, so that the UP5K
carries 16 cells (:class:`~rtl.systolic.pe.MultiplierPair` chooses it); a cell with a block to
itself uses one of its halves.

The block multiplies unsigned here. With ``A_SIGNED``/``B_SIGNED`` set, Yosys' model of the
block (``ice40/cells_sim.v``) sign-extends the lower 8x8 product's operands in the 8x8 mode,
while a model written from Lattice's documentation multiplies ``A[7:0] * B[7:0]`` unsigned in
every mode, and Yosys' comparison with the vendor's model covers the signed modes only with
``MODE_8x8`` off. With ``A_SIGNED`` and ``B_SIGNED`` off the two models agree, so the block
multiplies operands offset to unsigned and its own post-adders take the offset back out
(:func:`offset_correction`).

Every cell's block is instantiated here, and designs are synthesized without ``-dsp``:
Yosys' ``ice40_dsp`` (``synth_ice40 -dsp``) rewrites every ``SB_MAC16`` it finds as a 16x16
multiplier, these included, and its own mapping of a weight-stationary column (a product
registered, then added into a wider partial sum) is wrong: the sign extension is lost
(YosysHQ/yosys#2648), and with the narrow partial sums of the array's top rows one of the
column's two multiplies disappears. ``tests/test_ice40_cells.py`` shows both.

Everywhere else (simulation, Verilog export, other parts) the pair is plain Amaranth with the
same registers and latency; ``tests/test_ice40_cells.py`` synthesizes the iCE40 pair and
proves it equal to the plain one with Yosys' models of the cells.
"""

from amaranth import Cat, Const, ClockSignal, Instance, signed

__all__ = ["has_mac16", "offset_operand", "offset_correction", "dual_multiplier"]

#: Operand bits of each of the block's 8x8 multipliers.
HALF_WIDTH = 8


def has_mac16(platform):
    """Whether ``platform`` is an iCE40 part with ``SB_MAC16`` blocks (the UltraPlus and the
    iCE5LP parts; the LP and HX parts have none)."""
    device = getattr(platform, "device", None) or ""
    return device.startswith(("iCE40UP", "iCE5LP"))


def offset_operand(value):
    """The 8 bits of signed ``value`` (at most 8 bits) plus 128: its two's complement,
    sign-extended to 8 bits, with the sign bit inverted. Unsigned from 0 to 255."""
    if len(value) > HALF_WIDTH:
        raise ValueError(f"value must be at most {HALF_WIDTH} bits, not {len(value)}")
    extended = value.as_signed()
    return Cat(*(extended[min(i, len(value) - 1)] for i in range(HALF_WIDTH - 1)),
               ~extended[-1])


def offset_correction(a, b):
    """The 16-bit addend ``C`` that makes ``(a + 128) * (b + 128) + C + 1`` equal to
    ``a * b`` modulo ``2 ** 16``, for signed ``a`` and ``b`` of at most 8 bits.

    ``(a + 128) * (b + 128) = a * b + 128 * (a + b + 128)``, so ``C + 1`` must be
    ``-128 * s`` with ``s = (a + 128) + b``. With ``C = 128 * (~s mod 2 ** 9) + 127``,
    ``C + 1 = 128 * (2 ** 9 - 1 - s) + 128 = 2 ** 16 - 128 * s``. The ``+ 1`` is the
    adder's carry in, so ``s`` is one 9-bit addition of the offset ``a`` and ``b`` and the
    rest is wiring and inversion."""
    total = offset_operand(a) + b.as_signed()
    return Cat(Const(2 ** 7 - 1, 7), (~total)[:9])


def dual_multiplier(a, b, products):
    """An ``SB_MAC16`` in its dual 8x8 mode computing ``products[i]`` = ``a[i] * b[i]``
    (signed, at most 8 bits each) two cycles late, with the block's own registers: its
    input registers hold the offset operands (:func:`offset_operand`) and their
    corrections (:func:`offset_correction`, on the ``C`` and ``D`` inputs), and its output
    registers the corrected products. The two halves share no carry.

    The lower 8x8 multiplier (``A[7:0] * B[7:0]``, adder ``D``, output ``O[15:0]``) takes
    pair 0, the upper one (``A[15:8] * B[15:8]``, adder ``C``, output ``O[31:16]``) pair 1.
    Like the rest of a cell, the registers have no reset.

    Parameters
    ----------
    a, b : sequence of two signed Values
        The operands of each product.
    products : sequence of two Signals
        ``signed(16)``: the products.

    Returns
    -------
    Instance
    """
    if not len(a) == len(b) == len(products) == 2:
        raise ValueError(f"a, b and products must have two entries each, not {len(a)}, "
                         f"{len(b)} and {len(products)}")
    for product in products:
        if product.shape() != signed(2 * HALF_WIDTH):
            raise ValueError(f"products must be signed({2 * HALF_WIDTH}), not "
                             f"{product.shape()!r}")
    # The model declares the flags one bit wide and the selects two.
    flag, select = (lambda value: Const(value, 1)), (lambda value: Const(value, 2))
    parameters = {
        # Registered A, B, C and D; the 8x8 products go straight into the adders
        # (the F and G registers stay unused), whose sums are registered (Q and S).
        "p_A_REG": flag(1), "p_B_REG": flag(1), "p_C_REG": flag(1), "p_D_REG": flag(1),
        "p_TOP_8x8_MULT_REG": flag(0), "p_BOT_8x8_MULT_REG": flag(0),
        "p_PIPELINE_16x16_MULT_REG1": flag(0), "p_PIPELINE_16x16_MULT_REG2": flag(0),
        # Upper half: Q <= F + C + 1; lower half: S <= G + D + 1 (constant carries in).
        "p_TOPOUTPUT_SELECT": select(1), "p_TOPADDSUB_LOWERINPUT": select(1),
        "p_TOPADDSUB_UPPERINPUT": flag(1), "p_TOPADDSUB_CARRYSELECT": select(1),
        "p_BOTOUTPUT_SELECT": select(1), "p_BOTADDSUB_LOWERINPUT": select(1),
        "p_BOTADDSUB_UPPERINPUT": flag(1), "p_BOTADDSUB_CARRYSELECT": select(1),
        "p_MODE_8x8": flag(1), "p_A_SIGNED": flag(0), "p_B_SIGNED": flag(0),
        "p_NEG_TRIGGER": flag(0),
    }
    controls = {f"i_{name}": 0 for name in (
        "AHOLD", "BHOLD", "CHOLD", "DHOLD", "IRSTTOP", "IRSTBOT", "ORSTTOP", "ORSTBOT",
        "OLOADTOP", "OLOADBOT", "ADDSUBTOP", "ADDSUBBOT", "OHOLDTOP", "OHOLDBOT",
        "CI", "ACCUMCI", "SIGNEXTIN")}
    return Instance(
        "SB_MAC16", **parameters, **controls,
        i_CLK=ClockSignal(), i_CE=1,
        i_A=Cat(offset_operand(a[0]), offset_operand(a[1])),
        i_B=Cat(offset_operand(b[0]), offset_operand(b[1])),
        i_C=offset_correction(a[1], b[1]),
        i_D=offset_correction(a[0], b[0]),
        o_O=Cat(products[0], products[1]))
