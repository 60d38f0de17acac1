"""The Python API: ``openmxu.Accelerator(config).matmul(a, b)`` on the RTL.

The ``"sim"`` backend runs the accelerator with its memory system and device models in
Verilator (built once per configuration and cached); every call loads A and B through the
host port, writes the descriptor registers, waits for the command and reads C back, exactly
as a board's host link does. The ``"serial"`` backend does the same on a board, over its
UART host link (:mod:`openmxu.link`, :mod:`openmxu.board`).
"""

import json
import tempfile
from dataclasses import dataclass, asdict
from pathlib import Path

from .config import Config
from .driver import plan_matmul, job_to_json
from .registers import ErrorCode

__all__ = ["Accelerator", "Stats", "AcceleratorError"]

BACKENDS = ("sim", "serial")

#: Default UART bit rate of the serial backend.
DEFAULT_BAUD = 115_200


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
        ``"sim"``: Verilator simulation of the RTL with the memory system. ``"serial"``: a
        board, over its UART host link.
    waves : bool
        ``"sim"`` only: record a waveform of every run (a separate, slower build).
    throttle : bool
        ``"sim"`` only: stall every channel between the accelerator and the memory system in
        random cycles (a test of the flow control; slower).
    port : str or object
        ``"serial"`` only: the serial device (``"/dev/ttyUSB0"``, ``"COM3"``), opened with
        pyserial on first use, or an open pyserial-like object (``write``, ``read``,
        ``timeout``), e.g. a simulation's transport.
    baud : int or None
        ``"serial"`` only: bit rate when ``port`` is a device name (default the board
        description's ``baud``, else 115,200).
    memory_bytes : int or None
        ``"serial"`` only: bytes of board memory from address 0 that jobs may use (default the
        board description's ``memory_bytes``, else the address map's capacity).
    board : object or None
        ``"serial"`` only: a board description with ``memory_bytes`` and optionally ``baud``
        attributes.
    timeout : float
        ``"serial"`` only: seconds a port read waits for the board (when the port is opened
        here); a batch may keep the accelerator busy ten times as long (at least 60 s).
    """

    def __init__(self, config=None, *, backend="sim", waves=False, throttle=False, port=None,
                 baud=None, memory_bytes=None, board=None, timeout=1.0):
        config = Config() if config is None else config
        if not isinstance(config, Config):
            raise ValueError(f"config must be an openmxu.Config, not {config!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, "
                             f"not {backend!r}")
        from rtl.accel.geometry import Geometry
        timing = config.address_map.timing
        Geometry.from_config(config, beat_bytes=timing.burst_bytes,
                             addr_width=min(config.address_map.address_bits, 32))
        self.config = config
        self.backend = backend
        self.waves = waves
        self.throttle = bool(throttle)
        self.port = port
        self.baud = None
        self._link = None
        self._opened = None
        if backend == "serial":
            self._serial_options(port, baud, memory_bytes, board, timeout, waves, throttle)
        else:
            for name, value in (("port", port), ("baud", baud), ("memory_bytes", memory_bytes),
                                ("board", board)):
                if value is not None:
                    raise ValueError(f"{name} is an option of the serial backend, not of "
                                     f"{backend!r}")
            from sim.accelerator import stored_bytes
            from sim.designs import STORED_ROWS
            self.memory_bytes = stored_bytes(config, STORED_ROWS)
        self.last_stats = None
        self.last_run = None

    def _serial_options(self, port, baud, memory_bytes, board, timeout, waves, throttle):
        from .config import check_int
        if waves or throttle:
            raise ValueError("waves and throttle are options of the sim backend, not of "
                             "'serial'")
        if port is None:
            raise ValueError("port is required for the serial backend (a device name such as "
                             "'/dev/ttyUSB0', or an open pyserial-like object)")
        if not isinstance(port, str) and not all(hasattr(port, name)
                                                 for name in ("write", "read")):
            raise ValueError(f"port must be a device name or a pyserial-like object with "
                             f"write() and read(), not {port!r}")
        if baud is None:
            baud = getattr(board, "baud", None) or DEFAULT_BAUD
        check_int("baud", baud, 300, 12_000_000)
        if memory_bytes is None:
            memory_bytes = getattr(board, "memory_bytes", None)
            if memory_bytes is None:
                memory_bytes = self.config.address_map.capacity_bytes
        check_int("memory_bytes", memory_bytes, 1, self.config.address_map.capacity_bytes)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.baud = baud
        self.memory_bytes = memory_bytes
        self.timeout = float(timeout)

    def __repr__(self):
        if self.backend == "serial":
            return (f"Accelerator({self.config!r}, backend='serial', port={self.port!r}, "
                    f"baud={self.baud})")
        return f"Accelerator({self.config!r}, backend={self.backend!r})"

    def close(self):
        """Close the serial port if this object opened it."""
        if self._opened is not None:
            self._opened.close()
            self._opened = None
            self._link = None

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
        raw = self._execute([[job_to_json(job) for job in batch] for batch in batches])
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
        self.last_run = {"sim_cycles": raw["sim_cycles"], "sim_seconds": raw["sim_seconds"],
                         "backend": self.backend}
        if "wall_seconds" in raw:
            self.last_run["wall_seconds"] = raw["wall_seconds"]
        return results

    def run_raw(self, batches):
        """Run batches of jobs and return what the testbench reports, without checks."""
        return self._execute([[job_to_json(job) for job in batch] for batch in batches])

    def _execute(self, batches):
        if self.backend == "serial":
            return self._run_serial(batches)
        return self._simulate(batches)

    def link(self):
        """The serial backend's :class:`openmxu.link.Link` (opening the port on first use)."""
        if self.backend != "serial":
            raise ValueError(f"the {self.backend!r} backend has no host link")
        if self._link is None:
            from .link import Link
            port = self.port
            if isinstance(port, str):
                import serial   # pyserial, needed only for a real board
                try:
                    port = serial.Serial(port, baudrate=self.baud, timeout=self.timeout)
                except serial.SerialException as error:
                    raise AcceleratorError(f"cannot open {self.port}: {error}") from None
                self._opened = port
            self._link = Link(port)
        return self._link

    def _run_serial(self, batches):
        from .board import run_batches, expected_config_word
        from .link import LinkError
        try:
            return run_batches(self.link(), batches,
                               config_word=expected_config_word(self.config),
                               timeout=max(60.0, 10 * self.timeout))
        except LinkError as error:
            raise AcceleratorError(f"the host link failed: {error}") from None

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
