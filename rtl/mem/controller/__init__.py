"""The memory controller of one pseudo-channel: a bank machine per bank, a two-stage
scheduler, refresh and the data paths, driving the DRAM command interface of
:mod:`rtl.mem.commands`.

Requests are already decoded into a flat bank, a row and a column (the burst index in the
row): the address map and the AXI front end sit in front of this block. Each request moves
one burst (``timing.burst_bytes``) with one RD or WR command and gets exactly one response.
The parts, each in a module of this package:

* :mod:`.bank`: a :class:`~.bank.BankMachine` per bank holds that bank's queue, open row and
  timing, and registers its candidate commands (stage 1);
* this module: the input register, write batching, and the choice among the banks'
  candidates (stage 2), one row and one column command per cycle as HBM's separate buses
  allow, into the command register;
* :mod:`.timing`: the rules between banks as registered flags;
* :mod:`.refresh`: when to refresh; :mod:`.responses`: write data out, read data and
  acknowledgements back, and the response FIFO behind the credits.

``docs/memory-controller.md`` describes the policy and the cycle relations in full.
"""

from math import ceil

from amaranth import Module, Signal, Cat, Const, Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from openmxu.dram import MAX_CYCLES
from ...params import check_int, validating
from ..bits import interleaved_round_robin, select_onehot
from ..commands import RowCommand, ColumnCommand, DramSignature, resolve_timing, timing_repr
from ..counters import log2
from .bank import BankMachine, entry_layout
from .refresh import Refresher
from .responses import ResponsePath, WriteData, response_layout
from .timing import ChannelTiming

__all__ = ["ChannelController", "BankMachine", "ChannelTiming", "Refresher", "ResponsePath",
           "WriteData", "request_layout", "response_layout", "COUNTERS", "COUNTER_BITS",
           "COMMAND_DELAY", "PIPELINE_DELAY", "BANK_COMMAND_SPACING", "DEFAULT_BANK_QUEUE_DEPTH",
           "MAX_BANK_QUEUE_DEPTH", "DEFAULT_STARVATION_LIMIT"]


#: The counter outputs, in the order of the component's members.
COUNTERS = ("reads", "writes", "bytes", "row_hits", "row_misses", "refreshes", "busy_cycles")

#: Width of every counter. They wrap, but not within a realistic run: at the peak of an
#: HBM3-6400 pseudo-channel (25.6 GB/s) the byte counter wraps after about 3 hours (with 32
#: bits it would after 0.17 s).
COUNTER_BITS = 48

#: Cycles from accepting a request to its first command on the DRAM interface when nothing
#: else is going on: the bank queue, the candidate register, the pick register and the
#: command register.
COMMAND_DELAY = 4

#: Cycles an unloaded read spends in the controller's registers and FIFOs, on top of the
#: device's latency to the last beat: :data:`COMMAND_DELAY` and 2 through the response FIFO.
PIPELINE_DELAY = COMMAND_DELAY + 2

#: Least cycles between two commands to one bank: a bank's candidates are chosen from its
#: state before its last command, so it has none in the cycle after one.
BANK_COMMAND_SPACING = 2

DEFAULT_TAG_WIDTH = 8
DEFAULT_STARVATION_LIMIT = 256
DEFAULT_BANK_QUEUE_DEPTH = 8
MAX_BANK_QUEUE_DEPTH = 16
MAX_RESPONSE_DEPTH = 256


def request_layout(timing, *, tag_width=DEFAULT_TAG_WIDTH):
    """``StructLayout`` of one request: ``write``; ``bank`` (flat, ``bank_group *
    banks_per_group + bank``), ``row`` and ``column`` (burst index in the row), as wide as
    the :class:`~rtl.mem.commands.DramSignature` fields; ``tag`` (returned with the
    response); ``data`` (one burst, byte 0 in bits 0-7) and ``strobe`` (one bit per byte,
    AXI ``WSTRB`` polarity: a set bit writes the byte). Reads ignore ``data`` and
    ``strobe``."""
    timing = resolve_timing(timing)
    bus = DramSignature(timing=timing)
    return data.StructLayout({
        "write": 1,
        "bank": bus.bank_width,
        "row": bus.row_width,
        "column": bus.column_width,
        "tag": tag_width,
        "data": timing.burst_bytes * 8,
        "strobe": timing.burst_bytes,
    })


class ChannelController(wiring.Component):
    """Memory controller of one pseudo-channel (see the module documentation and
    ``docs/memory-controller.md``).

    Each bank queues its own requests; a row hit may overtake an older miss of its bank, a
    request never overtakes an older one to its burst address, and the banks' candidates
    are chosen round robin, row commands and column commands separately.

    Writes are batched: the controller serves reads (read mode) until the pending writes
    reach ``write_high_watermark`` (or only writes are pending, or a new request waits for
    a bank queue that holds writes and no reads), then serves writes (write mode) until they
    drop to ``write_low_watermark`` while reads wait (or no write is pending, or a new
    request waits for a bank queue that holds reads and no writes). Two exceptions keep it correct and starvation
    free: a request of the other kind that a younger request waits on (same burst address)
    is served at once, ahead of the mode's requests; and once a request has waited
    ``starvation_limit`` cycles, the mode becomes its kind (with starved requests of both
    kinds, a mode ends once it has served one of its starved requests and lasted
    ``starvation_limit`` cycles).

    Parameters
    ----------
    timing : TimingPreset or str
        The organization and timing of the pseudo-channel (a preset or a preset's name).
    bank_queue_depth : int
        Requests each bank's queue holds (1 to 16, default 8). Reads leave the queue when
        their RD issues, writes when their data has gone out.
    starvation_limit : int
        Cycles a request may wait before it is served ahead of younger requests (1 to
        65535). Once a miss has waited this long, younger hits to its bank wait for it; once
        a request has, its kind (read or write) sets the mode.
    tag_width : int
        Width of the request tag returned with each response (1 to 32).
    response_depth : int or None
        Credits, and entries of the response FIFO (1 to 256): the column commands that may
        be outstanding, counted from issue until their response leaves. ``None`` (the
        default) picks :meth:`full_rate_response_depth`, enough to stream one burst every
        ``tccd_s`` cycles into a consumer that is always ready.
    write_high_watermark : int or None
        Pending writes that switch the controller to write mode (1 to :attr:`capacity`).
        ``None`` (the default): a quarter of the capacity, rounded up (16 of 64).
    write_low_watermark : int or None
        Pending writes at or below which write mode ends while reads are waiting (0 to
        ``write_high_watermark - 1``). ``None`` (the default): a quarter of the high
        watermark (4 of 16).

    Members
    -------
    requests : ``In(stream.Signature(request_layout(timing, tag_width=tag_width)))``
        Burst requests. A request enters its bank's queue in the cycle it is accepted, or
        waits in the input register while that queue is full; ``ready`` is high while the
        input register is empty or its request moves into its bank's queue. A ``bank``, ``row`` or ``column`` field whose count is 1
        is one bit wide and must be 0.
    responses : ``Out(stream.Signature(response_layout(timing, tag_width=tag_width)))``
        One response per request, in the order the data crossed the DRAM interface (not
        necessarily the request order). Reads carry their data; a write is acknowledged once
        its last beat has gone to the device.
    dram : ``Out(DramSignature(timing=timing))``
        The command interface, to a :class:`~rtl.mem.device.DramDevice` or a PHY.
    reads, writes : ``Out(COUNTER_BITS)``
        RD and WR commands issued. All counters are :data:`COUNTER_BITS` (48) wide and
        wrap.
    bytes : ``Out(COUNTER_BITS)``
        Bytes moved on the data bus, ``timing.burst_bytes`` per RD or WR (counted at the
        command; a write's masked bytes count too, since their beats occupy the bus).
    row_hits, row_misses : ``Out(COUNTER_BITS)``
        Column commands issued for requests that did not / did need an ACT of their own
        (a miss is counted once, at its RD or WR, however many ACTs it took).
    refreshes : ``Out(COUNTER_BITS)``
        REF commands issued.
    busy_cycles : ``Out(COUNTER_BITS)``
        Cycles with a request in the controller or a response not yet taken.
    """

    def __init__(self, *, timing, bank_queue_depth=DEFAULT_BANK_QUEUE_DEPTH,
                 starvation_limit=DEFAULT_STARVATION_LIMIT, tag_width=DEFAULT_TAG_WIDTH,
                 response_depth=None, write_high_watermark=None, write_low_watermark=None):
        with validating(self):
            timing = resolve_timing(timing)
            check_int("bank_queue_depth", bank_queue_depth, 1, MAX_BANK_QUEUE_DEPTH)
            check_int("starvation_limit", starvation_limit, 1, MAX_CYCLES)
            check_int("tag_width", tag_width, 1, 32)
            if response_depth is None:
                response_depth = self.full_rate_response_depth(timing)
            check_int("response_depth", response_depth, 1, MAX_RESPONSE_DEPTH)
            capacity = timing.banks * bank_queue_depth
            if write_high_watermark is None:
                write_high_watermark = -(-capacity // 4)
            check_int("write_high_watermark", write_high_watermark, 1, capacity,
                      extra=f" (at most the capacity, banks x bank_queue_depth = {capacity})")
            if write_low_watermark is None:
                write_low_watermark = min(write_high_watermark // 4, write_high_watermark - 1)
            check_int("write_low_watermark", write_low_watermark, 0, write_high_watermark - 1,
                      extra=f" (below write_high_watermark = {write_high_watermark})")
            if timing.refresh_enabled and self._refresh_deadline(timing) <= timing.trfc:
                raise ValueError(
                    f"trefi = {timing.trefi} is too short for this controller: with "
                    f"max_postponed_refreshes = {timing.max_postponed_refreshes} the next REF "
                    f"must start within {self._refresh_deadline(timing)} cycles, which must "
                    f"be above trfc = {timing.trfc}")
        self._timing = timing
        self._bank_queue_depth = bank_queue_depth
        self._starvation_limit = starvation_limit
        self._tag_width = tag_width
        self._response_depth = response_depth
        self._write_high_watermark = write_high_watermark
        self._write_low_watermark = write_low_watermark
        super().__init__({
            "requests": In(stream.Signature(request_layout(timing, tag_width=tag_width))),
            "responses": Out(stream.Signature(response_layout(timing, tag_width=tag_width))),
            "dram": Out(DramSignature(timing=timing)),
            **{name: Out(COUNTER_BITS) for name in COUNTERS},
        })

    # Parameters and derived figures -------------------------------------------------------

    @property
    def timing(self):
        return self._timing

    @property
    def bank_queue_depth(self):
        return self._bank_queue_depth

    @property
    def capacity(self):
        """Requests the controller queues in all: ``banks * bank_queue_depth``."""
        return self._timing.banks * self._bank_queue_depth

    @property
    def starvation_limit(self):
        return self._starvation_limit

    @property
    def tag_width(self):
        return self._tag_width

    @property
    def response_depth(self):
        return self._response_depth

    @property
    def write_high_watermark(self):
        return self._write_high_watermark

    @property
    def write_low_watermark(self):
        return self._write_low_watermark

    @staticmethod
    def full_rate_response_depth(timing):
        """Credits to issue one burst every ``tccd_s`` cycles with an always-ready consumer:
        a credit is held from the pick (cycle d) until the pop of its response has reached
        the registered credit check, ``max(cl, cwl) + burst_cycles + 4`` cycles later; one
        more absorbs a consumer's occasional stall."""
        timing = resolve_timing(timing)
        held = max(timing.cl, timing.cwl) + timing.burst_cycles + 4
        return ceil(held / timing.tccd_s) + 1

    @property
    def read_overhead(self):
        """Cycles from accepting an unloaded read to its response being valid, beyond the
        device's latency to the first beat (``row_miss_read_latency`` on a row miss, ``cl``
        on a hit): :data:`PIPELINE_DELAY` + ``burst_cycles - 1``."""
        return PIPELINE_DELAY + self._timing.burst_cycles - 1

    def read_latency(self, *, row_hit=False):
        """Cycles from accepting an unloaded read to its response being valid. A row miss
        finds another row open in its bank: PRE, ACT after tRP and RD after tRCD, each at
        least :data:`BANK_COMMAND_SPACING` after the one before (a bank takes a command at
        most every other cycle); then ``cl`` and :attr:`read_overhead`."""
        t = self._timing
        device = t.cl if row_hit else (max(t.trp, BANK_COMMAND_SPACING)
                                       + max(t.trcd_rd, BANK_COMMAND_SPACING) + t.cl)
        return device + self.read_overhead

    @staticmethod
    def _refresh_drain(timing):
        # Worst case from deciding to refresh to the REF: a command picked in that same cycle
        # (refreshing starts the cycle after, and the PREA's registered check the cycle after
        # that), then tRAS / tRTP / tWR of the newest row and column commands, then tRP.
        t = timing
        return (max(2, t.tras, t.trtp, t.cwl + t.burst_cycles + t.twr) + max(1, t.trp))

    @classmethod
    def _refresh_deadline(cls, timing):
        t = timing
        return (t.max_postponed_refreshes + 1) * t.trefi - cls._refresh_drain(t) - 1

    @property
    def refresh_deadline(self):
        """Cycles after a REF (or reset) at which the controller refreshes regardless of
        pending requests: the device's limit ``(max_postponed_refreshes + 1) * trefi`` less
        the worst time from that decision to the REF. ``None`` without refresh."""
        if not self._timing.refresh_enabled:
            return None
        return self._refresh_deadline(self._timing)

    def __repr__(self):
        return (f"ChannelController(timing={timing_repr(self._timing)}, "
                f"bank_queue_depth={self._bank_queue_depth}, "
                f"starvation_limit={self._starvation_limit}, "
                f"tag_width={self._tag_width}, response_depth={self._response_depth}, "
                f"write_high_watermark={self._write_high_watermark}, "
                f"write_low_watermark={self._write_low_watermark})")

    # Gateware ----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        banks, groups = t.banks, t.bank_groups
        depth = self._bank_queue_depth
        group_shift = log2(t.banks_per_group)
        limit = self._starvation_limit

        # Stage 1: the bank machines ---------------------------------------------------------
        machines = []
        for b in range(banks):
            machine = BankMachine(timing=t, depth=depth, tag_width=self._tag_width,
                                  starvation_limit=limit)
            m.submodules[f"bank{b}"] = machine
            machines.append(machine)

        def each(name):
            return Cat(*(getattr(machine, name) for machine in machines))

        def bank_of(value):
            return value[:log2(banks)] if banks > 1 else Const(0, 1)

        # Input: a request enters its bank's queue in the cycle it is accepted if the queue
        # has room, and otherwise waits in the input register, so that ``ready`` depends on
        # registers only.
        held = Signal(request_layout(t, tag_width=self._tag_width))
        held_valid = Signal()
        held_onehot = Signal(banks)
        incoming_onehot = Signal(banks)
        m.d.comb += [
            held_onehot.eq((Const(1, banks) << bank_of(held.bank))[:banks]),
            incoming_onehot.eq((Const(1, banks) << bank_of(self.requests.payload.bank))[:banks]),
        ]
        room = (each("has_room") & held_onehot).any()
        accept = self.requests.valid & self.requests.ready
        m.d.comb += self.requests.ready.eq(~held_valid | room)
        entering = Signal.like(held)
        entering_onehot = Signal(banks)
        m.d.comb += [
            entering.eq(Mux(held_valid, held, self.requests.payload)),
            entering_onehot.eq(Mux(held_valid, held_onehot, incoming_onehot)),
        ]
        enqueue = (held_valid | accept) & (each("has_room") & entering_onehot).any()
        with m.If(accept & (held_valid | ~enqueue)):
            m.d.sync += [held.eq(self.requests.payload), held_valid.eq(1)]
        with m.Elif(enqueue):
            m.d.sync += held_valid.eq(0)
        for b, machine in enumerate(machines):
            m.d.comb += [
                machine.enqueue.eq(enqueue & entering_onehot[b]),
                machine.request.write.eq(entering.write),
                machine.request.row.eq(entering.row),
                machine.request.column.eq(entering.column),
                machine.request.tag.eq(entering.tag),
            ]
        free_slot = select_onehot(entering_onehot, [machine.free_slot for machine in machines])

        m.submodules.write_data = write_data = WriteData(timing=t, bank_slots=depth)
        m.d.comb += [
            write_data.store.eq(enqueue & entering.write),
            write_data.store_bank.eq(bank_of(entering.bank)),
            write_data.store_slot.eq(free_slot),
            write_data.store_burst.data.eq(entering.data),
            write_data.store_burst.strobe.eq(entering.strobe),
        ]

        # Write batching ----------------------------------------------------------------------
        high, low = self._write_high_watermark, self._write_low_watermark
        capacity = self.capacity
        pending_reads = Signal(range(capacity + 1))
        pending_writes = Signal(range(capacity + 1))
        write_mode = Signal()
        exception = Signal()
        dwell = Signal(range(limit + 1))        # cycles in the current mode
        # With starved requests of both kinds, a mode ends only once it has served one of
        # its own starved requests (and lasted starvation_limit cycles): a mode that could
        # end before its starved request's bank has switched rows would take the bank back
        # to the other kind's row every time, and neither would ever be served.
        served_starved = Signal()
        turn_over = served_starved & (dwell == limit)
        starved_reads = each("starved_read").any()
        starved_writes = each("starved_write").any()
        # The input waits for a bank queue full of requests of the other mode only: only a
        # change of mode makes room in it.
        blocked = held_valid & ~room
        blocked_by_writes = (blocked & (each("holds_write") & ~each("holds_read")
                                        & held_onehot).any())
        blocked_by_reads = (blocked & (each("holds_read") & ~each("holds_write")
                                       & held_onehot).any())
        to_read = ((starved_reads & (~starved_writes | turn_over))
                   | (~starved_writes & ((pending_writes == 0)
                                         | ((pending_writes <= low) & (pending_reads != 0))
                                         | blocked_by_reads)))
        to_write = ((starved_writes & (~starved_reads | turn_over))
                    | (~starved_reads & ((pending_writes >= high)
                                         | ((pending_writes != 0) & (pending_reads == 0))
                                         | blocked_by_writes)))
        switch = Mux(write_mode, to_read, to_write)
        with m.If(switch):
            m.d.sync += [write_mode.eq(~write_mode), dwell.eq(0)]
        with m.Elif(dwell != limit):
            m.d.sync += dwell.eq(dwell + 1)
        # A request of the other kind that a younger one waits on is served first, alone:
        # while the mode's bursts kept the data bus, its command would never be legal.
        m.d.sync += exception.eq(Mux(write_mode, each("awaited_read").any(),
                                     each("awaited_write").any()))
        for machine in machines:
            m.d.comb += [machine.write_mode.eq(write_mode), machine.exception.eq(exception)]

        # Stage 2: the choice among the banks' candidates --------------------------------------
        m.submodules.channel_timing = timing = ChannelTiming(timing=t)
        refresher = None
        if t.refresh_enabled:
            m.submodules.refresher = refresher = Refresher(timing=t,
                                                           deadline=self.refresh_deadline)
        refreshing = refresher.refreshing if refresher is not None else Const(0)
        # Credits: ``outstanding`` counts the RD/WR commands before the pick register's whose
        # response has not left; a pick now needs one more credit than that if the register
        # holds a RD/WR too.
        depth_credits = self._response_depth
        outstanding = Signal(range(depth_credits + 1))
        one_left = Signal(init=1)
        two_left = Signal(init=int(depth_credits > 1))
        picked_col_valid = Signal()     # the pick register (below) holds a RD or WR
        col_allowed = Mux(picked_col_valid, two_left, one_left) & ~refreshing

        def group_bit(flags, b):
            return flags[b >> group_shift] if groups > 1 else flags[0]

        col_write = each("col_write")
        col_eligible = Signal(banks)
        m.d.comb += col_eligible.eq(each("col_valid") & col_allowed.replicate(banks) & Cat(*(
            Mux(col_write[b], group_bit(timing.wr_ok, b), group_bit(timing.rd_ok, b))
            for b in range(banks))))
        # ACTs are the scarce row commands (tRRD, tFAW), so an eligible ACT of an offered
        # request goes first, then a PRE of an offered request, then the same for lookahead
        # requests. ACTs and PREs have a chooser each, so that the kind of the row command
        # is known without waiting for a choice.
        row_act = each("row_act")
        row_valid = each("row_valid") & ~refreshing.replicate(banks)
        offered = ~each("row_lookahead")
        acts = Signal(banks)
        pres = Signal(banks)
        m.d.comb += [
            acts.eq(row_valid & row_act & Cat(*(group_bit(timing.act_ok, b)
                                                for b in range(banks)))),
            pres.eq(row_valid & ~row_act),
        ]
        issue_act = Signal()
        m.d.comb += issue_act.eq((acts & offered).any()
                                 | (acts.any() & ~(pres & offered).any()))
        act_grant = interleaved_round_robin(m, [acts & offered, acts], groups,
                                            accepted=issue_act, name="act_choice")
        pre_grant = interleaved_round_robin(m, [pres & offered, pres], groups,
                                            accepted=~issue_act, name="pre_choice")
        row_grant = Signal(banks)
        m.d.comb += row_grant.eq(Mux(issue_act, act_grant, pre_grant))
        col_grant = interleaved_round_robin(m, col_eligible, groups, name="col_choice")
        col_issue = col_eligible.any()
        row_issue = (acts | pres).any()

        bank_number = [Const(b, max(1, log2(banks))) for b in range(banks)]
        issue_write = select_onehot(col_grant, [machine.col_write for machine in machines])

        # Refresh: close every bank with one PREA, then REF.
        any_open = each("open").any()
        prea_ok = Signal()
        m.d.sync += prea_ok.eq((~each("open") | each("pre_next")).all() & ~col_issue & ~row_issue)
        prea_issue = refreshing & any_open & prea_ok
        ref_issue = refreshing & ~any_open & timing.ref_ok
        if refresher is not None:
            m.d.comb += [refresher.ref.eq(ref_issue),
                         refresher.waiting.eq(each("busy").any() | held_valid)]

        for b, machine in enumerate(machines):
            m.d.comb += [machine.col_grant.eq(col_grant[b]), machine.row_grant.eq(row_grant[b]),
                         machine.prea.eq(prea_issue)]

        # The pick register holds the choice: the commands' kinds and banks, and which bank
        # machines' candidates they are (the machines hold those for a cycle). The command
        # register takes the rows, columns and tags from them a cycle later, so no
        # multiplexer over the banks follows the choice in its cycle. Everything that
        # follows a command and is not a bank machine's (the rules between banks, credits,
        # the write data, tags in flight, pending counts and counters) learns of it from the
        # pick register.
        picked_row = Signal(banks)      # the bank whose row candidate was picked, one-hot
        picked_col = Signal(banks)
        picked_row_valid = Signal()
        picked_row_cmd = Signal.like(self.dram.row_cmd)
        picked_row_bank = Signal.like(self.dram.row_bank)
        picked_write = Signal()
        picked_col_bank = Signal.like(self.dram.col_bank)
        m.d.sync += [
            picked_row.eq(row_grant),
            picked_col.eq(col_grant),
            picked_row_valid.eq(row_issue | prea_issue | ref_issue),
            picked_row_cmd.eq(Mux(ref_issue, RowCommand.REF,
                                  Mux(prea_issue, RowCommand.PREA,
                                      Mux(issue_act, RowCommand.ACT, RowCommand.PRE)))),
            picked_row_bank.eq(select_onehot(row_grant, bank_number)),
            picked_col_valid.eq(col_issue),
            picked_write.eq(issue_write),
            picked_col_bank.eq(select_onehot(col_grant, bank_number)),
        ]

        def picked(name):
            grant = picked_col if name.startswith("col_") else picked_row
            return select_onehot(grant, [getattr(machine, name) for machine in machines])

        # The command register.
        dram = self.dram
        m.d.sync += [
            dram.row_valid.eq(picked_row_valid),
            dram.row_cmd.eq(picked_row_cmd),
            dram.row_bank.eq(picked_row_bank),
            dram.row.eq(picked("row_row")),
            dram.col_valid.eq(picked_col_valid),
            dram.col_cmd.eq(Mux(picked_write, ColumnCommand.WR, ColumnCommand.RD)),
            dram.col_bank.eq(picked_col_bank),
            dram.column.eq(picked("col_column")),
        ]
        picked_act = picked_row_valid & (picked_row_cmd == RowCommand.ACT)
        picked_ref = picked_row_valid & (picked_row_cmd == RowCommand.REF)
        picked_close = picked_row_valid & ((picked_row_cmd == RowCommand.PRE)
                                           | (picked_row_cmd == RowCommand.PREA))
        picked_rd = picked_col_valid & ~picked_write
        picked_wr = picked_col_valid & picked_write
        m.d.comb += [
            timing.act.eq(picked_act),
            timing.close.eq(picked_close),
            timing.ref.eq(picked_ref),
            timing.rd.eq(picked_rd),
            timing.wr.eq(picked_wr),
            timing.row_group.eq(picked_row_bank >> group_shift),
            timing.col_group.eq(picked_col_bank >> group_shift),
        ]

        with m.If(switch):
            m.d.sync += served_starved.eq(0)
        with m.Elif(picked_col_valid & picked("col_starved") & (picked_write == write_mode)):
            m.d.sync += served_starved.eq(1)

        # Pending counts of the mode rule: +1 on entering a bank queue, -1 on the RD/WR.
        m.d.sync += [
            pending_reads.eq(pending_reads + (enqueue & ~entering.write) - picked_rd),
            pending_writes.eq(pending_writes + (enqueue & entering.write) - picked_wr),
        ]

        # Data paths and credits --------------------------------------------------------------
        m.d.comb += [
            write_data.issue.eq(picked_wr),
            write_data.issue_bank.eq(picked_col_bank),
            write_data.issue_slot.eq(picked("col_slot")),
            dram.wdata.eq(write_data.wdata),
            dram.wmask.eq(write_data.wmask),
        ]
        for b, machine in enumerate(machines):
            m.d.comb += [
                machine.release.eq(write_data.release & (write_data.release_bank == b)),
                machine.release_slot.eq(write_data.release_slot),
            ]
        m.submodules.response_path = responses = ResponsePath(
            timing=t, tag_width=self._tag_width, depth=self._response_depth)
        m.d.comb += [
            responses.issue.eq(picked_col_valid),
            responses.issue_tag.eq(picked("col_tag")),
            responses.issue_write.eq(picked_write),
            responses.write_done.eq(write_data.done),
            responses.rdata.eq(dram.rdata),
            responses.rdata_valid.eq(dram.rdata_valid),
        ]
        wiring.connect(m, responses.responses, wiring.flipped(self.responses))
        pop = responses.pop
        with m.If(picked_col_valid & ~pop):
            m.d.sync += [outstanding.eq(outstanding + 1),
                         one_left.eq(outstanding + 1 < depth_credits),
                         two_left.eq(outstanding + 2 < depth_credits)]
        with m.Elif(~picked_col_valid & pop):
            m.d.sync += [outstanding.eq(outstanding - 1), one_left.eq(1),
                         two_left.eq(outstanding < depth_credits)]

        # Counters ----------------------------------------------------------------------------
        # Counted from the pick register, like everything after the choice.
        row_hit = picked("col_row_hit")
        increments = {
            "reads": (picked_rd, 1),
            "writes": (picked_wr, 1),
            "bytes": (picked_col_valid, t.burst_bytes),
            "row_hits": (picked_col_valid & row_hit, 1),
            "row_misses": (picked_col_valid & ~row_hit, 1),
            "refreshes": (picked_ref, 1),
            "busy_cycles": (each("busy").any() | held_valid | picked_col_valid
                            | (outstanding != 0), 1),
        }
        assert tuple(increments) == COUNTERS        # the one list of counter names
        for name, (event, step) in increments.items():
            counter = getattr(self, name)
            with m.If(event):
                m.d.sync += counter.eq(counter + step)
        return m
