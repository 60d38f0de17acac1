"""The host driver: lays matrices out in device memory and encodes matmul descriptors.

The driver produces plain data (:class:`MatmulJob`: the bytes to load, the descriptor
registers to write, the region to read back), which a backend executes: the cocotb
testbench in simulation (:mod:`sim.accelerator_tb`), a serial link on a board. Both run the
same jobs, so the board path is the simulated path.

Memory layout of a job (every address a multiple of the beat, 32 bytes):

* A, row-major int8, rows padded to a whole number of beats;
* B, row-major int8, likewise;
* C, row-major int32 (or int8), rows padded likewise, between two guard regions of
  :data:`GUARD_BYTES` filled with :data:`GUARD_FILL`, which the hardware must leave untouched.
"""

from dataclasses import dataclass, field

import numpy as np

from .golden import _check_operand, ROUNDING, OUTPUTS
from .registers import (DESCRIPTOR, DESCRIPTOR_BASE, Flags, MAX_DIMENSION, MAX_SCALE,
                        MAX_SHIFT, COUNTERS)

__all__ = ["MatmulJob", "plan_matmul", "descriptor_registers", "GUARD_BYTES", "GUARD_FILL",
           "row_stride"]

GUARD_BYTES = 64
GUARD_FILL = 0xA5


def row_stride(row_bytes, beat_bytes):
    """The smallest stride of whole beats that holds ``row_bytes``."""
    return max(1, -(-row_bytes // beat_bytes)) * beat_bytes


def descriptor_registers(**fields):
    """``(index, value)`` register writes for a descriptor given by field name (every
    field of :data:`openmxu.registers.DESCRIPTOR`, as 32-bit unsigned values)."""
    names = [name for name, _ in DESCRIPTOR]
    unknown = set(fields) - set(names)
    if unknown:
        raise ValueError(f"unknown descriptor fields {sorted(unknown)}; known: {names}")
    writes = []
    for index, name in enumerate(names):
        value = int(fields.get(name, 0))
        if not 0 <= value < 1 << 32:
            raise ValueError(f"descriptor field {name} must fit 32 bits, not {value}")
        writes.append((DESCRIPTOR_BASE + index, value))
    return writes


@dataclass
class MatmulJob:
    """One command laid out in device memory.

    ``loads`` are ``(address, bytes)`` to write before the command, ``registers`` the
    descriptor register writes (the backend then writes ``COMMAND``), ``readback`` the
    ``(address, length)`` of C with its guard regions.
    """

    m: int
    k: int
    n: int
    out: str
    loads: list
    registers: list
    readback: tuple
    c_addr: int
    c_stride: int
    end: int
    expected_error: int = 0
    initial_c: bytes = field(default=b"", repr=False)

    @property
    def element_bytes(self):
        return 4 if self.out == "int32" else 1

    def result(self, data):
        """C (``m`` x ``n`` int64) from the bytes read back."""
        start = GUARD_BYTES
        dtype = np.dtype("<i4") if self.out == "int32" else np.dtype("i1")
        rows = []
        for row in range(self.m):
            offset = start + row * self.c_stride
            rows.append(np.frombuffer(data[offset:offset + self.n * self.element_bytes],
                                      dtype=dtype))
        return np.array(rows, dtype=np.int64).reshape(self.m, self.n)

    def guards_intact(self, data):
        """The guard regions and the row padding of C hold the fill they were loaded with."""
        return self.untouched(data) == []

    def untouched(self, data):
        """Byte offsets (into the read-back region) outside C's elements that changed."""
        expected = np.frombuffer(self.initial_c, dtype=np.uint8)
        got = np.frombuffer(data, dtype=np.uint8)
        inside = np.zeros(len(expected), dtype=bool)
        for row in range(self.m):
            offset = GUARD_BYTES + row * self.c_stride
            inside[offset:offset + self.n * self.element_bytes] = True
        return [int(i) for i in np.flatnonzero((expected != got) & ~inside)]


def _image(matrix, stride, dtype):
    rows, cols = matrix.shape
    image = np.full((rows, stride), 0, dtype=np.uint8)
    raw = np.ascontiguousarray(matrix.astype(dtype)).view(np.uint8).reshape(rows, -1)
    image[:, :raw.shape[1]] = raw
    return image.tobytes()


def plan_matmul(config, a, b, *, out="int32", scale=1, shift=0, rounding="half_even",
                relu=False, c=None, base=0, memory_bytes=None):
    """Lay out ``a @ b`` (and, with ``c``, ``c + a @ b`` in int32) from byte address
    ``base`` and encode its descriptor.

    Raises ``ValueError`` for anything the hardware would reject, naming the parameter.
    """
    beat = config.address_map.timing.burst_bytes
    a = _check_operand("a", a, 8)
    b = _check_operand("b", b, 8)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: a is {a.shape}, b is {b.shape}")
    m, k = a.shape
    n = b.shape[1]
    for name, value in (("m", m), ("k", k), ("n", n)):
        if not 1 <= value <= MAX_DIMENSION:
            raise ValueError(f"{name} must be between 1 and {MAX_DIMENSION}, not {value}")
    if out not in OUTPUTS:
        raise ValueError(f"out must be one of {', '.join(OUTPUTS)}, not {out!r}")
    if rounding not in ROUNDING:
        raise ValueError(f"rounding must be one of {', '.join(ROUNDING)}, not {rounding!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) \
            or not 0 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be an integer between 0 and {MAX_SCALE}, not {scale!r}")
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) \
            or not 0 <= shift <= MAX_SHIFT:
        raise ValueError(f"shift must be an integer between 0 and {MAX_SHIFT}, not {shift!r}")
    if c is not None:
        if out != "int32":
            raise ValueError("c (accumulate into C) needs out='int32'")
        c = np.asarray(c)
        if c.shape != (m, n):
            raise ValueError(f"c must be of shape {(m, n)}, not {c.shape}")
        if c.size and (c.min() < -2**31 or c.max() >= 2**31):
            raise ValueError("c holds values outside the signed 32-bit range")
    if base % beat:
        raise ValueError(f"base must be a multiple of {beat}, not {base}")

    element = 4 if out == "int32" else 1
    a_stride = row_stride(k, beat)
    b_stride = row_stride(n, beat)
    c_stride = row_stride(n * element, beat)
    a_addr = base
    b_addr = a_addr + m * a_stride
    guard_addr = b_addr + k * b_stride
    c_addr = guard_addr + GUARD_BYTES
    end = c_addr + m * c_stride + GUARD_BYTES
    if memory_bytes is not None and end > memory_bytes:
        raise ValueError(f"the matrices need {end - base} bytes from {base}, beyond the "
                         f"{memory_bytes} bytes of memory")

    if c is None:
        c_region = np.full(m * c_stride, GUARD_FILL, dtype=np.uint8).tobytes()
    else:
        rows = np.full((m, c_stride), GUARD_FILL, dtype=np.uint8)
        rows[:, :n * 4] = np.ascontiguousarray(c.astype("<i4")).view(np.uint8).reshape(m, -1)
        c_region = rows.tobytes()
    guard = bytes([GUARD_FILL]) * GUARD_BYTES
    initial_c = guard + c_region + guard
    flags = ((Flags.INT8 if out == "int8" else 0)
             | (Flags.HALF_UP if rounding == "half_up" else 0)
             | (Flags.RELU if relu else 0)
             | (Flags.ACCUMULATE if c is not None else 0))
    registers = descriptor_registers(
        a_addr=a_addr, b_addr=b_addr, c_addr=c_addr, m=m, k=k, n=n, a_stride=a_stride,
        b_stride=b_stride, c_stride=c_stride, flags=int(flags),
        quant=int(scale) | int(shift) << 16)
    return MatmulJob(
        m=m, k=k, n=n, out=out,
        loads=[(a_addr, _image(a, a_stride, np.int8)), (b_addr, _image(b, b_stride, np.int8)),
               (guard_addr, initial_c)],
        registers=registers, readback=(guard_addr, len(initial_c)), c_addr=c_addr,
        c_stride=c_stride, end=end, initial_c=initial_c)


def job_to_json(job):
    """A job as JSON-able data for a backend in another process."""
    return {
        "loads": [[address, data.hex()] for address, data in job.loads],
        "registers": job.registers,
        "readback": list(job.readback),
    }


def stats_from_counters(before, after):
    """Per-command figures from two snapshots of the counters (dicts by name)."""
    return {name: after[name] - before[name] for name, _ in COUNTERS}
