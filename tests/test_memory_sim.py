"""The memory system through its AXI4 ports in cocotb on Verilator: a Python AXI4 manager
(:mod:`sim.axi_manager`) per port against :class:`sim.memory.MemoryTestbench` with a
timing-checked device model per channel (:mod:`sim.memory_axi_tb`).

Two designs, each built once (``xdist_group``):

* ``hbm2-2000``, 2 channels, 2 ports, the default address map, ``bank_queue_depth=4``: random
  traffic, ID ordering, refresh and starvation under load, unloaded latencies.
* ``hbm2-2000``, 2 channels, 1 port, the channel as the lowest address field (consecutive
  beats alternate channels), with 32-bit AXI addresses (wider than the 29-bit map, so bursts
  past the capacity reach the port and must get DECERR), ``bank_queue_depth=2`` and 8 bursts in
  flight per direction (a small build): channel split, decode errors.

The tests alternate between the designs in this file: with pytest 9.2, pytest-xdist 3.8's
``--dist loadgroup`` does not group (it renames ``item._nodeid``, which pytest 9 no longer
reads), so tests are dealt out to the workers in turn, and the alternation makes the two
workers build the two designs in parallel (the runner's build lock keeps a design from being
built twice).
"""

import functools
import gc
import json
import warnings

import pytest
from amaranth import UnusedElaboratable

from openmxu.address_map import DEFAULT_ORDER
from rtl.mem.system import MemorySystem
from sim.designs import memory_design
from sim.runner import run

TIMING = "hbm2-2000"
CHANNEL_ORDER = ("channel", "bank_group", "column", "bank", "row")
WIDE_ADDRESS_BITS = 32
SPLIT_BURSTS = 8

MAIN = dict(timing=TIMING, channels=2, ports=2, order=DEFAULT_ORDER, bank_queue_depth=4)
SPLIT = dict(timing=TIMING, channels=2, ports=1, order=CHANNEL_ORDER, bank_queue_depth=2)

main_group = pytest.mark.xdist_group("memory_axi_2ch_2p")
split_group = pytest.mark.xdist_group("memory_axi_2ch_1p_channel_a32")


def _main_design():
    return memory_design(TIMING, channels=2, ports=2, bank_queue_depth=MAIN["bank_queue_depth"])


def _split_design():
    # A small build: neither test needs a deep queue or many bursts in flight. The ports
    # are wider than the address map, so bursts can reach past the capacity (DECERR).
    return memory_design(TIMING, channels=2, ports=1, order=CHANNEL_ORDER,
                         bank_queue_depth=SPLIT["bank_queue_depth"], address_bits=WIDE_ADDRESS_BITS,
                         read_bursts=SPLIT_BURSTS, write_bursts=SPLIT_BURSTS)


@functools.cache
def _system_figures():
    """The figures the tests expect, from the main design's :class:`MemorySystem` (built
    only to ask it, so its unused-elaboratable warnings are dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        system = MemorySystem(**MAIN)
        figures = {"read_latency": system.read_latency(),
                   "read_latency_hit": system.read_latency(row_hit=True),
                   "starvation_limit": system.controller.starvation_limit,
                   "bank_queue_depth": system.controller.bank_queue_depth}
        del system
        gc.collect()
    return figures


def _params(config, **extra):
    return {**config, "order": list(config["order"]), **extra}


def _run(design, testcase, params, tmp_path):
    report = tmp_path / "report.json"
    run(design, "sim.memory_axi_tb", testcase=testcase,
        params={**params, "report": str(report)}, test_name=testcase)
    figures = json.loads(report.read_text())
    print(f"{testcase}: {json.dumps(figures)}")
    return figures


@main_group
def test_random_traffic(tmp_path):
    """Both ports: random reads and writes (1-16 beats, random IDs and strobes, regions
    across channel and row boundaries), backpressure on all channels, a byte scoreboard,
    guard bytes, and the channels' counters equal to the beats issued."""
    _run(_main_design(), "random_traffic", _params(MAIN, seed=7, ops=400), tmp_path)


@split_group
def test_decode_errors(tmp_path):
    """DECERR past the capacity (no aliasing), SLVERR for FIXED, WRAP, narrow, unaligned,
    4 KB-crossing and over-long bursts; memory untouched, all beats exchanged, the port
    still working."""
    _run(_split_design(), "decode_errors", _params(SPLIT, seed=11), tmp_path)


@main_group
def test_refresh_and_starvation(tmp_path):
    """40,000 cycles (over ten tREFI, so that the controller reaches its limit of postponed
    refreshes) of row hits from one port against row misses from the other: bounded burst
    latency (from the starvation limit), refreshes keep up with tREFI, no device error,
    reads correct."""
    _run(_main_design(), "refresh_and_starvation",
         _params(MAIN, seed=5, cycles=40_000, **_system_figures()), tmp_path)


@split_group
def test_channel_split(tmp_path):
    """16-beat bursts split beat by beat over two channels and put back together."""
    _run(_split_design(), "channel_split", _params(SPLIT, seed=13), tmp_path)


@main_group
def test_id_ordering(tmp_path):
    """Out of order across IDs (a row hit overtakes a row miss), in order within one ID,
    for R and for B."""
    _run(_main_design(), "id_ordering", _params(MAIN, seed=3), tmp_path)


@main_group
def test_row_miss_latency(tmp_path):
    """Unloaded reads take exactly ``MemorySystem.read_latency()`` cycles from AR to the
    first RVALID on a row miss, and ``read_latency(row_hit=True)`` on a hit, from every
    port to every channel."""
    _run(_main_design(), "row_miss_latency", _params(MAIN, **_system_figures()), tmp_path)


# --- bandwidth against the preset's analytical figures ---------------------------------------

@pytest.mark.xdist_group("memory_1ch_traffic")
def test_sequential_read_bandwidth_against_analytical_peaks(tmp_path):
    """A hardware traffic generator streams 16-beat reads through one HBM2-2000
    pseudo-channel (the default controller: 32-entry queue) for about ten refresh intervals.
    The preset's analytical figures are 16 B/cycle peak and 14.56 B/cycle with refresh; the
    measured bandwidth must reach 90 % of peak and stay below the peak less the time the
    run's refreshes blocked the bus (tRFC each), and refreshes must keep pace with tREFI."""
    from openmxu.dram import preset
    timing = preset(TIMING)
    assert timing.peak_bytes_per_cycle == 16
    assert timing.refresh_limited_peak_bytes_per_cycle == pytest.approx(16 * (1 - 350 / 3900))
    bursts = 10 * timing.trefi * timing.peak_bytes_per_cycle // (16 * timing.burst_bytes)
    pattern = {"name": "sequential read", "beats": 16, "random": 0, "read_weight": 1,
               "write_weight": 0, "bursts": bursts, "window_log2": 20, "bases": [0]}
    report = tmp_path / "report.json"
    run(memory_design(TIMING, traffic=True), "sim.memory_tb",
        params={"patterns": [pattern], "report": str(report)}, test_name="bandwidth")
    result, = json.loads(report.read_text())
    traffic, channel = result["traffic"][0], result["channels"][0]
    cycles, moved = traffic["cycles"], traffic["read_bytes"]
    assert moved == bursts * 16 * timing.burst_bytes and traffic["errors"] == 0
    assert channel["bytes"] == moved and channel["reads"] == bursts * 16
    bandwidth = moved / cycles
    owed = timing.max_postponed_refreshes
    refreshes_due = cycles // timing.trefi
    assert channel["refreshes"] >= refreshes_due - owed - 1
    # Each REF keeps the data bus idle for at least tRFC, except one that falls after the
    # last RD, while the run's last data drains.
    ceiling = timing.peak_bytes_per_cycle * (
        1 - (max(0, channel["refreshes"] - 1) * timing.trfc) / cycles)
    print(f"sequential read: {bandwidth:.3f} B/cycle over {cycles} cycles "
          f"({bandwidth / timing.peak_bytes_per_cycle:.2%} of peak), "
          f"{channel['refreshes']} refreshes; ceiling with those refreshes {ceiling:.3f}")
    assert bandwidth >= 0.9 * timing.peak_bytes_per_cycle
    assert bandwidth <= ceiling
