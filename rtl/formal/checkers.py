"""Protocol checkers for formal jobs: one per interface kind, bound to any instance of it.

Each checker is an ``Elaboratable`` that reads an interface's signals and adds properties. The
same checker serves both ends of a link (the "formal interface" pattern): what the checked
design drives is asserted, what its environment drives is assumed. Which end the design is
follows from the interface's flows (a component's ``Out`` stream is driven by it, an ``In``
stream by its environment) or from an explicit ``role``; the role ``"monitor"`` asserts
everything, for links whose both ends are inside the checked design.

:class:`StreamChecker`
    ``amaranth.lib.stream`` interfaces: valid is low after reset; once valid is high it stays
    high, with the payload unchanged, until ready.
:class:`AXI4Checker`
    :class:`~rtl.mem.axi.AXI4Signature` interfaces: the handshake rules on all five channels,
    and a table of the bursts in flight that checks ``WLAST``, ``RLAST``, the IDs of ``B`` and
    ``R``, the order of responses within an ID and the number of bursts in flight.

The register bus (:class:`~rtl.accel.registers.RegisterBus`) has no handshake (a write takes
one cycle, a read answers in the next), so it has no checker.

Checkers keep their own state in the ``sync`` domain, so a reset of the design also clears
what they track; properties about "the cycle after reset" hold in the first cycle of a check
too, since registers start at their reset values. :class:`FormalHarness` puts a design and its
checkers into one top whose ports are the design's, so that its inputs are free.
"""

from amaranth import Elaboratable, Module, Signal, Const, Value, Cat, Mux
from amaranth.hdl import Assert, Assume
from amaranth.lib import stream as lib_stream, wiring
from amaranth.lib.wiring import In, Out

from rtl.mem.axi import AXI4Signature, Burst, BOUNDARY
from rtl.mem.bits import lowest_set
from rtl.params import check_int, validating

__all__ = ["FormalHarness", "StreamChecker", "check_streams", "AXI4Checker", "STREAM_ROLES",
           "AXI_ROLES", "AXI_BOUNDS"]

#: ``source``: the checked design drives valid and payload. ``sink``: its environment does.
#: ``monitor``: both ends are inside the checked design.
STREAM_ROLES = ("source", "sink", "monitor")

#: ``manager``: the checked design drives AW, W, AR, BREADY and RREADY. ``subordinate``: it
#: drives the ready signals of AW, W, AR and the B and R channels. ``monitor``: both ends.
AXI_ROLES = ("manager", "subordinate", "monitor")

#: The bounds of :class:`AXI4Checker`, each kept by one end of the link.
AXI_BOUNDS = ("reads", "writes", "w_ahead")


def _flows_out(interface, member):
    """Whether the owner of ``interface`` drives ``member`` (a flipped interface's members
    flow the other way)."""
    return interface.signature.members[member].flow == Out


def _check(holds_for_design, test, message):
    """An ``Assert`` of what the checked design is responsible for, else an ``Assume``."""
    return (Assert if holds_for_design else Assume)(test, message, src_loc_at=1)


def _after_reset(m):
    """1 in the first cycle and in the cycle after any reset."""
    after_reset = Signal(init=1)
    m.d.sync += after_reset.eq(0)
    return after_reset


def _handshake(m, valid, ready, payload, *, holds, name, stable_payload=True):
    """Valid is low after reset and, once high, holds with ``payload`` unchanged (unless
    not ``stable_payload``) until ready. Returns the transfer signal (valid and ready)."""
    after_reset = _after_reset(m)
    stalled = Signal(name=f"{name}_stalled")      # valid without ready in the last cycle
    held = Signal(len(payload), name=f"{name}_held")
    m.d.sync += [stalled.eq(valid & ~ready), held.eq(payload)]
    if not isinstance(valid, Const):
        m.d.comb += [
            _check(holds, ~after_reset | ~valid, f"{name}: valid is high after reset"),
            _check(holds, ~stalled | valid, f"{name}: valid fell before ready"),
        ]
    if stable_payload and len(payload):
        m.d.comb += _check(holds, ~stalled | (payload == held),
                           f"{name}: payload changed before ready")
    fire = Signal(name=f"{name}_fire")
    m.d.comb += fire.eq(valid & ready)
    return fire


def _popcount(bits, count):
    """Number of set bits among ``count`` bits of ``bits``."""
    return sum((bits[i] for i in range(count)), Const(0, range(count + 1)))


def _select(onehot, values, width):
    """The value of ``values`` whose bit is set in ``onehot`` (0 when none is)."""
    result = Const(0, width)
    for i, value in enumerate(values):
        result = result | Mux(onehot[i], value, 0)
    return result


class FormalHarness(wiring.Component):
    """A design with checkers, as the top of a formal job.

    The harness has the ports of ``dut`` (except those named in ``exclude``) and connects them
    straight through, so that the design's inputs are free inputs of the job unless a checker
    assumes something about them; ``extra`` adds ports for adapters that ``bind`` builds (e.g.
    an AXI4 port assembled from a design's channel streams). ``bind(m, dut, top)`` adds the
    checkers, adapters and covers to ``m``.

    Parameters
    ----------
    dut : wiring.Component
        The checked design; it becomes the submodule ``dut``.
    bind : callable
        ``bind(m, dut, top)``, called during elaboration.
    exclude : iterable of str
        Members of ``dut`` that ``bind`` connects itself.
    extra : dict
        Further members of the harness, as for any component (with
        ``"m_axi": Out(AXI4Signature(...))`` the harness is an AXI4 manager).

    Members
    -------
    The members of ``dut`` not in ``exclude``, and ``extra``.
    """

    def __init__(self, dut, bind, *, exclude=(), extra=None):
        exclude = tuple(exclude)
        with validating(self), validating(dut):
            for name in exclude:
                if name not in dut.signature.members:
                    raise ValueError(f"exclude names {name!r}, which is not a member of "
                                     f"{dut!r}")
        self.dut = dut
        self._bind = bind
        self._exclude = exclude
        members = {name: member for name, member in dut.signature.members.items()
                   if name not in exclude}
        members.update(extra or {})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        for path, member, outer in self.signature.flatten(self):
            if path[0] in self._exclude or path[0] not in dut.signature.members:
                continue
            inner = dut
            for step in path:
                inner = inner[step] if isinstance(step, int) else getattr(inner, step)
            # Members fixed by their signature (the ready of an always-ready stream) are
            # constants on both sides.
            if isinstance(outer, Const) or isinstance(inner, Const):
                continue
            if member.flow == In:
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)
        self._bind(m, dut, self)
        return m


class StreamChecker(Elaboratable):
    """The transfer rules of an ``amaranth.lib.stream`` interface.

    Once ``valid`` is high it stays high, and ``payload`` keeps its value, until the cycle in
    which ``ready`` is high too; ``valid`` is low in the cycle after reset. Nothing is
    required of ``ready``, which may wait for ``valid``.

    Parameters
    ----------
    stream : stream.Interface
        The interface, as the checked design sees it (a component's port, or a flipped one).
    role : str or None
        One of :data:`STREAM_ROLES`; ``None`` infers ``source`` or ``sink`` from the flow of
        ``valid``.
    name : str
        Names the checker's signals and messages.
    stable_payload : bool
        Assert that the payload holds too. ``False`` leaves the payload of a stream that
        the design drives unchecked, for a link known to break that rule, so that the rest
        stays checked; an environment's payload is assumed to hold in any case.

    Members
    -------
    transfer : Signal
        High in the cycles in which a payload is transferred.
    """

    def __init__(self, stream, *, role=None, name="stream", stable_payload=True):
        if role is None:
            role = "source" if _flows_out(stream, "valid") else "sink"
        with validating(self):
            if role not in STREAM_ROLES:
                raise ValueError(f"role must be one of {STREAM_ROLES}, not {role!r}")
        self.stream, self.role, self.name = stream, role, name
        self.stable_payload = stable_payload
        self.transfer = Signal(name=f"{name}_transfer")

    def elaborate(self, platform):
        m = Module()
        stream = self.stream
        fire = _handshake(m, stream.valid, stream.ready, Value.cast(stream.payload),
                          holds=self.role != "sink", name=self.name,
                          stable_payload=self.stable_payload or self.role == "sink")
        m.d.comb += self.transfer.eq(fire)
        return m


def _unflipped(signature):
    return signature.flip() if isinstance(signature, wiring.FlippedSignature) else signature


def check_streams(m, component, *, exclude=(), prefix="", **options):
    """Bind a :class:`StreamChecker` to every stream member of ``component`` (arrays of
    streams included) not named in ``exclude``, as submodules of ``m`` named after the
    members; returns them by name. Roles follow the members' flows: the component's ``Out``
    streams are asserted, its ``In`` streams assumed. ``options`` go to every checker."""
    checkers = {}

    def bind(interface, name):
        if isinstance(interface, (list, tuple)):
            for index, element in enumerate(interface):
                bind(element, f"{name}{index}")
        else:
            checkers[name] = m.submodules[name] = StreamChecker(interface, name=name,
                                                                **options)

    for member_name, member in component.signature.members.items():
        if member_name in exclude or not member.is_signature:
            continue
        if isinstance(_unflipped(member.signature), lib_stream.Signature):
            bind(getattr(component, member_name), f"{prefix}{member_name}")
    return checkers


class AXI4Checker(Elaboratable):
    """The rules of an AXI4 link (:class:`~rtl.mem.axi.AXI4Signature`).

    **Handshakes.** On AW, W, AR, B and R, ``VALID`` is low after reset and, once high, stays
    high with its payload unchanged until ``READY``.

    **Writes.** ``WLAST`` is on the beat ``AWLEN`` gives, W bursts following the order of
    their AWs (a W burst may run ahead of its AW, by at most ``max_w_ahead`` bursts). A ``B``
    names the ID of a write whose AW and last W beat have both been transferred in an earlier
    cycle, and the oldest such write of that ID (responses are in order within an ID).

    **Reads.** An ``R`` beat names the ID of a read whose AR was transferred in an earlier
    cycle and belongs to the oldest read in flight with that ID; ``RLAST`` is on the beat its
    ``ARLEN`` gives. Beats of different IDs may interleave and complete in any order.

    **Bounds.** At most ``max_reads`` reads and ``max_writes`` writes are in flight (from the
    address transfer to the last R beat or the B transfer); the table is this size, so a
    bound is a property, asserted when the checked design is the end that keeps it (see
    ``bounds``) and assumed otherwise.

    **Bursts.** With ``legal_bursts``, INCR bursts do not cross a 4 KB boundary (an AXI rule
    for managers). It is never assumed: openmxu subordinates answer such bursts with
    ``SLVERR``, and a check of a subordinate must see them.

    Parameters
    ----------
    bus : interface of AXI4Signature
        The link, as the checked design sees it.
    role : str or None
        One of :data:`AXI_ROLES`; ``None`` infers ``manager`` or ``subordinate`` from the
        flow of ``awvalid``.
    reads, writes : bool
        Track the bursts of that direction. A direction not tracked keeps its handshake
        rules only, which is what a link that passes transfers through unchanged needs (and
        a direction that stays idle costs the solver nothing).
    max_reads, max_writes : int
        Bursts in flight per direction that the table tracks (1 to 8).
    max_w_ahead : int
        W bursts that may be transferred before their AW (0 to 4); 0 requires every W beat
        to follow the transfer of its AW (or to be in the same cycle).
    bounds : dict
        For each of :data:`AXI_BOUNDS`, the end (``"manager"`` or ``"subordinate"``) that
        keeps it; the default is the subordinate, through its ready signals.
    legal_bursts : bool
        Assert that the manager's INCR bursts stay within 4 KB.
    name : str
        Names the checker's signals.

    Members
    -------
    signature : AXI4Signature
        The link's signature, unflipped.
    transfers : dict of Signal
        By channel name (``"aw"``, ``"w"``, ``"b"``, ``"ar"``, ``"r"``): high in the cycles in
        which the channel transfers.
    reads_in_flight, writes_in_flight : Signal
        Bursts in the table (tracked directions only).
    read_done, write_done : Signal
        A read's last R beat, a write's B is transferred.
    long_read_done, long_write_done : Signal
        The same, for a burst of more than one beat.
    read_overtook, write_overtook : Signal
        A read (write) completes while an older one with another ID is still in flight.
    """

    def __init__(self, bus, *, role=None, reads=True, writes=True, max_reads=2, max_writes=2,
                 max_w_ahead=1, bounds=None, legal_bursts=False, name="axi"):
        with validating(self):
            signature = _unflipped(bus.signature)
            if not isinstance(signature, AXI4Signature):
                raise ValueError(f"bus must have an AXI4Signature, not {bus.signature!r}")
            if role is None:
                role = "manager" if _flows_out(bus, "awvalid") else "subordinate"
            if role not in AXI_ROLES:
                raise ValueError(f"role must be one of {AXI_ROLES}, not {role!r}")
            check_int("max_reads", max_reads, 1, 8)
            check_int("max_writes", max_writes, 1, 8)
            check_int("max_w_ahead", max_w_ahead, 0, 4)
            bounds = {**{bound: "subordinate" for bound in AXI_BOUNDS}, **(bounds or {})}
            for bound, end in bounds.items():
                if bound not in AXI_BOUNDS or end not in ("manager", "subordinate"):
                    raise ValueError(f"bounds must map {AXI_BOUNDS} to 'manager' or "
                                     f"'subordinate', not {bound!r}: {end!r}")
        self.bus, self.role, self.name = bus, role, name
        self.reads, self.writes = reads, writes
        self.signature = signature
        self.max_reads, self.max_writes, self.max_w_ahead = max_reads, max_writes, max_w_ahead
        self.bounds, self.legal_bursts = bounds, legal_bursts
        self.reads_in_flight = Signal(range(max_reads + 1), name=f"{name}_reads_in_flight")
        self.writes_in_flight = Signal(range(max_writes + 1), name=f"{name}_writes_in_flight")
        self.transfers = {channel: Signal(name=f"{name}_{channel}_transfer")
                          for channel in ("aw", "w", "b", "ar", "r")}
        for what in ("read_done", "write_done", "long_read_done", "long_write_done",
                     "read_overtook", "write_overtook"):
            setattr(self, what, Signal(name=f"{name}_{what}"))

    def _holds(self, end):
        """Whether properties that ``end`` is responsible for are asserted."""
        return self.role in (end, "monitor")

    def elaborate(self, platform):
        m = Module()
        bus, name = self.bus, self.name
        manager, subordinate = self._holds("manager"), self._holds("subordinate")

        channels = {
            "aw": (bus.awvalid, bus.awready,
                   Cat(bus.awid, bus.awaddr, bus.awlen, bus.awsize, bus.awburst), manager),
            "w": (bus.wvalid, bus.wready, Cat(bus.wdata, bus.wstrb, bus.wlast), manager),
            "b": (bus.bvalid, bus.bready, Cat(bus.bid, bus.bresp), subordinate),
            "ar": (bus.arvalid, bus.arready,
                   Cat(bus.arid, bus.araddr, bus.arlen, bus.arsize, bus.arburst), manager),
            "r": (bus.rvalid, bus.rready, Cat(bus.rid, bus.rdata, bus.rresp, bus.rlast),
                  subordinate),
        }
        fire = {channel: _handshake(m, valid, ready, payload, holds=holds,
                                    name=f"{name}_{channel}")
                for channel, (valid, ready, payload, holds) in channels.items()}
        for channel, transfer in fire.items():
            m.d.comb += self.transfers[channel].eq(transfer)

        if self.legal_bursts and manager:
            for channel in ("aw", "ar"):
                valid, addr, len_, size, burst = (getattr(bus, f"{channel}{field}") for field
                                                  in ("valid", "addr", "len", "size", "burst"))
                page_offset = addr[:BOUNDARY.bit_length() - 1]
                end = page_offset + ((len_ + 1) << size)
                m.d.comb += Assert(~valid | (burst != Burst.INCR) | (end <= BOUNDARY),
                                   f"{name}_{channel}: burst crosses a 4 KB boundary")

        if self.reads:
            self._reads(m, fire)
        if self.writes:
            self._writes(m, fire)
        return m

    def _bound(self, bound, test, message):
        return _check(self._holds(self.bounds[bound]), test, message)

    def _reads(self, m, fire):
        bus, n, name = self.bus, self.max_reads, self.name
        id_width = self.signature.id_width
        subordinate = self._holds("subordinate")
        live = Signal(n, name=f"{name}_read_live")
        ids = [Signal(id_width, name=f"{name}_read{e}_id") for e in range(n)]
        lens = [Signal(8, name=f"{name}_read{e}_len") for e in range(n)]
        beats = [Signal(8, name=f"{name}_read{e}_beats") for e in range(n)]
        # Position among the reads in flight with the same ID: 0 is the one R may answer.
        ranks = [Signal(range(max(n, 2)), name=f"{name}_read{e}_rank") for e in range(n)]
        # Bit e of older[f]: read f was accepted before read e.
        older = [Signal(n, name=f"{name}_read{f}_older") for f in range(n)]

        target = Signal(n, name=f"{name}_read_target")
        m.d.comb += target.eq(Cat(*(live[e] & (ids[e] == bus.rid) & (ranks[e] == 0)
                                    for e in range(n))))
        target_len = _select(target, lens, 8)
        target_beats = _select(target, beats, 8)
        m.d.comb += [
            _check(subordinate, ~bus.rvalid | target.any(),
                   f"{name}_r: RID of no read in flight"),
            _check(subordinate, ~bus.rvalid | ~target.any()
                   | (bus.rlast == (target_beats == target_len)),
                   f"{name}_r: RLAST not on the burst's last beat"),
        ]
        ending = Signal(name=f"{name}_read_ending")
        release = Signal(n, name=f"{name}_read_release")
        m.d.comb += [ending.eq(fire["r"] & bus.rlast & target.any()),
                     release.eq(Mux(ending, target, 0))]
        for e in range(n):
            with m.If(fire["r"] & target[e]):
                m.d.sync += beats[e].eq(beats[e] + 1)
            with m.If(ending & live[e] & ~target[e] & (ids[e] == bus.rid)):
                m.d.sync += ranks[e].eq(ranks[e] - 1)

        free = Signal(n, name=f"{name}_read_free")
        m.d.comb += free.eq(~live | release)
        m.d.comb += self._bound("reads", ~fire["ar"] | free.any(),
                                f"{name}_ar: more than {n} reads in flight")
        slot = lowest_set(m, free, range(max(n, 2)), f"{name}_read_slot")
        staying = live & ~release
        taking = Signal(n, name=f"{name}_read_taking")
        m.d.comb += taking.eq(Mux(fire["ar"] & free.any(), Const(1, n) << slot, 0))
        for e in range(n):
            with m.If(taking[e]):
                m.d.sync += [
                    ids[e].eq(bus.arid), lens[e].eq(bus.arlen), beats[e].eq(0),
                    ranks[e].eq(_popcount(Cat(*(staying[f] & (ids[f] == bus.arid)
                                                for f in range(n))), n)),
                    older[e].eq(0),
                ]
                for f in range(n):
                    if f != e:
                        m.d.sync += older[f][e].eq(staying[f])
        m.d.sync += live.eq(staying | taking)
        self._table_invariants(m, live, ids, ranks, "read")

        older_than_target = _select(target, [Cat(*(older[f][e] for f in range(n)))
                                             for e in range(n)], n)
        other_id = Cat(*(ids[f] != bus.rid for f in range(n)))
        m.d.comb += [
            self.reads_in_flight.eq(_popcount(live, n)),
            self.read_done.eq(ending),
            self.long_read_done.eq(ending & (target_len != 0)),
            self.read_overtook.eq(ending & (older_than_target & live & other_id).any()),
        ]

    def _writes(self, m, fire):
        bus, n, name = self.bus, self.max_writes, self.name
        id_width = self.signature.id_width
        manager, subordinate = self._holds("manager"), self._holds("subordinate")
        ahead_limit = self.max_w_ahead
        live = Signal(n, name=f"{name}_write_live")
        ids = [Signal(id_width, name=f"{name}_write{e}_id") for e in range(n)]
        lens = [Signal(8, name=f"{name}_write{e}_len") for e in range(n)]
        ranks = [Signal(range(max(n, 2)), name=f"{name}_write{e}_rank") for e in range(n)]
        # W bursts still to complete up to and including this write's: 0 when its data is
        # all in, 1 for the burst W is on.
        owed = [Signal(range(n + 1), name=f"{name}_write{e}_owed") for e in range(n)]
        older = [Signal(n, name=f"{name}_write{f}_older") for f in range(n)]
        w_beat = Signal(8, name=f"{name}_w_beat")
        # Beat counts - 1 of W bursts complete before their AW, oldest first.
        ahead = [Signal(8, name=f"{name}_w_ahead{i}") for i in range(ahead_limit)]
        ahead_count = Signal(range(ahead_limit + 1), name=f"{name}_w_ahead_count")

        # The burst W is on: the oldest write whose data is not all in, or the AW of this
        # cycle when there is none and no W burst ran ahead.
        current = Signal(n, name=f"{name}_write_current")
        m.d.comb += current.eq(Cat(*(live[e] & (owed[e] == 1) for e in range(n))))
        aw_is_current = Signal(name=f"{name}_aw_is_current")
        m.d.comb += aw_is_current.eq(fire["aw"] & ~current.any() & (ahead_count == 0))
        known = current.any() | aw_is_current
        w_len = Mux(current.any(), _select(current, lens, 8), bus.awlen)
        completing = Signal(name=f"{name}_w_completing")     # a W burst ends this cycle
        m.d.comb += completing.eq(fire["w"] & bus.wlast)
        m.d.comb += [
            _check(manager, ~fire["w"] | ~known | (bus.wlast == (w_beat == w_len)),
                   f"{name}_w: WLAST not on the burst's last beat"),
            _check(manager, ~fire["w"] | ~known | (w_beat <= w_len),
                   f"{name}_w: more W beats than AWLEN + 1"),
            _check(manager, ~aw_is_current | (w_beat <= bus.awlen),
                   f"{name}_aw: AWLEN shorter than the W beats sent ahead of it"),
            _check(manager, ~fire["w"] | known | bus.wlast | (w_beat != 255),
                   f"{name}_w: W burst longer than 256 beats"),
            self._bound("w_ahead", ~fire["w"] | known | (ahead_count < ahead_limit),
                        f"{name}_w: W more than {ahead_limit} bursts ahead of AW"
                        if ahead_limit else f"{name}_w: W beat before its AW"),
        ]
        with m.If(fire["w"]):
            m.d.sync += w_beat.eq(Mux(bus.wlast, 0, w_beat + 1))

        # W bursts ahead of their AW: pushed at WLAST, matched by the next AW.
        if ahead_limit:
            matching = fire["aw"] & (ahead_count != 0)
            m.d.comb += _check(manager, ~matching | (bus.awlen == ahead[0]),
                               f"{name}_aw: AWLEN differs from its W burst sent ahead")
            pushing = completing & ~known & (ahead_count < ahead_limit)
            shifted = [Mux(matching, ahead[i + 1] if i + 1 < ahead_limit else 0, ahead[i])
                       for i in range(ahead_limit)]
            position = ahead_count - matching
            for i in range(ahead_limit):
                m.d.sync += ahead[i].eq(Mux(pushing & (position == i), w_beat, shifted[i]))
            m.d.sync += ahead_count.eq(ahead_count + pushing - matching)
        else:
            matching = Const(0)

        # B: the oldest write in flight with its ID, which must have all its data.
        target = Signal(n, name=f"{name}_write_target")
        m.d.comb += target.eq(Cat(*(live[e] & (ids[e] == bus.bid) & (ranks[e] == 0)
                                    for e in range(n))))
        target_owed = _select(target, owed, len(owed[0]))
        m.d.comb += [
            _check(subordinate, ~bus.bvalid | target.any(),
                   f"{name}_b: BID of no write in flight"),
            _check(subordinate, ~bus.bvalid | ~target.any() | (target_owed == 0),
                   f"{name}_b: B before the write's last W beat"),
        ]
        ending = Signal(name=f"{name}_write_ending")
        release = Signal(n, name=f"{name}_write_release")
        m.d.comb += [ending.eq(fire["b"] & target.any()),
                     release.eq(Mux(ending, target, 0))]
        for e in range(n):
            with m.If(ending & live[e] & ~target[e] & (ids[e] == bus.bid)):
                m.d.sync += ranks[e].eq(ranks[e] - 1)
            with m.If(completing & current.any() & live[e] & (owed[e] != 0)):
                m.d.sync += owed[e].eq(owed[e] - 1)

        free = Signal(n, name=f"{name}_write_free")
        m.d.comb += free.eq(~live | release)
        m.d.comb += self._bound("writes", ~fire["aw"] | free.any(),
                                f"{name}_aw: more than {n} writes in flight")
        slot = lowest_set(m, free, range(max(n, 2)), f"{name}_write_slot")
        staying = live & ~release
        taking = Signal(n, name=f"{name}_write_taking")
        m.d.comb += taking.eq(Mux(fire["aw"] & free.any(), Const(1, n) << slot, 0))
        waiting = _popcount(Cat(*(live[e] & (owed[e] != 0) for e in range(n))), n)
        new_owed = Mux(matching, 0, waiting + 1 - (completing & known))
        for e in range(n):
            with m.If(taking[e]):
                m.d.sync += [
                    ids[e].eq(bus.awid), lens[e].eq(bus.awlen), owed[e].eq(new_owed),
                    ranks[e].eq(_popcount(Cat(*(staying[f] & (ids[f] == bus.awid)
                                                for f in range(n))), n)),
                    older[e].eq(0),
                ]
                for f in range(n):
                    if f != e:
                        m.d.sync += older[f][e].eq(staying[f])
        m.d.sync += live.eq(staying | taking)
        self._table_invariants(m, live, ids, ranks, "write")
        # Writes owing data form one queue: distinct positions 1, 2, ... and none complete
        # ahead of their AW while some AW waits for data.
        for e in range(n):
            for f in range(e + 1, n):
                m.d.comb += Assert(~(live[e] & live[f] & (owed[e] != 0))
                                   | (owed[e] != owed[f]),
                                   f"{name}: write table inconsistent (checker fault)")
            m.d.comb += Assert(~live[e] | (owed[e] <= _popcount(live, n)),
                               f"{name}: write table inconsistent (checker fault)")
            if ahead_limit:
                m.d.comb += Assert(~live[e] | (owed[e] == 0) | (ahead_count == 0),
                                   f"{name}: write table inconsistent (checker fault)")

        older_than_target = _select(target, [Cat(*(older[f][e] for f in range(n)))
                                             for e in range(n)], n)
        other_id = Cat(*(ids[f] != bus.bid for f in range(n)))
        m.d.comb += [
            self.writes_in_flight.eq(_popcount(live, n)),
            self.write_done.eq(ending),
            self.long_write_done.eq(ending & (_select(target, lens, 8) != 0)),
            self.write_overtook.eq(ending & (older_than_target & live & other_id).any()),
        ]

    def _table_invariants(self, m, live, ids, ranks, what):
        """What the table keeps by construction, asserted so that k-induction does not start
        from tables it can never reach: reads (writes) of one ID have distinct ranks below
        their number."""
        n = len(ids)
        for e in range(n):
            same = _popcount(Cat(*(live[f] & (ids[f] == ids[e]) for f in range(n))), n)
            m.d.comb += Assert(~live[e] | (ranks[e] < same),
                               f"{self.name}: {what} table inconsistent (checker fault)")
            for f in range(e + 1, n):
                m.d.comb += Assert(~(live[e] & live[f] & (ids[e] == ids[f]))
                                   | (ranks[e] != ranks[f]),
                                   f"{self.name}: {what} table inconsistent (checker fault)")
