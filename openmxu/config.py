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
        Nominal clock of the cycle counts (the ``sync`` domain, which feeds the array one
        vector per cycle), used to turn them into throughput (default 100 MHz). A board that
        clocks its array faster than ``sync`` gives ``sync``'s clock here.
    memory_preset : str
        DRAM timing preset of every pseudo-channel (:data:`openmxu.dram.PRESETS`; default
        ``"hbm2-2000"``).
    channels : int
        Pseudo-channels of the memory system (a power of two, 1 to 32; default 4).
    address_order : tuple of str
        Field order of the global address map, least significant first
        (:class:`openmxu.address_map.AddressMap`; the default puts bank-group bits just above
        the 32 B burst).
    axi_id_width : int
        Width of the AXI IDs of the memory ports (4 to 16, default 4).
    bank_queue_depth : int
        Requests each bank of a pseudo-channel controller queues (1 to 16, default 8; a
        controller queues ``banks`` times as many).
    block_m : int
        Rows of A per block of the accelerator (a power of two, 8 to 4096, default 128): the
        depth of an accumulator bank and of an A panel.
    block_k : int
        Elements of K per row of an A panel (a power of two, 32 to 512, default 256). The
        A scratchpad holds two panels, ``2 * block_m * block_k`` bytes.
    """

    rows: int = 8
    cols: int = 8
    operand_width: int = 8
    acc_width: int = 32
    dataflow: str = "ws"
    clock_mhz: float = 100.0
    memory_preset: str = "hbm2-2000"
    channels: int = 4
    address_order: tuple = ("bank_group", "column", "bank", "channel", "row")
    axi_id_width: int = 4
    bank_queue_depth: int = 8
    block_m: int = 128
    block_k: int = 256

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
        from .dram import PRESETS
        if self.memory_preset not in PRESETS:
            raise ValueError(f"memory_preset must be one of "
                             f"{', '.join(map(repr, PRESETS))}, not {self.memory_preset!r}")
        from .address_map import FIELDS
        if (isinstance(self.address_order, str) or not hasattr(self.address_order, "__iter__")
                or sorted(self.address_order) != sorted(FIELDS)):
            raise ValueError(f"address_order must be a permutation of "
                             f"{', '.join(map(repr, FIELDS))}, not {self.address_order!r}")
        object.__setattr__(self, "address_order", tuple(self.address_order))
        self.address_map        # validates channels
        check_int("axi_id_width", self.axi_id_width, 4, 16)
        check_int("bank_queue_depth", self.bank_queue_depth, 1, 16)
        for name, low, high in (("block_m", 8, 4096), ("block_k", 32, 512)):
            value = getattr(self, name)
            check_int(name, value, low, high)
            if value & (value - 1):
                raise ValueError(f"{name} must be a power of two between {low} and {high}, "
                                 f"not {value}")

    @property
    def address_map(self):
        """The global :class:`~openmxu.address_map.AddressMap` of the memory system."""
        from .address_map import AddressMap
        return AddressMap(timing=self.memory_preset, channels=self.channels,
                          order=self.address_order)

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
