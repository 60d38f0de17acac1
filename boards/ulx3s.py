"""The ULX3S-85F (Lattice LFE5U-85F) board top.

::

    clk25 ──> EHXPLLL ──> sync ───────────> BoardSoC (host link, sequencer, DMA, memory)
                     └──> array (optional) ──> its systolic array (ArrayClockCrossing)
    FTDI uart rx/tx  <──────────────────────────────>   uart_rx / uart_tx
    LEDs 0..7        <── heartbeat, irq, memory error, link activity
    SDRAM pins       <── SDRAMPHY (memory="sdram"; clock on a 180-degree PLL output)

The part has 156 DSP blocks: the first ``hard_multipliers`` cells of the array (row-major, from
the board's catalog entry) use them and the rest build their multipliers from logic
(:class:`~rtl.systolic.WeightStationaryArray`).

With ``array_mhz`` the grid runs in a clock domain of its own, from the same PLL: its logic is
a multiply and an add per register, while the memory channel controller's scheduler limits the
``sync`` domain (see docs/boards.md).
"""

from amaranth import ClockDomain, DomainRenamer, Elaboratable, Module, Signal
from amaranth.lib import io

from .array_bench import PseudoRandomArrayDriver, bench_array
from .clocking import ECP5Clocking
from .controller_bench import PseudoRandomControllerDriver, bench_controller
from .soc import BoardSoC

__all__ = ["ULX3STop", "ULX3SArrayBench", "ULX3SControllerBench"]


class ULX3STop(Elaboratable):
    """The ULX3S-85F top (see the module documentation).

    Parameters
    ----------
    board : Board
        Its :data:`boards.catalog.BOARDS` entry.
    config : Config
    memory : str
        ``"hbm"`` (block-RAM HBM emulator) or ``"sdram"`` (the board's 32 MB SDR SDRAM).
    clock_mhz : float
        The ``sync`` clock.
    array_mhz : float or None
        The ``array`` clock; ``None``: the array runs in ``sync``.
    hard_multipliers : int or None
        Array cells on DSP blocks; default the board's, or every cell if that is more.
    """

    def __init__(self, *, board, config, memory, clock_mhz, array_mhz=None,
                 hard_multipliers=None):
        self.board = board
        self.clock_mhz = clock_mhz
        self.array_mhz = array_mhz
        if hard_multipliers is None:
            hard_multipliers = board.hard_multipliers_for(config)
        self.soc = BoardSoC(config=config, memory=memory, clock_hz=round(clock_mhz * 1e6),
                            baud=board.baud, hard_multipliers=hard_multipliers,
                            array_domain="sync" if array_mhz is None else "array")

    def elaborate(self, platform):
        m = Module()
        m.submodules.clk25 = clk25 = io.Buffer("i", platform.request("clk25", 0, dir="-"))
        m.submodules.clocking = clocking = ECP5Clocking(
            clock=clk25.i, input_mhz=25, output_mhz=self.clock_mhz,
            shifted_degrees=180 if self.soc.memory == "sdram" else None,
            array_mhz=self.array_mhz)
        for domain in clocking.domains:
            m.domains += ClockDomain(domain)

        m.submodules.soc = soc = self.soc
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.d.comb += [soc.uart_rx.eq(uart_rx.i), uart_tx.o.eq(soc.uart_tx)]

        leds = []
        for index in range(8):
            m.submodules[f"led{index}"] = led = io.Buffer("o", platform.request("led", index,
                                                                                 dir="-"))
            leds.append(led)
        heartbeat = Signal(27)
        m.d.sync += heartbeat.eq(heartbeat + 1)
        m.d.comb += [
            leds[0].o.eq(heartbeat[-1]),
            leds[1].o.eq(soc.irq),
            leds[2].o.eq(soc.memory_error),
            leds[3].o.eq(~soc.uart_rx),
            leds[4].o.eq(~soc.uart_tx),
        ]

        if self.soc.memory == "sdram":
            # amaranth-boards names the active-low pins by their function (PinsN inverts).
            pins = platform.request("sdram", 0, dir="-")
            chip = soc.sdram
            outputs = {
                "clk": clocking.shifted,
                "clk_en": chip.cke,
                "cs": ~chip.cs_n,
                "we": ~chip.we_n,
                "ras": ~chip.ras_n,
                "cas": ~chip.cas_n,
                "ba": chip.ba,
                "a": chip.a,
                "dqm": chip.dqm,
            }
            for name, value in outputs.items():
                m.submodules[f"sdram_{name}"] = pin = io.Buffer("o", getattr(pins, name))
                m.d.comb += pin.o.eq(value)
            m.submodules.sdram_dq = dq = io.Buffer("io", pins.dq)
            m.d.comb += [
                dq.o.eq(chip.dq_o),
                dq.oe.eq(chip.dq_oe),
                chip.dq_i.eq(dq.i),
            ]
        return m


class ULX3SArrayBench(Elaboratable):
    """The board's systolic array alone, in its ``array`` clock domain, fed pseudo-random
    operands and folded to one LED: what the array reaches on the part, apart from the
    memory system and the clock crossing (``openmxu bitstream --array-only``).

    Parameters
    ----------
    board : Board
    config : Config
        Its ``rows``, ``cols`` and dataflow are the array's.
    array_mhz : float
        The ``array`` clock (``sync`` runs at 25 MHz and holds only the PLL's reset logic).
    hard_multipliers : int or None
        Array cells on DSP blocks; default the board's, or every cell if that is more.
    """

    def __init__(self, *, board, config, array_mhz, hard_multipliers=None):
        self.array = bench_array(board=board, config=config, hard_multipliers=hard_multipliers)
        self.array_mhz = array_mhz

    def elaborate(self, platform):
        m = Module()
        m.submodules.clk25 = clk25 = io.Buffer("i", platform.request("clk25", 0, dir="-"))
        m.submodules.clocking = clocking = ECP5Clocking(clock=clk25.i, input_mhz=25,
                                                        output_mhz=25, array_mhz=self.array_mhz)
        for domain in clocking.domains:
            m.domains += ClockDomain(domain)
        m.submodules.driver = driver = DomainRenamer("array")(
            PseudoRandomArrayDriver(self.array))
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += led.o.eq(driver.out)
        return m


class ULX3SControllerBench(Elaboratable):
    """One memory channel controller alone in ``sync``, at ``clock_mhz`` from the PLL, fed
    pseudo-random requests and read data, its outputs folded to one LED: what the controller's
    scheduler reaches on the part apart from the rest of the memory system
    (``openmxu bitstream --controller-only``; :mod:`boards.controller_bench`).

    Parameters
    ----------
    board : Board
    timing : TimingPreset or str
        The controller's preset (the board's HBM2 pseudo-channel: ``"hbm2-2000"``).
    clock_mhz : float
        The ``sync`` clock, the controller's.
    controller_options : dict or None
        Other keyword arguments of the controller's constructor; default none (its
        defaults).
    """

    def __init__(self, *, board, timing, clock_mhz, controller_options=None):
        self.controller = bench_controller(timing=timing, controller_options=controller_options)
        self.clock_mhz = clock_mhz

    def elaborate(self, platform):
        m = Module()
        m.submodules.clk25 = clk25 = io.Buffer("i", platform.request("clk25", 0, dir="-"))
        m.submodules.clocking = clocking = ECP5Clocking(clock=clk25.i, input_mhz=25,
                                                        output_mhz=self.clock_mhz)
        for domain in clocking.domains:
            m.domains += ClockDomain(domain)
        m.submodules.driver = driver = PseudoRandomControllerDriver(self.controller)
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += led.o.eq(driver.out)
        return m
