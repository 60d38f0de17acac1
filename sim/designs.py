"""The simulation tops that tests, the demo and the benchmarks build (and share builds of)."""

from rtl.systolic import build_array
from .harness import ArrayHarness
from .runner import Design

__all__ = ["array_design", "harness_design", "HARNESS_DEPTH"]

#: Words per harness memory: room for 256 x 256 x 256 on an 8x8 array.
HARNESS_DEPTH = 8192


def array_design(config):
    """The bare array of ``config`` (stream ports at the top level)."""
    return Design(name=f"array_{config.name}", factory=lambda: build_array(config),
                  params=config.as_dict())


def harness_design(config, depth=HARNESS_DEPTH):
    """The array of ``config`` inside :class:`sim.harness.ArrayHarness` with ``depth``-word
    memories (left uninitialized: the testbench loads A and B, and C is written before it is
    read)."""
    return Design(name=f"harness_{config.name}",
                  factory=lambda: ArrayHarness(config, a_depth=depth, b_depth=depth,
                                               c_depth=depth),
                  params={**config.as_dict(), "memory_depth": depth}, memory_init=False)
