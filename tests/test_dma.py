"""amaranth.sim unit tests of the accelerator's DMA engines (rtl/accel/dma.py)."""

from amaranth.sim import Simulator

from rtl.accel.dma import DMAReader, DMAWriter
from rtl.mem.axi import Response


def _simulate(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def test_reader_splits_a_request_at_a_4k_page_and_keeps_beat_indices():
    """A 4-beat read two beats before a page end goes out as 2 + 2 beats under two IDs; the
    beats keep their index in the request and only the request's final beat has last."""
    dut = DMAReader(addr_width=20, data_width=256, id_width=4, first_id=4, ids=2, tag_width=8)

    async def testbench(ctx):
        ctx.set(dut.requests.payload.addr, 4096 - 64)
        ctx.set(dut.requests.payload.len, 3)
        ctx.set(dut.requests.payload.tag, 0x5A)
        ctx.set(dut.requests.valid, 1)
        ctx.set(dut.ar.ready, 1)
        assert ctx.get(dut.requests.ready)
        await ctx.tick()
        ctx.set(dut.requests.valid, 0)
        bursts = []
        for _ in range(6):
            await ctx.tick()
            if ctx.get(dut.ar.valid):
                bursts.append((ctx.get(dut.ar.payload.id), ctx.get(dut.ar.payload.addr),
                               ctx.get(dut.ar.payload.len)))
        assert bursts == [(4, 4096 - 64, 1), (5, 4096, 1)]
        assert not ctx.get(dut.idle)
        # Answer the second burst first: indices still follow the request.
        seen = []
        for rid, beat in ((5, 0), (5, 1), (4, 0), (4, 1)):
            ctx.set(dut.r.valid, 1)
            ctx.set(dut.r.payload.id, rid)
            ctx.set(dut.r.payload.data, rid * 16 + beat)
            ctx.set(dut.r.payload.last, beat == 1)
            ctx.set(dut.r.payload.resp, Response.OKAY)
            assert ctx.get(dut.beats.valid)
            seen.append((ctx.get(dut.beats.payload.tag), ctx.get(dut.beats.payload.index),
                         ctx.get(dut.beats.payload.last)))
            await ctx.tick()
        ctx.set(dut.r.valid, 0)
        assert seen == [(0x5A, 2, 0), (0x5A, 3, 1), (0x5A, 0, 0), (0x5A, 1, 0)]
        await ctx.tick()
        assert ctx.get(dut.idle)

    _simulate(dut, testbench)


def test_reader_ignores_beats_of_other_ids_and_flags_errors():
    dut = DMAReader(addr_width=20, data_width=256, id_width=4, first_id=8, ids=1, tag_width=1,
                    bursts_per_id=4)

    async def testbench(ctx):
        ctx.set(dut.r.valid, 1)
        ctx.set(dut.r.payload.id, 7)
        assert not ctx.get(dut.beats.valid)
        ctx.set(dut.r.payload.id, 8)
        ctx.set(dut.r.payload.resp, Response.SLVERR)
        assert ctx.get(dut.beats.valid) and ctx.get(dut.beats.payload.error)

    _simulate(dut, testbench)


def test_writer_sends_each_beat_as_its_own_burst_and_waits_for_every_response():
    dut = DMAWriter(addr_width=20, data_width=256, id_width=4, row_bits=512)

    async def testbench(ctx):
        ctx.set(dut.rows.payload.addr, 4096 - 32)
        ctx.set(dut.rows.payload.len, 1)
        ctx.set(dut.rows.payload.data, (2 << 256) | 1)
        ctx.set(dut.rows.payload.strb, (0xF << 32) | 0xFFFFFFFF)
        ctx.set(dut.rows.valid, 1)
        await ctx.tick()
        ctx.set(dut.rows.valid, 0)
        ctx.set(dut.aw.ready, 1)
        ctx.set(dut.w.ready, 1)
        sent = []
        for _ in range(10):
            if ctx.get(dut.aw.valid):
                sent.append(("aw", ctx.get(dut.aw.payload.addr), ctx.get(dut.aw.payload.len)))
            if ctx.get(dut.w.valid):
                sent.append(("w", ctx.get(dut.w.payload.data), ctx.get(dut.w.payload.strb),
                             ctx.get(dut.w.payload.last)))
            await ctx.tick()
        assert sent == [("aw", 4096 - 32, 0), ("w", 1, 0xFFFFFFFF, 1),
                        ("aw", 4096, 0), ("w", 2, 0xF, 1)]
        assert not ctx.get(dut.idle)
        ctx.set(dut.b.valid, 1)
        ctx.set(dut.b.payload.resp, Response.OKAY)
        await ctx.tick()
        assert not ctx.get(dut.idle) and not ctx.get(dut.error)
        ctx.set(dut.b.payload.resp, Response.DECERR)
        await ctx.tick()
        ctx.set(dut.b.valid, 0)
        await ctx.tick()
        assert ctx.get(dut.idle) and ctx.get(dut.error)

    _simulate(dut, testbench)
