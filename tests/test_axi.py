"""The AXI4 interface: signature validation, members and their Verilog names, and the burst
rules of check_burst with their hardware twin unsupported_burst."""

import random
import re

import pytest
from amaranth.hdl import Fragment
from amaranth import Module, Shape, Signal, Value
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from rtl.mem.axi import (AXI4Signature, Burst, Response, MAX_BURST_BEATS, BOUNDARY,
                         check_burst, burst_problem, unsupported_burst)


def sig(addr_width=32, data_width=128, id_width=4):
    return AXI4Signature(addr_width=addr_width, data_width=data_width, id_width=id_width)


# --- Validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    ({"addr_width": 11}, "addr_width must be between 12 and 64, not 11"),
    ({"addr_width": 65}, "addr_width must be between 12 and 64, not 65"),
    ({"addr_width": 32.0}, "addr_width must be an integer, not 32.0"),
    ({"data_width": 4}, "data_width must be between 8 and 1024, not 4"),
    ({"data_width": 2048}, "data_width must be between 8 and 1024, not 2048"),
    ({"data_width": 96}, "data_width must be a power of two between 8 and 1024, not 96"),
    ({"data_width": True}, "data_width must be an integer, not True"),
    ({"id_width": 3}, "id_width must be between 4 and 16, not 3"),
    ({"id_width": 17}, "id_width must be between 4 and 16, not 17"),
    ({"id_width": "4"}, "id_width must be an integer, not '4'"),
])
def test_validation_messages(params, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        sig(**params)


@pytest.mark.parametrize("addr_width, data_width, id_width",
                         [(12, 8, 4), (64, 1024, 16), (32, 256, 6)])
def test_range_ends_accepted(addr_width, data_width, id_width):
    s = sig(addr_width, data_width, id_width)
    assert (s.addr_width, s.data_width, s.id_width) == (addr_width, data_width, id_width)


def test_parameters_are_keyword_only():
    with pytest.raises(TypeError):
        AXI4Signature(32, 128, 4)


# --- Equality, repr, derived properties -----------------------------------------------------

def test_equality_hash_repr():
    a, b = sig(), sig()
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != sig(addr_width=33) and a != sig(data_width=64) and a != sig(id_width=5)
    assert a != wiring.Signature(dict(a.members.items()))
    assert a.flip() == b.flip() and a.flip() != a and a.flip().flip() == a
    assert repr(a) == "AXI4Signature(addr_width=32, data_width=128, id_width=4)"
    assert eval(repr(a)) == a


@pytest.mark.parametrize("data_width, strobe_width, size",
                         [(8, 1, 0), (16, 2, 1), (64, 8, 3), (128, 16, 4), (1024, 128, 7)])
def test_strobe_width_and_size(data_width, strobe_width, size):
    s = sig(data_width=data_width)
    assert s.strobe_width == s.beat_bytes == strobe_width
    assert s.size == size and 1 << s.size == s.beat_bytes
    flipped = s.flip()  # what a subordinate's port reports as its signature
    assert isinstance(flipped, AXI4Signature)
    assert (flipped.strobe_width, flipped.size, flipped.data_width) == (strobe_width, size,
                                                                        data_width)


# --- Members --------------------------------------------------------------------------------

def expected_members(a, d, i):
    """name: (direction seen from the manager, width)."""
    o, n = wiring.Flow.Out, wiring.Flow.In
    return {
        "awid": (o, i), "awaddr": (o, a), "awlen": (o, 8), "awsize": (o, 3),
        "awburst": (o, 2), "awvalid": (o, 1), "awready": (n, 1),
        "wdata": (o, d), "wstrb": (o, d // 8), "wlast": (o, 1), "wvalid": (o, 1),
        "wready": (n, 1),
        "bid": (n, i), "bresp": (n, 2), "bvalid": (n, 1), "bready": (o, 1),
        "arid": (o, i), "araddr": (o, a), "arlen": (o, 8), "arsize": (o, 3),
        "arburst": (o, 2), "arvalid": (o, 1), "arready": (n, 1),
        "rid": (n, i), "rdata": (n, d), "rresp": (n, 2), "rlast": (n, 1), "rvalid": (n, 1),
        "rready": (o, 1),
    }


@pytest.mark.parametrize("a, d, i", [(32, 128, 4), (40, 256, 6), (12, 8, 16)])
def test_members(a, d, i):
    s = sig(a, d, i)
    expected = expected_members(a, d, i)
    assert list(s.members.keys()) == list(expected)  # AXI channel order
    for name, (flow, width) in expected.items():
        member = s.members[name]
        assert member.is_port and member.flow == flow, name
        assert Shape.cast(member.shape).width == width, name
    assert s.members["awburst"].shape is Burst and s.members["arburst"].shape is Burst
    assert s.members["bresp"].shape is Response and s.members["rresp"].shape is Response

    # The subordinate's view: every direction flipped, the same widths.
    flipped = s.flip()
    bus = flipped.create()
    for name, (flow, width) in expected.items():
        assert flipped.members[name].flow == flow.flip(), name
        assert len(Value.cast(getattr(bus, name))) == width, name
    assert bus.signature == flipped


class Subordinate(wiring.Component):
    """Always ready, never responds: enough to export the port."""
    s_axi: In(AXI4Signature(addr_width=32, data_width=64, id_width=4))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.s_axi.awready.eq(1), self.s_axi.wready.eq(1), self.s_axi.arready.eq(1),
            self.s_axi.bresp.eq(Response.OKAY), self.s_axi.rresp.eq(Response.OKAY),
            self.s_axi.bvalid.eq(0), self.s_axi.rvalid.eq(0),
        ]
        return m


class Manager(wiring.Component):
    m_axi: Out(AXI4Signature(addr_width=32, data_width=64, id_width=4))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.m_axi.bready.eq(1), self.m_axi.rready.eq(1),
                     self.m_axi.awburst.eq(Burst.INCR), self.m_axi.arburst.eq(Burst.INCR)]
        return m


def test_verilog_port_names():
    text = verilog.convert(Subordinate(), name="top")
    # name: (direction, width) of every port declaration, e.g. "input [31:0] s_axi__awaddr;"
    ports = {name: (direction, int(msb) + 1 if msb else 1) for direction, msb, name in
             re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+)\s*;", text, re.M)}
    # The subordinate's inputs are the manager's outputs.
    assert ports == {f"s_axi__{name}": ("input" if flow == wiring.Flow.Out else "output", width)
                     for name, (flow, width) in expected_members(32, 64, 4).items()}
    assert "s_axi__awaddr" in ports and "s_axi__rready" in ports


def test_connect_manager_to_subordinate():
    m = Module()
    m.submodules.manager = manager = Manager()
    m.submodules.subordinate = subordinate = Subordinate()
    wiring.connect(m, manager.m_axi, subordinate.s_axi)
    Fragment.get(m, None)  # the connected design elaborates


# --- Burst rules ----------------------------------------------------------------------------

S128 = sig(data_width=128)  # 16 bytes per beat, size 4

CASES = [
    # (addr, len_, size, burst, signature, response, reason fragment)
    (0x0, 0, 4, Burst.INCR, S128, None, None),                    # one beat
    (0x100, 15, 4, Burst.INCR, S128, None, None),                 # 16 beats
    (0x1000 - 256, 15, 4, Burst.INCR, S128, None, None),          # ends exactly at 4 KB
    (0x1000, 15, 4, 1, S128, None, None),                         # int burst encoding
    (0xFFFF_FF00, 15, 4, Burst.INCR, S128, None, None),           # top of the address space
    (0x0, 0, 4, Burst.FIXED, S128, Response.SLVERR, "FIXED"),
    (0x0, 3, 4, Burst.WRAP, S128, Response.SLVERR, "WRAP"),
    (0x0, 0, 4, 3, S128, Response.SLVERR, "reserved (3)"),
    (0x0, 0, 3, Burst.INCR, S128, Response.SLVERR, "not the full width"),   # narrow
    (0x0, 0, 0, Burst.INCR, S128, Response.SLVERR, "not the full width"),   # byte beats
    (0x0, 0, 5, Burst.INCR, S128, Response.SLVERR, "not the full width"),   # wider than bus
    (0x0, 16, 4, Burst.INCR, S128, Response.SLVERR, "17 beats is more than 16"),
    (0x0, 255, 4, Burst.INCR, S128, Response.SLVERR, "256 beats"),
    (0x8, 0, 4, Burst.INCR, S128, Response.SLVERR, "not aligned"),
    (0x1, 0, 4, Burst.INCR, S128, Response.SLVERR, "not aligned"),
    (0x1000 - 240, 15, 4, Burst.INCR, S128, Response.SLVERR, "4096-byte boundary"),
    (0x1FF0, 1, 4, Burst.INCR, S128, Response.SLVERR, "4096-byte boundary"),
    # 8-bit bus: every address is aligned, size 0 is the full width.
    (0x3, 15, 0, Burst.INCR, sig(data_width=8), None, None),
    (0xFF8, 15, 0, Burst.INCR, sig(data_width=8), Response.SLVERR, "boundary"),
    # 1024-bit bus: 16 beats are 2 KB.
    (0x800, 15, 7, Burst.INCR, sig(data_width=1024), None, None),
    (0xC00, 15, 7, Burst.INCR, sig(data_width=1024), Response.SLVERR, "boundary"),
    (0x840, 0, 7, Burst.INCR, sig(data_width=1024), Response.SLVERR, "not aligned"),
]


@pytest.mark.parametrize("addr, len_, size, burst, signature, response, reason", CASES)
def test_check_burst_cases(addr, len_, size, burst, signature, response, reason):
    assert check_burst(addr, len_, size, burst, signature=signature) is response
    assert check_burst(addr, len_, size, burst, signature=signature.flip()) is response
    problem = burst_problem(addr, len_, size, burst, signature=signature)
    if reason is None:
        assert problem is None
    else:
        assert reason in problem


def test_all_supported_lengths_and_types():
    for beats in range(1, MAX_BURST_BEATS + 1):
        assert check_burst(0, beats - 1, 4, Burst.INCR, signature=S128) is None
    for burst in (Burst.FIXED, Burst.WRAP):
        for len_ in (0, 1, 3, 7, 15):  # legal WRAP lengths too
            assert check_burst(0, len_, 4, burst, signature=S128) is Response.SLVERR


def test_check_burst_arguments():
    numpy = pytest.importorskip("numpy")
    assert check_burst(numpy.int64(0x100), numpy.uint8(3), 4, 1, signature=S128) is None
    with pytest.raises(ValueError, match=r"^addr must be between 0 and 4294967295, not -16$"):
        check_burst(-16, 0, 4, Burst.INCR, signature=S128)
    with pytest.raises(ValueError,
                       match=r"^addr must be between 0 and 4294967295, not 4294967296$"):
        check_burst(1 << 32, 0, 4, Burst.INCR, signature=S128)
    with pytest.raises(ValueError, match=r"^len_ must be between 0 and 255, not 256$"):
        check_burst(0, 256, 4, Burst.INCR, signature=S128)
    with pytest.raises(ValueError, match=r"^size must be between 0 and 7, not 8$"):
        check_burst(0, 0, 8, Burst.INCR, signature=S128)
    with pytest.raises(ValueError, match=r"^burst must be between 0 and 3, not 4$"):
        check_burst(0, 0, 4, 4, signature=S128)
    with pytest.raises(ValueError, match=r"^len_ must be an integer, not True$"):
        check_burst(0, True, 4, Burst.INCR, signature=S128)
    with pytest.raises(ValueError, match=r"^signature must be an AXI4Signature"):
        check_burst(0, 0, 4, Burst.INCR, signature=wiring.Signature({}))
    with pytest.raises(ValueError, match=r"^signature must be an AXI4Signature"):
        unsupported_burst(Signal(32), Signal(8), Signal(3), Signal(Burst),
                          signature=wiring.Signature({}))


def test_constants():
    assert MAX_BURST_BEATS == 16 and BOUNDARY == 4096
    assert [b.value for b in Burst] == [0, 1, 2]
    assert [r.value for r in Response] == [0, 1, 2, 3]
    assert Burst.as_shape().width == 2 and Response.as_shape().width == 2


# --- The hardware twin ----------------------------------------------------------------------

def vectors(signature, count, seed):
    """The edge cases above plus random bursts biased towards the interesting values."""
    rng = random.Random(seed)
    top = (1 << signature.addr_width) - 1
    out = [(a, l, s, b.value if isinstance(b, Burst) else b)
           for a, l, s, b, g, _, _ in CASES if g == signature]
    for _ in range(count):
        addr = rng.choice([
            rng.randrange(0, top + 1),
            rng.randrange(0, top + 1) & ~(signature.beat_bytes - 1),
            # just below a 4 KB boundary, beat-aligned
            ((rng.randrange(0, top + 1) | (BOUNDARY - 1)) - rng.randrange(0, 2048))
            & ~(signature.beat_bytes - 1),
            top - rng.randrange(0, 2048),
        ]) & top
        len_ = rng.choice([rng.randrange(0, 16), rng.randrange(0, 256), 15, 16])
        size = rng.choice([signature.size] * 3 + [rng.randrange(0, 8)])
        burst = rng.choice([1, 1, 1, rng.randrange(0, 4)])
        out.append((addr, len_, size, burst))
    return out


@pytest.mark.parametrize("signature", [S128, sig(data_width=8), sig(64, 1024, 4),
                                       sig(12, 32, 4)], ids=repr)
def test_unsupported_burst_matches_check_burst(signature):
    addr, len_ = Signal(signature.addr_width), Signal(8)
    size, burst = Signal(3), Signal(Burst)
    flag = Signal()
    m = Module()
    m.d.comb += flag.eq(unsupported_burst(addr, len_, size, burst,
                                          signature=signature.flip()))
    cases = vectors(signature, 400, seed=signature.data_width)
    outcomes = {True: 0, False: 0}

    async def testbench(ctx):
        for a, l, s, b in cases:
            ctx.set(addr, a)
            ctx.set(len_, l)
            ctx.set(size, s)
            ctx.set(burst.as_value(), b)
            expected = check_burst(a, l, s, b, signature=signature) is Response.SLVERR
            assert ctx.get(flag) == expected, (hex(a), l, s, b)
            outcomes[expected] += 1

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    assert outcomes[True] > 50 and outcomes[False] > 20  # both outcomes well exercised
