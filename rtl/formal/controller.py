"""Formal checks of the pseudo-channel controller (:class:`~rtl.mem.controller.ChannelController`).

The controller runs with free requests on its input, a free consumer (always ready for the
wait bound, which a stalled consumer would rightly stretch), and a device that returns read
data ``cl`` cycles after each RD; its command stream goes to
:class:`~rtl.formal.dram_rules.DramRuleChecker`, which asserts the timing rules from the
preset figures. Small configurations keep the proofs short: a queue of two or four slots, two
credits, and either a tiny custom preset (four banks in two groups, every figure a few cycles)
or the real hbm2-2000 and sdr presets.

The k-induction proofs need the checker's view of the device and the controller's own
bookkeeping to agree (an induction step may start in any state that satisfies the
assertions, and a controller that believed a closed bank open would be one such state). The
harness therefore also asserts lemmas, read from the controller's netlist by signal name
(:class:`~rtl.formal.netlist.Netlist`): its open banks and rows are the device's; each of
its counters of the cycles since an event is exactly what the checker's windows say; the
checker's windows agree with each other; no two pending requests are equally old and the
relations between slots are those of their addresses; and a forced refresh proceeds as the
controller documents it. Lemmas are assertions like any other, proven with the rest; they
only make the induction close in two steps.
"""

from amaranth import Module, Signal, Cat, Const, Mux, ResetSignal
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from openmxu.dram import TimingPreset, preset
from rtl.mem.controller import ChannelController, BankState, request_layout
from rtl.mem.commands import RowCommand, ColumnCommand, DramSignature
from .dram_rules import DramRuleChecker, RULES
from .job import FormalJob
from .netlist import Netlist, view

__all__ = ["TINY", "MINI", "wait_bound", "ControllerHarness", "JOBS"]


#: Four banks in two groups, two rows of two bursts, one-byte beats, and every timing figure
#: a few cycles but each rule distinct, so that a proof covers every rule in a short depth.
#: One refresh may be postponed: the device wants a REF every 24 cycles at the latest.
TINY = TimingPreset(
    name="formal-tiny", tck_ns=1.0, data_bytes_per_cycle=1, burst_bytes=2,
    banks=4, bank_groups=2, row_bytes=4, rows=2,
    cl=2, cwl=1, trcd_rd=3, trcd_wr=2, trp=2, tras=3, trc=6, twr=1, trtp=2,
    tccd_s=2, tccd_l=3, trrd_s=1, trrd_l=2, tfaw=5, twtr_s=1, twtr_l=2,
    trefi=12, trfc=3, max_postponed_refreshes=1)


#: Two banks of two rows of two one-beat bursts, every figure the least the protocol allows
#: but a refresh every 8 cycles (one postponable): the shortest service of a request, for
#: the bounded check of the wait bound.
MINI = TimingPreset(
    name="formal-mini", tck_ns=1.0, data_bytes_per_cycle=1, burst_bytes=1,
    banks=2, bank_groups=1, row_bytes=2, rows=2,
    cl=1, cwl=0, trcd_rd=1, trcd_wr=1, trp=1, tras=1, trc=2, twr=0, trtp=0,
    tccd_s=1, tccd_l=1, trrd_s=1, trrd_l=1, tfaw=0, twtr_s=0, twtr_l=0,
    trefi=8, trfc=1, max_postponed_refreshes=1)


def _any_of(values):
    """The bitwise OR of ``values``."""
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result


def wait_bound(timing, *, queue_depth, starvation_limit):
    """Cycles a request may wait in the queue, from its acceptance to its RD or WR, with the
    consumer always ready: the starvation limit, then each request of the queue served in
    turn (an older one first at worst), each a row miss, and two refreshes.

    A row miss waits for the open row's tRAS, tRTP or tWR, then tRP, tRC and tRCD, the data
    bus (tCCD, tWTR or the read data before a WR) and a credit (the response of an earlier
    command, ``max(cl, cwl) + burst_cycles + 3`` cycles); a refresh is the drain
    (``ChannelController._refresh_drain``) and tRFC. The figure is a bound built from the
    rules, not the worst case itself."""
    t = timing
    write_end = t.cwl + t.burst_cycles
    row_miss = (max(1, t.tras, t.trtp, write_end + t.twr) + t.trp + t.trc
                + max(t.trcd_rd, t.trcd_wr)
                + max(t.tccd_l, write_end + t.twtr_l, t.cl + t.burst_cycles)
                + max(t.cl, t.cwl) + t.burst_cycles + 3)
    refresh = (ChannelController._refresh_drain(t) + t.trfc) if t.refresh_enabled else 0
    return starvation_limit + queue_depth * row_miss + 2 * refresh


class ControllerHarness(wiring.Component):
    """A :class:`ChannelController` with its environment and properties.

    Parameters
    ----------
    timing : TimingPreset or str
        The preset the checker asserts (and the controller gets, unless
        ``controller_timing`` says otherwise).
    controller_timing : TimingPreset or None
        A different preset for the controller: a mutation that must fail.
    queue_depth, starvation_limit, response_depth, tag_width
        The controller's parameters.
    rules : iterable of str
        The checker's rules to assert (default all).
    lemmas : bool
        Assert the induction lemmas (see the module documentation).
    addresses : bool
        Every RD or WR goes to the bank, row and column of the request it serves, with the
        request's kind.
    waits : bool
        No request stays in the queue longer than :attr:`wait_bound` cycles (the consumer is
        assumed always ready: a stalled consumer holds the credits, rightly).
    bound : int or None
        A figure for :attr:`wait_bound` other than the one computed from the rules.
    refresh_debt : bool
        Assert that the tREFI intervals elapsed exceed the REFs issued by at most
        ``max_postponed_refreshes + 1``.
    covers : bool or tuple of str
        Add the covers of non-vacuity (``True``: all), by name: ``"refresh"``, a REF while
        requests wait; ``"row_hit"``, a RD to a row an earlier RD or WR already used;
        ``"conflict"``, a PRE followed by the ACT of another row of the bank.

    Members
    -------
    request_valid, request : the request stream's valid and payload (free)
    response_ready : the consumer (assumed always ready when ``waits`` is set)
    read_data : the device's read beats (free data; the timing is the device's)
    """

    def __init__(self, *, timing, controller_timing=None, queue_depth=2, starvation_limit=8,
                 response_depth=2, tag_width=2, rules=RULES, lemmas=True, addresses=False,
                 waits=False, bound=None, refresh_debt=False, covers=False):
        self.timing = t = timing if isinstance(timing, TimingPreset) else preset(timing)
        self.controller_timing = controller_timing or t
        if lemmas and t.refresh_enabled and t.max_postponed_refreshes < 1:
            # With no postponement the deadline comes before the interval ends, and a REF
            # may be forced with one refresh already pulled in: the lemmas do not cover it.
            raise ValueError("the refresh lemmas need max_postponed_refreshes of 1 or more")
        self.queue_depth = queue_depth
        self.starvation_limit = starvation_limit
        self.response_depth = response_depth
        self.tag_width = tag_width
        self.rules = tuple(rules)
        self.lemmas = lemmas
        self.addresses = addresses
        self.waits = waits
        self._bound = bound
        self.refresh_debt = refresh_debt
        self.covers = covers
        super().__init__({
            "request_valid": In(1),
            "request": In(request_layout(t, tag_width=tag_width)),
            "response_ready": In(1),
            "read_data": In(DramSignature(timing=t).data_width),
        })

    @property
    def wait_bound(self):
        """:func:`wait_bound` of this configuration, or the ``bound`` given."""
        if self._bound is not None:
            return self._bound
        return wait_bound(self.timing, queue_depth=self.queue_depth,
                          starvation_limit=self.starvation_limit)

    def elaborate(self, platform):
        m = Module()
        t = self.timing
        ctrl = ChannelController(
            timing=self.controller_timing, queue_depth=self.queue_depth,
            starvation_limit=self.starvation_limit, tag_width=self.tag_width,
            response_depth=self.response_depth)
        netlist = Netlist(ctrl)
        m.submodules.controller = netlist
        bus = ctrl.dram

        # Environment: no reset but the initial state; requests as given; the device's read
        # timing (beats cl cycles after RD, data free).
        m.d.comb += Assume(~ResetSignal())
        m.d.comb += [
            ctrl.requests.valid.eq(self.request_valid),
            ctrl.requests.payload.eq(self.request),
            ctrl.responses.ready.eq(self.response_ready),
        ]
        rd_now = bus.col_valid & (bus.col_cmd == ColumnCommand.RD)
        read_line = Signal(t.cl + t.burst_cycles - 1)
        m.d.sync += read_line.eq(Cat(rd_now, read_line[:-1]))
        beat_valid = read_line[t.cl - 1:].any()
        m.d.comb += [
            bus.rdata_valid.eq(beat_valid),
            bus.rdata.eq(Mux(beat_valid, self.read_data, 0)),
        ]

        checker = DramRuleChecker(t, bus, rules=self.rules)
        # Elaborated here: the lemmas and covers below read its windows.
        m.submodules.checker = Netlist(checker)
        if self.lemmas:
            self._lemmas(m, netlist, ctrl, checker)
        if self.addresses:
            self._addresses(m, netlist, ctrl, checker)
        if self.waits:
            self._waits(m, netlist, ctrl)
        if self.refresh_debt and t.refresh_enabled:
            self._refresh_debt(m, netlist, checker)
        if self.covers:
            self._covers(m, ctrl, checker)
        return m

    # Lemmas ---------------------------------------------------------------------------------

    def _lemmas(self, m, netlist, ctrl, checker):
        """Invariants that make the proofs inductive (see the module documentation).

        The controller updates its bank state when it picks a command, one cycle before the
        command is on the interface, so its state is the checker's after this cycle's
        command, and a counter of the cycles since an event it picked is one more than the
        cycles since the event reached the interface."""
        t = self.controller_timing
        banks, groups = t.banks, t.bank_groups
        per_group = t.banks_per_group
        write_end = t.cwl + t.burst_cycles
        state_fragment = netlist.fragment_of(BankState)
        state = netlist.instance_of(BankState)
        bus = ctrl.dram
        w = checker.windows

        # Bank state. The controller closes open banks only, so every PRE and PREA it
        # issues starts a tRP.
        m.d.comb += Assert(state.open == checker.open_next, "lemma: open banks")
        is_pre = bus.row_valid & (bus.row_cmd == RowCommand.PRE)
        is_prea = bus.row_valid & (bus.row_cmd == RowCommand.PREA)
        m.d.comb += Assert(~(is_pre | is_prea) | checker.closes.any(),
                           "lemma: no precharge of a closed bank")
        for b in range(banks):
            with m.If(checker.open_next[b]):
                m.d.comb += Assert(state.rows[b] == checker.rows_next[b], "lemma: open rows")

        # The checker's windows of one kind of event agree where they overlap (the bank's,
        # its group's and the pseudo-channel's).
        def agree(union, parts, message):
            for k in range(min(len(union), *(len(part) for part in parts))):
                m.d.comb += Assert(union[k] == _any_of([part[k] for part in parts]), message)

        group_banks = [range(g * per_group, (g + 1) * per_group) for g in range(groups)]
        agree(w["any_act"], w["act"], "lemma: act windows")
        agree(w["any_pre"], w["pre"], "lemma: pre windows")
        for kind in ("rd", "wr"):
            agree(w[f"any_{kind}"], w[f"group_{kind}"], f"lemma: {kind} windows")
            agree(w[f"any_{kind}"], w[kind], f"lemma: {kind} windows")
            for g in range(groups):
                agree(w[f"group_{kind}"][g], [w[kind][b] for b in group_banks[g]],
                      f"lemma: {kind} windows")

        def since(now, window, saturate, name):
            """What the controller's counter of the cycles since an event must hold: 1 for
            an event on the interface now, k + 2 for one k + 1 cycles ago, else
            ``saturate`` (every window is at least as long as its counter counts)."""
            expected = Signal(range(saturate + 1), name=f"lemma_{name}")
            m.d.comb += expected.eq(saturate)
            for k in reversed(range(len(window))):
                with m.If(window[k]):
                    m.d.comb += expected.eq(min(saturate, k + 2))
            with m.If(now):
                m.d.comb += expected.eq(1)
            return expected

        def exact(counter, now, window, saturate, name):
            m.d.comb += Assert(counter == since(now, window, saturate, name),
                               f"lemma: {name}")

        # Counters, with the saturation values of BankState.
        act_sat = max(1, t.trcd_rd, t.trcd_wr, t.tras, t.trc)
        pre_sat = max(1, t.trp)
        rd_sat = max(1, t.trtp)
        wr_sat = max(1, write_end + t.twr)
        bank_layout = data.StructLayout({
            "since_act": range(act_sat + 1), "since_pre": range(pre_sat + 1),
            "since_rd": range(rd_sat + 1), "since_wr": range(wr_sat + 1)})
        bank_timers = view(netlist.signal("bank_timers", state_fragment),
                           data.ArrayLayout(bank_layout, banks))
        group_act_sat = max(1, t.trrd_l)
        group_rd_sat = max(1, t.tccd_l)
        group_wr_sat = max(1, t.tccd_l, write_end + t.twtr_l)
        group_layout = data.StructLayout({
            "since_act": range(group_act_sat + 1), "since_rd": range(group_rd_sat + 1),
            "since_wr": range(group_wr_sat + 1)})
        group_timers = view(netlist.signal("group_timers", state_fragment),
                            data.ArrayLayout(group_layout, groups))
        act_to = [checker.act & (bus.row_bank == b) for b in range(banks)]
        rd_to = [checker.rd & (bus.col_bank == b) for b in range(banks)]
        wr_to = [checker.wr & (bus.col_bank == b) for b in range(banks)]
        for b in range(banks):
            timers = bank_timers[b]
            exact(timers.since_act, act_to[b], w["act"][b], act_sat, f"bank{b}_since_act")
            exact(timers.since_pre, checker.closes[b], w["pre"][b], pre_sat,
                  f"bank{b}_since_pre")
            exact(timers.since_rd, rd_to[b], w["rd"][b], rd_sat, f"bank{b}_since_rd")
            exact(timers.since_wr, wr_to[b], w["wr"][b], wr_sat, f"bank{b}_since_wr")
        for g in range(groups):
            members = range(g * per_group, (g + 1) * per_group)
            timers = group_timers[g]
            exact(timers.since_act, _any_of([act_to[b] for b in members]),
                  _any_of([w["act"][b] for b in members]), group_act_sat,
                  f"group{g}_since_act")
            exact(timers.since_rd, _any_of([rd_to[b] for b in members]), w["group_rd"][g],
                  group_rd_sat, f"group{g}_since_rd")
            exact(timers.since_wr, _any_of([wr_to[b] for b in members]), w["group_wr"][g],
                  group_wr_sat, f"group{g}_since_wr")
        for name, now, window, saturate in [
                ("since_act", checker.act, w["any_act"], max(1, t.trrd_s)),
                ("since_rd", checker.rd, w["any_rd"], max(1, t.tccd_s)),
                ("since_wr", checker.wr, w["any_wr"], max(1, t.tccd_s, write_end + t.twtr_s)),
                ("since_pre", checker.closes.any(), w["any_pre"], pre_sat),
                ("since_ref", checker.ref, w["ref"], max(1, t.trfc))]:
            exact(netlist.signal(name, state_fragment), now, window, saturate, name)

        # tFAW: the ring holds the cycles since each of the last four ACTs; the slot r places
        # before the one the next ACT takes holds the r-th most recent.
        if t.tfaw:
            faw = netlist.signal("faw", state_fragment)
            faw_next = netlist.signal("faw_next", state_fragment)
            faw_bits = len(faw) // 4
            ring = [faw[i * faw_bits:(i + 1) * faw_bits] for i in range(4)]
            # ACTs on the interface now and in the window, most recent first.
            acts = [checker.act] + [w["any_act"][k] for k in range(len(w["any_act"]))]
            for r in range(1, 5):
                slot = Signal(faw_bits, name=f"lemma_faw_recent{r}")
                for i in range(4):
                    with m.If(faw_next == (i + r) % 4):
                        m.d.comb += slot.eq(ring[i])
                expected = Signal(faw_bits, name=f"lemma_faw_expected{r}")
                m.d.comb += expected.eq(max(1, t.tfaw))
                for k in reversed(range(len(acts))):
                    count = Const(0, 4)
                    for j in range(k + 1):
                        count = count + acts[j]
                    with m.If(acts[k] & (count == r)):
                        m.d.comb += expected.eq(min(max(1, t.tfaw), k + 1))
                m.d.comb += Assert(slot == expected, "lemma: tfaw ring")

        # The data bus: the controller's count is the last beat scheduled, seen from the next
        # cycle (so a beat j cycles from now makes it j).
        bus_busy = netlist.signal("bus_busy", state_fragment)
        horizon = len(checker.bus_beats)
        scheduled = Signal(horizon + 1, name="lemma_scheduled")
        burst = (1 << t.burst_cycles) - 1
        with m.If(checker.rd):
            m.d.comb += scheduled.eq(checker.bus_beats | (burst << t.cl))
        with m.Elif(checker.wr):
            m.d.comb += scheduled.eq(checker.bus_beats | (burst << t.cwl))
        with m.Else():
            m.d.comb += scheduled.eq(checker.bus_beats)
        last_beat = Signal.like(bus_busy, name="lemma_last_beat")
        for j in range(1, horizon + 1):
            with m.If(scheduled[j]):
                m.d.comb += last_beat.eq(j)
        m.d.comb += Assert(bus_busy == last_beat, "lemma: data bus")

        # Pending requests are totally ordered by age, and the relations the controller
        # keeps between slots are those of their addresses.
        n = self.queue_depth
        dram = DramSignature(timing=t)
        entry_layout = data.StructLayout({
            "write": 1, "bank": dram.bank_width, "row": dram.row_width,
            "column": dram.column_width, "tag": self.tag_width})
        entries = [view(netlist.signal(f"slot{i}"), entry_layout) for i in range(n)]
        pending = netlist.signal("pending")
        older = [netlist.signal(f"slot{j}_older") for j in range(n)]
        same_bank = [netlist.signal(f"slot{j}_same_bank") for j in range(n)]
        same_address = [netlist.signal(f"slot{j}_same_address") for j in range(n)]
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                bank = entries[i].bank == entries[j].bank
                address = (bank & (entries[i].row == entries[j].row)
                           & (entries[i].column == entries[j].column))
                with m.If(pending[i] & pending[j]):
                    m.d.comb += [
                        Assert(older[i][j] != older[j][i], "lemma: age order"),
                        Assert(same_bank[j][i] == bank, "lemma: same bank"),
                        Assert(same_address[j][i] == address, "lemma: same address"),
                    ]

        if t.refresh_enabled and "refresh_starved" in self.rules:
            self._refresh_lemmas(m, netlist, checker)

    def _refresh_lemmas(self, m, netlist, checker):
        """How a forced refresh proceeds. The controller decides it in one cycle (its age of
        the last REF reaches the deadline, or the refreshes owed reach
        ``max(max_postponed_refreshes, 1)`` at the end of an interval), picks no ACT, RD or
        WR after that cycle, closes every bank within ``drain_close`` cycles (tRAS, tRTP, tWR
        of the last commands), and issues REF tRP later, or tRFC after the previous REF if
        that is later."""
        t = self.controller_timing
        w = checker.windows
        deadline = ChannelController._refresh_deadline(t)
        drain_close = max(1, t.tras, t.trtp, t.cwl + t.burst_cycles + t.twr)
        threshold = max(t.max_postponed_refreshes, 1)
        age = netlist.signal("age")
        refreshing = netlist.signal("refreshing")
        owed = netlist.signal("owed")
        timer = netlist.signal("timer")
        checker_age = checker.refresh_age
        # The controller counts from its pick, the checker from the interface; the reset
        # counts as a REF in cycle -1 for the one and in cycle 0 for the other.
        expected = Mux(checker_age + 1 > deadline, deadline, checker_age + 1)
        m.d.comb += Assert(Mux(checker.ref, age == 1, age == expected), "lemma: refresh age")
        for k in range(len(w["ref"])):
            with m.If(w["ref"][k]):
                m.d.comb += Assert(checker_age <= k + 1, "lemma: refresh window")
        # A forced refresh is over before the next interval ends, so no more are owed than
        # force one.
        m.d.comb += [
            Assert((owed >= -1) & (owed <= threshold), "lemma: refreshes owed"),
            Assert(timer < t.trefi, "lemma: interval timer"),
        ]
        # The controller refreshes for a refresh owed or for the deadline, each of which
        # lasts until its REF.
        with m.If(refreshing):
            m.d.comb += Assert((owed > 0) | (age == deadline), "lemma: reason to refresh")
        # A REF just picked paid one refresh off, unless an interval ended as it was picked.
        with m.If(checker.ref & (timer != 0)):
            m.d.comb += Assert(owed < threshold, "lemma: refresh paid")
        # One refresh pulled in (owed -1) was a REF since the interval began: the next one
        # is not due before the interval ends, nor forced by the deadline.
        with m.If(owed == -1):
            m.d.comb += Assert(age <= timer + 1, "lemma: refresh pulled in")

        def event_ago(events, window, j):
            """The event happened ``j`` cycles ago on the interface (0: now)."""
            return events if j == 0 else window[j - 1]

        bus = checker.bus
        accesses = [(checker.act, w["any_act"]), (checker.rd, w["any_rd"]),
                    (checker.wr, w["any_wr"])]
        for b in range(t.banks):
            accesses += [(checker.act & (bus.row_bank == b), w["act"][b]),
                         (checker.rd & (bus.col_bank == b), w["rd"][b]),
                         (checker.wr & (bus.col_bank == b), w["wr"][b])]
        for g in range(t.bank_groups):
            in_group = [b for b in range(t.banks) if b // t.banks_per_group == g]
            accesses += [(_any_of([checker.rd & (bus.col_bank == b) for b in in_group]),
                          w["group_rd"][g]),
                         (_any_of([checker.wr & (bus.col_bank == b) for b in in_group]),
                          w["group_wr"][g])]

        # Each reason to force a refresh, with the cycles since the cycle that decided it:
        # the deadline (the checker's age one below it then), and the refreshes owed (the
        # interval timer 0 then: owed only grows as an interval ends).
        reasons = [
            ("deadline", checker_age >= deadline - 1, checker_age - (deadline - 1)),
            ("owed", owed >= threshold, timer),
        ]
        for name, forced, since in reasons:
            with m.If(forced & (since >= 1) & ~checker.ref):
                m.d.comb += Assert(refreshing, f"lemma: refreshing ({name})")
            for now, window in accesses:
                for j in range(len(window) + 1):
                    with m.If(forced & (since >= 2 + j)):
                        m.d.comb += Assert(~event_ago(now, window, j),
                                           f"lemma: no access while refreshing ({name})")
            with m.If(forced & (since >= drain_close + 1)):
                m.d.comb += Assert(checker.open_next == 0,
                                   f"lemma: closed for the refresh ({name})")
            for j in range(1, len(w["any_pre"]) + 2):
                with m.If(forced & (since >= drain_close + 1 + j)):
                    m.d.comb += Assert(~event_ago(checker.closes.any(), w["any_pre"], j - 1),
                                       f"lemma: closed early enough ({name})")
        # A REF forced by the refreshes owed is picked by then (tRFC after a REF picked
        # just before the interval ended, if later).
        latest = max(drain_close + max(1, t.trp), t.trfc - 1)
        # Refreshes owed only grow as an interval ends, so with a refresh forced no REF
        # has been picked since (but for one picked as the interval ended).
        with m.If(owed >= threshold):
            m.d.comb += [
                Assert(timer <= latest, "lemma: forced refresh in time"),
                Assert(age >= timer + 1, "lemma: no refresh since the interval ended"),
            ]

    # Addresses and waits ----------------------------------------------------------------------

    def _addresses(self, m, netlist, ctrl, checker):
        """Every RD or WR serves the request of the slot the controller picked: its kind,
        bank and column, in the row the device has open, as the request arrived on the
        port (the property keeps its own copy of each slot's request)."""
        n = self.queue_depth
        request = ctrl.requests.payload
        accept = ctrl.requests.valid & ctrl.requests.ready
        bus = ctrl.dram
        record = data.StructLayout({"write": 1, "bank": len(request.bank),
                                    "row": len(request.row), "column": len(request.column)})
        free_slot = netlist.signal("free_slot")
        pending = netlist.signal("pending")
        col_pick = netlist.signal("col_pick")
        copies = [Signal(record, name=f"slot{i}_request") for i in range(n)]
        for i in range(n):
            with m.If(accept & (free_slot == i)):
                m.d.sync += [copies[i][name].eq(request[name]) for name in record.members]
        # The request whose command is on the interface now (picked in the previous cycle).
        served = Signal(record, name="served_request")
        served_valid = Signal()
        picked = Signal(record)
        for i in range(n):
            with m.If(col_pick[i]):
                m.d.comb += picked.eq(copies[i])
        m.d.sync += [served.eq(picked), served_valid.eq(col_pick.any())]
        m.d.comb += Assert((col_pick & ~pending) == 0, "a command for no pending request")
        m.d.comb += Assert(served_valid == bus.col_valid, "a command for no request")
        open_row = Signal(len(request.row))
        for b in range(self.controller_timing.banks):
            with m.If(bus.col_bank == b):
                m.d.comb += open_row.eq(checker.rows[b])
        with m.If(bus.col_valid):
            m.d.comb += [
                Assert((bus.col_cmd == ColumnCommand.WR) == served.write, "command of the "
                                                                         "wrong kind"),
                Assert(bus.col_bank == served.bank, "command to the wrong bank"),
                Assert(bus.column == served.column, "command to the wrong column"),
                Assert(open_row == served.row, "command to the wrong row"),
            ]
        if self.lemmas:
            dram = DramSignature(timing=self.controller_timing)
            entry_layout = data.StructLayout({
                "write": 1, "bank": dram.bank_width, "row": dram.row_width,
                "column": dram.column_width, "tag": self.tag_width})
            for i in range(n):
                entry = view(netlist.signal(f"slot{i}"), entry_layout)
                with m.If(pending[i]):
                    m.d.comb += Assert(Cat(entry.write, entry.bank, entry.row, entry.column)
                                       == copies[i].as_value(), "lemma: slot request")

    def _waits(self, m, netlist, ctrl):
        """Per queue slot, the cycles since its request was accepted, while it waits for its
        RD or WR."""
        n = self.queue_depth
        bound = self.wait_bound
        m.d.comb += Assume(self.response_ready)
        pending = netlist.signal("pending")
        free_slot = netlist.signal("free_slot")
        accept = ctrl.requests.valid & ctrl.requests.ready
        for i in range(n):
            wait = Signal(range(bound + 2), name=f"slot{i}_wait")
            with m.If(accept & (free_slot == i)):
                m.d.sync += wait.eq(1)
            with m.Elif(pending[i] & (wait != bound + 1)):
                m.d.sync += wait.eq(wait + 1)
            with m.If(pending[i]):
                m.d.comb += Assert(wait <= bound, "request waited past the bound")

    # Refresh debt ---------------------------------------------------------------------------

    def _refresh_debt(self, m, netlist, checker):
        """The tREFI intervals ended since reset, less the REFs issued, never exceed
        ``max_postponed_refreshes + 1``: at most that many refreshes are owed at any time
        (the one of the interval just ended, and the postponed ones)."""
        t = self.timing
        limit = t.max_postponed_refreshes + 1
        timer = Signal(range(t.trefi), name="interval_timer")
        # Never counted below -1 (a REF pulled in): that only makes the count larger, so the
        # bound holds for the true difference too.
        debt = Signal(range(-1, limit + 2), name="refresh_debt")
        tick = timer == t.trefi - 1
        m.d.sync += timer.eq(Mux(tick, 0, timer + 1))
        with m.If(tick & ~checker.ref & (debt != limit + 1)):
            m.d.sync += debt.eq(debt + 1)
        with m.Elif(~tick & checker.ref & (debt != -1)):
            m.d.sync += debt.eq(debt - 1)
        m.d.comb += Assert(debt <= limit, "more refreshes postponed than allowed")
        if self.lemmas:
            # The controller's interval timer runs in step; its count of refreshes owed
            # drops when it picks a REF, a cycle before the REF is on the interface.
            m.d.comb += [
                Assert(netlist.signal("timer") == timer, "lemma: refresh interval"),
                Assert(netlist.signal("owed") + checker.ref == debt, "lemma: refreshes owed"),
            ]

    # Covers ---------------------------------------------------------------------------------

    def _covers(self, m, ctrl, checker):
        t = self.timing
        bus = ctrl.dram
        accept = ctrl.requests.valid & ctrl.requests.ready
        # Requests accepted whose column command has not reached the interface yet.
        queued = Signal(range(self.queue_depth + 3))
        m.d.sync += queued.eq(queued + accept - bus.col_valid)
        # Per bank: column commands since its ACT; whether a PRE (not a PREA) closed it last,
        # and which row.
        hits = [Signal(2, name=f"cover_hits{b}") for b in range(t.banks)]
        closed_by_pre = Signal(t.banks)
        closed_row = [Signal(len(bus.row), name=f"cover_closed_row{b}") for b in range(t.banks)]
        pre = bus.row_valid & (bus.row_cmd == RowCommand.PRE)
        conflict = Signal()
        row_hit = Signal()
        for b in range(t.banks):
            act_to = checker.act & (bus.row_bank == b)
            col_to = bus.col_valid & (bus.col_bank == b)
            with m.If(act_to):
                m.d.sync += hits[b].eq(0)
            with m.Elif(col_to & (hits[b] != 3)):
                m.d.sync += hits[b].eq(hits[b] + 1)
            with m.If(checker.closes[b]):
                m.d.sync += [closed_by_pre[b].eq(pre), closed_row[b].eq(checker.rows[b])]
            with m.If(checker.rd & (bus.col_bank == b) & (hits[b] != 0)):
                m.d.comb += row_hit.eq(1)
            with m.If(act_to & closed_by_pre[b] & (bus.row != closed_row[b])):
                m.d.comb += conflict.eq(1)
        covers = {
            "refresh": checker.ref & (queued != 0),     # a refresh under load
            "row_hit": row_hit,                         # a read hitting a row already open
            "conflict": conflict,                       # a row closed to open another
        }
        for name in (covers if self.covers is True else self.covers):
            m.d.comb += Cover(covers[name])


# Jobs -----------------------------------------------------------------------------------------

def _job(name, mode, depth, description, solver="yices", expect="pass", **harness):
    return FormalJob(name=name, mode=mode, depth=depth, description=description,
                     solver=solver, expect=expect, build=lambda: ControllerHarness(**harness))


#: The mutation: the controller believes tRCD_RD is one cycle shorter than the device's.
TINY_SHORT_TRCD = TINY.replace(name="formal-tiny-short-trcd", trcd_rd=TINY.trcd_rd - 1)

#: The configuration of the bounded check of the wait bound, and its depth: past the bound,
#: so that a request accepted in the first cycles could overstay it within the check.
WAIT_CONFIGURATION = {"timing": MINI, "queue_depth": 2, "starvation_limit": 2}
WAIT_DEPTH = wait_bound(**WAIT_CONFIGURATION) + 8

_PROVEN = ("every command meets every timing rule (the device checker's list, refresh "
           "spacing included), no more refreshes are owed than may be postponed, and every "
           "RD/WR goes to its request's bank, row and column")

JOBS = (
    _job("controller_timing_tiny", "prove", 2,
         f"4-slot controller on a tiny preset (4 banks in 2 groups, figures of 1-6 cycles, "
         f"tREFI 12): {_PROVEN}, for all time (k-induction)",
         timing=TINY, queue_depth=4, addresses=True, refresh_debt=True),
    _job("controller_timing_sdr", "prove", 2,
         f"4-slot controller on the sdr preset: {_PROVEN}, for all time (k-induction)",
         timing="sdr", queue_depth=4, addresses=True, refresh_debt=True),
    _job("controller_timing_hbm2", "prove", 2,
         f"2-slot controller on the hbm2-2000 preset (16 banks in 4 groups): {_PROVEN}, for "
         f"all time (k-induction)",
         timing="hbm2-2000", addresses=True, refresh_debt=True),
    _job("controller_wait_mini", "bmc", WAIT_DEPTH,
         f"2-slot controller, starvation limit 2, on a minimal preset (2 banks, one-cycle "
         f"figures, tREFI 8), consumer always ready: no request waits more than "
         f"{wait_bound(**WAIT_CONFIGURATION)} cycles (wait_bound: the limit plus a bound "
         f"built from the rules) for its RD/WR, within {WAIT_DEPTH} cycles of reset",
         waits=True, lemmas=False, **WAIT_CONFIGURATION),
    _job("controller_covers_tiny", "cover", 30,
         "4-slot controller on the tiny preset reaches a refresh while requests wait, a read "
         "hitting a row opened for an earlier request, and a precharge to open another row",
         timing=TINY, queue_depth=4, covers=True, lemmas=False),
    _job("controller_covers_sdr", "cover", 14,
         "4-slot controller on the sdr preset reaches a read hitting a row already open",
         timing="sdr", queue_depth=4, covers=("row_hit",), lemmas=False),
    _job("controller_mutant_trcd", "bmc", 10,
         "mutation: a controller that takes tRCD_RD one cycle short of the device's breaks "
         "the rule; the proof must fail with a counterexample",
         expect="fail", timing=TINY, controller_timing=TINY_SHORT_TRCD, lemmas=False),
)
