"""The data paths of the channel controller: write data out of its store onto the DRAM
interface, and read data and acknowledgements back as responses."""

from amaranth import Module, Signal, Shape, Cat, Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..commands import resolve_timing, timing_repr

__all__ = ["response_layout", "WriteData", "ResponsePath"]


def response_layout(timing, *, tag_width):
    """``StructLayout`` of one response: the request's ``tag`` and ``write`` and, for a
    read, the burst's ``data`` (0 for a write)."""
    timing = resolve_timing(timing)
    return data.StructLayout({
        "tag": tag_width,
        "write": 1,
        "data": timing.burst_bytes * 8,
    })


def burst_layout(timing):
    """``StructLayout`` of a write burst in the store: its ``data`` and ``strobe``."""
    return data.StructLayout({"data": timing.burst_bytes * 8, "strobe": timing.burst_bytes})


class WriteData(wiring.Component):
    """Write data waits in a memory word per queue slot; beat ``k`` of a WR in the
    controller's pick register in cycle ``d`` is on ``wdata``/``wmask`` in cycle ``d + 1 +
    cwl + k``, ``cwl`` cycles after the WR (which is in the command register then).

    Slots are numbered per bank: ``banks`` banks of ``bank_slots`` slots each.

    Members
    -------
    store : ``In(1)``, ``store_bank``, ``store_slot``, ``store_burst``
        Keep a write request's data and strobes (AXI polarity) for its bank's slot.
    issue : ``In(1)``, ``issue_bank``, ``issue_slot``
        The pick register holds a WR for the slot's request.
    wdata, wmask : ``Out``
        The DRAM interface's write beat (a set mask bit keeps the byte, as DFI).
    release : ``Out(1)``, ``release_bank``, ``release_slot``
        The slot's last beat has left the store: the slot may be reused.
    done : ``Out(1)``
        The last beat of a write is on the interface this cycle (its response is due).
    """

    def __init__(self, *, timing, bank_slots):
        timing = resolve_timing(timing)
        self._timing = timing
        self._bank_slots = bank_slots
        bank, slot = range(max(timing.banks, 2)), range(max(bank_slots, 2))
        super().__init__({
            "store": In(1), "store_bank": In(bank), "store_slot": In(slot),
            "store_burst": In(burst_layout(timing)),
            "issue": In(1), "issue_bank": In(bank), "issue_slot": In(slot),
            "wdata": Out(timing.data_bytes_per_cycle * 8),
            "wmask": Out(timing.data_bytes_per_cycle),
            "release": Out(1), "release_bank": Out(bank), "release_slot": Out(slot),
            "done": Out(1),
        })

    def __repr__(self):
        return (f"WriteData(timing={timing_repr(self._timing)}, "
                f"bank_slots={self._bank_slots})")

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        beat_bytes = t.data_bytes_per_cycle
        layout = burst_layout(t)
        slot_bits = (self._bank_slots - 1).bit_length()
        bank_bits = (t.banks - 1).bit_length()

        def address(bank, slot):
            return Cat(slot[:slot_bits], bank[:bank_bits])

        m.submodules.store = store = Memory(shape=layout, depth=1 << (slot_bits + bank_bits),
                                            init=[])
        write = store.write_port()
        # Read combinationally when the beats are due (cwl may be 0: the first beat then
        # leaves with the WR).
        read = store.read_port(domain="comb")
        m.d.comb += [
            write.addr.eq(address(self.store_bank, self.store_slot)),
            write.data.eq(self.store_burst),
            write.en.eq(self.store),
        ]
        # Delay line: entry s says a WR was picked s cycles ago, for which slot.
        issued = Signal(max(1, slot_bits + bank_bits))
        m.d.comb += issued.eq(address(self.issue_bank, self.issue_slot))
        lines = [(self.issue, issued)]
        for s in range(1, t.cwl + t.burst_cycles + 1):
            valid = Signal(name=f"line_valid_{s}")
            slot = Signal.like(issued, name=f"line_slot_{s}")
            m.d.sync += [valid.eq(lines[-1][0]), slot.eq(lines[-1][1])]
            lines.append((valid, slot))
        # Bursts on the data bus never overlap (tCCD_S >= burst cycles), so at most one line
        # entry of the beat window is valid.
        beat = Signal(range(max(t.burst_cycles, 2)))
        sending = Signal()
        for k in range(t.burst_cycles):
            valid, slot = lines[t.cwl + k]
            with m.If(valid):
                m.d.comb += [read.addr.eq(slot), beat.eq(k), sending.eq(1)]
        with m.If(sending):
            m.d.sync += [
                self.wdata.eq(read.data.data.word_select(beat, 8 * beat_bytes)),
                self.wmask.eq(~read.data.strobe.word_select(beat, beat_bytes)),
            ]
        with m.Else():
            m.d.sync += [self.wdata.eq(0), self.wmask.eq(~0)]
        release, release_address = lines[t.cwl + t.burst_cycles - 1]
        m.d.comb += [
            self.release.eq(release),
            self.release_slot.eq(release_address[:slot_bits]),
            self.release_bank.eq(release_address[slot_bits:]),
            self.done.eq(lines[t.cwl + t.burst_cycles][0]),
        ]
        return m


class ResponsePath(wiring.Component):
    """Read-beat assembly, the tags of the column commands in flight, and the response FIFO.

    Responses leave the data bus in the order of the column commands, so the tag and kind of
    each command in flight wait in a plain FIFO. The response FIFO has ``depth`` entries, as
    many as the controller's credits, so it always has room.

    Members
    -------
    issue : ``In(1)``, ``issue_tag``, ``issue_write``
        The controller's pick register holds a RD or WR (it is on the interface next
        cycle).
    write_done : ``In(1)``
        A write's last beat is on the interface.
    rdata, rdata_valid : ``In``
        The DRAM interface's read beats.
    responses : ``Out(stream.Signature(response_layout(...)))``
    pop : ``Out(1)``
        A response leaves this cycle (its credit returns).
    """

    def __init__(self, *, timing, tag_width, depth):
        timing = resolve_timing(timing)
        self._timing = timing
        self._tag_width = tag_width
        self._depth = depth
        super().__init__({
            "issue": In(1), "issue_tag": In(tag_width), "issue_write": In(1),
            "write_done": In(1),
            "rdata": In(timing.data_bytes_per_cycle * 8), "rdata_valid": In(1),
            "responses": Out(stream.Signature(response_layout(timing, tag_width=tag_width))),
            "pop": Out(1),
        })

    def __repr__(self):
        return (f"ResponsePath(timing={timing_repr(self._timing)}, "
                f"tag_width={self._tag_width}, depth={self._depth})")

    def elaborate(self, platform):
        m = Module()
        t = self._timing
        beat_bits = 8 * t.data_bytes_per_cycle
        layout = response_layout(t, tag_width=self._tag_width)
        flight_layout = data.StructLayout({"tag": self._tag_width, "write": 1})
        m.submodules.in_flight = in_flight = SyncFIFO(
            width=Shape.cast(flight_layout).width, depth=self._depth)
        flight_in = Signal(flight_layout)
        flight_out = data.View(flight_layout, in_flight.r_data)
        m.d.comb += [
            flight_in.tag.eq(self.issue_tag),
            flight_in.write.eq(self.issue_write),
            in_flight.w_data.eq(flight_in),
            in_flight.w_en.eq(self.issue),
        ]

        # Read beats arrive cl cycles after the RD; the last completes the response.
        beat = Signal(range(max(t.burst_cycles, 2)))
        earlier_beats = Signal(max(1, (t.burst_cycles - 1) * beat_bits))
        read_done = Signal()
        m.d.comb += read_done.eq(self.rdata_valid & (beat == t.burst_cycles - 1))
        with m.If(self.rdata_valid):
            m.d.sync += beat.eq(Mux(read_done, 0, beat + 1))
            if t.burst_cycles > 1:
                with m.If(~read_done):
                    m.d.sync += earlier_beats.word_select(beat, beat_bits).eq(self.rdata)
        read_data = (Cat(earlier_beats[:(t.burst_cycles - 1) * beat_bits], self.rdata)
                     if t.burst_cycles > 1 else self.rdata)

        # A buffered FIFO of depth 2 can refuse a write while holding one entry; 3 or more
        # never does.
        fifo_depth = max(self._depth, 3) if self._depth > 1 else 1
        m.submodules.response_fifo = fifo = SyncFIFOBuffered(
            width=Shape.cast(layout).width, depth=fifo_depth)
        response = Signal(layout)
        # Read and write data never share a cycle on the bus, so at most one completes.
        m.d.comb += [
            response.tag.eq(flight_out.tag),
            response.write.eq(flight_out.write),
            response.data.eq(Mux(read_done, read_data, 0)),
            fifo.w_data.eq(response),
            fifo.w_en.eq(read_done | self.write_done),
            in_flight.r_en.eq(read_done | self.write_done),
            self.responses.valid.eq(fifo.r_rdy),
            self.responses.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.responses.ready),
            self.pop.eq(fifo.r_rdy & self.responses.ready),
        ]
        return m
