"""The AXI4 interface of openmxu, defined once for the whole project.

Every AXI4 port of the memory system (the pseudo-channel ports, the interconnect, the DMA
engines and the host bridge) uses :class:`AXI4Signature`. Its members carry the standard AXI4
signal names and are flat, so a component port ``s_axi = In(AXI4Signature(...))`` exports to
Verilog as ``s_axi__awaddr``, ``s_axi__awvalid``, ... and a cocotb testbench binds it with
``AxiBus.from_prefix(dut, "s_axi", bus_separator="__")`` (cocotbext-axi).

What an openmxu subordinate (a pseudo-channel port) accepts:

* INCR bursts of 1 to :data:`MAX_BURST_BEATS` (16) beats of the full data width
  (``AxSIZE == signature.size``), starting at an address aligned to the beat
  (``signature.beat_bytes``) and not crossing a :data:`BOUNDARY` (4 KB) boundary.
  :func:`check_burst` is the reference for this rule; :func:`unsupported_burst` is the same
  rule as an Amaranth expression for the RTL.
* Any other burst is answered with ``SLVERR`` and has no effect: a write still takes all of
  its ``AWLEN + 1`` W beats (up to 256) and then gives one B response with ``SLVERR``, and
  memory keeps its contents; a read gives ``ARLEN + 1`` R beats with ``RRESP = SLVERR``,
  ``RDATA = 0`` and ``RLAST`` on the last. (The AXI rule that every burst completes with its
  full beat count holds for rejected bursts too, so a manager never hangs.)
* ``WSTRB`` is honoured: a set bit writes its byte, a clear bit keeps the old contents.
* Responses are in order within one ID and may be out of order across IDs.
* ``DECERR`` is given by the interconnect for an address that no subordinate decodes, not by
  a port; ``EXOKAY`` is never given (exclusive accesses are not supported).

Signals left out: ``AxLOCK``, ``AxCACHE``, ``AxPROT``, ``AxQOS``, ``AxREGION`` and the
``*USER`` signals of all five channels. openmxu has no exclusive accesses, caches, protection
domains, QoS arbitration or regions, so a subordinate would ignore them; a manager that has
them (e.g. a cocotbext-axi master) leaves them unconnected, which cocotbext-axi allows, and
behaves as with ``AxLOCK = 0`` (normal access), ``AxCACHE = 0``, ``AxPROT = 0``,
``AxQOS = 0`` and ``AxREGION = 0``.
"""

import operator

from amaranth import Value
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from openmxu.config import check_int

__all__ = ["AXI4Signature", "Burst", "Response", "CHANNELS", "MAX_BURST_BEATS", "BOUNDARY",
           "check_burst", "burst_problem", "unsupported_burst"]


#: Longest burst an openmxu subordinate accepts, in beats (AXI4 allows 256 for INCR).
MAX_BURST_BEATS = 16

#: AXI bursts must not cross a boundary of this many bytes (4 KB).
BOUNDARY = 4096

#: Widths of the fixed-width AXI4 fields.
LEN_WIDTH, SIZE_WIDTH, BURST_WIDTH, RESP_WIDTH = 8, 3, 2, 2

#: The five channels of an :class:`AXI4Signature`:
#: ``name: (valid, ready, payload members, flows from the manager)``.
CHANNELS = {
    "aw": ("awvalid", "awready", ("awid", "awaddr", "awlen", "awsize", "awburst"), True),
    "w": ("wvalid", "wready", ("wdata", "wstrb", "wlast"), True),
    "ar": ("arvalid", "arready", ("arid", "araddr", "arlen", "arsize", "arburst"), True),
    "r": ("rvalid", "rready", ("rid", "rdata", "rresp", "rlast"), False),
    "b": ("bvalid", "bready", ("bid", "bresp"), False),
}


class Burst(enum.Enum, shape=BURST_WIDTH):
    """``AWBURST``/``ARBURST``. openmxu supports ``INCR`` only; the encoding 3 is reserved."""
    FIXED = 0
    INCR = 1
    WRAP = 2


class Response(enum.Enum, shape=RESP_WIDTH):
    """``BRESP``/``RRESP``. openmxu gives ``OKAY``, ``SLVERR`` (unsupported burst) and
    ``DECERR`` (no subordinate at the address); never ``EXOKAY``."""
    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


class AXI4Signature(wiring.Signature):
    """An AXI4 port, seen from the manager (master) side.

    A manager has ``Out(AXI4Signature(...))`` ports, a subordinate ``In(AXI4Signature(...))``
    ports. Two signatures are equal when their three widths are, so ``wiring.connect`` joins
    any manager and subordinate built with the same parameters.

    Parameters
    ----------
    addr_width : int
        Width of ``AWADDR``/``ARADDR`` (byte addresses), 12 to 64.
    data_width : int
        Width of ``WDATA``/``RDATA``, a power of two from 8 to 1024.
    id_width : int
        Width of ``AWID``, ``BID``, ``ARID`` and ``RID``, 4 to 16.

    Members
    -------
    Write address channel:
    ``awid`` (``Out(id_width)``), ``awaddr`` (``Out(addr_width)``), ``awlen`` (``Out(8)``,
    beats - 1), ``awsize`` (``Out(3)``, log2 bytes per beat), ``awburst`` (``Out(Burst)``),
    ``awvalid`` (``Out(1)``), ``awready`` (``In(1)``).

    Write data channel:
    ``wdata`` (``Out(data_width)``), ``wstrb`` (``Out(data_width // 8)``, a set bit writes its
    byte), ``wlast`` (``Out(1)``), ``wvalid`` (``Out(1)``), ``wready`` (``In(1)``).

    Write response channel:
    ``bid`` (``In(id_width)``), ``bresp`` (``In(Response)``), ``bvalid`` (``In(1)``),
    ``bready`` (``Out(1)``).

    Read address channel:
    ``arid``, ``araddr``, ``arlen``, ``arsize``, ``arburst``, ``arvalid`` (``Out``, widths as
    on the write address channel), ``arready`` (``In(1)``).

    Read data channel:
    ``rid`` (``In(id_width)``), ``rdata`` (``In(data_width)``), ``rresp`` (``In(Response)``),
    ``rlast`` (``In(1)``), ``rvalid`` (``In(1)``), ``rready`` (``Out(1)``).
    """

    def __init__(self, *, addr_width, data_width, id_width):
        check_int("addr_width", addr_width, 12, 64)
        check_int("data_width", data_width, 8, 1024)
        if data_width & (data_width - 1):
            raise ValueError(f"data_width must be a power of two between 8 and 1024, "
                             f"not {data_width}")
        check_int("id_width", id_width, 4, 16)
        self._addr_width, self._data_width, self._id_width = addr_width, data_width, id_width
        super().__init__({
            "awid": Out(id_width),
            "awaddr": Out(addr_width),
            "awlen": Out(LEN_WIDTH),
            "awsize": Out(SIZE_WIDTH),
            "awburst": Out(Burst),
            "awvalid": Out(1),
            "awready": In(1),

            "wdata": Out(data_width),
            "wstrb": Out(data_width // 8),
            "wlast": Out(1),
            "wvalid": Out(1),
            "wready": In(1),

            "bid": In(id_width),
            "bresp": In(Response),
            "bvalid": In(1),
            "bready": Out(1),

            "arid": Out(id_width),
            "araddr": Out(addr_width),
            "arlen": Out(LEN_WIDTH),
            "arsize": Out(SIZE_WIDTH),
            "arburst": Out(Burst),
            "arvalid": Out(1),
            "arready": In(1),

            "rid": In(id_width),
            "rdata": In(data_width),
            "rresp": In(Response),
            "rlast": In(1),
            "rvalid": In(1),
            "rready": Out(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def data_width(self):
        return self._data_width

    @property
    def id_width(self):
        return self._id_width

    @property
    def strobe_width(self):
        """Width of ``WSTRB``: one bit per byte of ``WDATA``."""
        return self._data_width // 8

    @property
    def beat_bytes(self):
        """Bytes per full-width beat."""
        return self._data_width // 8

    @property
    def size(self):
        """``log2(beat_bytes)``: the only ``AWSIZE``/``ARSIZE`` openmxu accepts (full-width
        beats)."""
        return (self._data_width // 8).bit_length() - 1

    def _params(self):
        return (self._addr_width, self._data_width, self._id_width)

    def __eq__(self, other):
        return type(other) is AXI4Signature and self._params() == other._params()

    def __hash__(self):
        return hash((AXI4Signature, self._params()))

    def __repr__(self):
        return (f"AXI4Signature(addr_width={self._addr_width}, data_width={self._data_width}, "
                f"id_width={self._id_width})")


def _field(name, value, width):
    """``value`` as an ``int`` that fits an AXI field of ``width`` bits."""
    if not isinstance(value, bool):
        try:
            value = operator.index(value)  # numpy integers, as the driver may compute them
        except TypeError:
            pass
    check_int(name, value, 0, (1 << width) - 1)
    return value


def burst_problem(addr, len_, size, burst, *, signature):
    """Why an openmxu subordinate rejects a burst, or ``None`` when it accepts it.

    Same arguments as :func:`check_burst`; the reason is a short text for error messages of
    testbenches and the driver. When several rules are broken, the first in :func:`check_burst`'s
    list is named.
    """
    if not isinstance(signature, AXI4Signature):
        raise ValueError(f"signature must be an AXI4Signature, not {signature!r}")
    addr = _field("addr", addr, signature.addr_width)
    len_ = _field("len_", len_, LEN_WIDTH)
    size = _field("size", size, SIZE_WIDTH)
    if not isinstance(burst, Burst):
        burst = _field("burst", burst, BURST_WIDTH)
        burst = Burst(burst) if burst in (b.value for b in Burst) else burst
    beats = len_ + 1

    if burst is not Burst.INCR:
        name = burst.name if isinstance(burst, Burst) else f"reserved ({burst})"
        return f"burst type {name} is not supported (only INCR)"
    if size != signature.size:
        return (f"size {size} ({1 << size} bytes per beat) is not the full width "
                f"{signature.size} ({signature.beat_bytes} bytes per beat)")
    if beats > MAX_BURST_BEATS:
        return f"{beats} beats is more than {MAX_BURST_BEATS}"
    if addr % signature.beat_bytes:
        return (f"address {addr:#x} is not aligned to the beat size of "
                f"{signature.beat_bytes} bytes")
    if addr % BOUNDARY + beats * signature.beat_bytes > BOUNDARY:
        return (f"{beats} beats of {signature.beat_bytes} bytes from {addr:#x} cross a "
                f"{BOUNDARY}-byte boundary")
    return None


def check_burst(addr, len_, size, burst, *, signature):
    """The response an openmxu subordinate must give for a burst it does not support, or
    ``None`` when it supports the burst (and then answers ``OKAY``, barring a ``DECERR`` from
    the interconnect for an unmapped address).

    This is the single reference shared by the RTL port (through :func:`unsupported_burst`,
    which the tests check against this function), the testbench models and the driver.

    Parameters
    ----------
    addr : int
        ``AWADDR``/``ARADDR``: the start byte address, ``0`` to ``2**addr_width - 1``.
    len_ : int
        ``AWLEN``/``ARLEN`` as on the wire: the number of beats **minus one**, 0 to 255.
    size : int
        ``AWSIZE``/``ARSIZE``: log2 of the bytes per beat, 0 to 7.
    burst : Burst or int
        ``AWBURST``/``ARBURST``, 0 to 3 (3 is reserved).
    signature : AXI4Signature
        The port's signature (flipped or not), giving the data and address widths.

    Returns ``Response.SLVERR`` for each of these cases, ``None`` otherwise:

    * **burst type other than INCR**: ``FIXED``, ``WRAP`` and the reserved encoding 3;
    * **not full width**: ``size != signature.size``, i.e. a narrow burst (fewer bytes per beat
      than the data bus) or a size wider than the bus (illegal in AXI);
    * **too long**: more than :data:`MAX_BURST_BEATS` (16) beats, i.e. ``len_ > 15``;
    * **unaligned start**: ``addr`` not a multiple of ``signature.beat_bytes`` (AXI allows
      unaligned INCR starts; openmxu does not);
    * **4 KB crossing**: the burst's bytes ``addr .. addr + beats * beat_bytes - 1`` span two
      :data:`BOUNDARY` (4096-byte) pages. A burst running past the top of the address space
      is such a crossing too, since ``2**addr_width`` is a multiple of 4096.

    Raises ``ValueError`` when an argument does not fit its AXI field (it could not appear on
    the wire) or ``signature`` is not an :class:`AXI4Signature`.
    """
    if burst_problem(addr, len_, size, burst, signature=signature) is None:
        return None
    return Response.SLVERR


def unsupported_burst(addr, len_, size, burst, *, signature):
    """:func:`check_burst` in hardware: a 1-bit Amaranth value that is 1 when the burst must be
    answered with ``SLVERR``.

    ``addr``, ``len_``, ``size`` and ``burst`` are the address channel's values, e.g.
    ``unsupported_burst(bus.awaddr, bus.awlen, bus.awsize, bus.awburst,
    signature=bus.signature)``. Pure combinational logic: a few comparators and a 13-bit adder.
    """
    if not isinstance(signature, AXI4Signature):
        raise ValueError(f"signature must be an AXI4Signature, not {signature!r}")
    addr, len_ = Value.cast(addr), Value.cast(len_)
    size, burst = Value.cast(size), Value.cast(burst)
    shift = signature.size
    page_offset = addr[:BOUNDARY.bit_length() - 1]
    unaligned = addr[:shift].any() if shift else 0
    return ((burst != Burst.INCR.value)
            | (size != signature.size)
            | (len_ >= MAX_BURST_BEATS)
            | unaligned
            | (page_offset + ((len_ + 1) << shift) > BOUNDARY))
