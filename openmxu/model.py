"""The analytical performance model: cycles, utilization and bytes of a matmul on the
accelerator of a :class:`~openmxu.Config`, from the same tiling the hardware runs.

The hardware walks ``for mt (M blocks): for nt (N tiles): for kc (K chunks): for kt (weight
tiles): for r (rows of the block)`` and overlaps three things: loading the next A panel,
streaming this one, and draining the previous block's results. The model follows that
schedule one visit (``mt, nt, kc``) at a time, in the style of SCALE-Sim's fold accounting:

* a weight tile takes ``max(block rows, rows, weight fetch time)`` cycles: the array takes
  one activation vector per cycle, loads one weight row per cycle into its shadow buffer,
  and the weight reader brings rows at its reads in flight over the read latency;
* a visit takes ``max(its tiles, the next panel's load)``;
* the command starts with the checks and the first panel's load, and ends with the array's
  latency, the accumulator, the output stage and the writes of the last block.

Memory figures come from the timing preset (:mod:`openmxu.dram`) and the memory system's
latency; the roofline's bandwidth is the pseudo-channels' peak.
"""

from dataclasses import dataclass, asdict

from .config import Config

__all__ = ["PerformanceModel", "Prediction"]

#: Sequencer cycles from taking a command to starting the paths (CHECK, one SPAN step with
#: every multiplier bit consumed, ENDS, BOUNDS, PLAN, START), besides one SPAN step per bit of
#: the longer of M - 1 and K - 1 (:func:`sequencer_cycles`).
START_CYCLES = 6
#: Cycles the accelerator adds to a read's latency (reader AR register, R routing, scratchpad
#: or FIFO write).
READ_OVERHEAD = 2
#: Output stage: accumulator read, add, scale, shift, rounding decision, round (one row per
#: cycle).
OUTPUT_STAGES = 6
#: Weight rows the weight reader keeps in flight (bursts per ID of its one ID).
WEIGHT_READS_IN_FLIGHT = 16
#: A-panel row bursts in flight (the port's read slots).
PANEL_READS_IN_FLIGHT = 16
#: From a vector's entry to its result in the accumulator bank, beyond ``rows + cols``: the
#: cells' operand and product registers, the result FIFO and the read-modify-write.
ARRAY_TO_BANK = 5
#: From the last write beat to its response and the end of the command.
WRITE_RESPONSE_CYCLES = 8
#: Cycles the weight reader runs ahead of the array's free weight buffer (its FIFOs hold
#: two tiles).
WEIGHT_LOOKAHEAD = 64


def sequencer_cycles(m, k):
    """Sequencer cycles from taking an M x K x N command to starting the paths: the span
    products are built by shift and add, one bit of M - 1 and K - 1 per cycle."""
    return START_CYCLES + max((m - 1).bit_length(), (k - 1).bit_length())


@dataclass(frozen=True)
class Prediction:
    """The model's figures for one matmul."""

    m: int
    k: int
    n: int
    cycles: int
    compute_cycles: int      # sum over weight tiles of their streaming time
    ideal_cycles: int        # m * k * n / MACs
    start_cycles: int        # checks and the first panel
    tail_cycles: int         # array latency, output stage and the last writes
    load_stall_cycles: int   # visits waiting for their panel
    bytes_read: int
    bytes_written: int
    memory_bound_cycles: int  # bytes over the pseudo-channels' peak

    @property
    def utilization(self):
        return self.ideal_cycles / self.cycles

    @property
    def intensity(self):
        """MACs per byte moved."""
        return self.m * self.k * self.n / (self.bytes_read + self.bytes_written)

    def as_dict(self):
        return {**asdict(self), "utilization": self.utilization, "intensity": self.intensity}


class PerformanceModel:
    """Predicts the accelerator's cycles for ``config`` (see the module documentation).

    Matrices are placed as :func:`openmxu.driver.plan_matmul` places them, so the model
    knows which pseudo-channel and bank group every read goes to.
    """

    def __init__(self, config=None):
        self.config = config = Config() if config is None else config
        timing = config.address_map.timing
        self.timing = timing
        self.address_map = config.address_map
        self.beat_bytes = timing.burst_bytes
        # Unloaded read latencies of the memory system (see MemorySystem.read_latency).
        from rtl.mem.controller import ChannelController
        from rtl.mem.port import REQUEST_DELAY, RESPONSE_DELAY
        controller = ChannelController(timing=timing, bank_queue_depth=config.bank_queue_depth)
        controller._MustUse__silence = True
        around = REQUEST_DELAY + RESPONSE_DELAY + READ_OVERHEAD
        self.row_hit_latency = controller.read_latency(row_hit=True) + around
        self.row_miss_latency = controller.read_latency() + around
        self.peak_bytes_per_cycle = config.channels * timing.burst_bytes / timing.burst_cycles

    def __repr__(self):
        return f"PerformanceModel({self.config!r})"

    def _beat_cycles(self, addresses):
        """Cycles the pseudo-channels need for reads of one beat at ``addresses``: per
        channel a beat every ``tccd_s`` cycles, and every ``tccd_l`` within a bank group."""
        t = self.timing
        per_channel, per_group = {}, {}
        for address in addresses:
            fields = self.address_map.decode(address)
            channel = fields["channel"]
            group = (channel, fields["bank_group"])
            per_channel[channel] = per_channel.get(channel, 0) + 1
            per_group[group] = per_group.get(group, 0) + 1
        # Reads under one ID return in order, so a tile's rows in one bank group are spaced
        # by tccd_l even when they are in different pseudo-channels.
        groups = {}
        for (channel, group), count in per_group.items():
            groups[group] = groups.get(group, 0) + count
        return max(max(per_channel.values()) * max(t.tccd_s, t.burst_cycles),
                   max(groups.values()) * t.tccd_l)

    def _panel_cycles(self, a_addr, a_stride, first_row, rows, column, beats):
        """Cycles to load a panel: its beats over the channels they fall in, the port's one
        beat per cycle, or the reads in flight over the latency, whichever is slowest."""
        addresses = [a_addr + (first_row + r) * a_stride + column + b * self.beat_bytes
                     for r in range(rows) for b in range(beats)]
        in_flight = rows * self.row_miss_latency / PANEL_READS_IN_FLIGHT
        return max(self._beat_cycles(addresses), rows * beats, in_flight)

    def _weight_tile_cycles(self, b_addr, b_stride, k0, rows_valid, column):
        addresses = [b_addr + (k0 + r) * b_stride + column for r in range(rows_valid)]
        if not addresses:
            return 0
        # Weight rows of consecutive tiles revisit B's rows in another column, after the
        # bank has moved on: count them as row misses.
        in_flight = rows_valid * self.row_miss_latency / WEIGHT_READS_IN_FLIGHT
        return max(self._beat_cycles(addresses), in_flight)

    def _write_cycles(self, addresses):
        """Cycles to write one beat at each of ``addresses``: the port takes a beat per cycle,
        and each pseudo-channel one every ``burst_cycles``."""
        per_channel = {}
        for address in addresses:
            channel = self.address_map.decode(address)["channel"]
            per_channel[channel] = per_channel.get(channel, 0) + 1
        return max(len(addresses), max(per_channel.values()) * self.timing.burst_cycles)

    def predict(self, m, k, n):
        """The :class:`Prediction` for an ``m`` x ``k`` x ``n`` int32 matmul laid out by the
        driver.

        The schedule is computed tile by tile: a tile's activations start when the previous
        tile's have entered, its weights are in the array (fetched after the tile two back
        freed its weight buffer), its panel is loaded and its accumulator bank is free; a
        block's drain starts when its last result is in and the previous drain is done.
        """
        import numpy as np
        from .driver import plan_matmul
        from .registers import DESCRIPTOR, DESCRIPTOR_BASE
        cfg = self.config
        beat = self.beat_bytes
        job = plan_matmul(cfg, np.zeros((m, k), dtype=np.int64),
                          np.zeros((k, n), dtype=np.int64))
        names = [name for name, _ in DESCRIPTOR]
        d = {names[index - DESCRIPTOR_BASE]: value for index, value in job.registers}
        m_blocks = -(-m // cfg.block_m)
        n_tiles = -(-n // cfg.cols)
        k_chunks = -(-k // cfg.block_k)
        c_beats = max(1, 4 * cfg.cols // beat)
        latency = cfg.rows + cfg.cols + ARRAY_TO_BANK

        def block_rows(mt):
            return cfg.block_m if mt < m_blocks - 1 else m - (m_blocks - 1) * cfg.block_m

        def chunk(kc):
            """(weight tiles, beats per panel row) of chunk kc."""
            elements = cfg.block_k if kc < k_chunks - 1 else k - (k_chunks - 1) * cfg.block_k
            return -(-elements // cfg.rows), -(-elements // beat)

        cache = {}

        def weight_fetch(nt, k0):
            column = (nt * cfg.cols) // beat * beat
            valid = min(cfg.rows, k - k0)
            key = ("w", column, k0)
            if key not in cache:
                cache[key] = self._weight_tile_cycles(d["b_addr"], d["b_stride"], k0, valid,
                                                      column)
            return cache[key]

        def panel_load(mt, kc):
            key = ("a", mt, kc)
            if key not in cache:
                cache[key] = self.row_miss_latency + self._panel_cycles(
                    d["a_addr"], d["a_stride"], mt * cfg.block_m, block_rows(mt),
                    kc * cfg.block_k, chunk(kc)[1])
            return cache[key]

        def drain(mt, nt):
            key = ("c", mt, nt)
            if key not in cache:
                column = nt * cfg.cols * 4 // beat * beat
                addresses = [d["c_addr"] + (mt * cfg.block_m + r) * d["c_stride"] + column
                             + i * beat for r in range(block_rows(mt)) for i in range(c_beats)]
                cache[key] = self._write_cycles(addresses)
            return cache[key]

        t0 = sequencer_cycles(m, k)
        # Visits in order, with their panel load: the loader fills a buffer once the visit
        # two back has released it, and one panel at a time.
        tile_ends = []               # when each tile's last vector entered the array
        compute_cycles = 0
        loader_free = t0
        released = [t0, t0]          # when each panel buffer was last released
        visit_index = 0
        weight_done = t0
        weight_free = [t0, t0]       # the array's two weight buffers
        drain_done = t0
        bank_free = [t0, t0]
        previous_end = t0
        block = 0
        for mt in range(m_blocks):
            rows = block_rows(mt)
            for nt in range(n_tiles):
                block_start_allowed = bank_free[block % 2] - latency
                for kc in range(k_chunks):
                    tiles, _ = chunk(kc)
                    buffer = visit_index % 2
                    if k_chunks > 1 or nt == 0:
                        begin = max(loader_free, released[buffer])
                        ready = begin + panel_load(mt, kc)
                        loader_free = ready
                    visit_ready = ready
                    for kt in range(tiles):
                        k0 = kc * cfg.block_k + kt * cfg.rows
                        slot = len(tile_ends) % 2
                        fetched = max(weight_done, weight_free[slot] - WEIGHT_LOOKAHEAD) \
                            + weight_fetch(nt, k0)
                        weight_done = fetched
                        loaded = max(fetched, weight_free[slot]) + cfg.rows
                        start = max(previous_end, visit_ready, loaded - cfg.rows,
                                    block_start_allowed if kt == 0 and kc == 0 else 0)
                        end = start + max(rows, 1)
                        weight_free[slot] = end
                        tile_ends.append(end)
                        previous_end = end
                        compute_cycles += rows
                    released[buffer] = previous_end if (k_chunks > 1 or nt == n_tiles - 1) \
                        else released[buffer]
                    visit_index += 1
                # The block's results are all in `latency` after its last vector.
                drain_start = max(previous_end + latency, drain_done)
                drain_done = drain_start + OUTPUT_STAGES + drain(mt, nt)
                bank_free[block % 2] = drain_start + rows
                block += 1
        total = drain_done + WRITE_RESPONSE_CYCLES
        start_cycles = tile_ends[0] - max(block_rows(0), 1)
        tail = total - previous_end

        a_bytes = sum(block_rows(mt) * chunk(kc)[1] * beat
                      for mt in range(m_blocks) for nt in range(n_tiles)
                      for kc in range(k_chunks) if k_chunks > 1 or nt == 0)
        b_bytes = m_blocks * n_tiles * k * beat          # one beat per weight row
        bytes_written = m * n_tiles * c_beats * beat
        bytes_read = a_bytes + b_bytes
        memory_bound = int((bytes_read + bytes_written) / self.peak_bytes_per_cycle)
        return Prediction(
            m=m, k=k, n=n, cycles=int(round(total)), compute_cycles=int(compute_cycles),
            ideal_cycles=int(m * k * n / cfg.macs), start_cycles=int(round(start_cycles)),
            tail_cycles=int(round(tail)),
            load_stall_cycles=int(round(total - tail - start_cycles - compute_cycles)),
            bytes_read=int(bytes_read), bytes_written=int(bytes_written),
            memory_bound_cycles=memory_bound)
