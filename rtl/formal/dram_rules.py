"""An independent checker of the DRAM timing rules, for formal proofs of the controller.

It reads the command interface of :mod:`rtl.mem.commands` and asserts every rule of a
:class:`~openmxu.dram.TimingPreset` with the reference points of :mod:`openmxu.dram`: the same
rules as the device model's checker (:class:`~rtl.mem.device.DramDevice`), written again from
the preset figures and in another form, so that a proof does not lean on the code it checks
against. Where the device keeps a saturating counter of the cycles since each event, this
checker keeps a window: one bit per cycle of the last ``t - 1`` cycles, set where the event
happened. A rule "X to Y >= t" then reads as it is written: no X in the last ``t - 1`` cycles
(or in this one, where the interface allows a row and a column command together). The four
activate window counts the ACTs in the window; the data bus is a map of the cycles ahead that
already carry a burst.
"""

from amaranth import Module, Signal, Cat, Const, Elaboratable
from amaranth.hdl import Assert

from rtl.mem.commands import RowCommand, ColumnCommand, resolve_timing

__all__ = ["DramRuleChecker", "RULES"]

#: The rules asserted, by the name used in the assertion messages.
RULES = ("act_open", "bank_closed", "ref_open", "trcd_rd", "trcd_wr", "tras", "trc", "trp",
         "trrd_l", "trrd_s", "tfaw", "trfc", "trtp", "twr", "tccd_l", "tccd_s", "twtr_l",
         "twtr_s", "bus_conflict", "refresh_starved")


def _window(m, event, length, name):
    """Bit ``k`` is ``event`` of ``k + 1`` cycles ago, for ``k`` below ``length`` (at least one
    bit, so that a rule of 0 or 1 cycles needs no special case)."""
    bits = Signal(max(1, length), name=name)
    if length <= 1:
        m.d.sync += bits.eq(event)
    else:
        m.d.sync += bits.eq(Cat(event, bits[:-1]))
    return bits


def _within(window, now, first, last):
    """The event happened between ``first`` and ``last`` cycles ago, both included (``now``
    is the event of this cycle, 0 cycles ago). False for an empty range."""
    terms = []
    if first <= 0 <= last:
        terms.append(now)
    low, high = max(first, 1), last
    if low <= high:
        terms.append(window[low - 1:high].any())
    if not terms:
        return Const(0)
    result = terms[0]
    for term in terms[1:]:
        result = result | term
    return result


class DramRuleChecker(Elaboratable):
    """Assert the timing rules of ``timing`` on the commands of ``bus``.

    Parameters
    ----------
    timing : TimingPreset or str
        The figures to check against.
    bus : DramSignature interface
        The controller's ``dram`` member (the checker only reads it).
    rules : iterable of str
        The rules to assert (default: all of :data:`RULES`). The state is kept either way.
    domain : str
        Where the assertions are evaluated: ``"comb"`` (for formal jobs: each cycle's
        values) or ``"sync"`` (for simulation: at the clock edge that ends the cycle, after
        the values have settled, since a simulator evaluates a comb assertion at every
        change of its inputs, including the glitches between two edges).

    Attributes
    ----------
    open, rows : Signal(banks), list of Signal
        Bit b of ``open``: bank b has a row open, before this cycle's commands take effect;
        ``rows[b]``: its row.
    open_next, rows_next : the same after this cycle's commands.
    act, ref, rd, wr : Signal
        This cycle's commands.
    closes : Signal(banks)
        Bit b: a PRE or PREA closes bank b's open row this cycle.
    refresh_age : Signal
        Cycles since the last REF (reset counting as a REF in cycle 0).
    windows : dict
        Once elaborated, the windows by event (bit k: the event ``k + 1`` cycles ago):
        ``"act"``, ``"pre"`` (a closing PRE or PREA), ``"rd"``, ``"wr"``: per bank;
        ``"group_rd"``, ``"group_wr"``: per bank group; ``"any_act"``, ``"any_pre"``,
        ``"any_rd"``, ``"any_wr"``, ``"ref"``: the pseudo-channel's.
    bus_beats : Signal
        Once elaborated, bit j: a burst already scheduled has a beat j cycles from now.
    """

    def __init__(self, timing, bus, *, rules=RULES, domain="comb"):
        self.timing = t = resolve_timing(timing)
        self.bus = bus
        unknown = set(rules) - set(RULES)
        if unknown:
            raise ValueError(f"unknown rules {sorted(unknown)}; known: {', '.join(RULES)}")
        self.rules = tuple(rules)
        if domain not in ("comb", "sync"):
            raise ValueError(f"domain must be 'comb' or 'sync', not {domain!r}")
        self.domain = domain
        self.write_end = t.cwl + t.burst_cycles
        self.refresh_limit = (t.max_postponed_refreshes + 1) * t.trefi
        banks = t.banks
        self.open = Signal(banks)
        self.rows = [Signal(len(bus.row), name=f"check_row{b}") for b in range(banks)]
        self.open_next = Signal(banks)
        self.rows_next = [Signal(len(bus.row), name=f"check_row_next{b}")
                          for b in range(banks)]
        self.act = Signal()
        self.ref = Signal()
        self.rd = Signal()
        self.wr = Signal()
        self.closes = Signal(banks)
        self.refresh_age = Signal(range(self.refresh_limit + 2))

    def elaborate(self, platform):
        m = Module()
        t, bus = self.timing, self.bus
        banks, groups = t.banks, t.bank_groups
        per_group = t.banks_per_group
        write_end = self.write_end

        act, ref, rd, wr = self.act, self.ref, self.rd, self.wr
        pre = Signal()
        prea = Signal()
        m.d.comb += [
            act.eq(bus.row_valid & (bus.row_cmd == RowCommand.ACT)),
            pre.eq(bus.row_valid & (bus.row_cmd == RowCommand.PRE)),
            prea.eq(bus.row_valid & (bus.row_cmd == RowCommand.PREA)),
            ref.eq(bus.row_valid & (bus.row_cmd == RowCommand.REF)),
            rd.eq(bus.col_valid & (bus.col_cmd == ColumnCommand.RD)),
            wr.eq(bus.col_valid & (bus.col_cmd == ColumnCommand.WR)),
        ]
        # Flat bank numbers put the bank group in the top bits.
        act_to = [act & (bus.row_bank == b) for b in range(banks)]
        rd_to = [rd & (bus.col_bank == b) for b in range(banks)]
        wr_to = [wr & (bus.col_bank == b) for b in range(banks)]
        col_to = [rd_to[b] | wr_to[b] for b in range(banks)]
        m.d.comb += self.closes.eq(Cat(
            ((pre & (bus.row_bank == b)) | prea) & self.open[b] for b in range(banks)))
        closes = self.closes

        def group_of(b):
            return b // per_group

        def group_event(events, g):
            return Cat(events[b] for b in range(g * per_group, (g + 1) * per_group)).any()

        # Bank state: JEDEC's PRE of a closed bank does nothing (and starts no tRP).
        for b in range(banks):
            with m.If(act_to[b]):
                m.d.comb += [self.open_next[b].eq(1), self.rows_next[b].eq(bus.row)]
            with m.Else():
                m.d.comb += [self.open_next[b].eq(self.open[b] & ~closes[b]),
                             self.rows_next[b].eq(self.rows[b])]
            m.d.sync += [self.open[b].eq(self.open_next[b]), self.rows[b].eq(self.rows_next[b])]

        # Windows, each as long as the longest rule that looks back at its event. The
        # bank's own ACT window serves tRRD too, which is between different banks.
        self.act_window = [_window(m, act_to[b],
                                   max(t.trcd_rd, t.trcd_wr, t.tras, t.trc, t.trrd_l),
                                   f"act_window{b}") for b in range(banks)]
        self.pre_window = [_window(m, closes[b], t.trp, f"pre_window{b}") for b in range(banks)]
        self.rd_window = [_window(m, rd_to[b], t.trtp, f"rd_window{b}") for b in range(banks)]
        self.wr_window = [_window(m, wr_to[b], write_end + t.twr, f"wr_window{b}")
                          for b in range(banks)]
        group_rd = [group_event(rd_to, g) for g in range(groups)]
        group_wr = [group_event(wr_to, g) for g in range(groups)]
        group_rd_window = [_window(m, group_rd[g], t.tccd_l, f"group_rd_window{g}")
                           for g in range(groups)]
        group_wr_window = [_window(m, group_wr[g], max(t.tccd_l, write_end + t.twtr_l),
                                   f"group_wr_window{g}") for g in range(groups)]
        any_act_window = _window(m, act, max(t.trrd_s, t.tfaw), "any_act_window")
        any_rd_window = _window(m, rd, t.tccd_s, "any_rd_window")
        any_wr_window = _window(m, wr, max(t.tccd_s, write_end + t.twtr_s), "any_wr_window")
        any_pre_window = _window(m, closes.any(), t.trp, "any_pre_window")
        ref_window = _window(m, ref, t.trfc, "ref_window")
        self.windows = {
            "act": self.act_window, "pre": self.pre_window, "rd": self.rd_window,
            "wr": self.wr_window, "group_rd": group_rd_window, "group_wr": group_wr_window,
            "any_act": any_act_window, "any_rd": any_rd_window, "any_wr": any_wr_window,
            "any_pre": any_pre_window, "ref": ref_window,
        }

        # The data bus: bit j is set when a burst already scheduled has a beat j cycles from
        # now. The bus is in order: a burst may only start after every earlier one has ended.
        horizon = max(t.cl, t.cwl) + t.burst_cycles
        beats = Signal(horizon, name="bus_beats")
        self.bus_beats = beats
        burst = Const((1 << t.burst_cycles) - 1, horizon)
        scheduled = Signal(horizon, name="bus_scheduled")
        with m.If(rd):
            m.d.comb += scheduled.eq(beats | (burst << t.cl)[:horizon])
        with m.Elif(wr):
            m.d.comb += scheduled.eq(beats | (burst << t.cwl)[:horizon])
        with m.Else():
            m.d.comb += scheduled.eq(beats)
        m.d.sync += beats.eq(scheduled[1:])

        # Refresh age, the device's convention: 0 in the first cycle after reset.
        with m.If(ref):
            m.d.sync += self.refresh_age.eq(1)
        with m.Elif(self.refresh_age != self.refresh_limit + 1):
            m.d.sync += self.refresh_age.eq(self.refresh_age + 1)

        # Rules ---------------------------------------------------------------------------
        broken = {}

        def rule(name, condition):
            broken.setdefault(name, []).append(condition)

        for b in range(banks):
            g = group_of(b)
            rule("act_open", act_to[b] & self.open[b])
            # A column command with the ACT of its bank is a tRCD violation (tRCD >= 1).
            rule("bank_closed", col_to[b] & ~self.open[b] & ~act_to[b])
            rule("ref_open", ref & self.open[b])
            aw = self.act_window[b]
            rule("trcd_rd", rd_to[b] & _within(aw, act_to[b], 0, t.trcd_rd - 1))
            rule("trcd_wr", wr_to[b] & _within(aw, act_to[b], 0, t.trcd_wr - 1))
            rule("tras", closes[b] & _within(aw, act_to[b], 1, t.tras - 1))
            rule("trc", act_to[b] & _within(aw, act_to[b], 1, t.trc - 1))
            rule("trp", (act_to[b] | ref) & _within(self.pre_window[b], closes[b], 1, t.trp - 1))
            # tRRD: an ACT to another bank of the group (L) or of another group (S).
            others_l = [self.act_window[o] for o in range(banks)
                        if o != b and group_of(o) == g]
            others_s = [self.act_window[o] for o in range(banks) if group_of(o) != g]
            if others_l:
                rule("trrd_l", act_to[b] & Cat(_within(w, 0, 1, t.trrd_l - 1)
                                               for w in others_l).any())
            if others_s:
                rule("trrd_s", act_to[b] & Cat(_within(w, 0, 1, t.trrd_s - 1)
                                               for w in others_s).any())
            # A RD with the PRE of its bank reads before the PRE: legal only with tRTP 0. A WR
            # with it never is (tWR counts from the end of the write data).
            rule("trtp", closes[b] & _within(self.rd_window[b], rd_to[b], 0, t.trtp - 1))
            rule("twr", closes[b] & _within(self.wr_window[b], wr_to[b], 0,
                                            write_end + t.twr - 1))
        if t.tfaw:
            count = Const(0, 8)
            for k in range(t.tfaw - 1):
                count = count + any_act_window[k]
            rule("tfaw", act & (count >= 4))
        if t.refresh_enabled:
            rule("trfc", (act | ref) & _within(ref_window, 0, 1, t.trfc - 1))
            rule("refresh_starved", self.refresh_age == self.refresh_limit + 1)
        for g in range(groups):
            rd_in, wr_in = group_rd[g], group_wr[g]
            rule("tccd_l", rd_in & _within(group_rd_window[g], 0, 1, t.tccd_l - 1))
            rule("tccd_l", wr_in & _within(group_wr_window[g], 0, 1, t.tccd_l - 1))
            rule("twtr_l", rd_in & _within(group_wr_window[g], 0, 1, write_end + t.twtr_l - 1))
        rule("tccd_s", rd & _within(any_rd_window, 0, 1, t.tccd_s - 1))
        rule("tccd_s", wr & _within(any_wr_window, 0, 1, t.tccd_s - 1))
        rule("twtr_s", rd & _within(any_wr_window, 0, 1, write_end + t.twtr_s - 1))
        # A burst starting at offset s collides with, or overtakes, any beat at s or later.
        rule("bus_conflict", rd & beats[t.cl:].any())
        rule("bus_conflict", wr & beats[t.cwl:].any())

        for name in self.rules:
            for index, condition in enumerate(broken.get(name, ())):
                # A named wire per condition, so that a counterexample shows which one broke.
                wire = Signal(name=f"broken_{name}_{index}")
                m.d.comb += wire.eq(condition)
                m.d[self.domain] += Assert(~wire, f"{name} violated")
        return m
