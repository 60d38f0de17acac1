"""The formal-verification framework (rtl/formal, openmxu/formal.py): every job converts to
RTLIL, the runner gives each job's result and keeps counterexamples, and job descriptions
reject bad fields. The jobs' own verdicts are ``make formal``'s business; here only a few fast
ones run, through SymbiYosys when it is installed."""

import dataclasses
import json

import pytest
from amaranth.hdl import Elaboratable, Fragment, Module
from amaranth.lib import stream

import rtl.formal
from boards.uart import UARTReceiver
from openmxu import formal as runner
from openmxu.cli import main
from rtl.formal import all_jobs, FormalJob
from rtl.formal.checkers import AXI4Checker, StreamChecker, FormalHarness
from rtl.mem.axi import AXI4Signature

JOBS = all_jobs()
JOBS_BY_NAME = {job.name: job for job in JOBS}

#: Fast jobs for the runner test: a k-induction that passes and a mutation that must fail.
PASSING, MUTATION = "stream_uart_receiver", "axi_dma_writer_mutant_drop_wlast"


def _tools_or_skip():
    try:
        return runner.tools(["yices"])
    except runner.ToolsMissing as missing:
        pytest.skip(f"formal tools not installed ({missing})")


@pytest.mark.parametrize("job", JOBS, ids=[job.name for job in JOBS])
def test_every_job_converts_to_rtlil_with_properties(job):
    text = runner.convert(job.build())
    assert "module \\top" in text
    # Amaranth emits every property as a $check cell whose FLAVOR names its kind.
    kind = "cover" if job.mode == "cover" else "assert"
    assert f'FLAVOR "{kind}"' in text


def test_a_design_without_ports_is_refused():
    class Bare(Elaboratable):
        def elaborate(self, platform):
            return Module()
    bare = Bare()
    with pytest.raises(TypeError, match="wiring.Component"):
        runner.convert(bare)
    Fragment.get(bare, None)


def test_sby_script_names_mode_depth_engine_and_design():
    job = JOBS_BY_NAME[PASSING]
    script = runner.sby_script(job, "design.il")
    for line in (f"mode {job.mode}", f"depth {job.depth}", "multiclock off",
                 f"smtbmc {job.solver}", "read_rtlil design.il", "prep -top top"):
        assert line in script.splitlines()


def test_a_clock_crossing_job_runs_multiclock():
    job = JOBS_BY_NAME["crossing_fifo_4"]
    assert job.multiclock
    assert "multiclock on" in runner.sby_script(job, "design.il").splitlines()


def test_job_names_are_unique_and_the_mutations_are_present():
    assert len(JOBS_BY_NAME) == len(JOBS)
    assert any(job.expect == "fail" and "mutant" in job.name for job in JOBS)
    assert any(job.mode == "cover" for job in JOBS)


def test_all_jobs_rejects_duplicate_names(monkeypatch):
    monkeypatch.setattr(rtl.formal, "JOB_MODULES", ("streams", "streams"))
    with pytest.raises(ValueError, match="used by both"):
        rtl.formal.all_jobs()


@pytest.mark.parametrize("field, value, message", [
    ("name", "Bad-Name", "job name"),
    ("name", "", "job name"),
    ("mode", "sim", "mode"),
    ("depth", 0, "depth"),
    ("depth", 1001, "depth"),
    ("depth", True, "depth"),
    ("depth", 2.5, "depth"),
    ("solver", "boolector", "solver"),
    ("expect", "pass?", "expect"),
    ("multiclock", 1, "multiclock"),
])
def test_formal_job_rejects_bad_fields(field, value, message):
    fields = dict(name="job", mode="bmc", depth=4, build=lambda: None, description="d")
    fields[field] = value
    with pytest.raises(ValueError, match=message):
        FormalJob(**fields)


def test_checkers_reject_bad_parameters():
    bus = AXI4Signature(addr_width=12, data_width=8, id_width=4).create()
    with pytest.raises(ValueError, match="role"):
        AXI4Checker(bus, role="master")
    with pytest.raises(ValueError, match="max_reads"):
        AXI4Checker(bus, max_reads=0)
    with pytest.raises(ValueError, match="bounds"):
        AXI4Checker(bus, bounds={"reads": "interconnect"})
    with pytest.raises(ValueError, match="AXI4Signature"):
        AXI4Checker(stream.Signature(8).create())
    with pytest.raises(ValueError, match="role"):
        StreamChecker(stream.Signature(8).create(), role="manager")


def test_checker_roles_follow_the_flows():
    signature = AXI4Signature(addr_width=12, data_width=8, id_width=4)
    checkers = {
        "manager": AXI4Checker(signature.create()),
        "subordinate": AXI4Checker(signature.flip().create()),
        "source": StreamChecker(stream.Signature(8).create()),
        "sink": StreamChecker(stream.Signature(8).flip().create()),
    }
    for role, checker in checkers.items():
        assert checker.role == role
        Fragment.get(checker, None)     # they elaborate on their own


def test_harness_rejects_an_unknown_excluded_member():
    with pytest.raises(ValueError, match="exclude"):
        FormalHarness(UARTReceiver(divisor=4), lambda m, dut, top: None, exclude=("nothing",))


def test_list_prints_every_job(capsys):
    assert main(["formal", "--list"]) == 0
    listed = capsys.readouterr().out
    for job in JOBS:
        assert job.name in listed
    line = next(line for line in listed.splitlines() if line.startswith("crossing_fifo_mutant"))
    assert "(yices, multiclock, must fail)" in line


def test_only_that_matches_nothing_is_an_error(capsys):
    with pytest.raises(SystemExit):
        main(["formal", "--only", "no_such_job"])
    assert "matches no job" in capsys.readouterr().err


def test_runner_reports_results_and_keeps_the_counterexample(tmp_path, monkeypatch):
    _tools_or_skip()
    passing, mutation = JOBS_BY_NAME[PASSING], JOBS_BY_NAME[MUTATION]
    # The same mutation, claimed to pass: the runner must flag it.
    wrong = dataclasses.replace(mutation, name="mutation_claimed_to_pass", expect="pass")
    monkeypatch.setattr(rtl.formal, "all_jobs", lambda: [passing, mutation, wrong])
    printed = []
    status = runner.formal(jobs=2, root=tmp_path, out=printed.append)
    output = "\n".join(printed)

    assert status == 1
    records = {record["name"]: record
               for record in json.loads((tmp_path / "results.json").read_text())}
    assert records[PASSING]["result"] == "PASS"
    assert records[MUTATION]["result"] == "FAIL"
    assert "FAIL (expected)" in output
    assert "mutation_claimed_to_pass gave FAIL, expected PASS" in output
    for name in (MUTATION, "mutation_claimed_to_pass"):
        counterexample = tmp_path / name / "counterexample.vcd"
        assert records[name]["counterexample"] == str(counterexample)
        assert counterexample.stat().st_size > 0
        assert str(counterexample) in output
    assert records[PASSING]["counterexample"] is None
    for name in records:
        assert (tmp_path / name / f"{name}.sby").exists()
        assert (tmp_path / name / f"{name}.il").exists()
