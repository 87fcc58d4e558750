"""The constrained-random co-simulation (sim/regress.py): draws are valid and reproducible, a
configuration co-simulates with 0 mismatches, and a mismatch names the seed that replays it."""
from __future__ import annotations

import pytest

from cycles.core import core_command
from cycles.integrate import policy_registers
from sim import regress
from sim.cosim import stdp_args


def test_draws_are_reproducible_and_valid():
    seeds = [regress.config_seed(7, i) for i in range(60)]
    assert len(set(seeds)) == 60 and seeds == [regress.config_seed(7, i) for i in range(60)]
    draws = [regress.draw(s) for s in seeds]
    assert draws == [regress.draw(s) for s in seeds]
    # the space is covered: pooled and unpooled, one lane and several, narrow and wide weights
    assert {d.pool_size > 0 for d in draws} == {True, False}
    assert {d.lanes == 1 for d in draws} == {True, False}
    assert min(d.weight_bits for d in draws) == 3 and max(d.weight_bits for d in draws) == 8
    assert {d.kernel for d in draws} == {1, 2, 3, 5}


def test_commands_are_predicted_for_many_draws():
    """The model side of 30 configurations: every command predicted, learning moves weights."""
    moved = 0
    for i in range(30):
        d = regress.draw(regress.config_seed(3, i))
        s = regress.stimulus(d, 1)
        lay, fmt, lc = d.layout(), d.formats(), d.layer()
        w, a = s["weights"], s["active"]
        for st in regress.steps(d, s["times"]):
            en, win = policy_registers(lay, st.get("enabled"), st.get("window"))
            pred = core_command(st["cmd"], lay, fmt, lc, st["times_in"], w, a, d.threshold,
                                **stdp_args(st), enabled=en, window=win)
            assert pred.trace[-1][1] == "done"
            if pred.weights is not None:
                moved += int((pred.weights != w).any())
                w, a = pred.weights, pred.active
    assert moved > 10


@pytest.mark.timeout(1800)          # builds a simulator
def test_one_configuration_in_verilator(tmp_path):
    rep = regress.run([regress.config_seed(2, 0)], images=2, sim="verilator", progress=lambda s: None)
    assert rep["configurations"] == 1 and not rep["mismatches"] and rep["events"] > 1000


def test_a_mismatch_names_its_seed(monkeypatch):
    said = []

    def broken(*args, **kw):
        raise AssertionError("first divergence in trace at cycle 12: expected ('winner', 1, 2, 3)")
    monkeypatch.setattr(regress.cosim, "run_core", broken)
    seed = regress.config_seed(1, 4)
    rep = regress.run([seed], images=1, sim="verilator", progress=said.append)
    assert rep["configurations"] == 0 and rep["mismatches"][0]["seed"] == seed
    assert rep["mismatches"][0]["config"]["maps"] == regress.draw(seed).maps
    assert f"make regress SEED={seed}" in said[0] and "first divergence" in said[0]
    # in this process (--workers 0), where run_core is broken
    assert regress.main(["--replay", str(seed), "--out", "/dev/null", "--workers", "0"]) == 1


@pytest.mark.timeout(1800)          # builds a simulator in a worker
def test_configurations_as_dask_tasks(tmp_path):
    """Two configurations on a two-worker local cluster: the serial run's report."""
    from cluster import Runner
    seeds = [regress.config_seed(2, 0), regress.config_seed(2, 1)]
    serial = regress.run(seeds, images=1, sim="verilator", progress=lambda s: None)
    with Runner(workers=2, progress=False, dashboard_address=None) as tasks:
        spread = regress.run(seeds, images=1, sim="verilator", progress=lambda s: None, runner=tasks)
    for key in ("configurations", "events", "cycles", "runs", "mismatches"):
        assert spread[key] == serial[key], key
