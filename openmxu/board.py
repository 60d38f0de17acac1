"""Running the driver's jobs on a board, over the host link (:class:`openmxu.link.Link`).

This is the board's counterpart of the cocotb backend (:mod:`sim.accelerator_tb`): the same
:class:`~openmxu.driver.MatmulJob` batches, the same steps (load, descriptor registers,
``COMMAND``, wait, counters, read back) and the same result structure, so that
:meth:`openmxu.accelerator.Accelerator.run` checks a board's results exactly as the
simulator's.
"""

import time

from .driver import job_to_json
from .registers import Reg, MAGIC, COUNTERS, counter_index, STATUS_BUSY, STATUS_DONE

__all__ = ["run_batches", "expected_config_word", "DEFAULT_TIMEOUT"]

#: Seconds a batch may run before the board is declared stuck.
DEFAULT_TIMEOUT = 60.0

_MASK64 = (1 << 64) - 1


def expected_config_word(config):
    """The ``CONFIG`` register of an accelerator built from ``config``
    (:mod:`openmxu.registers`: rows, cols, log2(block_m), block_k / 8)."""
    return (config.rows | config.cols << 8 | (config.block_m.bit_length() - 1) << 16
            | (config.block_k // 8) << 24)


def _describe_config_word(word):
    return (f"{word & 0xFF}x{word >> 8 & 0xFF} array, block_m {1 << (word >> 16 & 0xFF)}, "
            f"block_k {8 * (word >> 24)}")


def _error(message):
    from .accelerator import AcceleratorError
    return AcceleratorError(message)


def _counters(link):
    # Low word first: reading it latches the high word (openmxu.registers).
    values = {}
    for name, _ in COUNTERS:
        low = link.read_register(counter_index(name))
        high = link.read_register(counter_index(name) + 1)
        values[name] = low | high << 32
    return values


def _wait_idle(link, timeout, poll_interval):
    deadline = time.monotonic() + timeout
    while True:
        status = link.read_register(Reg.STATUS)
        if not status & STATUS_BUSY:
            return status
        if time.monotonic() > deadline:
            raise _error(f"the accelerator is still busy after {timeout:g} s "
                         f"(STATUS {status:#010x})")
        if poll_interval:
            time.sleep(poll_interval)


def _as_json(job):
    return job_to_json(job) if hasattr(job, "loads") else job


def run_batches(link, batches, *, config_word=None, timeout=DEFAULT_TIMEOUT, poll_interval=0.0):
    """Run ``batches`` (lists of :class:`~openmxu.driver.MatmulJob`, or their
    :func:`~openmxu.driver.job_to_json` form) on the board behind ``link``.

    Each batch: its loads are written, its commands queued back to back (descriptor registers,
    a free queue slot, ``COMMAND``), ``STATUS`` is polled until the accelerator is idle, the
    finished-command count and ``STATUS.done`` are checked and ``done`` cleared, and every
    job's region is read back.

    Parameters
    ----------
    link : openmxu.link.Link
    config_word : int or None
        The ``CONFIG`` the board must report (:func:`expected_config_word`); not checked if
        ``None``.
    timeout : float
        Seconds a batch may keep the accelerator busy.
    poll_interval : float
        Seconds between two reads of ``STATUS`` (0: back to back; each read is a round trip
        over the link anyway).

    Returns the structure of the simulator backend: ``{"results": [{"error", "counters",
    "data"}, ...], "sim_cycles", "sim_seconds"}`` where ``sim_cycles`` are the accelerator's
    own cycle counts and ``sim_seconds`` the wall time from the first ``COMMAND`` of each
    batch to its end (link round trips included), plus ``"wall_seconds"`` for the whole call
    and ``"backend": "serial"``.
    """
    started_call = time.monotonic()
    identity = link.read_register(Reg.ID)
    if identity != MAGIC:
        raise _error(f"the board's ID register reads {identity:#010x}, not {MAGIC:#010x}: "
                     f"is the accelerator's bitstream loaded?")
    if config_word is not None:
        got = link.read_register(Reg.CONFIG)
        if got != config_word:
            raise _error(f"the board's accelerator is a {_describe_config_word(got)}, the "
                         f"configuration asks for a {_describe_config_word(config_word)}")
    results = []
    run_cycles = 0
    run_seconds = 0.0
    for batch in batches:
        jobs = [_as_json(job) for job in batch]
        for job in jobs:
            for address, data in job["loads"]:
                link.write_memory(address, bytes.fromhex(data))
        before = _counters(link)
        status = link.read_register(Reg.STATUS)
        if status & STATUS_BUSY:
            raise _error(f"the accelerator is busy before the batch (STATUS {status:#010x})")
        finished_before = status >> 16
        started = time.monotonic()
        for job in jobs:
            for index, value in job["registers"]:
                link.write_register(index, value)
            if link.read_register(Reg.QUEUE) == 0:
                raise _error("the command queue is full")
            # Queueing twice would run the command twice: never resent blindly.
            link.write_register(Reg.COMMAND, 1, idempotent=False)
        status = _wait_idle(link, timeout, poll_interval)
        run_seconds += time.monotonic() - started
        after = _counters(link)
        finished = ((status >> 16) - finished_before) & 0xFFFF
        if finished != len(jobs):
            raise _error(f"{finished} of {len(jobs)} commands finished")
        if not status & STATUS_DONE:
            raise _error(f"STATUS.done is not set after the batch (STATUS {status:#010x})")
        link.write_register(Reg.STATUS, STATUS_DONE)
        deltas = {name: (after[name] - before[name]) & _MASK64 for name, _ in COUNTERS}
        run_cycles += deltas["cycles"]
        for job in jobs:
            address, length = job["readback"]
            data = link.read_memory(address, length)
            results.append({
                # Per-command errors of a batch: only the last one is in STATUS.
                "error": (status >> 8) & 0xFF,
                "counters": deltas,
                "data": data.hex(),
            })
    return {"results": results, "sim_cycles": run_cycles, "sim_seconds": run_seconds,
            "wall_seconds": time.monotonic() - started_call, "backend": "serial"}
