"""The register map of the accelerator: the one contract between the RTL and the host driver.

Registers are 32 bits wide and addressed by word (register ``index``; byte address
``4 * index`` on a byte-addressed bus). The RTL (:mod:`rtl.accel.registers`) builds its
register file from these tables and the driver (:mod:`openmxu.driver`) encodes commands with
them, so that a register moves in one place only.

=========  ======  ====  ===================================================================
index      name    mode  contents
=========  ======  ====  ===================================================================
0x00       ID      r     :data:`MAGIC` ("MXU0")
0x01       CONFIG  r     rows [7:0], cols [15:8], log2(block_m) [23:16], block_k / 8 [31:24]
0x02       STATUS  r/w1c busy [0], done [1] (sticky, write 1 to clear; drives ``irq``),
                         queue full [2], error code of the last finished command [15:8],
                         finished commands [31:16] (wraps)
0x03       QUEUE   r     free command slots
0x04       COMMAND w     queue the descriptor held in the descriptor registers (value ignored)
0x08-0x12  ...     r/w   the descriptor (:data:`DESCRIPTOR`)
0x20-0x2b  ...     r     64-bit performance counters, low word first (:data:`COUNTERS`);
                         reading a low word latches its high word
=========  ======  ====  ===================================================================

The descriptor registers keep their values after ``COMMAND``, so a sequence of similar
commands rewrites only what changes.
"""

import enum

__all__ = ["MAGIC", "Reg", "DESCRIPTOR", "DESCRIPTOR_BASE", "Flags", "ErrorCode", "COUNTERS",
           "COUNTER_BASE", "counter_index", "STATUS_BUSY", "STATUS_DONE", "STATUS_FULL",
           "MAX_DIMENSION", "MAX_SHIFT", "MAX_SCALE"]

MAGIC = 0x4D58_5530  # "MXU0"


class Reg(enum.IntEnum):
    """Fixed registers (word index)."""
    ID = 0x00
    CONFIG = 0x01
    STATUS = 0x02
    QUEUE = 0x03
    COMMAND = 0x04


STATUS_BUSY = 1 << 0
STATUS_DONE = 1 << 1
STATUS_FULL = 1 << 2

#: First word index of the descriptor registers.
DESCRIPTOR_BASE = 0x08

#: The descriptor registers in word order: (field name, meaning). All are 32 bits.
DESCRIPTOR = (
    ("a_addr", "byte address of A[0][0] (a multiple of 32)"),
    ("b_addr", "byte address of B[0][0] (a multiple of 32)"),
    ("c_addr", "byte address of C[0][0] (a multiple of 32)"),
    ("m", "rows of A and C (1 to MAX_DIMENSION)"),
    ("k", "columns of A, rows of B (1 to MAX_DIMENSION)"),
    ("n", "columns of B and C (1 to MAX_DIMENSION)"),
    ("a_stride", "bytes from one row of A to the next (a multiple of 32, at least K)"),
    ("b_stride", "bytes from one row of B to the next (a multiple of 32, at least N)"),
    ("c_stride", "bytes from one row of C to the next (a multiple of 32, at least the row)"),
    ("flags", "Flags"),
    ("quant", "requantization: scale [15:0] (unsigned), shift [21:16] (0 to MAX_SHIFT)"),
)

MAX_DIMENSION = (1 << 20) - 1
MAX_SCALE = (1 << 16) - 1
MAX_SHIFT = 47


class Flags(enum.IntFlag):
    """Bits of the ``flags`` descriptor register."""
    #: Write C as int8, requantized: ``sat8(round(acc * scale / 2**shift))``; else int32.
    INT8 = 1 << 0
    #: Round ties toward +infinity; without it ties go to the even neighbour.
    HALF_UP = 1 << 1
    #: Clamp negative results to 0 (after saturation; in int32 mode as well).
    RELU = 1 << 2
    #: Add A x B to the int32 C already in memory (int32 output only).
    ACCUMULATE = 1 << 3


class ErrorCode(enum.IntEnum):
    """The error code of a finished command (``STATUS[15:8]``).

    A command that fails validation finishes at once without touching memory. ``BUS_ERROR``
    is reported after the command ran to completion with an error response on the bus.
    """
    NONE = 0
    ZERO_DIMENSION = 1
    DIMENSION_TOO_LARGE = 2
    MISALIGNED_ADDRESS = 3
    MISALIGNED_STRIDE = 4
    STRIDE_TOO_SMALL = 5
    OUT_OF_RANGE = 6
    OVERLAP = 7
    BAD_QUANT = 8
    BUS_ERROR = 9


#: The performance counters in register order; each is two words, low first.
COUNTERS = (
    ("cycles", "cycles with a command in progress"),
    ("mac_active", "cycles in which an activation vector entered the array"),
    ("stall_memory", "cycles the array waited for operands (A panel or weights)"),
    ("stall_output", "cycles the array waited because results could not drain"),
    ("bytes_read", "bytes read over the memory port (full beats)"),
    ("bytes_written", "bytes written over the memory port (full beats, strobed or not)"),
)

COUNTER_BASE = 0x20


def counter_index(name):
    """Word index of the low word of the counter ``name``."""
    names = [n for n, _ in COUNTERS]
    return COUNTER_BASE + 2 * names.index(name)
