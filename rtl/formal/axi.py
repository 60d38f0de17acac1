"""Formal jobs of the AXI4 links: :class:`~rtl.formal.checkers.AXI4Checker` bound to every
AXI4 port of the project, asserting what each design drives and assuming what its other end
does, with the design's streams checked by :class:`~rtl.formal.checkers.StreamChecker`.

* :class:`~rtl.accel.dma.DMAReader` and :class:`~rtl.accel.dma.DMAWriter` speak AXI4 through
  channel streams; their harness assembles the AXI4 manager port exactly as
  :class:`rtl.top.Accelerator` does (constant ``AxSIZE``, ``INCR``, the writer's fixed ID).
* :class:`~rtl.mem.port.AXI4Port` is checked as a subordinate, on a two-channel address map
  small enough for the solver (1-byte beats, 256 bytes of memory behind a 4 KB address
  space, so bursts reaching past the memory get ``DECERR``).
* :class:`~rtl.mem.traffic.TrafficGenerator` is checked as a manager.
* :class:`sim.axi_throttle.AXIThrottle` and :class:`~rtl.mem.axi_slice.AXI4RegisterSlice` are
  checked from both sides at once.
* :class:`boards.host_link.HostLink`, the boards' UART bridge, is checked as a manager
  whatever bytes arrive. :class:`boards.spram.SPRAMMemory` is not: its four 16K x 16 SPRAM
  models took the solver four minutes for five cycles; ``tests/test_spram.py`` checks it.

:class:`~rtl.mem.system.MemorySystem` and :class:`rtl.top.Accelerator` are too large for the
solver as a whole (channel controllers with DRAM timing, the array and its paths); their AXI4
links are the ports and engines checked here. The covers show multi-beat bursts completing
and bursts completing out of order across IDs, so the properties are not vacuous. The
mutation jobs break a real block on its way to the bus (the port never gives ``RLAST``, the
DMA writer never gives ``WLAST``) and must fail, with a counterexample.

Reset is a free input of every job, so the properties also hold across resets at any time.
"""

from amaranth import Signal, Cat
from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.accel.dma import DMAReader, DMAWriter
from rtl.mem.axi import AXI4Signature, Burst, CHANNELS
from rtl.mem.axi_slice import AXI4RegisterSlice
from rtl.mem.port import AXI4Port
from rtl.mem.traffic import TrafficGenerator
from sim.axi_throttle import AXIThrottle
from boards.host_link import HostLink
from .checkers import FormalHarness, StreamChecker, AXI4Checker
from .job import FormalJob, FORMAL_TIMING

__all__ = ["JOBS"]

#: Widths of the AXI4 links of the engine jobs: the narrowest AXI4Signature allows.
ADDR_WIDTH, DATA_WIDTH, ID_WIDTH = 12, 8, 4


def _tie_off_writes(m, bus):
    """A manager with no writes: AW and W idle, B never taken."""
    m.d.comb += [bus.awvalid.eq(0), bus.wvalid.eq(0), bus.bready.eq(0)]


def _tie_off_reads(m, bus):
    """A manager with no reads: AR idle, R never taken."""
    m.d.comb += [bus.arvalid.eq(0), bus.rready.eq(0)]


def _reader(*, covers=False):
    """:class:`DMAReader` with two IDs and two bursts per ID (four reads in flight, which the
    reader bounds itself), behind the AXI4 manager port the accelerator gives it."""
    ids, bursts_per_id = 2, 2
    dut = DMAReader(addr_width=ADDR_WIDTH, data_width=DATA_WIDTH, id_width=ID_WIDTH,
                    first_id=2, ids=ids, tag_width=1, bursts_per_id=bursts_per_id)
    signature = AXI4Signature(addr_width=ADDR_WIDTH, data_width=DATA_WIDTH, id_width=ID_WIDTH)

    def bind(m, dut, top):
        bus = top.m_axi
        m.d.comb += [
            bus.arvalid.eq(dut.ar.valid),
            bus.arid.eq(dut.ar.payload.id),
            bus.araddr.eq(dut.ar.payload.addr),
            bus.arlen.eq(dut.ar.payload.len),
            bus.arsize.eq(signature.size),
            bus.arburst.eq(Burst.INCR),
            dut.ar.ready.eq(bus.arready),
            dut.r.valid.eq(bus.rvalid),
            dut.r.payload.id.eq(bus.rid),
            dut.r.payload.data.eq(bus.rdata),
            dut.r.payload.resp.eq(bus.rresp),
            dut.r.payload.last.eq(bus.rlast),
            bus.rready.eq(1),
        ]
        _tie_off_writes(m, bus)
        m.submodules.requests = StreamChecker(dut.requests, name="requests")
        m.submodules.beats = StreamChecker(dut.beats, name="beats")
        m.submodules.ar = StreamChecker(dut.ar, name="ar")
        m.submodules.m_axi = axi = AXI4Checker(
            bus, role="manager", writes=False, max_reads=ids * bursts_per_id,
            bounds={"reads": "manager"}, legal_bursts=True, name="m_axi")
        if covers:
            m.d.comb += [Cover(axi.long_read_done, "a multi-beat read completes"),
                         Cover(axi.read_overtook, "a read overtakes an older one")]

    return FormalHarness(dut, bind, exclude=("ar", "r"), extra={"m_axi": Out(signature)})


def _writer(*, covers=False, mutate=False):
    """:class:`DMAWriter` with two-beat rows, behind the AXI4 manager port the accelerator
    gives it (ID 0). It relies on the subordinate to bound its writes in flight (here two);
    it sends W at most one burst ahead of AW."""
    dut = DMAWriter(addr_width=ADDR_WIDTH, data_width=DATA_WIDTH, id_width=ID_WIDTH,
                    row_bits=2 * DATA_WIDTH, depth=2)
    signature = AXI4Signature(addr_width=ADDR_WIDTH, data_width=DATA_WIDTH, id_width=ID_WIDTH)

    def bind(m, dut, top):
        bus = top.m_axi
        m.d.comb += [
            bus.awvalid.eq(dut.aw.valid),
            bus.awid.eq(0),
            bus.awaddr.eq(dut.aw.payload.addr),
            bus.awlen.eq(dut.aw.payload.len),
            bus.awsize.eq(signature.size),
            bus.awburst.eq(Burst.INCR),
            dut.aw.ready.eq(bus.awready),
            bus.wvalid.eq(dut.w.valid),
            bus.wdata.eq(dut.w.payload.data),
            bus.wstrb.eq(dut.w.payload.strb),
            # The mutation: WLAST never reaches the bus.
            bus.wlast.eq(0 if mutate else dut.w.payload.last),
            dut.w.ready.eq(bus.wready),
            dut.b.valid.eq(bus.bvalid),
            dut.b.payload.resp.eq(bus.bresp),
            bus.bready.eq(dut.b.ready),
        ]
        _tie_off_reads(m, bus)
        m.submodules.rows = StreamChecker(dut.rows, name="rows")
        m.submodules.aw = StreamChecker(dut.aw, name="aw")
        m.submodules.w = StreamChecker(dut.w, name="w")
        m.submodules.b = StreamChecker(dut.b, name="b")
        m.submodules.m_axi = axi = AXI4Checker(
            bus, role="manager", reads=False, max_writes=2, max_w_ahead=1,
            bounds={"w_ahead": "manager"}, legal_bursts=True, name="m_axi")
        if covers:
            responses = Signal(2)
            with m.If(axi.write_done & (responses != 3)):
                m.d.sync += responses.eq(responses + 1)
            m.d.comb += [Cover(dut.idle & (responses == 2), "a two-beat row is written"),
                         Cover(axi.transfers["w"] & bus.awvalid & ~bus.awready,
                               "W runs ahead of its AW")]

    return FormalHarness(dut, bind, exclude=("aw", "w", "b"), extra={"m_axi": Out(signature)})


def _port(*, reads=True, writes=True, covers=False, mutate=None):
    """:class:`AXI4Port` as a subordinate with two read and two write slots, on two
    channels whose responses are free (any tag, any time). The bus sees a slot's burst in
    flight until its last R beat or B is transferred, while the port frees the slot as that
    beat enters its output register, so up to three bursts per direction are in flight on
    the bus. A direction left out is held idle, which lets the solver go deeper.

    ``mutate(m, inner, outer)`` connects the port's ``s_axi`` (``inner``) to the harness's
    (``outer``) instead of a plain connection, to break the port on purpose."""
    dut = AXI4Port(timing=FORMAL_TIMING, channels=2, id_width=ID_WIDTH,
                   address_bits=ADDR_WIDTH, read_bursts=2, write_bursts=2)

    def bind(m, dut, top):
        bus = top.s_axi
        if mutate is None:
            wiring.connect(m, wiring.flipped(bus), dut.s_axi)
        else:
            mutate(m, dut.s_axi, bus)
        if not reads:
            m.d.comb += Assume(~bus.arvalid)
        if not writes:
            m.d.comb += Assume(~bus.awvalid & ~bus.wvalid)
        m.submodules.requests = StreamChecker(dut.requests, name="requests")
        m.submodules.responses = StreamChecker(dut.responses, name="responses")
        m.submodules.s_axi = axi = AXI4Checker(
            bus, role="subordinate", reads=reads, writes=writes, max_reads=3, max_writes=3,
            max_w_ahead=0, name="s_axi")
        if covers:
            m.d.comb += [Cover(axi.long_read_done, "a multi-beat read completes"),
                         Cover(axi.long_write_done, "a multi-beat write completes"),
                         Cover(axi.read_overtook, "a read overtakes an older one")]

    return FormalHarness(dut, bind, exclude=("s_axi",),
                         extra={"s_axi": In(dut.axi_signature)})


def _drop_rlast(m, inner, outer):
    """The mutation: ``RLAST`` of the port never reaches the bus."""
    wiring.connect(m, wiring.flipped(outer), inner)
    m.d.comb += outer.rlast.eq(0)


def _traffic(*, covers=False):
    """:class:`TrafficGenerator` with two bursts in flight per direction, which it bounds
    itself; its W beats follow their AW. Its pattern inputs obey its contract: they hold
    from ``start`` until the run is done, and the window holds a burst (16 bytes here, the
    longest burst of 1-byte beats)."""
    dut = TrafficGenerator(addr_width=ADDR_WIDTH, data_width=DATA_WIDTH, id_width=ID_WIDTH,
                           max_outstanding=2)

    def bind(m, dut, top):
        pattern = Cat(dut.base, dut.window_log2, dut.beats, dut.random, dut.seed,
                      dut.read_weight, dut.write_weight, dut.bursts)
        previous = Signal.like(pattern)
        m.d.sync += previous.eq(pattern)
        m.d.comb += [
            Assume(~dut.busy | (pattern == previous)),
            Assume((dut.beats >= 1) & (dut.beats <= 16)),
            Assume((dut.window_log2 >= 4) & (dut.window_log2 <= ADDR_WIDTH)),
        ]
        m.submodules.m_axi = axi = AXI4Checker(
            dut.m_axi, max_reads=2, max_writes=2, max_w_ahead=0,
            bounds={"reads": "manager", "writes": "manager", "w_ahead": "manager"},
            legal_bursts=True, name="m_axi")
        if covers:
            m.d.comb += [Cover(axi.long_read_done, "a multi-beat read completes"),
                         Cover(axi.long_write_done, "a multi-beat write completes"),
                         Cover(axi.write_overtook, "a write overtakes an older one"),
                         Cover(dut.done & (dut.write_bursts == 2),
                               "a run of two writes finishes")]

    return FormalHarness(dut, bind)


def _host_link(*, covers=False):
    """:class:`~boards.host_link.HostLink` (4-byte beats) as an AXI4 manager: whatever bytes
    arrive, it keeps the AXI4 rules, one burst at a time; its byte streams keep theirs."""
    dut = HostLink(data_bytes=4, addr_width=ADDR_WIDTH, id_width=ID_WIDTH, timeout_cycles=16)

    def bind(m, dut, top):
        m.submodules.rx = StreamChecker(dut.rx, name="rx")
        m.submodules.tx = StreamChecker(dut.tx, name="tx")
        m.submodules.m_axi = axi = AXI4Checker(
            dut.m_axi, max_reads=1, max_writes=1, max_w_ahead=0,
            bounds={"reads": "manager", "writes": "manager", "w_ahead": "manager"},
            legal_bursts=True, name="m_axi")
        if covers:
            m.d.comb += Cover(axi.transfers["ar"], "a MEM_READ frame reaches the bus")

    return FormalHarness(dut, bind)


def _link_checkers(m, dut):
    """Handshake checkers on both sides of a link block (``s_axi`` from a manager, ``m_axi``
    to a subordinate): ``(upstream, downstream)``."""
    m.submodules.s_axi = upstream = AXI4Checker(
        dut.s_axi, reads=False, writes=False, name="s_axi")
    m.submodules.m_axi = downstream = AXI4Checker(
        dut.m_axi, reads=False, writes=False, name="m_axi")
    return upstream, downstream


def _throttle():
    """:class:`AXIThrottle` between a free manager and a free subordinate, enabled at random.
    Each side is checked with the handshake rules (the manager side as a subordinate, the
    subordinate side as a manager), and every transfer on one side is a transfer on the
    other in the same cycle with the same payload: the link is then the same sequence of
    transfers on both sides, so every burst-level rule carries over, and k-induction proves
    it for all time."""
    signature = AXI4Signature(addr_width=ADDR_WIDTH, data_width=DATA_WIDTH, id_width=ID_WIDTH)
    dut = AXIThrottle(signature)

    def bind(m, dut, top):
        upstream, downstream = _link_checkers(m, dut)
        for channel, (_, _, payload, _) in CHANNELS.items():
            same = Cat(*(getattr(dut.s_axi, field) == getattr(dut.m_axi, field)
                         for field in payload)).all()
            m.d.comb += [
                Assert(upstream.transfers[channel] == downstream.transfers[channel],
                       f"{channel}: a transfer on one side only"),
                Assert(~upstream.transfers[channel] | same,
                       f"{channel}: payload changed on the way"),
            ]

    return FormalHarness(dut, bind)


def _register_slice():
    """:class:`AXI4RegisterSlice` between a free manager and a free subordinate. Each side is
    checked with the handshake rules; on every channel at most two transfers are inside the
    slice, and the transfer chosen by a free constant leaves with the payload it came in
    with, as the same numbered transfer (so transfers leave unchanged and in order)."""
    signature = AXI4Signature(addr_width=ADDR_WIDTH, data_width=DATA_WIDTH, id_width=ID_WIDTH)
    dut = AXI4RegisterSlice(signature)

    def bind(m, dut, top):
        upstream, downstream = _link_checkers(m, dut)
        watched = AnyConst(3)
        for channel, (_, _, payload, from_manager) in CHANNELS.items():
            source, sink = (dut.s_axi, dut.m_axi) if from_manager else (dut.m_axi, dut.s_axi)
            checkers = (upstream, downstream) if from_manager else (downstream, upstream)
            entered, left = (checker.transfers[channel] for checker in checkers)
            taken = Signal(4, name=f"{channel}_taken")
            given = Signal(4, name=f"{channel}_given")
            kept = Signal(len(Cat(*(getattr(source, f) for f in payload))),
                          name=f"{channel}_kept")
            m.d.sync += [taken.eq(taken + entered), given.eq(given + left)]
            with m.If(entered & (taken == watched)):
                m.d.sync += kept.eq(Cat(*(getattr(source, f) for f in payload)))
            m.d.comb += [
                Assert((taken - given)[:4] <= 2, f"{channel}: more than two transfers inside"),
                Assert(~(left & (given == watched))
                       | (Cat(*(getattr(sink, f) for f in payload)) == kept),
                       f"{channel}: a transfer left changed or out of order"),
            ]

    return FormalHarness(dut, bind)


JOBS = (
    FormalJob("axi_dma_reader", "bmc", 12, _reader,
              "DMAReader (2 IDs x 2 bursts) as an AXI4 manager: AR handshake, bursts within "
              "4 KB, at most 4 reads in flight; its request, beat and AR streams"),
    FormalJob("axi_dma_writer", "bmc", 16, _writer,
              "DMAWriter (2-beat rows) as an AXI4 manager: AW/W handshakes, WLAST, W at "
              "most one burst ahead of AW; its row, AW, W and B streams"),
    FormalJob("axi_port_reads", "bmc", 10, lambda: _port(writes=False),
              "AXI4Port (2 channels, 2 read slots) as an AXI4 subordinate, reads only: R "
              "handshake, RLAST, RIDs in flight and in order per ID, at most 3 reads in "
              "flight on the bus; its request stream"),
    FormalJob("axi_port_writes", "bmc", 12, lambda: _port(reads=False),
              "AXI4Port (2 channels, 2 write slots) as an AXI4 subordinate, writes only: B "
              "handshake, B only after AW and WLAST, BIDs in flight and in order per ID, no "
              "W before its AW, at most 3 writes in flight on the bus; its request stream"),
    FormalJob("axi_port", "bmc", 9, _port,
              "AXI4Port with reads and writes at once (sharing its request register): every "
              "rule of the read and write jobs, to a shallower depth"),
    FormalJob("axi_traffic_generator", "bmc", 10, _traffic,
              "TrafficGenerator (2 bursts in flight) as an AXI4 manager: handshakes, WLAST, "
              "W after its AW, bursts within 4 KB, its own bound on bursts in flight"),
    FormalJob("axi_host_link", "bmc", 20, _host_link,
              "HostLink (the boards' UART bridge) as an AXI4 manager, whatever bytes arrive: "
              "handshakes, WLAST, legal bursts, one burst at a time; its byte streams"),
    FormalJob("axi_throttle", "prove", 4, _throttle,
              "AXIThrottle: handshake rules on both sides, and each transfer passes "
              "unchanged in the same cycle (so every AXI4 rule carries over)"),
    FormalJob("axi_register_slice", "bmc", 12, _register_slice,
              "AXI4RegisterSlice: handshake rules on both sides, at most two transfers inside "
              "per channel, and every transfer leaves unchanged and in order"),
    FormalJob("axi_host_link_cover", "cover", 20, lambda: _host_link(covers=True),
              "HostLink: a frame's bytes, CRC checked, become an AXI4 read"),
    FormalJob("axi_dma_reader_cover", "cover", 12, lambda: _reader(covers=True),
              "DMAReader: a multi-beat read completes, and a read completes before an older "
              "one of another ID"),
    FormalJob("axi_dma_writer_cover", "cover", 12, lambda: _writer(covers=True),
              "DMAWriter: a two-beat row is written and acknowledged, and W runs ahead of "
              "its AW"),
    FormalJob("axi_traffic_generator_cover", "cover", 14, lambda: _traffic(covers=True),
              "TrafficGenerator: multi-beat reads and writes complete, a write overtakes an "
              "older one, and a run finishes"),
    FormalJob("axi_port_cover", "cover", 16, lambda: _port(covers=True),
              "AXI4Port: multi-beat reads and writes complete, and a read completes before "
              "an older one of another ID"),
    FormalJob("axi_dma_writer_mutant_drop_wlast", "bmc", 8, lambda: _writer(mutate=True),
              "mutation: DMAWriter with WLAST lost on its way out; the AXI4 checker must "
              "catch it", expect="fail"),
    FormalJob("axi_port_mutant_drop_rlast", "bmc", 10,
              lambda: _port(writes=False, mutate=_drop_rlast),
              "mutation: AXI4Port with RLAST lost on its way out; the AXI4 checker must "
              "catch it", expect="fail"),
)
