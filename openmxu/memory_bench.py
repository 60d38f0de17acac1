"""Memory-system benchmark: bandwidth efficiency per access pattern, aggregate bandwidth over
pseudo-channels, the unloaded row-miss latency and the simulation speed, printed as a table and
written to ``memory.json``.

Every figure is measured on the Verilator model of the memory system with its DRAM timing
models (any timing violation stops the run), driven by hardware traffic generators (no Python
in the per-cycle loop). Efficiency is ``bytes / (cycles * peak bytes per cycle)`` with
refresh on; ``cycles`` runs from the start of a pattern to its last response, so it includes
the latency of the first access and the drain of the last.
"""

import gc
import json
import tempfile
import time
import warnings
from pathlib import Path

from amaranth import UnusedElaboratable

from .dram import preset

__all__ = ["memory_bench", "PATTERNS"]

#: Name, beats per burst, random addresses, read weight, write weight.
PATTERNS = [
    ("sequential read", 16, False, 1, 0),
    ("sequential write", 16, False, 0, 1),
    ("mixed 2:1 read/write", 16, False, 2, 1),
    ("random 32 B", 1, True, 1, 0),
    ("random 64 B", 2, True, 1, 0),
    ("random 256 B", 8, True, 1, 0),
]

PRESETS = ["hbm2-2000", "hbm3-6400"]

#: Pseudo-channel counts of the aggregate sweep.
AGGREGATE_CHANNELS = [1, 2, 4, 8, 16]

#: Address map of the aggregate sweep: the channel field on top, so each port's window is
#: one pseudo-channel, as with one AXI port per pseudo-channel on an HBM stack.
CHANNEL_ON_TOP = ("bank_group", "column", "bank", "row", "channel")

#: Length of each single-channel pattern, in refresh intervals at peak bandwidth.
REFRESH_INTERVALS = 100

#: Rows of every bank the device models store: traffic stays inside them.
STORED_ROWS = 64

#: The band published measurements of HBM2 pseudo-channels report for random 32-64 B reads
#: (30-50 % of peak; AMD's HBM controller 33 % at 64 B).
RANDOM_64B_BAND = (0.30, 0.50)


def _window_log2(timing, channels):
    """Bytes of the stored rows of every bank of ``channels`` channels (the default map puts
    the row on top), as a power of two."""
    return (STORED_ROWS * timing.banks * timing.row_bytes * channels).bit_length() - 1


def _run(design, patterns, name):
    from sim.runner import run
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        run(design, "sim.memory_tb", params={"patterns": patterns, "report": str(report)},
            test_name=name, log_file=Path(scratch) / "sim.log")
        return json.loads(report.read_text())


def _figures(result, timing, channels):
    traffic = result["traffic"]
    moved = sum(port["read_bytes"] + port["write_bytes"] for port in traffic)
    cycles = max(port["cycles"] for port in traffic)
    return {
        "bytes": moved,
        "cycles": cycles,
        "efficiency": moved / (cycles * channels * timing.peak_bytes_per_cycle),
        "refreshes": sum(channel["refreshes"] for channel in result["channels"]),
        # Refresh intervals that elapsed, per channel: the refreshes owed over the run.
        "refresh_intervals": cycles // timing.trefi if timing.refresh_enabled else 0,
        "row_hits": sum(channel["row_hits"] for channel in result["channels"]),
        "row_misses": sum(channel["row_misses"] for channel in result["channels"]),
    }


def _pattern_runs(timing_name, quick):
    from sim.designs import memory_design
    timing = preset(timing_name)
    burst = timing.burst_bytes
    window = _window_log2(timing, 1)
    patterns = []
    for name, beats, random, reads, writes in PATTERNS:
        # About REFRESH_INTERVALS refresh intervals of traffic at peak, so that the
        # refreshes the controller may postpone (up to 8) weigh little (fewer when quick).
        total = (REFRESH_INTERVALS * timing.trefi * timing.peak_bytes_per_cycle
                 // (beats * burst))
        total = max(200, total // 20 if quick else total)
        patterns.append({"name": name, "beats": beats, "random": int(random),
                         "read_weight": reads, "write_weight": writes, "bursts": total,
                         "window_log2": window, "bases": [0]})
    results = _run(memory_design(timing_name, channels=1, ports=1, traffic=True,
                                 stored_rows=STORED_ROWS),
                   patterns, f"bench_{timing_name}")
    rows = []
    for pattern, result in zip(patterns, results):
        rows.append({"preset": timing_name, "pattern": pattern["name"], "channels": 1,
                     **_figures(result, timing, 1)})
    return rows


def _aggregate_runs(quick):
    from sim.designs import memory_design
    timing = preset("hbm2-2000")
    counts = AGGREGATE_CHANNELS[:3] if quick else AGGREGATE_CHANNELS
    window = _window_log2(timing, 1)
    per_channel_capacity = timing.capacity_bytes
    bursts = 400 if quick else 2000
    rows, speeds = [], {}
    for channels in counts:
        pattern = {"name": "sequential read", "beats": 16, "random": 0, "read_weight": 1,
                   "write_weight": 0, "bursts": bursts, "window_log2": window,
                   "bases": [c * per_channel_capacity for c in range(channels)]}
        design = memory_design("hbm2-2000", channels=channels, ports=channels, traffic=True,
                               order=CHANNEL_ON_TOP, stored_rows=STORED_ROWS)
        result, = _run(design, [pattern], f"bench_aggregate_{channels}")
        figures = _figures(result, timing, channels)
        rows.append({"preset": "hbm2-2000", "pattern": "aggregate sequential read",
                     "channels": channels, **figures})
        speeds[channels] = {"cycles": figures["cycles"], "seconds": result["seconds"],
                            "cycles_per_second": figures["cycles"] / result["seconds"]}
    return rows, speeds


def _row_miss_latency():
    """The unloaded row-miss (and row-hit) read latency from an AR handshake to the first
    RVALID, measured by ``sim.memory_axi_tb.row_miss_latency`` on every bank it tries, which
    also asserts that it equals :meth:`rtl.mem.system.MemorySystem.read_latency`."""
    from rtl.mem.system import MemorySystem
    from sim.designs import memory_design
    from sim.runner import run
    with warnings.catch_warnings():
        # Built only to ask for its figures, never elaborated.
        warnings.simplefilter("ignore", UnusedElaboratable)
        system = MemorySystem(timing="hbm2-2000")
        expected, expected_hit = system.read_latency(), system.read_latency(row_hit=True)
        del system
        gc.collect()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "latency.json"
        run(memory_design("hbm2-2000", channels=1, ports=1, stored_rows=STORED_ROWS),
            "sim.memory_axi_tb", testcase="row_miss_latency",
            params={"timing": "hbm2-2000", "channels": 1, "ports": 1,
                    "read_latency": expected, "read_latency_hit": expected_hit,
                    "report": str(report)},
            test_name="bench_latency", log_file=Path(scratch) / "sim.log")
        measured = json.loads(report.read_text())["measured"]
    device = preset("hbm2-2000").row_miss_read_latency
    return {"measured": max(m["miss"] for m in measured), "expected": expected,
            "all_measured": sorted({m["miss"] for m in measured}),
            "device_cycles": device, "pipeline_cycles": expected - device,
            "row_hit": {"measured": max(m["hit"] for m in measured),
                        "expected": expected_hit}}


def memory_bench(output_dir, *, quick=False):
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    print(f"{'preset':<10} {'pattern':<26} {'ch':>3} {'bytes':>10} {'cycles':>9} "
          f"{'efficiency':>10}")
    rows = []

    def show(row):
        print(f"{row['preset']:<10} {row['pattern']:<26} {row['channels']:>3} "
              f"{row['bytes']:>10} {row['cycles']:>9} {100 * row['efficiency']:>9.1f}%",
              flush=True)

    for timing_name in PRESETS:
        for row in _pattern_runs(timing_name, quick):
            rows.append(row)
            show(row)
    aggregate, speeds = _aggregate_runs(quick)
    for row in aggregate:
        rows.append(row)
        show(row)
    latency = _row_miss_latency()
    speed_channels = 4 if 4 in speeds else max(speeds)
    single = next(r for r in aggregate if r["channels"] == 1)["efficiency"]
    checks = {
        "sequential_read_per_channel": {
            preset_name: next(r["efficiency"] for r in rows if r["preset"] == preset_name
                              and r["pattern"] == "sequential read") for preset_name in PRESETS},
        "random_64B": {"efficiency": next(r["efficiency"] for r in rows
                                          if r["preset"] == "hbm2-2000"
                                          and r["pattern"] == "random 64 B"),
                       "band": RANDOM_64B_BAND},
        "aggregate_over_channels_x_single": {
            str(r["channels"]): r["efficiency"] / single for r in aggregate},
    }
    results = {
        "patterns": rows,
        "row_miss_latency": latency,
        "sim_cycles_per_second": speeds[speed_channels]["cycles_per_second"],
        "sim_speed_measurement": {"channels": speed_channels, **speeds[speed_channels],
                                  "all": {str(k): v for k, v in speeds.items()}},
        "targets": checks,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path = output_dir / "memory.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"row-miss read latency (AR handshake to first RVALID): {latency['measured']} cycles, "
          f"expected {latency['expected']} ({latency['device_cycles']} device + "
          f"{latency['pipeline_cycles']} pipeline)")
    print(f"simulation speed: {results['sim_cycles_per_second']:,.0f} cycles/s "
          f"({speed_channels} channels under sequential-read traffic)")
    print(f"wrote {path}")
    return 0
