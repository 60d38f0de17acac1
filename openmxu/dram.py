"""DRAM timing presets: the organization and timing of one pseudo-channel, as data.

One :class:`TimingPreset` describes what a memory controller, the device timing model, the
address map and the performance model must all agree on. Every figure is in cycles of the
controller clock, which here is the DRAM command clock (tCK), so the RTL compares counters
against these numbers directly. The HBM figures are open approximations of JEDEC JESD235
(HBM2) and JESD238 (HBM3), as used by Ramulator; the SDR figures come from the IS42S16160
datasheet.

Reference points used by every rule below (the usual JEDEC / Ramulator conventions):

* "burst cycles" is ``burst_bytes / data_bytes_per_cycle``, the cycles one RD/WR occupies the
  data bus (2 for HBM2/HBM3, 8 for SDR BL8);
* read data starts ``cl`` cycles after RD, write data ``cwl`` cycles after WR;
* ``twr`` (WR to PRE) and ``twtr_s``/``twtr_l`` (WR to RD) count from the end of the write
  data, i.e. the rule is ``WR + cwl + burst cycles + twr`` (resp. ``twtr``);
* ``trtp`` (RD to PRE), ``trcd_*`` (ACT to RD/WR), ``tras`` (ACT to PRE), ``trp`` (PRE to ACT),
  ``trc`` (ACT to ACT, same bank), ``tccd_*`` (RD to RD / WR to WR), ``trrd_*`` (ACT to ACT,
  other bank), ``tfaw`` (window holding at most four ACTs) and ``trfc`` (REF to ACT) count from
  command to command; ``_s`` applies across bank groups and ``_l`` within one bank group.
"""

from dataclasses import dataclass, fields, replace

from .config import check_int

__all__ = ["TimingPreset", "PRESETS", "DEFAULT_PRESET", "preset"]


#: Upper bound of every timing figure: 16-bit timing counters are enough for all presets.
MAX_CYCLES = (1 << 16) - 1

#: JEDEC lets HBM (and DDR4) postpone at most 8 refreshes and catch them up later.
MAX_POSTPONED_REFRESHES = 8


def check_power_of_two(name, value, low, high):
    """Like :func:`check_int`, and also require a power of two (address fields are bit
    slices, so every count the address map divides by must be one)."""
    check_int(name, value, low, high, extra=" and a power of two")
    if value & (value - 1):
        raise ValueError(f"{name} must be a power of two between {low} and {high}, not {value}")


@dataclass(frozen=True)
class TimingPreset:
    """Organization and timing of one pseudo-channel (or one SDRAM chip).

    Parameters
    ----------
    name : str
        Preset name, as used in :data:`PRESETS` and in reports.
    tck_ns : float
        Controller (command) clock period in nanoseconds.
    data_bytes_per_cycle : int
        Bytes per controller cycle at the pseudo-channel port while streaming (a power of
        two). HBM2-2000: 64 bit x 2 transfers per 1 ns cycle = 16 B.
    burst_bytes : int
        Bytes moved by one RD or WR command: the atom of the address map (a power of two,
        a multiple of ``data_bytes_per_cycle``). 32 for HBM2 (BL4 x 64 bit) and HBM3
        (BL8 x 32 bit).
    banks : int
        Banks per pseudo-channel (a power of two).
    bank_groups : int
        Bank groups (a power of two dividing ``banks``); 1 for devices without bank groups.
    row_bytes : int
        Bytes in one row (page) of one bank (a power of two, at least ``burst_bytes``).
    rows : int
        Rows per bank (a power of two).
    cl, cwl : int
        Read latency (RD to first data, at least 1) and write latency (WR to first data, 0
        when write data travels with the command as on SDR SDRAM).
    trcd_rd, trcd_wr, trp, tras, trc, twr, trtp : int
        Row timings in cycles (see the module docstring for their reference points).
        ``trc`` must be at least ``tras + trp`` (and hence ``tras <= trc``).
    tccd_s, tccd_l : int
        Column-to-column spacing across and within bank groups; ``tccd_s`` is at least the
        burst cycles (the data bus carries one burst at a time), ``tccd_l >= tccd_s``.
    trrd_s, trrd_l, tfaw : int
        Activate spacing; ``tfaw`` 0 means no four-activate window.
    twtr_s, twtr_l : int
        Write-to-read turnaround after the end of the write data.
    trefi, trfc : int
        Refresh interval and refresh cycle time. ``trefi`` 0 disables refresh (the ideal
        preset), which requires ``trfc`` 0; otherwise ``0 < trfc < trefi``.
    max_postponed_refreshes : int
        Refreshes the controller may postpone while it has work (0 to 8; JEDEC allows 8).
    """

    name: str
    tck_ns: float
    data_bytes_per_cycle: int
    burst_bytes: int
    banks: int
    bank_groups: int
    row_bytes: int
    rows: int
    cl: int
    cwl: int
    trcd_rd: int
    trcd_wr: int
    trp: int
    tras: int
    trc: int
    twr: int
    trtp: int
    tccd_s: int
    tccd_l: int
    trrd_s: int
    trrd_l: int
    tfaw: int
    twtr_s: int
    twtr_l: int
    trefi: int
    trfc: int
    max_postponed_refreshes: int = MAX_POSTPONED_REFRESHES

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, not {self.name!r}")
        if (isinstance(self.tck_ns, bool) or not isinstance(self.tck_ns, (int, float))
                or not 0 < self.tck_ns <= 1000):
            raise ValueError(f"tck_ns must be a number above 0 and at most 1000, "
                             f"not {self.tck_ns!r}")
        # Organization. Each count is a bit field of the address map, hence powers of two.
        check_power_of_two("data_bytes_per_cycle", self.data_bytes_per_cycle, 1, 1024)
        check_power_of_two("burst_bytes", self.burst_bytes, self.data_bytes_per_cycle, 4096)
        check_power_of_two("banks", self.banks, 1, 256)
        # A power of two up to banks (itself a power of two) is exactly one that divides it.
        check_power_of_two("bank_groups", self.bank_groups, 1, self.banks)
        check_power_of_two("row_bytes", self.row_bytes, self.burst_bytes, 1 << 20)
        check_power_of_two("rows", self.rows, 1, 1 << 24)
        # Timing. Lower bounds are the protocol's: one command per cycle on a command bus,
        # data at least one cycle after RD, one burst at a time on the data bus.
        check_int("cl", self.cl, 1, MAX_CYCLES)
        check_int("cwl", self.cwl, 0, MAX_CYCLES)
        check_int("trcd_rd", self.trcd_rd, 1, MAX_CYCLES)
        check_int("trcd_wr", self.trcd_wr, 1, MAX_CYCLES)
        check_int("trp", self.trp, 1, MAX_CYCLES)
        check_int("tras", self.tras, 1, MAX_CYCLES)
        check_int("trc", self.trc, self.tras + self.trp, MAX_CYCLES,
                  extra=f" (at least tras + trp = {self.tras + self.trp}, so tras <= trc)")
        check_int("twr", self.twr, 0, MAX_CYCLES)
        check_int("trtp", self.trtp, 0, MAX_CYCLES)
        check_int("tccd_s", self.tccd_s, self.burst_cycles, MAX_CYCLES,
                  extra=f" (at least the burst cycles, burst_bytes / data_bytes_per_cycle"
                        f" = {self.burst_cycles})")
        check_int("tccd_l", self.tccd_l, self.tccd_s, MAX_CYCLES, extra=" (at least tccd_s)")
        check_int("trrd_s", self.trrd_s, 1, MAX_CYCLES)
        check_int("trrd_l", self.trrd_l, self.trrd_s, MAX_CYCLES, extra=" (at least trrd_s)")
        check_int("tfaw", self.tfaw, 0, MAX_CYCLES)
        check_int("twtr_s", self.twtr_s, 0, MAX_CYCLES)
        check_int("twtr_l", self.twtr_l, self.twtr_s, MAX_CYCLES, extra=" (at least twtr_s)")
        check_int("trefi", self.trefi, 0, MAX_CYCLES)
        if self.trefi == 0:
            if self.trfc != 0:
                raise ValueError(f"trfc must be 0 when trefi is 0 (refresh disabled), "
                                 f"not {self.trfc}")
        else:
            check_int("trfc", self.trfc, 1, self.trefi - 1, extra=" (below trefi)")
        check_int("max_postponed_refreshes", self.max_postponed_refreshes, 0,
                  MAX_POSTPONED_REFRESHES)

    # Organization -------------------------------------------------------------------------

    @property
    def burst_cycles(self):
        """Cycles one RD/WR burst occupies the data bus."""
        return self.burst_bytes // self.data_bytes_per_cycle

    @property
    def columns(self):
        """Bursts per row: the range of the address map's column field."""
        return self.row_bytes // self.burst_bytes

    @property
    def banks_per_group(self):
        return self.banks // self.bank_groups

    @property
    def capacity_bytes(self):
        """Bytes in one pseudo-channel."""
        return self.banks * self.rows * self.row_bytes

    @property
    def refresh_enabled(self):
        return self.trefi != 0

    # Analytical figures -------------------------------------------------------------------

    @property
    def peak_bytes_per_cycle(self):
        """Streaming peak: one burst every ``tccd_s`` cycles (bursts alternating between bank
        groups, rows open, no refresh)."""
        return self.burst_bytes / self.tccd_s

    @property
    def peak_gbytes_per_second(self):
        """Streaming peak of one pseudo-channel in GB/s (bytes per ns)."""
        return self.peak_bytes_per_cycle / self.tck_ns

    @property
    def refresh_overhead(self):
        """Fraction of time the pseudo-channel is busy refreshing, ``trfc / trefi`` (0 when
        refresh is disabled)."""
        return self.trfc / self.trefi if self.refresh_enabled else 0.0

    @property
    def refresh_overhead_worst(self):
        """A fuller bound from the published figures, ``(trtp + trp + trfc + trcd_rd) / trefi``: before REF
        every open bank must be closed (last RD, then tRTP and tRP) and after it the row
        reopened (tRCD), so a streaming read loses that much around each refresh."""
        if not self.refresh_enabled:
            return 0.0
        return (self.trtp + self.trp + self.trfc + self.trcd_rd) / self.trefi

    @property
    def refresh_limited_peak_bytes_per_cycle(self):
        """Streaming peak with the time lost to refresh (``refresh_overhead``) taken off."""
        return self.peak_bytes_per_cycle * (1 - self.refresh_overhead)

    @property
    def row_hit_read_latency(self):
        """Cycles from RD issue to the first data beat when the row is already open: ``cl``."""
        return self.cl

    @property
    def row_miss_read_latency(self):
        """Cycles from a read arriving at an idle controller whose bank has another row open
        to the **first** data beat: ``trp + trcd_rd + cl`` (PRE issued in the arrival cycle,
        tRAS/tRTP of the old row long satisfied, no controller pipeline delay counted). The
        last beat arrives ``burst_cycles - 1`` cycles later. This is the published "unloaded read
        latency on a row miss"."""
        return self.trp + self.trcd_rd + self.cl

    # Helpers ------------------------------------------------------------------------------

    def replace(self, **changes):
        """Return a copy with some parameters changed (validated like the original)."""
        return replace(self, **changes)

    def describe(self):
        """One line per parameter and per derived figure, for reports and file headers."""
        lines = [f"{f.name} = {getattr(self, f.name)!r}" for f in fields(self)]
        refresh = (f"{self.refresh_overhead:.2%} (worst {self.refresh_overhead_worst:.2%})"
                   if self.refresh_enabled else "none")
        return lines + [
            f"capacity = {self.capacity_bytes // (1 << 20)} MiB per pseudo-channel",
            f"peak = {self.peak_bytes_per_cycle:g} B/cycle = "
            f"{self.peak_gbytes_per_second:g} GB/s",
            f"refresh overhead = {refresh}",
            f"refresh-limited peak = {self.refresh_limited_peak_bytes_per_cycle:.3f} B/cycle",
            f"read latency = {self.row_hit_read_latency} cycles on a row hit, "
            f"{self.row_miss_read_latency} on a row miss (to the first beat)",
        ]


#: The default preset: the one the config and the performance model use unless told.
DEFAULT_PRESET = "hbm2-2000"

PRESETS = {
    # HBM2 at 2.0 Gb/s per pin: tCK 1 ns, 64-bit pseudo-channel, DDR -> 16 B per cycle, BL4
    # -> 32 B per RD/WR every tCCD_S = 2 cycles. 16 pseudo-channels x 16 GB/s = 256 GB/s per
    # stack, as in the published figures. Rows: 256 MB per pseudo-channel (a 4 GB stack, as on the Alveo
    # U280/U50 boards behind the published efficiency figures) = 16 banks x 1 KB x 16384 rows.
    # That is 4 Gb per channel, whose tRFC would be 260; the table's 350 (the 8 Gb figure,
    # 32768 rows) is kept as the conservative choice.
    # tFAW: published sources give 15, 16 and 30 ns; 16 is the common table value.
    "hbm2-2000": TimingPreset(
        name="hbm2-2000", tck_ns=1.0, data_bytes_per_cycle=16, burst_bytes=32,
        banks=16, bank_groups=4, row_bytes=1024, rows=16384,
        cl=14, cwl=5, trcd_rd=14, trcd_wr=12, trp=14, tras=34, trc=48, twr=16, trtp=5,
        tccd_s=2, tccd_l=4, trrd_s=4, trrd_l=4, tfaw=16, twtr_s=6, twtr_l=8,
        trefi=3900, trfc=350),
    # HBM3 at 6.4 Gb/s per pin: tCK 0.625 ns (1.6 GHz), 32-bit pseudo-channel at 4 transfers
    # per cycle -> 16 B per cycle, BL8 -> 32 B every 2 cycles; 32 x 25.6 GB/s = 819 GB/s per
    # stack. Rows: an 8-high stack of 16 Gb dies holds 16 GB in 32 pseudo-channels, 512 MB
    # each = 16 banks x 1 KB x 32768 rows (the stack-ID bit is folded into the row, which
    # understates bank parallelism). tRFC: published figures give 416-880 cycles by density without a
    # mapping; Ramulator's table at 8 Gb per channel (2 x 4 Gb pseudo-channels) says 350 ns
    # = 560 cycles, inside that range.
    "hbm3-6400": TimingPreset(
        name="hbm3-6400", tck_ns=0.625, data_bytes_per_cycle=16, burst_bytes=32,
        banks=16, bank_groups=4, row_bytes=1024, rows=32768,
        cl=20, cwl=10, trcd_rd=31, trcd_wr=15, trp=26, tras=45, trc=72, twr=33, trtp=9,
        tccd_s=2, tccd_l=4, trrd_s=4, trrd_l=5, tfaw=24, twtr_s=7, twtr_l=10,
        trefi=6240, trfc=560),
    # The ULX3S's 32 MB SDR SDRAM (IS42S16160, 16M x 16): 4 banks x 8192 rows x 512 columns
    # x 2 B, at 100 MHz. One command moves a BL8 burst, 8 beats x 2 B = 16 B in 8 cycles, so
    # tCCD = tRTP = 8 (a PRE earlier than 8 cycles after RD would cut the burst). CL 2 is the
    # -6/-7 speed grades' rating at 100 MHz (the LiteDRAM default there); CL 3 also works at
    # the cost of one cycle. Write data travels with WR (cwl 0); tWR (tDPL) 2 counted from
    # the end of the data is one cycle conservative. No tWTR or tFAW on SDR: 0. No bank
    # groups: the _s and _l figures are equal. tRAS 42 ns -> 5, tRC 63 ns -> 7, tRP = tRCD =
    # tRRD = 20 ns -> 2, tRFC 70 ns -> 7, tREFI 64 ms / 8192 = 7.8 us -> 780.
    "sdr": TimingPreset(
        name="sdr", tck_ns=10.0, data_bytes_per_cycle=2, burst_bytes=16,
        banks=4, bank_groups=1, row_bytes=1024, rows=8192,
        cl=2, cwl=0, trcd_rd=2, trcd_wr=2, trp=2, tras=5, trc=7, twr=2, trtp=8,
        tccd_s=8, tccd_l=8, trrd_s=2, trrd_l=2, tfaw=0, twtr_s=0, twtr_l=0,
        trefi=780, trfc=7),
    # No wait states: the HBM2-2000 port and geometry (so a design can swap presets without
    # changing widths) with every timing at the least the protocol allows: one cycle per
    # command, tCCD = the 2 burst cycles, no turnaround, no refresh.
    "ideal": TimingPreset(
        name="ideal", tck_ns=1.0, data_bytes_per_cycle=16, burst_bytes=32,
        banks=16, bank_groups=4, row_bytes=1024, rows=16384,
        cl=1, cwl=0, trcd_rd=1, trcd_wr=1, trp=1, tras=1, trc=2, twr=0, trtp=0,
        tccd_s=2, tccd_l=2, trrd_s=1, trrd_l=1, tfaw=0, twtr_s=0, twtr_l=0,
        trefi=0, trfc=0, max_postponed_refreshes=0),
}


def preset(name=DEFAULT_PRESET):
    """The :class:`TimingPreset` called ``name``; ``ValueError`` lists the known names."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"timing preset must be one of {', '.join(map(repr, PRESETS))}, "
                         f"not {name!r}") from None
