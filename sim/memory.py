"""The memory system as a simulation top: :class:`~rtl.mem.system.MemorySystem` with a
timing-checked :class:`~rtl.mem.device.DramDevice` on every pseudo-channel, and either its AXI4
ports at the top level (for testbench masters) or a hardware
:class:`~rtl.mem.traffic.TrafficGenerator` on every port (for benchmarks that run with no
Python in the per-cycle loop).

Identical parts (controllers, device models, ports, traffic generators) are each written as
one shared Verilog module (:mod:`sim.shared`), so that Verilator compiles each once however
many channels and ports there are.

The devices' first timing violation is gathered into ``error`` (sticky) with the channel, the
rule, the bank and the cycle; a testbench waits on ``error`` and fails with
:func:`~rtl.mem.device.describe_error`, so a broken rule stops the test at once without the
testbench polling every cycle.
"""

from amaranth import Module, Signal, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from openmxu.address_map import DEFAULT_ORDER
from rtl.mem.device import DramDevice, ErrorRule, CYCLE_BITS
from rtl.mem.system import MemorySystem, counter_layout
from rtl.mem.traffic import TrafficGenerator, COUNTERS as TRAFFIC_COUNTERS, COUNTER_BITS
from rtl.params import check_int, validating
from .shared import SharedModule

__all__ = ["MemoryTestbench", "traffic_counter_layout", "pattern_layout"]


def traffic_counter_layout():
    """``StructLayout`` of one traffic generator's counters."""
    return data.StructLayout({name: COUNTER_BITS for name in TRAFFIC_COUNTERS})


class MemoryTestbench(wiring.Component):
    """A memory system with device models, as a Verilator top.

    Parameters
    ----------
    timing, channels, ports, order, bank_queue_depth, id_width, address_bits, read_bursts, write_bursts
        As for :class:`~rtl.mem.system.MemorySystem` (``address_bits`` wider than the map
        lets bursts reach past the capacity, which they answer with ``DECERR``).
    stored_rows : int
        Rows of every bank the device models store (see
        :class:`~rtl.mem.device.DramDevice`); traffic must stay below them.
    traffic : bool
        ``False``: the ports are at the top level as ``s_axi``. ``True``: a traffic generator
        drives each port; the pattern inputs are shared, the ``base`` and the counters are
        per port.

    Members
    -------
    s_axi : ``In(AXI4Signature).array(ports)``
        Without traffic generators.
    start, window_log2, beats, random, read_weight, write_weight, bursts : ``In``
        With traffic generators: as for :class:`~rtl.mem.traffic.TrafficGenerator`, shared.
    base : ``In(data.ArrayLayout(address_bits, ports))``
        With traffic generators: each port's window base.
    done : ``Out(1)``
        With traffic generators: every generator is done.
    traffic_counters : ``Out(data.ArrayLayout(traffic_counter_layout(), ports))``
        With traffic generators.
    counters : ``Out(data.ArrayLayout(counter_layout(), channels))``
        The controllers' counters.
    error : ``Out(1)``
        A device saw a timing violation (sticky); ``error_channel``, ``error_rule``,
        ``error_bank`` and ``error_cycle`` describe the first (the lowest channel when
        several fail in one cycle).
    """

    def __init__(self, *, timing="hbm2-2000", channels=1, ports=1, order=DEFAULT_ORDER,
                 bank_queue_depth=8, id_width=4, address_bits=None, read_bursts=16,
                 write_bursts=16, stored_rows=64, traffic=False):
        with validating(self):
            self._system = MemorySystem(timing=timing, channels=channels, ports=ports,
                                        order=order, bank_queue_depth=bank_queue_depth,
                                        id_width=id_width, address_bits=address_bits,
                                        read_bursts=read_bursts,
                                        write_bursts=write_bursts)
            timing = self._system.timing
            self._devices = [DramDevice(timing=timing, stored_rows=stored_rows)
                             for _ in range(channels)]
            check_int("ports", ports, 1, 32)
        self._traffic = bool(traffic)
        self._generators = []
        axi = self._system.axi_signature
        members = {}
        if traffic:
            self._generators = [TrafficGenerator(addr_width=axi.addr_width,
                                                 data_width=axi.data_width,
                                                 id_width=axi.id_width,
                                                 max_outstanding=max(read_bursts, write_bursts))
                                for _ in range(ports)]
            generator = self._generators[0]
            members.update({
                name: In(generator.signature.members[name].shape)
                for name in ("start", "window_log2", "beats", "random", "read_weight",
                             "write_weight", "bursts")})
            members["base"] = In(data.ArrayLayout(axi.addr_width, ports))
            members["done"] = Out(1)
            members["traffic_counters"] = Out(data.ArrayLayout(traffic_counter_layout(), ports))
        else:
            members["s_axi"] = In(axi).array(ports)
        bank_width = self._devices[0].error_bank.shape().width
        members.update({
            "counters": Out(data.ArrayLayout(counter_layout(), channels)),
            "error": Out(1),
            "error_channel": Out(range(max(channels, 2))),
            "error_rule": Out(ErrorRule),
            "error_bank": Out(bank_width),
            "error_cycle": Out(CYCLE_BITS),
        })
        super().__init__(members)
        self._share()

    def _share(self):
        """Replace the identical parts by stand-ins of one shared module each."""
        system = self._system
        for kind, parts in (("channel_controller", system.controllers),
                            ("axi_port", system.axi_ports),
                            ("dram_device", self._devices),
                            ("traffic_generator", self._generators)):
            for index, part in enumerate(parts):
                parts[index] = SharedModule(part, module=f"openmxu_{kind}")

    @property
    def shared_modules(self):
        """Every stand-in (:func:`sim.shared.shared_verilog` writes their modules)."""
        system = self._system
        return [*system.controllers, *system.axi_ports, *self._devices, *self._generators]

    @property
    def system(self):
        return self._system

    @property
    def storage_bytes(self):
        """Bytes the device models store, per channel."""
        return self._devices[0].component.storage_bytes

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = system = self._system
        for c, device in enumerate(self._devices):
            m.submodules[f"device{c}"] = device
            wiring.connect(m, system.dram[c], device.dram)
        m.d.comb += self.counters.eq(system.counters)

        # The first failing device, lowest channel first (the last assignment wins).
        for c in reversed(range(len(self._devices))):
            device = self._devices[c]
            with m.If(device.error):
                m.d.comb += [self.error.eq(1), self.error_channel.eq(c),
                             self.error_rule.eq(device.error_rule),
                             self.error_bank.eq(device.error_bank),
                             self.error_cycle.eq(device.error_cycle)]

        if self._traffic:
            all_done = 1
            for p, generator in enumerate(self._generators):
                m.submodules[f"traffic{p}"] = generator
                wiring.connect(m, generator.m_axi, system.s_axi[p])
                for name in ("start", "window_log2", "beats", "random", "read_weight",
                             "write_weight", "bursts"):
                    m.d.comb += getattr(generator, name).eq(getattr(self, name))
                # Different streams per port: the seed follows the port.
                m.d.comb += [generator.base.eq(self.base[p]), generator.seed.eq(p + 1)]
                for name in TRAFFIC_COUNTERS:
                    m.d.comb += self.traffic_counters[p][name].eq(getattr(generator, name))
                all_done = all_done & generator.done
            m.d.comb += self.done.eq(all_done)
        else:
            for p in range(len(self._system.s_axi)):
                wiring.connect(m, wiring.flipped(self.s_axi[p]), system.s_axi[p])
        return m
