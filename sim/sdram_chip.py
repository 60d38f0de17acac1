"""A pin-level model of an SDR SDRAM (the ULX3S's IS42S16160, preset ``"sdr"``) for
simulation: it checks the initialization sequence and every timing rule, stores data, and
answers reads on ``dq``. It goes into Verilator builds, never into a bitstream.

The pins are decoded back into the DRAM command interface of :mod:`rtl.mem.commands` and fed
to :class:`rtl.mem.device.DramDevice`, whose checker and storage apply, so that the rules of
the chip are the same code as the rules the controller is verified against. The model adds
what the device does not know about:

* the power-up sequence: NOP (or INHIBIT) for ``init_cycles``, PRECHARGE ALL, at least two
  AUTO REFRESH, LOAD MODE REGISTER, with tRP, tRFC and tMRD between them; the device model
  is held in reset until then, so its cycle 0 (and its refresh deadline) starts the cycle
  after LOAD MODE REGISTER;
* the mode register: burst length and CAS latency of the preset, sequential bursts,
  programmed-length write bursts;
* what the model does not support (burst terminate, auto-precharge, a column that is not
  the start of a burst, CKE low, reloading the mode register), flagged rather than guessed;
* the ``dq`` bus: the controller must drive every write beat and must not drive while the
  chip drives read data or in the cycle after its last beat (the chip's outputs turn off up
  to tHZ after the clock edge, so a write needs one idle cycle after a read).

Cycle model: the chip samples a pin cycle's command, address and write data at the end of
that cycle, and drives read beat k of a READ in pin cycle ``p`` during pin cycle ``p + CL +
k``, to be sampled at its end. A byte whose DQM was high two cycles earlier is not driven;
``dq_i`` then carries a changing pattern, as do idle cycles, so that a controller sampling
at the wrong cycle reads garbage rather than a plausible value.

Errors follow :class:`~rtl.mem.device.DramDevice`: the first violation latches ``error``
(sticky), ``error_rule``, ``error_bank`` and ``error_cycle``. Rule codes 1 to 22 are the
device's :class:`~rtl.mem.device.ErrorRule` (its cycle converted to the chip's); the codes
from 32 up are the chip's own (:class:`ChipRule`). :func:`describe_chip_error` makes a
message of them.
"""

from amaranth import Module, Signal, Cat, Mux, ResetInserter
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from boards.sdram import (SDRAMPinSignature, PinCommand, check_sdr_timing, mode_register,
                          default_init_cycles, pin_command, TMRD, AUTO_PRECHARGE_BIT,
                          MAX_INIT_CYCLES)
from openmxu.dram import check_power_of_two
from rtl.mem.commands import RowCommand, ColumnCommand, timing_repr
from rtl.mem.counters import log2, cycles_since, rule_met
from rtl.mem.device import DramDevice, ErrorRule, CYCLE_BITS, describe_error
from rtl.params import check_int, validating

__all__ = ["SDRAMChip", "ChipRule", "CHIP_MESSAGES", "describe_chip_error"]


class ChipRule(enum.Enum, shape=6):
    """The rule a pin sequence broke, as latched on ``error_rule``.

    Codes 1 to 22 are :class:`~rtl.mem.device.ErrorRule`'s, with the same names; the chip's
    own rules start at 32:

    ==  ===================  ===========================================================
    32  INIT_EARLY           a command other than NOP/INHIBIT before ``init_cycles`` of
                             power-up wait had passed since reset
    33  INIT_ORDER           a command out of the init sequence (PRECHARGE ALL, two or
                             more AUTO REFRESH, LOAD MODE REGISTER) before it completed
    34  INIT_TIMING          during init: PRECHARGE ALL to AUTO REFRESH < tRP, AUTO
                             REFRESH to AUTO REFRESH or LOAD MODE < tRFC; LOAD MODE to
                             the next command < tMRD
    35  MODE                 LOAD MODE REGISTER with another value than
                             :func:`boards.sdram.mode_register`, or with BA != 0
    36  UNSUPPORTED          BURST TERMINATE, READ/WRITE with auto-precharge (A10), a
                             column not at a burst start, CKE low after the power-up
                             wait, or LOAD MODE REGISTER after init
    37  DQ_CONFLICT          the controller drives ``dq`` while the chip drives read data
                             or in the cycle after the chip's last read beat
    38  DQ_UNDRIVEN          a write beat with ``dq_oe`` low
    ==  ===================  ===========================================================
    """
    NONE = 0
    ADDRESS = 1
    STORAGE = 2
    ACT_OPEN = 3
    BANK_CLOSED = 4
    REF_OPEN = 5
    TRCD_RD = 6
    TRCD_WR = 7
    TRAS = 8
    TRC = 9
    TRP = 10
    TRRD_L = 11
    TRRD_S = 12
    TFAW = 13
    TRFC = 14
    TRTP = 15
    TWR = 16
    TCCD_L = 17
    TCCD_S = 18
    TWTR_L = 19
    TWTR_S = 20
    BUS_CONFLICT = 21
    REFRESH_STARVED = 22
    INIT_EARLY = 32
    INIT_ORDER = 33
    INIT_TIMING = 34
    MODE = 35
    UNSUPPORTED = 36
    DQ_CONFLICT = 37
    DQ_UNDRIVEN = 38


# The device's codes are this enum's: one numbering for testbenches reading the port.
assert all(ChipRule[rule.name].value == rule.value for rule in ErrorRule)

#: Message template of each of the chip's own rules, with ``{bank}`` and ``{cycle}``.
CHIP_MESSAGES = {
    ChipRule.INIT_EARLY: "init: command at cycle {cycle} before the power-up wait ended",
    ChipRule.INIT_ORDER: "init: command at cycle {cycle} out of the sequence PRECHARGE ALL, "
                         "AUTO REFRESH x2, LOAD MODE REGISTER",
    ChipRule.INIT_TIMING: "init: command at cycle {cycle} too soon after the previous init "
                          "command (tRP, tRFC or tMRD)",
    ChipRule.MODE: "LOAD MODE REGISTER at cycle {cycle} with a mode other than the preset's "
                   "(burst length, sequential, CAS latency)",
    ChipRule.UNSUPPORTED: "unsupported command at cycle {cycle} (burst terminate, "
                          "auto-precharge, column not at a burst start, CKE low, mode reload)",
    ChipRule.DQ_CONFLICT: "dq conflict at cycle {cycle}: the controller drives dq during or "
                          "right after the chip's read data",
    ChipRule.DQ_UNDRIVEN: "write beat at cycle {cycle} with dq not driven (dq_oe low)",
}


def describe_chip_error(rule, bank, cycle, *, timing="sdr"):
    """A message for the ``error_rule``, ``error_bank`` and ``error_cycle`` outputs of
    :class:`SDRAMChip` (``rule`` a :class:`ChipRule` or its code)."""
    try:
        rule = ChipRule(rule)
    except ValueError:
        raise ValueError(f"rule must be a ChipRule or one of its codes, not {rule!r}") from None
    if rule in CHIP_MESSAGES:
        return CHIP_MESSAGES[rule].format(bank=bank, cycle=cycle)
    return describe_error(ErrorRule[rule.name], bank, cycle, timing=timing)


class SDRAMChip(wiring.Component):
    """One SDR SDRAM chip on its pins: init checks, the device model's timing checks and
    storage, and the ``dq`` bus (see the module documentation).

    Parameters
    ----------
    timing : TimingPreset or str
        The chip (default ``"sdr"``); :func:`boards.sdram.check_sdr_timing`.
    stored_rows : int
        Rows of every bank backed by storage (a power of two up to ``timing.rows``); an ACT
        to a row above is the ``STORAGE`` error. The default 4 is 16 KB for ``"sdr"``.
    init_cycles : int or None
        The power-up wait the chip requires (1 to 131072); ``None`` for 200 us at the
        preset's clock.

    Members
    -------
    pins : ``In(SDRAMPinSignature(timing=timing))``
        ``dq_i`` is the chip's drive of ``dq``.
    initialized : ``Out(1)``
        The init sequence has completed (from the cycle after LOAD MODE REGISTER).
    error : ``Out(1)``
        A rule was broken (sticky); high from the cycle after the offending pin cycle (a
        device rule: as :class:`~rtl.mem.device.DramDevice` reports it).
    error_rule : ``Out(ChipRule)``
    error_bank : ``Out(2)``
        The bank on ``ba`` (for device rules, the device's ``error_bank``).
    error_cycle : ``Out(32)``
        The pin cycle of the offending command, counted from reset like ``cycle``.
    cycle : ``Out(32)``
        Free-running cycle counter: 0 in the first cycle after reset.
    """

    def __init__(self, *, timing="sdr", stored_rows=4, init_cycles=None):
        with validating(self):
            timing = check_sdr_timing(timing)
            check_power_of_two("stored_rows", stored_rows, 1, timing.rows)
            if init_cycles is None:
                init_cycles = default_init_cycles(timing)
            check_int("init_cycles", init_cycles, 1, MAX_INIT_CYCLES)
        self._timing = timing
        self._stored_rows = stored_rows
        self._init_cycles = init_cycles
        pins = SDRAMPinSignature(timing=timing)
        super().__init__({
            "pins": In(pins),
            "initialized": Out(1),
            "error": Out(1),
            "error_rule": Out(ChipRule),
            "error_bank": Out(pins.members["ba"].shape),
            "error_cycle": Out(CYCLE_BITS),
            "cycle": Out(CYCLE_BITS),
        })

    @property
    def timing(self):
        return self._timing

    @property
    def stored_rows(self):
        return self._stored_rows

    @property
    def init_cycles(self):
        return self._init_cycles

    @property
    def storage_bytes(self):
        """Bytes of storage the model carries."""
        t = self._timing
        return t.banks * self._stored_rows * t.row_bytes

    def describe_error(self, rule, bank, cycle):
        return describe_chip_error(rule, bank, cycle, timing=self._timing)

    def __repr__(self):
        return (f"SDRAMChip(timing={timing_repr(self._timing)}, "
                f"stored_rows={self._stored_rows}, init_cycles={self._init_cycles})")

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        pins = self.pins
        burst = t.burst_cycles
        beat_bits = log2(burst)
        row_bits = log2(t.rows)
        column_bits = log2(t.columns)
        width = len(pins.dq_o)

        m.d.sync += self.cycle.eq(self.cycle + 1)

        command = Signal(PinCommand)
        m.d.comb += command.eq(pin_command(pins))
        a10 = pins.a[AUTO_PRECHARGE_BIT]
        is_ = {name: Signal(name=f"is_{name.lower()}") for name in
               ("ACTIVE", "READ", "WRITE", "PRECHARGE", "AUTO_REFRESH", "LOAD_MODE",
                "BURST_TERMINATE")}
        for name, wire in is_.items():
            m.d.comb += wire.eq(command == PinCommand[name])
        # NOP and INHIBIT are idle; INHIBIT is any command with cs_n high.
        active = ~pins.cs_n & (command != PinCommand.NOP)
        prea = is_["PRECHARGE"] & a10

        # Power-up and init sequence --------------------------------------------------------
        waited = Signal(range(self._init_cycles + 1))
        with m.If(waited != self._init_cycles):
            m.d.sync += waited.eq(waited + 1)
        powered = waited == self._init_cycles
        precharged = Signal()
        refreshes = Signal(range(3))
        init_done = self.initialized
        since_prea = Signal(range(max(t.trp, 1) + 1), init=max(t.trp, 1))
        since_ref = Signal(range(max(t.trfc, 1) + 1), init=max(t.trfc, 1))
        since_load = Signal(range(TMRD + 1), init=TMRD)
        cycles_since(m, since_prea, max(t.trp, 1), prea & ~init_done)
        cycles_since(m, since_ref, max(t.trfc, 1), is_["AUTO_REFRESH"] & ~init_done)
        cycles_since(m, since_load, TMRD, is_["LOAD_MODE"] & ~init_done)
        load_ok = precharged & (refreshes == 2)
        with m.If(powered & ~init_done):
            with m.If(prea):
                m.d.sync += precharged.eq(1)
            with m.If(is_["AUTO_REFRESH"] & precharged & (refreshes != 2)):
                m.d.sync += refreshes.eq(refreshes + 1)
            with m.If(is_["LOAD_MODE"] & load_ok):
                m.d.sync += init_done.eq(1)
        expected_mode = mode_register(t)

        own = {}        # rule: condition, in the order they are reported

        def rule(name, condition):
            own[ChipRule[name]] = condition

        rule("INIT_EARLY", active & ~powered)
        in_init = powered & ~init_done
        init_command_ok = (prea
                           | (is_["AUTO_REFRESH"] & precharged)
                           | (is_["LOAD_MODE"] & load_ok))
        rule("INIT_ORDER", active & in_init & ~init_command_ok)
        rule("INIT_TIMING",
             (active & init_done & ~rule_met(since_load, TMRD))
             | (in_init & (is_["AUTO_REFRESH"] | is_["LOAD_MODE"])
                & (~rule_met(since_prea, t.trp) | ~rule_met(since_ref, t.trfc))))
        rule("MODE", is_["LOAD_MODE"] & in_init
             & ((pins.a != expected_mode) | (pins.ba != 0)))
        column_word = pins.a[:AUTO_PRECHARGE_BIT]
        rule("UNSUPPORTED",
             (powered & ~pins.cke)
             | (is_["BURST_TERMINATE"] & powered)
             | ((is_["READ"] | is_["WRITE"]) & init_done
                & (a10 | (column_word[:beat_bits].any() if beat_bits else 0)))
             | (is_["LOAD_MODE"] & init_done))

        # The device model, running from the cycle after LOAD MODE REGISTER -------------------
        device = DramDevice(timing=t, stored_rows=self._stored_rows)
        m.submodules.device = ResetInserter({"sync": ~init_done})(device)
        bus = device.dram
        run = init_done & pins.cke
        m.d.comb += [
            bus.row_valid.eq(run & (is_["ACTIVE"] | is_["PRECHARGE"] | is_["AUTO_REFRESH"])),
            bus.row_bank.eq(pins.ba),
            bus.row.eq(pins.a[:row_bits]),
            bus.col_valid.eq(run & (is_["READ"] | is_["WRITE"])),
            bus.col_cmd.eq(Mux(is_["WRITE"], ColumnCommand.WR, ColumnCommand.RD)),
            bus.col_bank.eq(pins.ba),
            bus.column.eq(column_word[beat_bits:beat_bits + column_bits]),
            bus.wdata.eq(pins.dq_o),
            bus.wmask.eq(pins.dqm),
        ]
        with m.If(is_["ACTIVE"]):
            m.d.comb += bus.row_cmd.eq(RowCommand.ACT)
        with m.Elif(is_["AUTO_REFRESH"]):
            m.d.comb += bus.row_cmd.eq(RowCommand.REF)
        with m.Elif(a10):
            m.d.comb += bus.row_cmd.eq(RowCommand.PREA)
        with m.Else():
            m.d.comb += bus.row_cmd.eq(RowCommand.PRE)
        start = Signal(CYCLE_BITS)          # the chip's cycle at the device's cycle 0
        with m.If(~init_done):
            m.d.sync += start.eq(self.cycle + 1)

        # The dq bus -------------------------------------------------------------------------
        # DQM masks read output two cycles ahead.
        dqm_1 = Signal.like(pins.dqm)
        dqm_2 = Signal.like(pins.dqm)
        m.d.sync += [dqm_1.eq(pins.dqm), dqm_2.eq(dqm_1)]
        garbage = Signal(width)
        m.d.comb += garbage.eq(Cat(self.cycle[:16], ~self.cycle[:16])[:width]
                               ^ (0x5AA5C33C & ((1 << width) - 1)))
        driving = bus.rdata_valid
        drove = Signal()
        m.d.sync += drove.eq(driving)
        lanes = []
        for byte in range(width // 8):
            lane = slice(8 * byte, 8 * byte + 8)
            lanes.append(Mux(driving & ~dqm_2[byte], bus.rdata[lane], garbage[lane]))
        m.d.comb += pins.dq_i.eq(Cat(*lanes))
        write_left = Signal(range(max(burst, 2)))
        write_beat = (bus.col_valid & is_["WRITE"]) | (write_left != 0)
        with m.If(bus.col_valid & is_["WRITE"]):
            m.d.sync += write_left.eq(burst - 1)
        with m.Elif(write_left != 0):
            m.d.sync += write_left.eq(write_left - 1)
        rule("DQ_CONFLICT", pins.dq_oe & (driving | drove))
        rule("DQ_UNDRIVEN", write_beat & ~pins.dq_oe)

        # Errors: the chip's own latch, or the device's; the first wins ---------------------
        own_error = Signal()
        own_rule = Signal(ChipRule)
        own_bank = Signal.like(pins.ba)
        own_cycle = Signal(CYCLE_BITS)
        with m.If(~own_error & ~device.error):
            first = True
            for code, condition in own.items():
                with (m.If if first else m.Elif)(condition):
                    m.d.sync += [own_error.eq(1), own_rule.eq(code), own_bank.eq(pins.ba),
                                 own_cycle.eq(self.cycle)]
                first = False
        with m.If(own_error):
            m.d.comb += [self.error.eq(1), self.error_rule.eq(own_rule),
                         self.error_bank.eq(own_bank), self.error_cycle.eq(own_cycle)]
        with m.Elif(device.error):
            m.d.comb += [self.error.eq(1),
                         self.error_rule.as_value().eq(device.error_rule.as_value()),
                         self.error_bank.eq(device.error_bank),
                         self.error_cycle.eq(device.error_cycle + start)]
        return m
