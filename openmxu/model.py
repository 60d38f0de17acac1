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

#: Sequencer cycles from taking a command to starting the paths (CHECK, PLAN, START).
START_CYCLES = 3
#: Cycles the accelerator adds to a read's latency (reader AR register, R routing, scratchpad
#: or FIFO write).
READ_OVERHEAD = 2
#: Output stage: accumulator read, add, scale, round (one row per cycle).
OUTPUT_STAGES = 4
#: Weight rows the weight reader keeps in flight (bursts per ID of its one ID).
WEIGHT_READS_IN_FLIGHT = 8
#: A-panel row bursts in flight (the A reader's IDs).
PANEL_READS_IN_FLIGHT = 8


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
    """Predicts the accelerator's cycles for ``config`` (see the module documentation)."""

    def __init__(self, config=None):
        self.config = config = Config() if config is None else config
        timing = config.address_map.timing
        self.timing = timing
        self.beat_bytes = timing.burst_bytes
        # Unloaded read latencies of the memory system (see MemorySystem.read_latency).
        from rtl.mem.controller import ChannelController
        from rtl.mem.port import REQUEST_DELAY, RESPONSE_DELAY
        controller = ChannelController(timing=timing, queue_depth=config.queue_depth)
        controller._MustUse__silence = True
        overhead = controller.read_overhead + REQUEST_DELAY + RESPONSE_DELAY + READ_OVERHEAD
        self.row_hit_latency = timing.cl + overhead
        self.row_miss_latency = timing.row_miss_read_latency + overhead
        # One pseudo-channel moves a beat every burst_cycles.
        self.channel_beats_per_cycle = 1 / timing.burst_cycles
        self.peak_bytes_per_cycle = config.channels * timing.burst_bytes / timing.burst_cycles

    def __repr__(self):
        return f"PerformanceModel({self.config!r})"

    def _panel_cycles(self, rows, beats):
        """Cycles to load a panel of ``rows`` bursts of ``beats``: reads in flight over the
        latency, or the channel's beat rate, whichever is slower."""
        latency = self.row_miss_latency
        per_row_in_flight = latency / PANEL_READS_IN_FLIGHT
        per_row_channel = beats / self.channel_beats_per_cycle
        return latency + rows * max(per_row_in_flight, per_row_channel)

    def _weight_tile_cycles(self):
        cfg = self.config
        return cfg.rows * self.row_hit_latency / WEIGHT_READS_IN_FLIGHT

    def predict(self, m, k, n):
        cfg = self.config
        beat = self.beat_bytes
        m_blocks = -(-m // cfg.block_m)
        n_tiles = -(-n // cfg.cols)
        k_chunks = -(-k // cfg.block_k)
        weight_tile = self._weight_tile_cycles()

        def block_rows(mt):
            return cfg.block_m if mt < m_blocks - 1 else m - (m_blocks - 1) * cfg.block_m

        def chunk(kc):
            """(weight tiles, beats per panel row) of chunk kc."""
            elements = cfg.block_k if kc < k_chunks - 1 else k - (k_chunks - 1) * cfg.block_k
            return -(-elements // cfg.rows), -(-elements // beat)

        visits = []          # (compute cycles, panel load cycles or 0 when reused)
        for mt in range(m_blocks):
            rows = block_rows(mt)
            for nt in range(n_tiles):
                for kc in range(k_chunks):
                    tiles, beats = chunk(kc)
                    compute = tiles * max(rows, cfg.rows, weight_tile)
                    load = self._panel_cycles(rows, beats) if (k_chunks > 1 or nt == 0) else 0
                    visits.append((compute, load))
        start = START_CYCLES + visits[0][1]
        total = start
        load_stall = 0
        for index, (compute, _) in enumerate(visits):
            next_load = visits[index + 1][1] if index + 1 < len(visits) else 0
            total += max(compute, next_load)
            load_stall += max(0, next_load - compute)
        last_rows = block_rows(m_blocks - 1)
        c_beats = max(1, 4 * cfg.cols // beat)
        tail = (cfg.rows + cfg.cols + 2 + OUTPUT_STAGES + last_rows * c_beats
                + self.row_hit_latency)
        total += tail
        compute_cycles = sum(compute for compute, _ in visits)

        a_bytes = sum(block_rows(mt) * chunk(kc)[1] * beat
                      for mt in range(m_blocks) for nt in range(n_tiles)
                      for kc in range(k_chunks) if k_chunks > 1 or nt == 0)
        b_bytes = m_blocks * n_tiles * k * beat          # one beat per weight row
        c_beats_total = m * n_tiles * c_beats
        bytes_written = c_beats_total * beat
        bytes_read = a_bytes + b_bytes
        memory_bound = int((bytes_read + bytes_written) / self.peak_bytes_per_cycle)
        return Prediction(
            m=m, k=k, n=n, cycles=int(round(total)), compute_cycles=int(compute_cycles),
            ideal_cycles=int(m * k * n / cfg.macs), start_cycles=int(round(start)),
            tail_cycles=int(round(tail)), load_stall_cycles=int(round(load_stall)),
            bytes_read=int(bytes_read), bytes_written=int(bytes_written),
            memory_bound_cycles=memory_bound)
