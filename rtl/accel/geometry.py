"""What the accelerator's blocks derive from a :class:`~openmxu.Config` and the memory port:
tile sizes, scratchpad shapes and the descriptor layout, checked once."""

from dataclasses import dataclass

from amaranth import Mux
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from openmxu.registers import DESCRIPTOR
from ..params import check_int

__all__ = ["Geometry", "descriptor_layout", "plan_layout", "plan", "block_rows", "chunk_tiles",
           "path_members", "DIM_BITS"]

#: Width of the loop counters and dimensions (``MAX_DIMENSION`` is ``2**20 - 1``).
DIM_BITS = 20


def descriptor_layout():
    """One 32-bit field per descriptor register (:data:`openmxu.registers.DESCRIPTOR`)."""
    return data.StructLayout({name: 32 for name, _ in DESCRIPTOR})


def _log2(value):
    return value.bit_length() - 1


@dataclass(frozen=True)
class Geometry:
    """The shapes every accelerator block agrees on.

    Parameters
    ----------
    rows, cols : int
        Array size: powers of two, at most ``beat_bytes`` (a vector of int8 operands fits one
        bus beat).
    block_m : int
        Rows of A per block (a power of two): the depth of one accumulator bank and of one
        A panel.
    block_k : int
        Elements of K per A panel row: a power of two, a multiple of ``beat_bytes`` and of
        ``rows``, at most 16 beats (one burst).
    beat_bytes : int
        Bytes per beat of the memory port.
    addr_width : int
        Width of the memory port's byte addresses (at most 32: descriptor addresses are one
        register).
    """

    rows: int
    cols: int
    block_m: int
    block_k: int
    beat_bytes: int
    addr_width: int

    def __post_init__(self):
        check_int("beat_bytes", self.beat_bytes, 4, 128)
        for name in ("rows", "cols"):
            value = getattr(self, name)
            check_int(name, value, 1, self.beat_bytes,
                      extra=" (the accelerator needs one vector per memory beat)")
            if value & (value - 1):
                raise ValueError(f"{name} must be a power of two for the accelerator, "
                                 f"not {value}")
        check_int("block_m", self.block_m, 8, 4096)
        if self.block_m & (self.block_m - 1):
            raise ValueError(f"block_m must be a power of two, not {self.block_m}")
        check_int("block_k", self.block_k, self.beat_bytes, 16 * self.beat_bytes,
                  extra=" (one to 16 memory beats)")
        if self.block_k & (self.block_k - 1) or self.block_k < self.rows:
            raise ValueError(f"block_k must be a power of two and at least rows, "
                             f"not {self.block_k}")
        check_int("addr_width", self.addr_width, 12, 32,
                  extra=" (descriptor addresses are 32-bit registers)")

    @classmethod
    def from_config(cls, config, *, beat_bytes, addr_width):
        if config.dataflow != "ws":
            raise ValueError(f"dataflow must be 'ws' for the accelerator (the "
                             f"output-stationary array runs in the array harness only), "
                             f"not {config.dataflow!r}")
        if config.operand_width != 8 or config.acc_width != 32:
            raise ValueError(f"the accelerator computes int8 x int8 -> int32: operand_width "
                             f"must be 8 and acc_width 32, not {config.operand_width} and "
                             f"{config.acc_width}")
        return cls(rows=config.rows, cols=config.cols, block_m=config.block_m,
                   block_k=config.block_k, beat_bytes=beat_bytes, addr_width=addr_width)

    # Derived figures.
    @property
    def beat_bits(self):
        return 8 * self.beat_bytes

    @property
    def beat_shift(self):
        return _log2(self.beat_bytes)

    @property
    def log2_rows(self):
        return _log2(self.rows)

    @property
    def log2_cols(self):
        return _log2(self.cols)

    @property
    def log2_block_m(self):
        return _log2(self.block_m)

    @property
    def log2_block_k(self):
        return _log2(self.block_k)

    @property
    def panel_words(self):
        """Beats per A panel row."""
        return self.block_k // self.beat_bytes

    @property
    def panel_depth(self):
        """Beats per A panel (one buffer)."""
        return self.block_m * self.panel_words

    @property
    def tiles_per_panel(self):
        """Weight tiles (K steps of ``rows``) per full panel."""
        return self.block_k // self.rows

    @property
    def acc_row_bits(self):
        return 32 * self.cols

    @property
    def c_row_beats(self):
        """Beats of one int32 result row segment (``cols`` lanes)."""
        return max(1, 4 * self.cols // self.beat_bytes)

    @property
    def row_bits(self):
        """Bits of a row as the output stage and writer carry it: whole beats."""
        return self.c_row_beats * self.beat_bits


def plan_layout():
    """The loop bounds of one command, derived by the sequencer from the descriptor (see
    :meth:`Geometry.plan`)."""
    return data.StructLayout({
        "m_blocks": DIM_BITS,       # ceil(M / block_m)
        "m_last_rows": DIM_BITS,    # rows in the last M block
        "n_tiles": DIM_BITS,        # ceil(N / cols)
        "k_chunks": DIM_BITS,       # ceil(K / block_k)
        "k_last_tiles": DIM_BITS,   # weight tiles in the last K chunk
        "k_last_beats": 5,          # beats per panel row in the last K chunk
    })


def plan(geometry, m, k, n):
    """The loop bounds of an M x K x N command, as the hardware derives them (also used by
    the host-side performance model)."""
    g = geometry
    k_last = (k - 1) % g.block_k + 1
    return {
        "m_blocks": -(-m // g.block_m),
        "m_last_rows": (m - 1) % g.block_m + 1,
        "n_tiles": -(-n // g.cols),
        "k_chunks": -(-k // g.block_k),
        "k_last_tiles": -(-k_last // g.rows),
        "k_last_beats": -(-k_last // g.beat_bytes),
    }


def block_rows(geometry, plan_signal, loop):
    """Rows of A in the loop's current M block (``loop`` has an ``mt`` axis of
    ``m_blocks``)."""
    return Mux(loop.last["mt"], plan_signal.m_last_rows, geometry.block_m)


def chunk_tiles(geometry, plan_signal, loop):
    """Weight tiles in the loop's current K chunk (``loop`` has a ``kc`` axis of
    ``k_chunks``)."""
    return Mux(loop.last["kc"], plan_signal.k_last_tiles, geometry.tiles_per_panel)


def path_members(geometry, *, tag_width):
    """The members every path of the accelerator (activations, weights, results) has:

    start : ``In(1)``
        Begin a command: ``descriptor`` and ``plan`` hold still until it finishes.
    descriptor : ``In(descriptor_layout())``
    plan : ``In(plan_layout())``
    requests : ``Out(stream.Signature(read_request_layout))``
        Reads, towards the path's :class:`~rtl.accel.dma.DMAReader`.
    beats : ``In(stream.Signature(read_beat_layout, always_ready=True))``
        The reads' beats.
    done : ``Out(1)``
        The path has finished the command (high while idle).
    """
    from .dma import read_request_layout, read_beat_layout
    g = geometry
    return {
        "start": In(1),
        "descriptor": In(descriptor_layout()),
        "plan": In(plan_layout()),
        "requests": Out(stream.Signature(read_request_layout(g.addr_width, tag_width))),
        "beats": In(stream.Signature(read_beat_layout(g.beat_bits, tag_width),
                                     always_ready=True)),
        "done": Out(1),
    }
