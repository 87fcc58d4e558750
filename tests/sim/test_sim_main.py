"""The main job (make sim) end to end on the tiny config, quick training, one image."""
import json

import pytest

from sim import figures
from sim import main as sim_main

# Trains, builds the simulators and co-simulates: minutes.
pytestmark = pytest.mark.timeout(1800)


def test_make_sim_quick_writes_report_without_mismatch(tmp_path, monkeypatch):
    monkeypatch.setattr(sim_main, "CHECKPOINTS", tmp_path / "ckpt")
    out = tmp_path / "sim.json"
    code = sim_main.main(["--config", "configs/tiny.yaml", "--quick", "--images", "1",
                          "--lanes", "4", "--out", str(out)])
    rep = json.loads(out.read_text())
    assert code == 0 and rep["mismatches"] == 0
    assert (tmp_path / "sim.md").read_text() == figures.table(rep) + "\n"     # the docs' table
    figures.check_complete(rep)
    for key in ("simulator", "config", "images", "trace_events_compared", "cycles",
                "speedup_inference", "speedup_learning", "connectivity_reduction"):
        assert key in rep, key
    assert rep["trace_events_compared"] > 1000
    inf = rep["cycles"]["inference"]
    assert rep["speedup_inference"] == inf["dense"]["per_image"] / inf["pruned"]["per_image"]
    lrn = rep["cycles"]["learning"]
    assert rep["speedup_learning"] == (lrn["dense"]["per_image_all_layers"]
                                       / lrn["pruned"]["per_image_all_layers"])
    for variant in ("dense", "pruned"):      # every block of the core ran and was counted
        for layer in rep["phases"][variant].values():
            assert layer["learn"]["cyc_winners"] > 0 and layer["learn"]["cyc_stdp"] > 0
            assert layer["infer"]["cyc_integrate"] > 0
    assert rep["phases"]["dense"]["conv1"]["infer"]["cyc_outgoing"] > 0
    # The dense network never prunes, the pruned one checks every weight it writes.
    assert all(layer["learn"]["prunes"] == 0 for layer in rep["phases"]["dense"].values())
    assert 0 < rep["lane_utilization_dense"] <= 1
