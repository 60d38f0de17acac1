"""cocotb testbench of a bare systolic array, driven through its stream ports from Python.

Parameters (JSON in ``OPENMXU_TEST_PARAMS``):

``config``
    keyword arguments of :class:`openmxu.Config`.
``tiles``
    list of tile lengths: activation vectors per weight tile (weight-stationary) or inner
    steps per output tile (output-stationary), sent back to back.
``pause_in``, ``pause_out``
    probabilities that a source skips a cycle and that the sink is not ready.
``kinds`` (optional)
    operand pattern per tile (:data:`openmxu.golden.OPERAND_KINDS`), ``random`` by default.
``seed``
    seed of the operands and of the pauses.

Every result row is compared bit-exactly with :func:`openmxu.golden.matmul`, and the
``last`` flags must mark the end of each tile.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ClockCycles

from openmxu import Config, golden
from rtl.systolic.layouts import weight_row, activation_beat, operand_beat, result_beat
from .stream import StreamSource, StreamSink


async def _reset(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


def _expected_tiles(config, tiles, kinds, seed):
    """Operands and expected results per tile: ``(a, b, c)`` with ``c = a @ b``."""
    rows, cols = config.rows, config.cols
    out = []
    for index, (length, kind) in enumerate(zip(tiles, kinds)):
        m, k = (length, rows) if config.dataflow == "ws" else (rows, length)
        a, b = golden.operands(kind, m, k, cols, seed=seed + index,
                               operand_width=config.operand_width)
        out.append((a, b, golden.matmul(a, b, operand_width=config.operand_width,
                                        acc_width=config.acc_width)))
    return out


@cocotb.test()
async def back_to_back_tiles(dut):
    """Tiles of the given lengths, back to back, with random pauses on every stream."""
    params = json.loads(os.environ["OPENMXU_TEST_PARAMS"])
    config = Config(**params["config"])
    seed = params.get("seed", 0)
    pause_rng = random.Random(seed)
    kinds = params.get("kinds", ["random"] * len(params["tiles"]))
    tiles = _expected_tiles(config, params["tiles"], kinds, seed)
    width = config.operand_width
    await _reset(dut)

    sink = StreamSink(dut, "results", result_beat(cols=config.cols, acc_width=config.acc_width),
                      dut.clk, pause=params.get("pause_out", 0.0), rng=pause_rng)
    if config.dataflow == "ws":
        weights = StreamSource(dut, "weights", weight_row(cols=config.cols, operand_width=width),
                               dut.clk, pause=params.get("pause_in", 0.0), rng=pause_rng)
        acts = StreamSource(dut, "activations",
                            activation_beat(rows=config.rows, operand_width=width), dut.clk,
                            pause=params.get("pause_in", 0.0), rng=pause_rng)
        sources = [weights, acts]
        for a, b, _ in tiles:
            for row in b.tolist():
                weights.send(row)
            for index, vector in enumerate(a.tolist()):
                acts.send({"data": vector, "last": index == len(a) - 1})
        expected = [(row, index == len(c) - 1) for _, _, c in tiles
                    for index, row in enumerate(c.tolist())]
    else:
        ops = StreamSource(dut, "operands",
                           operand_beat(rows=config.rows, cols=config.cols, operand_width=width),
                           dut.clk, pause=params.get("pause_in", 0.0), rng=pause_rng)
        sources = [ops]
        for a, b, _ in tiles:
            for k in range(a.shape[1]):
                ops.send({"a": a[:, k].tolist(), "b": b[k].tolist(),
                          "last": k == a.shape[1] - 1})
        expected = [(row, index == len(c) - 1) for _, _, c in tiles
                    for index, row in enumerate(c.tolist())]

    budget = 100 * (len(expected) + sum(params["tiles"]) + config.rows * len(tiles)) + 1000
    for _ in range(budget):
        await FallingEdge(dut.clk)
        if len(sink.received) >= len(expected) and all(s.idle for s in sources):
            break
    await ClockCycles(dut.clk, 2 * (config.rows + config.cols) + 10)
    got = [(beat["data"], bool(beat["last"])) for beat in sink.received]
    assert len(got) == len(expected), f"{len(got)} result rows, expected {len(expected)}"
    for index, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"result row {index}: got {g}, expected {e}"
