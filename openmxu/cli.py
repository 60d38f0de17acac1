"""The ``openmxu`` command line: generate Verilog, lint it, run matmuls on the simulated RTL,
run the demo, the benchmarks and the formal checks."""

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
    parser.add_argument("--channels", type=int, default=defaults.channels,
                        help=f"memory pseudo-channels, a power of two (default "
                             f"{defaults.channels})")
    parser.add_argument("--preset", default=defaults.memory_preset,
                        help=f"memory timing preset (default {defaults.memory_preset})")
    parser.add_argument("--block-m", type=int, default=defaults.block_m,
                        help=f"rows of A per block (default {defaults.block_m})")
    parser.add_argument("--block-k", type=int, default=defaults.block_k,
                        help=f"K elements per A panel row (default {defaults.block_k})")


def _config(args):
    return Config(rows=args.rows, cols=args.cols, dataflow=args.dataflow,
                  operand_width=args.operand_width, acc_width=args.acc_width,
                  channels=args.channels, memory_preset=args.preset, block_m=args.block_m,
                  block_k=args.block_k)


def _verilog(args):
    from rtl.systolic import build_array
    from rtl.top import Accelerator
    from sim.runner import write_verilog
    config = _config(args)
    if args.top == "array":
        top, what = build_array(config), f"{config.dataflow} {config.rows}x{config.cols} array"
    else:
        top = Accelerator(config)
        what = (f"accelerator: {config.rows}x{config.cols} array, {config.channels} "
                f"pseudo-channels ({config.memory_preset})")
    name = args.name or ("openmxu_array" if args.top == "array" else "openmxu")
    output = args.output or f"build/verilog/{name}.v"
    path = write_verilog(top, output, name=name, description=config.describe())
    print(f"wrote {path} ({what})")


def _run(args):
    from .run import run
    config, board = _config(args), None
    if args.memory is not None and args.board is None:
        print("openmxu run: --memory needs --board (it names the bitstream's back-end)",
              file=sys.stderr)
        return 2
    if args.board is not None:
        if args.port is None:
            print("openmxu run: --board needs --port (the board's serial device)",
                  file=sys.stderr)
            return 2
        from boards.catalog import board as find_board
        try:
            board = find_board(args.board)
            if args.memory is not None:
                board = board.with_memory(args.memory)
        except ValueError as error:
            print(f"openmxu run: {error}", file=sys.stderr)
            return 2
        config = board.config
    return run(config, m=args.m, k=args.k, n=args.n, seed=args.seed, out=args.out,
               scale=args.scale, shift=args.shift, relu=args.relu, waves=args.waves,
               port=args.port, baud=args.baud, board=board)


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
    if args.only in (None, "system"):
        from .system_bench import bench_system
        bench_system(Path(args.output_dir), quick=args.quick)
    if args.only in (None, "boards") and not args.quick:
        status |= _board_bench(Path(args.output_dir))
    return status


def _board_bench(output_dir):
    """The board bitstreams: the iCEBreaker's array alone (its 2x4, and a 4x4 with two cells
    on each SB_MAC16), the ULX3S-85F's array alone, the whole ULX3S on its emulated HBM and on
    its SDRAM (place-and-route of each whole board takes about an hour on two cores), with
    their reports copied to ``boards.json``; a timing miss is reported, not fatal. (The
    controller bench is left out: a controller with its default queue does not route in
    hours.)"""
    import json
    from dataclasses import replace
    from boards.build import build, BuildError
    from boards.catalog import board
    from boards.fit import FitError
    reports = {}
    paired = replace(board("icebreaker").config, rows=4, cols=4)
    try:
        reports["icebreaker-array"] = build("icebreaker", array_only=True, check_timing=False)
        reports["icebreaker-array-paired"] = build("icebreaker", config=paired,
                                                   array_only=True, cells_per_dsp=2,
                                                   check_timing=False)
        reports["ulx3s-85f-array"] = build("ulx3s-85f", array_only=True, check_timing=False)
        reports["ulx3s-85f"] = build("ulx3s-85f", check_timing=False)
        reports["ulx3s-85f-sdram"] = build("ulx3s-85f", memory="sdram", check_timing=False)
    except (BuildError, FitError) as error:
        print(f"openmxu bench: a board build failed: {error}", file=sys.stderr)
        return 1
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "boards.json").write_text(json.dumps(reports, indent=2) + "\n")
    return 0


def _bitstream(args):
    from dataclasses import replace
    from boards.build import build, BuildError
    from boards.catalog import board
    from boards.fit import FitError
    chosen = board(args.board)
    changes = {name: value for name, value in (
        ("rows", args.rows), ("cols", args.cols), ("channels", args.channels),
        ("block_m", args.block_m), ("block_k", args.block_k)) if value is not None}
    try:
        if args.memory is not None:
            chosen = chosen.with_memory(args.memory)
        config = replace(chosen.config, **changes)
        build(chosen.name, config=config, memory=chosen.memory, clock_mhz=args.clock_mhz,
              array_mhz=args.array_mhz, array_only=args.array_only,
              controller_only=args.controller_only,
              cells_per_dsp=args.cells_per_dsp, seed=args.seed, build_dir=args.build_dir,
              check_timing=not args.allow_timing_fail)
    except (BuildError, FitError, ValueError) as error:
        print(f"openmxu bitstream: {error}", file=sys.stderr)
        return 1
    return 0


def _formal(args):
    from .formal import formal
    return formal(only=args.only or (), jobs=args.jobs, list_only=args.list,
                  timeout=args.timeout)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="openmxu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    verilog = commands.add_parser(
        "verilog", help="write the accelerator's (or the bare array's) Verilog")
    _config_arguments(verilog)
    verilog.add_argument("--top", choices=("accelerator", "array"), default="accelerator",
                         help="the whole accelerator (rtl/top.py, default) or the array only")
    verilog.add_argument("-o", "--output",
                         help="output file (default build/verilog/<name>.v)")
    verilog.add_argument("--name", help="top module name (default openmxu, or openmxu_array)")
    verilog.set_defaults(handler=_verilog)

    run = commands.add_parser(
        "run", help="a random matmul on the accelerator's RTL with the memory system, "
                    "checked against numpy")
    _config_arguments(run)
    run.add_argument("--m", type=int, default=128)
    run.add_argument("--k", type=int, default=128)
    run.add_argument("--n", type=int, default=128)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", choices=("int32", "int8"), default="int32",
                     help="output: int32 sums or requantized int8 (default int32)")
    run.add_argument("--scale", type=int, default=1, help="int8 requantization scale")
    run.add_argument("--shift", type=int, default=8, help="int8 requantization shift")
    run.add_argument("--relu", action="store_true", help="clamp negative results to 0")
    run.add_argument("--waves", action="store_true",
                     help="record a waveform (a separate, slower build)")
    run.add_argument("--port", metavar="DEVICE",
                     help="run on the board behind this serial port (e.g. /dev/ttyUSB0) "
                          "instead of the simulator; the configuration flags must match the "
                          "board's bitstream")
    run.add_argument("--board", help="with --port: the board's name (make bitstream BOARD=...), "
                                      "whose configuration, memory size and bit rate apply")
    run.add_argument("--memory", help="with --board: the bitstream's memory back-end "
                                       "(default the board's)")
    run.add_argument("--baud", type=int,
                     help="the board's UART bit rate with --port (default 115200)")
    run.set_defaults(handler=_run)

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
    bench.add_argument("--only", choices=("array", "memory", "system", "boards"),
                       help="run only the array, the memory-system, the whole-system "
                            "benchmark, or the ULX3S-85F bitstream build")
    bench.set_defaults(handler=_bench)

    from boards.catalog import BOARDS
    bitstream = commands.add_parser(
        "bitstream", help="build a board's bitstream with the yowasp tools and write "
                          "build/boards/<board>/report.json")
    bitstream.add_argument("--board", choices=sorted(BOARDS), required=True)
    bitstream.add_argument("--memory", help="memory back-end (default the board's)")
    for flag, what in (("rows", "array rows"), ("cols", "array columns"),
                       ("channels", "memory pseudo-channels"),
                       ("block-m", "rows of A per block"),
                       ("block-k", "K elements per A panel row")):
        bitstream.add_argument(f"--{flag}", type=int, help=f"{what} (default the board's)")
    bitstream.add_argument("--build-dir",
                           help="build folder (default build/boards/<board>)")
    bitstream.add_argument("--clock-mhz", type=float,
                           help="target clock of the sync domain: host link, sequencer, "
                                "DMA, memory (default the board's; with --controller-only "
                                "the controller's, 100 MHz on the ULX3S)")
    bitstream.add_argument("--array-mhz", type=float,
                           help="target clock of the systolic array's own domain (default "
                                "the board's)")
    bitstream.add_argument("--array-only", action="store_true",
                           help="build the array alone in its clock domain, fed pseudo-random "
                                "operands (report in build/boards/<board>-array)")
    bitstream.add_argument("--controller-only", action="store_true",
                           help="build one memory channel controller of the board's memory "
                                "preset alone, fed pseudo-random requests and read data "
                                "(report in build/boards/<board>-controller)")
    bitstream.add_argument("--cells-per-dsp", type=int, choices=(1, 2), default=1,
                           help="array cells per DSP block, with --array-only on the "
                                "iCEBreaker: 2 puts two int8 cells on each SB_MAC16 in its "
                                "dual 8x8 mode, 16 cells (--rows 4 --cols 4) on the 8 blocks; "
                                "report in build/boards/<board>-array-paired (default 1)")
    bitstream.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    bitstream.add_argument("--allow-timing-fail", action="store_true",
                           help="write the bitstream and report even if timing is not met")
    bitstream.set_defaults(handler=_bitstream)

    formal = commands.add_parser(
        "formal", help="run the SymbiYosys checks of rtl/formal (protocols, invariants, "
                       "covers, mutations)")
    formal.add_argument("--list", action="store_true",
                        help="list the jobs (name, mode, depth, what they show) and exit")
    formal.add_argument("--only", action="append", metavar="SUBSTRING",
                        help="run only the jobs whose name contains SUBSTRING (repeatable)")
    formal.add_argument("--jobs", type=int, default=2, help="jobs run at once (default 2)")
    formal.add_argument("--timeout", type=int, default=600,
                        help="seconds a job may take before it counts as failed "
                             "(default 600)")
    formal.set_defaults(handler=_formal)

    args = parser.parse_args(argv)
    try:
        status = args.handler(args)
    except ValueError as error:
        parser.exit(2, f"openmxu {args.command}: error: {error}\n")
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
