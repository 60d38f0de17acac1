"""Fixtures shared by the test modules."""

import subprocess

import pytest

from openmxu.formal import tools


@pytest.fixture
def yosys(tmp_path):
    """Runs a Yosys script in ``tmp_path``: ``yosys(script)`` returns ``(exit code, log
    text)``."""
    def run(script):
        (tmp_path / "script.ys").write_text(script)
        result = subprocess.run([tools(solvers=())["yosys"], "-q", "-l", "yosys.log",
                                 "script.ys"], cwd=tmp_path, capture_output=True, text=True)
        return result.returncode, (tmp_path / "yosys.log").read_text()
    return run
