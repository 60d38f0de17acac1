"""A timing-checked model of one DRAM pseudo-channel: the device a memory controller is
verified against.

:class:`DramDevice` takes the command stream of :mod:`rtl.mem.commands`, stores the data
(only the first ``stored_rows`` rows of every bank, which is all a testbench needs), returns
read data ``cl`` cycles after RD and takes write data ``cwl`` cycles after WR. Every command is
checked against every rule of its :class:`~openmxu.dram.TimingPreset`, with the reference
points of :mod:`openmxu.dram`; the first violation latches ``error`` with the rule, the bank
and the cycle, and :func:`describe_error` turns those into a message.

Every rule is kept as a small saturating counter of the cycles since its reference event
(per bank, per bank group or per pseudo-channel), compared against constants. One counter
serves all the rules that count from one event (tRCD_RD, tRCD_WR, tRAS and tRC all count from
the bank's ACT), which keeps the state smaller than a down-counter per rule and far smaller
than cycle timestamps.
"""

from amaranth import Module, Signal, Cat, Const, Mux, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from openmxu.dram import check_power_of_two
from .bits import lowest_set
from .counters import log2, cycles_since, rule_met
from ..params import validating
from .commands import (RowCommand, ColumnCommand, DramSignature, row_command_layout,
                       column_command_layout, row_command, column_command, resolve_timing,
                       timing_repr)

__all__ = ["DramDevice", "ErrorRule", "ERROR_MESSAGES", "describe_error", "CYCLE_BITS"]


#: Width of the free-running cycle counter and of ``error_cycle`` (wraps after 2**32 cycles).
CYCLE_BITS = 32


class ErrorRule(enum.Enum, shape=5):
    """The rule a command broke, as latched on ``error_rule``.

    When several rules break in the same cycle, the one listed first here is reported. Codes
    (for Verilator runs, where the port is a plain 5-bit number) and reference points, "X to
    Y >= t" meaning Y no earlier than t cycles after X:

    ==  ===================  ===========================================================
     0  NONE                 no error
     1  ADDRESS              bank or column number beyond the device (possible only when
                             the preset has one bank or one column: the field is 1 bit)
     2  STORAGE              ACT to a row at or above ``stored_rows``: row outside the
                             modelled storage (never aliased)
     3  ACT_OPEN             ACT to a bank with a row open
     4  BANK_CLOSED          RD or WR to a bank with no row open
     5  REF_OPEN             REF with a bank open (``error_bank``: the lowest open bank)
     6  TRCD_RD              ACT to RD, same bank, >= trcd_rd
     7  TRCD_WR              ACT to WR, same bank, >= trcd_wr
     8  TRAS                 ACT to PRE (or PREA), same bank, >= tras
     9  TRC                  ACT to ACT, same bank, >= trc
    10  TRP                  PRE (closing a row) to ACT of that bank, or to REF, >= trp
    11  TRRD_L               ACT to ACT, another bank of the same bank group, >= trrd_l
    12  TRRD_S               ACT to ACT, another bank group, >= trrd_s
    13  TFAW                 ACT to the fourth ACT after it >= tfaw: at most four ACTs in
                             any tfaw consecutive cycles (not checked when tfaw is 0)
    14  TRFC                 REF to ACT, and REF to REF, >= trfc
    15  TRTP                 RD to PRE (or PREA), same bank, >= trtp
    16  TWR                  end of write data to PRE, same bank, >= twr: PRE no earlier
                             than WR + cwl + burst cycles + twr
    17  TCCD_L               RD to RD and WR to WR, same bank group, >= tccd_l
    18  TCCD_S               RD to RD and WR to WR, another bank group, >= tccd_s
    19  TWTR_L               end of write data to RD, same bank group, >= twtr_l: RD no
                             earlier than WR + cwl + burst cycles + twtr_l
    20  TWTR_S               the same across bank groups, >= twtr_s
    21  BUS_CONFLICT         a burst would start on the data bus before the burst of the
                             previous column command ends: overlapping bursts, and a WR so
                             soon after a RD that its data would precede the read data
    22  REFRESH_STARVED      REF to REF (reset counting as a REF in cycle 0) at most
                             (max_postponed_refreshes + 1) * trefi; latched in the first
                             cycle a REF would be late (not checked when trefi is 0)
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


#: Message template of every rule, with ``{bank}`` and ``{cycle}`` fields.
ERROR_MESSAGES = {
    ErrorRule.NONE: "no error",
    ErrorRule.ADDRESS: "bank or column outside the device: command to bank {bank} at cycle "
                       "{cycle}",
    ErrorRule.STORAGE: "row outside the modelled storage: ACT to bank {bank} at cycle {cycle} "
                       "opens a row at or above stored_rows",
    ErrorRule.ACT_OPEN: "ACT to an open bank: ACT to bank {bank} at cycle {cycle} while it "
                        "has a row open",
    ErrorRule.BANK_CLOSED: "RD/WR to a closed bank: column command to bank {bank} at cycle "
                           "{cycle} with no row open",
    ErrorRule.REF_OPEN: "REF with a bank open: REF at cycle {cycle} while bank {bank} has a "
                        "row open",
    ErrorRule.TRCD_RD: "tRCD_RD violated: RD to bank {bank} at cycle {cycle} too soon after "
                       "the bank's ACT",
    ErrorRule.TRCD_WR: "tRCD_WR violated: WR to bank {bank} at cycle {cycle} too soon after "
                       "the bank's ACT",
    ErrorRule.TRAS: "tRAS violated: PRE of bank {bank} at cycle {cycle} too soon after its ACT",
    ErrorRule.TRC: "tRC violated: ACT to bank {bank} at cycle {cycle} too soon after the "
                   "bank's previous ACT",
    ErrorRule.TRP: "tRP violated: ACT or REF at cycle {cycle} too soon after the PRE of bank "
                   "{bank}",
    ErrorRule.TRRD_L: "tRRD_L violated: ACT to bank {bank} at cycle {cycle} too soon after an "
                      "ACT to another bank of its bank group",
    ErrorRule.TRRD_S: "tRRD_S violated: ACT to bank {bank} at cycle {cycle} too soon after an "
                      "ACT in another bank group",
    ErrorRule.TFAW: "tFAW violated: ACT to bank {bank} at cycle {cycle} is a fifth ACT within "
                    "the four-activate window",
    ErrorRule.TRFC: "tRFC violated: ACT or REF (bank {bank}) at cycle {cycle} too soon after "
                    "a REF",
    ErrorRule.TRTP: "tRTP violated: PRE of bank {bank} at cycle {cycle} too soon after a RD "
                    "to it",
    ErrorRule.TWR: "tWR violated: PRE of bank {bank} at cycle {cycle} too soon after the end "
                   "of the write data to it",
    ErrorRule.TCCD_L: "tCCD_L violated: RD or WR to bank {bank} at cycle {cycle} too soon "
                      "after the same command in its bank group",
    ErrorRule.TCCD_S: "tCCD_S violated: RD or WR to bank {bank} at cycle {cycle} too soon "
                      "after the same command in another bank group",
    ErrorRule.TWTR_L: "tWTR_L violated: RD to bank {bank} at cycle {cycle} too soon after the "
                      "end of write data in its bank group",
    ErrorRule.TWTR_S: "tWTR_S violated: RD to bank {bank} at cycle {cycle} too soon after the "
                      "end of write data in another bank group",
    ErrorRule.BUS_CONFLICT: "data-bus conflict: the burst of the RD or WR to bank {bank} at "
                            "cycle {cycle} would start before the previous burst has ended",
    ErrorRule.REFRESH_STARVED: "refresh starvation: no REF in time, late at cycle {cycle}",
}

# The figure each rule asks for, as (what, value of a preset), added by describe_error.
_FIGURES = {
    ErrorRule.TRCD_RD: ("ACT to RD >= trcd_rd", lambda t: t.trcd_rd),
    ErrorRule.TRCD_WR: ("ACT to WR >= trcd_wr", lambda t: t.trcd_wr),
    ErrorRule.TRAS: ("ACT to PRE >= tras", lambda t: t.tras),
    ErrorRule.TRC: ("ACT to ACT >= trc", lambda t: t.trc),
    ErrorRule.TRP: ("PRE to ACT/REF >= trp", lambda t: t.trp),
    ErrorRule.TRRD_L: ("ACT to ACT >= trrd_l", lambda t: t.trrd_l),
    ErrorRule.TRRD_S: ("ACT to ACT >= trrd_s", lambda t: t.trrd_s),
    ErrorRule.TFAW: ("four ACTs back to ACT >= tfaw", lambda t: t.tfaw),
    ErrorRule.TRFC: ("REF to ACT/REF >= trfc", lambda t: t.trfc),
    ErrorRule.TRTP: ("RD to PRE >= trtp", lambda t: t.trtp),
    ErrorRule.TWR: ("WR to PRE >= cwl + burst cycles + twr",
                    lambda t: t.cwl + t.burst_cycles + t.twr),
    ErrorRule.TCCD_L: ("RD to RD / WR to WR >= tccd_l", lambda t: t.tccd_l),
    ErrorRule.TCCD_S: ("RD to RD / WR to WR >= tccd_s", lambda t: t.tccd_s),
    ErrorRule.TWTR_L: ("WR to RD >= cwl + burst cycles + twtr_l",
                       lambda t: t.cwl + t.burst_cycles + t.twtr_l),
    ErrorRule.TWTR_S: ("WR to RD >= cwl + burst cycles + twtr_s",
                       lambda t: t.cwl + t.burst_cycles + t.twtr_s),
    ErrorRule.REFRESH_STARVED: ("REF to REF <= (max_postponed_refreshes + 1) * trefi",
                                lambda t: (t.max_postponed_refreshes + 1) * t.trefi),
}


def describe_error(rule, bank, cycle, *, timing=None):
    """A message for the ``error_rule``, ``error_bank`` and ``error_cycle`` outputs, e.g.
    ``"tRCD_RD violated: RD to bank 3 at cycle 1234 too soon after the bank's ACT"``.

    ``rule`` is an :class:`ErrorRule` or its code. With ``timing`` (a preset or its name) the
    message also gives the bank group and the figure the rule asks for.
    """
    try:
        rule = ErrorRule(rule)
    except ValueError:
        raise ValueError(f"rule must be an ErrorRule or one of its codes 0 to "
                         f"{len(ErrorRule) - 1}, not {rule!r}") from None
    where = str(bank)
    if timing is not None:
        timing = resolve_timing(timing)
        if timing.bank_groups > 1:
            group, within = divmod(bank, timing.banks_per_group)
            where = f"{bank} (group {group}, bank {within})"
    message = ERROR_MESSAGES[rule].format(bank=where, cycle=cycle)
    if timing is not None and rule in _FIGURES:
        what, figure = _FIGURES[rule]
        message += f" ({what} = {figure(timing)} on {timing.name})"
    return message


def _wires(m, name, values):
    """One named 1-bit wire per value."""
    wires = []
    for i, value in enumerate(values):
        wire = Signal(name=f"{name}_{i}")
        m.d.comb += wire.eq(value)
        wires.append(wire)
    return wires


def _element(array, index):
    # Indexing a one-element array by a (one-bit, always 0) field needs no multiplexer.
    return array[0] if len(array) == 1 else array[index]


class DramDevice(wiring.Component):
    """One DRAM pseudo-channel: storage, read and write latency, and a timing checker.

    The checker knows the bank state (open flag and open row) and, per rule, the cycles since
    the rule's reference event (see :class:`ErrorRule` for every rule and its reference
    points, and :mod:`rtl.mem.commands` for the cycle relations of the interface). On the
    first violation it latches ``error`` (sticky until reset), ``error_rule``,
    ``error_bank`` and ``error_cycle``; what the device does after that is unspecified.

    Storage covers rows ``0 .. stored_rows - 1`` of every bank, all columns: an ACT to a row
    above that is the ``STORAGE`` error rather than aliasing onto a stored row. Memory
    contents start at 0.

    Parameters
    ----------
    timing : TimingPreset or str
        The organization and timing to model and check.
    stored_rows : int
        Rows per bank backed by storage (a power of two from 1 to ``timing.rows``). The
        default 64 is 64 KB per bank, 1 MB for HBM2-2000: plenty for a testbench, and cheap
        to simulate.

    Members
    -------
    dram : ``In(DramSignature(timing=timing))``
        The command interface, seen from the device.
    error : ``Out(1)``
        A rule was broken; high from the cycle after the offending command on.
    error_rule : ``Out(ErrorRule)``
        The rule (``NONE`` until ``error``).
    error_bank : ``Out(bank_width)``
        The flat bank the offending command addressed (for PREA and REF, the lowest bank that
        breaks the rule; 0 for refresh starvation).
    error_cycle : ``Out(32)``
        The cycle of the offending command (``cycle``'s value then).
    cycle : ``Out(32)``
        Free-running cycle counter: 0 in the first cycle after reset, wrapping.
    """

    def __init__(self, *, timing, stored_rows=64):
        with validating(self):
            timing = resolve_timing(timing)
            check_power_of_two("stored_rows", stored_rows, 1, timing.rows)
        self._timing = timing
        self._stored_rows = stored_rows
        bus = DramSignature(timing=timing)
        super().__init__({
            "dram": In(bus),
            "error": Out(1),
            "error_rule": Out(ErrorRule),
            "error_bank": Out(bus.bank_width),
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
    def storage_bytes(self):
        """Bytes of storage the model carries."""
        t = self._timing
        return t.banks * self._stored_rows * t.row_bytes

    def describe_error(self, rule, bank, cycle):
        """:func:`describe_error` with this device's preset."""
        return describe_error(rule, bank, cycle, timing=self._timing)

    def __repr__(self):
        return (f"DramDevice(timing={timing_repr(self._timing)}, "
                f"stored_rows={self._stored_rows})")

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        bus = self.dram
        bank_width = bus.signature.bank_width
        burst = t.burst_cycles
        write_end = t.cwl + burst          # WR to the end of its write data
        group_shift = log2(t.banks_per_group)
        bank_bits, row_bits = log2(t.banks), log2(self._stored_rows)
        column_bits = log2(t.columns)

        m.d.sync += self.cycle.eq(self.cycle + 1)

        # The commands of this cycle -------------------------------------------------------
        # Named wires (not registers), so that every expression below refers to one
        # signal rather than repeating the decoding (smaller netlist, faster simulation).
        row = Signal(row_command_layout(t))
        col = Signal(column_command_layout(t))
        m.d.comb += [row.eq(row_command(bus)), col.eq(column_command(bus))]
        act = Signal()
        pre = Signal()
        prea = Signal()
        ref = Signal()
        rd = Signal()
        wr = Signal()
        m.d.comb += [
            act.eq(row.valid & (row.cmd == RowCommand.ACT)),
            pre.eq(row.valid & (row.cmd == RowCommand.PRE)),
            prea.eq(row.valid & (row.cmd == RowCommand.PREA)),
            ref.eq(row.valid & (row.cmd == RowCommand.REF)),
            rd.eq(col.valid & (col.cmd == ColumnCommand.RD)),
            wr.eq(col.valid & (col.cmd == ColumnCommand.WR)),
        ]
        # The bank-group bits are the top bits of the flat bank number.
        row_group = row.bank[group_shift:bank_bits]
        col_group = col.bank[group_shift:bank_bits]

        # Per-bank state: open row and the cycles since the bank's last ACT, row-closing PRE,
        # RD and WR, each saturating at the largest rule that counts from it.
        act_sat = max(t.trcd_rd, t.trcd_wr, t.tras, t.trc)
        pre_sat = max(1, t.trp)
        rd_sat = max(1, t.trtp)
        wr_sat = write_end + t.twr
        bank_layout = data.StructLayout({
            "open": 1,
            "row": unsigned(row_bits),
            "since_act": range(act_sat + 1),
            "since_pre": range(pre_sat + 1),
            "since_rd": range(rd_sat + 1),
            "since_wr": range(wr_sat + 1),
        })
        bank_init = {"since_act": act_sat, "since_pre": pre_sat, "since_rd": rd_sat,
                     "since_wr": wr_sat}
        banks = Signal(data.ArrayLayout(bank_layout, t.banks), init=[bank_init] * t.banks)

        # Per-bank-group state: the cycles since the group's last ACT (and which bank it
        # opened: tRRD is between different banks), RD and WR.
        group_act_sat = t.trrd_l
        group_rd_sat = t.tccd_l
        group_wr_sat = max(t.tccd_l, write_end + t.twtr_l)
        group_layout = data.StructLayout({
            "since_act": range(group_act_sat + 1),
            "act_bank": unsigned(bank_width),
            "since_rd": range(group_rd_sat + 1),
            "since_wr": range(group_wr_sat + 1),
        })
        group_init = {"since_act": group_act_sat, "since_rd": group_rd_sat,
                      "since_wr": group_wr_sat}
        groups = Signal(data.ArrayLayout(group_layout, t.bank_groups),
                        init=[group_init] * t.bank_groups)

        # Pseudo-channel state. Since _l >= _s for every pair of rules, a rule _s only needs
        # the last event anywhere: when that event was in the command's own bank group, the
        # rule _l on the same event is the stricter one and is checked first.
        any_act_sat = t.trrd_s
        any_rd_sat = t.tccd_s
        any_wr_sat = max(t.tccd_s, write_end + t.twtr_s)
        since_act = Signal(range(any_act_sat + 1), init=any_act_sat)
        last_act_bank = Signal(bank_width)
        since_rd = Signal(range(any_rd_sat + 1), init=any_rd_sat)
        since_wr = Signal(range(any_wr_sat + 1), init=any_wr_sat)
        ref_sat = max(1, t.trfc)
        since_ref = Signal(range(ref_sat + 1), init=ref_sat)
        # The cycles since each of the last four ACTs, in a ring: the slot the next ACT takes
        # holds the fourth ACT back.
        faw_sat = max(1, t.tfaw)
        faw = Signal(data.ArrayLayout(range(faw_sat + 1), 4), init=[faw_sat] * 4)
        faw_next = Signal(2)
        # Cycles from now until the data bus is free of every burst scheduled so far.
        bus_busy = Signal(range(max(t.cl, t.cwl) + burst))
        # Refresh deadline: counts from reset (as if a REF issued in cycle 0) or the last REF.
        refresh_limit = (t.max_postponed_refreshes + 1) * t.trefi
        refresh_age = Signal(range(refresh_limit + 2))

        # State updates -------------------------------------------------------------------
        act_to = _wires(m, "act_to", [act & (row.bank == b) for b in range(t.banks)])
        pre_to = [(pre & (row.bank == b)) | prea for b in range(t.banks)]
        rd_to = _wires(m, "rd_to", [rd & (col.bank == b) for b in range(t.banks)])
        wr_to = _wires(m, "wr_to", [wr & (col.bank == b) for b in range(t.banks)])
        closes = _wires(m, "closes", [pre_to[b] & banks[b].open for b in range(t.banks)])
        for b in range(t.banks):
            state = banks[b]
            with m.If(act_to[b]):
                m.d.sync += [state.open.eq(1), state.row.eq(row.row[:row_bits])]
            # PRE of a closed bank is a no-op (JEDEC): no tRP starts from it.
            with m.Elif(closes[b]):
                m.d.sync += state.open.eq(0)
            cycles_since(m, state.since_act, act_sat, act_to[b])
            cycles_since(m, state.since_pre, pre_sat, closes[b])
            cycles_since(m, state.since_rd, rd_sat, rd_to[b])
            cycles_since(m, state.since_wr, wr_sat, wr_to[b])
        for g in range(t.bank_groups):
            state = groups[g]
            act_in = act & (row_group == g)
            with m.If(act_in):
                m.d.sync += state.act_bank.eq(row.bank)
            cycles_since(m, state.since_act, group_act_sat, act_in)
            cycles_since(m, state.since_rd, group_rd_sat, rd & (col_group == g))
            cycles_since(m, state.since_wr, group_wr_sat, wr & (col_group == g))
        with m.If(act):
            m.d.sync += [last_act_bank.eq(row.bank), faw_next.eq(faw_next + 1)]
        cycles_since(m, since_act, any_act_sat, act)
        cycles_since(m, since_rd, any_rd_sat, rd)
        cycles_since(m, since_wr, any_wr_sat, wr)
        cycles_since(m, since_ref, ref_sat, ref)
        cycles_since(m, refresh_age, refresh_limit + 1, ref)
        for i in range(4):
            cycles_since(m, faw[i], faw_sat, act & (faw_next == i))
        # In-order data bus: a new burst ends after every earlier one.
        with m.If(rd):
            m.d.sync += bus_busy.eq(t.cl + burst - 1)
        with m.Elif(wr):
            m.d.sync += bus_busy.eq(t.cwl + burst - 1)
        with m.Elif(bus_busy != 0):
            m.d.sync += bus_busy.eq(bus_busy - 1)

        # Rule checks ---------------------------------------------------------------------
        # A column command issued with a row command to its bank counts as after an ACT (its
        # tRCD has 0 cycles) and before a PRE (tRTP and tWR have 0 cycles), hence the
        # ``act_to``, ``rd_to`` and ``wr_to`` terms.
        row_group_state = _element(groups, row_group)
        col_group_state = _element(groups, col_group)
        checks = {}     # rule: [(condition, bank), ...], earlier entries reported first

        def check(rule, condition, bank):
            checks.setdefault(rule, []).append((condition, bank))

        def check_banks(rule, bits):
            name = rule.name.lower()
            vector = Signal(t.banks, name=f"{name}_banks")
            m.d.comb += vector.eq(Cat(*bits))
            check(rule, vector.any(), lowest_set(m, vector, bank_width, f"{name}_bank"))

        if (1 << bank_width) > t.banks:
            check(ErrorRule.ADDRESS, (act | pre) & (row.bank >= t.banks), row.bank)
            check(ErrorRule.ADDRESS, col.valid & (col.bank >= t.banks), col.bank)
        if (1 << len(col.column)) > t.columns:
            check(ErrorRule.ADDRESS, col.valid & (col.column >= t.columns), col.bank)
        if (1 << len(row.row)) > self._stored_rows:
            check(ErrorRule.STORAGE, act & (row.row >= self._stored_rows), row.bank)

        open_ = [banks[b].open for b in range(t.banks)]
        since_bank = {name: [banks[b][name] for b in range(t.banks)]
                      for name in ("since_act", "since_pre", "since_rd", "since_wr")}
        check_banks(ErrorRule.ACT_OPEN, [act_to[b] & open_[b] for b in range(t.banks)])
        check_banks(ErrorRule.BANK_CLOSED, [(rd_to[b] | wr_to[b]) & ~open_[b] & ~act_to[b]
                                            for b in range(t.banks)])
        check_banks(ErrorRule.REF_OPEN, [ref & open_[b] for b in range(t.banks)])
        check_banks(ErrorRule.TRCD_RD, [
            rd_to[b] & (act_to[b] | ~rule_met(since_bank["since_act"][b], t.trcd_rd))
            for b in range(t.banks)])
        check_banks(ErrorRule.TRCD_WR, [
            wr_to[b] & (act_to[b] | ~rule_met(since_bank["since_act"][b], t.trcd_wr))
            for b in range(t.banks)])
        check_banks(ErrorRule.TRAS, [closes[b] & ~rule_met(since_bank["since_act"][b], t.tras)
                                     for b in range(t.banks)])
        check_banks(ErrorRule.TRC, [act_to[b] & ~rule_met(since_bank["since_act"][b], t.trc)
                                    for b in range(t.banks)])
        check_banks(ErrorRule.TRP, [(act_to[b] | ref)
                                    & ~rule_met(since_bank["since_pre"][b], t.trp)
                                    for b in range(t.banks)])
        check(ErrorRule.TRRD_L, act & ~rule_met(row_group_state.since_act, t.trrd_l)
                                & (row_group_state.act_bank != row.bank), row.bank)
        check(ErrorRule.TRRD_S, act & ~rule_met(since_act, t.trrd_s)
                                & (last_act_bank != row.bank), row.bank)
        if t.tfaw:
            check(ErrorRule.TFAW, act & ~rule_met(faw[faw_next], t.tfaw), row.bank)
        if t.refresh_enabled:
            check(ErrorRule.TRFC, (act | ref) & ~rule_met(since_ref, t.trfc),
                  Mux(act, row.bank, 0))
        # A RD with the PRE is legal only with trtp 0; a WR with it never is (twr counts from
        # the end of the write data).
        rd_with_pre = rd_to if t.trtp > 0 else [Const(0)] * t.banks
        check_banks(ErrorRule.TRTP, [closes[b] & (rd_with_pre[b]
                                                  | ~rule_met(since_bank["since_rd"][b], t.trtp))
                                     for b in range(t.banks)])
        check_banks(ErrorRule.TWR, [closes[b] & (wr_to[b] | ~rule_met(since_bank["since_wr"][b],
                                                                      wr_sat))
                                    for b in range(t.banks)])
        check(ErrorRule.TCCD_L, (rd & ~rule_met(col_group_state.since_rd, t.tccd_l))
                                | (wr & ~rule_met(col_group_state.since_wr, t.tccd_l)),
              col.bank)
        check(ErrorRule.TCCD_S, (rd & ~rule_met(since_rd, t.tccd_s))
                                | (wr & ~rule_met(since_wr, t.tccd_s)), col.bank)
        check(ErrorRule.TWTR_L, rd & ~rule_met(col_group_state.since_wr, write_end + t.twtr_l),
              col.bank)
        check(ErrorRule.TWTR_S, rd & ~rule_met(since_wr, write_end + t.twtr_s), col.bank)
        check(ErrorRule.BUS_CONFLICT, (rd & (bus_busy > t.cl)) | (wr & (bus_busy > t.cwl)),
              col.bank)
        if t.refresh_enabled:
            check(ErrorRule.REFRESH_STARVED, refresh_age == refresh_limit + 1, 0)
        self._latch_first(m, checks)

        # The burst address of this cycle's column command, in the row its bank has open.
        open_row = _element(banks, col.bank[:bank_bits]).row
        self._data_path(m, rd, wr, Cat(col.column[:column_bits], open_row, col.bank[:bank_bits]))
        return m

    def _latch_first(self, m, checks):
        """Latch the first violation: of this cycle's, the rule listed first in
        :class:`ErrorRule`, and of its ``(condition, bank)`` entries the first."""
        with m.If(~self.error):
            first = True
            for rule in ErrorRule:
                for condition, bank in checks.get(rule, ()):
                    with (m.If if first else m.Elif)(condition):
                        m.d.sync += [
                            self.error.eq(1),
                            self.error_rule.eq(rule),
                            self.error_bank.eq(bank),
                            self.error_cycle.eq(self.cycle),
                        ]
                    first = False

    def _data_path(self, m, rd, wr, burst_address):
        """Storage, write data after cwl and read data after cl. ``burst_address`` is bank,
        stored row and column of this cycle's RD or WR (most to least significant)."""
        t, bus = self._timing, self.dram
        burst = t.burst_cycles
        beat_bits = log2(burst)
        storage = Memory(shape=unsigned(len(bus.wdata)),
                         depth=1 << (len(burst_address) + beat_bits), init=[])
        m.submodules.storage = storage
        write_port = storage.write_port(granularity=8)
        read_port = storage.read_port(transparent_for=(write_port,))

        def delay_line(valid, depth, name):
            """Stage j holds the command issued j cycles ago; stage 0 is this cycle's."""
            stages = [(valid, burst_address)]
            for j in range(1, depth):
                stage_valid = Signal(name=f"{name}_valid_{j}")
                stage_address = Signal(len(burst_address), name=f"{name}_address_{j}")
                m.d.sync += [stage_valid.eq(stages[-1][0]), stage_address.eq(stages[-1][1])]
                stages.append((stage_valid, stage_address))
            return stages

        # Write beat k of a WR issued in cycle n is on wdata in cycle n + cwl + k. While the
        # rules hold, bursts never overlap, so at most one stage of the window is valid.
        writes = delay_line(wr, t.cwl + burst, "write")
        m.d.comb += write_port.data.eq(bus.wdata)
        for k in range(burst):
            valid, address = writes[t.cwl + k]
            with m.If(valid):
                m.d.comb += [
                    write_port.addr.eq(Cat(Const(k, beat_bits), address)),
                    write_port.en.eq(~bus.wmask),       # a set mask bit keeps the byte
                ]

        # Read beat k of a RD issued in cycle n is on rdata in cycle n + cl + k: the memory's
        # synchronous read port is addressed one cycle earlier (cl >= 1 makes that possible).
        reads = delay_line(rd, t.cl - 1 + burst, "read")
        reading = Signal()
        for k in range(burst):
            valid, address = reads[t.cl - 1 + k]
            with m.If(valid):
                m.d.comb += [
                    read_port.addr.eq(Cat(Const(k, beat_bits), address)),
                    reading.eq(1),
                ]
        m.d.comb += [
            read_port.en.eq(reading),
            bus.rdata.eq(Mux(bus.rdata_valid, read_port.data, 0)),
        ]
        m.d.sync += bus.rdata_valid.eq(reading)
