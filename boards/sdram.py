"""The ULX3S's SDR SDRAM behind the memory system: a PHY from the DRAM command interface of
:mod:`rtl.mem.commands` to the pins of an SDR SDRAM such as the IS42S16160 (32 MB, 16 bits,
4 banks; the ``"sdr"`` preset at 100 MHz).

::

    MemorySystem(timing=controller_timing("sdr"))         held in reset until ``ready``
        dram[0]: row and column commands, wdata/wmask, rdata/rdata_valid
    SDRAMPHY(timing="sdr")
        init sequence, one command per cycle, BL8 data over dq[15:0], IO registers
    pins: clk cke cs_n ras_n cas_n we_n ba a dqm dq_o/dq_oe/dq_i

What the controller must be told, and why (see :func:`controller_timing`):

* **Read latency.** Every pin is driven from a register and ``dq`` is captured in a register,
  so a RD on the interface in cycle ``n`` is on the pins in ``n + 1``, the chip's first beat
  is on ``dq`` in ``n + 1 + CL`` and reaches ``rdata`` in ``n + 2 + CL``:
  :data:`READ_DELAY` (2) cycles beyond the chip's CAS latency. The controller takes its
  read latency from the preset's ``cl``, so it must run with ``cl = CL + 2`` (4 with the
  IS42S16160's CL 2 at 100 MHz). **The ``"sdr"`` preset itself (cl 2) cannot be met** by a
  PHY with registered pins: it would need the chip's data back in the cycle after the RD
  leaves the controller's command register, i.e. CL 0. The larger ``cl`` also gives the
  bus turnaround a read followed by a write needs on SDR (two idle cycles on ``dq`` between
  the last read beat and the first write beat, where CL 2 itself would leave none).
* **One command bus.** HBM has separate row and column buses and the controller uses both
  in one cycle; an SDR chip takes one command per cycle. The PHY sends a column command
  (RD/WR) on time, always, since its data is timed from it, and defers a row command
  (ACT/PRE/PREA/REF) that meets one, in order, to the next free cycle. A row command may so
  reach the chip up to ``row_slack`` cycles late, which the controller must allow for: every
  rule counting from a row command to a later command (tRCD, tRAS, tRC, tRP, tRRD, tRFC,
  tFAW) is ``row_slack`` longer in its preset. Rules counting from a column command to a
  row command (tRTP, tWR) only gain from a late row command. Column commands are at least
  tCCD (8) cycles apart, and the controller cannot issue row commands densely enough to
  push a deferral past one cycle: that would take row commands in nearly every cycle for
  eight cycles or more, while with the slack-1 preset it issues at most 7 in any 8 cycles
  and about two for every three cycles in the long run (ACTs are tRRD = 3 apart and each
  PRE closes a row an ACT opened); ``tests/test_sdram.py`` checks this bound exhaustively
  from the preset's figures. A deferral beyond ``row_slack`` sets the sticky ``error``.
* **Refresh.** The controller counts its refresh deadline from its own reset; the chip
  from the mode-register load, :data:`TMRD` cycles earlier, and a REF may reach it up to
  ``row_slack`` cycles late. ``trefi`` is shortened so that the deadline still holds.
* **Reset.** The controller has no ready input: the board top holds the memory system in
  reset until ``ready`` (e.g. ``ResetInserter({"sync": ~phy.ready})(memory_system)``), so
  that it starts its refresh timer with the chip initialized. Commands arriving before
  ``ready`` are dropped and set ``error``.

Initialization (JEDEC, IS42S16160 datasheet): NOP for ``init_cycles`` (200 us by default)
with CKE high, PRECHARGE ALL, tRP, AUTO REFRESH, tRFC, AUTO REFRESH, tRFC, LOAD MODE
REGISTER (burst length from the preset, 8 for ``"sdr"``; sequential; CAS latency from the
preset; programmed write bursts), tMRD, then ``ready``.

Clock and IO timing. The PHY's cycle model is that the chip samples each pin cycle's
command at the end of that cycle and drives read beat k to be sampled at the end of pin
cycle ``command + CL + k``. With the chip clock in phase with ``sync`` the PHY samples ``dq``
on the rising edge (``read_capture="rise"``); with the chip clock shifted by 180 degrees (the
ULX3S top's choice, which centres the command and write data on the chip's edge) a read
beat is valid around ``sync``'s falling edge, so ``read_capture="fall"`` samples it there
and passes it on at the next rising edge, with the same latency. Pin timing was not
measured on a board here; only the cycle model is verified (against :mod:`sim.sdram_chip`).
"""

from math import ceil

from amaranth import Module, Signal, Cat, Const, Mux, ClockSignal, ClockDomain
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from rtl.mem.commands import (RowCommand, ColumnCommand, DramSignature, row_command,
                              column_command, resolve_timing, timing_repr)
from rtl.mem.counters import log2
from rtl.params import check_int, validating

__all__ = ["SDRAMPHY", "SDRAMPinSignature", "PinCommand", "pin_command", "controller_timing",
           "check_sdr_timing", "mode_register", "default_init_cycles", "READ_DELAY", "TMRD",
           "INIT_MICROSECONDS", "AUTO_PRECHARGE_BIT", "MAX_INIT_CYCLES", "MAX_ROW_SLACK"]

#: Cycles the PHY adds to a read: the command's pin register and the ``dq`` input register.
READ_DELAY = 2

#: LOAD MODE REGISTER to the next command (IS42S16160: 2 clocks).
TMRD = 2

#: The power-up wait of the JEDEC sequence (the IS42S16160 asks for 200 us).
INIT_MICROSECONDS = 200

#: The address bit that selects all banks in PRECHARGE and auto-precharge in READ/WRITE.
AUTO_PRECHARGE_BIT = 10

#: Most cycles of the power-up wait (about 1.3 ms at 100 MHz).
MAX_INIT_CYCLES = 1 << 17

#: Most cycles a row command may be deferred (the slack built into the controller's preset).
MAX_ROW_SLACK = 4


class PinCommand(enum.Enum, shape=4):
    """An SDR SDRAM command as ``Cat(we_n, cas_n, ras_n, cs_n)`` (``cs_n`` the top bit)."""
    LOAD_MODE = 0b0000
    AUTO_REFRESH = 0b0001
    PRECHARGE = 0b0010
    ACTIVE = 0b0011
    WRITE = 0b0100
    READ = 0b0101
    BURST_TERMINATE = 0b0110
    NOP = 0b0111
    INHIBIT = 0b1111


def _problem(t):
    """Why the PHY cannot drive a chip of preset ``t``, or ``None``."""
    if t.cwl != 0:
        return f"cwl must be 0 (write data travels with WR), not {t.cwl}"
    if t.cl not in (2, 3):
        return f"cl must be 2 or 3 (the CAS latencies of the mode register), not {t.cl}"
    if t.burst_cycles not in (1, 2, 4, 8):
        return (f"burst_bytes / data_bytes_per_cycle must be a burst length of 1, 2, 4 or 8, "
                f"not {t.burst_cycles}")
    if t.data_bytes_per_cycle not in (1, 2, 4):
        return f"data_bytes_per_cycle must be 1, 2 or 4 (x8, x16, x32), not {t.data_bytes_per_cycle}"
    if t.bank_groups != 1:
        return f"bank_groups must be 1, not {t.bank_groups}"
    if t.banks not in (2, 4):
        return f"banks must be 2 or 4, not {t.banks}"
    if t.rows > 1 << 13:
        return f"rows must be at most 8192 (A12..A0), not {t.rows}"
    if t.row_bytes // t.data_bytes_per_cycle > 1 << AUTO_PRECHARGE_BIT:
        return (f"row_bytes / data_bytes_per_cycle must be at most 1024 columns (A9..A0), "
                f"not {t.row_bytes // t.data_bytes_per_cycle}")
    return None


def check_sdr_timing(timing):
    """The :class:`~openmxu.dram.TimingPreset` for ``timing`` (a preset or its name);
    ``ValueError`` naming ``timing`` unless it describes an SDR SDRAM the PHY can drive."""
    t = resolve_timing(timing)
    problem = _problem(t)
    if problem is not None:
        raise ValueError(f"timing must describe an SDR SDRAM the PHY can drive: {problem} "
                         f"(preset {t.name!r})")
    return t


def default_init_cycles(timing="sdr"):
    """Cycles of :data:`INIT_MICROSECONDS` at the preset's clock (20,000 at 100 MHz)."""
    t = resolve_timing(timing)
    return ceil(INIT_MICROSECONDS * 1000 / t.tck_ns)


def mode_register(timing="sdr"):
    """The value LOAD MODE REGISTER puts on ``a``: burst length (A2..A0), sequential (A3 =
    0), CAS latency (A6..A4), standard operation (A8..A7 = 0), programmed-length write bursts
    (A9 = 0). 0x23 for ``"sdr"`` (BL8, CL 2)."""
    t = check_sdr_timing(timing)
    return (t.cl << 4) | log2(t.burst_cycles)


def _refresh_trim(t, row_slack):
    # The chip's refresh clock starts TMRD cycles before the controller's, and a REF may be
    # row_slack cycles late: spread that over the refreshes the controller may postpone.
    return ceil((TMRD + row_slack) / (t.max_postponed_refreshes + 1))


def controller_timing(timing="sdr", *, row_slack=1):
    """The preset the memory system's controller must use in front of an :class:`SDRAMPHY`
    for a chip of ``timing`` (see the module documentation): ``cl`` plus
    :data:`READ_DELAY`; tRCD, tRAS, tRP, tRRD, tRFC (and tFAW) plus ``row_slack``; tRC at
    least tRAS + tRP of those; ``trefi`` a little shorter. Named ``"<name>-phy"``."""
    t = check_sdr_timing(timing)
    check_int("row_slack", row_slack, 0, MAX_ROW_SLACK)
    s = row_slack
    tras, trp = t.tras + s, t.trp + s
    return t.replace(
        name=f"{t.name}-phy", cl=t.cl + READ_DELAY,
        trcd_rd=t.trcd_rd + s, trcd_wr=t.trcd_wr + s, tras=tras, trp=trp,
        trc=max(t.trc + s, tras + trp), trrd_s=t.trrd_s + s, trrd_l=t.trrd_l + s,
        tfaw=t.tfaw + s if t.tfaw else 0, trfc=t.trfc + s,
        trefi=t.trefi - _refresh_trim(t, s) if t.refresh_enabled else 0)


class SDRAMPinSignature(wiring.Signature):
    """The pins of an SDR SDRAM, seen from the controller side (the PHY).

    Every output is meant to come straight from a register. The active-low control pins
    keep their polarity here; a platform resource that names them by function (amaranth-boards'
    ``cs``, ``ras``, ``cas``, ``we`` as ``PinsN``) is driven with their complement.

    Parameters
    ----------
    timing : TimingPreset or str
        The chip's preset (:func:`check_sdr_timing`).

    Members
    -------
    clk : ``Out(1)``
        The chip clock (``sync``'s clock; a board usually drives the pin from a PLL output
        of chosen phase instead).
    cke : ``Out(1, init=1)``
    cs_n, ras_n, cas_n, we_n : ``Out(1)``
        The command (:class:`PinCommand`); NOP (``cs_n`` low, the others high) from reset.
    ba : ``Out(log2(banks))``
    a : ``Out(max(13, ...))``
        Row, column and mode bits; A10 is the all-banks / auto-precharge bit.
    dqm : ``Out(data_bytes_per_cycle)``
        Byte masks: during a write, a set bit keeps the byte (latency 0); during a read, a set
        bit two cycles ahead turns the byte's output off.
    dq_o : ``Out(8 * data_bytes_per_cycle)``
    dq_oe : ``Out(1)``
        The controller drives ``dq`` (write data).
    dq_i : ``In(8 * data_bytes_per_cycle)``
        ``dq`` as the pins see it.
    """

    def __init__(self, *, timing="sdr"):
        t = check_sdr_timing(timing)
        self._timing = t
        width = 8 * t.data_bytes_per_cycle
        super().__init__({
            "clk": Out(1),
            "cke": Out(1, init=1),
            "cs_n": Out(1),
            "ras_n": Out(1, init=1),
            "cas_n": Out(1, init=1),
            "we_n": Out(1, init=1),
            "ba": Out(max(1, log2(t.banks))),
            "a": Out(self.address_width),
            "dqm": Out(t.data_bytes_per_cycle),
            "dq_o": Out(width),
            "dq_oe": Out(1),
            "dq_i": In(width),
        })

    @property
    def timing(self):
        return self._timing

    @property
    def address_width(self):
        return max(13, log2(self._timing.rows))

    def __eq__(self, other):
        return type(other) is SDRAMPinSignature and self._timing == other._timing

    def __hash__(self):
        return hash((SDRAMPinSignature, self._timing))

    def __repr__(self):
        return f"SDRAMPinSignature(timing={timing_repr(self._timing)})"


def pin_command(pins):
    """``Cat(we_n, cas_n, ras_n, cs_n)`` of ``pins``, comparable with :class:`PinCommand`."""
    return Cat(pins.we_n, pins.cas_n, pins.ras_n, pins.cs_n)


class SDRAMPHY(wiring.Component):
    """The DRAM command interface of one controller to an SDR SDRAM's pins (see the module
    documentation for the cycle relations, the controller's preset and the init sequence).

    Parameters
    ----------
    timing : TimingPreset or str
        The chip (default ``"sdr"``, the IS42S16160 at 100 MHz); :func:`check_sdr_timing`.
    init_cycles : int or None
        Cycles of NOP after reset before PRECHARGE ALL (1 to 131072); ``None`` for
        :data:`INIT_MICROSECONDS` at the preset's clock. Simulations shorten it.
    row_slack : int
        Cycles a row command may wait behind column commands (0 to 4, default 1); the
        controller's preset (:func:`controller_timing`) allows for it. With 0 every
        deferral is an error.
    read_capture : str
        ``"rise"`` or ``"fall"``: the ``sync`` edge that samples ``dq`` (see the module
        documentation); the latency is the same.

    Members
    -------
    dram : ``In(DramSignature(timing=controller_timing(timing, row_slack=row_slack)))``
        Read beat k of a RD issued in cycle n is on ``rdata`` in cycle ``n + cl + k`` of that
        preset (the chip's CL + :data:`READ_DELAY`).
    pins : ``Out(SDRAMPinSignature(timing=timing))``
    ready : ``Out(1)``
        Initialization is done; commands are taken from the first cycle it is high (the
        chip's tMRD is then already met).
    error : ``Out(1)``
        Sticky: a row command waited longer than ``row_slack`` cycles (or found the queue
        full and was dropped), or a command came before ``ready``.
    deferred : ``Out(16)``
        Row commands that had to wait for a column command or an earlier row command
        (wrapping).
    """

    def __init__(self, *, timing="sdr", init_cycles=None, row_slack=1, read_capture="rise"):
        with validating(self):
            timing = check_sdr_timing(timing)
            if init_cycles is None:
                init_cycles = default_init_cycles(timing)
            check_int("init_cycles", init_cycles, 1, MAX_INIT_CYCLES)
            check_int("row_slack", row_slack, 0, MAX_ROW_SLACK)
            if read_capture not in ("rise", "fall"):
                raise ValueError(f"read_capture must be 'rise' or 'fall', not {read_capture!r}")
            self._controller_timing = controller_timing(timing, row_slack=row_slack)
        self._timing = timing
        self._init_cycles = init_cycles
        self._row_slack = row_slack
        self._read_capture = read_capture
        super().__init__({
            "dram": In(DramSignature(timing=self._controller_timing)),
            "pins": Out(SDRAMPinSignature(timing=timing)),
            "ready": Out(1),
            "error": Out(1),
            "deferred": Out(16),
        })

    @property
    def timing(self):
        """The chip's preset."""
        return self._timing

    @property
    def controller_timing(self):
        """The preset of the controller in front (:func:`controller_timing`)."""
        return self._controller_timing

    @property
    def init_cycles(self):
        return self._init_cycles

    @property
    def row_slack(self):
        return self._row_slack

    @property
    def read_latency(self):
        """RD on the interface to its first beat on ``rdata``: the controller preset's
        ``cl``."""
        return self._controller_timing.cl

    @property
    def mode_register(self):
        return mode_register(self._timing)

    def init_sequence(self):
        """``[(pin cycle, PinCommand, a), ...]``: the commands of initialization, the pin
        cycle counted from reset, and the cycle ``ready`` goes high as ``(cycle, None,
        None)``."""
        t = self._timing
        prea = self._init_cycles
        refresh = prea + t.trp
        load = refresh + 2 * t.trfc
        return [(prea, PinCommand.PRECHARGE, 1 << AUTO_PRECHARGE_BIT),
                (refresh, PinCommand.AUTO_REFRESH, 0),
                (refresh + t.trfc, PinCommand.AUTO_REFRESH, 0),
                (load, PinCommand.LOAD_MODE, self.mode_register),
                (load + TMRD, None, None)]

    def __repr__(self):
        return (f"SDRAMPHY(timing={timing_repr(self._timing)}, init_cycles={self._init_cycles}, "
                f"row_slack={self._row_slack}, read_capture={self._read_capture!r})")

    def elaborate(self, platform):
        m = Module()
        t, ct = self._timing, self._controller_timing
        pins, dram = self.pins, self.dram
        burst = t.burst_cycles
        beat_bits = log2(burst)

        def issue(command, ba=0, a=0):
            # The pin members are the output registers themselves.
            return [pin_command(pins).eq(command), pins.ba.eq(ba), pins.a.eq(a)]

        m.d.comb += pins.clk.eq(ClockSignal())
        m.d.sync += issue(PinCommand.NOP)       # unless a command below overrides it

        # Initialization ----------------------------------------------------------------
        # One down-counter times every step: the statement that issues a step's command
        # also loads the wait before the next one.
        timer = Signal(range(max(self._init_cycles, t.trp, t.trfc, TMRD)),
                       init=self._init_cycles - 1)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        steps = [("PRECHARGE_ALL", PinCommand.PRECHARGE, 1 << AUTO_PRECHARGE_BIT, t.trp),
                 ("REFRESH_1", PinCommand.AUTO_REFRESH, 0, t.trfc),
                 ("REFRESH_2", PinCommand.AUTO_REFRESH, 0, t.trfc),
                 ("LOAD_MODE", PinCommand.LOAD_MODE, self.mode_register, TMRD)]
        with m.FSM(name="init"):
            for index, (state, command, address, wait) in enumerate(steps):
                following = steps[index + 1][0] if index + 1 < len(steps) else "SETTLE"
                with m.State(state):
                    with m.If(timer == 0):
                        m.d.sync += [*issue(command, a=address), timer.eq(wait - 1)]
                        m.next = following
            with m.State("SETTLE"):
                with m.If(timer == 0):
                    m.d.sync += self.ready.eq(1)
                    m.next = "RUN"
            with m.State("RUN"):
                pass

        # Commands ----------------------------------------------------------------------
        row = row_command(dram)
        col = column_command(dram)
        with m.If(~self.ready & (row.valid | col.valid)):
            m.d.sync += self.error.eq(1)
        col_valid = col.valid & self.ready
        row_valid = row.valid & self.ready

        def issue_row(command):
            with m.Switch(command.cmd):
                with m.Case(RowCommand.ACT):
                    m.d.sync += issue(PinCommand.ACTIVE, command.bank, command.row)
                with m.Case(RowCommand.PRE):
                    m.d.sync += issue(PinCommand.PRECHARGE, command.bank, 0)
                with m.Case(RowCommand.PREA):
                    m.d.sync += issue(PinCommand.PRECHARGE, 0, 1 << AUTO_PRECHARGE_BIT)
                with m.Case(RowCommand.REF):
                    m.d.sync += issue(PinCommand.AUTO_REFRESH)

        # Row commands that met a column command (or an earlier deferred row command) wait
        # here, oldest first, each with the cycles it has waited.
        slack = self._row_slack
        depth = slack + 1
        entry_layout = data.StructLayout({
            "cmd": RowCommand,
            "bank": len(row.bank),
            "row": len(row.row),
            "waited": range(slack + 2),
        })
        queue = [Signal(entry_layout, name=f"row_queue{i}") for i in range(depth)]
        count = Signal(range(depth + 1))
        pop = ~col_valid & (count != 0)
        direct = ~col_valid & (count == 0) & row_valid
        push = row_valid & ~direct
        with m.If(col_valid):
            word = Cat(Const(0, beat_bits), col.column)
            m.d.sync += issue(Mux(col.cmd == ColumnCommand.WR, PinCommand.WRITE,
                                  PinCommand.READ), col.bank, word)
        with m.Elif(pop):
            issue_row(queue[0])
            with m.If(queue[0].waited > slack):
                m.d.sync += self.error.eq(1)
        with m.Elif(direct):
            issue_row(row)

        remaining = Signal.like(count)
        m.d.comb += remaining.eq(count - pop)
        for i in range(depth):
            source = Mux(pop, queue[i + 1], queue[i]) if i + 1 < depth else queue[i]
            waited = data.View(entry_layout, source).waited
            m.d.sync += [queue[i].eq(source),
                         queue[i].waited.eq(Mux(waited > slack, waited, waited + 1))]
            with m.If(push & (remaining == i)):
                m.d.sync += [queue[i].cmd.eq(row.cmd), queue[i].bank.eq(row.bank),
                             queue[i].row.eq(row.row), queue[i].waited.eq(1)]
        with m.If(push & (remaining == depth)):
            m.d.sync += self.error.eq(1)            # no room: the command is lost
        m.d.sync += count.eq(Mux(push & (remaining != depth), remaining + 1, remaining))
        with m.If(push):
            m.d.sync += self.deferred.eq(self.deferred + 1)

        # Write data: beat k of a WR in cycle n is on the interface in cycle n + k and on the
        # pins one register later, with the WR.
        write = col_valid & (col.cmd == ColumnCommand.WR)
        write_left = Signal(range(max(burst, 2)))
        writing = write | (write_left != 0)
        with m.If(write):
            m.d.sync += write_left.eq(burst - 1)
        with m.Elif(write_left != 0):
            m.d.sync += write_left.eq(write_left - 1)
        m.d.sync += [
            pins.dq_o.eq(dram.wdata),
            pins.dq_oe.eq(writing),
            # Outside writes DQM stays low: a read's DQM acts two cycles ahead of its data.
            pins.dqm.eq(Mux(writing, dram.wmask, 0)),
        ]

        # Read data: the chip drives beat k in pin cycle n + 1 + CL + k; the input register
        # hands it over in n + 2 + CL + k = n + cl (controller) + k.
        dq_in = Signal.like(pins.dq_i)
        if self._read_capture == "fall":
            m.domains.capture = capture = ClockDomain(clk_edge="neg", local=True)
            m.d.comb += [capture.clk.eq(ClockSignal()), capture.rst.eq(0)]
            sampled = Signal.like(pins.dq_i)
            m.d.capture += sampled.eq(pins.dq_i)
            m.d.sync += dq_in.eq(sampled)
        else:
            m.d.sync += dq_in.eq(pins.dq_i)
        read = col_valid & (col.cmd == ColumnCommand.RD)
        latency = ct.cl
        line = Signal(latency)              # bit j: a RD j + 1 cycles ago
        m.d.sync += line.eq(Cat(read, line[:-1]))
        first_beat = line[latency - 1]
        read_left = Signal(range(max(burst, 2)))
        with m.If(first_beat):
            m.d.sync += read_left.eq(burst - 1)
        with m.Elif(read_left != 0):
            m.d.sync += read_left.eq(read_left - 1)
        reading = first_beat | (read_left != 0)
        m.d.comb += [
            dram.rdata_valid.eq(reading),
            dram.rdata.eq(Mux(reading, dq_in, 0)),
        ]
        return m
