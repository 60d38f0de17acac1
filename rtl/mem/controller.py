"""The core of a per-pseudo-channel memory controller: a request queue, per-bank row state,
a first-ready FCFS scheduler with a starvation bound, refresh, and the data paths, driving the
DRAM command interface of :mod:`rtl.mem.commands`.

Requests are already decoded into a flat bank, a row and a column (the burst index in the
row): the address map and the AXI front end sit in front of this block. Each request moves
one burst (``timing.burst_bytes``) with one RD or WR command and gets exactly one response.

How it is built, in the order a request meets the parts:

* **Queue.** ``queue_depth`` slots, each holding the request's fields; write data and strobes
  sit in a small memory indexed by slot. Arrival order is kept as an age matrix (one bit per
  pair of slots), so any slot can leave first and "the oldest of a set" is a few gates per
  slot. A read leaves its slot when its RD issues; a write keeps it until its data has gone
  out, since the data is read from the slot's memory word ``cwl`` cycles after the WR.
* **Scheduler** (one row and one column command per cycle, as HBM's separate buses allow).
  It schedules among the *offered* requests, a subset of the pending ones:

  - write batching: the controller is in read mode or in write mode, and offers only the
    pending requests of its mode, to the column and the row picks alike, so that the data
    bus turns around (some 10-15 idle bus cycles each way on HBM2) once per batch rather
    than at every change of request kind. It enters write mode when the pending
    writes reach ``write_high_watermark``, or when writes but no reads are pending; it
    returns to read mode when they drop to ``write_low_watermark`` or below while reads are
    pending, or when no write is pending. The mode decided in a cycle applies in that cycle
    (and is kept in a register for the next), so a lone request never waits for it;
  - same-address exception: a request that a younger pending request of the mode waits on
    (see ordering) is offered although it is of the other kind, and the requests younger
    than it are held back until it has issued, so that its command finds the data bus
    turned around. A read after a write to one burst thus costs one turnaround each way,
    not a wait for the next batch;
  - starvation exception: once the oldest pending request has waited ``starvation_limit``
    cycles, the mode is that request's kind and only requests of its kind are offered, so
    that the other kind's bursts stop occupying the data bus (a WR waits for the bus to be
    clear of read data, which a stream of younger reads would otherwise keep busy);
  - column: the oldest offered request that hits an open row and whose RD/WR is legal this
    cycle;
  - row: among the offered requests that are the oldest offered miss of their bank, the
    oldest whose ACT (bank closed) or PRE (bank open with another row) is legal. A PRE
    waits while any offered request still hits the open row (open-page policy), so a row
    is not closed under queued hits of the mode;
  - row lookahead: in a cycle with no such row command, a bank that no offered request
    needs gets the ACT (or the PRE, once no pending request hits its open row) of its
    oldest waiting request of the other kind, so the next batch starts on open rows;
  - starvation bound: a miss older than ``starvation_limit`` cycles blocks the younger hits
    to its bank, which lets its PRE through;
  - ordering: a request never overtakes an older one to the same burst address (bank, row,
    column), whatever the mode, so a read after a write returns the written data; requests
    to other addresses are reordered freely. Once issued, the device's own timing (tWTR,
    the data bus) keeps same-address commands in order.
* **Timing.** Every rule of the device model (:class:`~rtl.mem.device.DramDevice`) is
  mirrored with the device's own reference points: per bank the cycles since its ACT,
  row-closing PRE, RD and WR; per bank group and per pseudo-channel the cycles since the last
  ACT, RD and WR; the last four ACTs (tFAW); the last REF (tRFC); and the data-bus occupancy.
  A command is issued only when every rule allows it, so the device's checker never fires.
  The controller is slightly conservative in two places: tRRD applies to the same bank too
  (tRC is longer anyway), and a row and a column command never go to one bank in one cycle.
* **Refresh.** A timer adds a refresh owed every ``trefi`` cycles. With refreshes owed the
  controller refreshes as soon as no request is waiting; under load it postpones them
  until ``max_postponed_refreshes`` are owed (at least one), and it refreshes regardless when
  the time since the last REF approaches the device's deadline, ``(max_postponed_refreshes +
  1) * trefi`` (:attr:`ChannelController.refresh_deadline`). Refreshing blocks new ACT, RD
  and WR, closes every open bank with one PREA when tRAS, tRTP and tWR allow, then issues REF
  after tRP. A REF with nothing owed (the deadline case) counts as pulled in.
* **Responses and credits.** Every RD or WR takes a credit; the credit returns when its
  response leaves :attr:`responses`. There are ``response_depth`` credits and as many
  entries in the response FIFO, so read data always has a place to land however long the
  consumer stalls: the controller stops issuing instead of dropping data.

Cycle relations (cycles of the controller clock = tCK):

* a request accepted in cycle ``a`` is in the queue from cycle ``a + 1``, when the scheduler
  may pick it;
* commands are registered: a command the scheduler picks in cycle ``d`` is on the DRAM
  interface in cycle ``d + 1`` (write beat k then in cycle ``d + 1 + cwl + k``, read beat k
  back in ``d + 1 + cl + k``);
* a response is written to the response FIFO in the cycle of the burst's last data beat on
  the interface (for writes too: "written" means the device has the data) and is valid on
  :attr:`responses` two cycles later (:class:`~amaranth.lib.fifo.SyncFIFOBuffered`).

Hence the **fixed pipeline delay**: an unloaded read that misses (another row open in its
bank) has its response valid :attr:`ChannelController.read_overhead` = ``4 + burst_cycles -
1`` cycles after :attr:`TimingPreset.row_miss_read_latency` (``trp + trcd_rd + cl``) counted
from its acceptance: 2 before the PRE reaches the device (request register, command
register), ``burst_cycles - 1`` for the rest of the burst after the first beat, and 2 through
the response FIFO. A row hit is ``cl`` plus the same overhead.
"""

from math import ceil

from amaranth import Module, Signal, Shape, Cat, Const, Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from openmxu.dram import MAX_CYCLES
from .bits import lowest_set
from .counters import log2, cycles_since, rule_met
from ..params import check_int, validating
from .commands import RowCommand, ColumnCommand, DramSignature, resolve_timing, timing_repr

__all__ = ["ChannelController", "BankState", "request_layout", "response_layout", "COUNTERS",
           "COUNTER_BITS", "COMMAND_DELAY", "PIPELINE_DELAY"]


#: The counter outputs, in the order of the component's members.
COUNTERS = ("reads", "writes", "bytes", "row_hits", "row_misses", "refreshes", "busy_cycles")

#: Width of every counter. They wrap, but not within a realistic run: at the peak of an
#: HBM3-6400 pseudo-channel (25.6 GB/s) the byte counter wraps after about 3 hours (with 32
#: bits it would after 0.17 s).
COUNTER_BITS = 48

#: Cycles from accepting a request to its first command on the DRAM interface when nothing
#: else is going on: the request register and the command register.
COMMAND_DELAY = 2

#: Cycles an unloaded read spends in the controller's registers and FIFOs, on top of the
#: device's latency to the last beat: :data:`COMMAND_DELAY` and 2 through the response FIFO.
PIPELINE_DELAY = COMMAND_DELAY + 2

DEFAULT_TAG_WIDTH = 8
DEFAULT_STARVATION_LIMIT = 256
DEFAULT_QUEUE_DEPTH = 32
MAX_QUEUE_DEPTH = 32
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


def response_layout(timing, *, tag_width=DEFAULT_TAG_WIDTH):
    """``StructLayout`` of one response: the request's ``tag`` and ``write`` and, for a
    read, the burst's ``data`` (0 for a write)."""
    timing = resolve_timing(timing)
    return data.StructLayout({
        "tag": tag_width,
        "write": 1,
        "data": timing.burst_bytes * 8,
    })




def _bit(vector, index, count):
    """Bit ``index`` of ``vector`` (a value of ``count`` bits)."""
    return vector[0] if count == 1 else vector.bit_select(index, 1)


def _element(array, index, count):
    """Element ``index`` of an ``ArrayLayout`` view of ``count`` elements."""
    return array[0] if count == 1 else array[index]


class BankState(wiring.Component):
    """Open rows and timing state of every bank of a pseudo-channel, as the controller
    tracks them: which commands the timing rules allow this cycle.

    The state mirrors the device model's (:class:`~rtl.mem.device.DramDevice`) with the same
    reference points: per bank the cycles since its ACT, its row-closing PRE, its RD and its
    WR; per bank group and per pseudo-channel the cycles since the last ACT, RD and WR; the
    cycles since each of the last four ACTs (tFAW), since the last row-closing PRE and the
    last REF; and the cycles until the data bus is free. Each counter saturates at the
    largest rule that counts from its event. Commands are counted in the cycle they are
    picked; since every command goes through the same output register, the distances the
    device sees are the same.

    One rule is applied more strictly than the device does: tRRD also between ACTs to the
    same bank (tRC, which is longer in every real preset, applies there anyway).

    Parameters
    ----------
    timing : TimingPreset or str

    Members
    -------
    act, pre, prea, ref : ``In(1)``
        A row command picked this cycle (at most one of them).
    row_bank : ``In(bank_width)``
        The bank of an ACT or PRE.
    act_row : ``In(row_width)``
        The row an ACT opens.
    rd, wr : ``In(1)``
        A column command picked this cycle (at most one of them).
    col_bank : ``In(bank_width)``
    open : ``Out(banks)``
        Bit b: bank b has a row open.
    rows : ``Out(data.ArrayLayout(row_width, banks))``
        The open row of each bank (meaningful while it is open).
    act_ok, pre_ok, rd_ok, wr_ok : ``Out(banks)``
        Bit b: the command to bank b is legal this cycle (ACT: bank closed; PRE, RD, WR:
        bank open).
    prea_ok : ``Out(1)``
        PREA is legal: every open bank may close.
    ref_ok : ``Out(1)``
        REF is legal: every bank closed, tRP and tRFC met.
    """

    def __init__(self, *, timing):
        with validating(self):
            timing = resolve_timing(timing)
        self._timing = timing
        bus = DramSignature(timing=timing)
        banks = timing.banks
        super().__init__({
            "act": In(1), "pre": In(1), "prea": In(1), "ref": In(1),
            "row_bank": In(bus.bank_width),
            "act_row": In(bus.row_width),
            "rd": In(1), "wr": In(1),
            "col_bank": In(bus.bank_width),
            "open": Out(banks),
            "rows": Out(data.ArrayLayout(bus.row_width, banks)),
            "act_ok": Out(banks), "pre_ok": Out(banks), "rd_ok": Out(banks),
            "wr_ok": Out(banks),
            "prea_ok": Out(1), "ref_ok": Out(1),
        })

    @property
    def timing(self):
        return self._timing

    def __repr__(self):
        return f"BankState(timing={timing_repr(self._timing)})"

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        banks, groups = t.banks, t.bank_groups
        bank_bits, group_shift = log2(banks), log2(t.banks_per_group)
        write_end = t.cwl + t.burst_cycles       # WR to the end of its write data

        def bank_of(value):
            return value[:bank_bits] if bank_bits else Const(0, 1)

        def group_of(value):
            return value[group_shift:bank_bits] if bank_bits > group_shift else Const(0, 1)

        # Counters ----------------------------------------------------------------------
        act_sat = max(1, t.trcd_rd, t.trcd_wr, t.tras, t.trc)
        pre_sat = max(1, t.trp)
        rd_sat = max(1, t.trtp)
        wr_sat = max(1, write_end + t.twr)
        bank_layout = data.StructLayout({
            "since_act": range(act_sat + 1),
            "since_pre": range(pre_sat + 1),
            "since_rd": range(rd_sat + 1),
            "since_wr": range(wr_sat + 1),
        })
        bank_init = {"since_act": act_sat, "since_pre": pre_sat, "since_rd": rd_sat,
                     "since_wr": wr_sat}
        bank_timers = Signal(data.ArrayLayout(bank_layout, banks), init=[bank_init] * banks)
        group_act_sat = max(1, t.trrd_l)
        group_rd_sat = max(1, t.tccd_l)
        group_wr_sat = max(1, t.tccd_l, write_end + t.twtr_l)
        group_layout = data.StructLayout({
            "since_act": range(group_act_sat + 1),
            "since_rd": range(group_rd_sat + 1),
            "since_wr": range(group_wr_sat + 1),
        })
        group_init = {"since_act": group_act_sat, "since_rd": group_rd_sat,
                      "since_wr": group_wr_sat}
        group_timers = Signal(data.ArrayLayout(group_layout, groups), init=[group_init] * groups)
        any_act_sat = max(1, t.trrd_s)
        any_rd_sat = max(1, t.tccd_s)
        any_wr_sat = max(1, t.tccd_s, write_end + t.twtr_s)
        since_act = Signal(range(any_act_sat + 1), init=any_act_sat)
        since_rd = Signal(range(any_rd_sat + 1), init=any_rd_sat)
        since_wr = Signal(range(any_wr_sat + 1), init=any_wr_sat)
        # The last PRE or PREA (the controller only closes open banks), for REF's tRP.
        since_pre = Signal(range(pre_sat + 1), init=pre_sat)
        ref_sat = max(1, t.trfc)
        since_ref = Signal(range(ref_sat + 1), init=ref_sat)
        faw_sat = max(1, t.tfaw)
        faw = Signal(data.ArrayLayout(range(faw_sat + 1), 4), init=[faw_sat] * 4)
        faw_next = Signal(2)
        # Cycles from now until the data bus is free of every burst picked so far.
        bus_busy = Signal(range(max(t.cl, t.cwl) + t.burst_cycles))

        # Legality ----------------------------------------------------------------------
        act_ok_any = (rule_met(since_act, t.trrd_s)
                      & (rule_met(faw[faw_next], t.tfaw) if t.tfaw else Const(1))
                      & rule_met(since_ref, t.trfc))
        rd_ok_any = (rule_met(since_rd, t.tccd_s) & rule_met(since_wr, write_end + t.twtr_s)
                     & (bus_busy <= t.cl))
        wr_ok_any = rule_met(since_wr, t.tccd_s) & (bus_busy <= t.cwl)
        is_open = self.open
        for b in range(banks):
            timers, group = bank_timers[b], group_timers[b >> group_shift]
            m.d.comb += [
                self.act_ok[b].eq(~is_open[b] & act_ok_any
                                  & rule_met(timers.since_act, t.trc)
                                  & rule_met(timers.since_pre, t.trp)
                                  & rule_met(group.since_act, t.trrd_l)),
                self.pre_ok[b].eq(is_open[b] & rule_met(timers.since_act, t.tras)
                                  & rule_met(timers.since_rd, t.trtp)
                                  & rule_met(timers.since_wr, write_end + t.twr)),
                self.rd_ok[b].eq(is_open[b] & rd_ok_any
                                 & rule_met(timers.since_act, t.trcd_rd)
                                 & rule_met(group.since_rd, t.tccd_l)
                                 & rule_met(group.since_wr, write_end + t.twtr_l)),
                self.wr_ok[b].eq(is_open[b] & wr_ok_any
                                 & rule_met(timers.since_act, t.trcd_wr)
                                 & rule_met(group.since_wr, t.tccd_l)),
            ]
        m.d.comb += [
            self.prea_ok.eq((self.pre_ok | ~is_open).all()),
            self.ref_ok.eq(~is_open.any() & rule_met(since_pre, t.trp)
                           & rule_met(since_ref, t.trfc)),
        ]

        # Updates -----------------------------------------------------------------------
        row_bank, col_bank = bank_of(self.row_bank), bank_of(self.col_bank)
        row_group, col_group = group_of(self.row_bank), group_of(self.col_bank)
        closing = Signal()
        m.d.comb += closing.eq(self.prea | self.pre)
        for b in range(banks):
            act_to = self.act & (row_bank == b)
            closes = (self.prea | (self.pre & (row_bank == b))) & is_open[b]
            with m.If(act_to):
                m.d.sync += [is_open[b].eq(1), self.rows[b].eq(self.act_row)]
            with m.Elif(closes):
                m.d.sync += is_open[b].eq(0)
            timers = bank_timers[b]
            cycles_since(m, timers.since_act, act_sat, act_to)
            cycles_since(m, timers.since_pre, pre_sat, closes)
            cycles_since(m, timers.since_rd, rd_sat, self.rd & (col_bank == b))
            cycles_since(m, timers.since_wr, wr_sat, self.wr & (col_bank == b))
        for g in range(groups):
            timers = group_timers[g]
            cycles_since(m, timers.since_act, group_act_sat, self.act & (row_group == g))
            cycles_since(m, timers.since_rd, group_rd_sat, self.rd & (col_group == g))
            cycles_since(m, timers.since_wr, group_wr_sat, self.wr & (col_group == g))
        cycles_since(m, since_act, any_act_sat, self.act)
        cycles_since(m, since_rd, any_rd_sat, self.rd)
        cycles_since(m, since_wr, any_wr_sat, self.wr)
        cycles_since(m, since_pre, pre_sat, closing)
        cycles_since(m, since_ref, ref_sat, self.ref)
        for k in range(4):
            cycles_since(m, faw[k], faw_sat, self.act & (faw_next == k))
        with m.If(self.act):
            m.d.sync += faw_next.eq(faw_next + 1)
        # In-order data bus, as the device sees it: a new burst ends after every earlier one.
        with m.If(self.rd):
            m.d.sync += bus_busy.eq(t.cl + t.burst_cycles - 1)
        with m.Elif(self.wr):
            m.d.sync += bus_busy.eq(t.cwl + t.burst_cycles - 1)
        with m.Elif(bus_busy != 0):
            m.d.sync += bus_busy.eq(bus_busy - 1)
        return m


class ChannelController(wiring.Component):
    """Memory controller core of one pseudo-channel (see the module documentation for the
    queue, the scheduling policy, refresh and the cycle relations).

    Writes are batched: the controller serves reads (read mode) until the pending writes
    reach ``write_high_watermark`` (or only writes are pending), then serves writes (write
    mode) until they drop to ``write_low_watermark`` (or no write is pending while reads
    are, or none at all). Two exceptions keep it correct and starvation-free: a request of
    the other kind that a younger request of the mode waits on (same burst address) is
    served in age order, and once the oldest pending request has waited
    ``starvation_limit`` cycles the mode is that request's kind.

    Parameters
    ----------
    timing : TimingPreset or str
        The organization and timing of the pseudo-channel (a preset or a preset's name).
    queue_depth : int
        Requests the queue holds (1 to 32, default 32). Reads leave the queue when their RD
        issues, writes when their data has gone out.
    starvation_limit : int
        Cycles a request may wait before it is served ahead of younger requests (1 to
        65535). Once a miss has waited this long, younger hits to its bank wait for it; once
        the oldest pending request has, only requests of its kind (read or write) are served.
    tag_width : int
        Width of the request tag returned with each response (1 to 32).
    response_depth : int or None
        Credits, and entries of the response FIFO (1 to 256): the column commands that may
        be outstanding, counted from issue until their response leaves. ``None`` (the
        default) picks :meth:`full_rate_response_depth`, enough to stream one burst every
        ``tccd_s`` cycles into a consumer that is always ready.
    write_high_watermark : int or None
        Pending writes (not yet issued) that switch the controller to write mode (1 to
        ``queue_depth``). ``None`` (the default): ``ceil(0.8 * queue_depth)``, 26 of 32.
    write_low_watermark : int or None
        Pending writes at or below which write mode ends while reads are waiting (0 to
        ``write_high_watermark - 1``). ``None`` (the default): ``floor(0.2 *
        queue_depth)``, 6 of 32, or ``write_high_watermark - 1`` if that is lower.

    Members
    -------
    requests : ``In(stream.Signature(request_layout(timing, tag_width=tag_width)))``
        Burst requests. ``ready`` is high while the queue has a free slot. A ``bank``, ``row``
        or ``column`` field whose count is 1 is one bit wide and must be 0.
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
        Cycles with a request in the queue or a response not yet taken.
    """

    def __init__(self, *, timing, queue_depth=DEFAULT_QUEUE_DEPTH,
                 starvation_limit=DEFAULT_STARVATION_LIMIT, tag_width=DEFAULT_TAG_WIDTH,
                 response_depth=None, write_high_watermark=None, write_low_watermark=None):
        with validating(self):
            timing = resolve_timing(timing)
            check_int("queue_depth", queue_depth, 1, MAX_QUEUE_DEPTH)
            check_int("starvation_limit", starvation_limit, 1, MAX_CYCLES)
            check_int("tag_width", tag_width, 1, 32)
            if response_depth is None:
                response_depth = self.full_rate_response_depth(timing)
            check_int("response_depth", response_depth, 1, MAX_RESPONSE_DEPTH)
            if write_high_watermark is None:
                write_high_watermark = -(-4 * queue_depth // 5)     # ceil(0.8 * depth)
            check_int("write_high_watermark", write_high_watermark, 1, queue_depth,
                      extra=f" (at most queue_depth = {queue_depth})")
            if write_low_watermark is None:
                write_low_watermark = min(queue_depth // 5, write_high_watermark - 1)
            check_int("write_low_watermark", write_low_watermark, 0, write_high_watermark - 1,
                      extra=f" (below write_high_watermark = {write_high_watermark})")
            if timing.refresh_enabled and self._refresh_deadline(timing) <= timing.trfc:
                raise ValueError(
                    f"trefi = {timing.trefi} is too short for this controller: with "
                    f"max_postponed_refreshes = {timing.max_postponed_refreshes} the next REF "
                    f"must start within {self._refresh_deadline(timing)} cycles, which must "
                    f"be above trfc = {timing.trfc}")
        self._timing = timing
        self._queue_depth = queue_depth
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
    def queue_depth(self):
        return self._queue_depth

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
        a credit is held from the pick (cycle d) until the pop of its response becomes
        visible, ``max(cl, cwl) + burst_cycles + 3`` cycles later; one more absorbs a
        consumer's occasional stall."""
        timing = resolve_timing(timing)
        held = max(timing.cl, timing.cwl) + timing.burst_cycles + 3
        return ceil(held / timing.tccd_s) + 1

    @property
    def read_overhead(self):
        """Cycles from accepting an unloaded read to its response being valid, beyond the
        device's latency to the first beat (``row_miss_read_latency`` on a row miss, ``cl``
        on a hit): :data:`PIPELINE_DELAY` + ``burst_cycles - 1``."""
        return PIPELINE_DELAY + self._timing.burst_cycles - 1

    @staticmethod
    def _refresh_drain(timing):
        # Worst case from deciding to refresh to the REF: a command picked in that same cycle
        # (refreshing starts the cycle after), then tRAS / tRTP / tWR of the newest column
        # and row commands before the PREA, then tRP.
        t = timing
        return (max(1, t.tras, t.trtp, t.cwl + t.burst_cycles + t.twr) + max(1, t.trp))

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
                f"queue_depth={self._queue_depth}, starvation_limit={self._starvation_limit}, "
                f"tag_width={self._tag_width}, response_depth={self._response_depth}, "
                f"write_high_watermark={self._write_high_watermark}, "
                f"write_low_watermark={self._write_low_watermark})")

    # Gateware ----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        n = self._queue_depth
        bus = self.dram.signature
        banks, bank_bits = t.banks, log2(t.banks)
        write_end = t.cwl + t.burst_cycles       # WR to the end of its write data

        def bank_index(value):
            # The flat bank as a selector of per-bank state; 0 when there is one bank.
            return value[:bank_bits] if bank_bits else Const(0, 1)

        # Queue -------------------------------------------------------------------------
        entry_layout = data.StructLayout({
            "write": 1,
            "bank": bus.bank_width,
            "row": bus.row_width,
            "column": bus.column_width,
            "tag": self._tag_width,
        })
        # Per-slot state is kept in a signal per slot (and a relation row per slot below)
        # rather than in one wide vector, so that filling one slot updates one narrow
        # register: simulators then do not rewrite the whole queue every cycle.
        entries = [Signal(entry_layout, name=f"slot{i}") for i in range(n)]
        pending = Signal(n)     # waiting for its RD/WR
        occupied = Signal(n)    # slot in use: pending, or a write whose data is going out
        missed = Signal(n)      # an ACT was issued for this request
        limit = self._starvation_limit
        ages = [Signal(range(limit + 1), name=f"slot{i}_age") for i in range(n)]
        # Relations between slots, bit i of row j for slots j and i: slot j's request arrived
        # before slot i's; they address one bank; they address one burst. Only meaningful
        # between pending slots; a slot's row and column are rewritten when it fills, which
        # takes n comparators (with the new request) rather than n * n.
        older_rows = [Signal(n, name=f"slot{j}_older") for j in range(n)]
        same_bank = [Signal(n, name=f"slot{j}_same_bank") for j in range(n)]
        same_address = [Signal(n, name=f"slot{j}_same_address") for j in range(n)]
        # Write batching: the mode of the previous cycle (1: write mode) and the pending
        # writes, counted on accept and on issue rather than by a popcount of the slots.
        write_mode = Signal()
        pending_writes = Signal(range(n + 1))

        def older(j, i):
            return older_rows[j][i]

        request = self.requests.payload
        free_slot = lowest_set(m, ~occupied, range(max(n, 2)), "free_slot")
        accept = Signal()
        m.d.comb += [
            self.requests.ready.eq(~occupied.all()),
            accept.eq(self.requests.valid & self.requests.ready),
        ]

        # Write data waits in a memory word per slot, read combinationally when its beats
        # are due (cwl may be 0: the first beat then leaves with the WR).
        store_layout = data.StructLayout({"data": t.burst_bytes * 8, "strobe": t.burst_bytes})
        m.submodules.write_store = store = Memory(shape=store_layout, depth=n, init=[])
        store_write = store.write_port()
        store_read = store.read_port(domain="comb")
        m.d.comb += [
            store_write.addr.eq(free_slot),
            store_write.data.data.eq(request.data),
            store_write.data.strobe.eq(request.strobe),
            store_write.en.eq(accept & request.write),
        ]

        # Bank state and timing: a submodule, so that its logic (which depends on its own
        # registers only) is evaluated once per cycle in simulation.
        m.submodules.bank_state = state = BankState(timing=t)

        # Credits --------------------------------------------------------------------------
        depth = self._response_depth
        outstanding = Signal(range(depth + 1))
        refreshing = Signal()
        # Column commands go while a credit is left and no refresh is under way.
        col_allowed = (outstanding < depth) & ~refreshing

        # Scheduler -------------------------------------------------------------------------
        # Written as operations on n-bit vectors (bit i: slot i), which is what the gates
        # are anyway and keeps the simulation fast. Relations between slots are rows: bit i
        # of ``older_row(j)`` says slot j is older than slot i, bit i of ``same_bank[j]``
        # that slots i and j address one bank.
        def older_row(j):
            return older_rows[j]

        def vector(name, bits):
            wire = Signal(n, name=name)
            m.d.comb += wire.eq(Cat(*bits))
            return wire

        entry_banks = [bank_index(entries[i].bank) for i in range(n)]
        writes = Cat(*(entries[i].write for i in range(n)))
        is_open = vector("is_open", [_bit(state.open, b, banks) for b in entry_banks])
        row_open = vector("row_open", [
            is_open[i] & (_element(state.rows, entry_banks[i], banks) == entries[i].row)
            for i in range(n)])
        starved = vector("starved", [ages[i] == limit for i in range(n)])
        col_legal = vector("col_legal", [
            Mux(entries[i].write, _bit(state.wr_ok, b, banks), _bit(state.rd_ok, b, banks))
            for i, b in enumerate(entry_banks)])
        act_legal = vector("act_legal", [_bit(state.act_ok, b, banks) for b in entry_banks])
        pre_legal = vector("pre_legal", [_bit(state.pre_ok, b, banks) for b in entry_banks])

        def any_in(selected, relation):
            """Bit i: some slot j in ``selected`` has bit i of ``relation[j]`` set."""
            result = Const(0, n)
            for j in range(n):
                result = result | (relation[j] & selected[j].replicate(n))
            return result

        def older_in(selected, relation=None):
            """Bit i: some slot j in ``selected`` is older than slot i (and in ``relation``
            with it)."""
            return any_in(selected, [older_row(j) if relation is None
                                     else older_row(j) & relation[j] for j in range(n)])

        # Write batching: which pending requests are offered to the picks below. The mode of
        # this cycle is the register's switched by this cycle's counts, so that no request
        # waits a cycle for a switch already due (a lone write to an idle controller goes
        # out as fast as a lone read).
        high, low = self._write_high_watermark, self._write_low_watermark
        reads_waiting = (pending & ~writes).any()
        writes_waiting = pending_writes != 0
        to_write = (pending_writes >= high) | (writes_waiting & ~reads_waiting)
        to_read = ~writes_waiting | ((pending_writes <= low) & reads_waiting)
        # Ages grow together, so a request has waited starvation_limit cycles only if the
        # oldest pending one has. The oldest then sets the mode: with the other kind still
        # offered, its bursts could keep the data bus from turning around for it for good
        # (a WR waits until the bus is clear of read data, which a stream of RDs never is).
        oldest = vector("oldest", [pending & ~older_in(pending)])
        starving = (oldest & starved).any()
        draining = Signal()     # write mode in this cycle
        with m.If(starving):
            m.d.comb += draining.eq((oldest & writes).any())
        with m.Elif(write_mode):
            m.d.comb += draining.eq(~to_read)
        with m.Else():
            m.d.comb += draining.eq(to_write)
        m.d.sync += write_mode.eq(draining)
        in_mode = vector("in_mode", [Mux(draining, writes, ~writes)])
        # A request of the other kind that a younger request of the mode waits on (one burst
        # address, as ``hazard`` below) is offered too, or a read after a write would wait
        # for the next batch. The requests younger than it are held back until it has
        # issued, so that the data bus turns around for it: otherwise the mode's stream of
        # bursts would keep it waiting just the same.
        awaited = vector("awaited", [(older_row(i) & same_address[i] & pending & in_mode).any()
                                     for i in range(n)])
        out_of_mode = vector("out_of_mode", [
            pending & ~in_mode & awaited & ~starving.replicate(n)])
        offered = vector("offered", [
            ((pending & in_mode) | out_of_mode) & ~older_in(out_of_mode)])

        # A hit younger than a starved miss of its bank waits for that miss: the hits that
        # may go are "live". A request waits for older requests to its burst address, offered
        # or not. The oldest miss of a bank owns the bank's row commands.
        hit = offered & row_open
        miss = offered & ~row_open
        live = vector("live", [hit & ~older_in(miss & starved, same_bank)])
        hazard = vector("hazard", [pending & older_in(pending, same_address)])
        first_miss = vector("first_miss", [miss & ~older_in(miss, same_bank)])
        # Bit i: the bank of slot i has a live hit.
        live_in_bank = vector("live_in_bank", [any_in(live, same_bank)])
        col_candidates = vector("col_candidates", [
            live & ~hazard & col_legal & col_allowed.replicate(n)])
        # The PRE of a bank with live hits waits, which also keeps a row and a column command
        # from going to one bank in one cycle (the column command is a live hit).
        row_candidates = vector("row_candidates", [
            first_miss & ~refreshing.replicate(n)
            & ((is_open & pre_legal & ~live_in_bank) | (~is_open & act_legal))])
        # Row lookahead: when the mode has no row command to give, a bank that no offered
        # request needs is opened for the oldest waiting request of the other kind, so that
        # the next batch starts on open rows. A PRE of such a bank also waits for every
        # pending hit to its open row.
        waiting = vector("waiting", [pending & ~offered & ~any_in(offered, same_bank)])
        waiting_miss = waiting & ~row_open
        pending_hit_in_bank = vector("pending_hit_in_bank", [
            any_in(pending & row_open, same_bank)])
        lookahead_candidates = vector("lookahead_candidates", [
            waiting_miss & ~older_in(waiting_miss, same_bank) & ~refreshing.replicate(n)
            & ((is_open & pre_legal & ~pending_hit_in_bank) | (~is_open & act_legal))])
        row_choice = vector("row_choice", [
            Mux(row_candidates.any(), row_candidates, lookahead_candidates)])
        col_pick = vector("col_pick", [col_candidates & ~older_in(col_candidates)])
        row_pick = vector("row_pick", [row_choice & ~older_in(row_choice)])

        def select(name, onehot, fields):
            """The given fields of the entry of a one-hot choice, and its slot number (only
            the fields the command needs, so no selected bit goes unused)."""
            entry = Signal(data.StructLayout({f: entry_layout.members[f] for f in fields}),
                           name=f"{name}_entry")
            slot = Signal(range(max(n, 2)), name=f"{name}_slot")
            for i in range(n):
                with m.If(onehot[i]):
                    m.d.comb += [entry[f].eq(entries[i][f]) for f in fields]
                    m.d.comb += slot.eq(i)
            return entry, slot

        col_entry, col_slot = select("col", col_pick, ["write", "bank", "column", "tag"])
        row_entry, _ = select("row", row_pick, ["bank", "row"])

        # Decisions of this cycle (on the interface next cycle).
        col_issue = col_pick.any()
        rd_issue = (col_pick & ~writes).any()
        wr_issue = (col_pick & writes).any()
        act_issue = Signal()
        pre_issue = Signal()
        prea_issue = Signal()
        ref_issue = Signal()
        row_cmd = Signal(RowCommand)
        with m.If(refreshing):
            with m.If(state.open.any()):
                m.d.comb += [prea_issue.eq(state.prea_ok), row_cmd.eq(RowCommand.PREA)]
            with m.Else():
                m.d.comb += [ref_issue.eq(state.ref_ok), row_cmd.eq(RowCommand.REF)]
        with m.Else():
            m.d.comb += [
                pre_issue.eq((row_pick & is_open).any()),
                act_issue.eq((row_pick & ~is_open).any()),
                row_cmd.eq(Mux((row_pick & is_open).any(), RowCommand.PRE, RowCommand.ACT)),
            ]
        m.d.comb += [
            state.act.eq(act_issue),
            state.pre.eq(pre_issue),
            state.prea.eq(prea_issue),
            state.ref.eq(ref_issue),
            state.rd.eq(rd_issue),
            state.wr.eq(wr_issue),
            state.row_bank.eq(row_entry.bank),
            state.act_row.eq(row_entry.row),
            state.col_bank.eq(col_entry.bank),
        ]

        # The command register.
        dram = self.dram
        m.d.sync += [
            dram.row_valid.eq(act_issue | pre_issue | prea_issue | ref_issue),
            dram.row_cmd.eq(row_cmd),
            dram.row_bank.eq(row_entry.bank),
            dram.row.eq(row_entry.row),
            dram.col_valid.eq(col_issue),
            dram.col_cmd.eq(Mux(col_entry.write, ColumnCommand.WR, ColumnCommand.RD)),
            dram.col_bank.eq(col_entry.bank),
            dram.column.eq(col_entry.column),
        ]

        # The pending writes of the mode rule: +1 on accepting a write, -1 on its WR.
        new_write = accept & request.write
        with m.If(new_write & ~wr_issue):
            m.d.sync += pending_writes.eq(pending_writes + 1)
        with m.Elif(~new_write & wr_issue):
            m.d.sync += pending_writes.eq(pending_writes - 1)

        # Slots: fill on accept, leave on issue (reads) or when the write data has gone out.
        write_lines = self._write_data(m, wr_issue, col_slot, store_read)
        free_write, free_write_slot = write_lines[t.cwl + t.burst_cycles - 1]
        leaving = col_pick & ~writes
        for i in range(n):
            with m.If(accept & (free_slot == i)):
                m.d.sync += [
                    *(entries[i][name].eq(request[name])
                      for name in ("write", "bank", "row", "column", "tag")),
                    ages[i].eq(0),
                ]
                for j in range(n):
                    if j != i:
                        bank = bank_index(request.bank) == entry_banks[j]
                        address = (bank & (request.row == entries[j].row)
                                   & (request.column == entries[j].column))
                        m.d.sync += [
                            older(j, i).eq(1), older(i, j).eq(0),
                            same_bank[j][i].eq(bank),
                            same_bank[i][j].eq(bank),
                            same_address[j][i].eq(address),
                            same_address[i][j].eq(address),
                        ]
            with m.Elif(pending[i] & (ages[i] != limit)):
                m.d.sync += ages[i].eq(ages[i] + 1)
        filling = Mux(accept, (Const(1, n) << free_slot)[:n], 0)
        freeing = Mux(free_write, (Const(1, n) << free_write_slot)[:n], 0)
        m.d.sync += [
            pending.eq((pending & ~col_pick) | filling),
            occupied.eq((occupied & ~leaving & ~freeing) | filling),
            missed.eq((missed | Mux(act_issue, row_pick, 0)) & ~filling),
        ]

        # Refresh ----------------------------------------------------------------------------
        if t.refresh_enabled:
            self._refresh(m, refreshing, ref_issue, pending.any())

        # Responses ---------------------------------------------------------------------------
        pop = self._responses(m, col_issue, col_entry, write_lines[write_end][0])
        with m.If(col_issue & ~pop):
            m.d.sync += outstanding.eq(outstanding + 1)
        with m.Elif(~col_issue & pop):
            m.d.sync += outstanding.eq(outstanding - 1)

        # Counters ----------------------------------------------------------------------------
        row_hit = ~(missed & col_pick).any()
        increments = {
            "reads": (rd_issue, 1),
            "writes": (wr_issue, 1),
            "bytes": (col_issue, t.burst_bytes),
            "row_hits": (col_issue & row_hit, 1),
            "row_misses": (col_issue & ~row_hit, 1),
            "refreshes": (ref_issue, 1),
            "busy_cycles": (occupied.any() | (outstanding != 0), 1),
        }
        assert tuple(increments) == COUNTERS        # the one list of counter names
        for name, (event, step) in increments.items():
            counter = getattr(self, name)
            with m.If(event):
                m.d.sync += counter.eq(counter + step)
        return m

    def _write_data(self, m, wr_issue, slot, store_read):
        """Write beats from the slot's memory word: beat k of a WR picked in cycle d is on
        ``wdata``/``wmask`` in cycle ``d + 1 + cwl + k`` (registered like the command).
        Returns the delay line: entry s is (a WR was picked s cycles ago, its slot)."""
        t, dram = self._timing, self.dram
        beat_bytes = t.data_bytes_per_cycle
        lines = [(wr_issue, slot)]
        for s in range(1, t.cwl + t.burst_cycles + 1):
            valid = Signal(name=f"write_line_valid_{s}")
            line_slot = Signal.like(slot, name=f"write_line_slot_{s}")
            m.d.sync += [valid.eq(lines[-1][0]), line_slot.eq(lines[-1][1])]
            lines.append((valid, line_slot))
        # Bursts on the data bus never overlap (tCCD_S >= burst cycles), so at most one line
        # entry of the beat window is valid.
        beat = Signal(range(max(t.burst_cycles, 2)))
        sending = Signal()
        for k in range(t.burst_cycles):
            valid, line_slot = lines[t.cwl + k]
            with m.If(valid):
                m.d.comb += [store_read.addr.eq(line_slot), beat.eq(k), sending.eq(1)]
        with m.If(sending):
            m.d.sync += [
                dram.wdata.eq(store_read.data.data.word_select(beat, 8 * beat_bytes)),
                # AXI strobes to DFI masks: a clear strobe keeps the byte.
                dram.wmask.eq(~store_read.data.strobe.word_select(beat, beat_bytes)),
            ]
        with m.Else():
            m.d.sync += [dram.wdata.eq(0), dram.wmask.eq(~0)]
        return lines

    def _refresh(self, m, refreshing, ref_issue, waiting):
        """Refresh bookkeeping: owed refreshes, the deadline, and when to start."""
        t = self._timing
        postpone = t.max_postponed_refreshes
        tick = Signal()
        timer = Signal(range(t.trefi))
        m.d.comb += tick.eq(timer == t.trefi - 1)
        m.d.sync += timer.eq(Mux(tick, 0, timer + 1))
        # Refreshes owed: +1 per trefi, -1 per REF; -1 is one refresh pulled in (a REF
        # forced by the deadline before the timer asked for it).
        owed = Signal(range(-1, postpone + 2))
        with m.If(tick & ~ref_issue & (owed != postpone + 1)):
            m.d.sync += owed.eq(owed + 1)
        with m.Elif(~tick & ref_issue & (owed != -1)):
            m.d.sync += owed.eq(owed - 1)
        # Cycles since the last REF was picked; reset counts as a REF picked in cycle -1,
        # which is the device's "REF in cycle 0" one command-register stage later.
        deadline = self.refresh_deadline
        age = Signal(range(deadline + 1), init=1)
        with m.If(ref_issue):
            m.d.sync += age.eq(1)
        with m.Elif(age != deadline):
            m.d.sync += age.eq(age + 1)
        urgent = (age == deadline) | (owed >= max(postpone, 1))
        with m.If(ref_issue):
            m.d.sync += refreshing.eq(0)
        with m.Elif(urgent | ((owed > 0) & ~waiting)):
            m.d.sync += refreshing.eq(1)

    def _responses(self, m, col_issue, col_entry, write_done):
        """Read-beat assembly, the tags of the commands in flight and the response FIFO.
        Returns the response pop (valid and ready)."""
        t, dram = self._timing, self.dram
        beat_bits = 8 * t.data_bytes_per_cycle
        layout = response_layout(t, tag_width=self._tag_width)
        # Responses leave the data bus in the order of the column commands, so the tag and
        # kind of each command in flight wait in a plain FIFO.
        flight_layout = data.StructLayout({"tag": self._tag_width, "write": 1})
        m.submodules.in_flight = in_flight = SyncFIFO(
            width=Shape.cast(flight_layout).width, depth=self._response_depth)
        flight_in = Signal(flight_layout)
        flight_out = data.View(flight_layout, in_flight.r_data)
        m.d.comb += [
            flight_in.tag.eq(col_entry.tag),
            flight_in.write.eq(col_entry.write),
            in_flight.w_data.eq(flight_in),
            in_flight.w_en.eq(col_issue),
        ]

        # Read beats arrive cl cycles after the RD; the last completes the response.
        beat = Signal(range(max(t.burst_cycles, 2)))
        earlier_beats = Signal(max(1, (t.burst_cycles - 1) * beat_bits))
        read_done = Signal()
        m.d.comb += read_done.eq(dram.rdata_valid & (beat == t.burst_cycles - 1))
        with m.If(dram.rdata_valid):
            m.d.sync += beat.eq(Mux(read_done, 0, beat + 1))
            if t.burst_cycles > 1:
                with m.If(~read_done):
                    m.d.sync += earlier_beats.word_select(beat, beat_bits).eq(dram.rdata)
        read_data = (Cat(earlier_beats[:(t.burst_cycles - 1) * beat_bits], dram.rdata)
                     if t.burst_cycles > 1 else dram.rdata)

        # The response FIFO: as deep as the credits, so it always has room. (A buffered FIFO
        # of depth 2 can refuse a write while holding one entry; 3 or more never does.)
        fifo_depth = max(self._response_depth, 3) if self._response_depth > 1 else 1
        m.submodules.response_fifo = fifo = SyncFIFOBuffered(
            width=Shape.cast(layout).width, depth=fifo_depth)
        response = Signal(layout)
        done = Signal()
        # Read and write data never share a cycle on the bus, so at most one completes.
        m.d.comb += [
            done.eq(read_done | write_done),
            response.tag.eq(flight_out.tag),
            response.write.eq(flight_out.write),
            response.data.eq(Mux(read_done, read_data, 0)),
            fifo.w_data.eq(response),
            fifo.w_en.eq(done),
            in_flight.r_en.eq(done),
            self.responses.valid.eq(fifo.r_rdy),
            self.responses.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.responses.ready),
        ]
        pop = Signal()
        m.d.comb += pop.eq(fifo.r_rdy & self.responses.ready)
        return pop
