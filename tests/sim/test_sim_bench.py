"""The co-simulation benchmark (make bench's bench_sim.json) on the tiny config."""
import json

import pytest

from sim import bench

# Builds and runs the co-simulation twice: minutes.
pytestmark = pytest.mark.timeout(1800)


def test_bench_sim_reports_speeds_and_pruning_cost(tmp_path):
    out = tmp_path / "bench_sim.json"
    assert bench.main(["--config", "configs/tiny.yaml", "--images", "1", "--lanes", "4",
                       "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    # Speeds only (no ordering: with the check inside the simulation the two are within noise
    # of each other on a shared machine; make bench reports them, a test must not time them).
    assert rep["cycles_per_second_raw"] > 0 and rep["cycles_per_second_checked"] > 0
    assert rep["checking_slowdown"] == pytest.approx(rep["cycles_per_second_raw"]
                                                     / rep["cycles_per_second_checked"], rel=1e-3)
    assert rep["cycles_per_cpu_second_raw"] > 0 and rep["cycles_per_cpu_second_checked"] > 0
    assert 0 < rep["lane_utilization_dense"] <= 1
    # The RTL's lane operations equal the model's live synaptic operations: no slot on a pruned one.
    assert rep["cycles_per_pruned_connection"] == 0
    assert rep["idle_lane_slots_per_pruned_connection"] >= 0
