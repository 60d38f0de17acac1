"""The address map: layout, validation, encode/decode round trips, and the RTL decoder."""

import random

import pytest
from amaranth.sim import Simulator

from openmxu.address_map import AddressMap, DEFAULT_ORDER, FIELDS
from openmxu.dram import PRESETS, preset
from rtl.mem import AddressDecoder

ORDERS = [
    DEFAULT_ORDER,
    ("column", "bank_group", "bank", "row", "channel"),     # one row after another
    ("channel", "bank_group", "bank", "column", "row"),     # channel interleave per burst
    tuple(reversed(DEFAULT_ORDER)),
]
FIELD_NAMES = ("channel", "bank_group", "bank", "row", "column", "offset")


def test_default_layout_for_hbm2():
    amap = AddressMap(channels=4)
    # offset 5 bits (32 B), bank group 2, column 5 (32 bursts per 1 KB row), bank 2,
    # channel 2, row 14: 30 bits = 4 channels x 256 MB.
    assert amap.widths == {"offset": 5, "channel": 2, "bank_group": 2, "bank": 2,
                           "row": 14, "column": 5}
    assert amap.address_bits == 30 and amap.capacity_bytes == 4 * (256 << 20)
    assert amap.describe() == ["row [29:16]", "channel [15:14]", "bank [13:12]",
                               "column [11:7]", "bank_group [6:5]", "offset [4:0]"]
    assert amap.decode(0x20 * 5 + 3) == dict(channel=0, bank_group=1, bank=0, row=0,
                                             column=1, offset=3)
    # Consecutive bursts go to different bank groups, so they stream at tCCD_S.
    groups = [amap.decode(32 * i)["bank_group"] for i in range(8)]
    assert groups == [0, 1, 2, 3, 0, 1, 2, 3]
    assert amap.encode(row=(1 << 14) - 1, channel=3) == amap.capacity_bytes - (1 << 14)


def test_sdr_map_has_no_bank_group_or_channel_bits():
    amap = AddressMap("sdr")
    assert amap.widths["bank_group"] == 0 and amap.widths["channel"] == 0
    assert amap.capacity_bytes == 32 << 20
    assert amap.decode(amap.capacity_bytes - 1) == dict(channel=0, bank_group=0, bank=3,
                                                        row=8191, column=63, offset=15)


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("channels", [1, 2, 8, 32])
def test_round_trip(name, order, channels):
    amap = AddressMap(preset(name), channels=channels, order=order)
    assert amap.capacity_bytes == channels * preset(name).capacity_bytes
    rng = random.Random(f"{name}{order}{channels}")
    for address in [0, amap.capacity_bytes - 1] + [rng.randrange(amap.capacity_bytes)
                                                   for _ in range(200)]:
        fields = amap.decode(address)
        assert list(fields) == list(FIELD_NAMES)
        assert amap.encode(**fields) == address
    counts = amap.counts
    for _ in range(50):
        fields = {name: rng.randrange(counts[name]) for name in FIELD_NAMES}
        assert amap.decode(amap.encode(**fields)) == fields


@pytest.mark.parametrize("kwargs,message", [
    (dict(channels=3), "channels must be a power of two between 1 and 32, not 3"),
    (dict(channels=64), "channels must be between 1 and 32 and a power of two, not 64"),
    (dict(channels=0), "channels must be between 1 and 32 and a power of two, not 0"),
    (dict(timing="ddr4"), "timing preset must be one of 'hbm2-2000', 'hbm3-6400', 'sdr', "
                          "'ideal', not 'ddr4'"),
    (dict(timing=3), "timing must be a TimingPreset or a preset name, not 3"),
    (dict(order=("bank_group", "column", "bank", "row")),
     "order must be a permutation of 'channel', 'bank_group', 'bank', 'row', 'column', "
     "not ('bank_group', 'column', 'bank', 'row')"),
    (dict(order=("bank_group", "column", "bank", "row", "row")),
     "order must be a permutation of 'channel', 'bank_group', 'bank', 'row', 'column', "
     "not ('bank_group', 'column', 'bank', 'row', 'row')"),
    (dict(order=("bank_group", "column", "bank", "row", "rank")),
     "order must be a permutation of 'channel', 'bank_group', 'bank', 'row', 'column', "
     "not ('bank_group', 'column', 'bank', 'row', 'rank')"),
    (dict(order="row"), "order must be a sequence of field names, not 'row'"),
])
def test_invalid_maps(kwargs, message):
    with pytest.raises(ValueError) as info:
        AddressMap(**kwargs)
    assert str(info.value) == message


def test_order_may_be_any_sequence():
    assert AddressMap(order=list(reversed(FIELDS))).order == tuple(reversed(FIELDS))


def test_out_of_range_addresses_and_fields():
    amap = AddressMap(channels=2)                         # 29 bits
    for address in (-1, 1 << 29):
        with pytest.raises(ValueError, match=f"address must be between 0 and {(1 << 29) - 1}, "
                                             f"not {address}"):
            amap.decode(address)
    with pytest.raises(ValueError, match="address must be an integer"):
        amap.decode(1.0)
    with pytest.raises(ValueError, match="channel must be between 0 and 1, not 2"):
        amap.encode(channel=2)
    with pytest.raises(ValueError, match="column must be between 0 and 31, not 32"):
        amap.encode(column=32)
    with pytest.raises(ValueError, match="offset must be between 0 and 31, not -1"):
        amap.encode(offset=-1)
    with pytest.raises(TypeError):
        amap.encode(rank=0)


def test_decoder_rejects_non_maps():
    with pytest.raises(ValueError, match="address_map must be an AddressMap, not 'sdr'"):
        AddressDecoder(address_map="sdr")


@pytest.mark.parametrize("amap", [
    AddressMap(channels=4),
    AddressMap("hbm3-6400", channels=32, order=ORDERS[2]),
    AddressMap("sdr", order=ORDERS[1]),
    AddressMap("ideal", channels=2, order=ORDERS[3]),
], ids=repr)
def test_rtl_decoder_agrees_with_python(amap):
    dut = AddressDecoder(address_map=amap)
    assert repr(dut) == f"AddressDecoder(address_map={amap!r})"
    rng = random.Random(repr(amap))
    addresses = [0, amap.capacity_bytes - 1] + [rng.randrange(amap.capacity_bytes)
                                                for _ in range(300)]

    async def testbench(ctx):
        for address in addresses:
            ctx.set(dut.address, address)
            got = {name: ctx.get(dut.fields[name]) for name in FIELD_NAMES}
            assert got == amap.decode(address), hex(address)

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
