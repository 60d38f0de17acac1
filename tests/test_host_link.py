"""The boards' host link: the protocol module (openmxu/link.py), its client ``Link``, the RTL
bridge (boards/host_link.py, amaranth.sim) and the serial backend's job runner
(openmxu/board.py, against a Python model of a board).

The RTL tests put :class:`boards.host_link.HostLink` in front of the real register file
(:class:`rtl.accel.registers.RegisterFile`) and a byte-level AXI4 memory model with random
stalls, which checks every burst against the rules of :mod:`rtl.mem.axi` and can answer
``SLVERR`` in chosen ranges. Requests go in as a byte stream (the UART is tested once, end to
end, with a divisor of 4).
"""

import random
from collections import deque

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from boards.host_link import HostLink, HostLinkUART
from boards.uart import UARTReceiver, UARTTransmitter
from openmxu import Config, golden
from openmxu.link import (Command, Status, COUNTERS, MAX_PAYLOAD, REQUEST_SYNC, Link,
                          LinkError, NoReply, ReplyDecoder, RequestDecoder, check_request,
                          crc16, decode_reply, decode_request, encode_reply, encode_request)
from openmxu.registers import (MAGIC, Reg, DESCRIPTOR, DESCRIPTOR_BASE, COUNTERS as ACC_COUNTERS,
                               counter_index, STATUS_DONE, Flags, ErrorCode)
from rtl.accel.registers import RegisterFile
from rtl.mem.axi import Response, burst_problem

CONFIG_WORD = 0x2007_0408
MEMORY_BYTES = 1 << 14
ADDR_WIDTH = 14
TIMEOUT_CYCLES = 300


# --------------------------------------------------------------------------------------------
# The protocol module


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF
    frame = encode_reply(Status.OK, 7, b"\x01\x02\x03")
    assert crc16(frame[1:]) == 0, "the big-endian CRC leaves a zero residue"


def test_request_and_reply_round_trip():
    cases = [
        (Command.REG_READ, 1, 0x02, {}),
        (Command.REG_WRITE, 2, 0x08, {"payload": (0xDEADBEEF).to_bytes(4, "little")}),
        (Command.MEM_READ, 3, 0x1234_5678, {"length": 256}),
        (Command.MEM_WRITE, 255, 0xFFFF_FF00, {"payload": bytes(range(256))}),
        (Command.LINK_STATUS, 0, 0, {}),
    ]
    for command, seq, address, options in cases:
        frame = encode_request(command, seq, address, **options)
        assert frame[0] == REQUEST_SYNC
        request, consumed = decode_request(frame)
        assert consumed == len(frame)
        assert (request.command, request.seq, request.address) == (command, seq, address)
        assert request.payload == options.get("payload", b"") and request.crc_ok
        assert request.status == Status.OK
    reply, consumed = decode_reply(b"\x00\x13" + encode_reply(Status.BUS_ERROR, 9))
    assert consumed == 2 + 7 and reply == decode_reply(encode_reply(5, 9))[0]
    assert reply.status is Status.BUS_ERROR and reply.seq == 9 and reply.payload == b""


def test_decoders_skip_garbage_and_flag_a_bad_crc():
    good = encode_reply(Status.OK, 1, b"abc")
    bad = bytearray(encode_reply(Status.OK, 2, b"xyz"))
    bad[6] ^= 0x10
    decoder = ReplyDecoder()
    stream = b"\x00\xff\x12" + bytes(bad) + good
    frames = []
    for byte in stream:                      # one byte at a time
        frames += decoder.feed(bytes([byte]))
    assert [(f.seq, f.crc_ok) for f in frames] == [(2, False), (1, True)]
    assert frames[1].payload == b"abc" and decoder.skipped == 3
    # A partial frame: the decoder says how many bytes at least complete it (before the
    # length has arrived: the rest of the header and the CRC).
    decoder = ReplyDecoder()
    assert decoder.needed == 7
    assert decoder.feed(good[:3]) == [] and decoder.needed == 2 + 2
    assert decoder.feed(good[3:6]) == [] and decoder.needed == len(good) - 6
    assert decoder.feed(good[6:]) == [decode_reply(good)[0]]
    requests = RequestDecoder().feed(b"junk" + encode_request(Command.MEM_WRITE, 4, 8,
                                                              payload=b"\xa5\x5a"))
    assert requests[0].payload == b"\xa5\x5a"


def test_encoder_checks_fields_but_allows_invalid_values_that_fit():
    frame = encode_request(0x7F, 1, 0)                    # unknown command: no payload
    assert decode_request(frame)[0].status == Status.BAD_COMMAND
    frame = encode_request(Command.MEM_READ, 1, 0, length=300)
    assert decode_request(frame)[0].status == Status.BAD_LENGTH
    with pytest.raises(ValueError, match="seq must be an integer from 0 to 255"):
        encode_request(Command.REG_READ, 256, 0)
    with pytest.raises(ValueError, match="carries 4 payload bytes, not 2"):
        encode_request(Command.REG_WRITE, 1, 0, payload=b"ab")
    with pytest.raises(ValueError, match="length is required"):
        encode_request(Command.MEM_READ, 1, 0)


def test_check_request_rules():
    assert check_request(Command.REG_READ, 63, 4) == Status.OK
    assert check_request(Command.REG_READ, 64, 4) == Status.BUS_ERROR
    assert check_request(Command.REG_WRITE, 0, 0) == Status.BAD_LENGTH
    assert check_request(Command.LINK_STATUS, 0, 1) == Status.BAD_LENGTH
    assert check_request(Command.MEM_WRITE, 0, 0) == Status.BAD_LENGTH
    assert check_request(Command.MEM_WRITE, 0, MAX_PAYLOAD + 1) == Status.BAD_LENGTH
    assert check_request(Command.MEM_READ, 0xFFFF_FF00, 256) == Status.OK
    assert check_request(Command.MEM_READ, 0x3F00, 256, addr_width=14) == Status.OK
    assert check_request(Command.MEM_READ, 0x3F01, 256, addr_width=14) == Status.BUS_ERROR
    assert check_request(0, 0, 0) == Status.BAD_COMMAND


# --------------------------------------------------------------------------------------------
# A Python model of a board behind a port, for the client and the job runner


class FakeBoard:
    """A pyserial-like port with a board model behind it: the host link's protocol over a
    register file and memory, and an accelerator that computes a queued command with the
    golden model. ``faults`` is a list of callables ``(request_frame, reply_frame) ->
    (request_frame or None, reply_frame or None)`` applied to successive requests (None drops
    the frame)."""

    def __init__(self, memory_bytes=1 << 16, *, config_word=None, faults=(), timeout=0.01):
        self.memory = bytearray(memory_bytes)
        self.registers = {Reg.ID: MAGIC, Reg.CONFIG: config_word or 0, Reg.STATUS: 0,
                          Reg.QUEUE: 4}
        self.counters = {name: 0 for name, _ in ACC_COUNTERS}
        self.link_counters = [0] * len(COUNTERS)
        self.faults = list(faults)
        self.timeout = timeout
        self.requests = []
        self._decoder = RequestDecoder()
        self._out = bytearray()
        self._latched = 0
        self.busy_polls = 0         # STATUS reads that still show busy after a COMMAND

    # The port.
    def write(self, data):
        data = bytes(data)
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            data, _ = fault(data, None)
            if data is None:
                return
        for request in self._decoder.feed(data):
            reply = self._answer(request)
            if fault is not None:
                _, reply = fault(None, reply)
            if reply is not None:
                self._out += reply

    def read(self, n):
        data, self._out = bytes(self._out[:n]), self._out[n:]
        return data

    # The board.
    def _answer(self, request):
        status = request.status
        if status == Status.OK and request.command in (Command.MEM_READ, Command.MEM_WRITE):
            if request.address + request.length > len(self.memory):
                status = Status.BUS_ERROR
        payload = b""
        if status == Status.OK:
            self.requests.append(request)
            payload = self._execute(request)
        self.link_counters[status] += 1
        return encode_reply(status, request.seq, payload)   # echoed even when damaged

    def _execute(self, request):
        address, length = request.address, request.length
        if request.command == Command.MEM_WRITE:
            self.memory[address:address + length] = request.payload
        elif request.command == Command.MEM_READ:
            return bytes(self.memory[address:address + length])
        elif request.command == Command.REG_WRITE:
            self._write_register(address, int.from_bytes(request.payload, "little"))
        elif request.command == Command.REG_READ:
            return self._read_register(address).to_bytes(4, "little")
        elif request.command == Command.LINK_STATUS:
            return b"".join(v.to_bytes(2, "little") for v in self.link_counters)
        return b""

    def _read_register(self, index):
        if index == Reg.STATUS and self.busy_polls:
            self.busy_polls -= 1
            return self.registers[Reg.STATUS] | 1
        for i, (name, _) in enumerate(ACC_COUNTERS):
            if index == counter_index(name):
                self._latched = self.counters[name] >> 32
                return self.counters[name] & 0xFFFF_FFFF
            if index == counter_index(name) + 1:
                return self._latched
        return self.registers.get(index, 0)

    def _write_register(self, index, value):
        if index == Reg.STATUS:
            if value & STATUS_DONE:
                self.registers[Reg.STATUS] &= ~STATUS_DONE
        elif index == Reg.COMMAND:
            self._command()
        else:
            self.registers[index] = value

    def _command(self):
        d = {name: self.registers.get(DESCRIPTOR_BASE + i, 0)
             for i, (name, _) in enumerate(DESCRIPTOR)}
        status = self.registers[Reg.STATUS] + (1 << 16) | STATUS_DONE
        self.busy_polls = 2
        if not d["m"] * d["k"] * d["n"]:
            self.registers[Reg.STATUS] = status & 0xFFFF_00FF | ErrorCode.ZERO_DIMENSION << 8
            return
        mem = np.frombuffer(self.memory, dtype=np.uint8)
        a = np.stack([mem[d["a_addr"] + r * d["a_stride"]:][:d["k"]].view(np.int8)
                      for r in range(d["m"])]).astype(np.int64)
        b = np.stack([mem[d["b_addr"] + r * d["b_stride"]:][:d["n"]].view(np.int8)
                      for r in range(d["k"])]).astype(np.int64)
        int8 = bool(d["flags"] & Flags.INT8)
        c = golden.output_stage(golden.matmul(a, b), out="int8" if int8 else "int32",
                                scale=d["quant"] & 0xFFFF, shift=d["quant"] >> 16,
                                relu=bool(d["flags"] & Flags.RELU),
                                rounding="half_up" if d["flags"] & Flags.HALF_UP
                                else "half_even")
        dtype = "i1" if int8 else "<i4"
        for r in range(d["m"]):
            row = c[r].astype(dtype).tobytes()
            start = d["c_addr"] + r * d["c_stride"]
            self.memory[start:start + len(row)] = row
        self.registers[Reg.STATUS] = status & 0xFFFF_00FF
        self.counters["cycles"] += (1 << 32) + d["m"] * d["k"]     # crosses the low word
        self.counters["mac_active"] += d["m"] * d["k"]


def _corrupt_request(request, reply):
    if request is not None:
        request = bytearray(request)
        request[3] ^= 0x01
        return bytes(request), None
    return None, reply


def _drop_reply(request, reply):
    return request, None


def _corrupt_reply(request, reply):
    if reply is None:
        return request, None
    reply = bytearray(reply)
    reply[2] ^= 0x80
    return None, bytes(reply)


def test_link_against_a_model_board():
    board = FakeBoard()
    link = Link(board)
    link.write_register(0x09, 0x1234_5678)
    assert link.read_register(0x09) == 0x1234_5678
    assert link.read_register(Reg.ID) == MAGIC
    data = bytes(random.Random(2).randrange(256) for _ in range(700))
    link.write_memory(0x1003, data)
    assert [len(r.payload) for r in board.requests if r.command == Command.MEM_WRITE] \
        == [256, 256, 188]
    assert link.read_memory(0x1003, 700) == data
    assert link.read_memory(0x1002, 1) == b"\x00"
    status = link.status()
    assert list(status) == [name for name, _ in COUNTERS]
    assert status["frames_ok"] == 10


def test_link_retries_and_gives_up_clearly():
    board = FakeBoard(faults=[_corrupt_request, _drop_reply, _corrupt_reply])
    link = Link(board)
    link.write_memory(0x20, b"hello")
    assert bytes(board.memory[0x20:0x25]) == b"hello"
    assert link.retried == {"no_reply": 1, "bad_reply_crc": 1, "bad_crc": 1, "timeout": 0}
    # A COMMAND write whose reply is lost is not sent again: it may have run.
    board = FakeBoard(faults=[_drop_reply])
    with pytest.raises(NoReply, match="REG_WRITE at 0x4: no reply after 1 attempt"):
        Link(board).write_register(Reg.COMMAND, 1, idempotent=False)
    # ... but it is after a reply that proves it did not run.
    board = FakeBoard(faults=[_corrupt_request])
    Link(board).write_register(Reg.COMMAND, 1, idempotent=False)

    class Silent:
        timeout = 0.5

        def write(self, data):
            pass

        def read(self, n):
            return b""

    with pytest.raises(NoReply, match=r"no reply after 4 attempts \(read timeout 0.5 s.*"
                                      r"baud rate"):
        Link(Silent()).read_register(0)
    with pytest.raises(LinkError, match="refused with BUS_ERROR") as error:
        Link(FakeBoard(1024)).read_memory(1000, 100)
    assert error.value.status == Status.BUS_ERROR


def test_serial_backend_runs_jobs_on_a_model_board():
    from openmxu.accelerator import Accelerator, AcceleratorError
    from openmxu.board import expected_config_word
    config = Config(rows=4, cols=4, block_m=16, block_k=32)

    class Board:
        memory_bytes = 1 << 16
        baud = 3_000_000

    board = FakeBoard(Board.memory_bytes, config_word=expected_config_word(config))
    acc = Accelerator(config, backend="serial", port=board, board=Board())
    assert acc.memory_bytes == Board.memory_bytes and acc.baud == 3_000_000
    rng = np.random.default_rng(1)
    a, b = golden.random_operands(rng, 5, 37, 9)
    assert (acc.matmul(a, b) == golden.matmul(a, b)).all()
    assert acc.last_stats.cycles == (1 << 32) + 5 * 37
    assert acc.last_run["backend"] == "serial"
    got = acc.matmul(a, b, out="int8", scale=3, shift=6, relu=True)
    assert (got == golden.output_stage(golden.matmul(a, b), out="int8", scale=3, shift=6,
                                       relu=True)).all()
    with pytest.raises(ValueError, match="beyond the 65536 bytes"):
        acc.matmul(np.ones((200, 200), dtype=int), np.ones((200, 200), dtype=int))
    board.registers[Reg.ID] = 0
    with pytest.raises(AcceleratorError, match="ID register reads 0x00000000"):
        acc.matmul(a, b)
    wrong = Accelerator(Config(), backend="serial",
                        port=FakeBoard(config_word=expected_config_word(config)))
    with pytest.raises(AcceleratorError, match="board's accelerator is a 4x4 array"):
        wrong.matmul(a, b)
    with pytest.raises(ValueError, match="port is required"):
        Accelerator(config, backend="serial")
    with pytest.raises(ValueError, match="waves and throttle"):
        Accelerator(config, backend="serial", port=board, waves=True)


def test_run_reports_a_board_run(capsys):
    from openmxu.accelerator import Accelerator, AcceleratorError
    from openmxu.board import expected_config_word
    from openmxu.run import run
    config = Config(rows=4, cols=4, block_m=16, block_k=32)
    board = FakeBoard(1 << 20, config_word=expected_config_word(config))
    assert run(config, m=12, k=20, n=7, port=board) == 0
    out = capsys.readouterr().out
    assert "PASS: bit-exact with numpy" in out and "s for the whole call over" in out
    with pytest.raises(AcceleratorError, match="cannot open /dev/openmxu-missing"):
        Accelerator(config, backend="serial", port="/dev/openmxu-missing").matmul(
            np.ones((2, 2), dtype=int), np.ones((2, 2), dtype=int))


def test_cli_run_takes_a_port(monkeypatch, capsys):
    from openmxu import cli, run as run_module
    seen = {}

    def fake_run(config, **options):
        seen.update(options)
        return 0

    monkeypatch.setattr(run_module, "run", fake_run)
    assert cli.main(["run", "--m", "4", "--port", "/dev/ttyUSB7", "--baud", "921600"]) == 0
    assert seen["port"] == "/dev/ttyUSB7" and seen["baud"] == 921600


# --------------------------------------------------------------------------------------------
# The RTL


class AXIMemory:
    """A byte-level AXI4 subordinate for amaranth.sim, with random stalls on every channel.

    Checks each burst with :func:`rtl.mem.axi.burst_problem` and WLAST; answers ``SLVERR``
    (writing nothing, reading zeros) for a burst touching ``errors`` (a set of beat
    addresses). ``bursts`` logs ``(kind, address, beats)``."""

    def __init__(self, axi, signature, size, *, seed=0, stall=0.3):
        self.axi, self.signature = axi, signature
        self.beat = signature.beat_bytes
        self.memory = bytearray(random.Random(seed + 1).randbytes(size))
        self.rng = random.Random(seed)
        self.stall = stall
        self.errors = set()
        self.bursts = []

    def _go(self):
        return self.rng.random() >= self.stall

    def _check(self, kind, address, length, size, burst):
        problem = burst_problem(address, length, size, burst, signature=self.signature)
        assert problem is None, f"{kind} burst at {address:#x}: {problem}"
        beats = length + 1
        assert address + beats * self.beat <= len(self.memory), f"{kind} beyond the memory"
        self.bursts.append((kind, address, beats))
        error = any(address + i * self.beat in self.errors for i in range(beats))
        return beats, error

    async def run(self, ctx):
        axi, beat = self.axi, self.beat
        write = None            # [address, beats left, error, beat index]
        responses = deque()     # B responses to give
        reads = deque()         # [address, beats, error, beat index]
        r_beat = None           # the beat on R until it is taken
        b_valid = False
        while True:
            ctx.set(axi.awready, write is None and self._go())
            ctx.set(axi.wready, write is not None and self._go())
            if not b_valid and responses and self._go():
                b_valid = True
                ctx.set(axi.bresp, responses[0])
            ctx.set(axi.bvalid, b_valid)
            ctx.set(axi.arready, len(reads) < 2 and self._go())
            if r_beat is None and reads and self._go():
                address, beats, error, i = reads[0]
                data = bytes(beat) if error else \
                    bytes(self.memory[address + i * beat:address + (i + 1) * beat])
                r_beat = (int.from_bytes(data, "little"),
                          Response.SLVERR if error else Response.OKAY, i == beats - 1)
            ctx.set(axi.rvalid, r_beat is not None)
            if r_beat is not None:
                ctx.set(axi.rdata, r_beat[0])
                ctx.set(axi.rresp, r_beat[1])
                ctx.set(axi.rlast, r_beat[2])
            _, _, awv, awr, awaddr, awlen, awsize, awburst, wv, wr, wdata, wstrb, wlast, \
                bready, arv, arr, araddr, arlen, arsize, arburst, rready = \
                await ctx.tick().sample(
                    axi.awvalid, axi.awready, axi.awaddr, axi.awlen, axi.awsize, axi.awburst,
                    axi.wvalid, axi.wready, axi.wdata, axi.wstrb, axi.wlast, axi.bready,
                    axi.arvalid, axi.arready, axi.araddr, axi.arlen, axi.arsize, axi.arburst,
                    axi.rready)
            if awv and awr:
                beats, error = self._check("write", awaddr, awlen, awsize, awburst)
                write = [awaddr, beats, error, 0]
            if wv and wr:
                address, beats, error, i = write
                assert wlast == (i == beats - 1), "WLAST is not on the last beat"
                if not error:
                    for lane in range(beat):
                        if wstrb >> lane & 1:
                            self.memory[address + i * beat + lane] = wdata >> 8 * lane & 0xFF
                write[3] += 1
                if write[3] == beats:
                    responses.append(Response.SLVERR if error else Response.OKAY)
                    write = None
            if b_valid and bready:
                responses.popleft()
                b_valid = False
            if arv and arr:
                beats, error = self._check("read", araddr, arlen, arsize, arburst)
                reads.append([araddr, beats, error, 0])
            if r_beat is not None and rready:
                r_beat = None
                reads[0][3] += 1
                if reads[0][3] == reads[0][1]:
                    reads.popleft()


class LinkBench:
    """HostLink + RegisterFile + AXIMemory; ``request`` sends a frame and returns the
    reply."""

    def __init__(self, *, data_bytes=32, seed=0, stall=0.3):
        self.link = HostLink(data_bytes=data_bytes, addr_width=ADDR_WIDTH,
                             timeout_cycles=TIMEOUT_CYCLES)
        self.registers = RegisterFile(config_word=CONFIG_WORD)
        self.top = Module()
        self.top.submodules.link = self.link
        self.top.submodules.registers = self.registers
        wiring.connect(self.top, self.link.bus, self.registers.bus)
        self.memory = AXIMemory(self.link.m_axi, self.link.axi_signature, MEMORY_BYTES,
                                seed=seed, stall=stall)
        self.rng = random.Random(seed + 7)

    async def send(self, ctx, data, *, gap=0):
        rx = self.link.rx
        for byte in data:
            ctx.set(rx.payload, byte)
            ctx.set(rx.valid, 1)
            await ctx.tick().until(rx.ready)
            ctx.set(rx.valid, 0)
            pause = self.rng.randrange(gap + 1) if gap else 0
            if pause:
                await ctx.tick().repeat(pause)

    async def receive(self, ctx, *, limit=20_000):
        tx = self.link.tx
        decoder = ReplyDecoder()
        for _ in range(limit):
            ready = self.rng.random() < 0.7
            ctx.set(tx.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(tx.valid, tx.payload)
            if valid and ready:
                replies = decoder.feed(bytes([payload]))
                if replies:
                    ctx.set(tx.ready, 0)
                    assert replies[0].crc_ok
                    return replies[0]
        raise AssertionError("no reply")

    async def request(self, ctx, frame, *, gap=3):
        await self.send(ctx, frame, gap=gap)
        return await self.receive(ctx)

    def run(self, testbench):
        sim = Simulator(self.top)
        sim.add_clock(1e-8)
        sim.add_testbench(self.memory.run, background=True)
        sim.add_testbench(testbench)
        sim.run()


def _ok(reply, seq, payload=b""):
    assert (reply.status, reply.seq, reply.payload) == (Status.OK, seq, payload), reply


def test_registers_round_trip():
    bench = LinkBench()

    async def testbench(ctx):
        _ok(await bench.request(ctx, encode_request(Command.REG_READ, 1, Reg.ID)), 1,
            MAGIC.to_bytes(4, "little"))
        _ok(await bench.request(ctx, encode_request(Command.REG_READ, 2, Reg.CONFIG)), 2,
            CONFIG_WORD.to_bytes(4, "little"))
        for seq, (index, value) in enumerate([(DESCRIPTOR_BASE, 0x8765_4321),
                                              (DESCRIPTOR_BASE + 10, 0x0003_0100)], 3):
            _ok(await bench.request(ctx, encode_request(
                Command.REG_WRITE, seq, index, payload=value.to_bytes(4, "little"))), seq)
            _ok(await bench.request(ctx, encode_request(Command.REG_READ, seq + 10, index)),
                seq + 10, value.to_bytes(4, "little"))
        assert ctx.get(bench.link.counters[Status.OK]) == 6
        assert bench.memory.bursts == []

    bench.run(testbench)


@pytest.mark.parametrize("data_bytes", [32, 8])
def test_memory_writes_and_reads_at_any_alignment(data_bytes):
    bench = LinkBench(data_bytes=data_bytes, seed=data_bytes)
    rng = random.Random(5)
    # (address, length): unaligned starts and ends, single bytes, a 4 KB page crossing and
    # MAX_PAYLOAD (unaligned, and across a page).
    cases = [(0x101, 1), (0x23, 3), (0x2FE, 37), (0x0FF0, 40), (0x1F83, MAX_PAYLOAD),
             (0x2200, MAX_PAYLOAD)]

    async def testbench(ctx):
        for seq, (address, length) in enumerate(cases):
            data = rng.randbytes(length)
            expected = bytearray(bench.memory.memory)
            expected[address:address + length] = data
            _ok(await bench.request(ctx, encode_request(Command.MEM_WRITE, seq, address,
                                                        payload=data), gap=1), seq)
            assert bench.memory.memory == expected, f"write of {length} at {address:#x}"
            reply = await bench.request(ctx, encode_request(Command.MEM_READ, 100 + seq,
                                                            address, length=length), gap=1)
            _ok(reply, 100 + seq, data)
        # The model checks every burst against the AXI rules (no 4 KB crossing, at most 16
        # beats); the transfers across 0x1000 and 0x2000 were split there.
        for kind in ("write", "read"):
            for page in (0x1000, 0x2000):
                bursts = [(a, n) for k, a, n in bench.memory.bursts if k == kind]
                assert any(a + n * data_bytes == page for a, n in bursts), (kind, page)
                assert any(a == page for a, n in bursts), (kind, page)
        assert ctx.get(bench.link.counters[Status.OK]) == 2 * len(cases)

    bench.run(testbench)


def test_rejected_frames_are_answered_counted_and_not_executed():
    bench = LinkBench(stall=0.1)

    async def testbench(ctx):
        before = bytes(bench.memory.memory)
        write = encode_request(Command.MEM_WRITE, 1, 0x40, payload=b"\x11" * 16)
        bad = bytearray(write)
        bad[-1] ^= 0x04
        reply = await bench.request(ctx, bytes(bad))
        assert (reply.status, reply.seq) == (Status.BAD_CRC, 1)
        bad = bytearray(write)
        bad[12] ^= 0xFF                        # a payload byte
        assert (await bench.request(ctx, bytes(bad))).status == Status.BAD_CRC
        # An unknown command carries no payload: the frame ends after its header.
        reply = await bench.request(ctx, encode_request(0x66, 2, 0x40))
        assert (reply.status, reply.seq, reply.payload) == (Status.BAD_COMMAND, 2, b"")
        # Lengths: a MEM_WRITE longer than the buffer is still consumed whole.
        for seq, frame in enumerate([
                encode_request(Command.MEM_WRITE, 3, 0x40, payload=b"\x22" * 300),
                encode_request(Command.MEM_WRITE, 4, 0x40, payload=b""),
                encode_request(Command.MEM_READ, 5, 0x40, length=257),
                encode_request(Command.REG_WRITE, 6, DESCRIPTOR_BASE, length=2,
                               payload=b"\x33" * 4),
                encode_request(Command.LINK_STATUS, 7, 0, length=4)], 3):
            reply = await bench.request(ctx, frame, gap=0)
            assert (reply.status, reply.seq) == (Status.BAD_LENGTH, seq), seq
        # Addresses beyond the port (14 bits) or the register bus.
        reply = await bench.request(ctx, encode_request(Command.MEM_WRITE, 8, 0x3FF0,
                                                        payload=b"\x44" * 17))
        assert reply.status == Status.BUS_ERROR
        reply = await bench.request(ctx, encode_request(Command.REG_WRITE, 9, 64,
                                                        payload=b"\x55" * 4))
        assert reply.status == Status.BUS_ERROR
        # A frame that stops arriving.
        await bench.send(ctx, encode_request(Command.MEM_WRITE, 10, 0x40,
                                             payload=b"\x66" * 8)[:12])
        reply = await bench.receive(ctx)
        assert (reply.status, reply.seq) == (Status.TIMEOUT, 10)
        await bench.send(ctx, bytes([REQUEST_SYNC]))
        reply = await bench.receive(ctx)
        assert (reply.status, reply.seq) == (Status.TIMEOUT, 0)
        assert bytes(bench.memory.memory) == before and bench.memory.bursts == []
        reply = await bench.request(ctx, encode_request(Command.REG_READ, 11,
                                                        DESCRIPTOR_BASE))
        _ok(reply, 11, b"\x00" * 4)
        # Garbage (sync-free) before a frame is skipped.
        reply = await bench.request(ctx, bytes([0x00, 0x5A, 0xFF, 0x13]) + write)
        _ok(reply, 1)
        assert bench.memory.memory[0x40:0x50] == b"\x11" * 16
        reply = await bench.request(ctx, encode_request(Command.LINK_STATUS, 12, 0))
        counts = [int.from_bytes(reply.payload[2 * i:2 * i + 2], "little")
                  for i in range(len(COUNTERS))]
        assert dict(zip((n for n, _ in COUNTERS), counts)) == {
            "frames_ok": 2, "crc_errors": 2, "bad_commands": 1, "bad_lengths": 5,
            "timeouts": 2, "bus_errors": 2, "uart_frame_errors": 0, "uart_overruns": 0}
        assert [ctx.get(bench.link.counters[i]) for i in range(len(Status))] \
            == [3] + counts[1:len(Status)]

    bench.run(testbench)


def test_an_error_response_is_a_bus_error():
    bench = LinkBench(stall=0.2)
    bench.memory.errors = {0x1000}

    async def testbench(ctx):
        # Two bursts (4 KB page): the first one's SLVERR stops the second.
        reply = await bench.request(ctx, encode_request(Command.MEM_WRITE, 1, 0x0FF0,
                                                        payload=b"\x77" * 64))
        assert (reply.status, reply.payload) == (Status.BUS_ERROR, b"")
        assert [kind for kind, *_ in bench.memory.bursts] == ["write", "write"]
        reply = await bench.request(ctx, encode_request(Command.MEM_READ, 2, 0x1010,
                                                        length=8))
        assert (reply.status, reply.payload) == (Status.BUS_ERROR, b"")
        _ok(await bench.request(ctx, encode_request(Command.MEM_READ, 3, 0x0FF0, length=16)),
            3, b"\x77" * 16)
        assert ctx.get(bench.link.counters[Status.BUS_ERROR]) == 2

    bench.run(testbench)


def test_uart_end_to_end():
    divisor = 4
    m = Module()
    m.submodules.link = link = HostLinkUART(divisor=divisor, data_bytes=16,
                                            addr_width=ADDR_WIDTH)
    m.submodules.registers = registers = RegisterFile(config_word=CONFIG_WORD)
    m.submodules.host_tx = host_tx = UARTTransmitter(divisor=divisor)
    m.submodules.host_rx = host_rx = UARTReceiver(divisor=divisor)
    wiring.connect(m, link.bus, registers.bus)
    m.d.comb += [link.rx.eq(host_tx.tx), host_rx.rx.eq(link.tx)]
    memory = AXIMemory(link.m_axi, link.axi_signature, MEMORY_BYTES)

    async def exchange(ctx, frame):
        for byte in frame:
            ctx.set(host_tx.bytes.payload, byte)
            ctx.set(host_tx.bytes.valid, 1)
            await ctx.tick().until(host_tx.bytes.ready)
        ctx.set(host_tx.bytes.valid, 0)
        decoder = ReplyDecoder()
        ctx.set(host_rx.bytes.ready, 1)
        for _ in range(100 * 10 * divisor):
            _, _, valid, payload = await ctx.tick().sample(host_rx.bytes.valid,
                                                           host_rx.bytes.payload)
            if valid:
                replies = decoder.feed(bytes([payload]))
                if replies:
                    return replies[0]
        raise AssertionError("no reply")

    async def testbench(ctx):
        _ok(await exchange(ctx, encode_request(Command.REG_READ, 1, Reg.ID)), 1,
            MAGIC.to_bytes(4, "little"))
        _ok(await exchange(ctx, encode_request(Command.MEM_WRITE, 2, 0x0FFD,
                                               payload=b"openmxu")), 2)
        _ok(await exchange(ctx, encode_request(Command.MEM_READ, 3, 0x0FFC, length=9)), 3,
            bytes([memory.memory[0xFFC]]) + b"openmxu" + bytes([memory.memory[0x1004]]))
        reply = await exchange(ctx, encode_request(Command.LINK_STATUS, 4, 0))
        assert reply.payload[:2] == (3).to_bytes(2, "little")

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(memory.run, background=True)
    sim.add_testbench(testbench)
    sim.run()


class SimPort:
    """A pyserial-like port onto a HostLink in amaranth.sim: ``read`` advances the simulation
    until the bytes are there or ``timeout_cycles`` have passed."""

    def __init__(self, bench, *, timeout_cycles=4000):
        self.bench = bench
        self.timeout = timeout_cycles
        self.to_board = deque()
        self.from_board = deque()
        self.sim = Simulator(bench.top)
        self.sim.add_clock(1e-8)
        self.sim.add_testbench(bench.memory.run, background=True)
        self.sim.add_testbench(self._feed, background=True)
        self.sim.add_testbench(self._collect, background=True)
        self.cycles = 0

    async def _feed(self, ctx):
        rx = self.bench.link.rx
        while True:
            if self.to_board:
                ctx.set(rx.payload, self.to_board[0])
                ctx.set(rx.valid, 1)
                _, _, ready = await ctx.tick().sample(rx.ready)
                if ready:
                    self.to_board.popleft()
                    ctx.set(rx.valid, 0)
            else:
                await ctx.tick()

    async def _collect(self, ctx):
        tx = self.bench.link.tx
        ctx.set(tx.ready, 1)
        while True:
            self.cycles += 1
            _, _, valid, payload = await ctx.tick().sample(tx.valid, tx.payload)
            if valid:
                self.from_board.append(payload)

    def write(self, data):
        self.to_board.extend(data)

    def read(self, n):
        start = self.cycles
        while len(self.from_board) < n and self.cycles - start < self.timeout:
            self.sim.advance()
        return bytes(self.from_board.popleft() for _ in range(min(n, len(self.from_board))))


def test_the_client_against_the_rtl():
    bench = LinkBench(stall=0.1)
    port = SimPort(bench)
    link = Link(port)
    link.write_register(DESCRIPTOR_BASE + 3, 0xCAFE_F00D)
    assert link.read_register(DESCRIPTOR_BASE + 3) == 0xCAFE_F00D
    data = random.Random(9).randbytes(300)
    link.write_memory(0x0F7D, data)
    assert bench.memory.memory[0x0F7D:0x0F7D + 300] == data
    assert link.read_memory(0x0F7D, 300) == data
    # A request damaged on the way is answered BAD_CRC and sent again.
    original = port.write
    port.write = lambda frame: (original(frame[:5] + bytes([frame[5] ^ 1]) + frame[6:]),
                                setattr(port, "write", original))
    link.write_register(DESCRIPTOR_BASE, 0x40)
    assert link.retried["bad_crc"] == 1
    assert link.read_register(DESCRIPTOR_BASE) == 0x40
    status = link.status()
    assert status["frames_ok"] == 8 and status["crc_errors"] == 1
