"""The AXI4 register slice in amaranth.sim: transfers leave in order and unchanged under random
backpressure on both sides, one per cycle when the sink is always ready, and no READY or VALID
follows the other side in the same cycle. ``rtl/formal/axi.py`` proves the same per channel
(the ``axi_register_slice`` job)."""

import enum
import random

import pytest
from amaranth import Shape
from amaranth.sim import Simulator

from rtl.mem.axi import AXI4Signature, CHANNELS
from rtl.mem.axi_slice import AXI4RegisterSlice

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")

SIGNATURE = AXI4Signature(addr_width=16, data_width=32, id_width=4)


def _sides(dut, channel):
    valid, ready, fields, from_manager = CHANNELS[channel]
    source, sink = (dut.s_axi, dut.m_axi) if from_manager else (dut.m_axi, dut.s_axi)
    return valid, ready, fields, source, sink


def _random_value(shape, rng):
    if isinstance(shape, type) and issubclass(shape, enum.Enum):
        return rng.choice(list(shape))
    return rng.getrandbits(Shape.cast(shape).width)


def _payload(fields, rng):
    return {field: _random_value(SIGNATURE.members[field].shape, rng) for field in fields}


def _simulate(channel, count, *, source_busy, sink_busy, seed):
    """Send ``count`` random transfers through ``channel``; the source offers a transfer and
    the sink is ready each with probability ``1 - busy``. Returns (sent, received, cycles)."""
    dut = AXI4RegisterSlice(SIGNATURE)
    valid, ready, fields, source, sink = _sides(dut, channel)
    rng = random.Random(seed)
    sent = [_payload(fields, rng) for _ in range(count)]
    received = []
    cycles = []

    async def testbench(ctx):
        index = 0
        cycle = 0
        while len(received) < count:
            cycle += 1
            assert cycle < 20 * count + 20, "the slice stopped moving transfers"
            if index < count and not ctx.get(getattr(source, valid)):
                if rng.random() >= source_busy:
                    for field, value in sent[index].items():
                        ctx.set(getattr(source, field), value)
                    ctx.set(getattr(source, valid), 1)
            ctx.set(getattr(sink, ready), int(rng.random() >= sink_busy))
            source_fire = ctx.get(getattr(source, valid)) and ctx.get(getattr(source, ready))
            if ctx.get(getattr(sink, valid)) and ctx.get(getattr(sink, ready)):
                received.append({field: ctx.get(getattr(sink, field)) for field in fields})
            await ctx.tick()
            if source_fire:
                index += 1
                ctx.set(getattr(source, valid), 0)
        cycles.append(cycle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return sent, received, cycles[0]


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("source_busy, sink_busy", [(0.3, 0.5), (0.0, 0.7), (0.6, 0.1)])
def test_transfers_leave_in_order_and_unchanged(channel, source_busy, sink_busy):
    sent, received, _ = _simulate(channel, 60, source_busy=source_busy, sink_busy=sink_busy,
                                  seed=hash((channel, source_busy)) & 0xFFFF)
    assert received == sent


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_one_transfer_per_cycle_when_the_sink_is_always_ready(channel):
    _, received, cycles = _simulate(channel, 40, source_busy=0.0, sink_busy=0.0, seed=1)
    assert len(received) == 40
    assert cycles == 41     # one cycle of latency, then one transfer per cycle


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_no_combinational_path_across(channel):
    """The source's READY and the sink's VALID and payload are registers: changing the other
    side's signals within a cycle leaves them as they are."""
    dut = AXI4RegisterSlice(SIGNATURE)
    valid, ready, fields, source, sink = _sides(dut, channel)
    rng = random.Random(7)

    async def testbench(ctx):
        for sink_ready in (0, 1, 0):
            ctx.set(getattr(source, valid), 1)
            ctx.set(getattr(sink, ready), sink_ready)
            await ctx.tick()
        before = (ctx.get(getattr(source, ready)), ctx.get(getattr(sink, valid)),
                  [ctx.get(getattr(sink, field)) for field in fields])
        for sink_ready in (0, 1):
            ctx.set(getattr(sink, ready), sink_ready)
            ctx.set(getattr(source, valid), sink_ready)
            for field, value in _payload(fields, rng).items():
                ctx.set(getattr(source, field), value)
            after = (ctx.get(getattr(source, ready)), ctx.get(getattr(sink, valid)),
                     [ctx.get(getattr(sink, field)) for field in fields])
            assert after == before

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def test_signature_is_checked():
    with pytest.raises(ValueError, match="signature must be an AXI4Signature"):
        AXI4RegisterSlice("axi")
    assert repr(AXI4RegisterSlice(SIGNATURE)) == f"AXI4RegisterSlice({SIGNATURE!r})"
