"""The bitstream flow's checks (boards/bitstream.py, boards/registry.py, boards/clocks.py): every
bad request is refused with a message naming what is allowed, before any long step starts."""
import time

import pytest

from boards import bitstream, clocks, registry


def run(tmp_path, *args):
    t0 = time.monotonic()
    code = bitstream.main(["--out", str(tmp_path / "out"), *args])
    return code, time.monotonic() - t0


def test_unknown_board_names_the_supported_ones(tmp_path, capsys):
    code, _ = run(tmp_path, "--board", "de10nano")
    err = capsys.readouterr().err
    assert code == 2 and "unknown board 'de10nano'" in err
    assert all(name in err for name in registry.BOARDS)
    assert not (tmp_path / "out").exists()


def test_unknown_layer_names_the_layers(tmp_path, capsys):
    code, _ = run(tmp_path, "--board", "ulx3s", "--config", "configs/tiny.yaml", "--layers", "conv3")
    err = capsys.readouterr().err
    assert code == 2 and "'conv3' is not a layer" in err and "conv1, conv2" in err


@pytest.mark.parametrize("board, layers, family, hint", [
    ("ulx3s", "all", "ECP5", "each of these fits alone: conv1, conv2"),
    ("arty_a7", "all", "Xilinx 7-series", "each of these fits alone: conv1"),
    ("icebreaker", "conv2", "iCE40", "no single layer fits"),
])
def test_a_network_too_large_for_the_board_is_refused_before_building(tmp_path, capsys, board,
                                                                       layers, family, hint):
    """The refusal names the family, the blocks needed (the prediction of boards/blocks.py) and
    available, and the memories taking the most, before any synthesis."""
    from boards import blocks
    from cycles.core import network_layouts
    from hw.core import LayerCore
    from model import config as C
    from model.fixedpoint import Formats
    code, seconds = run(tmp_path, "--board", board, "--config", "configs/mnist.yaml",
                        "--layers", layers)
    err = capsys.readouterr().err
    b = registry.board(board)
    cfg = C.load("configs/mnist.yaml")
    picked = [i for i, lc in enumerate(cfg.layers) if layers in ("all", lc.name)]
    lays = network_layouts(cfg)
    counts = {cfg.layers[i].name: blocks.count(LayerCore(lays[i], Formats.from_config(cfg, i),
                                                         cfg.layers[i]), b.family) for i in picked}
    need = sum(c.blocks for c in counts.values())
    unit = blocks.UNIT_NAME[b.family]
    assert need > b.bram_blocks
    assert code == 2 and hint in err
    assert f"need {need} {unit} blocks of {family} block RAM" in err
    assert f"{b.device} has {b.bram_blocks}" in err
    ranked = {f"{layer}.{m}": n for layer, c in counts.items() for m, n in c.largest()}
    first, n = err.split("Largest memories: ")[1].split(",")[0].rsplit(" ", 1)
    assert ranked[first] == int(n) == max(ranked.values())
    assert not (tmp_path / "out").exists()          # nothing was synthesized
    assert seconds < 60


def test_a_design_that_fits_is_let_through_with_its_blocks(tmp_path, capsys):
    code, _ = run(tmp_path, "--board", "ulx3s", "--config", "configs/mnist.yaml", "--layers",
                  "conv1", "--check-only")
    out = capsys.readouterr().out
    assert code == 0 and "of 208 DP16KD" in out


def test_a_missing_tool_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEXTPNR_ECP5", str(tmp_path / "no-such-nextpnr"))
    code, _ = run(tmp_path, "--board", "ulx3s", "--config", "configs/tiny.yaml")
    err = capsys.readouterr().err
    assert code == 2 and "missing tools for ulx3s: nextpnr-ecp5" in err and "no-such-nextpnr" in err


def test_synth_only_is_for_the_xilinx_flow(tmp_path, capsys):
    code, _ = run(tmp_path, "--board", "ulx3s", "--config", "configs/tiny.yaml", "--synth-only")
    assert code == 2 and "--synth-only is for the 7-series flow" in capsys.readouterr().err


def test_openxc7_tools_are_reported_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIPDB_DIR", str(tmp_path))
    monkeypatch.setenv("NEXTPNR_XILINX", str(tmp_path / "nope"))
    missing = bitstream.missing_openxc7()
    assert missing[0] == "nextpnr-xilinx" and f"chip database {tmp_path}/xc7a35t.bin" in missing


def test_plls_hit_the_frequency_inside_the_vco_range():
    p = clocks.ecp5_pll(25.0, 75.0)
    assert (p.ref_div, p.fb_mult, p.out_div) == (1, 3, 8)       # what ecppll -i 25 -o 75 gives
    assert 400 <= p.vco_mhz <= 800 and p.out_mhz == 75.0
    m = clocks.xc7_mmcm(100.0, 75.0)
    assert 600 <= m.vco_mhz <= 1200 and m.vco_mhz / m.out_div == 75.0
    with pytest.raises(registry.BoardError, match="cannot make 1000.0 MHz"):
        clocks.ecp5_pll(25.0, 1000.0)


LOG = """Info: Device utilisation:
Info: 	          TRELLIS_IO:       5/    365     1%
Info: 	              DP16KD:      12/    208     5%
Info: 	          TRELLIS_FF:    1234/  83640     1%
Info: Max frequency for clock '$glbnet$clk': 40.00 MHz (FAIL at 75.00 MHz)
Info: Max frequency for clock '$glbnet$clk': 81.25 MHz (PASS at 75.00 MHz)
"""


def test_the_final_timing_report_and_the_utilisation_are_read():
    rep = bitstream.parse_nextpnr_log(LOG)
    assert rep["clocks"] == {"$glbnet$clk": {"fmax_mhz": 81.25, "target_mhz": 75.0, "pass": True}}
    assert rep["utilisation"]["DP16KD"] == {"used": 12, "available": 208}
    assert set(rep["utilisation"]) == {"TRELLIS_IO", "DP16KD", "TRELLIS_FF"}


def test_the_xilinx_flow_announces_it_will_stop_after_synthesis(tmp_path, capsys, monkeypatch):
    """Without openXC7, the Arty flow says before synthesis that it will stop after it, and why."""
    monkeypatch.setenv("NEXTPNR_XILINX", str(tmp_path / "nope"))
    code, seconds = run(tmp_path, "--board", "arty_a7", "--config", "configs/tiny.yaml", "--lanes",
                        "4", "--check-only")
    err = capsys.readouterr().err
    assert code == 0 and "nextpnr-xilinx" in err and "will stop after synthesis" in err
    assert "exit with status 3" in err and not (tmp_path / "out").exists()


def test_a_netlist_too_large_for_the_device_is_named_before_place_and_route():
    """Synthesis runs ``select -assert-max`` per cell type; its failure becomes the reason."""
    ice = registry.board("icebreaker")
    assert "select -assert-max 5280 t:SB_LUT4" in bitstream.limit_checks(ice)
    log = ("...\nERROR: Assertion failed: selection contains 7246 elements, more than the maximum "
           "number 5280: t:SB_LUT4\n")
    assert bitstream.too_large(log, ice) == (
        "after synthesis the design needs 7246 SB_LUT4 and the iCE40UP5K-SG48 has 5280: use "
        "fewer layers or lanes, or a smaller config")
    assert bitstream.too_large("Info: all good\n", ice) is None
