"""Skew and deskew buffers: the triangular delay lines at the edges of a systolic array."""

from amaranth import Module, Signal
from amaranth.hdl import ShapeCastable, Shape
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from ..params import check_int, validating

__all__ = ["Skew"]


class Skew(wiring.Component):
    """Delay each lane of a vector by a lane-dependent number of cycles.

    A skew buffer (``descending=False``) delays lane ``i`` by ``i`` cycles, so that element
    ``i`` of a vector reaches row (or column) ``i`` of the array one cycle after element
    ``i - 1``, in step with the wavefront. A deskew buffer (``descending=True``) delays lane
    ``i`` by ``lanes - 1 - i`` cycles and realigns a wavefront into whole vectors.

    The buffer is free-running: it has no enable, so the array behind it never stalls; the
    array controller tracks which wavefronts carry data.

    Parameters
    ----------
    lanes : int
        Number of lanes (at least 1).
    shape : shape-like
        Shape of one lane.
    descending : bool
        ``False`` for a skew buffer, ``True`` for a deskew buffer.
    reset_less : bool
        The stage registers ignore the domain's reset (for a buffer whose consumer knows
        which cycles carry data, so that the reset's fan-out stays small).

    Members
    -------
    i : ``In(ArrayLayout(shape, lanes))``
        The vector entering the buffer.
    o : ``Out(ArrayLayout(shape, lanes))``
        The same lanes, each delayed by :meth:`delay` cycles.
    """

    def __init__(self, *, lanes, shape, descending=False, reset_less=False):
        with validating(self):
            check_int("lanes", lanes, 1, 1 << 16)
        if not isinstance(shape, ShapeCastable):
            shape = Shape.cast(shape)
        self._lanes = lanes
        self._shape = shape
        self._descending = bool(descending)
        self._reset_less = bool(reset_less)
        layout = data.ArrayLayout(shape, lanes)
        super().__init__({"i": In(layout), "o": Out(layout)})

    @property
    def lanes(self):
        return self._lanes

    @property
    def descending(self):
        return self._descending

    @property
    def reset_less(self):
        return self._reset_less

    def delay(self, lane):
        """Cycles between a value entering lane ``lane`` and leaving it."""
        if not 0 <= lane < self._lanes:
            raise ValueError(f"lane must be between 0 and {self._lanes - 1}, not {lane}")
        return self._lanes - 1 - lane if self._descending else lane

    def elaborate(self, platform):
        m = Module()
        for lane in range(self._lanes):
            value = self.i[lane]
            for stage in range(self.delay(lane)):
                registered = Signal(self._shape, name=f"lane{lane}_stage{stage}",
                                    reset_less=self._reset_less)
                m.d.sync += registered.eq(value)
                value = registered
            m.d.comb += self.o[lane].eq(value)
        return m

    def __repr__(self):
        kind = "deskew" if self._descending else "skew"
        reset = ", reset_less" if self._reset_less else ""
        return f"Skew(lanes={self._lanes}, shape={self._shape!r}, {kind}{reset})"
