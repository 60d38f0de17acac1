"""A hardware AXI4 traffic generator for memory-system benchmarks.

The generator drives one manager port with a configured pattern (sequential or random
addresses, a read/write mix, a burst length) and counts what comes back, so a benchmark runs
entirely in the simulator: the testbench sets the pattern inputs, pulses ``start`` and waits
for ``done``, with no Python in the per-cycle loop.

It is built to measure the memory system, not itself: with an always-ready subordinate it
issues one burst per cycle and streams one W beat per cycle without bubbles, and it accepts
every R beat and B response in the cycle it is offered (``RREADY = BREADY = 1``).
"""

from amaranth import Module, Signal, Const, Mux, Cat
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..params import check_int, validating
from .axi import AXI4Signature, Burst, Response, MAX_BURST_BEATS, BOUNDARY
from .counters import log2

__all__ = ["TrafficGenerator", "COUNTERS", "COUNTER_BITS", "LFSR_TAPS", "DEFAULT_SEEDS",
           "lfsr_step", "lfsr_leap", "write_data"]


#: The counter outputs, in the order of the component's members.
COUNTERS = ("cycles", "read_bursts", "write_bursts", "read_bytes", "write_bytes", "errors")

#: Width of every counter: 2**48 cycles is days of simulated time at GHz clocks.
COUNTER_BITS = 48

#: Toggle masks of maximal-length Galois LFSRs (right-shifting form, see :func:`lfsr_step`):
#: x^32 + x^22 + x^2 + x + 1 and x^64 + x^63 + x^61 + x^60 + 1.
LFSR_TAPS = {32: 0x8020_0003, 64: 0xD800_0000_0000_0000}

#: The LFSR state a run starts from when ``seed`` is 0 (an all-zero state would lock up).
DEFAULT_SEEDS = {32: 0xACE1_2468, 64: 0x9E37_79B9_7F4A_7C15}

#: Bits of the burst byte count: up to 16 beats of 128 bytes.
_BURST_BYTES_BITS = (MAX_BURST_BEATS * 128).bit_length()

#: Bits of an offset within a 4 KB page.
_PAGE_BITS = log2(BOUNDARY)


def lfsr_step(state, width):
    """One step of the ``width``-bit Galois LFSR: shift right, and toggle the tap bits when
    the bit shifted out is 1."""
    return (state >> 1) ^ (LFSR_TAPS[width] if state & 1 else 0)


def lfsr_leap(state, width):
    """The LFSR state ``width`` steps on: what the generator advances by per burst, so that
    consecutive random addresses share no shifted bits. The period stays maximal (``width``
    is coprime to the odd period ``2**width - 1``)."""
    for _ in range(width):
        state = lfsr_step(state, width)
    return state


def write_data(address, *, addr_width, data_width):
    """``WDATA`` of the beat at byte ``address``: the address repeated to fill the bus (the
    low ``data_width`` bits of the repetition)."""
    copies = -(-data_width // addr_width)
    value = 0
    for k in range(copies):
        value |= address << (k * addr_width)
    return value & ((1 << data_width) - 1)


class TrafficGenerator(wiring.Component):
    """AXI4 manager that issues a configured burst pattern and measures its completion.

    **A run.** A one-cycle ``start`` pulse while not ``busy`` samples the pattern inputs,
    clears the counters and starts issuing ``bursts`` bursts. The pattern inputs (``base``,
    ``window_log2``, ``beats``, ``random``, ``seed``, ``read_weight``, ``write_weight``,
    ``bursts``) must be valid in the cycle of ``start`` and stay stable until ``done``.
    ``start`` is ignored while ``busy``. ``done`` rises in the cycle after the last response
    and stays high until the next ``start``. A run with ``bursts == 0`` or with both weights 0
    issues nothing and is done in the cycle after ``start``.

    **Mix.** Bursts are issued in a fixed order: of every ``read_weight + write_weight``
    bursts, the first ``read_weight`` are reads and the rest writes (1/0: reads only, 0/1:
    writes only, 2/1: read, read, write, ...). The order is strict: a write that cannot issue
    (AW not accepted, or the write limit reached) holds back the reads behind it, and the
    other way round. At most one burst is issued per cycle.

    **Addresses.** Every burst is ``beats`` full-width beats (``AxSIZE = log2(data_width /
    8)``, ``INCR``), ``beats * data_width / 8`` burst bytes, inside the window of
    ``2**window_log2`` bytes at ``base`` (the low ``window_log2`` bits of ``base`` are
    ignored: the window is aligned to its size). The window must hold at least one burst
    (for random addresses: one burst rounded up to a power of two).

    * Sequential (``random = 0``): the first burst starts at the window's start, each next one
      where the previous one ended (reads and writes share the sequence), wrapping to the
      window's start when the next burst would run past the window's end. With a power of two
      of burst bytes the bursts are aligned to their size. Otherwise a burst that would cross
      a 4 KB boundary starts at that boundary instead, so no burst is ever rejected for
      crossing one.
    * Random (``random = 1``): each burst's offset in the window is the state of a
      maximal-length Galois LFSR (:data:`LFSR_TAPS`; 32 bits for ``addr_width <= 32``, else
      64) masked to the window and aligned to the burst size rounded up to a power of two
      (e.g. 3 beats of 32 B: aligned to 128 B), so random bursts never cross 4 KB. The LFSR
      starts from ``seed``, or from :data:`DEFAULT_SEEDS` when ``seed`` is 0, and advances by
      its width in steps (:func:`lfsr_leap`) per burst issued, read or write. A run is
      therefore repeatable.

    **Channels.** AR and AW each have an output register, refilled in the cycle its request is
    accepted. A write's W beats follow the acceptance of its AW (one cycle after it at the
    earliest), in AW order, one per cycle when ``WREADY`` allows, with ``WDATA`` = the beat's
    address repeated across the bus (:func:`write_data`), ``WSTRB`` all ones and ``WLAST`` on
    the last beat. ``RDATA`` is not looked at.
    ``ARID`` and ``AWID`` count up from 0 at each ``start``, each direction separately,
    wrapping over all ``2**id_width`` values, so a subordinate may complete bursts out of
    order across IDs. R beats of different IDs may be interleaved.

    **Outstanding limit.** A burst counts as in flight from when it enters its address
    register until its last R beat or its B; at most ``max_outstanding`` reads and
    ``max_outstanding`` writes are in flight. A completion frees its place in the same cycle.

    **Counters** (``COUNTER_BITS`` wide, cleared by ``start``, meaningful once ``done``):
    ``cycles`` from the ``start`` cycle up to and including the cycle of the last response
    (1 for an empty run); ``read_bursts`` and ``write_bursts`` completed (last R beat, B);
    ``read_bytes`` and ``write_bytes``, the burst bytes of every completed burst, errors
    included; ``errors``, the bursts with a response other than ``OKAY`` (a read counts once
    however many of its beats carry the error).

    Parameters
    ----------
    addr_width : int
        Width of the AXI addresses, 12 to 64.
    data_width : int
        Width of the AXI data bus, a power of two from 8 to 1024.
    id_width : int
        Width of the AXI IDs, 4 to 16 (the range of :class:`~rtl.mem.axi.AXI4Signature`).
    max_outstanding : int
        Bursts in flight per direction, 1 to 64 (default 16).

    Members
    -------
    m_axi : ``Out(AXI4Signature(addr_width=addr_width, data_width=data_width,
    id_width=id_width))``
        The manager port.
    start : ``In(1)``
        One-cycle pulse that starts a run; ignored while ``busy``.
    base : ``In(addr_width)``
        Start of the address window.
    window_log2 : ``In(range(addr_width + 1))``
        The window is ``2**window_log2`` bytes.
    beats : ``In(range(1, 17))``
        Beats per burst, 1 to 16.
    random : ``In(1)``
        1: random addresses, 0: sequential.
    seed : ``In(lfsr_width)``
        Start state of the LFSR; 0 selects :data:`DEFAULT_SEEDS`.
    read_weight, write_weight : ``In(4)``
        The read/write mix.
    bursts : ``In(32)``
        Bursts to issue in the run.
    busy : ``Out(1)``
        A run is in progress (from the cycle after ``start`` to the cycle of the last
        response).
    done : ``Out(1)``
        The run has finished; stays high until the next ``start``.
    cycles, read_bursts, write_bursts, read_bytes, write_bytes, errors : ``Out(48)``
        The counters described above.
    """

    def __init__(self, *, addr_width, data_width, id_width, max_outstanding=16):
        with validating(self):
            check_int("addr_width", addr_width, 12, 64)
            check_int("data_width", data_width, 8, 1024)
            if data_width & (data_width - 1):
                raise ValueError(f"data_width must be a power of two between 8 and 1024, "
                                 f"not {data_width}")
            check_int("id_width", id_width, 4, 16)
            check_int("max_outstanding", max_outstanding, 1, 64)
            axi = AXI4Signature(addr_width=addr_width, data_width=data_width,
                                id_width=id_width)
        self._axi = axi
        self._max_outstanding = max_outstanding
        self._lfsr_width = 32 if addr_width <= 32 else 64
        super().__init__({
            "m_axi": Out(axi),
            "start": In(1),
            "base": In(addr_width),
            "window_log2": In(range(addr_width + 1)),
            "beats": In(range(1, MAX_BURST_BEATS + 1)),
            "random": In(1),
            "seed": In(self._lfsr_width),
            "read_weight": In(4),
            "write_weight": In(4),
            "bursts": In(32),
            "busy": Out(1),
            "done": Out(1),
            **{name: Out(COUNTER_BITS) for name in COUNTERS},
        })

    @property
    def axi_signature(self):
        return self._axi

    @property
    def max_outstanding(self):
        return self._max_outstanding

    @property
    def lfsr_width(self):
        """Width of the address LFSR and of ``seed``: 32 for ``addr_width <= 32``, else 64."""
        return self._lfsr_width

    def __repr__(self):
        return (f"TrafficGenerator(addr_width={self._axi.addr_width}, "
                f"data_width={self._axi.data_width}, id_width={self._axi.id_width}, "
                f"max_outstanding={self._max_outstanding})")

    def elaborate(self, platform):
        m = Module()
        axi, bus = self._axi, self.m_axi
        aw, beat_bytes, limit = axi.addr_width, axi.beat_bytes, self._max_outstanding
        lw = self._lfsr_width

        busy, done = self.busy, self.done
        start = self.start & ~busy

        # Run configuration, derived from the inputs once at start so that the issue logic
        # works from registers.
        cfg_base = Signal(aw)              # base with the offset bits cleared
        cfg_window = Signal(aw + 1)        # window bytes
        cfg_mask = Signal(aw)              # window bytes - 1
        cfg_align = Signal(aw)             # random offsets: bits cleared for alignment
        cfg_len = Signal(4)                # AxLEN
        cfg_bytes = Signal(_BURST_BYTES_BITS)
        cfg_random = Signal()
        cfg_reads = Signal(4)              # read_weight
        cfg_period = Signal(5)             # read_weight + write_weight

        window_mask = Signal(aw)
        m.d.comb += window_mask.eq(Cat(*(self.window_log2 > bit for bit in range(aw))))
        length = (self.beats - 1)[:4]
        # Random bursts are aligned to their size rounded up to a power of two: the smeared
        # AxLEN is that size in beats, minus one.
        smeared = length | (length >> 1) | (length >> 2) | (length >> 3)
        period = self.read_weight + self.write_weight
        with m.If(start):
            m.d.sync += [
                cfg_base.eq(self.base & ~window_mask),
                cfg_window.eq(window_mask + 1),
                cfg_mask.eq(window_mask),
                cfg_align.eq(Cat(Const(beat_bytes - 1, log2(beat_bytes)), smeared)),
                cfg_len.eq(length),
                cfg_bytes.eq((length + 1) << log2(beat_bytes)),
                cfg_random.eq(self.random),
                cfg_reads.eq(self.read_weight),
                cfg_period.eq(period),
            ]

        # Issue state: bursts still to issue, position in the mix, next addresses.
        remaining = Signal(32)
        mix_pos = Signal(5)
        offset = Signal(aw)                # sequential: offset of the next burst
        lfsr = Signal(lw)

        # In-flight bursts per direction, and their completions this cycle.
        reads_out = Signal(range(limit + 1))
        writes_out = Signal(range(limit + 1))
        read_done = bus.rvalid & bus.rlast
        write_done = bus.bvalid

        # Address channel output registers.
        ar_free = ~bus.arvalid | bus.arready
        aw_free = ~bus.awvalid | bus.awready
        next_arid = Signal(axi.id_width)
        next_awid = Signal(axi.id_width)

        # The W queue: address and AxLEN of every write whose AW was accepted and whose
        # beats have not started. Every entry is a write in flight (no B comes before its
        # beats), so max_outstanding entries are enough.
        m.submodules.w_queue = w_queue = SyncFIFO(width=aw + 4, depth=limit)

        head_read = mix_pos < cfg_reads
        head_offset = Mux(cfg_random, lfsr[:aw] & cfg_mask & ~cfg_align, offset)
        head_addr = cfg_base | head_offset
        pending = busy & (remaining != 0)
        issue_read = Signal()
        issue_write = Signal()
        m.d.comb += [
            issue_read.eq(pending & head_read & ar_free
                          & ((reads_out != limit) | read_done)),
            issue_write.eq(pending & ~head_read & aw_free
                           & ((writes_out != limit) | write_done)),
        ]
        issue = issue_read | issue_write

        # The sequential successor: the end of this burst, moved to the next 4 KB boundary
        # if the burst after it would cross one, or to the window's start if it would not fit.
        follow = Signal(aw + 1)
        skipped = Signal(aw + 2)
        m.d.comb += [
            follow.eq(offset + cfg_bytes),
            skipped.eq(Mux(follow[:_PAGE_BITS] + cfg_bytes > BOUNDARY,
                           Cat(Const(0, _PAGE_BITS), follow[_PAGE_BITS:] + 1), follow)),
        ]
        next_offset = Mux(skipped + cfg_bytes > cfg_window, 0, skipped)

        # Leap the LFSR by its width in steps: each next bit is an XOR of current bits.
        images = [lfsr_leap(1 << j, lw) for j in range(lw)]
        leaped = [Cat(*(lfsr[j] for j in range(lw) if images[j] >> bit & 1)).xor()
                  for bit in range(lw)]

        with m.If(start):
            m.d.sync += [
                remaining.eq(Mux(period == 0, 0, self.bursts)),
                mix_pos.eq(0),
                offset.eq(0),
                lfsr.eq(Mux(self.seed == 0, DEFAULT_SEEDS[lw], self.seed)),
            ]
        with m.Elif(issue):
            m.d.sync += [
                remaining.eq(remaining - 1),
                mix_pos.eq(Mux(mix_pos + 1 == cfg_period, 0, mix_pos + 1)),
                offset.eq(next_offset),
                lfsr.eq(Cat(*leaped)),
            ]

        # AR and AW.
        m.d.comb += [
            bus.arsize.eq(axi.size), bus.arburst.eq(Burst.INCR),
            bus.awsize.eq(axi.size), bus.awburst.eq(Burst.INCR),
        ]
        with m.If(issue_read):
            m.d.sync += [
                bus.arvalid.eq(1), bus.araddr.eq(head_addr), bus.arlen.eq(cfg_len),
                bus.arid.eq(next_arid), next_arid.eq(next_arid + 1),
            ]
        with m.Elif(bus.arready):
            m.d.sync += bus.arvalid.eq(0)
        with m.If(issue_write):
            m.d.sync += [
                bus.awvalid.eq(1), bus.awaddr.eq(head_addr), bus.awlen.eq(cfg_len),
                bus.awid.eq(next_awid), next_awid.eq(next_awid + 1),
            ]
        with m.Elif(bus.awready):
            m.d.sync += bus.awvalid.eq(0)

        # W: a burst's beats start only after its AW was accepted, in the cycle after at the
        # earliest (W before or with its AW is legal AXI, but some subordinates and
        # interconnects mishandle it, and AW-first keeps the W order plainly the AW order).
        # The beat register takes the next burst in the cycle the last beat of the current
        # one is accepted, so beats of consecutive bursts follow without a gap; with nothing
        # queued it takes an AW accepted in that cycle directly, saving the queue's cycle.
        w_active = Signal()
        w_addr = Signal(aw)
        w_left = Signal(4)                 # beats after the current one
        copies = -(-axi.data_width // aw)
        m.d.comb += [
            bus.wvalid.eq(w_active),
            bus.wlast.eq(w_left == 0),
            bus.wdata.eq(Cat(*[w_addr] * copies)[:axi.data_width]),
            bus.wstrb.eq(Const((1 << axi.strobe_width) - 1, axi.strobe_width)),
        ]
        w_next = ~w_active | (bus.wready & bus.wlast)
        aw_accepted = bus.awvalid & bus.awready
        bypass = w_next & ~w_queue.r_rdy & aw_accepted
        m.d.comb += [
            w_queue.w_en.eq(aw_accepted & ~bypass),
            w_queue.w_data.eq(Cat(bus.awaddr, bus.awlen[:4])),
            w_queue.r_en.eq(w_next),
        ]
        with m.If(w_next & w_queue.r_rdy):
            m.d.sync += [
                w_active.eq(1),
                w_addr.eq(w_queue.r_data[:aw]),
                w_left.eq(w_queue.r_data[aw:]),
            ]
        with m.Elif(bypass):
            m.d.sync += [w_active.eq(1), w_addr.eq(bus.awaddr), w_left.eq(bus.awlen[:4])]
        with m.Elif(w_next):
            m.d.sync += w_active.eq(0)
        with m.Elif(bus.wready):
            m.d.sync += [w_addr.eq(w_addr + beat_bytes), w_left.eq(w_left - 1)]

        # Responses are always accepted, so nothing in flight ever waits on the generator.
        m.d.comb += [bus.rready.eq(1), bus.bready.eq(1)]

        # Read errors are sticky per ID until the burst's last beat, since R beats of
        # different IDs may interleave. The bursts in flight are among the last
        # max_outstanding issued, whose IDs are consecutive: their low bits tell them apart
        # (and same-ID bursts never interleave), so one flag per low-bits value suffices.
        flag_bits = min(axi.id_width, (limit - 1).bit_length())
        flags = Signal(1 << flag_bits)
        flag_index = bus.rid[:flag_bits] if flag_bits else Const(0, 1)
        flag = flags.bit_select(flag_index, 1)
        r_bad = bus.rvalid & (bus.rresp != Response.OKAY)
        read_error = read_done & (flag | r_bad)
        write_error = write_done & (bus.bresp != Response.OKAY)
        with m.If(bus.rvalid):
            m.d.sync += flags.bit_select(flag_index, 1).eq(~bus.rlast & (flag | r_bad))

        # In-flight counts.
        with m.If(start):
            m.d.sync += [reads_out.eq(0), writes_out.eq(0), flags.eq(0),
                         next_arid.eq(0), next_awid.eq(0)]
        with m.Else():
            m.d.sync += [reads_out.eq(reads_out + issue_read - read_done),
                         writes_out.eq(writes_out + issue_write - write_done)]

        # Completion: the cycle in which the last response arrives. A burst issued in this
        # cycle is still to come, and a finished run has nothing left to issue.
        finished = (busy & (remaining == 0)
                    & (reads_out == read_done) & (writes_out == write_done))
        with m.If(start):
            empty = (self.bursts == 0) | (period == 0)
            m.d.sync += [busy.eq(~empty), done.eq(empty)]
        with m.Elif(finished):
            m.d.sync += [busy.eq(0), done.eq(1)]

        # Counters.
        increments = {
            "cycles": busy,
            "read_bursts": read_done,
            "write_bursts": write_done,
            "read_bytes": Mux(read_done, cfg_bytes, 0),
            "write_bytes": Mux(write_done, cfg_bytes, 0),
            "errors": read_error + write_error,
        }
        for name, increment in increments.items():
            counter = getattr(self, name)
            with m.If(start):
                m.d.sync += counter.eq(1 if name == "cycles" else 0)
            with m.Else():
                m.d.sync += counter.eq(counter + increment)
        return m
