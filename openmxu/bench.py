"""``openmxu bench``: array utilization and simulation speed, printed and written as JSON.

Figures are cycle counts and ratios (stable on a noisy machine), except the simulation speed
and the build time, which are wall-clock and vary with the machine.
"""

import json
import tempfile
import time
from pathlib import Path

from .config import Config

__all__ = ["bench"]

ARRAYS = [(8, 8), (16, 16)]
SIZES = [64, 256]
SPEED_CONFIG = Config(rows=8, cols=8, dataflow="ws")


def _speed(config, size, repeat):
    """Cycles per second of the harness computing with cocotb out of the per-cycle loop."""
    from sim.designs import harness_design
    from sim.runner import run
    design = harness_design(config)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "speed.json"
        run(design, "sim.harness_tb", testcase="compute_speed",
            params={"config": config.as_dict(),
                    "speed": {"m": size, "k": size, "n": size, "repeat": repeat},
                    "speed_report": str(report)},
            test_name="bench_speed", log_file=Path(scratch) / "speed.log")
        return json.loads(report.read_text())


def _build_seconds(config):
    """Seconds the Verilator build of ``config``'s harness took (recorded when it was built)."""
    from sim.designs import harness_design
    from sim.runner import build
    build_dir, _ = build(harness_design(config))
    return json.loads((build_dir / "openmxu-build.json").read_text())["seconds"]


def bench(output_dir, *, quick=False):
    from .demo import run_matmuls
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    arrays = ARRAYS[:1] if quick else ARRAYS
    sizes = SIZES[:1] if quick else SIZES
    runs = []
    print(f"{'array':>7} {'flow':>4} {'m=k=n':>6} {'cycles':>9} {'ideal':>9} {'utilization':>11}")
    for rows, cols in arrays:
        for dataflow in ("ws", "os"):
            config = Config(rows=rows, cols=cols, dataflow=dataflow)
            cases = [{"kind": "random", "m": s, "k": s, "n": s, "seed": s} for s in sizes]
            report, _, _ = run_matmuls(config, cases, log_name="bench")
            for case in report:
                ideal = case["m"] * case["k"] * case["n"] / config.macs
                runs.append({"rows": rows, "cols": cols, "dataflow": dataflow, "m": case["m"],
                             "k": case["k"], "n": case["n"], "cycles": case["cycles"],
                             "utilization": case["utilization"]})
                print(f"{rows:>3}x{cols:<3} {dataflow:>4} {case['m']:>6} {case['cycles']:>9} "
                      f"{ideal:>9.0f} {100 * case['utilization']:>10.2f}%")
    size = sizes[-1]
    speed = _speed(SPEED_CONFIG, size, repeat=1 if quick else 4)
    results = {
        "sim_cycles_per_second": speed["cycles_per_second"],
        "verilator_build_seconds": _build_seconds(SPEED_CONFIG),
        "speed_measurement": {"config": SPEED_CONFIG.as_dict(), "m": size, "k": size, "n": size,
                              "cycles": speed["cycles"], "seconds": speed["seconds"]},
        "runs": runs,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path = output_dir / "array.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"simulation speed: {speed['cycles_per_second']:,.0f} cycles/s "
          f"(8x8 ws harness, {speed['cycles']:,} cycles, cocotb out of the per-cycle loop)")
    print(f"Verilator build of the 8x8 harness: {results['verilator_build_seconds']:.1f} s")
    print(f"wrote {path}")
    return 0
