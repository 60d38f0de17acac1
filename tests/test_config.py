"""Configuration and component parameters are validated on construction, before elaboration."""

import pytest
from amaranth.hdl import Fragment

# Components constructed here are never elaborated, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")

from openmxu import Config
from rtl.systolic import (WeightStationaryArray, OutputStationaryArray, WeightStationaryPE,
                          OutputStationaryPE, Skew, build_array)


def test_defaults():
    config = Config()
    assert (config.rows, config.cols, config.operand_width, config.acc_width,
            config.dataflow) == (8, 8, 8, 32, "ws")
    assert config.macs == 64
    assert config.peak_gops == pytest.approx(12.8)
    assert (config.memory_preset, config.channels, config.axi_id_width,
            config.bank_queue_depth) == ("hbm2-2000", 4, 4, 8)
    assert config.address_map.describe()[0] == "row [29:16]"


def test_memory_system_follows_the_config():
    from amaranth.hdl import Fragment
    from rtl.mem.system import MemorySystem
    config = Config(memory_preset="hbm3-6400", channels=2, bank_queue_depth=2,
                    address_order=["channel", "bank_group", "column", "bank", "row"])
    assert config.address_order == ("channel", "bank_group", "column", "bank", "row")
    system = MemorySystem.from_config(config, ports=3)
    assert system.address_map == config.address_map
    assert system.controller.bank_queue_depth == 2
    assert len(system.s_axi) == 3 and len(system.dram) == 2
    Fragment.get(system, None)      # elaborates


@pytest.mark.parametrize("field,value,message", [
    ("rows", 0, "rows must be between 1 and 64, not 0"),
    ("rows", 65, "rows must be between 1 and 64, not 65"),
    ("cols", 0, "cols must be between 1 and 64, not 0"),
    ("cols", 65, "cols must be between 1 and 64, not 65"),
    ("rows", 2.5, "rows must be an integer, not 2.5"),
    ("cols", True, "cols must be an integer, not True"),
    ("operand_width", 1, "operand_width must be between 2 and 32, not 1"),
    ("operand_width", 33, "operand_width must be between 2 and 32, not 33"),
    ("acc_width", 15, "acc_width must be between 16 and 128 (at least 2 x operand_width = 16), "
                      "not 15"),
    ("dataflow", "is", "dataflow must be one of 'ws', 'os', not 'is'"),
    ("clock_mhz", 0, "clock_mhz must be a number above 0 and at most 2000, not 0"),
    ("memory_preset", "ddr5", "memory_preset must be one of 'hbm2-2000', 'hbm3-6400', 'sdr', "
                              "'ideal', not 'ddr5'"),
    ("channels", 3, "channels must be a power of two between 1 and 32, not 3"),
    ("channels", 64, "channels must be between 1 and 32 and a power of two, not 64"),
    ("address_order", ("row", "column"), "address_order must be a permutation of 'channel', "
                                         "'bank_group', 'bank', 'row', 'column', "
                                         "not ('row', 'column')"),
    ("axi_id_width", 3, "axi_id_width must be between 4 and 16, not 3"),
    ("bank_queue_depth", 17, "bank_queue_depth must be between 1 and 16, not 17"),
])
def test_invalid_values_name_parameter_value_and_range(field, value, message):
    with pytest.raises(ValueError) as info:
        Config(**{field: value})
    assert str(info.value) == message


def test_acc_width_bound_follows_operand_width():
    assert Config(operand_width=4, acc_width=8).acc_width == 8
    with pytest.raises(ValueError, match=r"acc_width must be between 24 and 128 \(at least 2 x operand_width = 24\)"):
        Config(operand_width=12, acc_width=23)


def test_config_is_frozen_and_replace_validates():
    config = Config()
    with pytest.raises(AttributeError):
        config.rows = 4
    assert config.replace(rows=4).rows == 4
    with pytest.raises(ValueError, match="rows"):
        config.replace(rows=0)


def test_limits_are_accepted():
    for rows, cols in [(1, 1), (64, 64), (1, 64), (64, 1)]:
        Config(rows=rows, cols=cols)


@pytest.mark.parametrize("cls", [WeightStationaryArray, OutputStationaryArray])
def test_arrays_validate_eagerly(cls):
    with pytest.raises(ValueError, match="rows must be between 1 and 64, not 0"):
        cls(rows=0, cols=4)
    with pytest.raises(ValueError, match="cols must be between 1 and 64, not 65"):
        cls(rows=4, cols=65)
    with pytest.raises(ValueError, match=r"acc_width must be between 16 and 128 \(at least 2 x operand_width = 16\), not 8"):
        cls(rows=4, cols=4, acc_width=8)


@pytest.mark.parametrize("cls", [WeightStationaryPE, OutputStationaryPE])
def test_pes_validate_eagerly(cls):
    with pytest.raises(ValueError, match="operand_width must be between 2 and 32, not 1"):
        cls(operand_width=1)
    with pytest.raises(ValueError, match=r"acc_width must be between 16 and 128 \(at least "
                                         r"2 x operand_width = 16\), not 12"):
        cls(operand_width=8, acc_width=12)


def test_skew_validates_eagerly():
    with pytest.raises(ValueError, match="lanes must be between 1 and 65536, not 0"):
        Skew(lanes=0, shape=8)


def test_signatures_compare_by_parameters():
    sig = WeightStationaryArray.Signature
    assert sig(rows=4, cols=2) == sig(rows=4, cols=2)
    assert sig(rows=4, cols=2) != sig(rows=2, cols=4)
    assert sig(rows=4, cols=2) != OutputStationaryArray.Signature(rows=4, cols=2)
    assert repr(sig(rows=4, cols=2)) == ("WeightStationaryArray.Signature(rows=4, cols=2, "
                                         "operand_width=8, acc_width=32)")
    array = build_array(Config(rows=4, cols=2, dataflow="os"))
    Fragment.get(array, None)  # elaborates
    assert array.signature == OutputStationaryArray.Signature(rows=4, cols=2)
    assert repr(array) == ("OutputStationaryArray(rows=4, cols=2, operand_width=8, "
                           "acc_width=32, hard_multipliers=8)")
