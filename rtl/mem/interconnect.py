"""The crossbar between the AXI4 ports and the pseudo-channel controllers.

Each port (:class:`~rtl.mem.port.AXI4Port`) sends beat requests that name their channel; each
channel's controller answers with responses tagged by the request's tag. The crossbar routes
requests by channel and responses by port, adding the port's number above the port's own tag
on the way in and taking it off on the way out.

Arbitration is round robin on both sides: a channel takes one request per cycle from the
ports that have one for it, and a port takes one response per cycle from the channels that
have one for it, each starting after the one served last. Every waiting request is therefore
served within ``ports`` grants of its channel, and no port starves. Ports always take their
responses (their read buffers are reserved per burst), so a response waits only for the
arbitration, which keeps the crossbar free of deadlock whatever the channels' order.
"""

from amaranth import Module, Signal, Cat, Const, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from openmxu.address_map import AddressMap, MAX_CHANNELS
from ..params import check_int, validating
from .commands import timing_repr
from .controller import request_layout, response_layout
from .bits import round_robin
from .counters import log2
from .port import beat_request_layout

__all__ = ["Crossbar", "MAX_PORTS"]

#: Most AXI4 ports on one memory system.
MAX_PORTS = 32


class Crossbar(wiring.Component):
    """Routes beat requests from ``ports`` AXI4 ports to the controllers of the address map's
    channels, and their responses back (see the module documentation).

    Parameters
    ----------
    address_map : AddressMap
        The global map; ``address_map.channels`` controllers are attached.
    ports : int
        AXI4 ports attached (1 to 32).
    port_tag_width : int
        Tag width of the ports' requests (1 to 24).

    Members
    -------
    port_requests : ``In(stream.Signature(beat_request_layout(address_map,
    tag_width=port_tag_width))).array(ports)``
    port_responses : ``Out(stream.Signature(response_layout(timing,
    tag_width=port_tag_width))).array(ports)``
    channel_requests : ``Out(stream.Signature(request_layout(timing,
    tag_width=channel_tag_width))).array(channels)``
        The port's tag with the port number above it.
    channel_responses : ``In(stream.Signature(response_layout(timing,
    tag_width=channel_tag_width))).array(channels)``
    """

    def __init__(self, *, address_map, ports, port_tag_width):
        with validating(self):
            if not isinstance(address_map, AddressMap):
                raise ValueError(f"address_map must be an AddressMap, not {address_map!r}")
            check_int("ports", ports, 1, MAX_PORTS)
            check_int("port_tag_width", port_tag_width, 1, 24)
        self._address_map = address_map
        self._ports = ports
        self._port_tag_width = port_tag_width
        timing = address_map.timing
        channel_tag = self.channel_tag_width
        super().__init__({
            "port_requests": In(stream.Signature(
                beat_request_layout(address_map, tag_width=port_tag_width))).array(ports),
            "port_responses": Out(stream.Signature(
                response_layout(timing, tag_width=port_tag_width))).array(ports),
            "channel_requests": Out(stream.Signature(
                request_layout(timing, tag_width=channel_tag))).array(address_map.channels),
            "channel_responses": In(stream.Signature(
                response_layout(timing, tag_width=channel_tag))).array(address_map.channels),
        })

    @property
    def address_map(self):
        return self._address_map

    @property
    def ports(self):
        return self._ports

    @property
    def channel_tag_width(self):
        """Tag width on the channel side: the port's tag and the port number."""
        return self._port_tag_width + max(1, log2(1 << (self._ports - 1).bit_length()))

    def __repr__(self):
        return (f"Crossbar(address_map={self._address_map!r}, ports={self._ports}, "
                f"port_tag_width={self._port_tag_width})")

    def elaborate(self, platform):
        m = Module()
        ports, channels = self._ports, self._address_map.channels
        tag_width = self._port_tag_width

        # Requests: per channel, round robin over the ports whose request names it.
        accepted = [Const(0) for _ in range(ports)]
        for c in range(channels):
            downstream = self.channel_requests[c]
            wanting = Signal(ports, name=f"channel{c}_wanting")
            m.d.comb += wanting.eq(Cat(*(
                request.valid & (request.payload.channel == c if channels > 1 else 1)
                for request in self.port_requests)))
            grant = round_robin(m, wanting, ports, accepted=downstream.ready,
                                name=f"channel{c}_arbiter")
            m.d.comb += downstream.valid.eq(wanting.any())
            for p, request in enumerate(self.port_requests):
                with m.If(grant[p]):
                    forwarded = request.payload.request
                    m.d.comb += [
                        *(downstream.payload[name].eq(forwarded[name])
                          for name in ("write", "bank", "row", "column", "data", "strobe")),
                        downstream.payload.tag.eq(Cat(forwarded.tag,
                                                      Const(p, self.channel_tag_width
                                                            - tag_width))),
                    ]
                accepted[p] = accepted[p] | (grant[p] & downstream.ready)
        for p, request in enumerate(self.port_requests):
            m.d.comb += request.ready.eq(accepted[p])

        # Responses: per port, round robin over the channels answering it.
        taken = [Const(0) for _ in range(channels)]
        for p, upstream in enumerate(self.port_responses):
            answering = Signal(channels, name=f"port{p}_answering")
            m.d.comb += answering.eq(Cat(*(
                response.valid & (response.payload.tag[tag_width:] == p if ports > 1 else 1)
                for response in self.channel_responses)))
            grant = round_robin(m, answering, channels, accepted=upstream.ready,
                                name=f"port{p}_arbiter")
            m.d.comb += upstream.valid.eq(answering.any())
            for c, response in enumerate(self.channel_responses):
                with m.If(grant[c]):
                    m.d.comb += [
                        upstream.payload.tag.eq(response.payload.tag[:tag_width]),
                        upstream.payload.write.eq(response.payload.write),
                        upstream.payload.data.eq(response.payload.data),
                    ]
                taken[c] = taken[c] | (grant[c] & upstream.ready)
        for c, response in enumerate(self.channel_responses):
            m.d.comb += response.ready.eq(taken[c])
        return m
