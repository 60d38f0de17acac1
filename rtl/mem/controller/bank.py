"""One bank's part of the channel controller: its request queue, its open row and timing,
and the commands it would issue next (LiteDRAM calls this a bank machine).

The queue holds ``depth`` requests to the bank. Their arrival order is an age matrix (one
bit per pair of slots), so a younger request may leave first: a row hit goes before an
older miss (first-ready FCFS), reads and writes wait for their mode (write batching), and a
request never overtakes an older one to the same burst address. Everything is small because
it spans one bank: ``depth`` slots, ``depth`` row comparators with the open row, and the
bank's own timing rules as registered flags.

Every cycle the machine registers two candidates from its registers alone: a column
command (RD or WR of its oldest offered row hit whose command is legal next cycle) and a row
command (ACT or PRE for its oldest offered miss, or ahead of time for a request of the other
mode). The channel's scheduler chooses among the banks' candidates the next cycle. A bank
whose candidate was issued (or that a PREA closed) registers none in that cycle, since its
candidates were chosen from the state before the command: each bank takes a command at
most every other cycle, which its own rules (tCCD_L, tRCD, tRP) ask for anyway. A picked
candidate's fields hold for the cycle after the pick, when the controller's command register
takes them.
"""

from amaranth import Module, Signal, Cat, Const, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..bits import lowest_set, select_onehot
from ..counters import since_counter
from ..commands import DramSignature, resolve_timing, timing_repr
from .timing import met_flag

__all__ = ["BankMachine", "entry_layout"]


def entry_layout(timing, *, tag_width):
    """``StructLayout`` of a queued request: its kind, row, column and tag (the bank is the
    queue's; write data waits in the controller's write store)."""
    bus = DramSignature(timing=timing)
    return data.StructLayout({
        "write": 1,
        "row": bus.row_width,
        "column": bus.column_width,
        "tag": tag_width,
    })


class BankMachine(wiring.Component):
    """Request queue, row state, timing and command candidates of one bank (see the module
    documentation).

    Parameters
    ----------
    timing : TimingPreset or str
    depth : int
        Requests the queue holds.
    tag_width : int
    starvation_limit : int
        Cycles after which a waiting request counts as starved: a starved miss holds back
        the younger hits of the bank, so that its PRE can go.

    Members
    -------
    enqueue : ``In(1)``
        Take ``request`` into slot ``free_slot`` (only while ``has_room``).
    request : ``In(entry_layout(timing, tag_width=tag_width))``
    has_room : ``Out(1)``
    free_slot : ``Out(range(depth))``
    write_mode, exception : ``In(1)``
        The channel's mode (offer writes, else reads) and whether only requests that a
        younger one waits on are offered (see :class:`~rtl.mem.controller.ChannelController`).
    col_grant, row_grant, prea : ``In(1)``
        This bank's column or row candidate was picked this cycle; a PREA was picked.
    release : ``In(1)``, ``release_slot`` : ``In(range(depth))``
        A write's data has gone out: its slot is free.
    col_valid, col_write, col_column, col_tag, col_slot, col_row_hit, col_starved : ``Out``
        The column candidate (registered); ``col_row_hit``: its request needed no ACT;
        ``col_starved``: it has waited ``starvation_limit`` cycles.
    row_valid, row_act, row_row, row_lookahead : ``Out``
        The row candidate (registered): an ACT of ``row_row`` or a PRE; ``row_lookahead``:
        for a request that is not offered (a lower priority).
    open, pre_next : ``Out(1)``
        A row is open; a PRE would be legal next cycle.
    busy, holds_read, holds_write : ``Out(1)``
        A slot is in use; a read is waiting; a write is waiting.
    starved_read, starved_write, awaited_read, awaited_write : ``Out(1)``
        A read (write) waiting here has been waiting ``starvation_limit`` cycles; a read
        (write) waiting here is one that a younger request to its burst address waits on.
    """

    def __init__(self, *, timing, depth, tag_width, starvation_limit):
        timing = resolve_timing(timing)
        self._timing = timing
        self._depth = depth
        self._tag_width = tag_width
        self._starvation_limit = starvation_limit
        bus = DramSignature(timing=timing)
        slot = range(max(depth, 2))
        super().__init__({
            "enqueue": In(1),
            "request": In(entry_layout(timing, tag_width=tag_width)),
            "has_room": Out(1),
            "free_slot": Out(slot),
            "write_mode": In(1), "exception": In(1),
            "col_grant": In(1), "row_grant": In(1), "prea": In(1),
            "release": In(1), "release_slot": In(slot),
            "col_valid": Out(1), "col_write": Out(1), "col_column": Out(bus.column_width),
            "col_tag": Out(tag_width), "col_slot": Out(slot), "col_row_hit": Out(1),
            "col_starved": Out(1),
            "row_valid": Out(1), "row_act": Out(1), "row_row": Out(bus.row_width),
            "row_lookahead": Out(1),
            "open": Out(1), "pre_next": Out(1),
            "busy": Out(1), "holds_read": Out(1), "holds_write": Out(1),
            "starved_read": Out(1), "starved_write": Out(1),
            "awaited_read": Out(1), "awaited_write": Out(1),
        })

    def __repr__(self):
        return (f"BankMachine(timing={timing_repr(self._timing)}, depth={self._depth}, "
                f"tag_width={self._tag_width}, starvation_limit={self._starvation_limit})")

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        n = self._depth
        limit = self._starvation_limit
        write_end = t.cwl + t.burst_cycles

        entries = [Signal(entry_layout(t, tag_width=self._tag_width), name=f"slot{i}")
                   for i in range(n)]
        ages = [Signal(range(limit + 1), name=f"slot{i}_age") for i in range(n)]
        occupied = Signal(n)    # in use: pending, or a write whose data is going out
        pending = Signal(n)     # waiting for its RD or WR
        missed = Signal(n)      # an ACT was issued for it
        # Relations between slots, one word per slot so that every question about them is a
        # word operation: bit j of older_than[i], slot j arrived before slot i; bit j of
        # waits_on[i], slot i waits for slot j, an older request to its burst address; bit j
        # of waited_by[i], slot j waits for slot i.
        older_than = [Signal(n, name=f"slot{i}_older_than") for i in range(n)]
        waits_on = [Signal(n, name=f"slot{i}_waits_on") for i in range(n)]
        waited_by = [Signal(n, name=f"slot{i}_waited_by") for i in range(n)]
        is_open = Signal()
        open_row = Signal.like(self.request.row)

        def vector(name, bits):
            wire = Signal(n, name=name)
            m.d.comb += wire.eq(Cat(*bits))
            return wire

        def oldest(selected, name):
            """The oldest slot of ``selected``, one-hot."""
            return vector(name, [selected[i] & ~(selected & older_than[i]).any()
                                 for i in range(n)])

        # Timing of this bank, as flags for a command picked next cycle ----------------------
        issued = self.col_grant | self.row_grant | self.prea
        act = self.row_grant & self.row_act
        close = (self.row_grant & ~self.row_act) | (self.prea & is_open)
        rd = self.col_grant & ~self.col_write
        wr = self.col_grant & self.col_write
        since_act = since_counter(m, act, max(t.trcd_rd, t.trcd_wr, t.tras, t.trc),
                                  name="since_act")
        since_pre = since_counter(m, close, t.trp, name="since_pre")
        since_rd = since_counter(m, rd, t.trtp, name="since_rd")
        since_wr = since_counter(m, wr, write_end + t.twr, name="since_wr")
        act_next = (met_flag(m, since_act, act, t.trc, lead=1, name="trc_met")
                    & met_flag(m, since_pre, close, t.trp, lead=1, name="trp_met"))
        pre_next = (met_flag(m, since_act, act, t.tras, lead=1, name="tras_met")
                    & met_flag(m, since_rd, rd, t.trtp, lead=1, name="trtp_met")
                    & met_flag(m, since_wr, wr, write_end + t.twr, lead=1, name="twr_met"))
        rd_next = met_flag(m, since_act, act, t.trcd_rd, lead=1, name="trcd_rd_met")
        wr_next = met_flag(m, since_act, act, t.trcd_wr, lead=1, name="trcd_wr_met")
        with m.If(act):
            m.d.sync += [is_open.eq(1), open_row.eq(self.row_row)]
        with m.Elif(close):
            m.d.sync += is_open.eq(0)
        m.d.comb += [self.open.eq(is_open), self.pre_next.eq(pre_next)]

        # Which requests are offered, and the candidates -------------------------------------
        writes = Cat(*(e.write for e in entries))
        hit = vector("hit", [is_open & (e.row == open_row) for e in entries])
        starved = vector("starved", [age == limit for age in ages])
        hazard = vector("hazard", [(waits_on[i] & pending).any() for i in range(n)])
        awaited = vector("awaited", [(waited_by[i] & pending).any() for i in range(n)])
        in_mode = Mux(self.write_mode, writes, ~writes)
        offered = vector("offered", [pending & Mux(self.exception, awaited, in_mode | awaited)])
        # A starved miss holds back the younger hits, so that its PRE can go.
        starved_miss = offered & ~hit & starved
        held_back = vector("held_back", [(starved_miss & older_than[i]).any()
                                         for i in range(n)])
        live = vector("live", [offered & hit & ~hazard & ~held_back])
        legal = (writes & wr_next.replicate(n)) | (~writes & rd_next.replicate(n))
        col_pick = oldest(live & legal, "col_pick")
        first_miss = oldest(offered & ~hit, "first_miss")
        # Open page: a PRE waits while an offered request still hits the open row. With
        # nothing offered, the row is prepared for the oldest waiting request (lookahead),
        # and a PRE then waits while any waiting request hits.
        primary = first_miss.any() & Mux(is_open, pre_next & ~live.any(), act_next)
        ahead_miss = oldest(pending & ~hit, "ahead_miss")
        lookahead = (~offered.any() & ahead_miss.any()
                     & Mux(is_open, pre_next & ~(pending & hit).any(), act_next))
        row_pick = Mux(primary, first_miss, ahead_miss)

        m.d.sync += [
            self.col_valid.eq(col_pick.any() & ~issued),
            self.row_valid.eq((primary | lookahead) & ~issued),
        ]
        # A candidate picked holds for a cycle: the controller's command register takes its
        # row, column and tag from here then.
        with m.If(~issued):
            m.d.sync += [
                self.col_write.eq(select_onehot(col_pick, [e.write for e in entries])),
                self.col_column.eq(select_onehot(col_pick, [e.column for e in entries])),
                self.col_tag.eq(select_onehot(col_pick, [e.tag for e in entries])),
                self.col_slot.eq(select_onehot(col_pick, [Const(i, self.col_slot.shape())
                                                          for i in range(n)])),
                self.col_row_hit.eq(~(col_pick & missed).any()),
                self.col_starved.eq((col_pick & starved).any()),
                self.row_act.eq(~is_open),
                self.row_row.eq(select_onehot(row_pick, [e.row for e in entries])),
                self.row_lookahead.eq(~primary),
            ]
        row_slot = Signal(n)        # the request the row candidate is for
        m.d.sync += row_slot.eq(row_pick)

        # Bookkeeping ----------------------------------------------------------------------
        free = lowest_set(m, ~occupied, range(max(n, 2)), "free")
        m.d.comb += [self.has_room.eq(~occupied.all()), self.free_slot.eq(free)]
        filling = Mux(self.enqueue, (Const(1, n) << free)[:n], 0)
        granted = Mux(self.col_grant, (Const(1, n) << self.col_slot)[:n], 0)
        freeing = Mux(self.release, (Const(1, n) << self.release_slot)[:n], 0)
        m.d.sync += [
            pending.eq((pending & ~granted) | filling),
            occupied.eq((occupied & ~(granted & ~writes) & ~freeing) | filling),
            missed.eq((missed | Mux(act, row_slot, 0)) & ~filling),
        ]
        request = self.request
        # The pending requests the new one waits for: older ones to its burst address.
        same_address = Signal(n)
        m.d.comb += same_address.eq(Cat(*(pending[j] & (entries[j].row == request.row)
                                          & (entries[j].column == request.column)
                                          for j in range(n))))
        for i in range(n):
            with m.If(filling[i]):
                m.d.sync += [
                    entries[i].eq(request), ages[i].eq(0),
                    # Every slot in use is older; a slot not in use gets its relation when
                    # it fills.
                    older_than[i].eq(occupied),
                    waits_on[i].eq(same_address),
                    waited_by[i].eq(0),
                ]
            with m.Else():
                with m.If(pending[i] & (ages[i] != limit)):
                    m.d.sync += ages[i].eq(ages[i] + 1)
                # A slot refilled holds a younger request, which slot i does not wait for.
                m.d.sync += [
                    older_than[i].eq(older_than[i] & ~filling),
                    waits_on[i].eq(waits_on[i] & ~filling),
                    waited_by[i].eq((waited_by[i] & ~filling)
                                    | Mux(same_address[i], filling, 0)),
                ]

        m.d.comb += [
            self.busy.eq(occupied.any()),
            self.holds_read.eq((pending & ~writes).any()),
            self.holds_write.eq((pending & writes).any()),
            self.starved_read.eq((pending & starved & ~writes).any()),
            self.starved_write.eq((pending & starved & writes).any()),
            self.awaited_read.eq((pending & awaited & ~writes).any()),
            self.awaited_write.eq((pending & awaited & writes).any()),
        ]
        return m
