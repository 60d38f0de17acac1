"""The iCEBreaker's memory: the iCE40UP5K's four single-port RAMs behind AXI4 ports.

Organization: each ``SB_SPRAM256KA`` is 16K words x 16 bits (32 KB); the four side by side
make one 16K x 64-bit memory (128 KB). SPRAM ``i`` holds bytes ``2i`` and ``2i + 1`` of every
64-bit word, so byte address ``a`` is byte ``a % 8`` of word ``a // 8``. The SPRAMs read in one
cycle (``DATAOUT`` is valid in the cycle after the address) and hold ``DATAOUT`` while
``CHIPSELECT`` is low, which the read path relies on to stall without a skid buffer. Their
write masks are per nibble (``MASKWREN``), so an AXI byte strobe enables its two nibbles.

:class:`SPRAMMemory` is an AXI4 subordinate with one to two ports: one engine serves one
burst at a time, picking the next among every port's AW and AR round robin, so that the
accelerator and the host link share the memory fairly at burst granularity. On an iCE40
UltraPlus platform it instantiates the ``SB_SPRAM256KA`` primitives; with no platform (the
simulators) an :mod:`amaranth.lib.memory` model with the same latency, hold behaviour and
nibble masks stands in, so one module serves the tests and the bitstream. On any other
platform the model is used too, and the toolchain infers what RAM it can.
"""

from amaranth import Module, Signal, Cat, Const, Mux, ClockSignal, Instance, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from rtl.mem.axi import AXI4Signature, Burst, Response, BOUNDARY
from rtl.mem.bits import lowest_set
from rtl.params import check_int, validating

__all__ = ["SPRAMMemory", "SPRAM_COUNT", "SPRAM_WORDS", "WORD_BYTES", "CAPACITY_BYTES",
           "MAX_BEATS", "READ_LATENCY"]

#: ``SB_SPRAM256KA`` blocks of the iCE40UP5K, all used side by side.
SPRAM_COUNT = 4

#: Words of one SPRAM (14 address bits) and bits per word.
SPRAM_WORDS, SPRAM_BITS = 16384, 16

#: Bytes of one word of the combined memory (four 16-bit SPRAMs).
WORD_BYTES = SPRAM_COUNT * SPRAM_BITS // 8

#: Bytes the memory holds: 128 KB.
CAPACITY_BYTES = SPRAM_WORDS * WORD_BYTES

#: Longest INCR burst (AXI4).
MAX_BEATS = 256

#: Cycles from an AR handshake to its first R beat with nothing else going on, for 8-byte
#: beats: the burst register, then the SPRAM's one-cycle read. Wider beats add one cycle
#: per further word of the first beat.
READ_LATENCY = 2

_ADDRESS_BITS = (SPRAM_WORDS - 1).bit_length()
_OFFSET_BITS = (WORD_BYTES - 1).bit_length()
_CAPACITY_BITS = (CAPACITY_BYTES - 1).bit_length()


def _spram(m, primitive, name, *, address, datain, maskwren, wren, chipselect):
    """One SPRAM in ``m``, the primitive or its model; returns its ``DATAOUT``."""
    dataout = Signal(SPRAM_BITS, name=f"{name}_dataout")
    if primitive:
        m.submodules[name] = Instance(
            "SB_SPRAM256KA",
            i_ADDRESS=address, i_DATAIN=datain, i_MASKWREN=maskwren, i_WREN=wren,
            i_CHIPSELECT=chipselect, i_CLOCK=ClockSignal(),
            # Always awake and powered (POWEROFF is active low).
            i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1,
            o_DATAOUT=dataout)
        return dataout
    memory = Memory(shape=unsigned(SPRAM_BITS), depth=SPRAM_WORDS, init=[])
    m.submodules[name] = memory
    write = memory.write_port(granularity=4)
    read = memory.read_port()
    m.d.comb += [
        write.addr.eq(address),
        write.data.eq(datain),
        write.en.eq(Mux(chipselect & wren, maskwren, 0)),
        read.addr.eq(address),
        # A read only when selected and not writing: otherwise DATAOUT holds, as on silicon.
        read.en.eq(chipselect & ~wren),
        dataout.eq(read.data),
    ]
    return dataout


def _is_ultraplus(platform):
    if platform is None:
        return False
    from amaranth.vendor import SiliconBluePlatform
    if not isinstance(platform, SiliconBluePlatform):
        return False
    if not platform.device.startswith("iCE40UP"):
        raise ValueError(f"SB_SPRAM256KA exists on the iCE40 UltraPlus (iCE40UP*) only, not "
                         f"on {platform.device}")
    return True


class SPRAMMemory(wiring.Component):
    """128 KB of iCE40UP5K SPRAM as an AXI4 subordinate with ``ports`` ports (see the module
    documentation for the organization).

    What a port accepts and answers:

    * INCR bursts of 1 to 256 full-width beats (``AxSIZE == log2(data_bytes)``) at an address
      aligned to the beat, not crossing 4 KB: ``OKAY``. ``WSTRB`` is honoured per byte.
    * Any other burst (FIXED, WRAP, narrow, unaligned, crossing 4 KB): ``SLVERR``; a burst
      at or above :data:`CAPACITY_BYTES`: ``DECERR``. Neither touches memory; a write still
      takes all of its W beats, a read still gives all of its R beats with ``RDATA = 0``.
    * ``WLAST`` is not checked: the beat count comes from ``AWLEN``.

    Timing: the memory moves one 64-bit word per cycle, so a burst streams one beat every
    ``data_bytes / 8`` cycles (every cycle for 8-byte beats) while the manager keeps up.
    An unloaded read has its first beat valid :data:`READ_LATENCY` (2) + ``data_bytes / 8 -
    1`` cycles after the AR handshake; a write's B is valid the cycle after its last W beat. Between bursts the
    engine spends one cycle picking the next. ``RREADY`` reaches the SPRAMs' chip select
    combinationally (a stalled beat is held in ``DATAOUT``), and ``AWVALID``/``ARVALID``
    reach ``AWREADY``/``ARREADY`` combinationally.

    Parameters
    ----------
    data_bytes : int
        Bytes per beat: 8, 16 or 32.
    addr_width : int
        AXI address width (12 to 64). Below 17 only the low part of the memory is reachable;
        above it, addresses from :data:`CAPACITY_BYTES` up answer ``DECERR``.
    id_width : int
        AXI ID width (4 to 16).
    ports : int
        AXI4 subordinate ports (1 or 2), served round robin one burst at a time.

    Members
    -------
    s_axi : ``In(AXI4Signature(addr_width=addr_width, data_width=8 * data_bytes,
    id_width=id_width)).array(ports)``
    """

    def __init__(self, *, data_bytes=8, addr_width=32, id_width=4, ports=1):
        with validating(self):
            check_int("data_bytes", data_bytes, WORD_BYTES, 4 * WORD_BYTES,
                      extra=" and a power of two")
            if data_bytes & (data_bytes - 1):
                raise ValueError(f"data_bytes must be 8, 16 or 32, not {data_bytes}")
            check_int("addr_width", addr_width, 12, 64)
            check_int("id_width", id_width, 4, 16)
            check_int("ports", ports, 1, 2)
        self._data_bytes = data_bytes
        self._ports = ports
        self._axi = AXI4Signature(addr_width=addr_width, data_width=8 * data_bytes,
                                  id_width=id_width)
        super().__init__({"s_axi": In(self._axi).array(ports)})

    @property
    def axi_signature(self):
        return self._axi

    @property
    def data_bytes(self):
        return self._data_bytes

    @property
    def ports(self):
        return self._ports

    @property
    def capacity_bytes(self):
        """Bytes the ports reach: :data:`CAPACITY_BYTES`, or less with a narrow address."""
        return min(CAPACITY_BYTES, 1 << self._axi.addr_width)

    @property
    def cycles_per_beat(self):
        """Cycles one beat takes while the manager keeps up: ``data_bytes / 8``."""
        return self._data_bytes // WORD_BYTES

    def __repr__(self):
        return (f"SPRAMMemory(data_bytes={self._data_bytes}, addr_width={self._axi.addr_width}, "
                f"id_width={self._axi.id_width}, ports={self._ports})")

    def elaborate(self, platform):
        primitive = _is_ultraplus(platform)
        m = Module()
        axi, ports = self._axi, self._ports
        words = self.cycles_per_beat            # memory words per beat
        buses = [self.s_axi[p] for p in range(ports)]

        # Arbitration: request 2p is port p's write, 2p + 1 its read. A write waits while the
        # port's previous B is still pending (one B register per port).
        bvalid = [Signal(name=f"bvalid{p}") for p in range(ports)]
        bids = [Signal(axi.id_width, name=f"bid{p}") for p in range(ports)]
        bresps = [Signal(Response, name=f"bresp{p}") for p in range(ports)]
        requests = Cat(*(bit for p in range(ports)
                         for bit in (buses[p].awvalid & ~bvalid[p], buses[p].arvalid)))
        # The last grant; from reset port 0's write comes first.
        last = Signal(range(2 * ports), init=2 * ports - 1)
        after_last = Cat(Const(0, 1), *(Const(i) > last for i in range(1, 2 * ports)))
        preferred = requests & after_last
        grant = lowest_set(m, Mux(preferred.any(), preferred, requests), range(2 * ports),
                           "grant")

        # The granted address channel's fields.
        g_addr = Signal(axi.addr_width)
        g_len = Signal(8)
        g_size = Signal(3)
        g_burst = Signal(2)
        g_id = Signal(axi.id_width)
        with m.Switch(grant):
            for p in range(ports):
                bus = buses[p]
                for kind, fields in ((0, (bus.awaddr, bus.awlen, bus.awsize, bus.awburst,
                                          bus.awid)),
                                     (1, (bus.araddr, bus.arlen, bus.arsize, bus.arburst,
                                          bus.arid))):
                    with m.Case(2 * p + kind):
                        m.d.comb += [target.eq(source) for target, source in
                                     zip((g_addr, g_len, g_size, g_burst, g_id), fields)]
        shift = axi.size
        unsupported = ((g_burst != Burst.INCR.value) | (g_size != shift)
                       | g_addr[:shift].any()
                       | (g_addr[:BOUNDARY.bit_length() - 1] + ((g_len + 1) << shift)
                          > BOUNDARY))
        # Bursts never cross 4 KB, and the capacity is a multiple of it: a burst that starts
        # inside the memory ends inside it.
        outside = g_addr[_CAPACITY_BITS:].any() if axi.addr_width > _CAPACITY_BITS else 0
        g_resp = Mux(unsupported, Response.SLVERR, Mux(outside, Response.DECERR,
                                                       Response.OKAY))

        # The burst being served.
        port = Signal(range(max(ports, 2)))
        burst_id = Signal(axi.id_width)
        resp = Signal(Response)
        length = Signal(8)
        beat = Signal(8)                        # beats done (write) / issued (read)
        sub = Signal(range(max(words, 2)))      # word within the beat
        word = Signal(_ADDRESS_BITS)            # next memory word
        ok = resp == Response.OKAY

        # Memory port, driven by the write and read paths below.
        mem_addr = Signal(_ADDRESS_BITS)
        mem_data = Signal(8 * WORD_BYTES)
        mem_strobe = Signal(WORD_BYTES)
        mem_write = Signal()
        mem_read = Signal()
        m.d.comb += mem_addr.eq(word)
        dataout = []
        for i in range(SPRAM_COUNT):
            strobes = mem_strobe[2 * i:2 * i + 2]
            dataout.append(_spram(
                m, primitive, f"spram{i}", address=mem_addr,
                datain=mem_data[SPRAM_BITS * i:SPRAM_BITS * (i + 1)],
                maskwren=Cat(strobes[0], strobes[0], strobes[1], strobes[1]),
                wren=mem_write, chipselect=mem_write | mem_read))
        word_out = Cat(*dataout)

        # Read beat assembly: the words of a beat before its last are captured the cycle
        # after their read; the last stays in DATAOUT, held while the beat stalls.
        rvalid = Signal()
        rlast = Signal()
        captured = Signal(range(max(words, 2)))
        capture = Signal()
        earlier = Signal(max(1, 8 * WORD_BYTES * (words - 1)))
        if words > 1:
            with m.If(capture):
                m.d.sync += earlier.word_select(captured, 8 * WORD_BYTES).eq(word_out)
            m.d.sync += capture.eq(0)
            beat_data = Cat(earlier, word_out)
        else:
            beat_data = word_out
        rready = Signal()
        wvalid = Signal()
        wdata = Signal(axi.data_width)
        wstrb = Signal(axi.strobe_width)
        with m.Switch(port):
            for p in range(ports):
                with m.Case(p):
                    m.d.comb += [rready.eq(buses[p].rready), wvalid.eq(buses[p].wvalid),
                                 wdata.eq(buses[p].wdata), wstrb.eq(buses[p].wstrb)]
        for p, bus in enumerate(buses):
            m.d.comb += [
                bus.rvalid.eq(rvalid & (port == p)),
                bus.rdata.eq(Mux(ok, beat_data, 0)),
                bus.rid.eq(burst_id),
                bus.rresp.eq(resp),
                bus.rlast.eq(rlast),
                bus.bvalid.eq(bvalid[p]),
                bus.bid.eq(bids[p]),
                bus.bresp.eq(bresps[p]),
            ]
            # Cleared here, set when a write burst ends (never in the same cycle: a port's
            # next write is not granted while its B is pending).
            with m.If(bus.bvalid & bus.bready):
                m.d.sync += bvalid[p].eq(0)

        issued = Signal()           # every word of the read burst has been read
        with m.FSM():
            with m.State("IDLE"):
                with m.If(requests.any()):
                    m.d.sync += [
                        last.eq(grant), port.eq(grant >> 1), burst_id.eq(g_id),
                        resp.eq(g_resp), length.eq(g_len), beat.eq(0), sub.eq(0),
                        word.eq(g_addr[_OFFSET_BITS:_CAPACITY_BITS]), issued.eq(0),
                    ]
                    with m.Switch(grant):
                        for p in range(ports):
                            with m.Case(2 * p):
                                m.d.comb += buses[p].awready.eq(1)
                                m.next = "WRITE"
                            with m.Case(2 * p + 1):
                                m.d.comb += buses[p].arready.eq(1)
                                m.next = "READ"

            with m.State("WRITE"):
                # A beat is taken with its last word written, or at once when rejected.
                beat_done = wvalid & (~ok | (sub == words - 1))
                m.d.comb += [
                    mem_data.eq(wdata.word_select(sub, 8 * WORD_BYTES) if words > 1
                                else wdata),
                    mem_strobe.eq(wstrb.word_select(sub, WORD_BYTES) if words > 1
                                  else wstrb),
                    mem_write.eq(wvalid & ok),
                ]
                for p in range(ports):
                    with m.If(port == p):
                        m.d.comb += buses[p].wready.eq(beat_done)
                with m.If(wvalid & ok):
                    m.d.sync += word.eq(word + 1)
                    if words > 1:
                        m.d.sync += sub.eq(Mux(sub == words - 1, 0, sub + 1))
                with m.If(beat_done):
                    m.d.sync += beat.eq(beat + 1)
                    with m.If(beat == length):
                        for p in range(ports):
                            with m.If(port == p):
                                m.d.sync += [bvalid[p].eq(1), bids[p].eq(burst_id),
                                             bresps[p].eq(resp)]
                        m.next = "IDLE"

            with m.State("READ"):
                # A word is read when the output will be free for it: nothing valid on R,
                # or the valid beat leaving now.
                accepted = rvalid & rready
                issue = ~issued & (~rvalid | rready)
                last_word = sub == words - 1
                m.d.comb += mem_read.eq(issue & ok)
                with m.If(accepted):
                    m.d.sync += rvalid.eq(0)
                with m.If(issue):
                    m.d.sync += word.eq(word + 1)
                    if words > 1:
                        m.d.sync += [sub.eq(Mux(last_word, 0, sub + 1)),
                                     capture.eq(~last_word), captured.eq(sub)]
                    with m.If(last_word):
                        m.d.sync += [rvalid.eq(1), rlast.eq(beat == length),
                                     beat.eq(beat + 1)]
                        with m.If(beat == length):
                            m.d.sync += issued.eq(1)
                with m.If(accepted & rlast):
                    m.next = "IDLE"
        return m
