"""The host side of the accelerator without a simulator: configuration checks, the driver's
memory layout and descriptor encoding, and the analytical performance model."""

import numpy as np
import pytest

from openmxu import Config
from openmxu.accelerator import Accelerator
from openmxu.driver import plan_matmul, GUARD_BYTES, GUARD_FILL
from openmxu.model import PerformanceModel
from openmxu.registers import DESCRIPTOR, DESCRIPTOR_BASE, Flags, MAX_SHIFT

FIELDS = [name for name, _ in DESCRIPTOR]


def _registers(job):
    return {FIELDS[index - DESCRIPTOR_BASE]: value for index, value in job.registers}


def test_layout_is_beat_aligned_and_guarded():
    a = np.ones((5, 33), dtype=np.int64)
    b = np.ones((33, 7), dtype=np.int64)
    job = plan_matmul(Config(), a, b)
    fields = _registers(job)
    for name in ("a_addr", "b_addr", "c_addr", "a_stride", "b_stride", "c_stride"):
        assert fields[name] % 32 == 0, name
    assert fields["a_stride"] == 64 and fields["b_stride"] == 32 and fields["c_stride"] == 32
    assert (fields["m"], fields["k"], fields["n"]) == (5, 33, 7)
    assert fields["b_addr"] >= fields["a_addr"] + 5 * 64
    assert fields["c_addr"] >= fields["b_addr"] + 33 * 32 + GUARD_BYTES
    guard_addr, length = job.readback
    assert guard_addr == fields["c_addr"] - GUARD_BYTES
    assert job.initial_c[:GUARD_BYTES] == bytes([GUARD_FILL]) * GUARD_BYTES
    assert length == GUARD_BYTES + 5 * 32 + GUARD_BYTES


def test_flags_and_quantization_are_encoded():
    a, b = np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2), dtype=np.int64)
    fields = _registers(plan_matmul(Config(), a, b, out="int8", scale=300, shift=9,
                                    rounding="half_up", relu=True))
    assert fields["flags"] == Flags.INT8 | Flags.HALF_UP | Flags.RELU
    assert fields["quant"] == 300 | 9 << 16
    fields = _registers(plan_matmul(Config(), a, b, c=np.zeros((2, 2), dtype=np.int64)))
    assert fields["flags"] == Flags.ACCUMULATE


def test_result_reads_back_the_layout():
    a = np.array([[1, 2], [3, 4]])
    b = np.array([[5, 6], [7, 8]])
    job = plan_matmul(Config(), a, b)
    data = bytearray(job.initial_c)
    c = np.array([[19, 22], [43, 50]], dtype="<i4")
    for row in range(2):
        offset = GUARD_BYTES + row * job.c_stride
        data[offset:offset + 8] = c[row].tobytes()
    assert (job.result(bytes(data)) == c).all()
    assert job.untouched(bytes(data)) == []
    data[3] ^= 1
    assert job.untouched(bytes(data)) == [3]


@pytest.mark.parametrize("options, message", [
    (dict(out="int16"), "out must be one of"),
    (dict(scale=-1), "scale must be"),
    (dict(scale=1 << 16), "scale must be"),
    (dict(shift=MAX_SHIFT + 1), "shift must be"),
    (dict(rounding="nearest"), "rounding must be one of"),
    (dict(out="int8", c=np.zeros((2, 2))), "needs out='int32'"),
    (dict(c=np.zeros((3, 2))), "c must be of shape"),
    (dict(base=16), "base must be a multiple of 32"),
    (dict(memory_bytes=256), "beyond the"),
])
def test_bad_requests_are_refused(options, message):
    a, b = np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match=message):
        plan_matmul(Config(), a, b, **options)


def test_bad_operands_are_refused():
    with pytest.raises(ValueError, match="inner dimensions differ"):
        plan_matmul(Config(), np.zeros((2, 3), dtype=np.int64), np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="signed 8-bit range"):
        plan_matmul(Config(), np.full((2, 2), 128), np.zeros((2, 2), dtype=np.int64))


@pytest.mark.parametrize("options, message", [
    (dict(dataflow="os"), "dataflow must be 'ws'"),
    (dict(operand_width=16, acc_width=32), "operand_width must be 8"),
    (dict(rows=3), "rows must be a power of two"),
    (dict(rows=64), "rows must be between 1 and 32"),
    (dict(block_k=64, rows=32, cols=32), None),
])
def test_accelerator_configurations(options, message):
    if message is None:
        Accelerator(Config(**options))
        return
    with pytest.raises(ValueError, match=message):
        Accelerator(Config(**options))


def test_config_checks_the_blocks():
    with pytest.raises(ValueError, match="block_m must be a power of two"):
        Config(block_m=100)
    with pytest.raises(ValueError, match="block_k must be between 32 and 512"):
        Config(block_k=16)
    with pytest.raises(ValueError, match="backend must be one of"):
        Accelerator(Config(), backend="fpga")


def test_model_is_compute_bound_for_large_squares():
    model = PerformanceModel(Config())
    prediction = model.predict(256, 256, 256)
    assert prediction.ideal_cycles == 256 ** 3 // 64
    assert prediction.compute_cycles == prediction.ideal_cycles
    assert 0.95 < prediction.utilization < 1
    assert prediction.bytes_written == 256 * 256 * 4
    assert prediction.memory_bound_cycles < prediction.cycles


def test_model_sees_weight_fetch_bound_small_m():
    model = PerformanceModel(Config())
    small = model.predict(8, 256, 512)
    assert small.utilization < 0.5
    # The 8 weight rows of a tile share a bank group: tccd_l per row, not 8 vectors, per tile.
    tiles = (256 // 8) * (512 // 8)
    assert small.cycles >= tiles * 8 * model.timing.tccd_l


#: Cycles of the RTL (``openmxu.system_bench.measure`` on the default configuration, with
#: the channel controller of docs/memory-controller.md): start-up, write-bound, refresh-hit
#: and weight-bound shapes. Re-measure them when the RTL's timing changes.
RTL_CYCLES = {(32, 32, 32): 1034, (64, 64, 64): 5198, (128, 512, 32): 36732,
              (8, 256, 512): 70665, (48, 96, 40): 3763, (24, 40, 200): 4368}


@pytest.mark.parametrize("shape", sorted(RTL_CYCLES))
def test_model_tracks_the_rtl(shape):
    prediction = PerformanceModel(Config()).predict(*shape)
    assert abs(prediction.cycles / RTL_CYCLES[shape] - 1) < 0.05
    assert prediction.start_cycles + prediction.compute_cycles + prediction.tail_cycles \
        + prediction.load_stall_cycles == prediction.cycles


def test_model_runs_other_configurations():
    for config in (Config(rows=4, cols=16, channels=2), Config(memory_preset="sdr", channels=1),
                   Config(memory_preset="ideal"), Config(block_m=32, block_k=32)):
        prediction = PerformanceModel(config).predict(33, 65, 129)
        assert prediction.cycles > prediction.compute_cycles >= prediction.ideal_cycles
