"""DRAM timing rules as registered flags: the controller never compares a counter on the path
from a decision to the command register.

Every rule counts the cycles since an event with :func:`~rtl.mem.counters.cycles_since`, the
counter the device model uses too, and turns it into a flag that is a register of its own
(:func:`met_flag`): the comparison with the rule's figure is made a cycle ahead, from the
counter and the event of that cycle. A flag with ``lead=1`` tells whether the rule is met in
the *next* cycle, which is what the bank machines' candidates need: they are chosen one
cycle and issued the next.

:class:`ChannelTiming` holds the rules that span banks (per bank group and per pseudo-channel:
tRRD, tFAW, tCCD, tWTR, the data bus and tRFC); each bank machine holds its own bank's.
"""

from amaranth import Module, Signal, Const, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..counters import since_counter, rule_met
from ..commands import resolve_timing, timing_repr

__all__ = ["met_flag", "ChannelTiming"]


def met_flag(m, since, event, cycles, *, lead=0, name):
    """A register that is high in cycle ``c`` when the rule "``cycles`` after ``event``" is
    met in cycle ``c + lead``. ``since`` is the event's :func:`cycles_since` counter (1 in
    the cycle after the event), saturating at ``cycles`` or above."""
    flag = Signal(name=name, init=1)
    # since(c + 1) is 1 after an event in cycle c, since(c) + 1 otherwise (or saturated,
    # which meets the rule anyway).
    m.d.sync += flag.eq(Mux(event, Const(int(1 + lead >= cycles), 1),
                            rule_met(since, cycles - 1 - lead)))
    return flag


class ChannelTiming(wiring.Component):
    """The timing rules between banks of one pseudo-channel, as flags that say whether a
    command picked in this cycle is legal.

    Commands are counted in the cycle they are picked (every command then goes through the
    same command register, so the device sees the same distances). What a bank allows on
    its own is the bank machines' part.

    Parameters
    ----------
    timing : TimingPreset or str

    Members
    -------
    act, rd, wr, ref : ``In(1)``
        An ACT, RD, WR or REF picked this cycle.
    close : ``In(1)``
        A PRE or a PREA picked this cycle (REF waits tRP after the last one).
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

        # Per pseudo-channel.
        since_act = counter("since_act", t.trrd_s, self.act)
        since_rd = counter("since_rd", t.tccd_s, self.rd)
        since_wr = counter("since_wr", max(t.tccd_s, write_end + t.twtr_s), self.wr)
        since_close = counter("since_close", t.trp, self.close)
        since_ref = counter("since_ref", t.trfc, self.ref)
        act_any = met_flag(m, since_act, self.act, t.trrd_s, name="trrd_s_met")
        trfc_met = met_flag(m, since_ref, self.ref, t.trfc, name="trfc_met")
        rd_any = (met_flag(m, since_rd, self.rd, t.tccd_s, name="rd_tccd_s_met")
                  & met_flag(m, since_wr, self.wr, write_end + t.twtr_s, name="twtr_s_met"))
        wr_any = met_flag(m, since_wr, self.wr, t.tccd_s, name="wr_tccd_s_met")

        # The data bus, in order as the device sees it: a burst ends after every earlier one.
        # RD needs it free by cl cycles from now, WR by cwl.
        read_busy, write_busy = t.cl + t.burst_cycles - 1, t.cwl + t.burst_cycles - 1
        bus_busy = Signal(range(max(read_busy, write_busy) + 1))
        load = self.rd | self.wr
        loaded = Mux(self.rd, read_busy, write_busy)
        with m.If(load):
            m.d.sync += bus_busy.eq(loaded)
        with m.Elif(bus_busy != 0):
            m.d.sync += bus_busy.eq(bus_busy - 1)

        def bus_flag(threshold, name):
            flag = Signal(name=name, init=1)
            counting = (bus_busy <= threshold + 1
                        if threshold + 1 < max(read_busy, write_busy) else Const(1))
            m.d.sync += flag.eq(Mux(self.rd, Const(int(read_busy <= threshold), 1),
                                Mux(self.wr, Const(int(write_busy <= threshold), 1),
                                    counting)))
            return flag

        rd_any = rd_any & bus_flag(t.cl, "bus_free_for_rd")
        wr_any = wr_any & bus_flag(t.cwl, "bus_free_for_wr")

        # tFAW: at most four ACTs in any window of tfaw cycles. The slot of the fifth-last
        # ACT is the next one to be overwritten.
        faw_ok = Const(1)
        if t.tfaw:
            faw_next = Signal(2)
            with m.If(self.act):
                m.d.sync += faw_next.eq(faw_next + 1)
            loads = [Signal(name=f"faw_event_{k}") for k in range(4)]
            for k in range(4):
                m.d.comb += loads[k].eq(self.act & (faw_next == k))
            faw = [counter(f"faw_since_{k}", t.tfaw, loads[k]) for k in range(4)]
            met = [rule_met(since, t.tfaw - 1) for since in faw]
            faw_ok = Signal(init=1, name="tfaw_met")
            after_act = Const(0, 1)
            for k in range(4):
                after_act = after_act | ((faw_next == (k - 1) % 4) & met[k])
            before_act = Const(0, 1)
            for k in range(4):
                before_act = before_act | ((faw_next == k) & met[k])
            # After an ACT into slot k the oldest is slot k + 1.
            m.d.sync += faw_ok.eq(Mux(self.act, after_act, before_act))

        act_any = act_any & faw_ok & trfc_met

        # Per bank group.
        for g in range(groups):
            row_here = self.row_group == g if groups > 1 else Const(1)
            col_here = self.col_group == g if groups > 1 else Const(1)
            act_g, rd_g, wr_g = self.act & row_here, self.rd & col_here, self.wr & col_here
            g_act = counter(f"group{g}_since_act", t.trrd_l, act_g)
            g_rd = counter(f"group{g}_since_rd", t.tccd_l, rd_g)
            g_wr = counter(f"group{g}_since_wr", max(t.tccd_l, write_end + t.twtr_l), wr_g)
            m.d.comb += [
                self.act_ok[g].eq(act_any & met_flag(m, g_act, act_g, t.trrd_l,
                                                     name=f"group{g}_trrd_l_met")),
                self.rd_ok[g].eq(rd_any
                                 & met_flag(m, g_rd, rd_g, t.tccd_l, name=f"group{g}_rd_tccd_l_met")
                                 & met_flag(m, g_wr, wr_g, write_end + t.twtr_l,
                                            name=f"group{g}_twtr_l_met")),
                self.wr_ok[g].eq(wr_any & met_flag(m, g_wr, wr_g, t.tccd_l,
                                                   name=f"group{g}_wr_tccd_l_met")),
            ]
        m.d.comb += self.ref_ok.eq(met_flag(m, since_close, self.close, t.trp, name="trp_met")
                                   & trfc_met)
        return m
