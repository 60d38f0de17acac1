"""An AXI4 subordinate port of the memory system: it cuts bursts into one request per beat for
the pseudo-channels behind a global address map, and puts the answers back together.

The port follows the rules of :mod:`rtl.mem.axi`: INCR bursts of 1 to 16 full-width beats that
do not cross 4 KB are carried out; any other burst is answered with ``SLVERR`` and touches no
memory (a write still takes all ``AWLEN + 1`` W beats, a read still gives ``ARLEN + 1`` R beats
with ``RDATA = 0``). A supported burst that reaches past the capacity of the address map is
answered the same way with ``DECERR``: the port's address may be wider than the memory, and
aliasing the upper addresses would corrupt memory silently.

Every beat is one DRAM burst (the data bus is ``timing.burst_bytes`` wide), so each beat
becomes one request, addressed with the :class:`~openmxu.address_map.AddressMap`: its
``channel`` field picks the pseudo-channel, the others the bank, row and column. A burst whose
beats fall on several channels is therefore split beat by beat, and its beats meet again in
the port's read buffer or write-acknowledgement count, whatever order the channels answer in.

Several bursts are in flight in each direction (``read_bursts`` and ``write_bursts`` slots):

* **Reads.** An AR takes a free slot. The beats of the oldest slot not yet fully requested go
  out first. Read data lands in the slot's 16-beat region of the read buffer, in any order
  (the request tag is the slot and the beat), so the buffer never refuses data and the
  channels never wait on the port. A burst starts on R once its first beat is in and no older
  burst with its ID is still being answered; it then runs to ``RLAST`` without interleaving
  (beats wait for their data). Bursts with different IDs therefore complete out of order,
  bursts with one ID in order.
* **Writes.** An AW takes a free slot; W beats belong to the oldest slot whose data is not
  complete (AXI4 has no write interleaving). Each beat goes out with its data and ``WSTRB``.
  ``B`` is given once every beat has been acknowledged by its channel (the device has the
  data) and no older write burst with the same ID is waiting for its ``B``.

Reads and writes share the port's request register, alternating when both have a beat to send.
"""

from amaranth import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from openmxu.address_map import AddressMap, DEFAULT_ORDER
from ..params import check_int, validating
from .axi import AXI4Signature, Response, MAX_BURST_BEATS, unsupported_burst
from .commands import resolve_timing, timing_repr
from .controller import request_layout, response_layout
from .bits import lowest_set, onehot_index
from .counters import log2

__all__ = ["AXI4Port", "beat_request_layout", "BEAT_BITS", "MAX_SLOTS", "REQUEST_DELAY",
           "RESPONSE_DELAY"]

#: Bits of the request tag that give the beat index within the burst (0 to 15).
BEAT_BITS = (MAX_BURST_BEATS - 1).bit_length()

#: Most bursts in flight per direction.
MAX_SLOTS = 64

#: Cycles from an AR or W handshake to its first beat request being valid: the slot
#: register and the request register.
REQUEST_DELAY = 2

#: Cycles from a read response being taken to its beat being valid on R: the read buffer's
#: write and its registered read.
RESPONSE_DELAY = 2


def beat_request_layout(address_map, *, tag_width):
    """``StructLayout`` of one beat request leaving a port: the ``channel`` it goes to (1 bit,
    always 0, when there is one channel) and the controller ``request``
    (:func:`~rtl.mem.controller.request_layout`)."""
    return data.StructLayout({
        "channel": max(1, address_map.widths["channel"]),
        "request": request_layout(address_map.timing, tag_width=tag_width),
    })


class _AgeMatrix:
    """Arrival order of ``n`` slots as one bit per pair: bit ``j * n + i`` says slot ``j`` was
    filled before slot ``i``. Only meaningful between slots in use. Results are wires, so
    that expressions built on them stay small."""

    def __init__(self, m, n, name):
        self.m, self.n, self.name = m, n, name
        self.bits = Signal(n * n, name=f"{name}_older")
        self._count = 0

    def _wire(self, value, what):
        self._count += 1
        wire = Signal(self.n, name=f"{self.name}_{what}_{self._count}")
        self.m.d.comb += wire.eq(value)
        return wire

    def fill(self, slot):
        """A request fills ``slot`` this cycle: it is the youngest."""
        n = self.n
        for i in range(n):
            with self.m.If(slot == i):
                for j in range(n):
                    if j != i:
                        self.m.d.sync += [self.bits[j * n + i].eq(1),
                                          self.bits[i * n + j].eq(0)]

    def older_in(self, selected, relation=None):
        """Bit i: some slot j in ``selected`` is older than slot i (and, when given, bit i of
        ``relation[j]`` is set)."""
        n = self.n
        selected = self._wire(selected, "selected")
        result = Const(0, n)
        for j in range(n):
            row = self.bits[j * n:(j + 1) * n]
            if relation is not None:
                row = row & relation[j]
            result = result | (row & selected[j].replicate(n))
        return self._wire(result, "older")

    def oldest(self, selected):
        """One-hot: the oldest slot of ``selected`` (0 when none is)."""
        selected = self._wire(selected, "candidates")
        return selected & ~self.older_in(selected)


def _same(values, n):
    """Rows of the equality relation of ``values`` between distinct slots: bit i of row j
    says value j == value i (0 for i == j)."""
    return [Cat(*(values[i] == values[j] if i != j else Const(0, 1) for i in range(n)))
            for j in range(n)]


class AXI4Port(wiring.Component):
    """AXI4 subordinate port in front of the pseudo-channels of an address map (see the module
    documentation).

    Parameters
    ----------
    timing : TimingPreset or str
        The pseudo-channels' preset; the data bus is ``timing.burst_bytes * 8`` bits wide (at
        most 1024).
    channels : int
        Pseudo-channels behind the port's address map (a power of two, 1 to 32).
    order : tuple of str
        The address map's field order (:class:`~openmxu.address_map.AddressMap`).
    id_width : int
        Width of the AXI IDs (4 to 16).
    address_bits : int or None
        Width of ``AWADDR``/``ARADDR`` (12 to 64, at least the map's address bits). ``None``:
        the map's address bits, at least 12. Bursts reaching at or above the map's capacity
        get ``DECERR``.
    read_bursts, write_bursts : int
        Bursts in flight per direction (1 to 64). Each read slot holds a 16-beat buffer
        region.

    Members
    -------
    s_axi : ``In(AXI4Signature(addr_width=address_bits, data_width=burst_bytes * 8,
    id_width=id_width))``
        The subordinate port.
    requests : ``Out(stream.Signature(beat_request_layout(address_map, tag_width=tag_width)))``
        Beat requests. The tag is the beat index (bits 0-3) and the slot above it.
    responses : ``In(stream.Signature(response_layout(timing, tag_width=tag_width)))``
        The answer to every request, in any order (always ready).
    """

    def __init__(self, *, timing, channels=1, order=DEFAULT_ORDER, id_width=4,
                 address_bits=None, read_bursts=16, write_bursts=16):
        with validating(self):
            timing = resolve_timing(timing)
            address_map = AddressMap(timing=timing, channels=channels, order=order)
            check_int("burst_bytes", timing.burst_bytes, 1, 128,
                      extra=" (the AXI data bus is one burst wide, at most 1024 bits)")
            if address_bits is None:
                address_bits = max(12, address_map.address_bits)
            check_int("address_bits", address_bits, max(12, address_map.address_bits), 64,
                      extra=" (at least the address map's bits)")
            check_int("read_bursts", read_bursts, 1, MAX_SLOTS)
            check_int("write_bursts", write_bursts, 1, MAX_SLOTS)
            axi = AXI4Signature(addr_width=address_bits, data_width=timing.burst_bytes * 8,
                                id_width=id_width)
        self._timing = timing
        self._address_map = address_map
        self._axi = axi
        self._read_bursts = read_bursts
        self._write_bursts = write_bursts
        self._slot_bits = max(1, log2(1 << (max(read_bursts, write_bursts) - 1).bit_length()))
        super().__init__({
            "s_axi": In(axi),
            "requests": Out(stream.Signature(
                beat_request_layout(address_map, tag_width=self.tag_width))),
            "responses": In(stream.Signature(
                response_layout(timing, tag_width=self.tag_width))),
        })

    @property
    def timing(self):
        return self._timing

    @property
    def address_map(self):
        return self._address_map

    @property
    def axi_signature(self):
        return self._axi

    @property
    def capacity_bytes(self):
        return self._address_map.capacity_bytes

    @property
    def read_bursts(self):
        return self._read_bursts

    @property
    def write_bursts(self):
        return self._write_bursts

    @property
    def tag_width(self):
        """Width of the request tags: the beat index and the slot."""
        return BEAT_BITS + self._slot_bits

    def __repr__(self):
        return (f"AXI4Port(timing={timing_repr(self._timing)}, "
                f"channels={self._address_map.channels}, order={self._address_map.order!r}, "
                f"id_width={self._axi.id_width}, address_bits={self._axi.addr_width}, "
                f"read_bursts={self._read_bursts}, write_bursts={self._write_bursts})")

    def elaborate(self, platform):
        m = Module()
        axi, bus = self._axi, self.s_axi
        amap = self._address_map
        widths, shifts = amap.widths, amap.shifts
        size = axi.size
        slot_bits = self._slot_bits
        layout = beat_request_layout(amap, tag_width=self.tag_width)

        def field(address, name):
            return address[shifts[name]:shifts[name] + widths[name]]

        def classify(addr, len_, burst_size, burst):
            """The response a burst gets: the axi.py rules first, then the capacity."""
            end = addr + ((len_ + 1) << size)    # one past the burst's last byte
            return Mux(unsupported_burst(addr, len_, burst_size, burst, signature=axi),
                       Response.SLVERR,
                       Mux(end > amap.capacity_bytes, Response.DECERR, Response.OKAY))

        def beat_request(address, write, tag, payload, strobe):
            """Assignments of a beat request to ``out``."""
            return [
                out.channel.eq(field(address, "channel")),
                out.request.write.eq(write),
                # Flat bank = bank_group * banks_per_group + bank (both powers of two).
                out.request.bank.eq(Cat(field(address, "bank"), field(address, "bank_group"))),
                out.request.row.eq(field(address, "row")),
                out.request.column.eq(field(address, "column")),
                out.request.tag.eq(tag),
                out.request.data.eq(payload),
                out.request.strobe.eq(strobe),
            ]

        # The request register: its payload holds while the channel side is not ready.
        out = Signal(layout)
        out_valid = Signal()
        can_load = ~out_valid | self.requests.ready
        m.d.comb += [self.requests.valid.eq(out_valid), self.requests.payload.eq(out)]
        with m.If(self.requests.ready):
            m.d.sync += out_valid.eq(0)

        response = self.responses.payload
        response_taken = self.responses.valid & self.responses.ready
        response_slot = response.tag[BEAT_BITS:BEAT_BITS + slot_bits]
        m.d.comb += self.responses.ready.eq(1)

        want_read, read_grant = self._reads(m, bus, classify, response, response_taken,
                                            response_slot)
        want_write, write_grant = self._writes(m, bus, classify, response, response_taken,
                                               response_slot)

        # Arbitration for the request register: alternate when both have a beat.
        last_was_write = Signal()
        m.d.comb += [
            write_grant.eq(can_load & want_write & (~want_read | ~last_was_write)),
            read_grant.eq(can_load & want_read & ~write_grant),
        ]
        with m.If(write_grant):
            m.d.sync += [*beat_request(*self._write_beat), out_valid.eq(1),
                         last_was_write.eq(1)]
        with m.Elif(read_grant):
            m.d.sync += [*beat_request(*self._read_beat), out_valid.eq(1),
                         last_was_write.eq(0)]
        return m

    def _reads(self, m, bus, classify, response, response_taken, response_slot):
        """AR slots, beat requests, the read buffer and R. Returns (a read beat wants the
        request register, the grant signal to drive)."""
        axi, n, size = self._axi, self._read_bursts, self._axi.size
        slot_shape = range(max(n, 2))
        buffer_slot_bits = (n - 1).bit_length()
        slot_layout = data.StructLayout({
            "id": axi.id_width,
            "address": axi.addr_width,   # of the next beat to request
            "len": 8,                    # rejected bursts may have 256 beats
            "requested": BEAT_BITS + 1,  # beats requested so far
            "resp": Response,
        })
        slots = Signal(data.ArrayLayout(slot_layout, n), name="read_slots")
        in_use = Signal(n, name="read_in_use")
        ages = _AgeMatrix(m, n, "read")

        # AR: the lowest free slot. A rejected burst requests nothing.
        free = lowest_set(m, ~in_use, slot_shape, "read_free_slot")
        m.d.comb += bus.arready.eq(~in_use.all())
        taking = bus.arvalid & bus.arready
        with m.If(taking):
            resp = classify(bus.araddr, bus.arlen, bus.arsize, bus.arburst)
            for i in range(n):
                with m.If(free == i):
                    m.d.sync += [
                        slots[i].id.eq(bus.arid),
                        slots[i].address.eq(bus.araddr),
                        slots[i].len.eq(bus.arlen),
                        slots[i].requested.eq(0),
                        slots[i].resp.eq(resp),
                    ]
            ages.fill(free)
        filling = Mux(taking, (Const(1, n) << free)[:n], 0)

        # Beat requests: the oldest slot with beats left to request.
        unrequested = Signal(n, name="read_unrequested")
        m.d.comb += unrequested.eq(Cat(*(in_use[i] & (slots[i].resp == Response.OKAY)
                                         & (slots[i].requested <= slots[i].len)
                                         for i in range(n))))
        issue = onehot_index(m, ages.oldest(unrequested), slot_shape, "read_issue_slot")
        want = unrequested.any()
        grant = Signal(name="read_grant")
        issuing = slots[issue]
        self._read_beat = (issuing.address, 0, Cat(issuing.requested[:BEAT_BITS], issue), 0, 0)
        with m.If(grant):
            m.d.sync += [issuing.address.eq(issuing.address + (1 << size)),
                         issuing.requested.eq(issuing.requested + 1)]

        # The read buffer: 16 beats per slot, written at the response's tag.
        m.submodules.read_buffer = buffer = Memory(shape=unsigned(axi.data_width),
                                                  depth=n * MAX_BURST_BEATS, init=[])
        store = buffer.write_port()
        fetch = buffer.read_port()
        read_arrives = response_taken & ~response.write
        arrival = response.tag[:BEAT_BITS + buffer_slot_bits]
        m.d.comb += [store.addr.eq(arrival), store.data.eq(response.data),
                     store.en.eq(read_arrives)]
        filled = Signal(n * MAX_BURST_BEATS, name="read_filled")

        # R: a burst starts when its first beat is in (or it was rejected) and no older burst
        # of its ID is in flight; it keeps R until RLAST.
        same_id = _same([slots[i].id for i in range(n)], n)
        rejected = Signal(n, name="read_rejected")
        startable = Signal(n, name="read_startable")
        m.d.comb += [
            rejected.eq(Cat(*(slots[i].resp != Response.OKAY for i in range(n)))),
            startable.eq(in_use & ~ages.older_in(in_use, same_id)
                         & (Cat(*(filled[i * MAX_BURST_BEATS] for i in range(n))) | rejected)),
        ]
        locked = Signal(name="read_locked")
        current = Signal(slot_shape, name="read_current_slot")
        beat = Signal(8, name="read_beat")      # rejected bursts may have 256 beats
        chosen = Signal(slot_shape, name="read_chosen_slot")
        start = onehot_index(m, ages.oldest(startable), slot_shape, "read_start_slot")
        m.d.comb += chosen.eq(Mux(locked, current, start))
        have = locked | startable.any()
        index = Signal(BEAT_BITS + buffer_slot_bits, name="read_buffer_index")
        m.d.comb += index.eq(Cat(beat[:BEAT_BITS], chosen[:buffer_slot_bits]))
        available = rejected.bit_select(chosen, 1) | filled.bit_select(index, 1)
        beat_valid = Signal(name="read_beat_valid")
        advance = Signal(name="read_advance")
        m.d.comb += [
            advance.eq(have & available & (~beat_valid | bus.rready)),
            fetch.addr.eq(index),
            fetch.en.eq(advance),
        ]
        chosen_slot = slots[chosen]
        last = beat == chosen_slot.len
        out_id = Signal(axi.id_width, name="read_out_id")
        out_resp = Signal(Response, name="read_out_resp")
        out_last = Signal(name="read_out_last")
        with m.If(advance):
            m.d.sync += [beat_valid.eq(1), out_id.eq(chosen_slot.id),
                         out_resp.eq(chosen_slot.resp), out_last.eq(last),
                         locked.eq(~last), current.eq(chosen),
                         beat.eq(Mux(last, 0, beat + 1))]
        with m.Elif(bus.rready):
            m.d.sync += beat_valid.eq(0)
        m.d.comb += [
            bus.rvalid.eq(beat_valid),
            # The read port's data holds while it is not enabled, so RDATA is stable under
            # backpressure.
            bus.rdata.eq(Mux(out_resp == Response.OKAY, fetch.data, 0)),
            bus.rresp.eq(out_resp),
            bus.rid.eq(out_id),
            bus.rlast.eq(out_last),
        ]

        # A slot is free once its last beat has been read from the buffer.
        size_bits = n * MAX_BURST_BEATS
        set_bits = Mux(read_arrives, Const(1, size_bits) << arrival, 0)[:size_bits]
        clear_bits = Mux(advance, Const(1, size_bits) << index, 0)[:size_bits]
        m.d.sync += filled.eq((filled & ~clear_bits) | set_bits)
        releasing = Mux(advance & last, (Const(1, n) << chosen)[:n], 0)
        m.d.sync += in_use.eq((in_use & ~releasing) | filling)
        return want, grant

    def _writes(self, m, bus, classify, response, response_taken, response_slot):
        """AW slots, W beats and B. Returns (a write beat wants the request register, the
        grant signal to drive)."""
        axi, n, size = self._axi, self._write_bursts, self._axi.size
        slot_shape = range(max(n, 2))
        slot_layout = data.StructLayout({
            "id": axi.id_width,
            "address": axi.addr_width,   # of the next beat
            "len": 8,                    # rejected bursts may have 256 beats
            "received": 9,               # W beats taken
            "acks": BEAT_BITS + 1,       # beats the channels acknowledged
            "resp": Response,
        })
        slots = Signal(data.ArrayLayout(slot_layout, n), name="write_slots")
        in_use = Signal(n, name="write_in_use")
        ages = _AgeMatrix(m, n, "write")

        free = lowest_set(m, ~in_use, slot_shape, "write_free_slot")
        m.d.comb += bus.awready.eq(~in_use.all())
        taking = bus.awvalid & bus.awready
        with m.If(taking):
            for i in range(n):
                with m.If(free == i):
                    m.d.sync += [
                        slots[i].id.eq(bus.awid),
                        slots[i].address.eq(bus.awaddr),
                        slots[i].len.eq(bus.awlen),
                        slots[i].received.eq(0),
                        slots[i].acks.eq(0),
                        slots[i].resp.eq(classify(bus.awaddr, bus.awlen, bus.awsize,
                                                  bus.awburst)),
                    ]
            ages.fill(free)
        filling = Mux(taking, (Const(1, n) << free)[:n], 0)

        # W goes to the oldest slot still taking data; a rejected burst's beats are dropped.
        taking_data = Signal(n, name="write_taking_data")
        m.d.comb += taking_data.eq(Cat(*(in_use[i] & (slots[i].received <= slots[i].len)
                                         for i in range(n))))
        target = onehot_index(m, ages.oldest(taking_data), slot_shape, "write_target_slot")
        writing = slots[target]
        ok = writing.resp == Response.OKAY
        grant = Signal(name="write_grant")
        want = taking_data.any() & ok & bus.wvalid
        self._write_beat = (writing.address, 1, Cat(writing.received[:BEAT_BITS], target),
                            bus.wdata, bus.wstrb)
        m.d.comb += bus.wready.eq(taking_data.any() & (~ok | grant))
        with m.If(bus.wvalid & bus.wready):
            # The beat count decides the end, as AWLEN does; WLAST is redundant with it.
            m.d.sync += [writing.address.eq(writing.address + (1 << size)),
                         writing.received.eq(writing.received + 1)]

        # Acknowledgements come in any order; only their number matters.
        with m.If(response_taken & response.write):
            for i in range(n):
                with m.If(response_slot == i):
                    m.d.sync += slots[i].acks.eq(slots[i].acks + 1)

        # B: the oldest complete burst that no older burst of its ID is waiting before. The
        # B register's payload holds until the handshake; the next B loads in that cycle.
        same_id = _same([slots[i].id for i in range(n)], n)
        complete = Signal(n, name="write_complete")
        m.d.comb += complete.eq(Cat(*(in_use[i] & (slots[i].received > slots[i].len)
                                      & ((slots[i].resp != Response.OKAY)
                                         | (slots[i].acks == slots[i].len + 1))
                                      for i in range(n))))
        b_valid = Signal(name="write_b_valid")
        b_slot = Signal(slot_shape, name="write_b_slot")
        handshake = b_valid & bus.bready
        presented = Signal(n, name="write_b_presented")
        m.d.comb += presented.eq(Mux(b_valid, (Const(1, n) << b_slot)[:n], 0))
        # The slot on B is still in use (so younger ones of its ID wait) but not eligible.
        eligible = Signal(n, name="write_b_eligible")
        m.d.comb += eligible.eq(complete & ~presented
                                & ~ages.older_in(in_use & ~Mux(handshake, presented, 0),
                                                 same_id))
        pick = onehot_index(m, ages.oldest(eligible), slot_shape, "write_b_pick")
        with m.If(~b_valid | handshake):
            m.d.sync += [b_valid.eq(eligible.any()), b_slot.eq(pick)]
        m.d.comb += [
            bus.bvalid.eq(b_valid),
            bus.bid.eq(slots[b_slot].id),
            bus.bresp.eq(slots[b_slot].resp),
        ]
        releasing = Mux(handshake, presented, 0)
        m.d.sync += in_use.eq((in_use & ~releasing) | filling)
        return want, grant
