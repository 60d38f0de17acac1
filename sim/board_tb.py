"""cocotb tests of a whole board path: the host driver's bytes go into the board's UART RX pin
and its answers come back on TX, through :class:`boards.soc.BoardSoC` on Verilator.

The host side is the real one: :class:`openmxu.Accelerator` with ``backend="serial"``, whose
:class:`openmxu.link.Link` talks to :class:`UARTPort`, a pyserial-like port that drives and
samples the pins bit by bit. The driver is synchronous, as with a real serial port, so it
runs in a thread (``cocotb.task.bridge``) and each port call resumes the simulation until
its bytes are sent or received.

Parameters come as JSON in ``OPENMXU_TEST_PARAMS``: ``config`` (the :class:`Config` fields),
``divisor`` (clock cycles per bit), ``memory_bytes``, ``clock_hz``, and ``cases`` for
:func:`board_matmuls`.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from openmxu import golden
from openmxu.config import Config
from openmxu.link import Command, Link, ReplyDecoder, Status, crc16, encode_request

#: Clock period of the simulation (the design's ``clock_hz`` only matters for the UART
#: divisor, which the design was built with).
PERIOD_NS = 10
#: Period of the array's own clock, when the design has one: faster than ``clk`` and not a
#: divisor of its period, so that the edges of the two clocks take every relative phase.
ARRAY_PERIOD_NS = 3.9


class UARTPort:
    """A pyserial-like port on the board's ``uart_rx``/``uart_tx`` pins (8N1, ``divisor``
    clock cycles per bit). ``timeout`` counts seconds of simulated time."""

    def __init__(self, dut, divisor, *, timeout=0.01):
        self.dut = dut
        self.divisor = divisor
        self.timeout = timeout
        self.received = bytearray()
        self.framing_errors = 0
        dut.uart_rx.value = 1
        cocotb.start_soon(self._receive_forever())

    async def _send(self, data):
        for byte in data:
            for bit in (0, *((byte >> i) & 1 for i in range(8)), 1):
                self.dut.uart_rx.value = bit
                await ClockCycles(self.dut.clk, self.divisor)

    async def _receive_forever(self):
        dut, divisor = self.dut, self.divisor
        while True:
            await FallingEdge(dut.uart_tx)
            await ClockCycles(dut.clk, divisor // 2)
            if dut.uart_tx.value != 0:
                continue  # a glitch, not a start bit
            byte = 0
            for i in range(8):
                await ClockCycles(dut.clk, divisor)
                byte |= int(dut.uart_tx.value) << i
            await ClockCycles(dut.clk, divisor)
            if dut.uart_tx.value != 1:
                self.framing_errors += 1
                continue
            self.received.append(byte)

    async def _read(self, count):
        budget = int(self.timeout * 1e9 / PERIOD_NS)
        waited = 0
        while len(self.received) < count and waited < budget:
            await ClockCycles(self.dut.clk, 8 * self.divisor)
            waited += 8 * self.divisor
        data = bytes(self.received[:count])
        del self.received[:count]
        return data

    def write(self, data):
        resume(self._send)(bytes(data))
        return len(data)

    def read(self, count=1):
        return resume(self._read)(count)

    def reset_input_buffer(self):
        self.received.clear()


async def _start(dut):
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    array_clock = hasattr(dut, "array_clk")
    if array_clock:
        cocotb.start_soon(Clock(dut.array_clk, ARRAY_PERIOD_NS, unit="ns").start())
        dut.array_rst.value = 1
    dut.uart_rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    if array_clock:
        dut.array_rst.value = 0
    await ClockCycles(dut.clk, 2)


def _params():
    params = json.loads(os.environ["OPENMXU_TEST_PARAMS"])
    fields = dict(params["config"])
    fields["address_order"] = tuple(fields["address_order"])
    return params, Config(**fields)


async def _watch_memory(dut):
    """Fail at once if the board's memory saw a timing violation."""
    await RisingEdge(dut.memory_error)
    raise AssertionError("the board's memory back-end latched a timing violation")


@cocotb.test()
async def board_matmuls(dut):
    """Matmuls through the serial backend, each checked bit-exactly against numpy."""
    from openmxu.accelerator import Accelerator
    params, config = _params()
    await _start(dut)
    cocotb.start_soon(_watch_memory(dut))
    port = UARTPort(dut, params["divisor"])

    def host():
        accelerator = Accelerator(config, backend="serial", port=port,
                                  memory_bytes=params["memory_bytes"])
        figures = []
        for case in params["cases"]:
            rng = np.random.default_rng(case["seed"])
            a, b = golden.random_operands(rng, case["m"], case["k"], case["n"])
            options = {key: case[key] for key in ("out", "scale", "shift", "relu")
                       if key in case}
            c = None
            if case.get("accumulate"):
                c = rng.integers(-2**31, 2**31, size=(case["m"], case["n"]), dtype=np.int64)
                options["c"] = c
            got = accelerator.matmul(a, b, **options)
            expected = golden.accelerator_output(a, b, **options)
            mismatches = np.argwhere(got != expected)
            assert not len(mismatches), (
                f"{case}: {len(mismatches)} mismatches, first at {mismatches[0].tolist()}: "
                f"{got[tuple(mismatches[0])]} != {expected[tuple(mismatches[0])]}")
            stats = accelerator.last_stats
            assert stats.cycles > 0 and stats.mac_active > 0, stats
            figures.append({**case, "cycles": stats.cycles,
                            "utilization": stats.utilization})
        return figures

    figures = await bridge(host)()
    assert port.framing_errors == 0
    dut._log.info("board matmuls: %s", figures)
    if "results_file" in params:
        with open(params["results_file"], "w") as f:
            json.dump(figures, f)


@cocotb.test()
async def board_rejects_bad_frames(dut):
    """A frame with a bad CRC, one with an unknown command and a truncated one each get an
    error reply, are counted, and change nothing; the link then works as before."""
    params, config = _params()
    await _start(dut)
    port = UARTPort(dut, params["divisor"])
    divisor = params["divisor"]

    async def wait(cycles):
        await ClockCycles(dut.clk, cycles)

    def host():
        link = Link(port, retries=0)
        address = 0x400
        link.write_memory(address, bytes(range(64)))
        before = link.status()

        def reply_to(frame):
            port.write(frame)
            decoder = ReplyDecoder()
            while True:
                data = port.read(decoder.needed)
                assert data, "the board did not answer"
                replies = decoder.feed(data)
                if replies:
                    return replies[0]

        write = bytearray(encode_request(Command.MEM_WRITE, 7, address, payload=b"\xff" * 16))
        write[-1] ^= 0x01
        assert reply_to(bytes(write)).status == Status.BAD_CRC
        bogus = bytearray(encode_request(Command.REG_READ, 8, 0))
        bogus[1] = 0x7E  # an unknown command under a correct CRC
        bogus[-2:] = crc16(bytes(bogus[1:-2])).to_bytes(2, "big")
        assert reply_to(bytes(bogus)).status == Status.BAD_COMMAND
        # Half a frame, then silence past the link timeout.
        port.write(encode_request(Command.MEM_WRITE, 9, address, payload=b"\xee" * 16)[:10])
        resume(wait)(params["timeout_cycles"] + 40 * divisor)
        timeout_reply = reply_to(b"")
        assert timeout_reply.status == Status.TIMEOUT, timeout_reply
        assert link.read_memory(address, 64) == bytes(range(64)), "a rejected frame wrote"
        after = link.status()
        assert after["crc_errors"] == before["crc_errors"] + 1, (before, after)
        assert after["timeouts"] == before["timeouts"] + 1, (before, after)
        assert after["bad_commands"] == before["bad_commands"] + 1, (before, after)
        return after

    counters = await bridge(host)()
    dut._log.info("link counters: %s", counters)
