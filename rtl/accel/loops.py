"""Loop nests in hardware: every accelerator block walks the same tiling order with its own
counters, so the blocks need no job queues between them (decoupled access and execute)."""

from amaranth import Signal, Cat, Const, Mux

from .geometry import DIM_BITS

__all__ = ["LoopNest"]


class LoopNest:
    """Nested counters advanced one innermost iteration at a time.

    ``axes`` lists ``(name, limit)`` from the outermost axis in; a ``limit`` (at least 1) is a
    value or a function of the loop returning one, so that it may depend on the outer
    counters (a shorter last block). ``start()`` rewinds
    to the first iteration and clears :attr:`done`; ``step()`` advances, carrying outwards,
    and sets :attr:`done` after the final iteration.
    """

    def __init__(self, m, name, axes):
        self._m = m
        self.names = [axis for axis, _ in axes]
        self.index = {axis: Signal(DIM_BITS, name=f"{name}_{axis}") for axis, _ in axes}
        self.limit = {}
        self.last = {}
        for axis, limit in axes:
            self.limit[axis] = wire = Signal(DIM_BITS, name=f"{name}_{axis}_limit")
            m.d.comb += wire.eq(limit(self) if callable(limit) else limit)
            self.last[axis] = last = Signal(name=f"{name}_{axis}_last")
            m.d.comb += last.eq(self.index[axis] == wire - 1)
        self.final = Signal(name=f"{name}_final")
        m.d.comb += self.final.eq(Cat(*self.last.values()).all())
        self.done = Signal(name=f"{name}_done", init=1)

    def __getitem__(self, axis):
        return self.index[axis]

    def is_last(self, *axes):
        """All of ``axes`` are at their last iteration."""
        return Cat(*(self.last[axis] for axis in axes)).all()

    def is_first(self, *axes):
        return Cat(*(self.index[axis] == 0 for axis in axes)).all()

    def start(self):
        self._m.d.sync += [index.eq(0) for index in self.index.values()]
        self._m.d.sync += self.done.eq(0)

    def step(self):
        m = self._m
        carry = Const(1)
        for axis in reversed(self.names):
            with m.If(carry):
                m.d.sync += self.index[axis].eq(Mux(self.last[axis], 0, self.index[axis] + 1))
            carry = carry & self.last[axis]
        with m.If(self.final):
            m.d.sync += self.done.eq(1)
