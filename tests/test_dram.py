"""Timing presets: validation, and the analytical figures checked against hand arithmetic."""

import dataclasses

import pytest

from openmxu.dram import PRESETS, DEFAULT_PRESET, TimingPreset, preset


def test_presets_by_name():
    assert set(PRESETS) == {"hbm2-2000", "hbm3-6400", "sdr", "ideal"}
    assert DEFAULT_PRESET == "hbm2-2000" and preset() is PRESETS["hbm2-2000"]
    for name, timing in PRESETS.items():
        assert preset(name) is timing and timing.name == name
    with pytest.raises(ValueError, match="timing preset must be one of 'hbm2-2000', "
                                         "'hbm3-6400', 'sdr', 'ideal', not 'ddr4'"):
        preset("ddr4")


# name: (peak B/cycle, peak GB/s, refresh overhead, worst refresh overhead,
#        refresh-limited peak B/cycle, row-hit latency, row-miss latency), by hand:
FIGURES = {
    # 32 B per RD every tCCD_S = 2 cycles -> 16 B/cycle; at tCK 1 ns 16 GB/s (x 16 pseudo-
    # channels = 256 GB/s per stack). Refresh 350 / 3900 = 8.974 %; worst (tRTP 5 + tRP 14 +
    # tRFC 350 + tRCD 14) / 3900 = 383 / 3900 = 9.821 %. Refresh-limited 16 x 3550 / 3900
    # = 14.564. Row miss tRP 14 + tRCD 14 + CL 14 = 42 cycles = 42 ns.
    "hbm2-2000": (16, 16.0, 350 / 3900, 383 / 3900, 16 * 3550 / 3900, 14, 42),
    # 32 B every 2 cycles -> 16 B/cycle; / 0.625 ns = 25.6 GB/s (x 32 = 819.2 GB/s per
    # stack). Refresh 560 / 6240 = 8.974 %; worst (9 + 26 + 560 + 31) / 6240 = 626 / 6240
    # = 10.03 %. Refresh-limited 16 x 5680 / 6240 = 14.564. Row miss 26 + 31 + 20 = 77.
    "hbm3-6400": (16, 25.6, 560 / 6240, 626 / 6240, 16 * 5680 / 6240, 20, 77),
    # 16 B per BL8 burst every 8 cycles -> 2 B/cycle; / 10 ns = 0.2 GB/s. Refresh 7 / 780
    # = 0.897 %; worst (8 + 2 + 7 + 2) / 780 = 19 / 780 = 2.44 %. Refresh-limited
    # 2 x 773 / 780 = 1.982. Row miss 2 + 2 + 2 = 6 cycles = 60 ns.
    "sdr": (2, 0.2, 7 / 780, 19 / 780, 2 * 773 / 780, 2, 6),
    # 32 B every 2 cycles, no refresh; row miss 1 + 1 + 1 = 3.
    "ideal": (16, 16.0, 0, 0, 16, 1, 3),
}


@pytest.mark.parametrize("name", FIGURES)
def test_analytical_figures(name):
    peak, gbps, refresh, worst, limited, hit, miss = FIGURES[name]
    timing = preset(name)
    assert timing.peak_bytes_per_cycle == pytest.approx(peak)
    assert timing.peak_gbytes_per_second == pytest.approx(gbps)
    assert timing.refresh_overhead == pytest.approx(refresh)
    assert timing.refresh_overhead_worst == pytest.approx(worst)
    assert timing.refresh_limited_peak_bytes_per_cycle == pytest.approx(limited)
    assert timing.row_hit_read_latency == hit
    assert timing.row_miss_read_latency == miss
    assert any(line.startswith(f"name = {name!r}") for line in timing.describe())


def test_hbm_figures_match_the_reference():
    # hbm.md: refresh costs "about 8-10 %"; stacks give 256 and 819 GB/s; row-miss latency
    # is (tRP + tRCD + CL) x tCK.
    hbm2, hbm3 = preset("hbm2-2000"), preset("hbm3-6400")
    for timing in (hbm2, hbm3):
        assert 0.08 <= timing.refresh_overhead <= timing.refresh_overhead_worst <= 0.101
        assert timing.burst_cycles == 2 and timing.columns == 32 and timing.banks_per_group == 4
    assert 16 * hbm2.peak_gbytes_per_second == pytest.approx(256)
    assert 32 * hbm3.peak_gbytes_per_second == pytest.approx(819.2)
    assert hbm3.row_miss_read_latency * hbm3.tck_ns == pytest.approx(48.125)
    assert hbm2.capacity_bytes == 256 << 20 and hbm3.capacity_bytes == 512 << 20


def test_sdr_is_the_ulx3s_part():
    sdr = preset("sdr")
    assert sdr.capacity_bytes == 32 << 20                 # 4 banks x 8192 rows x 1 KB
    assert sdr.columns * sdr.burst_bytes // 2 == 512      # 512 16-bit columns per row
    assert sdr.trefi * sdr.tck_ns * 8192 <= 64e6           # 8192 refreshes within 64 ms
    assert (sdr.tccd_s, sdr.tccd_l, sdr.burst_cycles) == (8, 8, 8)


def test_ideal_has_no_refresh():
    ideal = preset("ideal")
    assert not ideal.refresh_enabled and ideal.trfc == 0
    assert ideal.refresh_limited_peak_bytes_per_cycle == ideal.peak_bytes_per_cycle


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "name must be a non-empty string, not ''"),
    ("tck_ns", 0, "tck_ns must be a number above 0 and at most 1000, not 0"),
    ("tck_ns", True, "tck_ns must be a number above 0 and at most 1000, not True"),
    ("data_bytes_per_cycle", 12, "data_bytes_per_cycle must be a power of two between 1 and "
                                 "1024, not 12"),
    ("data_bytes_per_cycle", 64, "burst_bytes must be between 64 and 4096 and a power of two, "
                                 "not 32"),
    ("burst_bytes", 48, "burst_bytes must be a power of two between 16 and 4096, not 48"),
    ("banks", 12, "banks must be a power of two between 1 and 256, not 12"),
    ("banks", 2, "bank_groups must be between 1 and 2 and a power of two, not 4"),
    ("bank_groups", 3, "bank_groups must be a power of two between 1 and 16, not 3"),
    ("row_bytes", 16, "row_bytes must be between 32 and 1048576 and a power of two, not 16"),
    ("rows", 10000, "rows must be a power of two between 1 and 16777216, not 10000"),
    ("rows", 2.0, "rows must be an integer, not 2.0"),
    ("cl", 0, "cl must be between 1 and 65535, not 0"),
    ("cwl", -1, "cwl must be between 0 and 65535, not -1"),
    ("trcd_rd", 0, "trcd_rd must be between 1 and 65535, not 0"),
    ("trp", 0, "trp must be between 1 and 65535, not 0"),
    ("trc", 47, "trc must be between 48 and 65535 (at least tras + trp = 48, so tras <= trc), "
                "not 47"),
    ("tras", 49, "trc must be between 63 and 65535 (at least tras + trp = 63, so tras <= trc), "
                 "not 48"),
    ("tccd_s", 1, "tccd_s must be between 2 and 65535 (at least the burst cycles, "
                  "burst_bytes / data_bytes_per_cycle = 2), not 1"),
    ("tccd_l", 1, "tccd_l must be between 2 and 65535 (at least tccd_s), not 1"),
    ("trrd_l", 3, "trrd_l must be between 4 and 65535 (at least trrd_s), not 3"),
    ("twtr_l", 5, "twtr_l must be between 6 and 65535 (at least twtr_s), not 5"),
    ("trfc", 3900, "trfc must be between 1 and 3899 (below trefi), not 3900"),
    ("trefi", 0, "trfc must be 0 when trefi is 0 (refresh disabled), not 350"),
    ("trefi", 1 << 16, "trefi must be between 0 and 65535, not 65536"),
    ("max_postponed_refreshes", 9, "max_postponed_refreshes must be between 0 and 8, not 9"),
])
def test_invalid_values_name_parameter_value_and_range(field, value, message):
    with pytest.raises(ValueError) as info:
        preset("hbm2-2000").replace(**{field: value})
    assert str(info.value) == message


def test_presets_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset().cl = 3
    custom = preset("sdr").replace(name="sdr-cl3", cl=3)
    assert isinstance(custom, TimingPreset) and custom.row_miss_read_latency == 7
