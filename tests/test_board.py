"""The whole board path on Verilator: the host driver's bytes enter the board's UART RX pin,
run through the host link, the accelerator and the memory back-end, and the answers come back
on TX (``sim/board_tb.py``). Results are checked bit-exactly against numpy."""

import pytest

from openmxu.config import Config
from sim.designs import board_design
from sim.runner import run

pytestmark = [pytest.mark.xdist_group("board"),
              pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")]

#: A small accelerator behind the HBM emulator: 4x4 cells, one pseudo-channel.
CONFIG = Config(rows=4, cols=4, channels=1, block_m=16, block_k=64, queue_depth=4)
#: 10 MHz and 1.25 Mbaud: 8 clock cycles per bit keeps the simulated UART short.
CLOCK_HZ, BAUD = 10_000_000, 1_250_000


def _params(design, **extra):
    from boards.soc import BoardSoC
    soc = BoardSoC(config=CONFIG, memory="hbm", clock_hz=CLOCK_HZ, baud=BAUD,
                   link_timeout_ms=0.2)
    return {"config": CONFIG.as_dict(), "divisor": soc.divisor,
            "memory_bytes": soc.memory_bytes, "timeout_cycles": soc.link.timeout_cycles,
            **extra}


def test_matmuls_through_the_uart_match_numpy(tmp_path):
    design = board_design(CONFIG, clock_hz=CLOCK_HZ, baud=BAUD)
    cases = [
        {"m": 8, "k": 16, "n": 8, "seed": 1},
        {"m": 5, "k": 23, "n": 6, "seed": 2, "out": "int8", "scale": 3, "shift": 6},
        {"m": 16, "k": 64, "n": 4, "seed": 3, "relu": True},
        {"m": 4, "k": 8, "n": 4, "seed": 4, "accumulate": True},
    ]
    run(design, "sim.board_tb", testcase="board_matmuls",
        params=_params(design, cases=cases, results_file=str(tmp_path / "figures.json")))


def test_bad_frames_are_rejected_counted_and_not_executed():
    design = board_design(CONFIG, clock_hz=CLOCK_HZ, baud=BAUD)
    run(design, "sim.board_tb", testcase="board_rejects_bad_frames", params=_params(design))
