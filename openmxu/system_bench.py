"""``openmxu bench --only system``: whole-accelerator matmuls on the RTL with the memory
system, against the analytical model; a table, ``system.json`` and two plots.

Every run is checked bit-exactly against the golden model before its figures count.
"""

import json
import time
from pathlib import Path

import numpy as np

from .config import Config
from .golden import matmul, random_operands

__all__ = ["SHAPES", "QUICK_SHAPES", "measure", "bench_system"]

#: (m, k, n) of the benchmark on the default configuration: squares from small to the
#: 256-cube target, K across several panel chunks, and tall, wide and odd shapes.
SHAPES = [(32, 32, 32), (64, 64, 64), (128, 128, 128), (256, 256, 256), (100, 200, 300),
          (64, 1024, 64), (512, 64, 128), (128, 512, 32), (8, 256, 512)]
QUICK_SHAPES = [(64, 64, 64), (128, 128, 128)]


def measure(config, shapes, *, seed=0):
    """Run every shape (one simulator launch) and return one dict per run with the counters,
    the model's prediction and the simulation speed."""
    from .accelerator import Accelerator
    from .model import PerformanceModel
    accelerator = Accelerator(config)
    model = PerformanceModel(config)
    rng = np.random.default_rng(seed)
    cases = []
    for m, k, n in shapes:
        a, b = random_operands(rng, m, k, n)
        cases.append((a, b, accelerator.plan(a, b)))
    raw = accelerator.run_raw([[job] for _, _, job in cases])
    runs = []
    for (a, b, job), outcome in zip(cases, raw["results"]):
        data = bytes.fromhex(outcome["data"])
        m, k = a.shape
        n = b.shape[1]
        if outcome["error"] or not (job.result(data) == matmul(a, b)).all() \
                or job.untouched(data):
            raise AssertionError(f"{m}x{k}x{n}: the accelerator's result is wrong "
                                 f"(error code {outcome['error']})")
        counters = outcome["counters"]
        prediction = model.predict(m, k, n)
        cycles = counters["cycles"]
        runs.append({
            "m": m, "k": k, "n": n, "rows": config.rows, "cols": config.cols,
            "channels": config.channels, "preset": config.memory_preset,
            "cycles": cycles, "utilization": m * k * n / (cycles * config.macs),
            "model_cycles": prediction.cycles,
            "model_error": prediction.cycles / cycles - 1,
            "bytes": counters["bytes_read"] + counters["bytes_written"],
            "counters": counters,
            "model": prediction.as_dict(),
        })
    speed = raw["sim_cycles"] / raw["sim_seconds"]
    return runs, speed


def _table(runs):
    header = (f"{'m':>5} {'k':>5} {'n':>5} {'cycles':>9} {'model':>9} {'error':>7} "
              f"{'util.':>7} {'active':>7} {'mem.':>6} {'out.':>5} {'B/cycle':>8}")
    lines = [header]
    for run in runs:
        c = run["counters"]
        lines.append(
            f"{run['m']:>5} {run['k']:>5} {run['n']:>5} {run['cycles']:>9,} "
            f"{run['model_cycles']:>9,} {100 * run['model_error']:>6.2f}% "
            f"{100 * run['utilization']:>6.2f}% {100 * c['mac_active'] / run['cycles']:>6.2f}% "
            f"{100 * c['stall_memory'] / run['cycles']:>5.1f}% "
            f"{100 * c['stall_output'] / run['cycles']:>4.1f}% "
            f"{run['bytes'] / run['cycles']:>8.2f}")
    return "\n".join(lines)


def bench_system(output_dir, *, quick=False, config=None):
    from .model import PerformanceModel
    from .plots import plot_utilization, plot_roofline
    config = config or Config()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    shapes = QUICK_SHAPES if quick else SHAPES
    started = time.monotonic()
    runs, speed = measure(config, shapes)
    print(f"system: {config.rows}x{config.cols} array, {config.channels} pseudo-channels, "
          f"{config.memory_preset}; utilization = m*k*n / (cycles * {config.macs} MACs)")
    print(_table(runs))
    worst = max(runs, key=lambda run: abs(run["model_error"]))
    print(f"worst model error: {100 * worst['model_error']:+.2f}% at "
          f"{worst['m']}x{worst['k']}x{worst['n']}")
    print(f"simulation speed: {speed:,.0f} cycles/s (accelerator, memory system and device "
          f"models on Verilator)")
    model = PerformanceModel(config)
    results = {
        "runs": [{key: run[key] for key in ("m", "k", "n", "rows", "cols", "channels",
                                             "preset", "cycles", "utilization",
                                             "model_cycles")} for run in runs],
        "sim_cycles_per_second": speed,
        "details": runs,
        "config": config.as_dict(),
        "peak_macs_per_cycle": config.macs,
        "peak_bytes_per_cycle": model.peak_bytes_per_cycle,
        "seconds": time.monotonic() - started,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path = output_dir / "system.json"
    path.write_text(json.dumps(results, indent=1))
    plot_utilization(runs, output_dir / "system_utilization.png")
    plot_roofline(runs, output_dir / "system_roofline.png",
                  peak_macs_per_cycle=config.macs,
                  peak_bytes_per_cycle=model.peak_bytes_per_cycle)
    print(f"wrote {path}, {output_dir / 'system_utilization.png'} and "
          f"{output_dir / 'system_roofline.png'}")
    return results
