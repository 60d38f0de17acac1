"""The array alone on a board: its inputs from an LFSR, its results folded to one pin.

``openmxu bitstream --array-only`` builds a board's array this way
(:class:`boards.ulx3s.ULX3SArrayBench`, :class:`boards.icebreaker.ICEBreakerArrayBench`) to
measure what the array reaches on the part apart from the memory system, the host link and
the placement pressure of the rest.
"""

from amaranth import Cat, Elaboratable, Module, Signal

from rtl.systolic import build_array

__all__ = ["bench_array", "PseudoRandomArrayDriver"]


def bench_array(*, board, config, hard_multipliers=None, cells_per_dsp=1):
    """The array a bench drives: ``config``'s weight-stationary array (the accelerator's),
    with ``hard_multipliers`` cells on DSP blocks (default the board's figure),
    ``cells_per_dsp`` to a block."""
    if config.dataflow != "ws":
        raise ValueError(f"dataflow must be 'ws' for the array bench, the accelerator's "
                         f"array, not {config.dataflow!r}")
    if hard_multipliers is None:
        hard_multipliers = board.hard_multipliers_for(config)
    return build_array(config, hard_multipliers=hard_multipliers, cells_per_dsp=cells_per_dsp)


class PseudoRandomArrayDriver(Elaboratable):
    """Drives every input of ``array`` from a free-running LFSR (valid and ready included,
    so that the streams stall and resume) and folds every result bit into ``out``: nothing
    is constant, so synthesis keeps the whole array."""

    def __init__(self, array):
        self.array = array
        self.out = Signal()

    def elaborate(self, platform):
        m = Module()
        array = self.array
        m.submodules.array = array
        activations, weights = array.activations, array.weights
        a_bits = len(activations.payload.as_value())
        w_bits = len(weights.payload.as_value())
        # Taps of a maximal-length LFSR are not needed: the state only has to keep changing.
        lfsr = Signal(a_bits + w_bits + 8, init=1, reset_less=True)
        m.d.sync += lfsr.eq(Cat(lfsr[-1] ^ lfsr[-3] ^ lfsr[5], lfsr[:-1]))
        m.d.comb += [
            activations.payload.eq(lfsr[:a_bits]),
            weights.payload.eq(lfsr[a_bits:a_bits + w_bits]),
            activations.valid.eq(lfsr[-3]),
            weights.valid.eq(lfsr[-5]),
            array.results.ready.eq(lfsr[-2]),
        ]
        # Four result words per register stage, then one register for the whole row.
        words = [word.as_unsigned() for word in array.results.payload.data]
        stages = []
        for first in range(0, len(words), 4):
            stage = Signal(len(words[0]), reset_less=True, name=f"fold{first // 4}")
            folded = words[first]
            for word in words[first + 1:first + 4]:
                folded = folded ^ word
            m.d.sync += stage.eq(folded)
            stages.append(stage)
        fold = Signal(len(words[0]), reset_less=True)
        row = stages[0]
        for stage in stages[1:]:
            row = row ^ stage
        m.d.sync += fold.eq(row ^ Cat(array.results.valid, array.results.payload.last))
        m.d.sync += self.out.eq(fold.xor())
        return m
