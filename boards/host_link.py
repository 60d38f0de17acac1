"""The boards' host link: framed requests from the host over a byte stream, carried out on the
accelerator's register bus and on an AXI4 memory port, answered with framed replies.

The protocol is :mod:`openmxu.link` (constants, CRC, checks; the host's client is
:class:`openmxu.link.Link`)::

    request (host -> board)
    +------+-----+-----+-----------+----------+--------------------+-----------+
    | 0xA5 | cmd | seq | addr (LE) | len (LE) | payload            | CRC (BE)  |
    |  1   |  1  |  1  |     4     |    2     | len (MEM_WRITE),   |     2     |
    |      |     |     |           |          | 4 (REG_WRITE), 0   |           |
    +------+-----+-----+-----------+----------+--------------------+-----------+
    reply (board -> host)
    +------+--------+-----+----------+--------------------+-----------+
    | 0x5A | status | seq | len (LE) | payload            | CRC (BE)  |
    |  1   |   1    |  1  |    2     | len                |     2     |
    +------+--------+-----+----------+--------------------+-----------+

    CRC-16/CCITT-FALSE (0x1021, init 0xFFFF) over the bytes between the sync byte and the CRC.

How a frame goes through :class:`HostLink`:

1. **Receive.** Bytes before ``0xA5`` are skipped. The header is kept in registers; the
   payload goes into a :data:`~openmxu.link.MAX_PAYLOAD`-byte buffer (one block RAM,
   ``amaranth.lib.memory``), a ``REG_WRITE``'s value also into a 32-bit register. The frame's
   extent comes from its header (:func:`openmxu.link.request_payload_bytes`), so a rejected
   frame is still consumed whole. The CRC runs over every byte including the received CRC and
   must end at zero. A gap of ``timeout_cycles`` between two bytes of a frame drops it.
2. **Check** (:func:`openmxu.link.check_request`): CRC, command, length, address range. A
   frame that fails is answered with its error status and never carried out.
3. **Carry out.** Registers: one bus cycle (a read's value comes a cycle later). Memory:
   INCR bursts of full beats, at most 16 beats, never across a 4 KB page, one burst at a
   time; a write's first and last beats are strobed so the neighbouring bytes stay
   untouched, a read keeps only the bytes asked for. Bytes move one per cycle between the
   buffer and the beat, which is far faster than the UART. An ``RRESP``/``BRESP`` other than
   ``OKAY`` ends the command after the current burst with ``BUS_ERROR``.
4. **Reply** from the same buffer (a read's bytes, a register's value, the counters).

The link takes no new request while it carries one out and replies (``rx.ready`` is low), which
suits the host's one-request-at-a-time client; a UART in front drops bytes sent meanwhile and
counts them as overruns.
"""

from functools import reduce
from operator import xor

from amaranth import Module, Signal, Cat, Const, Mux
from amaranth.lib import wiring, stream, data
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from openmxu.link import (REQUEST_SYNC, REPLY_SYNC, MAX_PAYLOAD, REQUEST_HEADER_BYTES,
                          CRC_INIT, REGISTER_BYTES, COUNTER_BYTES, COUNTERS, STATUS_COUNTERS,
                          Command, Status, crc16_update)
from rtl.accel.registers import RegisterBus, ADDR_WIDTH as REGISTER_BITS
from rtl.mem.axi import AXI4Signature, Burst, Response, MAX_BURST_BEATS, BOUNDARY
from rtl.params import check_int, validating
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["HostLink", "HostLinkUART", "crc16_next", "HEADER_LAYOUT"]

#: The request header as it arrives after the sync byte (little-endian fields).
HEADER_LAYOUT = data.StructLayout({"command": 8, "seq": 8, "address": 32, "length": 16})

COUNTER_WIDTH = 8 * COUNTER_BYTES


def crc16_next(crc, byte):
    """:func:`openmxu.link.crc16_update` as logic: the CRC after ``byte``.

    The update is linear over GF(2), so each output bit is the XOR of the input bits whose
    unit vectors set it; those are read off the host's function, which keeps one definition.
    """
    bits = []
    for j in range(16):
        terms = [crc[i] for i in range(16) if crc16_update(1 << i, 0) >> j & 1]
        terms += [byte[k] for k in range(8) if crc16_update(0, 1 << k) >> j & 1]
        bits.append(reduce(xor, terms))
    return Cat(*bits)


def _log2(value):
    return value.bit_length() - 1


class HostLink(wiring.Component):
    """The host link's protocol engine (see the module documentation for the frames).

    Parameters
    ----------
    data_bytes : int
        Bytes per beat of ``m_axi`` (a power of two, 4 to 64; 32 for the accelerator's
        256-bit port).
    addr_width : int
        Byte address width of ``m_axi`` (12 to 64). Frames carry 32-bit addresses, so the
        link reaches the lowest 4 GB of a wider port; requests beyond a narrower one are
        answered ``BUS_ERROR`` without a bus access.
    id_width : int
        AXI ID width of ``m_axi`` (4 to 16); the link uses ID 0.
    timeout_cycles : int
        Cycles without a byte after which a frame that has started is dropped and answered
        ``TIMEOUT`` (16 to 2**32 - 1; a few byte times of the UART at least).

    Members
    -------
    rx : ``In(stream.Signature(8))``
        Request bytes.
    tx : ``Out(stream.Signature(8))``
        Reply bytes.
    bus : ``Out(RegisterBus())``
        To the accelerator's register file.
    m_axi : ``Out(AXI4Signature(...))``
        To memory.
    counters : ``Out(data.ArrayLayout(16, len(Status)))``
        Replies sent, by status (index = :class:`openmxu.link.Status`), wrapping.
    uart_frame_errors, uart_overruns : ``In(16)``
        The UART's counts, reported by ``LINK_STATUS`` (leave at 0 without a UART).
    busy : ``Out(1)``
        A frame is being received, carried out or answered (e.g. for an activity LED).
    """

    def __init__(self, *, data_bytes=32, addr_width=32, id_width=4, timeout_cycles):
        with validating(self):
            check_int("data_bytes", data_bytes, 4, 64)
            if data_bytes & (data_bytes - 1):
                raise ValueError(f"data_bytes must be a power of two between 4 and 64, "
                                 f"not {data_bytes}")
            check_int("addr_width", addr_width, 12, 64)
            check_int("id_width", id_width, 4, 16)
            check_int("timeout_cycles", timeout_cycles, 16, (1 << 32) - 1)
        self.data_bytes = data_bytes
        self.addr_width = addr_width
        self.id_width = id_width
        self.timeout_cycles = timeout_cycles
        self.axi_signature = AXI4Signature(addr_width=addr_width, data_width=8 * data_bytes,
                                           id_width=id_width)
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "bus": Out(RegisterBus()),
            "m_axi": Out(self.axi_signature),
            "counters": Out(data.ArrayLayout(COUNTER_WIDTH, STATUS_COUNTERS)),
            "uart_frame_errors": In(COUNTER_WIDTH),
            "uart_overruns": In(COUNTER_WIDTH),
            "busy": Out(1),
        })

    def __repr__(self):
        return (f"HostLink(data_bytes={self.data_bytes}, addr_width={self.addr_width}, "
                f"id_width={self.id_width}, timeout_cycles={self.timeout_cycles})")

    def elaborate(self, platform):
        m = Module()
        beat, shift = self.data_bytes, _log2(self.data_bytes)
        axi, bus, rx, tx = self.m_axi, self.bus, self.rx, self.tx

        # One buffer for everything a frame carries: a MEM_WRITE's payload must wait for its
        # CRC, and a MEM_READ's bytes for the last response, as the status goes out first.
        m.submodules.buffer = buffer = Memory(shape=8, depth=MAX_PAYLOAD, init=[])
        wr = buffer.write_port()
        rd = buffer.read_port()

        header = Signal(HEADER_LAYOUT)
        header_bytes = data.ArrayLayout(8, REQUEST_HEADER_BYTES)(header.as_value())
        command, length, address = header.command, header.length, header.address
        count = Signal(16)          # bytes into the current part of a frame
        last = Signal(16)           # index of the payload's last byte
        crc = Signal(16)
        crc_in = Signal(8)
        crc_next = crc16_next(crc, crc_in)
        word = Signal(32)           # a register's value, shifted in and out a byte at a time
        status = Signal(range(len(Status)))
        reply_len = Signal(range(MAX_PAYLOAD + 1))
        timer = Signal(range(self.timeout_cycles))

        # What the board answers an intact frame with (openmxu.link.check_request).
        is_reg = (command == Command.REG_READ) | (command == Command.REG_WRITE)
        is_mem = (command == Command.MEM_READ) | (command == Command.MEM_WRITE)
        known = Cat(*(command == c for c in Command)).any()
        bad_length = Mux(is_reg, length != REGISTER_BYTES,
                         Mux(is_mem, (length == 0) | (length > MAX_PAYLOAD), length != 0))
        last_address = Signal(33)
        m.d.comb += last_address.eq(address + length - 1)
        bad_address = Mux(is_reg, address[REGISTER_BITS:].any(),
                          is_mem & last_address[self.addr_width:].any())
        check = Signal.like(status)
        with m.If(crc != 0):
            m.d.comb += check.eq(Status.BAD_CRC)
        with m.Elif(~known):
            m.d.comb += check.eq(Status.BAD_COMMAND)
        with m.Elif(bad_length):
            m.d.comb += check.eq(Status.BAD_LENGTH)
        with m.Elif(bad_address):
            m.d.comb += check.eq(Status.BUS_ERROR)
        with m.Else():
            m.d.comb += check.eq(Status.OK)

        # Bursts. `index` is the buffer index of the byte lane `lane` of the current beat:
        # negative before the first byte asked for, `length` or more after the last.
        beat_addr = Signal(self.addr_width)
        max_beats = (beat - 1 + MAX_PAYLOAD + beat - 1) // beat
        beats_left = Signal(range(max_beats + 1))
        burst_left = Signal(range(MAX_BURST_BEATS))   # beats after the current one
        index = Signal(range(-beat, MAX_PAYLOAD + 2 * beat))
        lane = Signal(range(beat))
        in_range = (index >= 0) & (index < length)
        bus_error = Signal()
        page_beats = Signal(range((BOUNDARY >> shift) + 1))
        m.d.comb += page_beats.eq((BOUNDARY >> shift) - beat_addr[shift:_log2(BOUNDARY)])
        limit = Signal(range(MAX_BURST_BEATS + 1))
        m.d.comb += limit.eq(Mux(beats_left < MAX_BURST_BEATS, beats_left, MAX_BURST_BEATS))
        burst = Signal(range(MAX_BURST_BEATS + 1))
        m.d.comb += burst.eq(Mux(page_beats < limit, page_beats, limit))
        offset = address[:shift]
        first_beats = Signal.like(beats_left)
        m.d.comb += first_beats.eq((offset + length + beat - 1) >> shift)

        m.d.comb += [
            axi.awid.eq(0), axi.arid.eq(0),
            axi.awaddr.eq(beat_addr), axi.araddr.eq(beat_addr),
            axi.awlen.eq(burst - 1), axi.arlen.eq(burst - 1),
            axi.awsize.eq(shift), axi.arsize.eq(shift),
            axi.awburst.eq(Burst.INCR), axi.arburst.eq(Burst.INCR),
        ]
        rdata = data.ArrayLayout(8, beat)(axi.rdata)
        wdata = Signal(data.ArrayLayout(8, beat))
        wstrb = Signal(beat)
        m.d.comb += [axi.wdata.eq(wdata), axi.wstrb.eq(wstrb)]
        # A write beat is filled from the buffer, whose read data comes a cycle after its
        # address: `capture` puts it in its lane then.
        capture = Signal()
        capture_lane = Signal.like(lane)
        m.d.sync += capture.eq(0)
        with m.If(capture):
            m.d.sync += [wdata[capture_lane].eq(rd.data),
                         wstrb.bit_select(capture_lane, 1).eq(1)]

        m.d.comb += [bus.addr.eq(address[:REGISTER_BITS]), bus.w_data.eq(word)]
        image = Cat(*(self.counters[i] for i in range(STATUS_COUNTERS)),
                    self.uart_frame_errors, self.uart_overruns)
        counter_bytes = data.ArrayLayout(8, COUNTER_BYTES * len(COUNTERS))(image)

        def receive_byte():
            """Take a byte of a frame, or time out waiting for it."""
            m.d.comb += [rx.ready.eq(1), crc_in.eq(rx.payload)]
            with m.If(rx.valid):
                m.d.sync += [crc.eq(crc_next), count.eq(count + 1), timer.eq(0)]
            with m.Elif(timer == self.timeout_cycles - 1):
                m.d.sync += [status.eq(Status.TIMEOUT), reply_len.eq(0)]
                m.next = "TX_SYNC"
            with m.Else():
                m.d.sync += timer.eq(timer + 1)

        def send_byte(value, next_state, *, checked=True):
            m.d.comb += [tx.valid.eq(1), tx.payload.eq(value), crc_in.eq(value)]
            with m.If(tx.ready):
                if checked:
                    m.d.sync += crc.eq(crc_next)
                m.next = next_state

        with m.FSM(name="link") as fsm:
            with m.State("HUNT"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid & (rx.payload == REQUEST_SYNC)):
                    m.d.sync += [crc.eq(CRC_INIT), count.eq(0), timer.eq(0),
                                 header.seq.eq(0)]
                    m.next = "HEADER"

            with m.State("HEADER"):
                receive_byte()
                with m.If(rx.valid):
                    m.d.sync += header_bytes[count[:3]].eq(rx.payload)
                    with m.If(count == REQUEST_HEADER_BYTES - 1):
                        m.next = "FRAMING"

            with m.State("FRAMING"):
                # The payload's extent follows the header, valid or not (request_payload_bytes).
                m.d.sync += count.eq(0)
                with m.If(command == Command.MEM_WRITE):
                    m.d.sync += last.eq(length - 1)
                    with m.If(length != 0):
                        m.next = "PAYLOAD"
                    with m.Else():
                        m.next = "CRC"
                with m.Elif(command == Command.REG_WRITE):
                    m.d.sync += last.eq(REGISTER_BYTES - 1)
                    m.next = "PAYLOAD"
                with m.Else():
                    m.next = "CRC"

            with m.State("PAYLOAD"):
                receive_byte()
                # Bytes past the buffer wrap over it: such a frame is refused for its length.
                m.d.comb += [wr.addr.eq(count), wr.data.eq(rx.payload), wr.en.eq(rx.valid)]
                with m.If(rx.valid):
                    m.d.sync += word.eq(Cat(word[8:], rx.payload))
                    with m.If(count == last):
                        m.d.sync += count.eq(0)
                        m.next = "CRC"

            with m.State("CRC"):
                receive_byte()
                with m.If(rx.valid & (count == 1)):
                    m.next = "DECIDE"

            with m.State("DECIDE"):
                m.d.sync += [status.eq(check), reply_len.eq(0), count.eq(0)]
                with m.If(check != Status.OK):
                    m.next = "TX_SYNC"
                with m.Elif(command == Command.REG_WRITE):
                    m.next = "REG_WRITE"
                with m.Elif(command == Command.REG_READ):
                    m.next = "REG_READ"
                with m.Elif(command == Command.LINK_STATUS):
                    m.next = "STAGE"
                with m.Else():
                    m.next = "MEM_SETUP"

            with m.State("REG_WRITE"):
                m.d.comb += bus.w_en.eq(1)
                m.next = "TX_SYNC"

            with m.State("REG_READ"):
                m.d.comb += bus.r_en.eq(1)
                m.next = "REG_CAPTURE"

            with m.State("REG_CAPTURE"):
                m.d.sync += word.eq(bus.r_data)
                m.next = "STAGE"

            with m.State("STAGE"):
                # A register's value or the counters go to the buffer, whence every reply
                # payload is sent.
                size = Mux(command == Command.LINK_STATUS, len(image) // 8, REGISTER_BYTES)
                m.d.comb += [
                    wr.addr.eq(count),
                    wr.data.eq(Mux(command == Command.LINK_STATUS,
                                   counter_bytes[count[:_log2(len(image) // 8)]], word[:8])),
                    wr.en.eq(1),
                ]
                # The same shift as in PAYLOAD (what enters at the top is never sent), so
                # `word` has two sources only.
                m.d.sync += [word.eq(Cat(word[8:], rx.payload)), count.eq(count + 1)]
                with m.If(count == size - 1):
                    m.d.sync += reply_len.eq(size)
                    m.next = "TX_SYNC"

            with m.State("MEM_SETUP"):
                m.d.sync += [
                    beat_addr.eq(Cat(Const(0, shift), address[shift:self.addr_width])),
                    beats_left.eq(first_beats),
                    index.eq(-offset),
                    lane.eq(0),
                    bus_error.eq(0),
                ]
                with m.If(command == Command.MEM_READ):
                    m.next = "AR"
                with m.Else():
                    m.next = "AW"

            def start_burst(valid, ready, next_state):
                m.d.comb += valid.eq(1)
                with m.If(ready):
                    m.d.sync += [burst_left.eq(burst - 1), beats_left.eq(beats_left - burst),
                                 beat_addr.eq(beat_addr + (burst << shift)), lane.eq(0),
                                 wstrb.eq(0)]
                    m.next = next_state

            with m.State("AR"):
                start_burst(axi.arvalid, axi.arready, "R")

            with m.State("R"):
                # The beat stays on RDATA until RREADY, so its lanes are taken one per cycle
                # straight from it.
                with m.If(axi.rvalid):
                    m.d.comb += [wr.addr.eq(index), wr.data.eq(rdata[lane]),
                                 wr.en.eq(in_range)]
                    m.d.sync += [index.eq(index + 1), lane.eq(lane + 1)]
                    with m.If(lane == beat - 1):
                        m.d.comb += axi.rready.eq(1)
                        with m.If(axi.rresp != Response.OKAY):
                            m.d.sync += bus_error.eq(1)
                        with m.If(burst_left == 0):
                            m.next = "NEXT_BURST"
                        with m.Else():
                            m.d.sync += burst_left.eq(burst_left - 1)

            with m.State("AW"):
                start_burst(axi.awvalid, axi.awready, "W_FILL")

            with m.State("W_FILL"):
                m.d.comb += rd.addr.eq(index)
                m.d.sync += [capture.eq(in_range), capture_lane.eq(lane),
                             index.eq(index + 1), lane.eq(lane + 1)]
                with m.If(lane == beat - 1):
                    m.next = "W_WAIT"

            with m.State("W_WAIT"):
                m.next = "W_SEND"      # the last lane is captured in this cycle

            with m.State("W_SEND"):
                m.d.comb += [axi.wvalid.eq(1), axi.wlast.eq(burst_left == 0)]
                with m.If(axi.wready):
                    with m.If(burst_left == 0):
                        m.next = "B"
                    with m.Else():
                        m.d.sync += [burst_left.eq(burst_left - 1), wstrb.eq(0)]
                        m.next = "W_FILL"

            with m.State("B"):
                m.d.comb += axi.bready.eq(1)
                with m.If(axi.bvalid):
                    with m.If(axi.bresp != Response.OKAY):
                        m.d.sync += bus_error.eq(1)
                    m.next = "NEXT_BURST"

            with m.State("NEXT_BURST"):
                with m.If((beats_left != 0) & ~bus_error):
                    with m.If(command == Command.MEM_READ):
                        m.next = "AR"
                    with m.Else():
                        m.next = "AW"
                with m.Else():
                    m.d.sync += [
                        status.eq(Mux(bus_error, Status.BUS_ERROR, Status.OK)),
                        reply_len.eq(Mux(~bus_error & (command == Command.MEM_READ),
                                         length, 0)),
                    ]
                    m.next = "TX_SYNC"

            with m.State("TX_SYNC"):
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(REPLY_SYNC)]
                with m.If(tx.ready):
                    m.d.sync += [crc.eq(CRC_INIT),
                                 self.counters[status].eq(self.counters[status] + 1)]
                    m.next = "TX_STATUS"

            with m.State("TX_STATUS"):
                send_byte(status, "TX_SEQ")

            with m.State("TX_SEQ"):
                send_byte(header.seq, "TX_LEN0")

            with m.State("TX_LEN0"):
                send_byte(reply_len[:8], "TX_LEN1")

            with m.State("TX_LEN1"):
                send_byte(reply_len[8:], "TX_PAYLOAD")
                m.d.sync += count.eq(0)
                with m.If(tx.ready & (reply_len == 0)):
                    m.next = "TX_CRC_HI"

            with m.State("TX_PAYLOAD"):
                # The read port shows the byte at `count`: its address runs one ahead on a
                # handshake (and was 0 before this state).
                m.d.comb += rd.addr.eq(Mux(tx.ready, count + 1, count))
                send_byte(rd.data, "TX_PAYLOAD")
                with m.If(tx.ready):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == reply_len - 1):
                        m.next = "TX_CRC_HI"

            with m.State("TX_CRC_HI"):
                send_byte(crc[8:], "TX_CRC_LO", checked=False)

            with m.State("TX_CRC_LO"):
                send_byte(crc[:8], "HUNT", checked=False)

        m.d.comb += self.busy.eq(~fsm.ongoing("HUNT"))
        return m


class HostLinkUART(wiring.Component):
    """:class:`HostLink` behind the UART of :mod:`boards.uart`, for a board top: two pins,
    the register bus and the memory port.

    Parameters
    ----------
    divisor : int
        Clock cycles per UART bit (:func:`boards.uart.divisor_for`).
    data_bytes, addr_width, id_width : int
        As for :class:`HostLink`.
    timeout_cycles : int or None
        As for :class:`HostLink`, at least two byte times (``20 * divisor``); default 1000
        byte times (87 ms at 115,200 baud), long enough for USB-serial adapters' gaps.

    Members
    -------
    rx : ``In(1, init=1)``
        From the host (the UART's RXD pin).
    tx : ``Out(1, init=1)``
        To the host.
    bus, m_axi, counters, busy
        As for :class:`HostLink`.
    """

    def __init__(self, *, divisor, data_bytes=32, addr_width=32, id_width=4,
                 timeout_cycles=None):
        with validating(self):
            check_int("divisor", divisor, 4, (1 << 16) - 1)
            if timeout_cycles is None:
                timeout_cycles = 10_000 * divisor
            check_int("timeout_cycles", timeout_cycles, 20 * divisor, (1 << 32) - 1,
                      extra=" (at least two byte times, 20 x divisor)")
            self._link = HostLink(data_bytes=data_bytes, addr_width=addr_width,
                                  id_width=id_width, timeout_cycles=timeout_cycles)
        self.divisor = divisor
        self.timeout_cycles = timeout_cycles
        link = self._link.signature.members
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "bus": link["bus"],
            "m_axi": link["m_axi"],
            "counters": link["counters"],
            "busy": link["busy"],
        })

    @property
    def axi_signature(self):
        return self._link.axi_signature

    def __repr__(self):
        return f"HostLinkUART(divisor={self.divisor}, link={self._link!r})"

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = receiver = UARTReceiver(divisor=self.divisor)
        m.submodules.transmitter = transmitter = UARTTransmitter(divisor=self.divisor)
        m.submodules.link = link = self._link
        wiring.connect(m, receiver.bytes, link.rx)
        wiring.connect(m, link.tx, transmitter.bytes)
        wiring.connect(m, wiring.flipped(self.bus), link.bus)
        wiring.connect(m, wiring.flipped(self.m_axi), link.m_axi)
        m.d.comb += [
            receiver.rx.eq(self.rx),
            self.tx.eq(transmitter.tx),
            link.uart_frame_errors.eq(receiver.frame_errors),
            link.uart_overruns.eq(receiver.overruns),
            self.counters.eq(link.counters),
            self.busy.eq(link.busy),
        ]
        return m
