"""Loop nests in hardware: every accelerator block walks the same tiling order with its own
counters, so the blocks need no job queues between them (decoupled access and execute)."""

from types import SimpleNamespace

from amaranth import Signal, Cat, Const, Mux

from .geometry import DIM_BITS

__all__ = ["LoopNest"]


class LoopNest:
    """Nested counters advanced one innermost iteration at a time.

    ``axes`` lists ``(name, limit)`` from the outermost axis in; a ``limit`` (at least 1) is a
    value or a function of the loop returning one, so that it may depend on the outer
    counters (a shorter last block); such a function reads only ``loop.index`` and
    ``loop.last`` of outer axes. ``start()`` rewinds to the first iteration and clears
    :attr:`done`; ``step()`` advances, carrying outwards, and sets :attr:`done` after the
    final iteration.

    :attr:`last` flags are registers, computed with the indices they belong to: the compare
    with each limit runs in the cycle of ``start()`` or ``step()``, and the logic that reads
    the flags (issue conditions, carries, address steps) starts from a register.
    """

    def __init__(self, m, name, axes):
        self._m = m
        self._axes = list(axes)
        self.names = [axis for axis, _ in axes]
        self.index = {axis: Signal(DIM_BITS, name=f"{name}_{axis}") for axis, _ in axes}
        self.last = {axis: Signal(name=f"{name}_{axis}_last") for axis, _ in axes}
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

    def _lasts_of(self, index):
        """The last flags of the indices ``index``, outer axes first (inner limits may read
        the outer flags)."""
        view = SimpleNamespace(index=index, last={})
        for axis, limit in self._axes:
            value = limit(view) if callable(limit) else limit
            view.last[axis] = index[axis] == value - 1
        return view.last

    def _move_to(self, index):
        lasts = self._lasts_of(index)
        self._m.d.sync += [self.index[axis].eq(index[axis]) for axis in self.names]
        self._m.d.sync += [self.last[axis].eq(lasts[axis]) for axis in self.names]

    def start(self):
        self._move_to({axis: Const(0, DIM_BITS) for axis in self.names})
        self._m.d.sync += self.done.eq(0)

    def step(self):
        carry = Const(1)
        index = {}
        for axis in reversed(self.names):
            current = self.index[axis]
            index[axis] = Mux(carry, Mux(self.last[axis], 0, current + 1), current)[:DIM_BITS]
            carry = carry & self.last[axis]
        self._move_to(index)
        with self._m.If(self.final):
            self._m.d.sync += self.done.eq(1)
