"""amaranth.sim tests of the boards' UART (boards/uart.py): 8N1 framing, sampling margins,
framing errors, overruns and glitches."""

import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from boards.uart import UARTTransmitter, UARTReceiver, divisor_for

DIVISOR = 8


def _simulate(top, testbench):
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


async def _send_bits(ctx, rx, byte, cycles_per_bit, *, stop=1):
    """Drive one 8N1 frame on ``rx`` with a (possibly fractional) bit time."""
    elapsed = 0.0
    for level in [0] + [(byte >> i) & 1 for i in range(8)] + [stop]:
        elapsed += cycles_per_bit
        ctx.set(rx, level)
        await ctx.tick().repeat(round(elapsed) - round(elapsed - cycles_per_bit))
    ctx.set(rx, 1)


def test_loopback_carries_every_byte_value():
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor=DIVISOR)
    m.submodules.rx = rx = UARTReceiver(divisor=DIVISOR)
    m.d.comb += rx.rx.eq(tx.tx)
    payload = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80] + random.Random(1).sample(range(256), 20)

    async def testbench(ctx):
        assert ctx.get(tx.tx) == 1
        got = []
        ctx.set(rx.bytes.ready, 1)
        for byte in payload:
            ctx.set(tx.bytes.payload, byte)
            ctx.set(tx.bytes.valid, 1)
            await ctx.tick().until(tx.bytes.ready)
            for _ in range(DIVISOR * 11):
                await ctx.tick()
                ctx.set(tx.bytes.valid, 0)
                if ctx.get(rx.bytes.valid):
                    got.append(ctx.get(rx.bytes.payload))
        for _ in range(DIVISOR * 12):
            await ctx.tick()
            if ctx.get(rx.bytes.valid):
                got.append(ctx.get(rx.bytes.payload))
        assert got == payload
        assert ctx.get(rx.frame_errors) == 0 and ctx.get(rx.overruns) == 0

    _simulate(m, testbench)


def _receive(dut, sender, *, ready=True):
    """Run ``sender`` against the receiver; returns the bytes it delivered, in order."""
    received = []

    async def receiver(ctx):
        ctx.set(dut.bytes.ready, int(ready))
        async for _, _, valid, payload in ctx.tick().sample(dut.bytes.valid,
                                                            dut.bytes.payload):
            if valid and ready:
                received.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(sender)
    sim.add_process(receiver)
    sim.run()
    return received


@pytest.mark.parametrize("rate", [0.97, 1.0, 1.03])
def test_receiver_tolerates_a_bit_rate_off_by_3_percent(rate):
    dut = UARTReceiver(divisor=16)

    async def sender(ctx):
        for byte in (0x3C, 0xC3, 0x7E):
            await _send_bits(ctx, dut.rx, byte, 16 * rate)
        await ctx.tick().repeat(40)

    assert _receive(dut, sender) == [0x3C, 0xC3, 0x7E]


def test_a_low_stop_bit_is_a_framing_error_and_the_byte_is_dropped():
    dut = UARTReceiver(divisor=DIVISOR)

    async def sender(ctx):
        await _send_bits(ctx, dut.rx, 0x12, DIVISOR, stop=0)
        await ctx.tick().repeat(2 * DIVISOR)
        await _send_bits(ctx, dut.rx, 0x34, DIVISOR)
        await ctx.tick().repeat(4 * DIVISOR)
        assert ctx.get(dut.frame_errors) == 1

    assert _receive(dut, sender) == [0x34]


def test_a_byte_arriving_before_the_last_is_taken_is_an_overrun():
    dut = UARTReceiver(divisor=DIVISOR)

    async def sender(ctx):
        await _send_bits(ctx, dut.rx, 0x56, DIVISOR)
        await _send_bits(ctx, dut.rx, 0x78, DIVISOR)
        await ctx.tick().repeat(4 * DIVISOR)
        assert ctx.get(dut.overruns) == 1
        assert ctx.get(dut.bytes.valid) and ctx.get(dut.bytes.payload) == 0x56

    assert _receive(dut, sender, ready=False) == []


def test_a_glitch_shorter_than_half_a_bit_is_not_a_start_bit():
    dut = UARTReceiver(divisor=16)

    async def sender(ctx):
        ctx.set(dut.rx, 0)
        await ctx.tick().repeat(3)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(12 * 16)
        assert ctx.get(dut.frame_errors) == 0

    assert _receive(dut, sender) == []


def test_divisor_for_checks_the_rate_error():
    assert divisor_for(12_000_000, 115_200) == 104
    assert divisor_for(24_000_000, 3_000_000) == 8
    with pytest.raises(ValueError, match="off by"):
        divisor_for(12_000_000, 2_600_000)
    with pytest.raises(ValueError, match="divisor must be between 4 and 65535"):
        divisor_for(12_000_000, 12_000_000)
    with pytest.raises(ValueError, match="divisor must be between 4 and 65535"):
        UARTTransmitter(divisor=2)
