"""Cycle counters for DRAM timing rules, shared by the controller and the device model so
that both count every rule from the same reference point in the same way."""

from amaranth import Const, Signal

__all__ = ["log2", "cycles_since", "since_counter", "rule_met"]


def log2(count):
    """Bits that index ``count`` things (``count`` a power of two; 0 for one thing)."""
    return count.bit_length() - 1


def cycles_since(m, counter, saturate, event):
    """Count the cycles since ``event`` (1 in the cycle after it), saturating at
    ``saturate``, the value the counter resets to (as if the event were long past)."""
    with m.If(event):
        m.d.sync += counter.eq(1)
    with m.Elif(counter != saturate):
        m.d.sync += counter.eq(counter + 1)


def since_counter(m, event, saturate, *, name):
    """A new counter of the cycles since ``event`` (:func:`cycles_since`), saturating at
    ``saturate`` (at least 1), where it also starts."""
    saturate = max(saturate, 1)
    counter = Signal(range(saturate + 1), init=saturate, name=name)
    cycles_since(m, counter, saturate, event)
    return counter


def rule_met(elapsed, cycles):
    """``elapsed >= cycles``: the rule of ``cycles`` is met (always, for 0 cycles)."""
    return elapsed >= cycles if cycles > 0 else Const(1)
