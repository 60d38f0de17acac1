"""The systolic arrays in cocotb on Verilator, checked bit-exactly against numpy.

Two testbenches: ``sim.array_tb`` drives a bare array's streams from Python with random
pauses; ``sim.harness_tb`` runs whole matrix multiplications from on-chip memories with
LFSR-driven stalls, at simulator speed.
"""

import json
import shutil

import pytest

from openmxu import Config
from rtl.systolic import WeightStationaryPE, OutputStationaryPE
from sim.designs import array_design, harness_design
from sim.runner import run

SIZES = [(1, 1), (2, 3), (3, 2), (4, 4), (8, 8), (16, 16)]


def _harness(config, cases, tmp_path=None, depth=None, name=None):
    design = harness_design(config) if depth is None else harness_design(config, depth)
    params = {"config": config.as_dict(), "cases": cases}
    if tmp_path is not None:
        params["report"] = str(tmp_path / "report.json")
    run(design, "sim.harness_tb", testcase="matmul_cases", params=params, test_name=name)
    if tmp_path is not None:
        return json.loads((tmp_path / "report.json").read_text())


def _configs(sizes, dataflows=("ws", "os"), slow_from=None, **extra):
    """One pytest parameter per configuration, grouped by build so that one xdist worker
    builds each design (and marked slow from ``slow_from`` PEs up)."""
    params = []
    for rows, cols in sizes:
        for dataflow in dataflows:
            config = Config(rows=rows, cols=cols, dataflow=dataflow, **extra)
            marks = [pytest.mark.xdist_group(config.name)]
            if slow_from is not None and rows * cols >= slow_from:
                marks.append(pytest.mark.slow)
            params.append(pytest.param(config, id=f"{dataflow}_{rows}x{cols}", marks=marks))
    return params


# Shapes chosen per array size: odd sizes that leave partial tiles in every dimension, a
# single element, and one square run of several tiles in each dimension.
def _shape_cases(rows, cols):
    return [
        {"kind": "random", "m": 1, "k": 1, "n": 1, "seed": 1},
        {"kind": "random", "m": 2 * rows + 1, "k": 3 * rows - 1, "n": 2 * cols + 1, "seed": 2},
        {"kind": "extremes", "m": rows + 3, "k": 2 * rows + 5, "n": cols + 2, "seed": 3},
        {"kind": "zeros", "m": rows, "k": rows, "n": cols, "seed": 4},
        {"kind": "identity", "m": 3 * rows, "k": 2 * rows + 1, "n": 2 * rows + 1, "seed": 5},
        {"kind": "most_negative", "m": rows + 1, "k": rows + 1, "n": cols + 1, "seed": 6},
        {"kind": "random", "m": 4 * rows, "k": 4 * rows, "n": 4 * cols, "seed": 7},
    ]


@pytest.mark.parametrize("config", _configs(SIZES, slow_from=256))
def test_matmul_shapes(config):
    """Random, extreme, zero, identity and most-negative operands on every array size."""
    _harness(config, _shape_cases(config.rows, config.cols), name="shapes")


@pytest.mark.parametrize("config", _configs([(2, 3), (4, 4), (8, 8)]))
def test_random_stalls(config):
    """Random stalls on the operand streams and on the result stream, alone and together."""
    rows, cols = config.rows, config.cols
    cases = [
        {"kind": "random", "m": 3 * rows + 1, "k": 3 * rows + 2, "n": 2 * cols + 1,
         "seed": seed, "in_stall": in_stall, "out_stall": out_stall}
        for seed, (in_stall, out_stall) in enumerate([(128, 0), (0, 128), (64, 64), (200, 200)])
    ]
    # Results produced at the full rate of one row per cycle (tiles of K = rows in the
    # output-stationary array) into a consumer that is mostly not ready: only the credits
    # keep the result FIFO from overflowing.
    cases.append({"kind": "random", "m": 4 * rows, "k": rows, "n": 4 * cols, "seed": 11,
                  "in_stall": 0, "out_stall": 220})
    _harness(config, cases, name="stalls")


@pytest.mark.parametrize("config", _configs([(4, 4)]))
def test_back_to_back_tiles_have_no_bubbles(config, tmp_path):
    """Many tiles back to back stream at one vector per cycle: the cycle count is the number
    of vectors plus one pipeline fill and drain, with nothing lost between tiles."""
    rows, cols = config.rows, config.cols
    m, k, n = 64, 64, 32
    [result] = _harness(config, [{"kind": "random", "m": m, "k": k, "n": n, "seed": 9}],
                        tmp_path, name="bubbles")
    vectors = m * k * n // (rows * cols)  # one per cycle when no tile boundary costs a cycle
    cell = WeightStationaryPE if config.dataflow == "ws" else OutputStationaryPE
    # Entry, skew, the cells, deskew (the array's latency), result FIFO, C write.
    fill = rows + cols - 1 + cell.result_delay + 8
    assert vectors <= result["cycles"] <= vectors + fill, result


@pytest.mark.parametrize("config", _configs([(4, 4)], acc_width=16))
def test_long_k_wraps_accumulator(config):
    """K = 1024 of the most negative operands wraps a 16-bit accumulator many times."""
    _harness(config, [
        {"kind": "most_negative", "m": 5, "k": 1024, "n": 6, "seed": 1},
        {"kind": "random", "m": 4, "k": 1031, "n": 4, "seed": 2, "in_stall": 50,
         "out_stall": 50},
    ], name="long_k")


@pytest.mark.slow
@pytest.mark.xdist_group("array_os_3x2")
def test_int32_wrap():
    """int8 products need K > 2**17 to wrap an int32 sum: K = 133,120 of (-128) x (-128)
    sums to 2**31 + 2**24, which wraps to -2**31 + 2**24 in every output-stationary PE; the
    tile after it must start again from zero. (A weight-stationary PE sums only `rows`
    products, so its int32 partial sums cannot wrap with int8 operands; K-wide sums there
    wrap in the accumulator that adds the tiles, tested with 16 bits above.)"""
    config = Config(rows=3, cols=2, dataflow="os")
    run(array_design(config), "sim.array_tb", testcase="back_to_back_tiles",
        params={"config": config.as_dict(), "tiles": [133_120, 5],
                "kinds": ["most_negative", "random"], "seed": 3},
        test_name="int32_wrap")


STREAM_CASES = {
    # name: (rows, cols, dataflow, tile lengths)
    "ws_2x3": (2, 3, "ws", [5, 1, 2, 7, 3, 2, 9]),
    "ws_4x4": (4, 4, "ws", [4, 1, 6, 4, 2, 11]),
    "os_3x2": (3, 2, "os", [5, 1, 3, 2, 8, 3, 4]),
    "os_4x4": (4, 4, "os", [4, 1, 9, 2, 4, 6]),
    "ws_1x1": (1, 1, "ws", [1, 3, 1, 2]),
    "os_1x1": (1, 1, "os", [1, 3, 1, 2]),
}


@pytest.mark.parametrize("pauses", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.3, 0.6)],
                         ids=["free", "pause_in", "pause_out", "pause_both"])
@pytest.mark.parametrize("case", [
    pytest.param(name, marks=pytest.mark.xdist_group(f"array_{name}")) for name in STREAM_CASES])
def test_stream_protocol(case, pauses, request):
    """Python drives the bare array's streams: tiles shorter and longer than the array,
    random pauses on both sides; every row and every `last` flag must come out right."""
    rows, cols, dataflow, tiles = STREAM_CASES[case]
    config = Config(rows=rows, cols=cols, dataflow=dataflow)
    run(array_design(config), "sim.array_tb", testcase="back_to_back_tiles",
        params={"config": config.as_dict(), "tiles": tiles, "pause_in": pauses[0],
                "pause_out": pauses[1], "seed": len(case) + int(10 * sum(pauses))},
        test_name=f"stream_{request.node.callspec.id}")


@pytest.mark.parametrize("pauses", [(0.0, 0.0), (0.3, 0.6)], ids=["free", "pause_both"])
@pytest.mark.parametrize("rows,cols", [
    pytest.param(rows, cols, marks=pytest.mark.xdist_group(f"array_ws_{rows}x{cols}_paired"))
    for rows, cols in [(4, 4), (3, 3)]])
def test_cells_paired_on_dsp_blocks(rows, cols, pauses, request):
    """Cells sharing a DSP block two by two (``cells_per_dsp=2``: the iCEBreaker's 16-cell
    bench, and a 3x3 whose last cell has a block to itself) stream every operand kind with
    pauses, bit-exact against numpy."""
    config = Config(rows=rows, cols=cols)
    run(array_design(config, cells_per_dsp=2), "sim.array_tb", testcase="back_to_back_tiles",
        params={"config": config.as_dict(), "tiles": [4, 1, 6, 2, 5, 3],
                "kinds": ["random", "extremes", "most_negative", "zeros", "identity",
                          "random"],
                "pause_in": pauses[0], "pause_out": pauses[1], "seed": rows + 10 * cols},
        test_name=f"paired_{request.node.callspec.id}")


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is not installed")
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_icarus_runs_the_same_testbench(dataflow):
    """`SIM=icarus` builds the same Verilog with Icarus Verilog (small designs only)."""
    config = Config(rows=2, cols=3, dataflow=dataflow)
    run(array_design(config), "sim.array_tb", testcase="back_to_back_tiles", sim="icarus",
        params={"config": config.as_dict(), "tiles": [3, 1, 4], "pause_in": 0.3,
                "pause_out": 0.3, "seed": 1}, test_name="icarus")
