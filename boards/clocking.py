"""Clock generation for the board tops: PLL settings computed from the wanted frequencies, and
resets held until the PLL locks.
"""

from amaranth import ClockSignal, ResetSignal, Instance, Module, Signal, Elaboratable

__all__ = ["ecp5_pll_settings", "ECP5Clocking", "settle_reset"]

# ECP5 sysCLOCK PLL limits (Lattice TN1263): phase detector input 3.125 to 400 MHz, VCO 400
# to 800 MHz, output 3.125 to 400 MHz.
_PFD_MHZ = (3.125, 400.0)
_VCO_MHZ = (400.0, 800.0)


def ecp5_pll_settings(input_mhz, output_mhz, *, secondary_mhz=None):
    """Dividers of an EHXPLLL with feedback from CLKOP: ``{"CLKI_DIV", "CLKFB_DIV",
    "CLKOP_DIV", "frequency_mhz"}``, the exact frequency when one exists, else the closest.
    With ``secondary_mhz``, also ``"CLKOS2_DIV"`` and ``"secondary_mhz"`` for a second clock
    from the same VCO. ``ValueError`` if no setting comes within 1 % of each frequency."""
    best = None
    for clki_div in range(1, 129):
        pfd = input_mhz / clki_div
        if not _PFD_MHZ[0] <= pfd <= _PFD_MHZ[1]:
            continue
        for clkfb_div in range(1, 81):
            frequency = pfd * clkfb_div
            for clkop_div in range(1, 129):
                vco = frequency * clkop_div
                if not _VCO_MHZ[0] <= vco <= _VCO_MHZ[1]:
                    continue
                error = abs(frequency - output_mhz) / output_mhz
                settings = {"CLKI_DIV": clki_div, "CLKFB_DIV": clkfb_div,
                            "CLKOP_DIV": clkop_div, "frequency_mhz": frequency}
                if secondary_mhz is not None:
                    divider = min(128, max(1, round(vco / secondary_mhz)))
                    error = max(error, abs(vco / divider - secondary_mhz) / secondary_mhz)
                    settings.update(CLKOS2_DIV=divider, secondary_mhz=vco / divider)
                # Prefer the exact frequencies, then a VCO near the middle of its range.
                key = (error, abs(vco - 600.0))
                if best is None or key < best[0]:
                    best = (key, settings)
    if best is None or best[0][0] > 0.01:
        if secondary_mhz is None:
            raise ValueError(f"output_mhz must be reachable from {input_mhz} MHz within 1 % "
                             f"by the ECP5 PLL, not {output_mhz}")
        raise ValueError(f"output_mhz and secondary_mhz must be reachable together from "
                         f"{input_mhz} MHz within 1 % by the ECP5 PLL (one VCO), not "
                         f"{output_mhz} and {secondary_mhz}")
    return best[1]


class ECP5Clocking(Elaboratable):
    """The ``sync`` domain at ``output_mhz`` from an EHXPLLL, with a second output of the same
    frequency shifted by ``shifted_degrees`` for an SDRAM clock pin, optionally an ``array``
    domain at ``array_mhz`` from the same VCO, and synchronous resets held until the PLL
    locks.

    It drives the domains' clocks and resets; the design that holds it defines them
    (:attr:`domains`), since the whole design uses them (a domain defined in a submodule and
    used outside it is deprecated in Amaranth 0.5 and an error in 0.6).

    Parameters
    ----------
    clock : Signal
        The input clock (the board oscillator).
    input_mhz, output_mhz : float
    shifted_degrees : int or None
        Phase of ``shifted`` relative to ``sync``'s clock (a multiple of 45); ``None`` for no
        second output.
    array_mhz : float or None
        Frequency of the ``array`` domain (the systolic array's,
        :class:`~rtl.systolic.ArrayClockCrossing`); ``None`` for no such domain.

    Attributes
    ----------
    shifted : Signal
        The second output.
    frequency_mhz : float
        The ``sync`` frequency the dividers give.
    array_frequency_mhz : float or None
        The ``array`` frequency the dividers give.
    domains : tuple of str
        The domains it drives: ``("sync",)`` or ``("sync", "array")``.
    """

    def __init__(self, *, clock, input_mhz, output_mhz, shifted_degrees=None, array_mhz=None):
        self.clock = clock
        self.input_mhz = input_mhz
        self.settings = ecp5_pll_settings(input_mhz, output_mhz, secondary_mhz=array_mhz)
        self.frequency_mhz = self.settings["frequency_mhz"]
        self.array_frequency_mhz = self.settings.get("secondary_mhz")
        if shifted_degrees is not None and shifted_degrees % 45:
            raise ValueError(f"shifted_degrees must be a multiple of 45, not {shifted_degrees}")
        self.shifted_degrees = shifted_degrees
        self.shifted = Signal()
        self.locked = Signal()

    @property
    def domains(self):
        return ("sync",) if self.array_frequency_mhz is None else ("sync", "array")

    def elaborate(self, platform):
        m = Module()
        s = self.settings
        divider = s["CLKOP_DIV"]
        parameters = {
            "p_PLLRST_ENA": "DISABLED", "p_INTFB_WAKE": "DISABLED",
            "p_STDBY_ENABLE": "DISABLED", "p_DPHASE_SOURCE": "DISABLED",
            "p_OUTDIVIDER_MUXA": "DIVA", "p_OUTDIVIDER_MUXB": "DIVB",
            "p_OUTDIVIDER_MUXC": "DIVC", "p_OUTDIVIDER_MUXD": "DIVD",
            "p_CLKI_DIV": s["CLKI_DIV"], "p_CLKFB_DIV": s["CLKFB_DIV"],
            "p_FEEDBK_PATH": "CLKOP",
            "p_CLKOP_ENABLE": "ENABLED", "p_CLKOP_DIV": divider,
            "p_CLKOP_CPHASE": divider - 1, "p_CLKOP_FPHASE": 0,
            "i_RST": 0, "i_STDBY": 0, "i_CLKI": self.clock,
            "o_CLKOP": ClockSignal("sync"), "i_CLKFB": ClockSignal("sync"),
            "i_PHASESEL0": 0, "i_PHASESEL1": 0, "i_PHASEDIR": 1, "i_PHASESTEP": 1,
            "i_PHASELOADREG": 1, "i_PLLWAKESYNC": 0, "i_ENCLKOP": 0,
            "o_LOCK": self.locked,
            "a_FREQUENCY_PIN_CLKI": str(self.input_mhz),
            "a_FREQUENCY_PIN_CLKOP": str(self.frequency_mhz),
            "a_ICP_CURRENT": "12", "a_LPF_RESISTOR": "8",
            "a_MFG_ENABLE_FILTEROPAMP": "1", "a_MFG_GMCREF_SEL": "2",
        }
        if self.shifted_degrees is not None:
            # Coarse phase steps are one VCO period; the divider's period is 360 degrees.
            steps = round(self.shifted_degrees / 360 * divider)
            parameters.update({
                "p_CLKOS_ENABLE": "ENABLED", "p_CLKOS_DIV": divider,
                "p_CLKOS_CPHASE": divider - 1 + steps, "p_CLKOS_FPHASE": 0,
                "o_CLKOS": self.shifted, "i_ENCLKOS": 0,
                "a_FREQUENCY_PIN_CLKOS": str(self.frequency_mhz),
            })
        if self.array_frequency_mhz is not None:
            parameters.update({
                "p_CLKOS2_ENABLE": "ENABLED", "p_CLKOS2_DIV": s["CLKOS2_DIV"],
                "p_CLKOS2_CPHASE": s["CLKOS2_DIV"] - 1, "p_CLKOS2_FPHASE": 0,
                "o_CLKOS2": ClockSignal("array"), "i_ENCLKOS2": 0,
                "a_FREQUENCY_PIN_CLKOS2": str(self.array_frequency_mhz),
            })
        m.submodules.pll = Instance("EHXPLLL", **parameters)
        for domain in self.domains:
            settle_reset(m, domain, self.locked)
        return m


def settle_reset(m, domain, locked):
    """Drive ``domain``'s reset in ``m``: held while ``locked`` is low and for 16 cycles of
    the domain after it rises. The counter is not reset by the reset it drives, and the reset
    comes straight from a register, since it fans out to every reset flip-flop of the domain."""
    settle = Signal(4, reset_less=True, name=f"{domain}_settle")
    reset = Signal(init=1, reset_less=True, name=f"{domain}_reset")
    with m.If(~locked):
        m.d[domain] += settle.eq(0)
    with m.Elif(~settle.all()):
        m.d[domain] += settle.eq(settle + 1)
    m.d[domain] += reset.eq(~settle.all())
    m.d.comb += ResetSignal(domain).eq(reset)

