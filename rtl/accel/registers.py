"""The register file: the host's view of the accelerator (:mod:`openmxu.registers` has the
map), with the descriptor registers, the command queue, status and performance counters."""

from amaranth import Module, Signal, Cat, Const
from amaranth.lib import wiring, stream, data
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from openmxu.registers import (MAGIC, Reg, DESCRIPTOR, DESCRIPTOR_BASE, COUNTERS, COUNTER_BASE,
                               STATUS_DONE)
from ..params import check_int, validating
from .geometry import descriptor_layout

__all__ = ["RegisterBus", "RegisterFile", "ADDR_WIDTH"]

#: Width of the register bus's word address.
ADDR_WIDTH = 6


class RegisterBus(wiring.Signature):
    """A 32-bit register bus, seen from the host (manager) side.

    A write takes one cycle with ``w_en``; a read presents ``addr`` with ``r_en`` and finds
    the value on ``r_data`` in the next cycle. Reads have no side effects except latching a
    counter's high word; writes to read-only registers are ignored.

    Members
    -------
    addr : ``Out(ADDR_WIDTH)``
        Word index.
    w_en, r_en : ``Out(1)``
    w_data : ``Out(32)``
    r_data : ``In(32)``
    """

    def __init__(self):
        super().__init__({
            "addr": Out(ADDR_WIDTH),
            "w_en": Out(1),
            "w_data": Out(32),
            "r_en": Out(1),
            "r_data": In(32),
        })

    def __eq__(self, other):
        return type(other) is RegisterBus

    def __hash__(self):
        return hash(RegisterBus)

    def __repr__(self):
        return "RegisterBus()"


class RegisterFile(wiring.Component):
    """The registers of :mod:`openmxu.registers`.

    Parameters
    ----------
    config_word : int
        The value of ``CONFIG``.
    queue_depth : int
        Commands the queue holds (1 to 16).

    Members
    -------
    bus : ``In(RegisterBus())``
    commands : ``Out(stream.Signature(descriptor_layout()))``
        Queued descriptors, towards the sequencer.
    busy : ``In(1)``
    finished : ``In(1)``
        A command finished this cycle, with ``error`` as its code.
    error : ``In(8)``
    counters : ``In(data.ArrayLayout(64, len(COUNTERS)))``
    irq : ``Out(1)``
        ``STATUS.done``: high from a command's end until the host clears it.
    """

    def __init__(self, *, config_word, queue_depth=4):
        with validating(self):
            check_int("queue_depth", queue_depth, 1, 16)
        self.config_word, self.queue_depth = config_word, queue_depth
        super().__init__({
            "bus": In(RegisterBus()),
            "commands": Out(stream.Signature(descriptor_layout())),
            "busy": In(1),
            "finished": In(1),
            "error": In(8),
            "counters": In(data.ArrayLayout(64, len(COUNTERS))),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        layout = descriptor_layout()
        staged = Signal(layout)
        m.submodules.queue = queue = SyncFIFOBuffered(width=layout.size,
                                                      depth=self.queue_depth)
        m.d.comb += [
            queue.w_data.eq(staged),
            self.commands.valid.eq(queue.r_rdy),
            self.commands.payload.eq(queue.r_data),
            queue.r_en.eq(self.commands.ready),
        ]

        done = Signal()
        last_error = Signal(8)
        finished_count = Signal(16)
        with m.If(self.finished):
            m.d.sync += [last_error.eq(self.error), finished_count.eq(finished_count + 1),
                         done.eq(1)]
        m.d.comb += self.irq.eq(done)

        fields = [name for name, _ in DESCRIPTOR]
        with m.If(bus.w_en):
            with m.Switch(bus.addr):
                for index, name in enumerate(fields):
                    with m.Case(DESCRIPTOR_BASE + index):
                        m.d.sync += getattr(staged, name).eq(bus.w_data)
                with m.Case(Reg.COMMAND):
                    m.d.comb += queue.w_en.eq(1)   # dropped when full: check QUEUE first
                with m.Case(Reg.STATUS):
                    with m.If((bus.w_data & STATUS_DONE).any() & ~self.finished):
                        m.d.sync += done.eq(0)

        high = Signal(32)          # a counter's high word, latched with its low word
        value = Signal(32)
        with m.Switch(bus.addr):
            with m.Case(Reg.ID):
                m.d.comb += value.eq(MAGIC)
            with m.Case(Reg.CONFIG):
                m.d.comb += value.eq(self.config_word)
            with m.Case(Reg.STATUS):
                m.d.comb += value.eq(Cat(self.busy | queue.r_rdy, done, ~queue.w_rdy,
                                         Const(0, 5), last_error, finished_count))
            with m.Case(Reg.QUEUE):
                m.d.comb += value.eq(self.queue_depth - queue.level)
            for index, name in enumerate(fields):
                with m.Case(DESCRIPTOR_BASE + index):
                    m.d.comb += value.eq(getattr(staged, name))
            for index in range(len(COUNTERS)):
                with m.Case(COUNTER_BASE + 2 * index):
                    m.d.comb += value.eq(self.counters[index][:32])
                    with m.If(bus.r_en):
                        m.d.sync += high.eq(self.counters[index][32:])
                with m.Case(COUNTER_BASE + 2 * index + 1):
                    m.d.comb += value.eq(high)
        with m.If(bus.r_en):
            m.d.sync += bus.r_data.eq(value)
        return m
