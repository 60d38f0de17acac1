"""An AXI4 subordinate in front of one pseudo-channel's
:class:`~rtl.mem.controller.ChannelController`.

The port follows the rules of :mod:`rtl.mem.axi`: INCR bursts of 1 to 16 full-width beats that
do not cross 4 KB are carried out, any other burst is answered with ``SLVERR`` and touches no
memory (a write still takes all ``AWLEN + 1`` W beats, a read still gives ``ARLEN + 1`` R beats
with ``RDATA = 0``). A supported burst that reaches past the channel's capacity is answered
the same way with ``DECERR``: the port's address may be wider than the channel, and aliasing
the upper addresses onto the channel would corrupt memory silently.

Every beat is one DRAM burst (the data bus is ``timing.burst_bytes`` wide), so each beat
becomes one controller request. The beat address is cut with the channel-local address map,
``AddressMap(timing, channels=1)``: bank-group bits just above the burst atom, so the beats
of a burst alternate between bank groups.

Limitations of this first version: one write burst and one read burst are outstanding at a
time (the next AW is taken after the B handshake, the next AR after the last R handshake),
so responses are trivially in order within an ID, and a stream of short bursts pays the
controller's latency per burst. Reads and writes do overlap with each other.
"""

from amaranth import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from openmxu.address_map import AddressMap
from ..params import check_int, validating
from .axi import AXI4Signature, Response, MAX_BURST_BEATS, unsupported_burst
from .commands import resolve_timing, timing_repr
from .controller import request_layout, response_layout, DEFAULT_TAG_WIDTH

__all__ = ["AXI4ChannelPort"]

#: The controller tag carries the beat index within the burst (0 to 15).
MIN_TAG_WIDTH = (MAX_BURST_BEATS - 1).bit_length()


class AXI4ChannelPort(wiring.Component):
    """AXI4 subordinate for one pseudo-channel, driving a
    :class:`~rtl.mem.controller.ChannelController`.

    Writes: the AW burst is checked (``SLVERR``/``DECERR``/``OKAY``); for ``OKAY`` each W
    beat goes to the controller as a write request with ``WSTRB`` as its strobe; ``BRESP``
    is given once the controller has acknowledged every beat. Reads: one request per beat;
    the controller answers in data-bus order, not request order, so the beats land in a
    16-entry reorder buffer indexed by the request tag (the beat index) and leave on R in
    burst order, ``RLAST`` on the last.

    Parameters
    ----------
    timing : TimingPreset or str
        The pseudo-channel's preset; the data bus is ``timing.burst_bytes * 8`` bits wide
        (at most 1024).
    id_width : int
        Width of the AXI IDs (4 to 16).
    address_bits : int or None
        Width of ``AWADDR``/``ARADDR`` (12 to 64, at least the channel's address bits).
        ``None``: the channel's address bits, at least 12. Bursts reaching at or above the
        channel's capacity get ``DECERR``.
    tag_width : int
        Tag width of the controller's requests (at least 4); the controller must use the same.

    Members
    -------
    s_axi : ``In(AXI4Signature(addr_width=address_bits, data_width=burst_bytes * 8,
    id_width=id_width))``
        The subordinate port.
    requests : ``Out(stream.Signature(request_layout(timing, tag_width=tag_width)))``
        To the controller's ``requests``.
    responses : ``In(stream.Signature(response_layout(timing, tag_width=tag_width)))``
        From the controller's ``responses``.
    """

    def __init__(self, *, timing, id_width=4, address_bits=None, tag_width=DEFAULT_TAG_WIDTH):
        with validating(self):
            timing = resolve_timing(timing)
            address_map = AddressMap(timing=timing, channels=1)
            check_int("burst_bytes", timing.burst_bytes, 1, 128,
                      extra=" (the AXI data bus is one burst wide, at most 1024 bits)")
            if address_bits is None:
                address_bits = max(12, address_map.address_bits)
            check_int("address_bits", address_bits, max(12, address_map.address_bits), 64,
                      extra=" (at least the channel's address bits)")
            check_int("tag_width", tag_width, MIN_TAG_WIDTH, 32)
            axi = AXI4Signature(addr_width=address_bits, data_width=timing.burst_bytes * 8,
                                id_width=id_width)
        self._timing = timing
        self._address_map = address_map
        self._axi = axi
        self._tag_width = tag_width
        super().__init__({
            "s_axi": In(axi),
            "requests": Out(stream.Signature(request_layout(timing, tag_width=tag_width))),
            "responses": In(stream.Signature(response_layout(timing, tag_width=tag_width))),
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

    def __repr__(self):
        return (f"AXI4ChannelPort(timing={timing_repr(self._timing)}, "
                f"id_width={self._axi.id_width}, address_bits={self._axi.addr_width}, "
                f"tag_width={self._tag_width})")

    def elaborate(self, platform):
        m = Module()
        axi, bus = self._axi, self.s_axi
        amap = self._address_map
        beat_bytes = axi.beat_bytes
        widths, shifts = amap.widths, amap.shifts
        layout = request_layout(self._timing, tag_width=self._tag_width)

        def decode(address):
            """bank (flat), row and column of a beat address below the capacity."""
            def field(name):
                return address[shifts[name]:shifts[name] + widths[name]]
            # Flat bank = bank_group * banks_per_group + bank; both counts are powers of two.
            return Cat(field("bank"), field("bank_group")), field("row"), field("column")

        def classify(addr, len_, size, burst):
            """The response a burst gets: the axi.py rules first, then the capacity."""
            end = addr + ((len_ + 1) << axi.size)    # one past the burst's last byte
            return Mux(unsupported_burst(addr, len_, size, burst, signature=axi),
                       Response.SLVERR,
                       Mux(end > amap.capacity_bytes, Response.DECERR, Response.OKAY))

        # The request register. Reads and writes share the controller's one stream; a
        # register keeps the payload stable while the controller is not ready, whatever the
        # arbitration does meanwhile.
        out = Signal(layout)
        out_valid = Signal()
        can_load = ~out_valid | self.requests.ready
        m.d.comb += [self.requests.valid.eq(out_valid), self.requests.payload.eq(out)]

        response = self.responses.payload
        response_taken = self.responses.valid & self.responses.ready

        # Write side -------------------------------------------------------------------------
        w_busy = Signal()            # AW taken, B not yet given
        w_resp = Signal(Response)
        w_id = Signal(axi.id_width)
        w_addr = Signal(axi.addr_width)
        w_len = Signal(8)
        w_count = Signal(8)          # W beats taken (rejected bursts may have 256)
        w_data_done = Signal()
        w_acks = Signal(range(MAX_BURST_BEATS + 1))
        w_ok = w_resp == Response.OKAY
        w_taking = w_busy & ~w_data_done

        m.d.comb += bus.awready.eq(~w_busy)
        with m.If(bus.awvalid & ~w_busy):
            m.d.sync += [
                w_busy.eq(1),
                w_resp.eq(classify(bus.awaddr, bus.awlen, bus.awsize, bus.awburst)),
                w_id.eq(bus.awid),
                w_addr.eq(bus.awaddr),
                w_len.eq(bus.awlen),
                w_count.eq(0),
                w_data_done.eq(0),
                w_acks.eq(0),
            ]

        # Read side --------------------------------------------------------------------------
        r_busy = Signal()            # AR taken, last R not yet given
        r_resp = Signal(Response)
        r_id = Signal(axi.id_width)
        r_addr = Signal(axi.addr_width)
        r_len = Signal(8)
        r_issued = Signal(range(MAX_BURST_BEATS))
        r_issue_done = Signal()
        r_ok = r_resp == Response.OKAY

        m.d.comb += bus.arready.eq(~r_busy)
        with m.If(bus.arvalid & ~r_busy):
            resp = classify(bus.araddr, bus.arlen, bus.arsize, bus.arburst)
            m.d.sync += [
                r_busy.eq(1),
                r_resp.eq(resp),
                r_id.eq(bus.arid),
                r_addr.eq(bus.araddr),
                r_len.eq(bus.arlen),
                r_issued.eq(0),
                # A rejected read sends nothing to the controller.
                r_issue_done.eq(resp != Response.OKAY),
            ]

        # Arbitration: alternate when both want the request register.
        last_was_write = Signal()
        want_w = w_taking & w_ok & bus.wvalid
        want_r = r_busy & ~r_issue_done
        grant_w = Signal()
        grant_r = Signal()
        m.d.comb += [
            grant_w.eq(can_load & want_w & (~want_r | ~last_was_write)),
            grant_r.eq(can_load & want_r & ~grant_w),
        ]
        w_bank, w_row, w_column = decode(w_addr)
        r_bank, r_row, r_column = decode(r_addr)
        with m.If(grant_w):
            m.d.sync += [
                out.write.eq(1), out.bank.eq(w_bank), out.row.eq(w_row),
                out.column.eq(w_column), out.tag.eq(w_count),
                out.data.eq(bus.wdata), out.strobe.eq(bus.wstrb),
                out_valid.eq(1), last_was_write.eq(1),
            ]
        with m.Elif(grant_r):
            m.d.sync += [
                out.write.eq(0), out.bank.eq(r_bank), out.row.eq(r_row),
                out.column.eq(r_column), out.tag.eq(r_issued),
                out.data.eq(0), out.strobe.eq(0),
                out_valid.eq(1), last_was_write.eq(0),
            ]
        with m.Elif(self.requests.ready):
            m.d.sync += out_valid.eq(0)

        # W: a rejected burst's beats are taken and dropped.
        m.d.comb += bus.wready.eq(w_taking & (~w_ok | grant_w))
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += [w_count.eq(w_count + 1), w_addr.eq(w_addr + beat_bytes)]
            # The beat count decides the end, as AWLEN does; WLAST is redundant with it.
            with m.If(w_count == w_len):
                m.d.sync += w_data_done.eq(1)

        # B: after every beat is acknowledged (acknowledgements come in any order, only
        # their number matters).
        with m.If(response_taken & response.write):
            m.d.sync += w_acks.eq(w_acks + 1)
        m.d.comb += [
            bus.bvalid.eq(w_busy & w_data_done & (~w_ok | (w_acks == w_len + 1))),
            bus.bresp.eq(w_resp),
            bus.bid.eq(w_id),
        ]
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += w_busy.eq(0)

        # Read requests.
        with m.If(grant_r):
            m.d.sync += [r_issued.eq(r_issued + 1), r_addr.eq(r_addr + beat_bytes)]
            with m.If(r_issued == r_len):
                m.d.sync += r_issue_done.eq(1)

        # Reorder buffer: read data lands at its beat index (the tag). At most 16 reads are
        # outstanding, one per slot, so it always has room and read responses are never
        # refused; write acknowledgements are always taken too.
        m.submodules.reorder = reorder = Memory(shape=unsigned(axi.data_width),
                                                depth=MAX_BURST_BEATS, init=[])
        store = reorder.write_port()
        fetch = reorder.read_port(transparent_for=(store,))
        filled = Signal(MAX_BURST_BEATS)
        slot = response.tag[:MIN_TAG_WIDTH]
        read_arrives = response_taken & ~response.write
        m.d.comb += [
            self.responses.ready.eq(1),
            store.addr.eq(slot),
            store.data.eq(response.data),
            store.en.eq(read_arrives),
        ]

        # R for a supported burst: a one-beat output stage fed from the buffer in beat
        # order. The read port's data holds while it is not enabled, so RDATA stays stable
        # under backpressure.
        fetch_index = Signal(range(MAX_BURST_BEATS + 1))   # next beat to fetch
        out_index = Signal(range(MAX_BURST_BEATS))         # beat on R
        beat_valid = Signal()
        advance = Signal()
        m.d.comb += [
            advance.eq(r_busy & r_ok & (fetch_index <= r_len)
                       & filled.bit_select(fetch_index[:4], 1) & (~beat_valid | bus.rready)),
            fetch.addr.eq(fetch_index),
            fetch.en.eq(advance),
        ]
        set_bits = Mux(read_arrives, Const(1, MAX_BURST_BEATS) << slot, 0)
        clear_bits = Mux(advance, Const(1, MAX_BURST_BEATS) << fetch_index[:4], 0)
        m.d.sync += filled.eq((filled & ~clear_bits[:MAX_BURST_BEATS])
                              | set_bits[:MAX_BURST_BEATS])
        with m.If(advance):
            m.d.sync += [beat_valid.eq(1), out_index.eq(fetch_index),
                         fetch_index.eq(fetch_index + 1)]
        with m.Elif(bus.rready):
            m.d.sync += beat_valid.eq(0)

        # R for a rejected burst: ARLEN + 1 beats of zeros.
        err_count = Signal(8)
        rlast = Mux(r_ok, out_index == r_len, err_count == r_len)
        m.d.comb += [
            bus.rvalid.eq(r_busy & Mux(r_ok, beat_valid, 1)),
            bus.rdata.eq(Mux(r_ok, fetch.data, 0)),
            bus.rresp.eq(r_resp),
            bus.rid.eq(r_id),
            bus.rlast.eq(rlast),
        ]
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += err_count.eq(err_count + 1)
            with m.If(rlast):
                m.d.sync += [r_busy.eq(0), beat_valid.eq(0)]
        with m.If(bus.arvalid & ~r_busy):
            m.d.sync += [err_count.eq(0), fetch_index.eq(0)]
        return m
