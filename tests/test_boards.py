"""The board catalog, the fit check, PLL settings, the build's report parsing and the board
SoC's validation: everything of ``make bitstream`` that runs without the place-and-route."""

import gc
import json
from dataclasses import replace

import pytest

from boards.build import _parse_report, _steps, format_report
from boards.catalog import BOARDS, board
from boards.clocking import ecp5_pll_settings
from boards.fit import FitError, check_fit, check_cells, estimate, synthesized_cells
from openmxu.config import Config

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.UnusedElaboratable")


@pytest.fixture(autouse=True)
def _collect_components_built_for_their_parameters():
    """Tops and clocking built here only to read their parameters sit in reference cycles:
    collect them while this module's filter applies, not during a later test."""
    yield
    gc.collect()


def test_catalog_names_and_refuses_unknown_boards():
    assert board("ulx3s-85f").family == "ecp5"
    with pytest.raises(ValueError, match="board must be one of 'ulx3s-85f', 'icebreaker'"):
        board("arty")


def test_icebreaker_is_refused_before_synthesis_naming_the_resources():
    """The accelerator's control and output logic alone exceed the iCE40UP5K."""
    icebreaker = board("icebreaker")
    with pytest.raises(FitError, match=r"LUT4: needs about \d+, icebreaker has 5280; "
                                       r"DSP: needs about \d+, icebreaker has 8"):
        check_fit(icebreaker, icebreaker.config, memory="spram")
    with pytest.raises(ValueError, match="icebreaker has no board top"):
        icebreaker.top()


def test_a_board_on_another_memory_back_end_takes_that_back_ends_preset():
    ulx3s = board("ulx3s-85f")
    sdram = ulx3s.with_memory("sdram")
    assert (sdram.memory, sdram.config.memory_preset) == ("sdram", "sdr")
    # The SDR preset's 16-byte beat carries 16 operands: at most 16 rows.
    assert sdram.config == replace(ulx3s.config, rows=16, memory_preset="sdr", clock_mhz=25.0)
    # The memory system stays at 25 MHz beside the SDRAM PHY; the array keeps its 100 MHz.
    assert (sdram.clock_mhz, sdram.array_mhz) == (25.0, ulx3s.array_mhz)
    assert ulx3s.clock_mhz > sdram.clock_mhz
    assert sdram.memory_bytes == 32 * 1024 * 1024      # the board's SDRAM chip
    check_fit(sdram, sdram.config, memory="sdram",
              hard_multipliers=sdram.hard_multipliers_for(sdram.config))
    assert ulx3s.with_memory("hbm") == ulx3s
    # Each variant has the router that routes it (docs/boards.md).
    assert (ulx3s.nextpnr_opts, sdram.nextpnr_opts) == ("--router router1", "--router router2")
    with pytest.raises(ValueError, match="memory must be one of 'hbm', 'sdram' on ulx3s-85f, "
                                         "not 'spram'"):
        ulx3s.with_memory("spram")


def test_cli_bitstream_builds_the_sdram_back_end_with_its_preset(monkeypatch, tmp_path):
    """``openmxu bitstream --memory sdram`` builds the board's accelerator for its SDRAM
    (the SDR preset, which the SoC requires on that back-end)."""
    import boards.build
    from openmxu import cli
    seen = {}

    def fake_build(board_name, **options):
        seen.update(options, board_name=board_name)

    monkeypatch.setattr(boards.build, "build", fake_build)
    assert cli.main(["bitstream", "--board", "ulx3s-85f", "--memory", "sdram"]) == 0
    assert seen["memory"] == "sdram"
    assert seen["config"] == board("ulx3s-85f").with_memory("sdram").config
    assert cli.main(["bitstream", "--board", "ulx3s-85f", "--memory", "spram"]) == 1


def test_cli_bitstream_pairs_cells_on_the_icebreakers_dsp_blocks(monkeypatch, capsys):
    """``--cells-per-dsp 2`` reaches the build (the 16-cell iCEBreaker bench)."""
    import boards.build
    from openmxu import cli
    seen = {}
    monkeypatch.setattr(boards.build, "build",
                        lambda board_name, **options: seen.update(options))
    assert cli.main(["bitstream", "--board", "icebreaker", "--array-only", "--rows", "4",
                     "--cols", "4", "--cells-per-dsp", "2"]) == 0
    assert seen["cells_per_dsp"] == 2 and seen["array_only"]
    assert (seen["config"].rows, seen["config"].cols) == (4, 4)
    with pytest.raises(SystemExit):
        cli.main(["bitstream", "--board", "icebreaker", "--cells-per-dsp", "4"])
    assert "invalid choice: 4" in capsys.readouterr().err
    # Every iCE40 cell's SB_MAC16 is instantiated by hand (see rtl/systolic/ice40.py).
    assert "-dsp" not in board("icebreaker").synth_opts.split()


def test_cli_run_on_a_board_takes_the_bitstreams_memory_back_end(monkeypatch, capsys):
    from openmxu import cli, run as run_module
    seen = {}

    def fake_run(config, **options):
        seen.update(options, config=config)
        return 0

    monkeypatch.setattr(run_module, "run", fake_run)
    assert cli.main(["run", "--board", "ulx3s-85f", "--memory", "sdram",
                     "--port", "/dev/ttyUSB0"]) == 0
    assert seen["config"].memory_preset == "sdr" and seen["board"].memory == "sdram"
    assert cli.main(["run", "--memory", "sdram", "--port", "/dev/ttyUSB0"]) == 2
    assert "--memory needs --board" in capsys.readouterr().err


@pytest.mark.parametrize("output_mhz", [25, 50, 62.5, 100, 125])
def test_ecp5_pll_settings_are_exact_and_inside_the_vco_range(output_mhz):
    s = ecp5_pll_settings(25, output_mhz)
    assert s["frequency_mhz"] == pytest.approx(output_mhz)
    assert 25 / s["CLKI_DIV"] * s["CLKFB_DIV"] == pytest.approx(output_mhz)
    assert 400 <= output_mhz * s["CLKOP_DIV"] <= 800


def test_ecp5_pll_refuses_unreachable_frequencies():
    with pytest.raises(ValueError, match="output_mhz must be reachable"):
        ecp5_pll_settings(25, 1000)


def test_default_ulx3s_configuration_fits_by_estimate():
    ulx3s = board("ulx3s-85f")
    figures = check_fit(ulx3s, ulx3s.config, memory="hbm",
                        hard_multipliers=ulx3s.hard_multipliers)
    assert ulx3s.config.macs >= 144  # the board's target: at least 144 int8 MACs
    for resource, (used, available) in figures.items():
        assert 0 < used <= available, resource


def test_ulx3s_clocks_the_array_apart_from_the_rest():
    from boards.clocking import ECP5Clocking
    ulx3s = board("ulx3s-85f")
    assert ulx3s.array_mhz == 100.0 and ulx3s.clock_mhz < ulx3s.array_mhz
    clocking = ECP5Clocking(clock=None, input_mhz=25, output_mhz=ulx3s.clock_mhz,
                            array_mhz=ulx3s.array_mhz)
    assert clocking.frequency_mhz == ulx3s.clock_mhz
    assert clocking.array_frequency_mhz == ulx3s.array_mhz
    assert clocking.domains == ("sync", "array")
    top = ulx3s.top(config=ulx3s.config, memory="hbm", clock_mhz=ulx3s.clock_mhz,
                    array_mhz=ulx3s.array_mhz, hard_multipliers=ulx3s.hard_multipliers)
    assert top.soc.accelerator.array_domain == "array"


def test_domain_reset_is_registered_and_held_until_the_pll_settles():
    from amaranth import ClockDomain, Module, Signal
    from amaranth.sim import Simulator
    from boards.clocking import settle_reset
    m = Module()
    m.domains.array = domain = ClockDomain("array")
    locked = Signal()
    settle_reset(m, "array", locked)
    reset = domain.rst

    async def testbench(ctx):
        for _ in range(20):
            assert ctx.get(reset), "reset released before the PLL locked"
            await ctx.tick("array")
        ctx.set(locked, 1)
        cycles = 0
        while ctx.get(reset):
            await ctx.tick("array")
            cycles += 1
            assert cycles < 100, "reset never released"
        assert cycles == 16  # the counter counts to 15, then the reset register follows
        for _ in range(5):
            await ctx.tick("array")
            assert not ctx.get(reset)
        ctx.set(locked, 0)
        await ctx.tick("array")
        await ctx.tick("array")
        assert ctx.get(reset), "losing lock must reset the domain"

    sim = Simulator(m)
    sim.add_clock(1e-8, domain="array")
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("output_mhz,array_mhz", [(25, 100), (33.333, 100), (50, 125)])
def test_ecp5_pll_gives_both_clocks_from_one_vco(output_mhz, array_mhz):
    s = ecp5_pll_settings(25, output_mhz, secondary_mhz=array_mhz)
    vco = 25 / s["CLKI_DIV"] * s["CLKFB_DIV"] * s["CLKOP_DIV"]
    assert 400 <= vco <= 800
    assert s["frequency_mhz"] == pytest.approx(output_mhz, rel=0.01)
    assert vco / s["CLKOS2_DIV"] == pytest.approx(s["secondary_mhz"])
    assert s["secondary_mhz"] == pytest.approx(array_mhz, rel=0.01)
    with pytest.raises(ValueError, match="output_mhz and secondary_mhz must be reachable together"):
        ecp5_pll_settings(25, 25, secondary_mhz=0.5)


def test_fit_check_names_the_missing_resource():
    ulx3s = board("ulx3s-85f")
    square = Config(rows=16, cols=16, channels=1, block_m=64, block_k=256)
    # Every one of 256 cells on a DSP block: the part has 156.
    with pytest.raises(FitError, match=r"DSP: needs about \d+, ulx3s-85f has 156 \(with at "
                                       r"most 119 hard_multipliers"):
        check_fit(ulx3s, square, memory="hbm")
    # With 104 on DSP blocks, the other 152 cells' logic and four memory channels are too
    # much.
    with pytest.raises(FitError, match=r"LUT4: needs about \d+, ulx3s-85f has 83640"):
        check_fit(ulx3s, replace(square, channels=4), memory="hbm", hard_multipliers=104)
    with pytest.raises(FitError, match="memory must be one of 'hbm', 'sdram' on ulx3s-85f"):
        check_fit(ulx3s, ulx3s.config, memory="spram")
    big = Config(rows=32, cols=32, channels=4, block_m=64, block_k=256)
    with pytest.raises(FitError, match="LUT4: needs about"):
        check_fit(ulx3s, big, memory="hbm", hard_multipliers=100)


def test_estimate_grows_with_soft_multipliers():
    ulx3s = board("ulx3s-85f")
    few = estimate(ulx3s, ulx3s.config, memory="hbm", hard_multipliers=112)
    none = estimate(ulx3s, ulx3s.config, memory="hbm", hard_multipliers=0)
    assert none["LUT4"][0] > few["LUT4"][0] and none["DSP"][0] < few["DSP"][0]


YOSYS_LOG = """
2.50. Printing statistics.

=== openmxu_ulx3s_85f ===

        +----------Local Count, excluding submodules.
        |
    41598 wire bits
    24968 cells
     4285   CCU2C
     1124   TRELLIS_FF
    11755   LUT4
      150   MULT18X18D
       97   DP16KD
"""


def test_synthesized_cells_are_checked_against_the_part(tmp_path):
    assert synthesized_cells(YOSYS_LOG)["MULT18X18D"] == 150
    log = tmp_path / "top.rpt"
    log.write_text(YOSYS_LOG)
    figures = check_cells(board("ulx3s-85f"), log)
    assert figures["LUT4"] == (11755 + 2 * 4285, 83_640)
    assert figures["DSP"] == (150, 156) and figures["BRAM"] == (97, 208)
    assert figures["FF"] == (1124, 83_640)
    log.write_text(YOSYS_LOG.replace("150   MULT18X18D", "160   MULT18X18D"))
    with pytest.raises(FitError, match="DSP: synthesis made 160, ulx3s-85f has 156"):
        check_cells(board("ulx3s-85f"), log)


ICE40_LOG = """
2.48. Printing statistics.

=== top ===

     4210   SB_LUT4
     1100   SB_CARRY
     3000   SB_DFF
     2500   SB_DFFESR
       20   SB_DFFNE
        8   SB_MAC16
       12   SB_RAM40_4K
"""


def test_ice40_flip_flops_are_counted_since_a_logic_cell_has_one(tmp_path):
    """Every flip-flop variant counts: 4,210 LUT4s fit the UP5K, 5,520 flip-flops do not."""
    log = tmp_path / "top.rpt"
    log.write_text(ICE40_LOG)
    with pytest.raises(FitError, match="FF: synthesis made 5520, icebreaker has 5280"):
        check_cells(board("icebreaker"), log)
    log.write_text(ICE40_LOG.replace("3000   SB_DFF\n", "2000   SB_DFF\n"))
    figures = check_cells(board("icebreaker"), log)
    assert figures["FF"] == (4520, 5280) and figures["LUT4"] == (4210, 5280)


def test_nextpnr_report_becomes_fmax_utilization_and_paths(tmp_path):
    report = {
        "utilization": {"TRELLIS_COMB": {"used": 40000, "available": 83640},
                        "MULT18X18D": {"used": 150, "available": 156},
                        "EHXPLLL": {"used": 1, "available": 4}},
        # nextpnr's names for the clock nets of a design with an array domain.
        "fmax": {"$glbnet$clk": {"achieved": 103.4, "constraint": 100.0},
                 "$glbnet$array_clk": {"achieved": 120.25, "constraint": 100.0}},
        "critical_paths": [{
            "from": "sync_clk", "to": "sync_clk",
            "path": [
                {"type": "clk-to-q", "from": {"cell": "a", "port": "Q"},
                 "to": {"cell": "b", "port": "A"}, "delay": 0.5},
                {"type": "logic", "from": {"cell": "b", "port": "A"},
                 "to": {"cell": "c", "port": "D"}, "delay": 9.0},
            ]}],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    fmax, utilization, paths = _parse_report(path)
    assert fmax == {"sync": 103.4, "array": 120.25}
    assert utilization["MULT18X18D"] == [150, 156]
    assert paths[0]["start"] == "a" and paths[0]["end"] == "c"
    assert paths[0]["delay_ns"] == pytest.approx(9.5) and paths[0]["logic_levels"] == 1
    text = format_report({"board": "ulx3s-85f", "fmax_mhz": fmax,
                          "target_mhz": {"sync": 100.0}, "utilization": utilization,
                          "macs": 256, "peak_gops": 51.2, "pnr_seconds": 10.0,
                          "critical_paths": paths})
    assert "103.4 MHz routed, target 100.0 MHz (met)" in text
    assert "MULT18X18D" in text and "96.2 %" in text


def test_clock_nets_map_to_domains():
    from boards.build import _domain_of
    assert _domain_of("$glbnet$clk") == "sync"
    assert _domain_of("soc.fast_clk") == "fast"
    assert _domain_of("clk25_0__io") == "clk25_0__io"


def test_build_script_steps_are_the_three_tools():
    script = "# generated\nset -e\n[ -n \"$X\" ] && true\n: ${YOSYS:=yosys}\n" \
             "\"$YOSYS\" -q top.ys\n" \
             "\"$NEXTPNR_ECP5\" --json top.json\n\"$ECPPACK\" --input top.config\n"
    assert [step.split()[0] for step in _steps(script)] == \
        ['"$YOSYS"', '"$NEXTPNR_ECP5"', '"$ECPPACK"']


def test_board_soc_refuses_bad_parameters():
    from boards.soc import BoardSoC
    config = Config(rows=4, cols=4, channels=1, block_m=16, block_k=64)
    with pytest.raises(ValueError, match="memory must be one of 'hbm', 'sdram', 'spram'"):
        BoardSoC(config=config, memory="ddr3", clock_hz=50_000_000, baud=1_000_000)
    with pytest.raises(ValueError, match="baud must be within 2 %"):
        BoardSoC(config=config, memory="hbm", clock_hz=50_000_000, baud=7_000_000)
    with pytest.raises(ValueError, match="memory_preset must be 'sdr'"):
        BoardSoC(config=config, memory="sdram", clock_hz=50_000_000, baud=1_000_000)
    soc = BoardSoC(config=config, memory="hbm", clock_hz=50_000_000, baud=1_000_000)
    assert soc.memory_bytes == config.address_map.stored_bytes(2)
    assert soc.divisor == 50


def test_array_bench_streams_pseudo_random_operands_through_the_array():
    """``openmxu bitstream --array-only`` measures the array under load: the bench's driver
    must hand it weights and activations, take results, and let every result reach its
    output bit (a constant output would let synthesis remove the array)."""
    from amaranth.sim import Simulator
    from boards.array_bench import PseudoRandomArrayDriver
    from rtl.systolic import WeightStationaryArray
    array = WeightStationaryArray(rows=2, cols=4)
    driver = PseudoRandomArrayDriver(array)
    seen = {"weights": 0, "activations": 0, "results": 0, "toggles": 0}

    async def testbench(ctx):
        previous = 0
        for _ in range(400):
            _, _, *flags, out = await ctx.tick().sample(
                array.weights.valid & array.weights.ready,
                array.activations.valid & array.activations.ready,
                array.results.valid & array.results.ready, driver.out)
            for name, flag in zip(("weights", "activations", "results"), flags):
                seen[name] += flag
            seen["toggles"] += out != previous
            previous = out

    sim = Simulator(driver)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert min(seen.values()) > 20, seen


def test_array_benches_refuse_what_they_cannot_build(tmp_path):
    from boards.build import build, BuildError
    with pytest.raises(BuildError, match="array_mhz must be None for icebreaker"):
        build("icebreaker", array_only=True, array_mhz=48.0, build_dir=tmp_path,
              echo=lambda line: None)
    with pytest.raises(BuildError, match="cells_per_dsp must be 1 for ulx3s-85f: two cells "
                                         "share a DSP block only in an iCE40 array bench"):
        build("ulx3s-85f", array_only=True, cells_per_dsp=2, build_dir=tmp_path,
              echo=lambda line: None)
    with pytest.raises(BuildError, match="cells_per_dsp must be 1 for icebreaker without "
                                         "--array-only"):
        build("icebreaker", cells_per_dsp=2, build_dir=tmp_path, echo=lambda line: None)
    with pytest.raises(BuildError, match="cells_per_dsp must be between 1 and 2, not 3"):
        build("icebreaker", array_only=True, cells_per_dsp=3, build_dir=tmp_path,
              echo=lambda line: None)
    ulx3s = board("ulx3s-85f")
    with pytest.raises(BuildError, match="dataflow must be 'ws' for the array bench"):
        build("ulx3s-85f", config=replace(ulx3s.config, dataflow="os"), array_only=True,
              build_dir=tmp_path, echo=lambda line: None)


def test_controller_bench_streams_pseudo_random_requests_and_echoes_reads():
    """``openmxu bitstream --controller-only`` measures the controller under load: the bench
    must offer requests of both kinds and take responses, answer every RD with read data on
    the interface's schedule (beat k ``cl + k`` cycles after it), so that reads complete, and
    let the outputs reach its pin."""
    from amaranth.sim import Simulator
    from boards.controller_bench import PseudoRandomControllerDriver, bench_controller
    from rtl.mem.commands import ColumnCommand
    controller = bench_controller(timing="hbm2-2000")
    timing = controller.dram.signature.timing
    driver = PseudoRandomControllerDriver(controller)
    seen = {"requests": 0, "reads": 0, "writes": 0, "toggles": 0}
    rd_cycles, beat_cycles = [], []

    async def testbench(ctx):
        previous = 0
        for cycle in range(2000):
            _, _, accepted, responded, write, col_valid, col_cmd, beat, out = \
                await ctx.tick().sample(
                    controller.requests.valid & controller.requests.ready,
                    controller.responses.valid & controller.responses.ready,
                    controller.responses.payload.write, controller.dram.col_valid,
                    controller.dram.col_cmd, controller.dram.rdata_valid, driver.out)
            seen["requests"] += accepted
            if responded:
                seen["writes" if write else "reads"] += 1
            if col_valid and col_cmd == ColumnCommand.RD:
                rd_cycles.append(cycle)
            if beat:
                beat_cycles.append(cycle)
            seen["toggles"] += out != previous
            previous = out

    sim = Simulator(driver)
    sim.add_clock(1e-9)
    sim.add_testbench(testbench)
    sim.run()
    assert min(seen.values()) > 20, seen
    due = sorted(rd + timing.cl + beat for rd in rd_cycles
                 for beat in range(timing.burst_cycles))
    assert beat_cycles == [cycle for cycle in due if cycle < 2000]


def test_cli_bitstream_builds_the_controller_alone(monkeypatch):
    import boards.build
    from openmxu import cli
    seen = {}
    monkeypatch.setattr(boards.build, "build",
                        lambda board_name, **options: seen.update(options))
    assert cli.main(["bitstream", "--board", "ulx3s-85f", "--controller-only"]) == 0
    assert seen["controller_only"] and not seen["array_only"]
    assert seen["clock_mhz"] is None         # the board's controller clock, 100 MHz
    assert board("ulx3s-85f").controller_mhz == 100.0


def test_controller_bench_refuses_what_it_cannot_build(tmp_path):
    from boards.build import build, BuildError

    def attempt(board_name="ulx3s-85f", **options):
        build(board_name, build_dir=tmp_path, echo=lambda line: None, **options)

    with pytest.raises(BuildError, match="array_only and controller_only exclude each other"):
        attempt(array_only=True, controller_only=True)
    with pytest.raises(BuildError, match="memory must be 'hbm' with controller_only"):
        attempt(controller_only=True, memory="sdram")
    with pytest.raises(BuildError, match="array_mhz must be None with controller_only"):
        attempt(controller_only=True, array_mhz=125.0)
    with pytest.raises(BuildError, match="controller_options need controller_only"):
        attempt(controller_options={"tag_width": 4})
    with pytest.raises(BuildError, match="tag_width must be"):
        attempt(controller_only=True, controller_options={"tag_width": 0})
    with pytest.raises(BuildError, match="icebreaker has no controller bench"):
        attempt("icebreaker", controller_only=True)


def test_controller_report_names_the_controller_instead_of_macs():
    text = format_report({"board": "ulx3s-85f", "fmax_mhz": {"sync": 61.2},
                          "target_mhz": {"sync": 100.0}, "utilization": {},
                          "synthesized": {"LUT4": [9000, 83640]},
                          "controller": "ChannelController(timing='hbm2-2000')",
                          "macs": None, "peak_gops": None, "fed_gops": None,
                          "pnr_seconds": 10.0, "critical_paths": []})
    assert "61.2 MHz routed, target 100.0 MHz (NOT MET)" in text
    assert "ChannelController(timing='hbm2-2000')" in text
    assert "MACs" not in text and "GOPS" not in text
    assert "synthesized LUT4" in text and "9000 / 83640" in text


@pytest.mark.slow
@pytest.mark.parametrize("board_name,rows,cols,cells_per_dsp", [
    ("icebreaker", None, None, 1), ("icebreaker", 4, 4, 2), ("ulx3s-85f", 4, 4, 1)])
def test_array_bench_bitstream_is_built_and_reported(tmp_path, board_name, rows, cols,
                                                     cells_per_dsp):
    """The whole yowasp flow on a real part: Yosys, nextpnr and the packer, then the report
    (the iCEBreaker's default 2x4 array on its 8 SB_MAC16, and a 4x4 array with two cells on
    each of them; a 4x4 array on the ULX3S at its 100 MHz array clock). About a minute for
    the three."""
    from boards.build import build
    chosen = board(board_name)
    config = chosen.config if rows is None else replace(chosen.config, rows=rows, cols=cols)
    report = build(board_name, config=config, array_only=True, cells_per_dsp=cells_per_dsp,
                   build_dir=tmp_path, echo=lambda line: None)
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(json.dumps(report))
    clock = "sync" if chosen.array_mhz is None else "array"
    target = chosen.clock_mhz if chosen.array_mhz is None else chosen.array_mhz
    assert report["target_mhz"] == {clock: target}
    assert report["fmax_mhz"][clock] >= target       # build() raises otherwise
    assert report["macs"] == config.macs
    assert report["cells_per_dsp"] == cells_per_dsp
    assert report["peak_gops"] == round(2 * config.macs * target / 1000, 2)
    assert report["pnr_seconds"] > 0
    dsp = {"ice40": "ICESTORM_DSP", "ecp5": "MULT18X18D"}[chosen.family]
    assert report["utilization"][dsp][0] == config.macs // cells_per_dsp
    if board_name == "icebreaker":
        assert report["utilization"][dsp] == [8, 8]            # all of the UP5K's
    bitstream = tmp_path / report["bitstream"].rsplit("/", 1)[-1]
    assert bitstream.stat().st_size > 100_000
