"""The openmxu accelerator: the systolic array with its sequencer, DMA engines,
scratchpads, accumulators and registers, behind one AXI4 manager port and a register bus.

::

    bus ──> RegisterFile ──commands──> Sequencer ──start, descriptor, plan──┐
                                                                           v
    m_axi AR <── round robin ── DMAReader(A, 8 IDs) <── ActivationPath (A panels) ──> array
                            └── DMAReader(B, 1 ID)  <── WeightPath (weight tiles)  ──> array
                            └── DMAReader(C, 1 ID)  <── ResultPath (old C rows)
    m_axi R  ──> routed by ID to the reader that owns it
    m_axi AW/W/B <── DMAWriter <── ResultPath (accumulators, output stage) <── array

The tiling order and what each block does are described in :mod:`rtl.accel.activations`,
:mod:`rtl.accel.weights`, :mod:`rtl.accel.results` and :mod:`rtl.accel.sequencer`; the
register map in :mod:`openmxu.registers`.
"""

from amaranth import Module, Signal, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from openmxu.address_map import AddressMap
from openmxu.registers import COUNTERS
from .mem.axi import AXI4Signature, Burst
from .mem.bits import round_robin
from .params import check_int, validating
from .systolic import build_array, ArrayClockCrossing
from .accel.activations import ActivationPath
from .accel.dma import DMAReader, DMAWriter
from .accel.geometry import Geometry
from .accel.registers import RegisterBus, RegisterFile
from .accel.results import ResultPath
from .accel.sequencer import Sequencer
from .accel.weights import WeightPath

__all__ = ["Accelerator"]

#: AXI IDs of the DMA readers (first, count, bursts per ID): A panels use 8 IDs so that the
#: rows of a panel come back in any order; weights and old C rows use one ID each with
#: several bursts in flight, so that theirs come back in order.
A_IDS = (0, 8, 2)
B_IDS = (8, 1, 16)
C_IDS = (9, 1, 4)
WRITE_ID = 0


class Accelerator(wiring.Component):
    """The accelerator of a :class:`~openmxu.Config` (see the module documentation).

    Parameters
    ----------
    config : Config
        Array size (powers of two up to 32), ``block_m``, ``block_k``, memory preset,
        channels, address order and AXI ID width.
    memory_bytes : int or None
        Bytes of memory a command may touch, from address 0; default the address map's
        capacity. A simulation with partial storage passes what it stores.
    queue_depth : int
        Commands the register file queues.
    hard_multipliers : int or None
        Array cells whose multiplier may become a DSP block (the rest are built from logic,
        see :class:`~rtl.systolic.WeightStationaryArray`); ``None``: all of them. Boards
        whose part has fewer DSP blocks than the array has cells set it.
    array_domain : str
        Clock domain of the systolic array. ``"sync"`` (the default): one clock for
        everything. Another name puts the array behind
        :class:`~rtl.systolic.ArrayClockCrossing`, so that a board can clock the grid faster
        than the rest; the design gets ``<array_domain>_clk`` and ``_rst`` inputs. The
        performance counters stay in ``sync`` (``mac_active`` counts activation vectors the
        crossing accepts).

    Members
    -------
    bus : ``In(RegisterBus())``
        Registers of :mod:`openmxu.registers`.
    m_axi : ``Out(AXI4Signature(...))``
        The memory port.
    irq : ``Out(1)``
        High from the end of a command until the host clears ``STATUS.done``.
    """

    def __init__(self, config, *, memory_bytes=None, queue_depth=4, hard_multipliers=None,
                 array_domain="sync"):
        with validating(self):
            address_map = AddressMap(timing=config.memory_preset, channels=config.channels,
                                     order=config.address_order)
            beat_bytes = address_map.timing.burst_bytes
            self.geometry = Geometry.from_config(config, beat_bytes=beat_bytes,
                                                 addr_width=address_map.address_bits)
            if memory_bytes is None:
                memory_bytes = address_map.capacity_bytes
            check_int("memory_bytes", memory_bytes, 1, address_map.capacity_bytes)
            check_int("queue_depth", queue_depth, 1, 16)
            if hard_multipliers is not None:
                check_int("hard_multipliers", hard_multipliers, 0, config.macs)
            if not isinstance(array_domain, str) or not array_domain.isidentifier():
                raise ValueError(f"array_domain must be a clock domain name, not "
                                 f"{array_domain!r}")
        self.config = config
        self.array_domain = array_domain
        self.hard_multipliers = hard_multipliers
        self.memory_bytes = memory_bytes
        self.queue_depth = queue_depth
        self.axi_signature = AXI4Signature(addr_width=address_map.address_bits,
                                           data_width=8 * beat_bytes,
                                           id_width=config.axi_id_width)
        super().__init__({
            "bus": In(RegisterBus()),
            "m_axi": Out(self.axi_signature),
            "irq": Out(1),
        })

    @property
    def config_word(self):
        g = self.geometry
        return g.rows | g.cols << 8 | g.log2_block_m << 16 | (g.block_k // 8) << 24

    def __repr__(self):
        return (f"Accelerator({self.config!r}, memory_bytes={self.memory_bytes}, "
                f"queue_depth={self.queue_depth}, hard_multipliers={self.hard_multipliers}, "
                f"array_domain={self.array_domain!r})")

    def elaborate(self, platform):
        m = Module()
        g, axi = self.geometry, self.m_axi
        sig = self.axi_signature

        m.submodules.registers = registers = RegisterFile(config_word=self.config_word,
                                                          queue_depth=self.queue_depth)
        m.submodules.sequencer = sequencer = Sequencer(geometry=g,
                                                       memory_bytes=self.memory_bytes)
        array = build_array(self.config, hard_multipliers=self.hard_multipliers)
        if self.array_domain != "sync":
            array = ArrayClockCrossing(array, domain=self.array_domain)
        m.submodules.array = array
        m.submodules.activations = activations = ActivationPath(geometry=g)
        m.submodules.weights = weights = WeightPath(geometry=g)
        m.submodules.results = results = ResultPath(geometry=g)
        wiring.connect(m, wiring.flipped(self.bus), registers.bus)
        wiring.connect(m, registers.commands, sequencer.commands)
        for path in (activations, weights, results):
            m.d.comb += [path.start.eq(sequencer.start),
                         path.descriptor.eq(sequencer.descriptor),
                         path.plan.eq(sequencer.plan)]
        wiring.connect(m, activations.activations, array.activations)
        wiring.connect(m, weights.weights, array.weights)
        wiring.connect(m, array.results, results.results)

        # Readers share AR round robin; R goes to the reader owning the ID.
        readers = []
        for name, (first, count, per_id), path in (("a_reader", A_IDS, activations),
                                           ("b_reader", B_IDS, weights),
                                           ("c_reader", C_IDS, results)):
            reader = DMAReader(addr_width=sig.addr_width, data_width=sig.data_width,
                               id_width=sig.id_width, first_id=first, ids=count,
                               bursts_per_id=per_id,
                               tag_width=len(path.requests.payload.tag))
            m.submodules[name] = reader
            wiring.connect(m, path.requests, reader.requests)
            wiring.connect(m, reader.beats, path.beats)
            m.d.comb += [
                reader.r.valid.eq(axi.rvalid),
                reader.r.payload.id.eq(axi.rid),
                reader.r.payload.data.eq(axi.rdata),
                reader.r.payload.resp.eq(axi.rresp),
                reader.r.payload.last.eq(axi.rlast),
            ]
            readers.append(reader)
        requests = Signal(len(readers))
        m.d.comb += requests.eq(Cat(*(reader.ar.valid for reader in readers)))
        grant = round_robin(m, requests, len(readers), accepted=axi.arready, name="ar")
        for i, reader in enumerate(readers):
            with m.If(grant[i]):
                m.d.comb += [
                    axi.arid.eq(reader.ar.payload.id),
                    axi.araddr.eq(reader.ar.payload.addr),
                    axi.arlen.eq(reader.ar.payload.len),
                ]
            m.d.comb += reader.ar.ready.eq(grant[i] & axi.arready)
        m.d.comb += [
            axi.arvalid.eq(requests.any()),
            axi.arsize.eq(sig.size),
            axi.arburst.eq(Burst.INCR),
            axi.rready.eq(1),
        ]

        m.submodules.writer = writer = DMAWriter(
            addr_width=sig.addr_width, data_width=sig.data_width, id_width=sig.id_width,
            row_bits=g.row_bits)
        wiring.connect(m, results.rows, writer.rows)
        m.d.comb += [
            axi.awid.eq(WRITE_ID),
            axi.awaddr.eq(writer.aw.payload.addr),
            axi.awlen.eq(writer.aw.payload.len),
            axi.awsize.eq(sig.size),
            axi.awburst.eq(Burst.INCR),
            axi.awvalid.eq(writer.aw.valid),
            writer.aw.ready.eq(axi.awready),
            axi.wdata.eq(writer.w.payload.data),
            axi.wstrb.eq(writer.w.payload.strb),
            axi.wlast.eq(writer.w.payload.last),
            axi.wvalid.eq(writer.w.valid),
            writer.w.ready.eq(axi.wready),
            writer.b.valid.eq(axi.bvalid),
            writer.b.payload.resp.eq(axi.bresp),
            axi.bready.eq(writer.b.ready),
            writer.clear.eq(sequencer.start),
        ]

        read_error = Signal()
        with m.If(sequencer.start):
            m.d.sync += read_error.eq(0)
        with m.Elif(Cat(*(r.beats.valid & r.beats.payload.error for r in readers)).any()):
            m.d.sync += read_error.eq(1)
        m.d.comb += [
            sequencer.paths_done.eq(activations.done & weights.done & results.done
                                    & writer.idle & Cat(*(r.idle for r in readers)).all()),
            sequencer.bus_error.eq(read_error | writer.error),
        ]

        # Performance counters.
        mac_active = Signal()
        stalled = Signal()
        stall_output = Signal()
        stall_memory = Signal()
        m.d.comb += [
            mac_active.eq(array.activations.valid & array.activations.ready),
            stalled.eq(sequencer.busy & ~activations.done & ~mac_active),
            stall_output.eq(stalled & array.results.valid & ~array.results.ready),
            stall_memory.eq(stalled & ~stall_output
                            & (activations.waiting
                               | (array.activations.valid & ~array.activations.ready))),
        ]
        events = {
            "cycles": sequencer.busy,
            "mac_active": mac_active,
            "stall_memory": stall_memory,
            "stall_output": stall_output,
            "bytes_read": Cat(axi.rvalid & axi.rready),
            "bytes_written": Cat(axi.wvalid & axi.wready),
        }
        beat_shift = g.beat_shift
        for index, (name, _) in enumerate(COUNTERS):
            counter = Signal(64, name=f"counter_{name}")
            # Events are counted one cycle late: the 64-bit adder then starts from a
            # register, not from the end of the array's and the port's handshakes.
            event = Signal(name=f"event_{name}")
            m.d.sync += event.eq(events[name])
            step = event << beat_shift if name.startswith("bytes") else event
            m.d.sync += counter.eq(counter + step)
            m.d.comb += registers.counters[index].eq(counter)
        m.d.comb += [
            registers.busy.eq(sequencer.busy),
            registers.finished.eq(sequencer.finished),
            registers.error.eq(sequencer.error),
            self.irq.eq(registers.irq),
        ]
        return m
