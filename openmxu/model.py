"""The analytical performance model: cycles, utilization and bytes of a matmul on the
accelerator of a :class:`~openmxu.Config`, from the same tiling the hardware runs.

The hardware walks ``for mt (M blocks): for nt (N tiles): for kc (K chunks): for kt (weight
tiles): for r (rows of the block)``. Its time goes to the array (one activation vector per
cycle) and to the memory system, which the A-panel loads, the weight rows and the C writes
share through one AXI manager port. On small and on K-chunked shapes the memory side decides
the time: reads queue behind each other in the port's slots and its request register, the
R channel carries one beat a cycle and holds it for a burst's later beats, the bank
machines serve row hits first and the banks round robin, write batches and row switches
stall the reads of their pseudo-channel, a bank queue full of waiting writes blocks the
whole port, and every ``trefi`` each pseudo-channel is refreshed for ``trfc`` cycles. A
bound per resource misses most of that, so the model is a small discrete-event simulation
at the granularity of requests:

* **accelerator**: the A loader (panels of ``block_m`` rows, requested from their four
  quarters in turn, into two buffers), the weight path (rows requested while its 16-entry
  FIFO has room, i.e. up to 16 rows ahead of the array, which takes them into its two weight
  buffers), the array (a tile starts once its weights are in, its panel is loaded and the
  tile before it has entered; the result FIFO lets ``latency + 4`` results of a block wait
  for its accumulator bank), the output stage (six stages, eight rows ahead of the writer)
  and the writer (one beat burst per AW and W, 16 bursts awaiting their B, B in order);
* **port**: round robin of the A and weight readers on AR (the A reader keeps up to 16
  bursts in flight under 8 IDs, the weight reader 16 under one ID), 16 read slots, one
  request a cycle alternating between read and write beats, R one beat a cycle, a burst
  started once its first beat is in and kept until its last (per-ID order);
* **channel controllers**: per pseudo-channel the policy of ``docs/memory-controller.md``,
  decided cycle by cycle but only at the cycles where something can change: bank queues of
  ``bank_queue_depth`` behind an input register (a request for a full queue blocks the
  port), column and row candidates per bank (oldest offered hit; PRE or ACT for the oldest
  offered miss when no offered request hits; lookahead for the other mode), round robin in
  interleaved bank order, every timing rule of the preset, ``COMMAND_DELAY``, a bank's
  command spacing, write batching with its watermarks and a registered mode, the
  starvation bound, and refresh (owed every ``trefi``, done once nothing waits, PREA, REF,
  ``trfc``).

The simulation runs forward in time; the memory side is advanced lazily, up to the
earliest cycle its decisions could be affected by a request not yet issued, so every
choice sees the requests the hardware would see. Latencies come from the RTL's own figures
(:meth:`~rtl.mem.controller.ChannelController.read_latency`, ``REQUEST_DELAY``,
``RESPONSE_DELAY``, the array's latency, the output stage's depth); the remaining cycle
offsets of the accelerator (commented where used) were read off simulation traces.

What it still misses, by design or for lack of a figure:

* the refresh phase: refreshes follow a timer started at reset, which the model cannot
  know. It places them at ``trefi / 2 + i * trefi`` from the command's start, so a command
  sees the most likely number of them, ``round(cycles / trefi)``; a given run can see one
  more or one fewer, and one may land where it costs more or less. On HBM2 a refresh
  stops a pseudo-channel for ``trp + trfc`` (364) cycles, about 4 % of a 64^3 matmul if the
  array has nothing buffered;
* the banks' open rows at the start: the model assumes the rows the host's loads of A, B
  and C's region left open (refreshes during the loads close them);
* the crossbar's response arbitration and the controllers' credits (the R channel, one
  beat a cycle, bounds the same traffic) and the same-address exception (A, B and C never
  overlap);
* the output format: int32 results without ``ACCUMULATE`` (int8 rows are narrower);
* exact cycles inside the controller: its two-stage candidate registers are modeled as
  delays, so a decision can fall a cycle or two from the RTL's. Where the traffic is
  chaotic (a drain's writes switching rows against a panel load or the weight reads in the
  same banks, with the port blocked meanwhile), such a difference can change how long the
  ping-pong lasts, or on which side of a mode switch a write batch falls. On a small
  matmul that can be large: moving 32^3's drain two cycles later flips a write batch and
  adds 157 cycles (15 %); the calibrated offsets sit two cycles from that edge.

It runs a 256^3 matmul in under a second (one simulated request costs some tens of
microseconds), so predicting much larger matmuls takes proportionally longer.
"""

import heapq
from collections import deque
from dataclasses import dataclass, asdict

from .config import Config

__all__ = ["PerformanceModel", "Prediction", "sequencer_cycles"]

INF = float("inf")

#: Sequencer cycles from taking a command to starting the paths (CHECK, one SPAN step with
#: every multiplier bit consumed, ENDS, BOUNDS, PLAN, START), besides one SPAN step per bit of
#: the longer of M - 1 and K - 1 (:func:`sequencer_cycles`).
START_CYCLES = 6
#: Cycles from a weight row's beat on R to the array taking it (the reader's beat register
#: and the row FIFO); the array takes one row a cycle.
WEIGHT_DELAY = 2
#: Cycles from a panel's last beat on R to its first activation entering the array (the
#: buffer's full flag, the scratchpad read and the activation FIFO).
PANEL_DELAY = 5
#: The streamer issues a visit's last vector this many cycles before the array takes it
#: (its FIFO), which releases the panel buffer.
STREAM_AHEAD = 3
#: Cycles from the loader seeing a free buffer to its first row request (DECIDE, SCALE,
#: PLACE, then the request).
LOADER_SETUP = 4
#: Cycles from a drain issue to the row entering the writer's FIFO, beyond the output
#: stage's pipeline (its FIFO's write and read), and from there to its AW.
OUTPUT_FIFO_DELAY = 2
WRITER_DELAY = 2
#: From a block's last activation to its first drain issue, beyond the array's latency
#: (the result FIFO, the accumulator's read-modify-write, the bank's full flag).
BANK_DELAY = 4
#: From the last write's B to the end of the command (the writer's idle flag, the
#: sequencer's RUN and FINISH).
END_CYCLES = 3


def sequencer_cycles(m, k):
    """Sequencer cycles from taking an M x K x N command to starting the paths: the span
    products are built by shift and add, one bit of M - 1 and K - 1 per cycle."""
    return START_CYCLES + max((m - 1).bit_length(), (k - 1).bit_length())


@dataclass(frozen=True)
class Prediction:
    """The model's figures for one matmul."""

    m: int
    k: int
    n: int
    cycles: int
    compute_cycles: int      # sum over weight tiles of their streaming time
    ideal_cycles: int        # m * k * n / MACs
    start_cycles: int        # until the first activation enters the array
    tail_cycles: int         # from the last activation to the end (drain and writes)
    load_stall_cycles: int   # the array waiting in between (weights, panels, banks)
    bytes_read: int
    bytes_written: int
    memory_bound_cycles: int  # bytes over the pseudo-channels' peak

    @property
    def utilization(self):
        return self.ideal_cycles / self.cycles

    @property
    def intensity(self):
        """MACs per byte moved."""
        return self.m * self.k * self.n / (self.bytes_read + self.bytes_written)

    def as_dict(self):
        return {**asdict(self), "utilization": self.utilization, "intensity": self.intensity}


class _Request:
    """One burst request at a channel controller."""
    __slots__ = ("bank", "write", "row", "enq", "vis", "burst", "beat")

    def __init__(self, bank, write, row, burst, beat):
        self.bank, self.write, self.row = bank, write, row
        self.burst, self.beat = burst, beat


class _Burst:
    """One AXI read burst: its beats' data times and its time on R."""
    __slots__ = ("id", "nbeats", "ready", "sent", "r_end", "release", "kind", "index")

    def __init__(self, ident, nbeats, kind, index):
        self.id, self.nbeats, self.kind, self.index = ident, nbeats, kind, index
        self.ready = [None] * nbeats
        self.sent = 0
        self.r_end = None
        self.release = None


class _Channel:
    """The controller of one pseudo-channel (``docs/memory-controller.md``), decided cycle
    by cycle at the cycles where something can change, up to the cycle it is advanced to.
    Column-command times are reported to the simulation (:meth:`_Simulation.read_issued`,
    :meth:`_Simulation.write_issued`)."""

    def __init__(self, sim, p):
        self.sim, self.p = sim, p
        nb, ng = p["banks"], p["groups"]
        self.nb = nb
        self.q = [[] for _ in range(nb)]        # requests per bank, oldest first
        self.occ = [0] * nb                      # slots in use (writes until their data left)
        self.leaving = []                        # (free time, bank) of writes' slots
        self.active = set()                      # banks with requests
        self.open = [-1] * nb
        self.t_act = [-INF] * nb
        self.t_pre = [-INF] * nb
        self.t_rd = [-INF] * nb
        self.t_wr = [-INF] * nb
        self.t_cmd = [-INF] * nb
        self.last_rd_g = [-INF] * ng
        self.last_wr_g = [-INF] * ng
        self.last_act_g = [-INF] * ng
        self.last_rd = self.last_wr = self.last_act = -INF
        self.acts = deque([-INF] * 4, maxlen=4)  # the last four ACTs (tFAW)
        self.act_ok = -INF                       # after a refresh (tRFC)
        self.mode = 0                            # 0 read, 1 write
        self.switch_at = None
        self.mode_time = -INF
        self.dwell_start = 0
        self.served_starved = False
        self.pr = self.pw = 0                    # pending reads and writes
        self.now = 0                             # the next cycle to decide
        self.held_until = -INF                   # the input register is busy until
        self.held_bank = None
        self.col_rr = self.row_rr = 0
        self.next_due = sim.refresh_phase if p["trefi"] else INF
        self.owed = 0
        self.last_ref = 0
        self.pos = sim.rr_pos

    # -- input -----------------------------------------------------------------------------
    def arrive(self, a, req):
        """A request presented in cycle ``a``; returns the cycle the controller took it
        (the port waits meanwhile). It enters its bank's queue then, or once the queue has
        room; commands can use it ``COMMAND_DELAY`` cycles after it entered."""
        p = self.p
        accept = a if a >= self.held_until else self.held_until
        self.advance(accept)
        b = req.bank
        self._free(accept)
        if self.occ[b] < p["depth"]:
            enq = accept
        else:
            # The input register holds it; the controller switches to write mode while its
            # queue holds only writes, and no other request arrives meanwhile.
            self.held_bank = b
            x = accept
            while True:
                self.advance(x)
                self._free(x)
                if self.occ[b] < p["depth"]:
                    break
                x = max(x + 1, self.now)
                if x > accept + p["stuck"]:
                    raise RuntimeError("the model's bank queue never frees")
            enq = x
            self.held_bank = None
            self.held_until = enq
        req.enq = enq
        req.vis = enq + p["command_delay"]
        self.q[b].append(req)
        self.occ[b] += 1
        self.active.add(b)
        if req.write:
            self.pw += 1
        else:
            self.pr += 1
        return accept

    def _free(self, t):
        lv = self.leaving
        while lv and lv[0][0] <= t:
            self.occ[heapq.heappop(lv)[1]] -= 1

    # -- scheduling ------------------------------------------------------------------------
    def advance(self, T):
        """Decide every cycle up to ``T``."""
        p = self.p
        while self.now <= T:
            c = self.now
            while self.next_due <= c:
                self.owed += 1
                self.next_due += p["trefi"]
            if self.leaving:
                self._free(c)
            waiting = self.active or self.leaving or self.held_bank is not None
            if self.owed > 0 and (not waiting or self.owed >= p["postpone"]
                                  or c - self.last_ref >= p["deadline"]):
                self._refresh(c)
                continue
            if not self.active:
                nxt = T + 1
                if self.leaving:
                    nxt = min(nxt, self.leaving[0][0])
                if self.owed == 0:
                    nxt = min(nxt, self.next_due)
                elif not waiting:
                    nxt = c + 1
                self.now = max(c + 1, nxt)
                continue
            if self._step(c) or self.switch_at is not None or c < self.mode_time + 2:
                self.now = c + 1
            else:
                self.now = max(c + 1, min(self._wake(c), T + 1))

    def _refresh(self, c):
        """A refresh decided in cycle ``c``: PREA once every open bank allows it, REF after
        tRP; no ACT before tRFC has passed."""
        p = self.p
        prea = c + 2
        for b in range(self.nb):
            if self.open[b] >= 0:
                prea = max(prea, self.t_act[b] + p["tras"], self.t_rd[b] + p["trtp"],
                           self.t_wr[b] + p["wr2pre"])
        ref = prea + p["trp"]
        for b in range(self.nb):
            if self.open[b] >= 0:
                self.open[b] = -1
                self.t_pre[b] = prea
        self.act_ok = ref + p["trfc"]
        self.owed -= 1
        self.last_ref = ref
        self.now = ref + 1

    def _mode(self, c):
        """Write batching: the mode register, switched a cycle after its condition."""
        p = self.p
        if self.switch_at is not None and c >= self.switch_at:
            self.mode ^= 1
            self.dwell_start = c
            self.served_starved = False
            self.switch_at = None
            self.mode_time = c
        if self.switch_at is not None:
            return
        limit = p["starve"]
        starved_r = starved_w = False
        for b in self.active:
            for e in self.q[b]:
                if e.enq + limit > c:
                    break
                if e.write:
                    starved_w = True
                else:
                    starved_r = True
        turn_over = self.served_starved and c - self.dwell_start >= limit
        blocked_w = blocked_r = False
        if self.held_bank is not None:
            kinds = {e.write for e in self.q[self.held_bank]}
            blocked_w = kinds == {True}
            blocked_r = kinds == {False}
        pw, pr = self.pw, self.pr
        if self.mode:
            switch = ((starved_r and (not starved_w or turn_over))
                      or (not starved_w and (pw == 0 or (pw <= p["low"] and pr != 0)
                                             or blocked_r)))
        else:
            switch = ((starved_w and (not starved_r or turn_over))
                      or (not starved_r and (pw >= p["high"] or (pw != 0 and pr == 0)
                                             or blocked_w)))
        if switch:
            self.switch_at = c + 1

    def _step(self, c):
        """The column and the row command of cycle ``c``, if any; True if one issued."""
        p = self.p
        self._mode(c)
        # A new mode's candidates are registered from the cycle after the switch: its first
        # command goes two cycles after it, the old mode's until then.
        mode = self.mode if c >= self.mode_time + 2 else self.mode ^ 1
        bpg, limit, nb, pos = p["bpg"], p["starve"], self.nb, self.pos
        act_ok = c >= self.act_ok
        col_pick = row_pick = None
        row_key = None
        for b in self.active:
            if c < self.t_cmd[b] + 2:
                continue                      # a bank takes a command every other cycle
            q = self.q[b]
            g = b // bpg
            ob = self.open[b]
            offered = [e for e in q if e.vis <= c and e.write == mode]
            if offered:
                # column: the oldest offered hit not held back by an older starved miss
                hit = None
                for e in offered:
                    if e.row == ob:
                        hit = e
                        break
                    if e.enq + limit <= c:
                        break
                if hit is not None:
                    if mode:
                        ok = (c >= self.t_act[b] + p["trcd_wr"]
                              and c >= self.last_wr_g[g] + p["tccd_l"]
                              and c >= self.last_wr + p["tccd_s"]
                              and c >= self.last_rd + p["rd2wr"])
                    else:
                        ok = (c >= self.t_act[b] + p["trcd_rd"]
                              and c >= self.last_rd_g[g] + p["tccd_l"]
                              and c >= self.last_rd + p["tccd_s"]
                              and c >= self.last_wr_g[g] + p["wr2rd_l"]
                              and c >= self.last_wr + p["wr2rd_s"])
                    if ok and act_ok:
                        k = (pos[b] - self.col_rr) % nb
                        if col_pick is None or k < col_pick[0]:
                            col_pick = (k, b, hit)
                    continue
                # row: PRE or ACT for the oldest offered miss (open page)
                first = None
                for e in offered:
                    if e.row != ob:
                        first = e
                        break
                if first is None:
                    continue
                cls = 1 if ob >= 0 else 0
            else:
                # lookahead: the row of the oldest waiting request of the other mode
                waiting = [e for e in q if e.vis <= c]
                if not waiting or any(e.row == ob for e in waiting):
                    continue
                first = waiting[0]
                cls = 2
            if ob >= 0:
                if not (c >= self.t_act[b] + p["tras"] and c >= self.t_rd[b] + p["trtp"]
                        and c >= self.t_wr[b] + p["wr2pre"]):
                    continue
            elif not (act_ok and c >= self.t_pre[b] + p["trp"]
                      and c >= self.t_act[b] + p["trc"]
                      and c >= self.last_act_g[g] + p["trrd_l"]
                      and c >= self.last_act + p["trrd_s"]
                      and c >= self.acts[0] + p["tfaw"]):
                continue
            key = (cls, (pos[b] - self.row_rr) % nb)
            if row_key is None or key < row_key:
                row_key = key
                row_pick = (b, first)
        issued = False
        if col_pick is not None:
            _, b, e = col_pick
            g = b // bpg
            q = self.q[b]
            q.remove(e)
            if not q:
                self.active.discard(b)
            self.t_cmd[b] = c
            if e.write:
                self.t_wr[b] = self.last_wr_g[g] = self.last_wr = c
                self.pw -= 1
                heapq.heappush(self.leaving, (c + p["write_departure"], b))
                self.sim.write_issued(e, c)
            else:
                self.t_rd[b] = self.last_rd_g[g] = self.last_rd = c
                self.pr -= 1
                self.occ[b] -= 1
                self.sim.read_issued(e, c)
            if e.enq + limit <= c and e.write == mode:
                self.served_starved = True
            self.col_rr = (pos[b] + 1) % nb
            issued = True
        if row_pick is not None and (col_pick is None or col_pick[1] != row_pick[0]):
            b, e = row_pick
            g = b // bpg
            if self.open[b] >= 0:
                self.open[b] = -1
                self.t_pre[b] = c
            else:
                self.open[b] = e.row
                self.t_act[b] = self.last_act_g[g] = self.last_act = c
                self.acts.append(c)
            self.t_cmd[b] = c
            self.row_rr = (pos[b] + 1) % nb
            issued = True
        return issued

    def _wake(self, c):
        """The next cycle after ``c`` at which a decision could change."""
        p = self.p
        w = INF
        for x in (self.last_rd + p["tccd_s"], self.last_wr + p["tccd_s"],
                  self.last_rd + p["rd2wr"], self.last_wr + p["wr2rd_s"],
                  self.last_act + p["trrd_s"], self.acts[0] + p["tfaw"], self.act_ok,
                  self.dwell_start + p["starve"]):
            if c < x < w:
                w = x
        if self.leaving and c < self.leaving[0][0] < w:
            w = self.leaving[0][0]
        if self.owed == 0 and c < self.next_due < w:
            w = self.next_due
        bpg, starve = p["bpg"], p["starve"]
        trcd_rd, trcd_wr, tras, trc = p["trcd_rd"], p["trcd_wr"], p["tras"], p["trc"]
        trtp, wr2pre, trp, tccd_l = p["trtp"], p["wr2pre"], p["trp"], p["tccd_l"]
        wr2rd_l, trrd_l = p["wr2rd_l"], p["trrd_l"]
        t_act, t_cmd, t_rd, t_wr, t_pre = self.t_act, self.t_cmd, self.t_rd, self.t_wr, \
            self.t_pre
        for b in self.active:
            g = b // bpg
            ta = t_act[b]
            for x in (t_cmd[b] + 2, ta + trcd_rd, ta + trcd_wr, ta + tras, ta + trc,
                      t_rd[b] + trtp, t_wr[b] + wr2pre, t_pre[b] + trp,
                      self.last_rd_g[g] + tccd_l, self.last_wr_g[g] + tccd_l,
                      self.last_wr_g[g] + wr2rd_l, self.last_act_g[g] + trrd_l):
                if c < x < w:
                    w = x
            q = self.q[b]
            x = q[0].enq + starve          # the oldest request of the bank
            if c < x < w:
                w = x
            for e in q:
                x = e.vis
                if c < x < w:
                    w = x
        return w


class _Simulation:
    """One matmul on the model (see the module documentation)."""

    def __init__(self, model, m, k, n, descriptor):
        self.model = model
        self.d = descriptor
        self.p = model._params
        self.refresh_phase = model.refresh_phase
        self.rr_pos = model._rr_pos
        self.rd_to_r = model._rd_to_r
        self.wr_to_b = model._wr_to_b
        self.m, self.k, self.n = m, k, n
        self.channels = [_Channel(self, self.p) for _ in range(model.config.channels)]

    # -- results of the channels -------------------------------------------------------
    def read_issued(self, req, c):
        req.burst.ready[req.beat] = c + self.rd_to_r

    def write_issued(self, req, c):
        self.wack[req.burst] = c + self.wr_to_b

    # -- the port's R channel ----------------------------------------------------------
    def horizon(self):
        """Every command before this cycle is decided, in every channel."""
        return min(ch.now for ch in self.channels)

    def r_advance(self, T):
        """Decide R's cycles up to ``T`` as far as the beats' data is known: the oldest
        burst whose first beat is in (and with no older burst of its ID waiting) takes R
        and keeps it until its last beat."""
        H = min(T, self.horizon() + self.rd_to_r - 1)
        pend = self.r_pending
        while self.r_now <= H:
            y = self.r_now
            cur = self.r_cur
            if cur is not None:
                x = cur.ready[cur.sent]
                if x is None:
                    self.r_now = H + 1
                    return
                if x > y:
                    self.r_now = min(x, H + 1)
                    continue
                cur.sent += 1
                self.r_now = y + 1
                if cur.sent == cur.nbeats:
                    cur.r_end = y
                    cur.release = y + 1
                    self.r_cur = None
                    self.burst_done(cur)
                continue
            best = None
            earliest = INF
            seen = set()
            for burst in pend:
                if burst.id in seen:
                    continue
                seen.add(burst.id)
                x = burst.ready[0]
                if x is None:
                    continue
                if x <= y:
                    best = burst
                    break
                if x < earliest:
                    earliest = x
            if best is None:
                self.r_now = min(earliest, H + 1)
                continue
            pend.remove(best)
            self.r_cur = best

    def advance_memory(self, T):
        """Decide the channels up to ``T`` and R as far as that allows."""
        for ch in self.channels:
            if ch.now <= T:
                ch.advance(T)
        self.r_advance(T + self.rd_to_r)

    def slot_time(self, t, bursts, limit):
        """The earliest cycle from ``t`` at which fewer than ``limit`` of ``bursts`` are in
        flight: (cycle, exact); not exact when that depends on R not decided yet."""
        known = []
        unknown = 0
        for b in bursts:
            r = b.release
            if r is None:
                unknown += 1
            elif r > t:
                known.append(r)
        if unknown + len(known) < limit:
            return t, True
        if unknown >= limit:
            return max(t, self.r_now + 1), False
        known.sort()
        x = known[len(known) + unknown - limit]
        if x <= self.r_now:
            return max(t, x), True
        return max(t, self.r_now + 1), False

    def slots(self, t, own, limit):
        """The earliest AR from ``t`` with room for a burst in the reader (``own``, at most
        ``limit`` in flight) and a read slot in the port: (cycle, 'exact' or 'mem')."""
        p = self.p
        port = self.port_bursts
        while True:
            t1, ex1 = self.slot_time(t, own, limit)
            if not ex1:
                return t1, "mem"
            t2, ex2 = self.slot_time(t1, port, p["read_slots"])
            if not ex2:
                return t2, "mem"
            if t2 == t1:
                return t2, "exact"
            t = t2

    # -- the command -------------------------------------------------------------------
    def run(self):
        model = self.model
        cfg, d, beat, p = model.config, self.d, model.beat_bytes, self.p
        m, k, n = self.m, self.k, self.n
        R, C = cfg.rows, cfg.cols
        bm, bk = cfg.block_m, cfg.block_k
        m_blocks, n_tiles, k_chunks = -(-m // bm), -(-n // C), -(-k // bk)
        c_beats = max(1, 4 * C // beat)
        start = sequencer_cycles(m, k) - 1          # the START cycle, CHECK being cycle 0
        lat = model.array_latency
        credit = model.result_fifo_depth
        decode = model._decode
        o_rows, w_rows = p["output_rows"], p["writer_rows"]
        output_delay = p["output_stages"] + OUTPUT_FIFO_DELAY

        # The tiling, in the order every path walks it.
        tiles, visits, panels, wrows, blocks, crow = [], [], [], [], [], []
        for mt in range(m_blocks):
            rows = bm if mt < m_blocks - 1 else m - (m_blocks - 1) * bm
            for nt in range(n_tiles):
                b = len(blocks)
                blocks.append(rows)
                column = (nt * C) // beat * beat
                for kc in range(k_chunks):
                    elements = bk if kc < k_chunks - 1 else k - (k_chunks - 1) * bk
                    ntile = -(-elements // R)
                    if k_chunks > 1 or nt == 0:
                        panels.append([mt, kc, rows, -(-elements // beat), None])
                    pi = len(panels) - 1
                    v = len(visits)
                    visits.append(pi)
                    panels[pi][4] = v            # the last visit that uses the panel
                    for kt in range(ntile):
                        tiles.append((v, b, rows, kc == 0 and kt == 0,
                                      kc == k_chunks - 1 and kt == ntile - 1))
                        for r in range(R):
                            kk = kc * bk + kt * R + r
                            wrows.append(d["b_addr"] + kk * d["b_stride"] + column
                                         if kk < k else None)
                col = nt * C * 4 // beat * beat
                for r in range(rows):
                    crow.append((b, d["c_addr"] + (mt * bm + r) * d["c_stride"] + col))
        NT, NW, NC, NP = len(tiles), len(wrows), len(crow), len(panels)
        tile_i0 = []                 # index of a tile's first activation in its block
        for T, tile in enumerate(tiles):
            tile_i0.append(0 if tile[3] else tile_i0[-1] + tiles[T - 1][2])

        # Times (None until known).
        wdata = self.wdata = [None] * NW          # weight row on R
        wacc = [None] * NW                        # weight row taken by the array
        act_start = self.act_start = [None] * NT
        act_end = self.act_end = [None] * NT
        panel_ready = [None] * NP
        panel_left = [0] * NP
        panel_last = [-INF] * NP
        panel_issued = [False] * NP
        release = [None] * NP
        complete = [None] * len(blocks)
        drained = [None] * len(blocks)
        iss, ent, pop = [None] * NC, [None] * NC, [None] * NC
        self.wack = wack = []                     # writes: WR + wr_to_b
        bseq = []                                 # writes: B, in order
        self.r_pending, self.r_cur, self.r_now = [], None, 0
        port_bursts, a_bursts, b_bursts = [], [], []
        self.port_bursts = port_bursts
        port_reads = deque()                      # [burst, next beat, ready, address]
        prog = dict(tiles=0, wrow=0, wtiles=0, drain=0)
        st = dict(b_next=0, b_req=start, b_ar=-INF, a_panel=0, a_row=0, a_first=None,
                  a_req=-INF, a_ar=-INF, loader_free=start + 1, w_next=0, w_beat=0,
                  w_prev=-INF, ar_free=0, turn=1, port_free=0, w_pending=None,
                  last_write=False)
        orders = {}

        def burst_done(burst):
            if burst.kind:
                wdata[burst.index] = burst.r_end
                return
            pi = burst.index
            panel_left[pi] -= 1
            panel_last[pi] = max(panel_last[pi], burst.r_end)
            if panel_left[pi] == 0 and panel_issued[pi]:
                panel_ready[pi] = panel_last[pi] + PANEL_DELAY
        self.burst_done = burst_done

        def compute_drain():
            """Drain issues and writer entries of the C rows, as far as known."""
            i = prog["drain"]
            while i < NC:
                b = crow[i][0]
                if complete[b] is None or (i >= w_rows and pop[i - w_rows] is None):
                    return
                # at most o_rows rows between the output stage's issue and the writer
                x = max(complete[b], iss[i - 1] + 1 if i else -INF,
                        ent[i - o_rows] + 1 if i >= o_rows else -INF)
                iss[i] = x
                # the writer's FIFO holds w_rows rows
                ent[i] = max(x + output_delay, ent[i - 1] + 1 if i else -INF,
                             pop[i - w_rows] + 1 if i >= w_rows else -INF)
                if i + 1 == NC or crow[i + 1][0] != b:
                    drained[b] = x               # the bank is free for block b + 2
                i += 1
                prog["drain"] = i

        def compute_tiles():
            """The array's schedule as far as its inputs are known; returns None, or why it
            stops: 'mem' (memory not decided yet) or 'stream' (a request not issued)."""
            while True:
                compute_drain()
                # weight rows, in order, into the array's two weight buffers
                j = prog["wrow"]
                wwhy = "mem"
                while j < NW:
                    T = j // R
                    if T >= prog["tiles"] + 2:
                        break
                    if wdata[j] is None:
                        wwhy = "mem" if j < st["b_next"] else "stream"
                        break
                    gate = act_end[T - 2] + 1 if T >= 2 else -INF
                    wacc[j] = max(wdata[j] + WEIGHT_DELAY, wacc[j - 1] + 1 if j else -INF,
                                  gate)
                    j += 1
                    prog["wrow"] = j
                    if j % R == 0:
                        prog["wtiles"] = j // R
                T = prog["tiles"]
                if T >= NT:
                    return None
                if prog["wtiles"] <= T:
                    return wwhy
                v, b, rows, first, last = tiles[T]
                pi = visits[v]
                if panel_ready[pi] is None:
                    return "mem" if panel_issued[pi] else "stream"
                i0 = tile_i0[T]
                bound = b >= 2 and i0 + rows > credit
                if bound and drained[b - 2] is None:
                    return "stream"
                s = max(wacc[T * R + R - 1] + 1, act_end[T - 1] + 1 if T else -INF,
                        panel_ready[pi])
                e = s + rows - 1
                if bound:
                    # The result FIFO keeps `credit` results of the block until the bank
                    # two blocks back has drained: activation i waits for result
                    # i - credit to be taken.
                    f = drained[b - 2] + 1 - credit
                    if i0 >= credit:
                        s = max(s, f + i0)
                        e = s + rows - 1
                    e = max(e, f + i0 + rows - 1)
                act_start[T], act_end[T] = s, e
                if last:
                    complete[b] = e + lat + BANK_DELAY
                if panels[pi][4] == v and (T + 1 == NT or tiles[T + 1][0] != v):
                    release[pi] = e - STREAM_AHEAD
                prog["tiles"] = T + 1

        def lb_mem():
            return self.r_now + 1

        def b_cand():
            """The weight reader's next AR."""
            j = st["b_next"]
            if j >= NW:
                return INF, "exact"
            room = -INF
            ahead = p["weight_rows_ahead"]
            if j >= ahead:
                if wacc[j - ahead] is None:
                    why = compute_tiles()
                    if wacc[j - ahead] is None:
                        return lb_mem(), why
                room = wacc[j - ahead] + 1
            req = max(st["b_req"] + 1, room)
            if wrows[j] is None:
                return req, "exact"              # a row past K: no read
            return self.slots(max(req + 2, st["b_ar"] + 1, st["ar_free"]), b_bursts,
                              p["b_bursts"])

        def panel_order(pi):
            """Rows from the panel's four quarters in turn (None: past the block)."""
            rows = panels[pi][2]
            q = (rows + 3) >> 2
            return [r if r < rows else None
                    for r in ((s & 3) * q + (s >> 2) for s in range(4 * q))]

        def a_cand():
            """The A loader's next row (and the A reader's AR)."""
            pi = st["a_panel"]
            if pi >= NP:
                return INF, "exact"
            if st["a_first"] is None:
                begin = st["loader_free"]
                if pi >= 2:
                    if release[pi - 2] is None:
                        why = compute_tiles()
                        if release[pi - 2] is None:
                            return lb_mem(), why
                    begin = max(release[pi - 2] + 1, begin)
                st["a_first"] = begin + LOADER_SETUP
                orders[pi] = panel_order(pi)
            req = max(st["a_first"] + st["a_row"], st["a_req"] + 1, st["a_ar"] - 1)
            if orders[pi][st["a_row"]] is None:
                return req, "exact"
            return self.slots(max(req + 2, st["a_ar"] + 1, st["ar_free"]), a_bursts,
                              p["a_bursts"])

        def b_time(i):
            """B of write i (None until known): in order, one ID."""
            while len(bseq) <= i:
                x = len(bseq)
                if x >= len(wack) or wack[x] is None:
                    return None
                bseq.append(max(wack[x], bseq[x - 1] + 1 if x else -INF))
            return bseq[i]

        def w_cand():
            """The writer's next AW (every beat is a burst of its own)."""
            i = st["w_next"]
            if i >= NC:
                return INF, "exact"
            if st["w_pending"] is not None:
                return INF, "stream"             # its W waits for the port
            if ent[i] is None:
                why = compute_tiles()
                if ent[i] is None:
                    return lb_mem(), why
            aw = max(ent[i] + WRITER_DELAY, st["w_prev"] + 1)
            nw = len(wack)
            if nw >= p["write_slots"]:
                bt = b_time(nw - p["write_slots"])
                if bt is None:
                    return max(aw, self.horizon() + self.wr_to_b), "mem"
                aw = max(aw, bt + 1)
            return aw, "exact"

        def p_cand():
            """The port's request register: its next beat."""
            ready = port_reads[0][2] if port_reads else INF
            if st["w_pending"] is not None:
                ready = min(ready, st["w_pending"][0])
            if ready == INF:
                return INF, "stream"
            return max(ready, st["port_free"]), "exact"

        def prune(bursts, t):
            if len(bursts) > 24:
                bursts[:] = [b for b in bursts if b.release is None or b.release > t]

        while True:
            cands = (a_cand(), b_cand(), w_cand(), p_cand())
            te = lb = INF
            for x, why in cands:
                if why == "exact":
                    if x < te:
                        te = x
                elif why == "mem" and x < lb:
                    lb = x
            if te == INF and lb == INF:
                if (st["w_next"] >= NC and st["b_next"] >= NW and st["a_panel"] >= NP
                        and not port_reads and st["w_pending"] is None):
                    break
                raise RuntimeError("the performance model's schedule is stuck")
            if lb <= te:
                # A source waits for the memory's decisions: make them up to where no
                # request not yet issued could change them.
                self.advance_memory(lb + 3)
                continue
            for bursts in (port_bursts, a_bursts, b_bursts):
                prune(bursts, te)
            picks = [i for i, (x, why) in enumerate(cands) if why == "exact" and x == te]
            if 0 in picks and 1 in picks:
                pick = 0 if st["turn"] == 1 else 1       # the AR round robin
            else:
                pick = picks[0]
            self.advance_memory(te + 3)
            if pick == 1:
                j = st["b_next"]
                ahead = p["weight_rows_ahead"]
                req = max(st["b_req"] + 1, wacc[j - ahead] + 1 if j >= ahead else -INF)
                st["b_req"] = req
                if wrows[j] is None:
                    wdata[j] = req
                else:
                    st["ar_free"] = te + 1
                    st["b_ar"] = te
                    st["turn"] = 1
                    burst = _Burst(-1, 1, 1, j)
                    port_bursts.append(burst)
                    b_bursts.append(burst)
                    self.r_pending.append(burst)
                    port_reads.append([burst, 0, te + 1, wrows[j]])
                st["b_next"] = j + 1
            elif pick == 0:
                pi = st["a_panel"]
                mt, kc, rows, nbeats, _ = panels[pi]
                req = max(st["a_first"] + st["a_row"], st["a_req"] + 1, st["a_ar"] - 1)
                st["a_req"] = req
                r = orders[pi][st["a_row"]]
                if r is not None:
                    st["ar_free"] = te + 1
                    st["a_ar"] = te
                    st["turn"] = 0
                    # the lowest ID with room (two bursts per ID)
                    busy = {}
                    for b in a_bursts:
                        if b.release is None or b.release > te:
                            busy[b.id] = busy.get(b.id, 0) + 1
                    ident = next(i for i in range(p["a_ids"])
                                 if busy.get(i, 0) < p["a_per_id"])
                    burst = _Burst(ident, nbeats, 0, pi)
                    port_bursts.append(burst)
                    a_bursts.append(burst)
                    self.r_pending.append(burst)
                    panel_left[pi] += 1
                    port_reads.append([burst, 0, te + 1,
                                       d["a_addr"] + (mt * bm + r) * d["a_stride"] + kc * bk])
                st["a_row"] += 1
                if st["a_row"] == len(orders[pi]):
                    panel_issued[pi] = True
                    if panel_left[pi] == 0:
                        panel_ready[pi] = panel_last[pi] + PANEL_DELAY
                    st["loader_free"] = req + 1
                    st["a_panel"] += 1
                    st["a_row"] = 0
                    st["a_first"] = None
            elif pick == 2:
                i = st["w_next"]
                st["w_pending"] = (te + 1, crow[i][1] + st["w_beat"] * beat)
            else:
                g = te
                rd_ok = bool(port_reads) and port_reads[0][2] <= g
                wr_ok = st["w_pending"] is not None and st["w_pending"][0] <= g
                write = (not st["last_write"]) if rd_ok and wr_ok else wr_ok
                st["last_write"] = write
                if write:
                    address = st["w_pending"][1]
                    st["w_pending"] = None
                    st["w_prev"] = g
                    c, bank, row = decode(address)
                    wack.append(None)
                    acc = self.channels[c].arrive(
                        g + 1, _Request(bank, True, row, len(wack) - 1, 0))
                    st["w_beat"] += 1
                    if st["w_beat"] == c_beats:
                        st["w_beat"] = 0
                        pop[st["w_next"]] = g
                        st["w_next"] += 1
                else:
                    entry = port_reads[0]
                    burst, beat_index, _, base = entry
                    c, bank, row = decode(base + beat_index * beat)
                    acc = self.channels[c].arrive(
                        g + 1, _Request(bank, False, row, burst, beat_index))
                    entry[1] += 1
                    if entry[1] == burst.nbeats:
                        port_reads.popleft()
                st["port_free"] = acc

        # The last writes, once nothing else waits.
        T = max(ch.now for ch in self.channels) + 64
        while any(x is None for x in wack) or any(ch.active for ch in self.channels):
            self.advance_memory(T)
            T += 1024
        compute_tiles()
        total = b_time(len(wack) - 1) + END_CYCLES if wack else act_end[-1] + END_CYCLES
        return dict(total=total, start=act_start[0], last=act_end[-1],
                    compute=sum(tile[2] for tile in tiles),
                    a_beats=sum(panel[2] * panel[3] for panel in panels),
                    b_beats=NW - wrows.count(None), c_beats=NC * c_beats)


class PerformanceModel:
    """Predicts the accelerator's cycles for ``config`` (see the module documentation).

    Matrices are placed as :func:`openmxu.driver.plan_matmul` places them, so the model
    knows the pseudo-channel, bank and row of every request.
    """

    def __init__(self, config=None):
        self.config = config = Config() if config is None else config
        t = config.address_map.timing
        self.timing = t
        self.address_map = amap = config.address_map
        self.beat_bytes = t.burst_bytes
        from rtl.mem.controller import ChannelController, COMMAND_DELAY, BANK_COMMAND_SPACING
        from rtl.mem.port import REQUEST_DELAY, RESPONSE_DELAY
        from rtl.mem.system import MemorySystem
        from rtl.systolic import build_array
        from rtl.top import A_IDS, B_IDS
        from rtl.accel.weights import ROWS_AHEAD
        from rtl.accel.results import OUTPUT_DEPTH, PIPELINE
        from rtl.accel.dma import DMAWriter
        controller = ChannelController(timing=t, bank_queue_depth=config.bank_queue_depth)
        controller._MustUse__silence = True
        # Unloaded read latencies of the memory system, from AR to the first beat on R.
        self.row_hit_latency = controller.read_latency(row_hit=True) + REQUEST_DELAY \
            + RESPONSE_DELAY
        self.row_miss_latency = controller.read_latency() + REQUEST_DELAY + RESPONSE_DELAY
        self.peak_bytes_per_cycle = config.channels * t.burst_bytes / t.burst_cycles
        array = build_array(config)
        array._MustUse__silence = True
        self.array_latency = array.latency
        self.result_fifo_depth = array.result_fifo_depth
        #: Refreshes are placed at refresh_phase + i * trefi (see the module documentation).
        self.refresh_phase = t.trefi // 2
        system_defaults = MemorySystem.__init__.__kwdefaults__
        bc = t.burst_cycles
        spacing = BANK_COMMAND_SPACING
        self._params = dict(
            banks=t.banks, groups=t.bank_groups, bpg=t.banks_per_group,
            depth=config.bank_queue_depth, command_delay=COMMAND_DELAY,
            high=controller.write_high_watermark, low=controller.write_low_watermark,
            starve=controller.starvation_limit,
            tccd_s=max(t.tccd_s, bc), tccd_l=max(t.tccd_l, bc),
            rd2wr=t.cl + bc - t.cwl, wr2rd_s=t.cwl + bc + t.twtr_s,
            wr2rd_l=t.cwl + bc + t.twtr_l, wr2pre=t.cwl + bc + t.twr,
            trcd_rd=max(t.trcd_rd, spacing), trcd_wr=max(t.trcd_wr, spacing),
            trp=max(t.trp, spacing), tras=t.tras, trc=t.trc, trtp=t.trtp,
            trrd_s=t.trrd_s, trrd_l=t.trrd_l, tfaw=t.tfaw, trefi=t.trefi, trfc=t.trfc,
            postpone=max(t.max_postponed_refreshes, 1),
            deadline=controller.refresh_deadline or INF,
            # a write's slot is free once its data has left the store
            write_departure=1 + t.cwl + bc,
            stuck=1 << 20,
            read_slots=system_defaults["read_bursts"],
            write_slots=system_defaults["write_bursts"],
            # the A reader: bursts under several IDs, a few per ID; the weight reader:
            # bursts under one ID
            a_ids=A_IDS[1], a_per_id=A_IDS[2], a_bursts=A_IDS[1] * A_IDS[2],
            b_bursts=B_IDS[1] * B_IDS[2],
            weight_rows_ahead=ROWS_AHEAD,
            output_rows=OUTPUT_DEPTH, output_stages=PIPELINE,
            writer_rows=DMAWriter.__init__.__kwdefaults__["depth"])
        # RD in cycle d: its beat on R at d + _rd_to_r; WR in cycle w: its B at w + _wr_to_b
        # (the last data beat, the response FIFO, the port's count and B register).
        self._rd_to_r = controller.read_latency(row_hit=True) - COMMAND_DELAY \
            + RESPONSE_DELAY
        self._wr_to_b = t.cwl + bc + 3
        groups, bpg = t.bank_groups, t.banks_per_group
        order = [g * bpg + b for b in range(bpg) for g in range(groups)]
        self._rr_pos = [0] * t.banks
        for i, b in enumerate(order):
            self._rr_pos[b] = i
        sh, wd = amap.shifts, amap.widths
        self._fields = [(sh[f], (1 << wd[f]) - 1)
                        for f in ("channel", "bank_group", "bank", "row")]

    def __repr__(self):
        return f"PerformanceModel({self.config!r})"

    def _decode(self, address):
        """(channel, flat bank, row) of a byte address."""
        (cs, cm), (gs, gm), (bs, bm), (rs, rm) = self._fields
        return ((address >> cs) & cm,
                ((address >> gs) & gm) * self.timing.banks_per_group + ((address >> bs) & bm),
                (address >> rs) & rm)

    def _layout(self, m, k, n):
        """The driver's layout of an m x k x n int32 matmul: the descriptor fields, and the
        (address, length) of the host's loads (A, B, then C's region)."""
        import numpy as np
        from .driver import plan_matmul
        from .registers import DESCRIPTOR, DESCRIPTOR_BASE
        job = plan_matmul(self.config, np.zeros((m, k), dtype=np.int8),
                          np.zeros((k, n), dtype=np.int8))
        names = [name for name, _ in DESCRIPTOR]
        descriptor = {names[index - DESCRIPTOR_BASE]: value for index, value in job.registers}
        return descriptor, [(address, len(data)) for address, data in job.loads]

    def predict(self, m, k, n):
        """The :class:`Prediction` for an ``m`` x ``k`` x ``n`` int32 matmul laid out by the
        driver (see the module documentation)."""
        cfg = self.config
        descriptor, loads = self._layout(m, k, n)
        sim = _Simulation(self, m, k, n, descriptor)
        # The banks start with the rows the host's loads left open.
        step = self.beat_bytes
        for address, length in loads:
            for a in range(address - address % step, address + length, step):
                c, bank, row = self._decode(a)
                sim.channels[c].open[bank] = row
        figures = sim.run()
        total = int(figures["total"])
        beat = self.beat_bytes
        bytes_read = (figures["a_beats"] + figures["b_beats"]) * beat
        bytes_written = figures["c_beats"] * beat
        start = int(figures["start"])
        tail = total - int(figures["last"]) - 1
        compute = figures["compute"]
        return Prediction(
            m=m, k=k, n=n, cycles=total, compute_cycles=compute,
            ideal_cycles=int(m * k * n / cfg.macs), start_cycles=start,
            tail_cycles=tail, load_stall_cycles=total - tail - start - compute,
            bytes_read=bytes_read, bytes_written=bytes_written,
            memory_bound_cycles=int((bytes_read + bytes_written) / self.peak_bytes_per_cycle))
