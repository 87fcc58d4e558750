"""The integrate engine's Verilog under Verilator and Icarus (cocotb), against the model."""
import numpy as np
import pytest

from conftest import layer_input, random_synapses
from cycles.layout import EngineLayout
from sim import cosim

# Builds a simulator (Verilator / Icarus) per design: minutes on a busy machine.
pytestmark = pytest.mark.timeout(1800)

SIMULATORS = ("verilator", "icarus")


def _case(tiny, layer, lanes, image, prune, seed):
    cfg, net, times = tiny
    x = layer_input(net, layer, times[image:image + 1])
    weights, active = random_synapses(net, layer, seed, prune)
    if seed == 0:
        weights = net.weights[layer]     # (the cases with seed 0 are dense: same mask either way)
    lay = EngineLayout.for_input(cfg, layer, lanes, x)
    ctx = dict(config="tiny", layer=layer, lanes=lanes, image=image, seed=seed)
    return lay, x[0], weights, active, net.thresholds[layer], ctx


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("layer, lanes, image, prune, seed", [
    (0, 4, 0, 0.0, 0),       # the network's own initial weights, dense
    (0, 4, 5, 0.4, 11),
    (1, 3, 6, 0.3, 12),
])
def test_engine_rtl_matches_model(tiny_net, sim, layer, lanes, image, prune, seed):
    lay, x, w, active, th, ctx = _case(tiny_net, layer, lanes, image, prune, seed)
    _, x2, *_ = _case(tiny_net, layer, lanes, image + 1, prune, seed)
    report = cosim.run_engine(lay, [x, x2], w, active, th, ctx, sim=sim)   # two images in a row
    assert [s["counters"]["cycles"] for s in report["seen"]] == report["cycles"]
    assert [s["counters"]["ops"] for s in report["seen"]] == report["ops"]
    assert report["trace_events"] > 100


@pytest.mark.parametrize("sim", SIMULATORS)
def test_rtl_fault_is_reported_with_its_first_divergence(tiny_net, sim):
    lay, x, w, active, th, ctx = _case(tiny_net, 0, 4, 1, 0.5, 2)
    with pytest.raises(AssertionError, match=r"first divergence in trace at cycle \d+"):
        cosim.run_engine(lay, [x], w, active, th, ctx, sim=sim, faults=frozenset({"ignore_pruning"}))


@pytest.mark.parametrize("sim", SIMULATORS)
def test_stdp_unit_rtl_matches_model(tiny_net, sim):
    from cycles.learning import LearningParams
    from model import rng, wta
    cfg, net, times = tiny_net
    lay, x, _, _, _, ctx = _case(tiny_net, 0, 3, 2, 0.0, 7)
    rs = np.random.default_rng(7)
    weights = rs.integers(40, 140, net.shapes[0])
    active = (rs.random(net.shapes[0]) > 0.3) & (weights >= 77)
    out = net.run_layer(0, x[None], None)
    lc = cfg.layers[0]
    win = wta.k_winners(out.times[0], out.v_fire[0], lc.winners, lc.inhibition_radius, net.T)
    winners = [(int(f), int(y), int(xx), int(out.times[0][f, y, xx])) for f, y, xx in win]
    a_plus, a_minus = net.arith.rates(cfg, 321)
    learning = LearningParams(int(a_plus), int(a_minus), rng.layer_key(cfg.seed, 0), 321,
                              check=True, prune_th=77)
    report = cosim.run_stdp(lay, net.arith, weights, active, x, ctx, winners, learning, sim=sim)
    assert report["trace_events"] > 10
