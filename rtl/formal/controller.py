"""Formal checks of the pseudo-channel controller (:class:`~rtl.mem.controller.ChannelController`).

The controller runs with free requests on its input, a free consumer (always ready for the
wait bound, which a stalled consumer would rightly stretch), and a device that returns read
data ``cl`` cycles after each RD; its command stream goes to
:class:`~rtl.formal.dram_rules.DramRuleChecker`, which asserts the timing rules from the
preset figures. Small configurations keep the checks short: one or two requests per bank, two
credits (the wait bound's: the controller's default, a credit for every burst in flight),
and either a tiny custom preset (four banks in two groups, every figure a few cycles) or the
real hbm2-2000 and sdr presets.

The timing rules are proven for all time by k-induction. An induction step may start in any
state that satisfies the assertions, so the harness also asserts lemmas that tie the
controller's view of the device to the checker's (:meth:`ControllerHarness._lemmas`): each
bank machine's open row and every counter of the cycles since an event are what the
checker's windows say. Refresh is the exception: whether the next REF comes in time depends
on the refresh bookkeeping over a refresh interval or more (thousands of cycles on the real
presets), which these lemmas leave out, so the proofs leave out ``refresh_starved``, and a
bounded check (``bmc``) of the tiny preset covers refresh over several intervals. The other properties are bounded too: every request reaching
its command (``addresses``), and the wait bound, past the bound.

The harness reads some of the controller's internal signals
(:class:`~rtl.formal.netlist.Netlist`): each bank machine's ``enqueue``, ``free_slot``,
``col_grant`` and ``col_slot`` ports and its ``pending``, ``occupied`` and ``starved`` slots,
to follow each request from the port into its bank's queue and out as a command; and, for
the lemmas, the bank machines' and the channel timing's counters.
"""

from amaranth import Module, Signal, Cat, Const, Mux, ResetSignal
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from openmxu.dram import TimingPreset, preset
from rtl.mem.controller import (ChannelController, BankMachine, ChannelTiming,
                                request_layout, BANK_COMMAND_SPACING)
from rtl.mem.commands import RowCommand, ColumnCommand, DramSignature
from .dram_rules import DramRuleChecker, RULES
from .job import FormalJob
from .netlist import Netlist

__all__ = ["TINY", "MINI", "wait_bound", "ControllerHarness", "JOBS"]


#: Four banks in two groups, two rows of two bursts, one-byte beats, and every timing figure
#: a few cycles but each rule distinct, so that a short check covers every rule.
#: One refresh may be postponed: the device wants a REF every 24 cycles at the latest.
TINY = TimingPreset(
    name="formal-tiny", tck_ns=1.0, data_bytes_per_cycle=1, burst_bytes=2,
    banks=4, bank_groups=2, row_bytes=4, rows=2,
    cl=2, cwl=1, trcd_rd=3, trcd_wr=2, trp=2, tras=3, trc=6, twr=1, trtp=2,
    tccd_s=2, tccd_l=3, trrd_s=1, trrd_l=2, tfaw=5, twtr_s=1, twtr_l=2,
    trefi=12, trfc=3, max_postponed_refreshes=1)


#: Two banks of two rows of two one-beat bursts, every figure the least the protocol allows
#: but a refresh every 32 cycles (one postponable, so under load each is forced as its
#: interval ends): the shortest service of a request, for the bounded check of the wait
#: bound, which then spans two refreshes.
MINI = TimingPreset(
    name="formal-mini", tck_ns=1.0, data_bytes_per_cycle=1, burst_bytes=1,
    banks=2, bank_groups=1, row_bytes=2, rows=2,
    cl=1, cwl=0, trcd_rd=1, trcd_wr=1, trp=1, tras=1, trc=2, twr=0, trtp=0,
    tccd_s=1, tccd_l=1, trrd_s=1, trrd_l=1, tfaw=0, twtr_s=0, twtr_l=0,
    trefi=32, trfc=1, max_postponed_refreshes=1)


def wait_bound(timing, *, bank_queue_depth, starvation_limit, response_depth=None):
    """Cycles from accepting a request to picking its RD or WR, with the consumer always
    ready: a bound built from the rules, not the worst case itself.

    The request ``R`` waits in the input register while its bank's queue is full, then in
    the queue. Requests enter the queues in the order they were accepted, so nothing enters
    ``R``'s bank before it: the requests ahead of ``R`` in its bank are those queued when
    ``R`` was accepted, at most ``bank_queue_depth``, and each has waited longer than ``R``:

    * within ``starvation_limit`` cycles they are all starved; a starved miss holds back the
      younger hits of its bank and the oldest offered miss gets the row, so the bank serves
      its starved requests of one kind oldest first, each within ``S`` (below);
    * the first of them frees its slot within ``S``, or ``cwl + burst_cycles`` later for a
      write (its data leaves the store first), and ``R`` enters the queue; ``R`` is starved
      ``starvation_limit`` cycles later and is served ``S`` after the later of that and the
      service of the others ahead of it (at most ``bank_queue_depth - 1``, one ``S`` each).

    Adding these up: ``2 * starvation_limit + (bank_queue_depth + 1) * S + cwl +
    burst_cycles + 4`` (the last for the registers between a slot freeing, ``R`` entering
    and its age counting).

    ``S``, the service of a starved request that is the oldest of its kind in its bank:

    * the other kind's turn: with starved requests of both kinds, the mode changes once it
      has lasted ``starvation_limit`` cycles (``+ 2`` for the mode and the candidate
      registers);
    * a row miss: the open row's tRAS, tRTP or tWR (its last command just picked), tRP, then
      tRCD, each command at least ``BANK_COMMAND_SPACING`` after the one before;
    * the round robin: ahead of each of its PRE, ACT and RD/WR, one command of every other
      bank, tRRD or tCCD apart;
    * the data bus turning around (tWTR after a write's data before a RD; the read data
      before a WR);
    * a credit held by an earlier command, ``max(cl, cwl) + burst_cycles + 4`` cycles, unless
      ``response_depth`` is at least :meth:`ChannelController.full_rate_response_depth`
      (``None``, the default), with which a credit is always left.

    Refreshes come on top, each its drain (``ChannelController._refresh_drain``), tRFC, and
    the row opened again (ACT, then tRCD): one per tREFI interval the wait spans (a request
    waiting keeps the controller from refreshing early), plus the ones owed when it starts
    (``max_postponed_refreshes``, at least one).

    Two conditions of the argument, which the controller does not enforce: with starved
    requests of both kinds in one bank (``bank_queue_depth`` of 2 or more) a mode's turn of
    ``starvation_limit + 1`` cycles must fit ``S`` past its first term, a refresh included,
    or the two kinds can take the bank's row from each other forever; and a request of the other kind that a younger
    one waits on (same burst address, so in the same bank) is served first, ahead of the
    mode, which the figure does not count. With one request per bank neither arises: a bank
    offers nothing in the other kind's turn, so its row is opened ahead for its request
    (lookahead), and no younger request shares its queue."""
    t = timing
    write_end = t.cwl + t.burst_cycles
    spacing = BANK_COMMAND_SPACING
    row_miss = (max(1, t.tras, t.trtp, write_end + t.twr) + max(t.trp, spacing)
                + max(t.trcd_rd, t.trcd_wr, spacing))
    others = (t.banks - 1) * (2 * max(1, t.trrd_s, t.trrd_l) + max(t.tccd_s, t.tccd_l))
    turnaround = max(write_end + t.twtr_l, t.cl + t.burst_cycles - t.cwl)
    credits = ChannelController.full_rate_response_depth(t)
    credit = (0 if response_depth is None or response_depth >= credits
              else max(t.cl, t.cwl) + t.burst_cycles + 4)
    service = starvation_limit + 2 + row_miss + others + turnaround + credit
    base = (2 * starvation_limit + (bank_queue_depth + 1) * service + write_end + 4)
    if not t.refresh_enabled:
        return base
    refresh = (ChannelController._refresh_drain(t) + t.trfc
               + max(t.trcd_rd, t.trcd_wr, spacing) + spacing)
    if refresh >= t.trefi:
        raise ValueError(f"a refresh and its reopened row ({refresh} cycles) fill the whole "
                         f"refresh interval ({t.trefi}): no bound")
    bound = base
    while True:         # the refreshes the wait spans, and the wait with them
        longer = base + (-(-bound // t.trefi) + max(1, t.max_postponed_refreshes)) * refresh
        if longer == bound:
            return bound
        bound = longer


class ControllerHarness(wiring.Component):
    """A :class:`ChannelController` with its environment and properties.

    Parameters
    ----------
    timing : TimingPreset or str
        The preset the checker asserts (and the controller gets, unless
        ``controller_timing`` says otherwise).
    controller_timing : TimingPreset or None
        A different preset for the controller: a mutation that must fail.
    bank_queue_depth, starvation_limit, response_depth, tag_width
        The controller's parameters (``response_depth=None``: the controller's default, a
        credit for every burst in flight at full rate).
    rules : iterable of str
        The checker's rules to assert (default all).
    lemmas : bool
        Assert the induction lemmas (see :meth:`_lemmas`).
    addresses : bool
        Every request enters the queue of its bank, into a slot that holds no other; every
        RD or WR serves a pending request, with its kind, bank and column, in the row the
        device has open.
    waits : bool
        No request waits longer than :attr:`wait_bound` cycles from its acceptance to the
        pick of its RD or WR (the consumer is assumed always ready: a stalled consumer holds
        the credits, rightly).
    bound : int or None
        A figure for :attr:`wait_bound` other than the one computed from the rules.
    refresh_debt : bool
        Assert that the tREFI intervals elapsed exceed the REFs issued by at most
        ``max_postponed_refreshes + 1``.
    covers : bool or tuple of str
        Add the covers of non-vacuity (``True``: all), by name: ``"refresh"``, a REF while
        requests wait; ``"row_hit"``, a RD to a row an earlier RD or WR already used;
        ``"conflict"``, a PRE followed by the ACT of another row of the bank; ``"starved"``,
        a RD or WR picked for a request that has waited ``starvation_limit`` cycles in its
        queue; ``"blocked"``, a request that waited in the input register for room in its
        bank's queue.

    Members
    -------
    request_valid, request : the request stream's valid and payload (free)
    response_ready : the consumer (assumed always ready when ``waits`` is set)
    read_data : the device's read beats (free data; the timing is the device's)
    """

    def __init__(self, *, timing, controller_timing=None, bank_queue_depth=1,
                 starvation_limit=8, response_depth=2, tag_width=2, rules=RULES, lemmas=False,
                 addresses=False, waits=False, bound=None, refresh_debt=False, covers=False):
        self.timing = t = timing if isinstance(timing, TimingPreset) else preset(timing)
        self.controller_timing = controller_timing or t
        self.bank_queue_depth = bank_queue_depth
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
        return wait_bound(self.timing, bank_queue_depth=self.bank_queue_depth,
                          starvation_limit=self.starvation_limit,
                          response_depth=self.response_depth)

    def elaborate(self, platform):
        m = Module()
        t = self.timing
        ctrl = ChannelController(
            timing=self.controller_timing, bank_queue_depth=self.bank_queue_depth,
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
        # Elaborated here: the lemmas read its windows.
        m.submodules.checker = Netlist(checker)
        banks = [self._bank(netlist, b) for b in range(self.controller_timing.banks)]
        if self.lemmas:
            self._lemmas(m, netlist, checker)
        entry = None
        if self.addresses or self.waits or self.covers:
            entry = self._entry(m, ctrl, banks)
        if self.addresses:
            self._addresses(m, ctrl, checker, banks, entry)
        if self.waits:
            self._waits(m, banks, entry)
        if self.refresh_debt and t.refresh_enabled:
            self._refresh_debt(m, checker)
        if self.covers:
            self._covers(m, ctrl, checker, banks, entry)
        return m

    @staticmethod
    def _bank(netlist, b):
        """Bank ``b``'s machine (its ports), its ``pending`` and ``occupied`` registers (a
        slot waiting for its RD or WR; in use, which a write stays until its data has left)
        and its ``starved`` slots (waited ``starvation_limit`` cycles)."""
        machine, fragment = netlist.submodule(f"bank{b}", BankMachine)
        return {"machine": machine,
                **{name: netlist.signal(name, fragment)
                   for name in ("pending", "occupied", "starved")}}

    # Lemmas ---------------------------------------------------------------------------------

    def _lemmas(self, m, netlist, checker):
        """Invariants that make the timing rules inductive: the controller's view of the
        device is the checker's. Each bank machine's open row, and every counter of the
        cycles since an event (the bank machines', the rules between banks', the tFAW ring
        and the data bus) is what the checker's windows say; the checker's windows of one
        event agree with each other. The flags a cycle ahead and the candidates follow from
        these in three cycles, which the induction length covers. The refresh deadline is
        not among them: it spans thousands of cycles, so the jobs that prove by induction
        leave ``refresh_starved`` to the bounded check of the tiny preset.

        A command goes from its pick through the pick register to the command register, the
        interface. The rules between banks count from the pick register, so their state is
        the checker's after this cycle's command, and a counter of the cycles since an event
        is one more than the cycles since it reached the interface. The bank machines count
        from the pick: their state also has the pick register's command, and their counters
        are one more again."""
        t = self.controller_timing
        banks, groups = t.banks, t.bank_groups
        per_group = t.banks_per_group
        write_end = t.cwl + t.burst_cycles
        bus = checker.bus
        w = checker.windows

        def any_of(values):
            return Cat(*values).any()

        # The checker's windows of one event agree where they overlap.
        def agree(union, parts, message):
            for k in range(min(len(union), *(len(part) for part in parts))):
                m.d.comb += Assert(union[k] == any_of(part[k] for part in parts), message)

        group_banks = [range(g * per_group, (g + 1) * per_group) for g in range(groups)]
        agree(w["any_act"], w["act"], "lemma: act windows")
        agree(w["any_pre"], w["pre"], "lemma: pre windows")
        for kind in ("rd", "wr"):
            agree(w[f"any_{kind}"], w[f"group_{kind}"], f"lemma: {kind} windows")
            agree(w[f"any_{kind}"], w[kind], f"lemma: {kind} windows")
            for g in range(groups):
                agree(w[f"group_{kind}"][g], [w[kind][b] for b in group_banks[g]],
                      f"lemma: {kind} windows")

        def exact(counter, now, window, saturate, name, picked=None):
            """The counter holds 1 for an event on the interface now, ``k + 2`` for one
            ``k + 1`` cycles ago, else ``saturate`` (each window is as long as its counter
            counts). With ``picked`` (an event in the pick register, counted from its pick
            as the bank machines do) every figure is one more, and ``picked`` makes it 1."""
            offset = 1 if picked is None else 2
            expected = Signal(range(saturate + 1), name=f"lemma_{name}")
            m.d.comb += expected.eq(saturate)
            for k in reversed(range(len(window))):
                with m.If(window[k]):
                    m.d.comb += expected.eq(min(saturate, k + 1 + offset))
            with m.If(now):
                m.d.comb += expected.eq(min(saturate, offset))
            if picked is not None:
                with m.If(picked):
                    m.d.comb += expected.eq(1)
            m.d.comb += Assert(counter == expected, f"lemma: {name}")

        # The bank machines: the open row, and the counters of the bank's own rules, which
        # count from the pick, a cycle before the command reaches the command register (the
        # pick register holds it meanwhile). The controller closes open banks only, so
        # every PRE and PREA it issues starts a tRP.
        is_pre = bus.row_valid & (bus.row_cmd == RowCommand.PRE)
        is_prea = bus.row_valid & (bus.row_cmd == RowCommand.PREA)
        m.d.comb += Assert(~(is_pre | is_prea) | checker.closes.any(),
                           "lemma: no precharge of a closed bank")
        act_to = [checker.act & (bus.row_bank == b) for b in range(banks)]
        rd_to = [checker.rd & (bus.col_bank == b) for b in range(banks)]
        wr_to = [checker.wr & (bus.col_bank == b) for b in range(banks)]
        picked_row, picked_col = netlist.signal("picked_row"), netlist.signal("picked_col")
        picked_row_valid = netlist.signal("picked_row_valid")
        picked_row_cmd = netlist.signal("picked_row_cmd")
        picked_col_valid = netlist.signal("picked_col_valid")
        picked_write = netlist.signal("picked_write")
        for b in range(banks):
            machine, fragment = netlist.submodule(f"bank{b}", BankMachine)

            def signal(name):
                return netlist.signal(name, fragment)

            picked_act = (picked_row_valid & picked_row[b]
                          & (picked_row_cmd == RowCommand.ACT))
            # A PREA closes the banks open before it, which the device has open after the
            # command on the interface now.
            picked_close = picked_row_valid & (
                (picked_row[b] & (picked_row_cmd == RowCommand.PRE))
                | ((picked_row_cmd == RowCommand.PREA) & checker.open_next[b]))
            picked_rd = picked_col_valid & picked_col[b] & ~picked_write
            picked_wr = picked_col_valid & picked_col[b] & picked_write
            with m.If(picked_act):
                m.d.comb += [Assert(signal("is_open"), "lemma: open banks"),
                             Assert(signal("open_row") == machine.row_row, "lemma: open rows")]
            with m.Elif(picked_close):
                m.d.comb += Assert(~signal("is_open"), "lemma: open banks")
            with m.Else():
                m.d.comb += Assert(signal("is_open") == checker.open_next[b],
                                   "lemma: open banks")
                with m.If(checker.open_next[b]):
                    m.d.comb += Assert(signal("open_row") == checker.rows_next[b],
                                       "lemma: open rows")
            exact(signal("since_act"), act_to[b], w["act"][b],
                  max(1, t.trcd_rd, t.trcd_wr, t.tras, t.trc), f"bank{b}_since_act",
                  picked=picked_act)
            exact(signal("since_pre"), checker.closes[b], w["pre"][b], max(1, t.trp),
                  f"bank{b}_since_pre", picked=picked_close)
            exact(signal("since_rd"), rd_to[b], w["rd"][b], max(1, t.trtp),
                  f"bank{b}_since_rd", picked=picked_rd)
            exact(signal("since_wr"), wr_to[b], w["wr"][b], max(1, write_end + t.twr),
                  f"bank{b}_since_wr", picked=picked_wr)

        # The rules between banks count from the pick register, a cycle before the command
        # is on the interface.
        _timing, fragment = netlist.submodule("channel_timing", ChannelTiming)

        def signal(name):
            return netlist.signal(name, fragment)

        for g, members in enumerate(group_banks):
            exact(signal(f"group{g}_since_act"), any_of(act_to[b] for b in members),
                  [any_of(w["act"][b][k] for b in members)
                   for k in range(len(w["act"][members[0]]))],
                  max(1, t.trrd_l), f"group{g}_since_act")
            exact(signal(f"group{g}_since_rd"), any_of(rd_to[b] for b in members),
                  w["group_rd"][g], max(1, t.tccd_l), f"group{g}_since_rd")
            exact(signal(f"group{g}_since_wr"), any_of(wr_to[b] for b in members),
                  w["group_wr"][g], max(1, t.tccd_l, write_end + t.twtr_l),
                  f"group{g}_since_wr")
        for name, now, window, saturate in [
                ("since_act", checker.act, w["any_act"], max(1, t.trrd_s)),
                ("since_rd", checker.rd, w["any_rd"], max(1, t.tccd_s)),
                ("since_wr", checker.wr, w["any_wr"], max(1, t.tccd_s, write_end + t.twtr_s)),
                ("since_close", checker.closes.any(), w["any_pre"], max(1, t.trp)),
                ("since_ref", checker.ref, w["ref"], max(1, t.trfc))]:
            exact(signal(name), now, window, saturate, name)

        # tFAW: slot i of the ring holds the cycles since an ACT; the one r places before the
        # slot the next ACT takes holds the r-th most recent.
        if t.tfaw:
            faw_next = signal("faw_next")
            ring = [signal(f"faw_since_{i}") for i in range(4)]
            # ACTs on the interface now and in the window, most recent first.
            acts = [checker.act] + [w["any_act"][k] for k in range(len(w["any_act"]))]
            for r in range(1, 5):
                slot = Signal.like(ring[0], name=f"lemma_faw_recent{r}")
                for i in range(4):
                    with m.If(faw_next == (i + r) % 4):
                        m.d.comb += slot.eq(ring[i])
                expected = Signal.like(ring[0], name=f"lemma_faw_expected{r}")
                m.d.comb += expected.eq(t.tfaw)
                for k in reversed(range(len(acts))):
                    count = Const(0, 4)
                    for j in range(k + 1):
                        count = count + acts[j]
                    with m.If(acts[k] & (count == r)):
                        m.d.comb += expected.eq(min(t.tfaw, k + 1))
                m.d.comb += Assert(slot == expected, "lemma: tfaw ring")

        # The data bus: the controller's count is the last beat scheduled (a beat j cycles
        # from now makes it j), less one: it counts from the pick register, a cycle ahead of
        # the interface.
        bus_busy = signal("bus_busy")
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
        m.d.comb += Assert(bus_busy == Mux(last_beat == 0, 0, last_beat - 1), "lemma: data bus")

    # Addresses and waits ----------------------------------------------------------------------

    def _entry(self, m, ctrl, banks):
        """The way in, as the port promises it: requests enter the bank queues in the order
        they were accepted, and at most one accepted request waits outside (in the input
        register, while its bank's queue is full). Returns a dict: ``accept``, a request
        accepted this cycle; ``waiting``, one waits outside; ``enqueue``, a bank machine
        takes one this cycle; ``entering``, its kind, bank, row and column (the waiting one,
        else the one accepted now); and ``waited``, the cycles since the waiting one was
        accepted (0 for one accepted now), saturating at :attr:`wait_bound` ``+ 1`` when
        ``waits`` is set."""
        request = ctrl.requests.payload
        accept = ctrl.requests.valid & ctrl.requests.ready
        enqueue = Cat(bank["machine"].enqueue for bank in banks).any()
        record = data.StructLayout({"write": 1, "bank": len(request.bank),
                                    "row": len(request.row), "column": len(request.column)})
        incoming = Signal(record, name="incoming_request")
        m.d.comb += [incoming[name].eq(request[name]) for name in record.members]
        waiting = Signal(name="waiting")
        waiting_request = Signal(record, name="waiting_request")
        entering = Signal(record, name="entering_request")
        m.d.comb += entering.eq(Mux(waiting, waiting_request, incoming))
        stays = accept & (waiting | ~enqueue)       # the request accepted now waits
        with m.If(stays):
            m.d.sync += [waiting.eq(1), waiting_request.eq(incoming)]
        with m.Elif(enqueue):
            m.d.sync += waiting.eq(0)
        waited = Const(0, 1)
        if self.waits:
            limit = self.wait_bound + 1
            held_wait = Signal(range(limit + 1), name="waiting_wait")
            with m.If(stays):
                m.d.sync += held_wait.eq(1)
            with m.Elif(held_wait != limit):
                m.d.sync += held_wait.eq(held_wait + 1)
            waited = Mux(waiting, held_wait, 0)
        return {"accept": accept, "waiting": waiting, "enqueue": enqueue,
                "entering": entering, "waited": waited}

    def _addresses(self, m, ctrl, checker, banks, entry):
        """Follow each request from the port to its command with a copy of its own: the
        entering request's copy goes to the slot its bank machine fills; the column command
        on the interface in cycle ``c`` was picked in ``c - 1`` from the bank whose
        ``col_grant`` was high, for its ``col_slot``."""
        n = self.bank_queue_depth
        bus = ctrl.dram
        entering = entry["entering"]
        m.d.comb += [
            Assert(~entry["enqueue"] | entry["waiting"] | entry["accept"],
                   "a request queued that was never accepted"),
            Assert(~(entry["accept"] & entry["waiting"] & ~entry["enqueue"]),
                   "a request accepted while another waits outside"),
        ]
        picked = Signal.like(entering)
        picked_valid = Signal()
        for b, bank in enumerate(banks):
            machine, pending, occupied = bank["machine"], bank["pending"], bank["occupied"]
            copies = [Signal.like(entering, name=f"bank{b}_slot{i}_request") for i in range(n)]
            with m.If(machine.enqueue):
                m.d.comb += [
                    Assert(entering.bank == b, "request queued in another bank"),
                    Assert(machine.free_slot < n, "request queued in no slot"),
                    Assert(~(occupied >> machine.free_slot)[0], "request queued over another"),
                ]
                for i in range(n):
                    with m.If(machine.free_slot == i):
                        m.d.sync += copies[i].eq(entering)
            with m.If(machine.col_grant):
                m.d.comb += [
                    Assert(machine.col_slot < n, "command for no slot"),
                    Assert((pending >> machine.col_slot)[0], "command for no pending request"),
                    picked_valid.eq(1),
                ]
                for i in range(n):
                    with m.If(machine.col_slot == i):
                        m.d.comb += picked.eq(copies[i])
        # The request whose command is on the interface now: picked two cycles ago (the pick
        # register, then the command register).
        in_pick_register = Signal.like(entering, name="picked_request")
        in_pick_register_valid = Signal()
        served = Signal.like(entering, name="served_request")
        served_valid = Signal()
        m.d.sync += [in_pick_register.eq(picked), in_pick_register_valid.eq(picked_valid),
                     served.eq(in_pick_register), served_valid.eq(in_pick_register_valid)]
        m.d.comb += Assert(served_valid == bus.col_valid, "a command for no request")
        open_row = Signal(len(entering.row))
        for b in range(self.controller_timing.banks):
            with m.If(bus.col_bank == b):
                m.d.comb += open_row.eq(checker.rows[b])
        with m.If(bus.col_valid):
            m.d.comb += [
                Assert((bus.col_cmd == ColumnCommand.WR) == served.write,
                       "command of the wrong kind"),
                Assert(bus.col_bank == served.bank, "command to the wrong bank"),
                Assert(bus.column == served.column, "command to the wrong column"),
                Assert(open_row == served.row, "command to the wrong row"),
            ]

    def _waits(self, m, banks, entry):
        """The cycles since each request was accepted, while it waits outside and then in
        its slot for its RD or WR, never past :attr:`wait_bound` (the consumer always
        ready)."""
        limit = self.wait_bound + 1
        m.d.comb += Assume(self.response_ready)
        with m.If(entry["waiting"]):
            m.d.comb += Assert(entry["waited"] < limit, "request waited past the bound")
        for b, bank in enumerate(banks):
            machine, pending = bank["machine"], bank["pending"]
            for i in range(self.bank_queue_depth):
                wait = Signal(range(limit + 1), name=f"bank{b}_slot{i}_wait")
                with m.If(machine.enqueue & (machine.free_slot == i)):
                    m.d.sync += wait.eq(Mux(entry["waited"] == limit, limit,
                                            entry["waited"] + 1))
                with m.Elif(pending[i] & (wait != limit)):
                    m.d.sync += wait.eq(wait + 1)
                with m.If(pending[i]):
                    m.d.comb += Assert(wait < limit, "request waited past the bound")

    # Refresh debt ---------------------------------------------------------------------------

    def _refresh_debt(self, m, checker):
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

    # Covers ---------------------------------------------------------------------------------

    def _covers(self, m, ctrl, checker, banks, entry):
        t = self.timing
        bus = ctrl.dram
        # Requests accepted whose column command has not reached the interface yet (the
        # queues, the input register, the pick register and the command register).
        queued = Signal(range(t.banks * self.bank_queue_depth + 4))
        m.d.sync += queued.eq(queued + entry["accept"] - bus.col_valid)
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
        # A request picked once starved (the starvation rules, not the ordinary choice,
        # served it), and one that waited in the input register for room in its bank's
        # queue.
        starved = Cat(bank["machine"].col_grant & (bank["starved"] >> bank["machine"].col_slot)[0]
                      for bank in banks).any()
        blocked = entry["waiting"] & ~entry["enqueue"]
        covers = {
            "refresh": checker.ref & (queued != 0),     # a refresh under load
            "row_hit": row_hit,                         # a read hitting a row already open
            "conflict": conflict,                       # a row closed to open another
            "starved": starved,                         # a starved request served
            "blocked": blocked,                         # a request waited for a full queue
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
#: so that a request accepted in the first cycles could overstay it within the check. One
#: request per bank: see :func:`wait_bound` for what two or more would need.
WAIT_CONFIGURATION = {"timing": MINI, "bank_queue_depth": 1, "starvation_limit": 2,
                      "response_depth": None}
WAIT_DEPTH = wait_bound(**WAIT_CONFIGURATION) + 8

#: The rules the induction proofs assert: all but the refresh deadline (see the module
#: documentation), which ``controller_refresh_tiny`` checks.
PROVEN_RULES = tuple(rule for rule in RULES if rule != "refresh_starved")

#: The rules about refresh, for the bounded check of several refresh intervals.
REFRESH_RULES = ("refresh_starved", "ref_open", "trp", "trfc")

#: Cycles of that check: four refresh intervals of the tiny preset, each REF forced under load.
REFRESH_DEPTH = 4 * TINY.trefi

_PROVEN = ("every command meets every timing rule of the device checker but the refresh "
           "deadline, for all time (k-induction)")

JOBS = (
    _job("controller_timing_tiny", "prove", 4,
         f"2 requests per bank on a tiny preset (4 banks in 2 groups, figures of 1-6 cycles): "
         f"{_PROVEN}",
         timing=TINY, bank_queue_depth=2, rules=PROVEN_RULES, lemmas=True),
    _job("controller_timing_sdr", "prove", 4,
         f"2 requests per bank on the sdr preset (4 banks): {_PROVEN}",
         timing="sdr", bank_queue_depth=2, rules=PROVEN_RULES, lemmas=True),
    _job("controller_timing_hbm2", "prove", 4,
         f"1 request per bank on the hbm2-2000 preset (16 banks in 4 groups): {_PROVEN}",
         timing="hbm2-2000", bank_queue_depth=1, rules=PROVEN_RULES, lemmas=True),
    _job("controller_refresh_tiny", "bmc", REFRESH_DEPTH,
         f"2 requests per bank on the tiny preset (tREFI 12, one refresh postponable): every "
         f"REF comes within the device's deadline, with every bank closed, tRP and tRFC "
         f"met, and no more refreshes are owed than may be postponed; bounded: "
         f"{REFRESH_DEPTH} cycles from reset, four refresh intervals",
         timing=TINY, bank_queue_depth=2, rules=REFRESH_RULES, refresh_debt=True),
    _job("controller_addresses_tiny", "bmc", 20,
         "1 request per bank on the tiny preset: requests enter the bank queues in order, "
         "each its own bank's, into a free slot, and every RD/WR serves a pending request, "
         "with its kind, bank and column, in the row the device has open; bounded: 20 cycles "
         "from reset",
         timing=TINY, bank_queue_depth=1, addresses=True, rules=()),
    _job("controller_wait_mini", "bmc", WAIT_DEPTH,
         f"1 request per bank, starvation limit 2, on a minimal preset (2 banks, one-cycle "
         f"figures, tREFI 32), consumer always ready: no request waits more than "
         f"{WAIT_DEPTH - 8} cycles (wait_bound: the starvation limit, then in-order service "
         f"in its bank, each a row miss behind the other kind's turn and the other banks, "
         f"and the refreshes) from its acceptance to its RD/WR; bounded: {WAIT_DEPTH} cycles "
         f"from reset",
         waits=True, rules=(), **WAIT_CONFIGURATION),
    _job("controller_covers_mini", "cover", 16,
         "the wait bound's configuration reaches a request served once starved and a request "
         "that waits in the input register for room in its bank's queue",
         covers=("starved", "blocked"), rules=(), **WAIT_CONFIGURATION),
    _job("controller_covers_tiny", "cover", 30,
         "2 requests per bank on the tiny preset: reaches a refresh while requests wait, a "
         "read hitting a row opened for an earlier request, and a precharge to open another "
         "row",
         timing=TINY, bank_queue_depth=2, covers=("refresh", "row_hit", "conflict")),
    _job("controller_covers_sdr", "cover", 20,
         "2 requests per bank on the sdr preset: reaches a read hitting a row already open",
         timing="sdr", bank_queue_depth=2, covers=("row_hit",)),
    _job("controller_mutant_trcd", "bmc", 10,
         "mutation: a controller that takes tRCD_RD one cycle short of the device's breaks "
         "the rule; the check must fail with a counterexample",
         expect="fail", timing=TINY, controller_timing=TINY_SHORT_TRCD, bank_queue_depth=2),
)
