"""A UART (8 data bits, no parity, 1 stop bit) for the boards' host link: a transmitter and a
receiver with byte streams on the fabric side.

amaranth-stdio, which has a UART, is not on PyPI; this one is small and checked by
``tests/test_uart.py``. Both ends count time in clock cycles per bit (``divisor``), so a
12 MHz clock and 115,200 baud is ``divisor=104`` (0.16 % fast).
"""

from amaranth import Module, Signal, Cat
from amaranth.lib import wiring, stream
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from rtl.params import check_int, validating

__all__ = ["UARTTransmitter", "UARTReceiver", "divisor_for"]

MAX_DIVISOR = 1 << 16


def divisor_for(clock_hz, baud):
    """Clock cycles per bit for ``baud`` at ``clock_hz``; ``ValueError`` if the rate error
    exceeds 2 %, past which 8N1 framing is unreliable."""
    divisor = round(clock_hz / baud)
    check_int("divisor", divisor, 4, MAX_DIVISOR - 1,
              extra=f" (clock_hz / baud; {clock_hz} Hz and {baud} baud)")
    error = abs(clock_hz / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"baud must be within 2 % of clock_hz / divisor: {baud} baud at "
                         f"{clock_hz} Hz is off by {100 * error:.1f} %")
    return divisor


class UARTTransmitter(wiring.Component):
    """Sends each byte of ``bytes`` as a start bit, 8 data bits (LSB first) and a stop bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (4 to 65535).

    Members
    -------
    bytes : ``In(stream.Signature(8))``
    tx : ``Out(1, init=1)``
        The line, high when idle.
    busy : ``Out(1)``
    """

    def __init__(self, *, divisor):
        with validating(self):
            check_int("divisor", divisor, 4, MAX_DIVISOR - 1)
        self.divisor = divisor
        super().__init__({
            "bytes": In(stream.Signature(8)),
            "tx": Out(1, init=1),
            "busy": Out(1),
        })

    def __repr__(self):
        return f"UARTTransmitter(divisor={self.divisor})"

    def elaborate(self, platform):
        m = Module()
        shifter = Signal(10)            # stop, data[7:0], start: sent from bit 0
        bits_left = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.busy.eq(bits_left != 0),
                     self.bytes.ready.eq(bits_left == 0)]
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += [shifter.eq(Cat(0, self.bytes.payload, 1)), bits_left.eq(10),
                         timer.eq(self.divisor - 1), self.tx.eq(0)]
        with m.Elif(bits_left != 0):
            with m.If(timer == 0):
                m.d.sync += [timer.eq(self.divisor - 1), bits_left.eq(bits_left - 1),
                             shifter.eq(shifter >> 1)]
                # The next bit goes out as this one's time ends; idle high after the stop bit.
                m.d.sync += self.tx.eq((bits_left == 1) | shifter[1])
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UARTReceiver(wiring.Component):
    """Receives 8N1 bytes from ``rx`` (synchronized to the clock here).

    A falling edge starts a byte; each bit is sampled in its middle, and the start bit is
    checked again there, so a glitch shorter than half a bit is ignored. A byte whose stop
    bit is low is dropped and counted in ``frame_errors``; a byte that arrives while the
    previous one has not been taken is dropped and counted in ``overruns``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (4 to 65535).

    Members
    -------
    rx : ``In(1, init=1)``
    bytes : ``Out(stream.Signature(8))``
    frame_errors, overruns : ``Out(16)``
        Saturating counts.
    """

    def __init__(self, *, divisor):
        with validating(self):
            check_int("divisor", divisor, 4, MAX_DIVISOR - 1)
        self.divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "bytes": Out(stream.Signature(8)),
            "frame_errors": Out(16),
            "overruns": Out(16),
        })

    def __repr__(self):
        return f"UARTReceiver(divisor={self.divisor})"

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor))
        bit = Signal(range(10))
        shifter = Signal(8)

        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)

        with m.FSM(name="receiver"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.next = "IDLE"            # a glitch, not a start bit
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), shifter.eq(Cat(shifter[1:], line)),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(~line):
                        with m.If(self.frame_errors != 0xFFFF):
                            m.d.sync += self.frame_errors.eq(self.frame_errors + 1)
                    with m.Elif(self.bytes.valid & ~self.bytes.ready):
                        with m.If(self.overruns != 0xFFFF):
                            m.d.sync += self.overruns.eq(self.overruns + 1)
                    with m.Else():
                        m.d.sync += [self.bytes.payload.eq(shifter), self.bytes.valid.eq(1)]
                    # Wait for the line to go high again before the next start bit.
                    m.next = "WAIT_HIGH"
            with m.State("WAIT_HIGH"):
                with m.If(line):
                    m.next = "IDLE"
        return m
