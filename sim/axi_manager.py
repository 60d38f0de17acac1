"""A small cocotb AXI4 manager (master) model, in the style of cocotbext-axi, for the memory
system's subordinate ports (``<prefix>__awaddr``, ``<prefix>__wdata``, ... as Amaranth exports
:class:`~rtl.mem.axi.AXI4Signature` members).

Each of the five channels runs in its own coroutine:

* **AW, W, AR** present their beats with random gaps (``valid_gap``: the probability that a
  channel leaves VALID low in a cycle where it has something to send); once VALID is high the
  payload holds until the handshake, as AXI requires. W data may lead its AW (AXI allows
  it): a burst's W beats start once the burst is admitted, which may be before its AW is
  accepted.
* **R, B** drop READY at random (``ready_gap``).

At most ``max_reads`` read and ``max_writes`` write bursts are outstanding (admitted and not
yet answered); more wait in a queue. The API::

    resp = await manager.write(address, data, id=1)             # BRESP
    data, resp = await manager.read(address, length, id=2)      # bytes, worst RRESP
    txn = manager.start_write(...); txn = manager.start_read(...)   # non-blocking
    resp = await txn.wait()

Every transaction records its handshake cycles (:class:`AxiTransaction`): the AW/AR
handshake, each W beat, each R beat (and the cycle it first became valid) and B. A cycle is
the number of the rising clock edge at which the event happens (``ceil(time / period)``), so
differences are clock cycles; an R beat valid ``L`` cycles after the AR handshake, with READY
high, has ``r_beats[0].cycle - address_cycle == L``.

The manager checks the AXI rules of the subordinate side it sees and fails (raises
:class:`AxiProtocolError` in the channel's coroutine, which fails the cocotb test, and keeps
the message in :attr:`AxiManager.errors`) when one is broken:

* an R beat or a B response carries an ID with no burst outstanding;
* RLAST is set on exactly the last beat (``ARLEN + 1``) of each burst;
* responses of one ID come back in issue order (each response is matched with the oldest
  outstanding burst of its ID, so any other order shows as wrong data, a wrong beat count or
  a wrong RLAST);
* B comes only after the burst's last W beat and its AW;
* RVALID/BVALID and their payloads hold while READY is low.

Signals are driven on the falling clock edge and sampled in the read-only phase after it
(as :mod:`sim.stream` does): VALID and READY high there mean a transfer at the next rising
edge.
"""

import random
from collections import deque
from dataclasses import dataclass, field

import cocotb
from cocotb.triggers import Event, FallingEdge, ReadOnly
from cocotb.utils import get_sim_time

from rtl.mem.axi import Burst, Response

__all__ = ["AxiManager", "AxiTransaction", "AxiProtocolError", "RBeat", "Burst", "Response",
           "beat_addresses", "byte_lanes"]


class AxiProtocolError(AssertionError):
    """The subordinate broke an AXI rule the manager checks."""


def _code(burst):
    """The AxBURST encoding of a :class:`Burst` or an ``int``."""
    return burst.value if isinstance(burst, Burst) else int(burst)


def beat_addresses(address, beats, size, burst):
    """The address of every beat of a burst, as the AXI specification defines them (A3.4.2):
    INCR steps from the aligned start, FIXED repeats the start, WRAP wraps at the burst's
    total size."""
    nbytes = 1 << size
    aligned = address & ~(nbytes - 1)
    burst = _code(burst)
    if burst == Burst.FIXED.value:
        return [address] * beats
    if burst == Burst.WRAP.value:
        total = nbytes * beats
        lower = (address // total) * total
        return [address] + [lower + (aligned - lower + i * nbytes) % total
                            for i in range(1, beats)]
    # INCR (and the reserved encoding, which a subordinate must reject anyway).
    return [address] + [aligned + i * nbytes for i in range(1, beats)]


def byte_lanes(address, size, data_bytes):
    """The byte lanes a beat at ``address`` of ``2**size`` bytes uses on a bus of
    ``data_bytes`` bytes (an unaligned first beat uses fewer)."""
    nbytes = 1 << size
    lower = address % data_bytes
    upper = (address & ~(nbytes - 1)) % data_bytes + nbytes - 1
    return range(lower, min(upper, data_bytes - 1) + 1)


def _beat_count(address, length, size, burst, data_bytes):
    """Beats needed to move ``length`` bytes from ``address`` (at least one)."""
    nbytes = min(1 << size, data_bytes)
    if length <= 0:
        return 1
    if _code(burst) == Burst.WRAP.value:
        return -(-length // nbytes)
    first = len(byte_lanes(address, size, data_bytes))
    if length <= first:
        return 1
    # Later beats are aligned (INCR) or repeat the first beat's lanes (FIXED).
    step = first if _code(burst) == Burst.FIXED.value else nbytes
    return 1 + -(-(length - first) // step)


@dataclass
class RBeat:
    """One R beat as it was taken: the handshake cycle, the cycle RVALID rose for it, the
    data, RRESP and RLAST."""
    cycle: int
    valid_cycle: int
    data: int
    resp: Response
    last: bool


@dataclass(eq=False)
class AxiTransaction:
    """One burst and what happened to it (cycles as defined in the module documentation)."""

    kind: str                    # "read" or "write"
    address: int
    id: int
    len: int                     # AxLEN: beats - 1
    size: int
    burst: int
    length: int                  # bytes asked for (read) or given (write)
    queued: int                  # cycle start_read/start_write was called
    wbeats: list = field(default_factory=list)   # write: (WDATA, WSTRB) per beat
    address_cycle: int = None    # AW/AR handshake
    admitted_cycle: int = None   # took an outstanding slot (AxVALID may rise from here)
    w_cycles: list = field(default_factory=list)
    r_beats: list = field(default_factory=list)
    b_cycle: int = None
    resp: Response = None        # BRESP, or the worst RRESP
    data: bytes = None           # read: the bytes asked for
    on_done: object = None
    done: Event = field(default_factory=Event)

    @property
    def beats(self):
        return self.len + 1

    @property
    def complete(self):
        return self.done.is_set()

    @property
    def first_cycle(self):
        """First R beat's handshake (read) or B (write)."""
        return self.r_beats[0].cycle if self.kind == "read" else self.b_cycle

    @property
    def last_cycle(self):
        """Last R beat's handshake (read) or B (write)."""
        return self.r_beats[-1].cycle if self.kind == "read" else self.b_cycle

    @property
    def latency(self):
        """Cycles from the address handshake to the last R beat or to B."""
        return self.last_cycle - self.address_cycle

    @property
    def first_valid_latency(self):
        """Read: cycles from the AR handshake to the first RVALID of this burst."""
        return self.r_beats[0].valid_cycle - self.address_cycle

    @property
    def beat_resps(self):
        return [beat.resp for beat in self.r_beats]

    async def wait(self):
        """The result once the burst is answered: BRESP, or ``(data, resp)`` for a read."""
        await self.done.wait()
        return self.result()

    def result(self):
        return (self.data, self.resp) if self.kind == "read" else self.resp

    def __repr__(self):
        return (f"<{self.kind} id={self.id} addr={self.address:#x} len={self.len} "
                f"size={self.size} burst={self.burst} resp={self.resp} "
                f"addr_cycle={self.address_cycle} last_cycle="
                f"{self.last_cycle if self.complete else None}>")


def _worst(resps):
    """The most severe response (DECERR > SLVERR > EXOKAY > OKAY)."""
    order = [Response.OKAY, Response.EXOKAY, Response.SLVERR, Response.DECERR]
    return max(resps, key=order.index)


class AxiManager:
    """Drives one AXI4 subordinate port of ``dut`` named ``prefix`` (e.g. ``"s_axi__0"``).

    Parameters
    ----------
    dut, prefix
        The top level and the port's signal prefix (signals ``<prefix>__<name>``).
    clock
        The clock signal.
    valid_gap : float
        Probability that AW, W or AR keeps VALID low in a cycle it could send in.
    ready_gap : float
        Probability that R or B keeps READY low in a cycle.
    max_reads, max_writes : int
        Bursts outstanding per direction (admitted, not yet answered).
    seed : int
        Seed of the gaps and of the garbage on idle payloads.
    period_ps : int
        The clock period (cycles are counted from simulation time).
    """

    CHANNEL_SIGNALS = {
        "aw": ("awid", "awaddr", "awlen", "awsize", "awburst", "awvalid", "awready"),
        "w": ("wdata", "wstrb", "wlast", "wvalid", "wready"),
        "b": ("bid", "bresp", "bvalid", "bready"),
        "ar": ("arid", "araddr", "arlen", "arsize", "arburst", "arvalid", "arready"),
        "r": ("rid", "rdata", "rresp", "rlast", "rvalid", "rready"),
    }
    #: The signals a manager drives (inputs of the subordinate).
    OUTPUTS = ("awid", "awaddr", "awlen", "awsize", "awburst", "awvalid", "wdata", "wstrb",
               "wlast", "wvalid", "bready", "arid", "araddr", "arlen", "arsize", "arburst",
               "arvalid", "rready")

    def __init__(self, dut, prefix, clock, *, valid_gap=0.0, ready_gap=0.0, max_reads=8,
                 max_writes=8, seed=0, period_ps=1000, name=None):
        self.dut, self.prefix, self.clock = dut, prefix, clock
        self.name = name or prefix
        self.valid_gap, self.ready_gap = valid_gap, ready_gap
        self.max_reads, self.max_writes = max_reads, max_writes
        self.period_ps = period_ps
        self.rng = random.Random(seed)
        self.s = {}
        for names in self.CHANNEL_SIGNALS.values():
            for signal in names:
                self.s[signal] = getattr(dut, f"{prefix}__{signal}")
        self.data_bytes = len(self.s["wdata"]) // 8
        self.size = self.data_bytes.bit_length() - 1
        self.addr_width = len(self.s["awaddr"])
        self.id_width = len(self.s["awid"])
        self.errors = []
        self.transactions = []          # every transaction, in the order started
        self._aw_queue, self._ar_queue = deque(), deque()
        self._w_queue = deque()
        self._reads = {}                # id -> deque of AR-accepted reads, in AR order
        self._writes = {}               # id -> deque of AW-accepted writes, in AW order
        self.reads_in_flight = self.writes_in_flight = 0
        self._wake = {name: Event() for name in ("aw", "w", "ar")}
        for signal in self.OUTPUTS:
            self.s[signal].value = 0
        self._tasks = [cocotb.start_soon(coroutine) for coroutine in (
            self._address_channel("aw", self._aw_queue, "write"),
            self._w_channel(),
            self._address_channel("ar", self._ar_queue, "read"),
            self._r_channel(),
            self._b_channel())]

    # Time ----------------------------------------------------------------------------------

    def now(self):
        """The number of the next rising edge at or after the current time."""
        return -(-int(get_sim_time("ps")) // self.period_ps)

    # API -----------------------------------------------------------------------------------

    @property
    def idle(self):
        """No burst queued or outstanding."""
        return (not self._aw_queue and not self._ar_queue and not self.reads_in_flight
                and not self.writes_in_flight)

    @property
    def pending(self):
        """Bursts queued or outstanding."""
        return (len(self._aw_queue) + len(self._ar_queue) + self.reads_in_flight
                + self.writes_in_flight)

    @property
    def pending_reads(self):
        """Read bursts queued or outstanding."""
        return len(self._ar_queue) + self.reads_in_flight

    @property
    def pending_writes(self):
        """Write bursts queued or outstanding."""
        return len(self._aw_queue) + self.writes_in_flight

    def _check_fields(self, address, id, burst, size):
        if not 0 <= address < 1 << self.addr_width:
            raise ValueError(f"address {address:#x} does not fit {self.addr_width} bits")
        if not 0 <= id < 1 << self.id_width:
            raise ValueError(f"id {id} does not fit {self.id_width} bits")
        size = self.size if size is None else size
        return _code(burst), size

    def start_write(self, address, data, *, id=0, burst=Burst.INCR, size=None,
                    byte_enable=None, beats=None, on_done=None):
        """Queue a write burst of ``data`` from ``address``; returns its
        :class:`AxiTransaction` at once.

        ``byte_enable`` (one truth value per byte of ``data``) clears WSTRB bits of the bytes
        not to write. ``beats`` forces the beat count (e.g. more than the data needs: the
        extra beats carry no strobes). ``on_done(txn)`` is called when B arrives (in the
        read-only phase: it must not drive signals).
        """
        burst, size = self._check_fields(address, id, burst, size)
        data = bytes(data)
        if byte_enable is not None and len(byte_enable) != len(data):
            raise ValueError("byte_enable needs one entry per data byte")
        count = beats or _beat_count(address, len(data), size, burst, self.data_bytes)
        if not 1 <= count <= 256:
            raise ValueError(f"{count} beats is outside 1..256")
        wbeats, index = [], 0
        for addr in beat_addresses(address, count, size, burst):
            word = strobe = 0
            for lane in byte_lanes(addr, size, self.data_bytes):
                if index < len(data):
                    word |= data[index] << (8 * lane)
                    if byte_enable is None or byte_enable[index]:
                        strobe |= 1 << lane
                    index += 1
            wbeats.append((word, strobe))
        txn = AxiTransaction("write", address, id, count - 1, size, burst, len(data),
                             queued=self.now(), wbeats=wbeats, on_done=on_done)
        self.transactions.append(txn)
        self._aw_queue.append(txn)
        self._wake["aw"].set()
        return txn

    def start_read(self, address, length, *, id=0, burst=Burst.INCR, size=None, beats=None,
                   on_done=None):
        """Queue a read burst of ``length`` bytes from ``address``; returns its
        :class:`AxiTransaction` at once (``on_done`` as for :meth:`start_write`)."""
        burst, size = self._check_fields(address, id, burst, size)
        count = beats or _beat_count(address, length, size, burst, self.data_bytes)
        if not 1 <= count <= 256:
            raise ValueError(f"{count} beats is outside 1..256")
        txn = AxiTransaction("read", address, id, count - 1, size, burst, length,
                             queued=self.now(), on_done=on_done)
        self.transactions.append(txn)
        self._ar_queue.append(txn)
        self._wake["ar"].set()
        return txn

    async def write(self, address, data, **kwargs):
        """Write and wait for B; returns BRESP."""
        return await self.start_write(address, data, **kwargs).wait()

    async def read(self, address, length, **kwargs):
        """Read and wait for the last beat; returns ``(bytes, resp)`` with the worst RRESP."""
        return await self.start_read(address, length, **kwargs).wait()

    def stop(self):
        for task in self._tasks:
            task.cancel()

    # Checks --------------------------------------------------------------------------------

    def _fail(self, message):
        message = f"{self.name}: {message}"
        self.errors.append(message)
        raise AxiProtocolError(message)

    # Drivers -------------------------------------------------------------------------------

    def _garbage(self, names):
        for name in names:
            self.s[name].value = self.rng.getrandbits(len(self.s[name]))

    async def _address_channel(self, ch, queue, kind):
        s, rng = self.s, self.rng
        valid, ready = s[f"{ch}valid"], s[f"{ch}ready"]
        fields = [f"{ch}id", f"{ch}addr", f"{ch}len", f"{ch}size", f"{ch}burst"]
        wake = self._wake[ch]
        limit = self.max_writes if kind == "write" else self.max_reads
        presenting = None
        while True:
            await FallingEdge(self.clock)
            if presenting is None:
                in_flight = self.writes_in_flight if kind == "write" else self.reads_in_flight
                if not queue or in_flight >= limit:
                    valid.value = 0
                    self._garbage(fields)
                    wake.clear()
                    await wake.wait()
                    continue
                if rng.random() < self.valid_gap:
                    valid.value = 0
                    continue
                presenting = queue.popleft()
                presenting.admitted_cycle = self.now()
                if kind == "write":
                    self.writes_in_flight += 1
                    self._w_queue.append(presenting)
                    self._wake["w"].set()
                else:
                    self.reads_in_flight += 1
                for name, value in zip(fields, (presenting.id, presenting.address,
                                                presenting.len, presenting.size,
                                                presenting.burst)):
                    s[name].value = value
                valid.value = 1
            await ReadOnly()
            if int(ready.value):
                presenting.address_cycle = self.now()
                table = self._writes if kind == "write" else self._reads
                table.setdefault(presenting.id, deque()).append(presenting)
                presenting = None

    async def _w_channel(self):
        s, rng = self.s, self.rng
        valid, ready = s["wvalid"], s["wready"]
        wake = self._wake["w"]
        presenting = False
        beat = 0
        while True:
            await FallingEdge(self.clock)
            if not presenting:
                if not self._w_queue:
                    valid.value = 0
                    self._garbage(("wdata", "wstrb", "wlast"))
                    wake.clear()
                    await wake.wait()
                    continue
                if rng.random() < self.valid_gap:
                    valid.value = 0
                    continue
                txn = self._w_queue[0]
                word, strobe = txn.wbeats[beat]
                s["wdata"].value = word
                s["wstrb"].value = strobe
                s["wlast"].value = int(beat == txn.len)
                valid.value = 1
                presenting = True
            await ReadOnly()
            if int(ready.value):
                txn = self._w_queue[0]
                txn.w_cycles.append(self.now())
                presenting = False
                beat += 1
                if beat == txn.beats:
                    self._w_queue.popleft()
                    beat = 0

    async def _r_channel(self):
        s, rng = self.s, self.rng
        valid, ready = s["rvalid"], s["rready"]
        held = None             # payload shown with RREADY low in the previous cycle
        valid_since = None
        while True:
            await FallingEdge(self.clock)
            taking = rng.random() >= self.ready_gap
            ready.value = int(taking)
            await ReadOnly()
            if not int(valid.value):
                if held is not None:
                    self._fail(f"RVALID dropped without a handshake (beat {held})")
                continue
            now = self.now()
            if valid_since is None:
                valid_since = now
            payload = (int(s["rid"].value), int(s["rdata"].value), int(s["rresp"].value),
                       int(s["rlast"].value))
            if held is not None and payload != held:
                self._fail(f"R payload changed while RREADY was low: {held} -> {payload}")
            if not taking:
                held = payload
                continue
            held = None
            rid, rdata, rresp, rlast = payload
            pending = self._reads.get(rid)
            if not pending:
                self._fail(f"R beat with RID {rid} at cycle {now}: no read of that ID is "
                           f"outstanding")
            txn = pending[0]
            txn.r_beats.append(RBeat(now, valid_since, rdata, Response(rresp), bool(rlast)))
            valid_since = None
            last = len(txn.r_beats) == txn.beats
            if bool(rlast) != last:
                self._fail(f"RLAST {rlast} on beat {len(txn.r_beats)} of {txn.beats} of {txn}")
            if last:
                pending.popleft()
                self._finish_read(txn)

    def _finish_read(self, txn):
        data = bytearray()
        addresses = beat_addresses(txn.address, txn.beats, txn.size, txn.burst)
        for addr, beat in zip(addresses, txn.r_beats):
            for lane in byte_lanes(addr, txn.size, self.data_bytes):
                if len(data) < txn.length:
                    data.append(beat.data >> (8 * lane) & 0xFF)
        txn.data = bytes(data)
        txn.resp = _worst(txn.beat_resps)
        self.reads_in_flight -= 1
        self._wake["ar"].set()
        txn.done.set()
        if txn.on_done is not None:
            txn.on_done(txn)

    async def _b_channel(self):
        s, rng = self.s, self.rng
        valid, ready = s["bvalid"], s["bready"]
        held = None
        while True:
            await FallingEdge(self.clock)
            taking = rng.random() >= self.ready_gap
            ready.value = int(taking)
            await ReadOnly()
            if not int(valid.value):
                if held is not None:
                    self._fail(f"BVALID dropped without a handshake (response {held})")
                continue
            payload = (int(s["bid"].value), int(s["bresp"].value))
            if held is not None and payload != held:
                self._fail(f"B payload changed while BREADY was low: {held} -> {payload}")
            if not taking:
                held = payload
                continue
            held = None
            now = self.now()
            bid, bresp = payload
            pending = self._writes.get(bid)
            if not pending:
                self._fail(f"B with BID {bid} at cycle {now}: no write of that ID is "
                           f"outstanding")
            txn = pending[0]
            if len(txn.w_cycles) != txn.beats:
                self._fail(f"B for {txn} at cycle {now} before its last W beat "
                           f"({len(txn.w_cycles)} of {txn.beats} taken)")
            pending.popleft()
            txn.b_cycle = now
            txn.resp = Response(bresp)
            self.writes_in_flight -= 1
            self._wake["aw"].set()
            txn.done.set()
            if txn.on_done is not None:
                txn.on_done(txn)
