"""The host link's framed protocol: one definition for the board's bridge and the host.

A board's host link (:class:`boards.host_link.HostLink`, behind a UART) and the host
(:class:`Link`, over any pyserial-like port) exchange the frames defined here: the RTL takes
its constants, CRC and validation rules from this module, as it takes the register map from
:mod:`openmxu.registers`.

Frames
======

Every multi-byte field is little-endian except the CRC, which is sent high byte first::

    request (host -> board)
    +------+-----+-----+-----------+----------+--------------------+-----------+
    | 0xA5 | cmd | seq | addr (4)  | len (2)  | payload            | CRC (2)   |
    +------+-----+-----+-----------+----------+--------------------+-----------+
           |<------------------ CRC-16/CCITT-FALSE ------------------>| hi, lo

    reply (board -> host)
    +------+--------+-----+----------+--------------------+-----------+
    | 0x5A | status | seq | len (2)  | payload            | CRC (2)   |
    +------+--------+-----+----------+--------------------+-----------+

* The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no
  final XOR) over every byte after the sync byte up to the CRC. Sent high byte first, it makes
  the CRC over the frame *including* its CRC zero, which is how the board checks it.
* ``seq`` is the host's sequence number, echoed by the reply, so a late reply to an earlier
  attempt is never taken for the answer to a later one.
* A request's payload is ``len`` bytes for ``MEM_WRITE``, 4 bytes (the value) for
  ``REG_WRITE`` and empty otherwise (:func:`request_payload_bytes`). The receiver follows this
  rule whatever the header holds, so it stays in step with any well-formed frame, including one
  it rejects. Bytes before a sync byte are skipped.

Commands (:class:`Command`) and what ``addr`` and ``len`` must be (:func:`check_request`):

================  ========================  ======================  =====================
command           addr                      len                     reply payload
================  ========================  ======================  =====================
REG_READ 0x01     register word index       4                       the value (4 bytes)
REG_WRITE 0x02    register word index       4                       none
MEM_READ 0x03     byte address              1 to MAX_PAYLOAD        the bytes
MEM_WRITE 0x04    byte address              1 to MAX_PAYLOAD        none
LINK_STATUS 0x05  ignored (send 0)          0                       :data:`COUNTERS`
================  ========================  ======================  =====================

A frame is answered with one reply whose status (:class:`Status`) says what happened; only
``OK`` means the command ran. Checks go in this order, and the first that fails gives the
status: ``BAD_CRC`` (CRC wrong; nothing else in the frame is trusted), ``BAD_COMMAND`` (unknown
``cmd``), ``BAD_LENGTH`` (``len`` out of range), ``BUS_ERROR`` (``addr .. addr + len - 1``
beyond the board's address space, or a register index beyond the register bus). A frame that
stops arriving for the board's ``timeout_cycles`` is dropped and answered with ``TIMEOUT``
(``seq`` 0 if it had not arrived). ``BUS_ERROR`` is also the answer to a memory command that
got an AXI ``SLVERR`` or ``DECERR``; a ``MEM_WRITE`` stops issuing bursts after the first error
response, so part of its bytes may have been written.

Every reply increments one board counter, the one of its status (:data:`COUNTERS`, in
``LINK_STATUS`` order: 16 bits each, little-endian, wrapping, so the host takes differences
modulo 2**16). ``LINK_STATUS`` reports the counts before its own reply.
"""

import enum
from dataclasses import dataclass

__all__ = ["REQUEST_SYNC", "REPLY_SYNC", "MAX_PAYLOAD", "REQUEST_HEADER_BYTES",
           "REPLY_HEADER_BYTES", "CRC_BYTES", "CRC_INIT", "CRC_POLY", "REGISTER_BYTES",
           "COUNTER_BYTES", "COUNTERS", "STATUS_COUNTERS", "Command", "Status", "crc16",
           "crc16_update", "request_payload_bytes", "reply_payload_bytes", "check_request",
           "encode_request", "encode_reply", "decode_request", "decode_reply", "Request",
           "Reply", "RequestDecoder", "ReplyDecoder", "LinkError", "NoReply", "Link"]

REQUEST_SYNC = 0xA5
REPLY_SYNC = 0x5A

#: Most bytes a MEM_READ or MEM_WRITE moves; the board buffers one frame's payload.
MAX_PAYLOAD = 256

#: Bytes between the sync byte and the payload: cmd, seq, addr (4), len (2).
REQUEST_HEADER_BYTES = 8
#: Bytes between the sync byte and the payload: status, seq, len (2).
REPLY_HEADER_BYTES = 4
CRC_BYTES = 2

CRC_POLY = 0x1021
CRC_INIT = 0xFFFF

#: Registers are 32 bits, sent little-endian.
REGISTER_BYTES = 4


class Command(enum.IntEnum):
    """A request's ``cmd``."""
    REG_READ = 0x01
    REG_WRITE = 0x02
    MEM_READ = 0x03
    MEM_WRITE = 0x04
    LINK_STATUS = 0x05


class Status(enum.IntEnum):
    """A reply's ``status``; also the index of the board counter each reply increments."""
    OK = 0
    BAD_CRC = 1
    BAD_COMMAND = 2
    BAD_LENGTH = 3
    TIMEOUT = 4
    BUS_ERROR = 5


#: The LINK_STATUS counters in reply order: (name, meaning). The first six count replies by
#: status (index = status code); the last two are the UART receiver's own counts (zero on a
#: link without a UART).
COUNTERS = (
    ("frames_ok", "frames carried out (status OK)"),
    ("crc_errors", "frames rejected for their CRC"),
    ("bad_commands", "frames rejected for an unknown cmd"),
    ("bad_lengths", "frames rejected for their len"),
    ("timeouts", "frames that stopped arriving, dropped"),
    ("bus_errors", "frames answered BUS_ERROR (address range, SLVERR or DECERR)"),
    ("uart_frame_errors", "bytes the UART dropped for a low stop bit (saturating)"),
    ("uart_overruns", "bytes the UART dropped because the link was busy (saturating)"),
)
COUNTER_BYTES = 2

#: Number of counters that count replies by status.
STATUS_COUNTERS = len(Status)


def _crc_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ CRC_POLY if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc_table()


def crc16_update(crc, byte):
    """The CRC after one more byte (MSB first, no reflection). Linear over GF(2) in
    ``(crc, byte)``, which is how the RTL derives its XOR network from it."""
    return ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]


def crc16(data, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE of ``data`` (``crc16(b"123456789") == 0x29B1``)."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def request_payload_bytes(command, length):
    """Payload bytes that follow a request header on the wire, whatever is valid."""
    if command == Command.MEM_WRITE:
        return length
    if command == Command.REG_WRITE:
        return REGISTER_BYTES
    return 0


def reply_payload_bytes(command, length):
    """Payload bytes of the ``OK`` reply to a valid request."""
    if command == Command.REG_READ:
        return REGISTER_BYTES
    if command == Command.MEM_READ:
        return length
    if command == Command.LINK_STATUS:
        return COUNTER_BYTES * len(COUNTERS)
    return 0


def check_request(command, address, length, *, addr_width=32, register_bits=6):
    """The status a board answers an intact request with before running it: ``Status.OK``
    or the first check that fails (``BAD_COMMAND``, ``BAD_LENGTH``, ``BUS_ERROR``).

    ``addr_width`` is the board's memory address width, ``register_bits`` the width of its
    register index. The RTL implements these rules; the tests check it against this function.
    """
    if command not in Command.__members__.values():
        return Status.BAD_COMMAND
    if command in (Command.REG_READ, Command.REG_WRITE):
        if length != REGISTER_BYTES:
            return Status.BAD_LENGTH
        if address >> register_bits:
            return Status.BUS_ERROR
    elif command == Command.LINK_STATUS:
        if length != 0:
            return Status.BAD_LENGTH
    else:
        if not 1 <= length <= MAX_PAYLOAD:
            return Status.BAD_LENGTH
        if (address + length - 1) >> addr_width:
            return Status.BUS_ERROR
    return Status.OK


def _check_field(name, value, bits):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(f"{name} must be an integer from 0 to {(1 << bits) - 1}, not {value!r}")


def encode_request(command, seq, address=0, *, length=None, payload=b""):
    """A request frame (bytes).

    ``length`` defaults to what ``command`` needs (``len(payload)`` for ``MEM_WRITE``, 4 for
    the register commands, 0 for ``LINK_STATUS``; ``MEM_READ`` must give it). ``command`` and
    ``length`` may be invalid values that fit their fields (to test a board's checks), but the
    payload must have the size the receiver expects (:func:`request_payload_bytes`).
    """
    command = int(command)
    payload = bytes(payload)
    if length is None:
        if command == Command.MEM_READ:
            raise ValueError("length is required for MEM_READ")
        length = {Command.MEM_WRITE: len(payload), Command.REG_READ: REGISTER_BYTES,
                  Command.REG_WRITE: REGISTER_BYTES}.get(command, 0)
    _check_field("command", command, 8)
    _check_field("seq", seq, 8)
    _check_field("address", address, 32)
    _check_field("length", length, 16)
    expected = request_payload_bytes(command, length)
    if len(payload) != expected:
        raise ValueError(f"a request with command {command:#04x} and length {length} carries "
                         f"{expected} payload bytes, not {len(payload)}")
    body = (bytes([command, seq]) + address.to_bytes(4, "little")
            + length.to_bytes(2, "little") + payload)
    return bytes([REQUEST_SYNC]) + body + crc16(body).to_bytes(2, "big")


def encode_reply(status, seq, payload=b""):
    """A reply frame (bytes)."""
    status = int(status)
    _check_field("status", status, 8)
    _check_field("seq", seq, 8)
    payload = bytes(payload)
    _check_field("payload length", len(payload), 16)
    body = bytes([status, seq]) + len(payload).to_bytes(2, "little") + payload
    return bytes([REPLY_SYNC]) + body + crc16(body).to_bytes(2, "big")


@dataclass(frozen=True)
class Request:
    """A decoded request; ``crc_ok`` is False for a frame whose CRC did not check (its other
    fields are then untrustworthy)."""
    command: int
    seq: int
    address: int
    length: int
    payload: bytes
    crc_ok: bool = True

    @property
    def status(self):
        """What the board answers before running it (:func:`check_request`, 32-bit
        addresses)."""
        return check_request(self.command, self.address, self.length) if self.crc_ok \
            else Status.BAD_CRC


@dataclass(frozen=True)
class Reply:
    """A decoded reply; ``crc_ok`` as for :class:`Request`."""
    status: int
    seq: int
    payload: bytes
    crc_ok: bool = True


def _decode(data, sync, header_bytes, extent, build):
    """``(frame or None, bytes consumed)`` for the first frame in ``data``.

    Bytes before the sync byte are consumed. A frame with a wrong CRC is consumed whole and
    returned with ``crc_ok=False``, as the board does (it cannot rewind a UART)."""
    start = data.find(bytes([sync]))
    if start < 0:
        return None, len(data)
    body_start = start + 1
    if len(data) < body_start + header_bytes:
        return None, start
    header = data[body_start:body_start + header_bytes]
    end = body_start + header_bytes + extent(header) + CRC_BYTES
    if len(data) < end:
        return None, start
    body = bytes(data[body_start:end])
    return build(header, body[header_bytes:-CRC_BYTES], crc16(body) == 0), end


def _request_extent(header):
    return request_payload_bytes(header[0], int.from_bytes(header[6:8], "little"))


def _build_request(header, payload, crc_ok):
    command = header[0]
    command = Command(command) if command in Command.__members__.values() else command
    return Request(command=command, seq=header[1],
                   address=int.from_bytes(header[2:6], "little"),
                   length=int.from_bytes(header[6:8], "little"), payload=payload,
                   crc_ok=crc_ok)


def _reply_extent(header):
    return int.from_bytes(header[2:4], "little")


def _build_reply(header, payload, crc_ok):
    status = header[0]
    status = Status(status) if status in Status.__members__.values() else status
    return Reply(status=status, seq=header[1], payload=payload, crc_ok=crc_ok)


def decode_request(data):
    """The first request in ``data``: ``(Request or None, consumed)``. ``None`` means no
    complete frame yet; ``consumed`` bytes (garbage before a sync byte) can be dropped."""
    return _decode(data, REQUEST_SYNC, REQUEST_HEADER_BYTES, _request_extent, _build_request)


def decode_reply(data):
    """The first reply in ``data``: ``(Reply or None, consumed)``, as :func:`decode_request`.
    A reply with a wrong CRC comes back with ``crc_ok=False``."""
    return _decode(data, REPLY_SYNC, REPLY_HEADER_BYTES, _reply_extent, _build_reply)


class _Decoder:
    _decode = None
    _sync = None
    _header_bytes = None
    _extent = None

    def __init__(self):
        self._buffer = bytearray()
        #: Bytes skipped before sync bytes so far.
        self.skipped = 0

    def feed(self, data):
        """Add received bytes; returns the frames they completed, in order."""
        self._buffer += data
        frames = []
        while True:
            frame, consumed = type(self)._decode(self._buffer)
            if frame is None:
                self.skipped += consumed
            del self._buffer[:consumed]
            if frame is None:
                return frames
            frames.append(frame)

    @property
    def needed(self):
        """Bytes still missing before the pending frame (or a header) is complete: at least 1.
        A client reads exactly this many, so it never waits for bytes that are not coming."""
        buffer = self._buffer
        if not buffer:
            return 1 + self._header_bytes + CRC_BYTES
        header_end = 1 + self._header_bytes
        if len(buffer) < header_end:
            return header_end - len(buffer) + CRC_BYTES
        return max(1, header_end + type(self)._extent(buffer[1:header_end]) + CRC_BYTES
                   - len(buffer))


class RequestDecoder(_Decoder):
    """Incremental parser of requests (the board's side, as a model)."""
    _decode = staticmethod(decode_request)
    _header_bytes = REQUEST_HEADER_BYTES
    _extent = staticmethod(_request_extent)


class ReplyDecoder(_Decoder):
    """Incremental parser of replies: finds the sync byte, checks the CRC."""
    _decode = staticmethod(decode_reply)
    _header_bytes = REPLY_HEADER_BYTES
    _extent = staticmethod(_reply_extent)


class LinkError(RuntimeError):
    """A request the board refused or could not carry out.

    ``status`` is the board's :class:`Status`, or ``None`` when there was no usable answer
    (:class:`NoReply`, or a reply that breaks the protocol).
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class NoReply(LinkError):
    """The board did not answer (or answered only with corrupted replies), after every
    retry."""


#: Replies that say the request was not carried out, so sending it again is always safe.
_NOT_EXECUTED = (Status.BAD_CRC, Status.TIMEOUT)


class Link:
    """A synchronous client of the host link over a pyserial-like ``port``.

    Parameters
    ----------
    port : object
        Has ``write(bytes)``, ``read(n)`` (returns up to ``n`` bytes, fewer after its
        ``timeout``) and ``timeout``: a ``serial.Serial``, or a simulation's transport.
    retries : int
        Attempts after the first when a request goes unanswered, the reply is corrupted, or
        the board answers ``BAD_CRC`` or ``TIMEOUT`` (the request was damaged on the way).

    Retries are safe because every request the client sends is idempotent: reads have no
    effect (except re-latching a counter's high word, which the next low-word read does
    anyway), ``MEM_WRITE`` and ``REG_WRITE`` put the same bytes in the same place again. The
    exception is a write with a side effect such as the accelerator's ``COMMAND``: pass
    ``idempotent=False`` to :meth:`write_register` and it is sent again only after a reply
    that proves it was not carried out; an unanswered attempt then raises :class:`NoReply`.

    Each attempt uses a new ``seq``; replies with another ``seq`` (late answers to earlier
    attempts) are skipped.
    """

    def __init__(self, port, *, retries=3):
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative integer, not {retries!r}")
        self.port = port
        self.retries = retries
        self._seq = 0
        #: Attempts that were sent again, by reason (for reports and tests).
        self.retried = {"no_reply": 0, "bad_reply_crc": 0, "bad_crc": 0, "timeout": 0}

    def __repr__(self):
        return f"Link({self.port!r}, retries={self.retries})"

    def _next_seq(self):
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _receive(self, seq, limit):
        """The reply with ``seq``, a reply with a bad CRC, or ``None`` on a read timeout."""
        decoder = ReplyDecoder()
        received = 0
        while received <= limit:
            data = self.port.read(decoder.needed)
            if not data:
                return None
            received += len(data)
            for reply in decoder.feed(data):
                if not reply.crc_ok or reply.seq == seq:
                    return reply
        return None

    def transact(self, command, address=0, *, length=None, payload=b"", idempotent=True):
        """Send one request and return the payload of its ``OK`` reply.

        Raises :class:`LinkError` with the board's status when it refuses the request, and
        :class:`NoReply` when no usable reply came after every retry.
        """
        command = Command(command)
        last = "no reply"
        for attempt in range(self.retries + 1):
            seq = self._next_seq()
            frame = encode_request(command, seq, address, length=length, payload=payload)
            expected = reply_payload_bytes(command, length if length is not None
                                           else len(payload))
            reset = getattr(self.port, "reset_input_buffer", None)
            if reset is not None and attempt:
                reset()
            self.port.write(frame)
            reply = self._receive(seq, limit=4 * (MAX_PAYLOAD + 16))
            if reply is None:
                last = "no reply"
                self.retried["no_reply"] += 1
                if not idempotent:
                    break
                continue
            if not reply.crc_ok:
                last = "a reply with a wrong CRC"
                self.retried["bad_reply_crc"] += 1
                if not idempotent:
                    break
                continue
            if reply.status in _NOT_EXECUTED:
                last = f"status {Status(reply.status).name}"
                self.retried["bad_crc" if reply.status == Status.BAD_CRC else "timeout"] += 1
                continue
            if reply.status != Status.OK:
                name = Status(reply.status).name if reply.status in Status.__members__.values() \
                    else f"unknown status {reply.status}"
                raise LinkError(f"{command.name} at {address:#x} (length {length}) was refused "
                                f"with {name}", reply.status)
            if len(reply.payload) != expected:
                raise LinkError(f"{command.name} at {address:#x}: the reply carries "
                                f"{len(reply.payload)} bytes, not {expected}")
            return reply.payload
        attempts = attempt + 1
        timeout = getattr(self.port, "timeout", None)
        raise NoReply(f"{command.name} at {address:#x}: {last} after {attempts} attempt"
                      f"{'s' if attempts > 1 else ''} (read timeout {timeout} s on "
                      f"{getattr(self.port, 'port', None) or self.port!r}); is the board "
                      f"programmed with the host link, and is the baud rate right?")

    def read_register(self, index):
        """The 32-bit value of register ``index`` (word index)."""
        payload = self.transact(Command.REG_READ, index)
        return int.from_bytes(payload, "little")

    def write_register(self, index, value, *, idempotent=True):
        """Write the 32-bit ``value`` to register ``index``. ``idempotent=False`` for a
        register whose write has a side effect (see the class documentation)."""
        _check_field("value", value, 32)
        self.transact(Command.REG_WRITE, index, payload=value.to_bytes(4, "little"),
                      idempotent=idempotent)

    def _chunks(self, address, length):
        _check_field("address", address, 32)
        if length and address + length > 1 << 32:
            raise ValueError(f"{length} bytes from {address:#x} run past the 32-bit address "
                             f"space")
        offset = 0
        while offset < length:
            size = min(MAX_PAYLOAD, length - offset)
            yield offset, size
            offset += size

    def read_memory(self, address, length):
        """``length`` bytes from byte ``address`` (any alignment), in frames of at most
        :data:`MAX_PAYLOAD` bytes."""
        out = bytearray()
        for offset, size in self._chunks(address, length):
            out += self.transact(Command.MEM_READ, address + offset, length=size)
        return bytes(out)

    def write_memory(self, address, data):
        """Write ``data`` from byte ``address`` (any alignment), in frames of at most
        :data:`MAX_PAYLOAD` bytes."""
        data = bytes(data)
        for offset, size in self._chunks(address, len(data)):
            self.transact(Command.MEM_WRITE, address + offset,
                          payload=data[offset:offset + size])

    def status(self):
        """The board's link counters (:data:`COUNTERS`) by name."""
        payload = self.transact(Command.LINK_STATUS)
        return {name: int.from_bytes(payload[COUNTER_BYTES * i:COUNTER_BYTES * (i + 1)],
                                     "little")
                for i, (name, _) in enumerate(COUNTERS)}
