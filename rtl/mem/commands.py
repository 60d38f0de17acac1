"""The DRAM command interface between a pseudo-channel controller and its device.

Defined once here, as :mod:`amaranth.lib.data` layouts and the :class:`DramSignature`, so that
the controller, the device timing model (:class:`~rtl.mem.device.DramDevice`), the on-chip RAM
emulator and the testbench models all speak the same wires. The interface is seen from the
controller: commands and write data go out, read data comes in; the device uses
``In(DramSignature(timing=...))``.

HBM has separate row and column command buses, so each cycle carries at most one row command
and at most one column command, in any combination (an ACT and a RD can issue together):

* row command: ``row_valid``, ``row_cmd`` (:class:`RowCommand`: ACT, PRE, PREA, REF),
  ``row_bank`` and ``row`` (the row an ACT opens; ignored by the other row commands;
  ``row_bank`` is ignored by PREA and REF);
* column command: ``col_valid``, ``col_cmd`` (:class:`ColumnCommand`: RD, WR), ``col_bank``
  and ``column``, the burst index within the open row (``row_bytes / burst_bytes`` bursts);
* write data: ``wdata`` (``data_bytes_per_cycle * 8`` bits) and ``wmask``
  (``data_bytes_per_cycle`` bits), driven by the controller;
* read data: ``rdata`` and ``rdata_valid``, driven by the device.

Banks are numbered flat, ``bank_group * banks_per_group + bank`` (the bank-group bits are the
top bits of the bank number), as :class:`~openmxu.address_map.AddressMap` documents.

Cycle relations, all in cycles of the controller clock (= tCK):

* A command is **issued in cycle n** when its valid is high in cycle n, i.e. the device
  samples it at the clock edge that ends cycle n. Cycle numbers are those of the device's
  free-running cycle counter (0 in the first cycle after reset).
* A timing rule "X to Y >= t" means Y may issue t cycles after X at the earliest: X in cycle
  a, Y in cycle n is legal if and only if ``n - a >= t`` (``t = 0`` allows the same cycle).
* WR issued in cycle n: the controller drives write beat k (k = 0 .. burst_cycles - 1) on
  ``wdata``/``wmask`` in cycle ``n + cwl + k`` (in the WR cycle itself when ``cwl`` is 0,
  as on SDR SDRAM). The write data **ends** in cycle ``n + cwl + burst_cycles``, the first
  cycle after the last beat: tWR and tWTR count from there.
* ``wmask`` follows DFI and JEDEC (DM): a set bit **masks** its byte, which keeps its old
  contents; a clear bit writes it. (AXI ``WSTRB`` is the complement: ``wmask = ~wstrb``.)
* RD issued in cycle n: the device drives read beat k on ``rdata`` with ``rdata_valid`` high
  in cycle ``n + cl + k``. ``rdata`` is 0 while ``rdata_valid`` is low.
* Beat k of a burst holds bytes ``k * data_bytes_per_cycle`` .. of the ``burst_bytes``
  atom, byte 0 in ``wdata[0:8]``.
* When a row and a column command issue in one cycle to the same bank, the column command
  counts as issued after an ACT (so it needs ``trcd_* = 0`` cycles, which no preset allows)
  and before a PRE (so RD + PRE together need ``trtp = 0``, and the RD still reads the row).
"""

from amaranth import Cat, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from openmxu.dram import TimingPreset, PRESETS, preset

__all__ = ["RowCommand", "ColumnCommand", "DramSignature", "row_command_layout",
           "column_command_layout", "ROW_MEMBERS", "COLUMN_MEMBERS", "row_command",
           "column_command", "drive_commands", "resolve_timing", "timing_repr"]


class RowCommand(enum.Enum, shape=2):
    """Commands of the row bus.

    ``ACT`` opens ``row`` in ``row_bank``; ``PRE`` closes ``row_bank`` (a no-op on a closed
    bank, as in JEDEC); ``PREA`` closes every open bank; ``REF`` refreshes the pseudo-channel
    (all banks must be closed)."""
    ACT = 0
    PRE = 1
    PREA = 2
    REF = 3


class ColumnCommand(enum.Enum, shape=1):
    """Commands of the column bus: a burst read or write of ``column`` in the open row of
    ``col_bank``."""
    RD = 0
    WR = 1


def resolve_timing(timing):
    """The :class:`TimingPreset` for ``timing`` (a preset or a preset's name)."""
    if isinstance(timing, str):
        return preset(timing)
    if not isinstance(timing, TimingPreset):
        raise ValueError(f"timing must be a TimingPreset or a preset name, not {timing!r}")
    return timing


def timing_repr(timing):
    """``'hbm2-2000'`` for a preset of :data:`~openmxu.dram.PRESETS`, the full
    :class:`TimingPreset` otherwise (a modified copy keeps its original's name)."""
    if PRESETS.get(timing.name) == timing:
        return repr(timing.name)
    return repr(timing)


def _field_bits(count):
    # As in fields_layout: a field with one value is one bit wide (and always 0) rather than
    # zero bits, which would export to Verilog as [-1:0].
    return max(1, count.bit_length() - 1)


def row_command_layout(timing):
    """``StructLayout`` of one row command: ``valid``, ``cmd`` (:class:`RowCommand`),
    ``bank`` (flat bank number) and ``row``."""
    timing = resolve_timing(timing)
    return data.StructLayout({
        "valid": 1,
        "cmd": RowCommand,
        "bank": unsigned(_field_bits(timing.banks)),
        "row": unsigned(_field_bits(timing.rows)),
    })


def column_command_layout(timing):
    """``StructLayout`` of one column command: ``valid``, ``cmd`` (:class:`ColumnCommand`),
    ``bank`` (flat bank number) and ``column`` (burst index within the row)."""
    timing = resolve_timing(timing)
    return data.StructLayout({
        "valid": 1,
        "cmd": ColumnCommand,
        "bank": unsigned(_field_bits(timing.banks)),
        "column": unsigned(_field_bits(timing.columns)),
    })


#: Interface member carrying each field of :func:`row_command_layout`.
ROW_MEMBERS = {"valid": "row_valid", "cmd": "row_cmd", "bank": "row_bank", "row": "row"}

#: Interface member carrying each field of :func:`column_command_layout`.
COLUMN_MEMBERS = {"valid": "col_valid", "cmd": "col_cmd", "bank": "col_bank",
                  "column": "column"}


class DramSignature(wiring.Signature):
    """The controller's side of the DRAM command interface of one pseudo-channel.

    See the module documentation for the exact cycle relations. Two signatures are equal when
    their presets are: the preset is part of the contract (the device checks its timing),
    not only the widths.

    Parameters
    ----------
    timing : TimingPreset or str
        The preset (or its name) giving the bank, row and column counts and the port width.

    Members
    -------
    row_valid : ``Out(1)``
        A row command issues this cycle.
    row_cmd : ``Out(RowCommand)``
    row_bank : ``Out(bank_width)``
        Flat bank number, ``bank_group * banks_per_group + bank``.
    row : ``Out(row_width)``
        The row an ACT opens.
    col_valid : ``Out(1)``
        A column command issues this cycle.
    col_cmd : ``Out(ColumnCommand)``
    col_bank : ``Out(bank_width)``
    column : ``Out(column_width)``
        Burst index within the open row.
    wdata : ``Out(data_width)``
        Write beat, ``cwl`` + k cycles after WR.
    wmask : ``Out(mask_width)``
        One bit per byte of ``wdata``; a set bit keeps the byte's old contents.
    rdata : ``In(data_width)``
        Read beat, ``cl`` + k cycles after RD; 0 when ``rdata_valid`` is low.
    rdata_valid : ``In(1)``
    """

    def __init__(self, *, timing):
        self._timing = resolve_timing(timing)
        row = row_command_layout(self._timing)
        column = column_command_layout(self._timing)
        members = {}
        for layout, names in ((row, ROW_MEMBERS), (column, COLUMN_MEMBERS)):
            for field, member in names.items():
                members[member] = Out(layout[field].shape)
        members.update({
            "wdata": Out(self.data_width),
            "wmask": Out(self.mask_width),
            "rdata": In(self.data_width),
            "rdata_valid": In(1),
        })
        super().__init__(members)

    @property
    def timing(self):
        return self._timing

    @property
    def bank_width(self):
        return _field_bits(self._timing.banks)

    @property
    def row_width(self):
        return _field_bits(self._timing.rows)

    @property
    def column_width(self):
        return _field_bits(self._timing.columns)

    @property
    def data_width(self):
        return self._timing.data_bytes_per_cycle * 8

    @property
    def mask_width(self):
        return self._timing.data_bytes_per_cycle

    def __eq__(self, other):
        return type(other) is DramSignature and self._timing == other._timing

    def __repr__(self):
        return f"DramSignature(timing={timing_repr(self._timing)})"


def _view(layout, bus, names):
    # The layout's fields in offset order (StructLayout places them in definition order).
    return data.View(layout, Cat(*(getattr(bus, names[field]) for field, _ in layout)))


def row_command(bus):
    """A read-only :func:`row_command_layout` view of ``bus``'s row command members."""
    return _view(row_command_layout(bus.signature.timing), bus, ROW_MEMBERS)


def column_command(bus):
    """A read-only :func:`column_command_layout` view of ``bus``'s column command members."""
    return _view(column_command_layout(bus.signature.timing), bus, COLUMN_MEMBERS)


def drive_commands(bus, *, row=None, column=None):
    """Statements driving ``bus``'s row and/or column command members from views of
    :func:`row_command_layout` and :func:`column_command_layout`, e.g.
    ``m.d.comb += drive_commands(self.dram, row=next_row, column=next_column)``."""
    statements = []
    for command, names in ((row, ROW_MEMBERS), (column, COLUMN_MEMBERS)):
        if command is not None:
            for field, member in names.items():
                statements.append(getattr(bus, member).eq(command[field]))
    return statements
