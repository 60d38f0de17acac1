"""The memory system's AXI4 port driven by an independent AXI master model, cocotbext-axi's
``AxiMaster``, in cocotb on Verilator (see :mod:`sim.memory_cocotbext_tb`).

Needs the ``cocotbext-axi`` package (with ``cocotb-bus``); the tests are skipped without it.
"""

import pytest

pytest.importorskip("cocotbext.axi", reason="cocotbext-axi is not installed "
                    "(pip install cocotbext-axi==0.1.28)")

from sim.designs import memory_design  # noqa: E402
from sim.runner import run  # noqa: E402

pytestmark = pytest.mark.xdist_group("memory_1ch_cocotbext")


def _design():
    return memory_design("hbm2-2000", channels=1, ports=1, bank_queue_depth=4)


def test_aligned_lengths():
    """Aligned-start writes and reads of 1 B to 12 KB, byte-exact, strobed tails included."""
    run(_design(), "sim.memory_cocotbext_tb", testcase="aligned_lengths",
        params={"seed": 1}, test_name="cocotbext_aligned_lengths")


def test_unsupported_bursts():
    """cocotbext-axi's unaligned-start, narrow and 32-beat bursts get SLVERR and touch no
    memory; the bursts after an unaligned first one are carried out."""
    run(_design(), "sim.memory_cocotbext_tb", testcase="unsupported_bursts",
        params={"seed": 1}, test_name="cocotbext_unsupported_bursts")


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_random(seed):
    """Thirty rounds of 24 concurrent reads and writes with random backpressure on all channels."""
    run(_design(), "sim.memory_cocotbext_tb", testcase="concurrent_random",
        params={"seed": seed, "rounds": 30, "operations": 24},
        test_name=f"cocotbext_concurrent_random_{seed}")
