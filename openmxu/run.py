"""``openmxu run``: a random matmul on the accelerator's RTL with the memory system (or, with
``port``, on a board over its serial host link), checked against the golden model, with its
figures and the performance model's prediction."""

import time

import numpy as np

from .golden import matmul, output_stage, random_operands

__all__ = ["run"]


def run(config, *, m, k, n, seed=0, out="int32", scale=1, shift=8, relu=False, waves=False,
        port=None, baud=None, board=None):
    """Run and report; returns 0 on PASS, 1 on FAIL. With ``port`` (a serial device), run on
    the board behind it instead of the simulator; ``board`` (a :class:`boards.catalog.Board`)
    then gives the bit rate and the memory size."""
    from .accelerator import Accelerator, AcceleratorError
    from .model import PerformanceModel
    if port is not None:
        accelerator = Accelerator(config, backend="serial", port=port, baud=baud, waves=waves,
                                  board=board)
    else:
        accelerator = Accelerator(config, waves=waves)
    model = PerformanceModel(config)
    rng = np.random.default_rng(seed)
    a, b = random_operands(rng, m, k, n)
    options = dict(out=out, relu=relu)
    if out == "int8":
        options.update(scale=scale, shift=shift)
    expected = output_stage(matmul(a, b), **options)
    print(f"openmxu run: C = A x B with M={m} K={k} N={n} (seed {seed}, {out} out"
          f"{', ReLU' if relu else ''}) on a {config.rows}x{config.cols} array, "
          f"{config.channels} pseudo-channels, {config.memory_preset}"
          + (f" (board on {port} at {accelerator.baud} baud)" if port is not None else ""))
    started = time.monotonic()
    try:
        got = accelerator.matmul(a, b, **options)
    except AcceleratorError as error:
        print(f"FAIL: {error}")
        return 1
    finally:
        accelerator.close()
    seconds = time.monotonic() - started
    mismatches = np.argwhere(got != expected)
    stats = accelerator.last_stats
    prediction = model.predict(m, k, n)
    verdict = "PASS" if len(mismatches) == 0 else "FAIL"
    detail = ("bit-exact with numpy" if verdict == "PASS" else
              f"{len(mismatches)} of {got.size} elements differ, first at "
              f"{tuple(int(i) for i in mismatches[0])}")
    print(f"{verdict}: {detail}")
    bytes_moved = stats.bytes_read + stats.bytes_written
    print(f"cycles            {stats.cycles:>12,}   (ideal {m * k * n / config.macs:,.0f})")
    print(f"utilization       {100 * stats.utilization:>11.2f}%   (array active "
          f"{100 * stats.array_active:.2f}%, stalled on memory "
          f"{100 * stats.stall_memory / stats.cycles:.2f}%, on output "
          f"{100 * stats.stall_output / stats.cycles:.2f}%)")
    print(f"bandwidth         {stats.bytes_per_cycle:>12.2f} B/cycle   ({stats.bytes_read:,} B "
          f"read, {stats.bytes_written:,} B written; "
          f"{bytes_moved / stats.cycles * config.clock_mhz / 1000:.2f} GB/s at "
          f"{config.clock_mhz:g} MHz)")
    print(f"model             {prediction.cycles:>12,}   cycles predicted, "
          f"{100 * (prediction.cycles / stats.cycles - 1):+.2f}% from the RTL")
    run_info = accelerator.last_run
    if port is not None:
        print(f"board             {seconds:>12.1f} s for the whole call over {port} "
              f"({run_info['sim_seconds']:.2f} s from COMMAND to idle, polling included)")
        return 0 if verdict == "PASS" else 1
    print(f"simulation        {run_info['sim_cycles'] / run_info['sim_seconds']:>12,.0f} "
          f"cycles/s   ({seconds:.1f} s for the whole call, build included if it was not "
          f"cached)")
    return 0 if verdict == "PASS" else 1
