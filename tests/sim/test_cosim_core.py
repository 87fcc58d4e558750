"""The layer core (hw/core.py) under Verilator and Icarus (cocotb): every command's trace,
counters and memories against cycles/core.py (sim.cosim.run_core)."""
import pytest

from conftest import core_case, narrow_core_case
from sim import cosim

# Builds a simulator (Verilator / Icarus) per design: minutes on a busy machine.
pytestmark = pytest.mark.timeout(1800)

SIMULATORS = ("verilator", "icarus")


def _steps(c, cmds):
    return [dict(cmd=cmd, times_in=c["x"], learning=c["learning"]) for cmd in cmds]


@pytest.mark.parametrize("sim", SIMULATORS)
# Four lanes and the tag of tests/sim/test_sim_main.py's tiny run: the same builds serve both.
@pytest.mark.parametrize("layer, lanes, image, seed", [(0, 4, 0, 1), (1, 4, 1, 2)])
def test_core_rtl_matches_schedule(tiny_net, sim, layer, lanes, image, seed):
    c = core_case(tiny_net, layer, lanes, image, seed, prune=0.3)
    ctx = dict(config="tiny", layer=layer, lanes=lanes, image=image, seed=seed)
    rep = cosim.run_core(c["lay"], c["net"].arith, c["lc"], _steps(c, ["learn", "infer", "sweep"]),
                         c["weights"], c["active"], c["threshold"], ctx, sim=sim,
                         tag=f"-tiny-l{layer}")
    assert [s["counters"] for s in rep["seen"]] == rep["counters"]
    learn = rep["counters"][0]
    assert learn["cyc_winners"] > 0 and learn["prunes"] > 0 and learn["stdp_ops"] > 0


@pytest.mark.parametrize("bits, layer, sim", [(4, 0, "verilator"), (3, 1, "icarus")])
def test_narrow_core_rtl_matches_schedule(tiny_cfg, tiny_encoded, bits, layer, sim):
    """A core generated for 4- and 3-bit weights (quantized tiny network): inference and
    learning (with prunes) agree with the model on every trace event, counter and memory."""
    c = narrow_core_case(tiny_cfg, tiny_encoded, layer, 4, layer, 1 + layer, 0.3, bits)
    assert c["lay"].weight_bits == bits and c["weights"].max() <= (1 << bits) - 1
    ctx = dict(config="tiny", layer=layer, bits=bits)
    rep = cosim.run_core(c["lay"], c["net"].ariths[layer], c["lc"],
                         _steps(c, ["learn", "infer", "learn"]), c["weights"], c["active"],
                         c["threshold"], ctx, sim=sim, tag=f"-tiny-l{layer}")
    assert [s["counters"] for s in rep["seen"]] == rep["counters"]
    learn = rep["counters"][0]
    assert learn["cyc_winners"] > 0 and learn["prunes"] > 0 and learn["stdp_ops"] > 0
    assert not (rep["weights"] == c["weights"]).all(), "learning must move narrow weights"


def _alter_first(kind):
    """Flip the lowest bit of the last field of the first record of ``kind``, cycle kept."""
    def alter(step, trace):
        if step == 0:
            i = next(i for i, r in enumerate(trace) if r[1] == kind)
            trace[i] = (*trace[i][:-1], trace[i][-1] ^ 1)
        return trace
    return alter


@pytest.mark.parametrize("kind, sim", [("winner", "verilator"), ("op", "icarus")])
def test_wrong_expected_trace_fails_at_first_divergence(tiny_net, kind, sim):
    """The comparison has teeth: one changed record of the prediction (a winner's column, an
    STDP update's prune flag) fails the run and is named, with its cycle."""
    c = core_case(tiny_net, 0, 4, 0, 1, prune=0.3)
    ctx = dict(config="tiny", layer=0, lanes=4, image=0, seed=1)
    with pytest.raises(AssertionError, match=rf"first divergence in trace at cycle \d+ .*'{kind}'"):
        cosim.run_core(c["lay"], c["net"].arith, c["lc"], _steps(c, ["learn"]), c["weights"],
                       c["active"], c["threshold"], ctx, sim=sim, tag="-tiny-l0",
                       alter=_alter_first(kind))


def test_core_rtl_policies(tiny_net):
    """The policy registers in the core under Verilator: maps 0 and 3 off and the window ending
    at step 6, learning (on the maps left: the winners and the STDP unit's pruning) and
    inference (the outgoing unit on the shortened fire times); a sweep; then every map on and
    the whole window: the dense result on the learned synapses, the mask memory untouched by
    the enables. The build is test_core_rtl_matches_schedule's."""
    from cycles.core import core_command
    c = core_case(tiny_net, 0, 4, 0, 1, prune=0.3)
    lay, fmt, lc = c["lay"], c["net"].arith, c["lc"]
    off = dict(enabled=[False, True, True, False], window=6)
    steps = [dict(s, **off) for s in _steps(c, ["learn", "infer", "sweep"])] + _steps(c, ["infer"])
    dense = core_command("learn", lay, fmt, lc, c["x"], c["weights"], c["active"], c["threshold"],
                         **c["learning"].stdp_args())
    policy = core_command("learn", lay, fmt, lc, c["x"], c["weights"], c["active"], c["threshold"],
                          **c["learning"].stdp_args(), **off)
    # the case has teeth: a dense winner's map is off, the winners and the cycles change
    assert {w[0] for w in dense.winners} & {0, 3} and policy.winners
    assert not {w[0] for w in policy.winners} & {0, 3} and policy.counters["prunes"] > 0
    assert policy.cycles < dense.cycles and policy.counters["ops"] < dense.counters["ops"]
    assert max(r[2] for r in policy.trace if r[1] == "step") == off["window"] - 1
    ctx = dict(config="tiny", layer=0, lanes=4, image=0, seed=1, case="policies")
    rep = cosim.run_core(lay, fmt, lc, steps, c["weights"], c["active"], c["threshold"], ctx,
                         sim="verilator", tag="-tiny-l0")
    assert [s["counters"] for s in rep["seen"]] == rep["counters"]
    assert rep["counters"][0] == policy.counters
    # re-enabled: the last inference is the dense one on the synapses the first three left
    learned = core_command("sweep", lay, fmt, lc, c["x"], policy.weights, policy.active,
                           c["threshold"], **c["learning"].stdp_args())
    again = core_command("infer", lay, fmt, lc, c["x"], learned.weights, learned.active,
                         c["threshold"])
    assert rep["counters"][3] == again.counters and rep["cycles"][3] == again.cycles
    assert rep["cycles"][3] > rep["cycles"][1]
