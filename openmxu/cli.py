"""The ``openmxu`` command line: generate Verilog, lint it, run the demo and the benchmarks."""

import argparse
import sys
from pathlib import Path

from .config import Config, DATAFLOWS

__all__ = ["main"]


def _config_arguments(parser):
    defaults = Config()
    parser.add_argument("--rows", type=int, default=defaults.rows,
                        help=f"array rows, 1 to 64 (default {defaults.rows})")
    parser.add_argument("--cols", type=int, default=defaults.cols,
                        help=f"array columns, 1 to 64 (default {defaults.cols})")
    parser.add_argument("--dataflow", choices=DATAFLOWS, default=defaults.dataflow,
                        help=f"weight- or output-stationary (default {defaults.dataflow})")
    parser.add_argument("--operand-width", type=int, default=defaults.operand_width,
                        help=f"signed operand bits (default {defaults.operand_width})")
    parser.add_argument("--acc-width", type=int, default=defaults.acc_width,
                        help=f"signed accumulator bits (default {defaults.acc_width})")


def _config(args):
    return Config(rows=args.rows, cols=args.cols, dataflow=args.dataflow,
                  operand_width=args.operand_width, acc_width=args.acc_width)


def _verilog(args):
    from rtl.systolic import build_array
    from sim.runner import write_verilog
    config = _config(args)
    path = write_verilog(build_array(config), args.output, name=args.name,
                         description=config.describe())
    print(f"wrote {path} ({config.dataflow} {config.rows}x{config.cols} array)")


def _lint(args):
    from .lint import lint
    return lint(Path(args.file))


def _demo(args):
    from .demo import demo
    return demo(_config(args), m=args.m, k=args.k, n=args.n, seed=args.seed)


def _bench(args):
    from .bench import bench
    from .memory_bench import memory_bench
    status = 0
    if args.only in (None, "array"):
        status |= bench(Path(args.output_dir), quick=args.quick)
    if args.only in (None, "memory"):
        status |= memory_bench(Path(args.output_dir), quick=args.quick)
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(prog="openmxu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    verilog = commands.add_parser("verilog", help="write the array's Verilog for a configuration")
    _config_arguments(verilog)
    verilog.add_argument("-o", "--output", default="build/verilog/openmxu_array.v",
                         help="output file (default build/verilog/openmxu_array.v)")
    verilog.add_argument("--name", default="openmxu_array", help="top module name")
    verilog.set_defaults(handler=_verilog)

    lint = commands.add_parser("lint", help="verilator --lint-only -Wall with openmxu's waivers")
    lint.add_argument("file", help="Verilog file written by `openmxu verilog`")
    lint.set_defaults(handler=_lint)

    demo = commands.add_parser("demo", help="run a random matmul through the array on Verilator")
    _config_arguments(demo)
    demo.add_argument("--m", type=int, default=64)
    demo.add_argument("--k", type=int, default=64)
    demo.add_argument("--n", type=int, default=64)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_demo)

    bench = commands.add_parser(
        "bench", help="measure array utilization, memory bandwidth and simulation speed")
    bench.add_argument("--output-dir", default="build/bench")
    bench.add_argument("--quick", action="store_true", help="only the smallest runs")
    bench.add_argument("--only", choices=("array", "memory"),
                       help="run only the array or only the memory-system benchmark")
    bench.set_defaults(handler=_bench)

    args = parser.parse_args(argv)
    try:
        status = args.handler(args)
    except ValueError as error:
        parser.exit(2, f"openmxu {args.command}: error: {error}\n")
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
