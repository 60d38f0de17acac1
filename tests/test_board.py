"""The whole board path on Verilator: the host driver's bytes enter the board's UART RX pin,
run through the host link, the accelerator and the memory back-end, and the answers come back
on TX (``sim/board_tb.py``). Results are checked bit-exactly against numpy, and the memory
back-end's timing checkers (the HBM emulator's device models, the SDRAM chip model) must stay
silent."""

import pytest

from openmxu.config import Config
from sim.designs import board_design
from sim.runner import run

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")

#: A small accelerator: 4x4 cells, one pseudo-channel (HBM2 emulated in block RAM, or the
#: ULX3S's SDR SDRAM behind its PHY with a pin-level chip model).
CONFIGS = {
    "hbm": Config(rows=4, cols=4, channels=1, block_m=16, block_k=64, bank_queue_depth=2),
    "sdram": Config(rows=4, cols=4, channels=1, block_m=16, block_k=64, bank_queue_depth=2,
                    memory_preset="sdr"),
}
#: 10 MHz and 1.25 Mbaud: 8 clock cycles per bit keeps the simulated UART short.
CLOCK_HZ, BAUD = 10_000_000, 1_250_000
#: Rows per bank the SDRAM chip model stores (16 KB from address 0).
SDRAM_STORED_ROWS = 4

CASES = [
    {"m": 8, "k": 16, "n": 8, "seed": 1},
    {"m": 5, "k": 23, "n": 6, "seed": 2, "out": "int8", "scale": 3, "shift": 6},
    {"m": 16, "k": 64, "n": 4, "seed": 3, "relu": True},
    {"m": 4, "k": 8, "n": 4, "seed": 4, "accumulate": True},
]


def _params(memory, **extra):
    from boards.soc import BoardSoC
    config = CONFIGS[memory]
    soc = BoardSoC(config=config, memory=memory, clock_hz=CLOCK_HZ, baud=BAUD,
                   link_timeout_ms=0.2)
    memory_bytes = (config.address_map.stored_bytes(SDRAM_STORED_ROWS) if memory == "sdram"
                    else soc.memory_bytes)
    return {"config": config.as_dict(), "divisor": soc.divisor,
            "memory_bytes": memory_bytes, "timeout_cycles": soc.link.timeout_cycles,
            **extra}


@pytest.mark.xdist_group("board_hbm")
def test_matmuls_through_the_uart_match_numpy(tmp_path):
    run(board_design(CONFIGS["hbm"], clock_hz=CLOCK_HZ, baud=BAUD), "sim.board_tb",
        testcase="board_matmuls",
        params=_params("hbm", cases=CASES, results_file=str(tmp_path / "figures.json")))


@pytest.mark.xdist_group("board_hbm")
def test_bad_frames_are_rejected_counted_and_not_executed():
    run(board_design(CONFIGS["hbm"], clock_hz=CLOCK_HZ, baud=BAUD), "sim.board_tb",
        testcase="board_rejects_bad_frames", params=_params("hbm"))


@pytest.mark.slow
@pytest.mark.xdist_group("board_sdram")
def test_matmuls_on_the_sdram_board_path_match_numpy():
    """The ULX3S's SDRAM path: memory system with the PHY's controller timing, the PHY's init
    sequence, and the chip model checking every pin cycle."""
    run(board_design(CONFIGS["sdram"], memory="sdram", clock_hz=CLOCK_HZ, baud=BAUD),
        "sim.board_tb", testcase="board_matmuls", params=_params("sdram", cases=CASES[:3]))


@pytest.mark.xdist_group("board_hbm_array_clock")
def test_matmuls_with_the_array_on_its_own_clock_match_numpy():
    """The ULX3S top's clocking: the systolic array in its own domain behind
    ArrayClockCrossing, clocked 2.56 times faster than the rest (``sim.board_tb``)."""
    run(board_design(CONFIGS["hbm"], clock_hz=CLOCK_HZ, baud=BAUD, array_domain="array"),
        "sim.board_tb", testcase="board_matmuls", params=_params("hbm", cases=CASES))
