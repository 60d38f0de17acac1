"""The Python API: ``openmxu.Accelerator(config).matmul(a, b)`` on the RTL.

The ``"sim"`` backend runs the accelerator with its memory system and device models in
Verilator (built once per configuration and cached); every call loads A and B through the
host port, writes the descriptor registers, waits for the command and reads C back, exactly
as a board's host link does.
"""

import json
import tempfile
from dataclasses import dataclass, asdict
from pathlib import Path

from .config import Config
from .driver import plan_matmul, job_to_json
from .registers import ErrorCode

__all__ = ["Accelerator", "Stats", "AcceleratorError"]

BACKENDS = ("sim",)


class AcceleratorError(RuntimeError):
    """A command finished with an error code, or wrote outside its destination."""

    def __init__(self, message, code=ErrorCode.NONE):
        super().__init__(message)
        self.code = ErrorCode(code)


@dataclass(frozen=True)
class Stats:
    """Figures of one command, from the accelerator's performance counters.

    ``utilization`` is useful MACs (M x K x N) over ``cycles`` x the array's MACs;
    ``array_active`` the share of cycles in which a vector entered the array (edge tiles'
    padding included).
    """

    m: int
    k: int
    n: int
    macs_per_cycle: int
    cycles: int
    mac_active: int
    stall_memory: int
    stall_output: int
    bytes_read: int
    bytes_written: int

    @property
    def utilization(self):
        return self.m * self.k * self.n / (self.cycles * self.macs_per_cycle)

    @property
    def array_active(self):
        return self.mac_active / self.cycles

    @property
    def bytes_per_cycle(self):
        return (self.bytes_read + self.bytes_written) / self.cycles

    def as_dict(self):
        return {**asdict(self), "utilization": self.utilization,
                "array_active": self.array_active, "bytes_per_cycle": self.bytes_per_cycle}


class Accelerator:
    """An openmxu accelerator of ``config``.

    Parameters
    ----------
    config : Config or None
        Default :class:`Config()`.
    backend : str
        ``"sim"``: Verilator simulation of the RTL with the memory system.
    waves : bool
        Record a waveform of every run (a separate, slower build).
    throttle : bool
        Stall every channel between the accelerator and the memory system in random cycles
        (a test of the flow control; slower).
    """

    def __init__(self, config=None, *, backend="sim", waves=False, throttle=False):
        config = Config() if config is None else config
        if not isinstance(config, Config):
            raise ValueError(f"config must be an openmxu.Config, not {config!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, "
                             f"not {backend!r}")
        from rtl.accel.geometry import Geometry
        from sim.accelerator import stored_bytes
        from sim.designs import STORED_ROWS
        timing = config.address_map.timing
        Geometry.from_config(config, beat_bytes=timing.burst_bytes,
                             addr_width=min(config.address_map.address_bits, 32))
        self.config = config
        self.backend = backend
        self.waves = waves
        self.throttle = bool(throttle)
        self.memory_bytes = stored_bytes(config, STORED_ROWS)
        self.last_stats = None
        self.last_run = None

    def __repr__(self):
        return f"Accelerator({self.config!r}, backend={self.backend!r})"

    def plan(self, a, b, **options):
        """The :class:`~openmxu.driver.MatmulJob` of ``a @ b`` (see :meth:`matmul`)."""
        return plan_matmul(self.config, a, b, memory_bytes=self.memory_bytes, **options)

    def matmul(self, a, b, *, out="int32", scale=1, shift=0, rounding="half_even",
               relu=False, c=None):
        """``a @ b`` on the accelerator, returned as an int64 numpy array.

        ``out="int32"`` returns the wrapped int32 sums (plus ``c`` if given, and clamped at 0
        with ``relu``); ``out="int8"`` requantizes them (:func:`openmxu.golden.requantize`
        with ``scale``, ``shift``, ``rounding`` and ``relu``). Afterwards :attr:`last_stats`
        holds the command's :class:`Stats`.
        """
        job = self.plan(a, b, out=out, scale=scale, shift=shift, rounding=rounding,
                        relu=relu, c=c)
        [result] = self.run([[job]])
        return result

    def run(self, batches):
        """Run batches of jobs (each batch queued back to back); returns the results of every
        job in order, and sets :attr:`last_stats` to the last batch's figures."""
        raw = self._simulate([[job_to_json(job) for job in batch] for batch in batches])
        results = []
        jobs = [job for batch in batches for job in batch]
        for job, outcome in zip(jobs, raw["results"]):
            if outcome["error"] != ErrorCode.NONE:
                code = ErrorCode(outcome["error"])
                raise AcceleratorError(f"the command failed with {code.name}", code)
            data = bytes.fromhex(outcome["data"])
            changed = job.untouched(data)
            if changed:
                raise AcceleratorError(f"the command wrote outside C at {len(changed)} byte(s), "
                                       f"first at C - {64 - changed[0]}")
            results.append(job.result(data))
        last = jobs[-1]
        self.last_stats = Stats(m=last.m, k=last.k, n=last.n,
                                macs_per_cycle=self.config.macs,
                                **raw["results"][-1]["counters"])
        self.last_run = {"sim_cycles": raw["sim_cycles"], "sim_seconds": raw["sim_seconds"]}
        return results

    def run_raw(self, batches):
        """Run batches of jobs and return what the testbench reports, without checks."""
        return self._simulate([[job_to_json(job) for job in batch] for batch in batches])

    def _simulate(self, batches):
        from sim.designs import accelerator_design
        from sim.runner import run
        with tempfile.TemporaryDirectory(prefix="openmxu-") as folder:
            jobs_file = Path(folder) / "jobs.json"
            results_file = Path(folder) / "results.json"
            jobs_file.write_text(json.dumps(batches))
            log = Path(folder) / "sim.log"
            try:
                run(accelerator_design(self.config), "sim.accelerator_tb",
                    testcase="run_jobs", waves=self.waves, log_file=str(log),
                    params={"jobs_file": str(jobs_file), "results_file": str(results_file),
                            "throttle": self.throttle},
                    test_name=f"run_jobs_{Path(folder).name}")
            except AssertionError as error:
                tail = log.read_text()[-4000:] if log.exists() else ""
                raise AcceleratorError(f"the simulation failed: {error}\n{tail}") from None
            return json.loads(results_file.read_text())
