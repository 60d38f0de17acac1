"""Refresh bookkeeping of one pseudo-channel: refreshes owed, postponement, the deadline."""

from amaranth import Module, Signal, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..commands import resolve_timing, timing_repr

__all__ = ["Refresher"]


class Refresher(wiring.Component):
    """Decides when the controller refreshes.

    A timer adds a refresh owed every ``trefi`` cycles. With refreshes owed the controller
    refreshes as soon as no request is waiting; under load it postpones them until
    ``max_postponed_refreshes`` are owed (at least one), and it refreshes regardless once
    ``deadline`` cycles have passed since the last REF. A REF with nothing owed (the
    deadline case) counts as pulled in.

    Parameters
    ----------
    timing : TimingPreset or str
        A preset with refresh enabled.
    deadline : int
        Cycles after a REF (or reset) at which a refresh starts whatever is waiting.

    Members
    -------
    ref : ``In(1)``
        A REF was picked this cycle (it ends the refresh).
    waiting : ``In(1)``
        A request is waiting.
    refreshing : ``Out(1)``
        A refresh is under way: no ACT, RD or WR; every bank is closed, then REF.
    """

    def __init__(self, *, timing, deadline):
        self._timing = resolve_timing(timing)
        self._deadline = deadline
        super().__init__({"ref": In(1), "waiting": In(1), "refreshing": Out(1)})

    def __repr__(self):
        return f"Refresher(timing={timing_repr(self._timing)}, deadline={self._deadline})"

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        postpone = t.max_postponed_refreshes
        tick = Signal()
        timer = Signal(range(t.trefi))
        m.d.comb += tick.eq(timer == t.trefi - 1)
        m.d.sync += timer.eq(Mux(tick, 0, timer + 1))
        # Refreshes owed: +1 per trefi, -1 per REF; -1 is one refresh pulled in.
        owed = Signal(range(-1, postpone + 2))
        with m.If(tick & ~self.ref & (owed != postpone + 1)):
            m.d.sync += owed.eq(owed + 1)
        with m.Elif(~tick & self.ref & (owed != -1)):
            m.d.sync += owed.eq(owed - 1)
        # Cycles since the last REF was picked; reset counts as a REF picked in cycle -2,
        # which is the device's "REF in cycle 0" after the pick and command registers.
        deadline = self._deadline
        age = Signal(range(deadline + 1), init=2)
        with m.If(self.ref):
            m.d.sync += age.eq(1)
        with m.Elif(age != deadline):
            m.d.sync += age.eq(age + 1)
        urgent = (age == deadline) | (owed >= max(postpone, 1))
        with m.If(self.ref):
            m.d.sync += self.refreshing.eq(0)
        with m.Elif(urgent | ((owed > 0) & ~self.waiting)):
            m.d.sync += self.refreshing.eq(1)
        return m
