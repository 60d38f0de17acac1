"""The generator configuration: the single source of truth for RTL, golden model and driver.

Every generator parameter of openmxu lives in :class:`Config`. It is frozen and validates
itself on construction, so an invalid configuration fails with a :class:`ValueError` that names
the parameter, the value and the allowed range before any elaboration happens.
"""

from dataclasses import dataclass, asdict, replace, fields

__all__ = ["Config", "DATAFLOWS", "check_int"]


#: Supported dataflows: ``ws`` keeps a weight tile in the array (TPU style), ``os`` keeps the
#: output tile in the array and streams both operands through it (Gemmini style).
DATAFLOWS = ("ws", "os")

MAX_ARRAY_DIM = 64
MAX_OPERAND_WIDTH = 32
MAX_ACC_WIDTH = 128


def check_int(name, value, low, high, extra=""):
    """Raise ``ValueError`` naming ``name``, ``value`` and the range unless ``value`` is an
    integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}{extra}, not {value}")


@dataclass(frozen=True)
class Config:
    """Generator parameters of an openmxu accelerator.

    Parameters
    ----------
    rows : int
        Processing elements per column of the systolic array (1 to 64). In the weight-stationary
        dataflow this is the K extent of a weight tile; in the output-stationary dataflow the M
        extent of an output tile.
    cols : int
        Processing elements per row of the array (1 to 64): the N extent of a tile.
    operand_width : int
        Width of the signed operands in bits (2 to 32, default 8 for int8).
    acc_width : int
        Width of the signed accumulators in bits (at least ``2 * operand_width``, at most 128,
        default 32). Sums wrap in two's complement, as in the golden model.
    dataflow : str
        ``"ws"`` (weight-stationary, the default) or ``"os"`` (output-stationary).
    clock_mhz : float
        Nominal array clock used to turn cycle counts into throughput (default 100 MHz).
    """

    rows: int = 8
    cols: int = 8
    operand_width: int = 8
    acc_width: int = 32
    dataflow: str = "ws"
    clock_mhz: float = 100.0

    def __post_init__(self):
        check_int("rows", self.rows, 1, MAX_ARRAY_DIM)
        check_int("cols", self.cols, 1, MAX_ARRAY_DIM)
        check_int("operand_width", self.operand_width, 2, MAX_OPERAND_WIDTH)
        check_int("acc_width", self.acc_width, 2 * self.operand_width, MAX_ACC_WIDTH,
                   extra=f" (at least 2 x operand_width = {2 * self.operand_width})")
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"dataflow must be one of {', '.join(map(repr, DATAFLOWS))}, "
                             f"not {self.dataflow!r}")
        if (isinstance(self.clock_mhz, bool) or not isinstance(self.clock_mhz, (int, float))
                or not 0 < self.clock_mhz <= 2000):
            raise ValueError(f"clock_mhz must be a number above 0 and at most 2000, "
                             f"not {self.clock_mhz!r}")

    @property
    def macs(self):
        """Multiply-accumulate units in the array."""
        return self.rows * self.cols

    @property
    def peak_gops(self):
        """Peak throughput in giga-operations per second (one MAC is two operations)."""
        return 2 * self.macs * self.clock_mhz / 1000

    @property
    def name(self):
        """A short, file-name-safe identifier of the configuration."""
        return (f"{self.dataflow}_{self.rows}x{self.cols}"
                f"_i{self.operand_width}_a{self.acc_width}")

    def replace(self, **changes):
        """Return a copy with some parameters changed (validated like the original)."""
        return replace(self, **changes)

    def as_dict(self):
        return asdict(self)

    def describe(self):
        """One line per parameter, for generated file headers and reports."""
        return [f"{f.name} = {getattr(self, f.name)!r}" for f in fields(self)]
