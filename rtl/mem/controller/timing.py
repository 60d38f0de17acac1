"""DRAM timing rules as registered flags: the controller never compares a counter on the path
from a decision to the command register.

Every rule counts the cycles since an event with :func:`~rtl.mem.counters.cycles_since`, the
counter the device model uses too, and turns it into a flag that is a register of its own
(:func:`met_flag`): the comparison with the rule's figure is made a cycle ahead, from the
counter and the event of that cycle. A flag with ``lead=1`` tells whether the rule is met in
the *next* cycle, which is what the bank machines' candidates need: they are chosen one
cycle and issued the next.

:class:`ChannelTiming` holds the rules that span banks (per bank group and per pseudo-channel:
tRRD, tFAW, tCCD, tWTR, the data bus and tRFC); each bank machine holds its own bank's. It
learns of a command from the pick register, a cycle after its pick, so that nothing
follows the choice but registers: one flag register per command kind and bank group holds
every rule for the commands before the register's, and a gate or two adds the register's
own command.
"""

from amaranth import Module, Signal, Cat, Const, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..counters import since_counter, rule_met
from ..commands import resolve_timing, timing_repr

__all__ = ["met_flag", "ChannelTiming"]


def met_next(since, event, cycles, *, lead=0):
    """Whether the rule "``cycles`` after ``event``" is met in cycle ``c + 1 + lead``, seen
    from cycle ``c``: the value of a :func:`met_flag` register. ``since`` is the event's
    :func:`cycles_since` counter (1 in the cycle after the event), saturating at ``cycles``
    or above."""
    # since(c + 1) is 1 after an event in cycle c, since(c) + 1 otherwise (or saturated,
    # which meets the rule anyway).
    return Mux(event, Const(int(1 + lead >= cycles), 1), rule_met(since, cycles - 1 - lead))


def met_flag(m, since, event, cycles, *, lead=0, name):
    """A register that is high in cycle ``c`` when the rule "``cycles`` after ``event``" is
    met in cycle ``c + lead`` (:func:`met_next`, registered)."""
    flag = Signal(name=name, init=1)
    m.d.sync += flag.eq(met_next(since, event, cycles, lead=lead))
    return flag


class ChannelTiming(wiring.Component):
    """The timing rules between banks of one pseudo-channel, as flags that say whether a
    command picked in this cycle is legal.

    Commands are counted from the pick register, a cycle after their pick (every command
    goes through that register, so the device sees the same distances). What a bank allows
    on its own is the bank machines' part.

    Parameters
    ----------
    timing : TimingPreset or str

    Members
    -------
    act, rd, wr, ref : ``In(1)``
        The pick register holds an ACT, RD, WR or REF (picked last cycle).
    close : ``In(1)``
        The pick register holds a PRE or a PREA (REF waits tRP after the last one).
    row_group, col_group : ``In(range(bank_groups))``
        The bank group of the ACT, and of the RD or WR.
    act_ok, rd_ok, wr_ok : ``Out(bank_groups)``
        Bit g: an ACT, RD or WR to a bank of group g meets every rule between banks (tRRD_S
        and tRRD_L, tFAW and tRFC; tCCD_S and tCCD_L, tWTR_S and tWTR_L and the data bus).
    ref_ok : ``Out(1)``
        tRP since the last PRE or PREA and tRFC since the last REF are met (every bank must
        also be closed).
    """

    def __init__(self, *, timing):
        timing = resolve_timing(timing)
        self._timing = timing
        groups = timing.bank_groups
        super().__init__({
            "act": In(1), "rd": In(1), "wr": In(1), "ref": In(1), "close": In(1),
            "row_group": In(range(max(groups, 2))), "col_group": In(range(max(groups, 2))),
            "act_ok": Out(groups), "rd_ok": Out(groups), "wr_ok": Out(groups),
            "ref_ok": Out(1),
        })

    @property
    def timing(self):
        return self._timing

    def __repr__(self):
        return f"ChannelTiming(timing={timing_repr(self._timing)})"

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        groups = t.bank_groups
        write_end = t.cwl + t.burst_cycles          # WR to the end of its write data

        def counter(name, saturate, event):
            return since_counter(m, event, saturate, name=name)

        def next_met(since, event, cycles):
            """Whether a pick next cycle is ``cycles`` or more after the last ``event``
            before it, leaving out the one picked now: the value for a flag register. The
            pick register holds ``event`` now, picked a cycle ago: hence ``lead=1``."""
            return met_next(since, event, cycles, lead=1)

        def blocks(event, cycles):
            """The pick register's ``event`` forbids a pick now (it is a cycle back)."""
            return event if cycles > 1 else Const(0)

        def flag(name, value, init=1):
            register = Signal(name=name, init=init)
            m.d.sync += register.eq(value)
            return register

        # Per pseudo-channel.
        since_act = counter("since_act", t.trrd_s, self.act)
        since_rd = counter("since_rd", t.tccd_s, self.rd)
        since_wr = counter("since_wr", max(t.tccd_s, write_end + t.twtr_s), self.wr)
        since_close = counter("since_close", t.trp, self.close)
        since_ref = counter("since_ref", t.trfc, self.ref)
        trfc_next = next_met(since_ref, self.ref, t.trfc)
        act_next = next_met(since_act, self.act, t.trrd_s) & trfc_next
        rd_next = (next_met(since_rd, self.rd, t.tccd_s)
                   & next_met(since_wr, self.wr, write_end + t.twtr_s))
        wr_next = next_met(since_wr, self.wr, t.tccd_s)
        act_blocked = blocks(self.ref, t.trfc)
        rd_blocked = blocks(self.rd, t.tccd_s) | blocks(self.wr, write_end + t.twtr_s)
        wr_blocked = blocks(self.wr, t.tccd_s)

        # The data bus, in order as the device sees it: a burst ends after every earlier one.
        # ``bus_busy`` is the last busy cycle, counted from now, of the bursts before the
        # pick register's. A RD picked now has its data cl + 1 cycles from now, a WR
        # cwl + 1.
        read_busy, write_busy = t.cl + t.burst_cycles - 1, t.cwl + t.burst_cycles - 1
        bus_busy = Signal(range(max(read_busy, write_busy) + 1))
        with m.If(self.rd):
            m.d.sync += bus_busy.eq(max(read_busy - 1, 0))
        with m.Elif(self.wr):
            m.d.sync += bus_busy.eq(max(write_busy - 1, 0))
        with m.Elif(bus_busy != 0):
            m.d.sync += bus_busy.eq(bus_busy - 1)

        def bus_free_next(threshold):
            """The bus is free for a burst picked next cycle whose data starts ``threshold``
            + 1 cycles after that pick, leaving out the burst picked now."""
            counting = (bus_busy <= threshold + 1
                        if threshold + 1 < max(read_busy, write_busy) else Const(1))
            return Mux(self.rd, Const(int(read_busy - 1 <= threshold), 1),
                       Mux(self.wr, Const(int(write_busy - 1 <= threshold), 1), counting))

        def bus_blocked(threshold):
            return ((self.rd if read_busy > threshold else Const(0))
                    | (self.wr if write_busy > threshold else Const(0)))

        rd_next = rd_next & bus_free_next(t.cl)
        wr_next = wr_next & bus_free_next(t.cwl)
        rd_blocked = rd_blocked | bus_blocked(t.cl)
        wr_blocked = wr_blocked | bus_blocked(t.cwl)

        # tFAW: at most four ACTs in any window of tfaw cycles. A ring of four counters holds
        # the cycles since the last four ACTs before the pick register's; ``faw_next`` is
        # the slot the next one takes, the oldest. A pick now is legal if the fourth most
        # recent ACT, counting the one in the pick register, is tfaw cycles back: the
        # third most recent of the ring if the register holds an ACT, else the fourth.
        fourth_next = third_next = Const(1)
        if t.tfaw:
            faw_next = Signal(2)
            with m.If(self.act):
                m.d.sync += faw_next.eq(faw_next + 1)
            loads = [Signal(name=f"faw_event_{k}") for k in range(4)]
            for k in range(4):
                m.d.comb += loads[k].eq(self.act & (faw_next == k))
            ring = [counter(f"faw_since_{k}", t.tfaw, loads[k]) for k in range(4)]
            met = Cat(*(next_met(ring[k], loads[k], t.tfaw) for k in range(4)))
            next_slot = (faw_next + self.act)[:2]
            fourth_next = met.bit_select(next_slot, 1)
            third_next = met.bit_select((next_slot + 1)[:2], 1)

        # Per bank group: one register per command kind and group holds every rule but the
        # pick register's own command, which a gate or two adds.
        for g in range(groups):
            row_here = self.row_group == g if groups > 1 else Const(1)
            col_here = self.col_group == g if groups > 1 else Const(1)
            act_g, rd_g, wr_g = self.act & row_here, self.rd & col_here, self.wr & col_here
            g_act = counter(f"group{g}_since_act", t.trrd_l, act_g)
            g_rd = counter(f"group{g}_since_rd", t.tccd_l, rd_g)
            g_wr = counter(f"group{g}_since_wr", max(t.tccd_l, write_end + t.twtr_l), wr_g)
            group_act_next = act_next & next_met(g_act, act_g, t.trrd_l)
            # After an ACT in the register (its group is only known then): tRRD_S and the
            # third most recent ACT for tFAW here, tRRD_L below.
            after_act = flag(f"group{g}_act_ok_after_act",
                             group_act_next & third_next & Const(int(t.trrd_s <= 1), 1),
                             init=int(t.trrd_s <= 1))
            otherwise = flag(f"group{g}_act_ok", group_act_next & fourth_next)
            rd_ok = flag(f"group{g}_rd_ok", rd_next & next_met(g_rd, rd_g, t.tccd_l)
                         & next_met(g_wr, wr_g, write_end + t.twtr_l))
            wr_ok = flag(f"group{g}_wr_ok", wr_next & next_met(g_wr, wr_g, t.tccd_l))
            m.d.comb += [
                self.act_ok[g].eq(Mux(self.act, after_act & ~blocks(act_g, t.trrd_l),
                                      otherwise) & ~act_blocked),
                self.rd_ok[g].eq(rd_ok & ~rd_blocked & ~blocks(rd_g, t.tccd_l)
                                 & ~blocks(wr_g, write_end + t.twtr_l)),
                self.wr_ok[g].eq(wr_ok & ~wr_blocked & ~blocks(wr_g, t.tccd_l)),
            ]
        ref_ok = flag("ref_ok", next_met(since_close, self.close, t.trp) & trfc_next)
        m.d.comb += self.ref_ok.eq(ref_ok & ~blocks(self.close, t.trp)
                                   & ~blocks(self.ref, t.trfc))
        return m
