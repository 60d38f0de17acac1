"""Global byte address <-> (channel, bank group, bank, row, column, offset).

The address map decides which accesses can overlap, so it is as much a performance knob as a
wiring detail. A byte address is cut into bit fields: the lowest bits are the byte ``offset``
inside one burst (the 32 B atom of HBM), and above it the five fields follow in the order the
map names, least significant first. The default, ``("bank_group", "column", "bank", "channel",
"row")``, puts the bank-group bits just above the burst atom, so consecutive bursts alternate
between bank groups and stream at tCCD_S instead of tCCD_L (hbm.md); a whole row is then spread
over the bank groups before the next bank, channel and finally row are used.
"""

from dataclasses import dataclass

from .config import check_int
from .dram import TimingPreset, preset

__all__ = ["AddressMap", "FIELDS", "DEFAULT_ORDER"]


#: The fields an address map orders.
FIELDS = ("channel", "bank_group", "bank", "row", "column")

#: Least significant first, above the byte offset.
DEFAULT_ORDER = ("bank_group", "column", "bank", "channel", "row")

MAX_CHANNELS = 32


@dataclass(frozen=True, repr=False)
class AddressMap:
    """How global byte addresses map onto pseudo-channels and their banks, rows and columns.

    Parameters
    ----------
    timing : TimingPreset or str
        The preset (or its name) that gives the burst size, bank groups, banks per group,
        bursts per row and rows of each pseudo-channel.
    channels : int
        Pseudo-channels behind the map (a power of two from 1 to 32).
    order : tuple of str
        A permutation of ``FIELDS``, least significant first, placed above the byte offset.

    Decoded fields: ``channel``; ``bank_group``; ``bank``, the bank *within its group* (the
    device's flat bank number is ``bank_group * banks_per_group + bank``); ``row``;
    ``column``, counted in bursts (the burst index within the row); ``offset``, the byte
    within the burst. All widths are ``log2`` of the counts, so every address in
    ``[0, capacity_bytes)`` is valid and distinct.
    """

    timing: TimingPreset = preset()
    channels: int = 1
    order: tuple = DEFAULT_ORDER

    def __post_init__(self):
        if isinstance(self.timing, str):
            object.__setattr__(self, "timing", preset(self.timing))
        if not isinstance(self.timing, TimingPreset):
            raise ValueError(f"timing must be a TimingPreset or a preset name, "
                             f"not {self.timing!r}")
        check_int("channels", self.channels, 1, MAX_CHANNELS, extra=" and a power of two")
        if self.channels & (self.channels - 1):
            raise ValueError(f"channels must be a power of two between 1 and {MAX_CHANNELS}, "
                             f"not {self.channels}")
        if isinstance(self.order, str) or not hasattr(self.order, "__iter__"):
            raise ValueError(f"order must be a sequence of field names, not {self.order!r}")
        object.__setattr__(self, "order", tuple(self.order))
        if sorted(self.order) != sorted(FIELDS):
            raise ValueError(f"order must be a permutation of {', '.join(map(repr, FIELDS))}, "
                             f"not {self.order!r}")

    def __repr__(self):
        return (f"AddressMap(timing={self.timing.name!r}, channels={self.channels}, "
                f"order={self.order!r})")

    # Geometry ------------------------------------------------------------------------------

    @property
    def counts(self):
        """Number of values of each field, ``offset`` included."""
        t = self.timing
        return {"offset": t.burst_bytes, "channel": self.channels,
                "bank_group": t.bank_groups, "bank": t.banks_per_group, "row": t.rows,
                "column": t.columns}

    @property
    def widths(self):
        """Bits of each field, ``offset`` included (0 for a field with one value)."""
        return {name: count.bit_length() - 1 for name, count in self.counts.items()}

    @property
    def shifts(self):
        """Position of each field's least significant bit, ``offset`` first at 0."""
        widths, shifts, position = self.widths, {}, 0
        for name in ("offset",) + self.order:
            shifts[name] = position
            position += widths[name]
        return shifts

    @property
    def address_bits(self):
        return sum(self.widths.values())

    @property
    def capacity_bytes(self):
        """Bytes behind the map: every pseudo-channel's capacity together."""
        return 1 << self.address_bits

    def stored_bytes(self, stored_rows):
        """Bytes from address 0 that memories storing only rows ``0 .. stored_rows - 1`` of
        every bank back (simulation device models, a board's block-RAM emulator): everything
        below the first unstored row, so ``row`` must be the top field."""
        if self.order[-1] != "row":
            raise ValueError(f"address_order must end with 'row' for a memory with partial "
                             f"storage, not {self.order!r}")
        check_int("stored_rows", stored_rows, 1, self.timing.rows)
        return self.capacity_bytes // self.timing.rows * stored_rows

    # Conversion ----------------------------------------------------------------------------

    def decode(self, address):
        """Split a byte address into a dict of ``channel``, ``bank_group``, ``bank``, ``row``,
        ``column`` and ``offset``."""
        check_int("address", address, 0, self.capacity_bytes - 1)
        widths, shifts = self.widths, self.shifts
        return {name: (address >> shifts[name]) & ((1 << widths[name]) - 1)
                for name in ("channel", "bank_group", "bank", "row", "column", "offset")}

    def encode(self, *, channel=0, bank_group=0, bank=0, row=0, column=0, offset=0):
        """The byte address of the given fields (each defaults to 0); the inverse of
        :meth:`decode`."""
        values = {"channel": channel, "bank_group": bank_group, "bank": bank, "row": row,
                  "column": column, "offset": offset}
        counts, shifts, address = self.counts, self.shifts, 0
        for name, value in values.items():
            check_int(name, value, 0, counts[name] - 1)
            address |= value << shifts[name]
        return address

    def describe(self):
        """The bit range of each field, most significant first, e.g. ``row [27:14]``."""
        widths, shifts = self.widths, self.shifts
        lines = []
        for name in reversed(("offset",) + self.order):
            if widths[name]:
                low, high = shifts[name], shifts[name] + widths[name] - 1
                lines.append(f"{name} [{high}:{low}]")
            else:
                lines.append(f"{name} (no bits)")
        return lines
