"""The HBM-style memory system: AXI4 ports, a crossbar and one controller per pseudo-channel.

::

    s_axi[0] .. s_axi[ports-1]        AXI4 subordinates over one global address space
         |  AXI4Port: bursts -> beat requests (channel, bank, row, column), reorder, B/R
    Crossbar                          round robin per channel and per port
         |
    ChannelController x channels      queue, FR-FCFS, open page, refresh, write batching
         |
    dram[0] .. dram[channels-1]       DRAM command interfaces (to DramDevice models or PHYs)

The global address map (:class:`~openmxu.address_map.AddressMap`) is the same for every port.
Counters of every channel are gathered in :attr:`MemorySystem.counters`.
"""

from amaranth import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out, connect

from openmxu.address_map import AddressMap, DEFAULT_ORDER
from ..params import check_int, validating
from .commands import DramSignature, resolve_timing, timing_repr
from .controller import (ChannelController, COUNTERS, COUNTER_BITS, DEFAULT_STARVATION_LIMIT,
                         DEFAULT_BANK_QUEUE_DEPTH)
from .interconnect import Crossbar, MAX_PORTS
from .port import AXI4Port, REQUEST_DELAY, RESPONSE_DELAY

__all__ = ["MemorySystem", "counter_layout"]


def counter_layout():
    """``StructLayout`` of one channel's counters (:data:`~rtl.mem.controller.COUNTERS`, each
    :data:`~rtl.mem.controller.COUNTER_BITS` wide), shared with the testbenches that read
    them."""
    return data.StructLayout({name: COUNTER_BITS for name in COUNTERS})


class MemorySystem(wiring.Component):
    """AXI4 ports in front of ``channels`` pseudo-channel controllers (see the module
    documentation).

    Parameters
    ----------
    timing : TimingPreset or str
        Preset of every pseudo-channel (default ``"hbm2-2000"``).
    channels : int
        Pseudo-channels (a power of two, 1 to 32).
    ports : int
        AXI4 subordinate ports (1 to 32); every port reaches every channel.
    order : tuple of str
        Field order of the global address map, least significant first.
    id_width : int
        AXI ID width (4 to 16).
    address_bits : int or None
        AXI address width; ``None`` for the map's width (at least 12).
    read_bursts, write_bursts : int
        Bursts in flight per port and direction (1 to 64).
    bank_queue_depth : int
        Requests each bank of each controller queues (1 to 16).
    starvation_limit : int
        Cycles after which a waiting request is served before younger row hits.

    Members
    -------
    s_axi : ``In(AXI4Signature(...)).array(ports)``
    dram : ``Out(DramSignature(timing=timing)).array(channels)``
    counters : ``Out(data.ArrayLayout(counter_layout(), channels))``
    """

    def __init__(self, *, timing="hbm2-2000", channels=1, ports=1, order=DEFAULT_ORDER,
                 id_width=4, address_bits=None, read_bursts=16, write_bursts=16,
                 bank_queue_depth=DEFAULT_BANK_QUEUE_DEPTH, starvation_limit=DEFAULT_STARVATION_LIMIT):
        with validating(self):
            timing = resolve_timing(timing)
            address_map = AddressMap(timing=timing, channels=channels, order=order)
            check_int("ports", ports, 1, MAX_PORTS)
            # Built here so that every parameter is checked before elaboration.
            self._ports = [AXI4Port(timing=timing, channels=channels, order=order,
                                    id_width=id_width, address_bits=address_bits,
                                    read_bursts=read_bursts, write_bursts=write_bursts)
                           for _ in range(ports)]
            self._crossbar = Crossbar(address_map=address_map, ports=ports,
                                      port_tag_width=self._ports[0].tag_width)
            self._controllers = [
                ChannelController(timing=timing, bank_queue_depth=bank_queue_depth,
                                  starvation_limit=starvation_limit,
                                  tag_width=self._crossbar.channel_tag_width)
                for _ in range(channels)]
        self._timing = timing
        self._address_map = address_map
        super().__init__({
            "s_axi": In(self._ports[0].axi_signature).array(ports),
            "dram": Out(DramSignature(timing=timing)).array(channels),
            "counters": Out(data.ArrayLayout(counter_layout(), channels)),
        })

    @classmethod
    def from_config(cls, config, *, ports, **kwargs):
        """The memory system of an :class:`openmxu.Config` (its preset, channels, address
        order, AXI ID width and queue depth) with ``ports`` AXI4 ports."""
        return cls(timing=config.memory_preset, channels=config.channels, ports=ports,
                   order=config.address_order, id_width=config.axi_id_width,
                   bank_queue_depth=config.bank_queue_depth, **kwargs)

    @property
    def timing(self):
        return self._timing

    @property
    def address_map(self):
        return self._address_map

    @property
    def axi_signature(self):
        return self._ports[0].axi_signature

    @property
    def controllers(self):
        """The channel controllers, in channel order. A simulation top may replace one by a
        stand-in with the same signature (:class:`sim.shared.SharedModule`) before
        elaboration."""
        return self._controllers

    @property
    def axi_ports(self):
        """The :class:`~rtl.mem.port.AXI4Port` of every port, in port order (replaceable
        like :attr:`controllers`)."""
        return self._ports

    @property
    def controller(self):
        """The first channel's controller (all are alike): its figures, such as
        ``read_overhead`` and ``refresh_deadline``."""
        return self._controllers[0]

    def read_latency(self, *, row_hit=False):
        """Cycles from an unloaded read's AR handshake to its first beat being valid on R:
        the controller's :meth:`~rtl.mem.controller.ChannelController.read_latency` and the
        port's :data:`~rtl.mem.port.REQUEST_DELAY` and :data:`~rtl.mem.port.RESPONSE_DELAY`
        (the crossbar adds none)."""
        return (self._controllers[0].read_latency(row_hit=row_hit) + REQUEST_DELAY
                + RESPONSE_DELAY)

    def __repr__(self):
        port, controller = self._ports[0], self._controllers[0]
        return (f"MemorySystem(timing={timing_repr(self._timing)}, "
                f"channels={self._address_map.channels}, ports={len(self._ports)}, "
                f"order={self._address_map.order!r}, id_width={port.axi_signature.id_width}, "
                f"address_bits={port.axi_signature.addr_width}, "
                f"read_bursts={port.read_bursts}, write_bursts={port.write_bursts}, "
                f"bank_queue_depth={controller.bank_queue_depth}, "
                f"starvation_limit={controller.starvation_limit})")

    def elaborate(self, platform):
        m = Module()
        m.submodules.crossbar = crossbar = self._crossbar
        for p, port in enumerate(self._ports):
            m.submodules[f"port{p}"] = port
            wiring.connect(m, wiring.flipped(self.s_axi[p]), port.s_axi)
            connect(m, port.requests, crossbar.port_requests[p])
            connect(m, crossbar.port_responses[p], port.responses)
        for c, controller in enumerate(self._controllers):
            m.submodules[f"channel{c}"] = controller
            connect(m, crossbar.channel_requests[c], controller.requests)
            connect(m, controller.responses, crossbar.channel_responses[c])
            connect(m, controller.dram, wiring.flipped(self.dram[c]))
            for name in COUNTERS:
                m.d.comb += self.counters[c][name].eq(getattr(controller, name))
        return m
