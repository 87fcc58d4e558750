"""make seeds: the requests refused before any long step, a finished seed reused, the spread."""
import json

import pytest

from boards import seeds


def _run(tmp_path, *args):
    return seeds.main(["--out", str(tmp_path / "out"), "--report", str(tmp_path / "seeds.json"),
                       "--workers", "0", *args])


def test_a_board_without_the_yowasp_flow_or_no_seed_is_refused(tmp_path, capsys):
    assert _run(tmp_path, "--board", "ulx3s", "--seeds", "0") == 2
    assert "--seeds 0: must be >= 1" in capsys.readouterr().err
    assert _run(tmp_path, "--board", "arty_a7", "--config", "configs/tiny.yaml", "--lanes", "4",
                "--check-only") == 2
    assert "runs the YoWASP place and route (ECP5, iCE40 boards)" in capsys.readouterr().err
    assert _run(tmp_path, "--board", "nope") == 2
    assert "ulx3s" in capsys.readouterr().err
    assert not (tmp_path / "seeds.json").exists()


def test_a_finished_seed_of_the_same_netlist_is_reused_and_another_is_not(tmp_path):
    work = tmp_path / "seed-3"
    work.mkdir()
    done = {"seed": 3, "key": "abc", "seconds": 100.0, "fmax_mhz": {"clk": 74.0},
            "pass": {"clk": False}, "target_mhz": {"clk": 75.0}}
    (work / "result.json").write_text(json.dumps(done))
    got = seeds.place_and_route(str(tmp_path), ["nextpnr-ecp5", "--quiet"], 3, "abc")
    assert got == {**done, "reused": True}
    # Another netlist (key): nextpnr runs, and here finds no netlist to read.
    with pytest.raises(RuntimeError, match="nextpnr --seed 3 failed"):
        seeds.place_and_route(str(tmp_path), ["nextpnr-ecp5", "--quiet", "--json", "ttfs_core.json"],
                              3, "other")


def test_the_spread_over_seeds_per_clock():
    res = [{"fmax_mhz": {"clk": f}, "pass": {"clk": f >= 75}} for f in (76.25, 73.92, 74.29, 75.1)]
    assert seeds.spread(res) == {"clk": {"min": 73.92, "median": (74.29 + 75.1) / 2, "max": 76.25,
                                         "met": 2, "seeds": 4}}
