"""Formal jobs of the ``amaranth.lib.stream`` links: a
:class:`~rtl.formal.checkers.StreamChecker` on every stream port of a block (asserted on the
streams it drives, assumed on the ones it receives), in small parameterizations.

A block's other inputs are free, or constrained by the contract its documentation states
(the accelerator paths get ``start`` only when done, a descriptor that holds while they work,
and beats only for what they requested).

Blocks whose streams are checked in :mod:`rtl.formal.axi` along with their AXI4 side
(:class:`~rtl.accel.dma.DMAReader`, :class:`~rtl.accel.dma.DMAWriter`,
:class:`~rtl.mem.port.AXI4Port`) are not repeated here. Blocks whose streams are inputs only
(:class:`~boards.uart.UARTTransmitter`, :class:`~rtl.accel.sequencer.Sequencer`) have nothing
to assert about them.

``round_robin_grant_holds`` proves that :func:`~rtl.mem.bits.round_robin` holds an
unaccepted grant while its requester still requests, which is what keeps the payload of the
:class:`~rtl.mem.interconnect.Crossbar` outputs (``stream_crossbar_payload``) and the
accelerator's AR channel stable under a waiting valid. (It once moved the grant to a requester
of higher priority that arrived meanwhile; these two jobs found it.)
"""

from amaranth import Module, Signal, Cat, Mux
from amaranth.hdl import Assert, Assume
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from boards.uart import UARTReceiver
from openmxu.address_map import AddressMap
from rtl.accel.geometry import Geometry
from rtl.accel.registers import RegisterFile
from rtl.accel.results import ResultPath
from rtl.accel.activations import ActivationPath
from rtl.accel.weights import WeightPath
from rtl.mem.controller import ChannelController
from rtl.mem.bits import round_robin
from rtl.mem.interconnect import Crossbar
from rtl.systolic import WeightStationaryArray, OutputStationaryArray
from .checkers import FormalHarness, check_streams
from .job import FormalJob, FORMAL_TIMING

__all__ = ["JOBS"]

#: The smallest accelerator geometry: a 1 x 1 array, 4-byte beats, 8-row blocks.
TINY_GEOMETRY = Geometry(rows=1, cols=1, block_m=8, block_k=4, beat_bytes=4, addr_width=12)


def _streams_of(build_dut, *, contract=None, **options):
    """A job design: the block from ``build_dut()`` with a checker on each of its streams
    (``options`` go to the checkers), and ``contract(m, dut)`` adding the assumptions its
    documentation puts on its other inputs."""
    def build():
        def bind(m, dut, top):
            check_streams(m, dut, **options)
            if contract is not None:
                contract(m, dut)
        return FormalHarness(build_dut(), bind)
    return build


def _path_contract(m, dut):
    """What the sequencer and the path's DMA reader promise a path: ``start`` comes while
    the path is done; the descriptor and plan hold still from ``start`` until the path is
    done again; and beats come back only for requested beats (``len + 1`` per request)."""
    inputs = Cat(dut.descriptor, dut.plan)
    previous = Signal(len(inputs))
    owed = Signal(8)
    requested = dut.requests.valid & dut.requests.ready
    m.d.sync += [previous.eq(inputs),
                 owed.eq(owed + Mux(requested, dut.requests.payload.len + 1, 0)
                         - dut.beats.valid)]
    m.d.comb += [Assume(~dut.start | dut.done), Assume(dut.done | (inputs == previous)),
                 Assume(~dut.beats.valid | (owed != 0))]


def _crossbar():
    return Crossbar(address_map=AddressMap(timing=FORMAL_TIMING, channels=2), ports=2,
                    port_tag_width=2)


class _RoundRobinHarness(wiring.Component):
    """:func:`~rtl.mem.bits.round_robin` over ``count`` requesters that hold their
    request until it is granted and accepted (stream rules), with the property its
    documentation states: the grant holds while it is not accepted.

    Members
    -------
    requests : ``In(count)``
    accepted : ``In(1)``
    grant : ``Out(count)``
    """

    def __init__(self, count=3):
        self.count = count
        super().__init__({"requests": In(count), "accepted": In(1), "grant": Out(count)})

    def elaborate(self, platform):
        m = Module()
        grant = round_robin(m, self.requests, self.count, accepted=self.accepted,
                            name="arbiter")
        m.d.comb += self.grant.eq(grant)
        waiting = Signal(self.count)            # requests not transferred last cycle
        previous_grant = Signal(self.count)
        pending = Signal()                      # a grant was not accepted last cycle
        m.d.sync += [waiting.eq(self.requests & ~Mux(self.accepted, grant, 0)),
                     previous_grant.eq(grant),
                     pending.eq(grant.any() & ~self.accepted)]
        m.d.comb += [
            Assume((self.requests & waiting) == waiting),
            Assert(~pending | (grant == previous_grant),
                   "the grant moved before it was accepted"),
        ]
        return m


JOBS = (
    FormalJob("stream_uart_receiver", "prove", 4,
              _streams_of(lambda: UARTReceiver(divisor=4)),
              "UARTReceiver: its byte stream keeps valid and the byte until taken, whatever "
              "the line does"),
    # Bounded: induction would need the arbiters' held grants to be one-hot as an invariant.
    FormalJob("stream_crossbar", "bmc", 12, _streams_of(_crossbar, stable_payload=False),
              "Crossbar (2 ports x 2 channels): its channel requests and port responses keep "
              "valid until taken"),
    FormalJob("stream_crossbar_payload", "bmc", 12, _streams_of(_crossbar),
              "Crossbar (2 ports x 2 channels): and their payload, while valid waits for "
              "ready"),
    FormalJob("round_robin_grant_holds", "prove", 4, _RoundRobinHarness,
              "round_robin (3 requesters, as on the accelerator's AR): an unaccepted grant "
              "holds while its requester requests, so ARID/ARADDR/ARLEN stay stable under "
              "ARVALID without ARREADY"),
    FormalJob("stream_register_file", "prove", 4,
              _streams_of(lambda: RegisterFile(config_word=0, queue_depth=2)),
              "RegisterFile: its command stream keeps valid and the descriptor until taken"),
    FormalJob("stream_ws_array", "prove", 6,
              _streams_of(lambda: WeightStationaryArray(rows=2, cols=2, operand_width=2,
                                                        acc_width=4)),
              "WeightStationaryArray (2 x 2, 2-bit operands): its result stream keeps valid "
              "and the row until taken"),
    FormalJob("stream_os_array", "prove", 6,
              _streams_of(lambda: OutputStationaryArray(rows=2, cols=2, operand_width=2,
                                                        acc_width=4)),
              "OutputStationaryArray (2 x 2, 2-bit operands): its result stream keeps valid "
              "and the row until taken"),
    FormalJob("stream_channel_controller", "prove", 4,
              _streams_of(lambda: ChannelController(timing=FORMAL_TIMING, bank_queue_depth=1,
                                                    tag_width=2)),
              "ChannelController (one request per bank, a tiny ideal-timing device): its response "
              "stream keeps valid and payload until taken"),
    FormalJob("stream_activation_path", "bmc", 16,
              _streams_of(lambda: ActivationPath(geometry=TINY_GEOMETRY),
                          contract=_path_contract),
              "ActivationPath (1 x 1 array, 4-byte beats): its read requests and activation "
              "vectors keep valid and payload until taken"),
    FormalJob("stream_weight_path", "prove", 4,
              _streams_of(lambda: WeightPath(geometry=TINY_GEOMETRY),
                          contract=_path_contract),
              "WeightPath (1 x 1 array, 4-byte beats): its read requests and weight rows "
              "keep valid and payload until taken"),
    FormalJob("stream_result_path", "bmc", 14,
              _streams_of(lambda: ResultPath(geometry=TINY_GEOMETRY),
                          contract=_path_contract),
              "ResultPath (1 x 1 array, 4-byte beats): its read requests and result rows "
              "keep valid and payload until taken"),
)
