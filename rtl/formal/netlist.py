"""Reading a design's internal signals from a property.

Amaranth has no hierarchical references: a property sees the signals it is handed. Lemmas of
an induction proof need a design's registers, though, so :class:`Netlist` elaborates the
design once, finds its signals by name in the resulting fragments, and then serves as the
submodule itself, so that the signals found are the ones in the netlist. A lookup that finds
no signal, or several, raises ``LookupError`` when the job is built, so a renamed register
fails loudly rather than weakening a proof.
"""

from amaranth import Elaboratable
from amaranth.hdl import Fragment
from amaranth.lib import data

__all__ = ["Netlist", "view"]


class Netlist(Elaboratable):
    """``design``, elaborated now; add it as a submodule in place of ``design``.

    Parameters
    ----------
    design : Elaboratable
    """

    def __init__(self, design):
        self.design = design
        self.fragment = Fragment.get(design, None)

    def elaborate(self, platform):
        return self.fragment

    def _fragments(self, fragment):
        yield fragment
        for sub, _name, _src_loc in fragment.subfragments:
            yield from self._fragments(sub)

    def fragment_of(self, cls):
        """The fragment elaborated from the one instance of ``cls`` in the design."""
        found = [f for f in self._fragments(self.fragment)
                 if any(isinstance(o, cls) for o in (f.origins or ()))]
        if len(found) != 1:
            raise LookupError(f"expected one {cls.__name__} in {self.design!r}, found "
                              f"{len(found)}")
        return found[0]

    def instance_of(self, cls):
        """The one instance of ``cls`` in the design."""
        return next(o for o in self.fragment_of(cls).origins if isinstance(o, cls))

    def submodule(self, name, cls, fragment=None):
        """The instance of ``cls`` added as ``m.submodules[name]`` of ``fragment`` (default:
        the design's own), and its fragment: where a design holds several instances of one
        class (a bank machine per bank), the name tells them apart."""
        fragment = self.fragment if fragment is None else fragment
        found = [(origin, sub) for sub, sub_name, _src_loc in fragment.subfragments
                 if sub_name == name
                 for origin in (sub.origins or ()) if isinstance(origin, cls)]
        if len(found) != 1:
            raise LookupError(f"expected one {cls.__name__} called {name!r} in "
                              f"{self.design!r}, found {len(found)}: the design changed; "
                              f"update the properties that read it")
        return found[0]

    def signal(self, name, fragment=None):
        """The one signal called ``name`` driven in ``fragment`` (default: the design's
        own)."""
        fragment = self.fragment if fragment is None else fragment
        found = {}
        for statements in fragment.statements.values():
            for statement in statements:
                for signal in statement._lhs_signals():
                    if signal.name == name:
                        found[id(signal)] = signal
        if len(found) != 1:
            raise LookupError(f"expected one signal {name!r} in {self.design!r}, found "
                              f"{len(found)}: the design changed; update the properties "
                              f"that read it")
        return next(iter(found.values()))


def view(signal, layout):
    """A :class:`~amaranth.lib.data.View` of ``layout`` on a raw ``signal`` found by
    :meth:`Netlist.signal`, checking that the widths still agree."""
    size = data.Layout.cast(layout).size
    if len(signal) != size:
        raise LookupError(f"{signal.name} is {len(signal)} bits, the property expects {size}: "
                          f"the design changed; update the properties that read it")
    return data.View(layout, signal)
