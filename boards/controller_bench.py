"""One memory channel controller alone on a board: requests from an LFSR, read data echoed
by a model of the device's read latency, every output folded to one pin.

``openmxu bitstream --controller-only`` builds a board's controller this way
(:class:`boards.ulx3s.ULX3SControllerBench`) to measure what its scheduler reaches on the
part apart from the array, the AXI ports, the emulated device and the placement pressure of
the rest: in the whole board the controller sets the ``sync`` clock.

Out of context, a controller with its thousand-odd ports left as pins would route badly, and
one with constant inputs or unused outputs would be trimmed by synthesis. So the bench keeps
the controller honest and its paths its own:

* every input comes from a register: a request register loaded from an LFSR whenever it is
  empty or accepted (a stream source, so a request holds until ``ready``), the response
  ``ready`` and the DRAM read data;
* the read data follows the DRAM interface's contract: ``rdata_valid`` for the burst's beats
  ``cl`` cycles after each RD, carrying LFSR bits, so the response path carries data;
* every output goes into a register, and those registers are XORed down a tree of registered
  4-input stages to one pin.

The bench itself costs about one LUT4 per four output bits (the tree) and one per read data
bit; its flip-flops are the LFSR, the request and read data registers and the tree.
"""

from amaranth import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from rtl.mem.commands import ColumnCommand
from rtl.mem.controller import ChannelController

__all__ = ["bench_controller", "PseudoRandomControllerDriver"]


def bench_controller(*, timing, controller_options=None):
    """The controller a bench drives: a :class:`~rtl.mem.controller.ChannelController` of
    ``timing`` with its defaults, or with ``controller_options`` (its constructor's other
    keyword arguments, passed as they are)."""
    return ChannelController(timing=timing, **(controller_options or {}))


def _fold(m, value, *, name):
    """A register of ``value`` XORed down to one bit, four bits per registered stage."""
    level = 0
    stage = Signal(len(value), reset_less=True, name=f"{name}{level}")
    m.d.sync += stage.eq(value)
    while len(stage) > 1:
        level += 1
        bits = [stage[first:first + 4].xor() for first in range(0, len(stage), 4)]
        folded = Signal(len(bits), reset_less=True, name=f"{name}{level}")
        m.d.sync += folded.eq(Cat(*bits))
        stage = folded
    return stage


class PseudoRandomControllerDriver(wiring.Component):
    """Drives ``controller``'s requests, response ``ready`` and DRAM read data from
    registers fed by a free-running LFSR, and folds every output of the controller into
    ``out`` (see the module documentation): nothing is constant, so synthesis keeps the
    whole controller, and every path into or out of it ends at a register.

    Only the controller's interface is used (``requests``, ``responses``, ``dram`` and its
    other outputs, whatever they are), so any controller with those members fits.

    Parameters
    ----------
    controller : ChannelController

    Members
    -------
    out : ``Out(1)``
        Every output of the controller, XORed.
    """

    def __init__(self, controller):
        timing = controller.dram.signature.timing
        if timing.cl < 2:
            raise ValueError(f"cl must be at least 2 for the bench's read data model (one "
                             f"register after the RD, one before rdata), not {timing.cl}")
        self.controller = controller
        super().__init__({"out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = ctrl = self.controller
        requests, responses, dram = ctrl.requests, ctrl.responses, ctrl.dram
        timing = dram.signature.timing
        request_bits = len(Value.cast(requests.payload))
        data_bits = len(dram.rdata)
        # Taps of a maximal-length LFSR are not needed: the state only has to keep changing.
        lfsr = Signal(request_bits + data_bits + 8, init=1, reset_less=True)
        m.d.sync += lfsr.eq(Cat(lfsr[-1] ^ lfsr[-3] ^ lfsr[5], lfsr[:-1]))

        # Requests: a stream register, offered three cycles in four, held until accepted.
        offered = Signal()
        request = Signal(request_bits, reset_less=True)
        with m.If(~offered | requests.ready):
            m.d.sync += [offered.eq(lfsr[-2] | lfsr[-4]), request.eq(lfsr[:request_bits])]
        m.d.comb += [requests.valid.eq(offered), requests.payload.eq(request)]

        # Responses are taken three cycles in four.
        take = Signal()
        m.d.sync += take.eq(lfsr[-5] | lfsr[-7])
        m.d.comb += responses.ready.eq(take)

        # Read data: a RD on the interface in cycle n is in rd_delay[j] in cycle n + 1 + j,
        # and its beat k (rdata_valid high) is due in cycle n + cl + k.
        beats = timing.burst_cycles
        rd = dram.col_valid & (dram.col_cmd == ColumnCommand.RD)
        rd_delay = Signal(timing.cl + beats - 2)
        m.d.sync += rd_delay.eq(Cat(rd, rd_delay[:-1]))
        beat_due = rd_delay[timing.cl - 2:].any()
        rdata_valid = Signal()
        rdata = Signal(data_bits, reset_less=True)
        m.d.sync += rdata_valid.eq(beat_due)
        with m.If(beat_due):
            m.d.sync += rdata.eq(lfsr[request_bits:request_bits + data_bits])
        with m.Else():
            m.d.sync += rdata.eq(0)         # the interface's contract: 0 between beats
        m.d.comb += [dram.rdata_valid.eq(rdata_valid), dram.rdata.eq(rdata)]

        outputs = [Value.cast(value) for _, member, value in ctrl.signature.flatten(ctrl)
                   if member.flow == Out]
        m.d.comb += self.out.eq(_fold(m, Cat(*outputs), name="fold"))
        return m
