"""One Verilog module for many identical instances, so that a simulator compiles it once.

Amaranth writes one Verilog module per instance, even when instances are identical: a memory
system with 16 pseudo-channels becomes 16 copies of the controller, and Verilator compiles
every copy. :class:`SharedModule` stands in for a component with an ``Instance`` of a module
converted once (:func:`shared_verilog`), with exactly the component's ports, so that a build
compiles the module once and instantiates it many times. The Verilog of the design is the same
logic, only with the duplicates folded.
"""

from amaranth import Module, Instance, ClockSignal, ResetSignal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["SharedModule", "shared_verilog"]


class SharedModule(wiring.Component):
    """Stands in for ``component`` (same signature) with an instance of the Verilog module
    ``module``, which :func:`shared_verilog` writes from the first stand-in of that name.

    Parameters
    ----------
    component : wiring.Component
        The component the instance replaces; its ports are the instance's ports.
    module : str
        Name of the shared module.
    """

    def __init__(self, component, *, module):
        # Only the first stand-in of a module has its component converted; the others are
        # represented by that conversion, so their components are not "unused".
        component._MustUse__silence = True
        self._component = component
        self._module = module
        super().__init__(component.signature)

    @property
    def component(self):
        return self._component

    @property
    def module(self):
        return self._module

    def elaborate(self, platform):
        m = Module()
        ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        for path, member, value in self.signature.flatten(self):
            name = "__".join(str(part) for part in path)
            ports[("i_" if member.flow == In else "o_") + name] = Value.cast(value)
        m.submodules[self._module] = Instance(self._module, **ports)
        return m


def shared_verilog(stand_ins, *, memory_init=True):
    """The Verilog of every shared module among ``stand_ins`` (one conversion per module
    name)."""
    from rtl.export import convert
    texts, done = [], set()
    for stand_in in stand_ins:
        if stand_in.module not in done:
            done.add(stand_in.module)
            texts.append(convert(stand_in.component, name=stand_in.module,
                                 description=[repr(stand_in.component)],
                                 memory_init=memory_init))
    return "\n".join(texts)
