"""cocotb drivers for Amaranth ``lib.stream`` ports (``<name>__valid``, ``__ready``,
``__payload``), with random pauses on either side.

Signals are driven on the falling clock edge and sampled once they have settled (in the
read-only phase after it); valid and ready high there mean a transfer at the next rising
edge.
"""

import random
from collections import deque

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from .packing import pack, unpack

__all__ = ["StreamSource", "StreamSink"]


def _port(dut, name, member):
    return getattr(dut, f"{name}__{member}")


class StreamSource:
    """Sends payloads on a stream input of the DUT.

    ``pause`` is the probability that the source leaves ``valid`` low in a cycle when it has
    nothing outstanding; once ``valid`` is high it stays high, with a stable payload, until
    the beat is taken, as the stream protocol requires.
    """

    def __init__(self, dut, name, layout, clock, *, pause=0.0, rng=None):
        self.valid = _port(dut, name, "valid")
        self.ready = _port(dut, name, "ready")
        self.payload = _port(dut, name, "payload")
        self.layout, self.clock = layout, clock
        self.pause, self.rng = pause, rng or random.Random(0)
        self.queue = deque()
        self.sent = self._total = 0
        self.valid.value = 0
        self._task = cocotb.start_soon(self._drive())

    @property
    def idle(self):
        return not self.queue and self.sent == self._total

    def send(self, payload):
        self._total += 1
        self.queue.append(payload)

    async def _drive(self):
        presenting = taken = False
        while True:
            await FallingEdge(self.clock)
            if taken:
                self.sent += 1
                presenting = False
            if not presenting:
                if self.queue and self.rng.random() >= self.pause:
                    self.payload.value = pack(self.layout, self.queue.popleft())
                    presenting = True
                else:
                    # Garbage on an idle payload must not matter to the DUT.
                    self.payload.value = self.rng.getrandbits(len(self.payload))
                self.valid.value = int(presenting)
            await ReadOnly()
            taken = presenting and bool(int(self.ready.value))

    def stop(self):
        self._task.cancel()


class StreamSink:
    """Takes payloads from a stream output of the DUT, dropping ``ready`` at random."""

    def __init__(self, dut, name, layout, clock, *, pause=0.0, rng=None):
        self.valid = _port(dut, name, "valid")
        self.ready = _port(dut, name, "ready")
        self.payload = _port(dut, name, "payload")
        self.layout, self.clock = layout, clock
        self.pause, self.rng = pause, rng or random.Random(1)
        self.received = []
        self.ready.value = 0
        self._task = cocotb.start_soon(self._drive())

    async def _drive(self):
        while True:
            await FallingEdge(self.clock)
            ready = self.rng.random() >= self.pause
            self.ready.value = int(ready)
            await ReadOnly()
            if ready and int(self.valid.value):
                self.received.append(unpack(self.layout, self.payload.value.to_unsigned()))

    def stop(self):
        self._task.cancel()
