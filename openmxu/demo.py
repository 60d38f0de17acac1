"""``openmxu demo``: one random int8 matmul through the systolic array on Verilator."""

import json
import tempfile
import time
from pathlib import Path

__all__ = ["demo"]


def run_matmuls(config, cases, *, log_name):
    """Run ``cases`` (see :mod:`sim.harness_tb`) on the harness of ``config``.

    Returns ``(report, build_seconds, log_path)``; ``build_seconds`` is 0.0 for a cached build.
    Raises ``AssertionError`` when a result differs from the golden model.
    """
    from sim.designs import harness_design, HARNESS_DEPTH
    from sim.runner import build, run
    from .golden import operands
    from .tiling import plan_array_matmul
    for case in cases:
        a, b = operands("zeros", case["m"], case["k"], case["n"])
        plan = plan_array_matmul(config, a, b)
        for memory, words in (("A", len(plan.a_words)), ("B", len(plan.b_words)),
                              ("C", plan.c_words)):
            if words > HARNESS_DEPTH:
                raise ValueError(f"{case['m']}x{case['k']}x{case['n']} needs {words} words of "
                                 f"{memory} memory; the harness has {HARNESS_DEPTH}")
    design = harness_design(config)
    build_dir, build_seconds = build(design)
    log = build_dir / "runs" / f"{log_name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "report.json"
        _, total, failed = run(design, "sim.harness_tb", testcase="matmul_cases",
                               params={"config": config.as_dict(), "cases": cases,
                                       "report": str(report_path)},
                               test_name=log_name, log_file=log, check=False)
        report = json.loads(report_path.read_text()) if report_path.exists() else []
    if failed or not total or len(report) != len(cases):
        raise AssertionError(f"the simulation failed; its log is {log}")
    return report, build_seconds, log


def demo(config, *, m, k, n, seed=0):
    """Print PASS/FAIL, cycles and MAC utilization of an m x k x n matmul; return 0 on PASS."""
    from .config import check_int
    for name, value in (("m", m), ("k", k), ("n", n)):
        check_int(name, value, 1, 4096)
    print(f"openmxu demo: {m}x{k}x{n} int8 matmul on the {config.rows}x{config.cols} "
          f"{'weight' if config.dataflow == 'ws' else 'output'}-stationary array "
          f"(int{config.acc_width} accumulators), Verilator")
    started = time.monotonic()
    case = {"kind": "random", "m": m, "k": k, "n": n, "seed": seed}
    try:
        [result], build_seconds, log = run_matmuls(config, [case], log_name="demo")
    except AssertionError as error:
        print(f"  result       FAIL: {error}")
        return 1
    ideal = m * k * n / config.macs
    print(f"  build        {'cached' if not build_seconds else f'{build_seconds:.1f} s'}")
    print(f"  result       PASS: {m * n} int{config.acc_width} values bit-exact with numpy")
    print(f"  cycles       {result['cycles']} (ideal {ideal:.0f} at one MAC per PE per cycle)")
    print(f"  utilization  {100 * result['utilization']:.1f} % of {config.macs} MACs")
    print(f"  wall time    {time.monotonic() - started:.1f} s; simulator log: {log}")
    return 0
