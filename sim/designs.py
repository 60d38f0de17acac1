"""The simulation tops that tests, the demo and the benchmarks build (and share builds of)."""

from openmxu.address_map import DEFAULT_ORDER
from rtl.systolic import build_array
from .accelerator import AcceleratorTestbench
from .harness import ArrayHarness
from .memory import MemoryTestbench
from .runner import Design

__all__ = ["array_design", "harness_design", "memory_design", "accelerator_design",
           "board_design", "HARNESS_DEPTH", "STORED_ROWS"]

#: Words per harness memory: room for 256 x 256 x 256 on an 8x8 array.
HARNESS_DEPTH = 8192


def array_design(config, *, cells_per_dsp=1):
    """The bare array of ``config`` (stream ports at the top level), with ``cells_per_dsp``
    cells to a DSP block (:class:`rtl.systolic.WeightStationaryArray`)."""
    name, params = f"array_{config.name}", config.as_dict()
    if cells_per_dsp != 1:
        name += f"_{cells_per_dsp}_per_dsp"
        params["cells_per_dsp"] = cells_per_dsp
    return Design(name=name, factory=lambda: build_array(config, cells_per_dsp=cells_per_dsp),
                  params=params)


def harness_design(config, depth=HARNESS_DEPTH):
    """The array of ``config`` inside :class:`sim.harness.ArrayHarness` with ``depth``-word
    memories (left uninitialized: the testbench loads A and B, and C is written before it is
    read)."""
    return Design(name=f"harness_{config.name}",
                  factory=lambda: ArrayHarness(config, a_depth=depth, b_depth=depth,
                                               c_depth=depth),
                  params={**config.as_dict(), "memory_depth": depth}, memory_init=False)


def memory_design(timing="hbm2-2000", *, channels=1, ports=1, traffic=False,
                  order=DEFAULT_ORDER, stored_rows=64, bank_queue_depth=8, address_bits=None,
                  read_bursts=16, write_bursts=16):
    """The memory system with device models (:class:`sim.memory.MemoryTestbench`): AXI4
    ports at the top level, or a traffic generator on each port with ``traffic``. The
    device storage starts uninitialized (reads of unwritten bytes are undefined)."""
    name = timing if isinstance(timing, str) else timing.name
    params = {"timing": name, "channels": channels, "ports": ports, "traffic": traffic,
              "order": list(order), "stored_rows": stored_rows, "bank_queue_depth": bank_queue_depth,
              "address_bits": address_bits, "read_bursts": read_bursts,
              "write_bursts": write_bursts}
    if not isinstance(timing, str):
        params["timing_figures"] = timing.describe()
    tag = f"{name.replace('-', '_')}_{channels}ch_{ports}p{'_traffic' if traffic else ''}"
    return Design(name=f"memory_{tag}",
                  factory=lambda: MemoryTestbench(
                      timing=timing, channels=channels, ports=ports, order=order,
                      stored_rows=stored_rows, bank_queue_depth=bank_queue_depth,
                      address_bits=address_bits, read_bursts=read_bursts,
                      write_bursts=write_bursts, traffic=traffic),
                  params=params, memory_init=False)


#: Rows per bank the accelerator testbench's device models store (8 MB with HBM2 and four
#: pseudo-channels).
STORED_ROWS = 128


def accelerator_design(config, *, stored_rows=STORED_ROWS):
    """The accelerator of ``config`` with its memory system and device models
    (:class:`sim.accelerator.AcceleratorTestbench`)."""
    fields = ("rows", "cols", "memory_preset", "channels", "address_order", "axi_id_width",
              "bank_queue_depth", "block_m", "block_k")
    params = {name: getattr(config, name) for name in fields}
    params["stored_rows"] = stored_rows
    tag = (f"{config.rows}x{config.cols}_{config.memory_preset.replace('-', '_')}"
           f"_{config.channels}ch")
    return Design(name=f"accelerator_{tag}",
                  factory=lambda: AcceleratorTestbench(config, stored_rows=stored_rows),
                  params=params, memory_init=False)


def board_design(config, *, memory="hbm", clock_hz=10_000_000, baud=1_250_000, stored_rows=2,
                 link_timeout_ms=0.2, sdram_init_cycles=100, array_domain="sync"):
    """A board's :class:`boards.soc.BoardSoC` (host link, accelerator, memory back-end) as
    the simulation top, with its UART pins at the top level and, for ``memory="sdram"``, the
    SDRAM chip model on its memory pins (:class:`sim.board.BoardTestbench`). With
    ``array_domain="array"`` the systolic array has its own clock (``array_clk``,
    ``array_rst``), as on a board top that sets ``array_mhz``."""
    from .board import BoardTestbench
    options = {"config": config, "memory": memory, "clock_hz": clock_hz, "baud": baud,
               "stored_rows": stored_rows, "link_timeout_ms": link_timeout_ms,
               "array_domain": array_domain}
    if memory == "sdram":
        # The chip model shares the simulation's clock: data is valid at the rising edge.
        options.update(sdram_init_cycles=sdram_init_cycles, sdram_read_capture="rise")
    params = {**options, "config": config.as_dict()}
    tag = f"{config.rows}x{config.cols}_{memory}_{config.channels}ch"
    if array_domain != "sync":
        tag += f"_{array_domain}"
    return Design(name=f"board_{tag}", factory=lambda: BoardTestbench(**options),
                  params=params, memory_init=False)
