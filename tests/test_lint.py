"""The generated Verilog lints clean under `verilator --lint-only -Wall` with the commented
waivers of rtl/lint_waivers.vlt."""

import pytest

from openmxu import Config
from openmxu.lint import lint
from rtl.systolic import build_array
from sim.runner import write_verilog

# Components constructed for a lint run are converted, not elaborated by a simulator.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")


def _array(rows, cols, dataflow, cells_per_dsp=1):
    return lambda: build_array(Config(rows=rows, cols=cols, dataflow=dataflow),
                               cells_per_dsp=cells_per_dsp)


def _memory(kind, preset):
    def factory():
        from rtl.mem import ChannelController, DramDevice
        cls = {"controller": ChannelController, "device": DramDevice}[kind]
        return cls(timing=preset)
    return factory


def _system():
    from rtl.mem import MemorySystem
    return MemorySystem(channels=2, ports=2, bank_queue_depth=2, read_bursts=4, write_bursts=3)


def _port():
    from rtl.mem import AXI4Port
    return AXI4Port(timing="hbm2-2000", read_bursts=1, write_bursts=1)


def _traffic():
    from rtl.mem.traffic import TrafficGenerator
    return TrafficGenerator(addr_width=28, data_width=256, id_width=4)


def _accelerator(array_domain="sync", **options):
    def factory():
        from rtl.top import Accelerator
        return Accelerator(Config(**options), array_domain=array_domain)
    return factory


def _crossing():
    from rtl.systolic import ArrayClockCrossing
    return ArrayClockCrossing(build_array(Config(rows=4, cols=4)), domain="array")


DESIGNS = {
    "array_ws_8x8": _array(8, 8, "ws"),
    "array_os_8x8": _array(8, 8, "os"),
    "array_ws_1x7": _array(1, 7, "ws"),
    "array_os_3x5": _array(3, 5, "os"),
    # Cells two to a DSP block, the last one alone (rtl/systolic/pe.py: MultiplierPair).
    "array_ws_3x3_paired": _array(3, 3, "ws", cells_per_dsp=2),
    "controller_hbm2": _memory("controller", "hbm2-2000"),
    "device_hbm2": _memory("device", "hbm2-2000"),
    "device_sdr": _memory("device", "sdr"),
    "memory_system_2ch_2p": _system,
    "port_one_slot": _port,
    "traffic_generator": _traffic,
    "accelerator_8x8": _accelerator(),
    "accelerator_4x16_2ch": _accelerator(rows=4, cols=16, channels=2, block_m=16,
                                         block_k=64),
    "array_clock_crossing_4x4": _crossing,
    "accelerator_8x8_array_clock": _accelerator(array_domain="array"),
}


@pytest.mark.parametrize("design", list(DESIGNS))
def test_verilog_lints_clean(design, tmp_path, capsys):
    name = f"openmxu_{design}"
    path = write_verilog(DESIGNS[design](), tmp_path / f"{name}.v", name=name)
    status = lint(path)
    assert status == 0, capsys.readouterr().err
