"""The formal proofs (sim/formal.py, ``make formal``): the pruning check is proved, and the same
proof fails on a pruning check broken on purpose (hw/prune.py ``prune_at_threshold``), naming the
property that failed."""
import json

import pytest

from sim import formal

pytestmark = pytest.mark.timeout(600)      # SymbiYosys's first run compiles YoWASP's Yosys


def test_pruning_check_and_lane_walk_are_proved(tmp_path):
    out = tmp_path / "formal.json"
    assert formal.main(["--only", "prune_check_tiny_conv2", "--only", "pruned_never_walked",
                        "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [(p["name"], p["mode"], p["status"]) for p in report["proofs"]] == [
        ("prune_check_tiny_conv2", "prove", "PASS"), ("pruned_never_walked", "prove", "PASS")]
    assert report["failed"] == []


def test_formal_fails_on_a_broken_pruning_check(tmp_path, capsys):
    out = tmp_path / "formal.json"
    assert formal.main(["--fault", "prune_at_threshold", "--only", "prune_check_tiny_conv2",
                        "--out", str(out)]) == 1
    report = json.loads(out.read_text())
    (proof,) = report["proofs"]
    assert proof["status"] == "FAIL" and report["failed"] == ["prune_check_tiny_conv2"]
    # The failing assertion is the threshold's: a weight at the threshold keeps its mask bit.
    line = formal.__file__ + ":"
    failed = {int(l.split(line)[1].split()[0]) for l in proof["log"] if line in l}
    source = open(formal.__file__).read().splitlines()
    assert any("self.q_next >= self.threshold, ~pc.prune" in source[n - 1] for n in failed), proof["log"]
    assert "FAILED: prune_check_tiny_conv2" in capsys.readouterr().out


def test_unknown_faults_and_proofs_are_refused():
    from hw.prune import PruneCheck
    from cycles.layout import EngineLayout
    with pytest.raises(ValueError, match="unknown faults.*known: \\['prune_at_threshold'\\]"):
        PruneCheck(EngineLayout(4, 2, 3, 1, 14, 8, 4, 8, 12, 100), frozenset({"nope"}))
    assert formal.main(["--only", "no_such_proof"]) == 2


def test_counter_bounds_drive_each_layer_to_its_event_bound():
    """``make formal``'s counter check runs every layer at the most input its event memory
    holds (a layer after pointwise inhibition gets fewer events than it has input neurons)."""
    from cycles.core import network_layouts
    from model import config as C
    bounds = formal.counter_bounds(configs=("configs/mnist.yaml",), lanes=10)
    lays = network_layouts(C.load("configs/mnist.yaml"), 10)
    assert [b["layer"] for b in bounds] == list(range(len(lays)))
    assert lays[1].max_events < lays[1].channels * lays[1].side_in ** 2
    for b, lay in zip(bounds, lays):
        assert b["fits"] and b["cycles"] > lay.max_events and b["limit"] > b["cycles"]
