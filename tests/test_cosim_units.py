"""The winner unit (hw/wta.py) and the outgoing unit (hw/pool.py) under Verilator and Icarus
(cocotb), cycle by cycle against their cycle models, through sim/unit_harness.py."""
import pytest

from conftest import layer_input, layer_output, random_synapses
from model.schedule import EngineLayout, integrate_pass
from model.wta_schedule import fire_stream
from sim import unit_harness as uh

SIMULATORS = ("verilator", "icarus")


def _wta_case(tiny_net, layer, lanes, image, seed):
    """The integrate engine's fire stream of one image (random weights, 20 % pruned)."""
    cfg, net, times = tiny_net
    x = layer_input(net, layer, times[image:image + 1])
    weights, active = random_synapses(net, layer, seed, 0.2)
    lay = EngineLayout.for_input(cfg, layer, lanes, x)
    stream = fire_stream(lay, integrate_pass(lay, x[0], weights, active, net.thresholds[layer]).trace)
    lc = cfg.layers[layer]
    ctx = dict(config="tiny", unit="winner", layer=layer, lanes=lanes, image=image, seed=seed)
    return lay, lc.winners, lc.inhibition_radius, stream, ctx


def _pool_case(tiny_net, lanes, image, seed):
    """conv1's fire-time / fire-potential lane memories for one image (random weights)."""
    cfg, net, times = tiny_net
    x = times[image:image + 1]
    lay = EngineLayout.for_input(cfg, 0, lanes, x)
    out = layer_output(lay, x, *random_synapses(net, 0, seed, 0.2), net.thresholds[0])
    T = lay.time_steps
    ctx = dict(config="tiny", unit="outgoing", layer=0, lanes=lanes, image=image, seed=seed)
    return lay, cfg.layers[0], lay.to_lanes(out.times[0], T), lay.to_lanes(out.v_fire[0], 0), ctx


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("layer, lanes, image, seed", [(0, 3, 0, 1), (1, 4, 3, 4)])
def test_winner_unit_rtl_matches_model(tiny_net, sim, layer, lanes, image, seed):
    lay, k, radius, stream, ctx = _wta_case(tiny_net, layer, lanes, image, seed)
    rep = uh.run_winner(lay, k, radius, stream, ctx, f"unit-wta-l{layer}-p{lanes}-i{image}-s{seed}",
                        sim=sim, seed=seed)
    assert len(rep["winners"]) >= 2, "the case must select several winners"
    assert rep["seen"]["records"] == len(rep["trace"]) == len(rep["winners"]) + 1
    assert rep["seen"]["last_cycle"] == rep["trace"][-1][0]


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("lanes, image, seed", [(4, 1, 1), (3, 5, 3)])
def test_outgoing_unit_rtl_matches_model(tiny_net, sim, lanes, image, seed):
    lay, lc, fire, vfire, ctx = _pool_case(tiny_net, lanes, image, seed)
    rep = uh.run_outgoing(lay, lc, fire, vfire, ctx, f"unit-pool-p{lanes}-i{image}-s{seed}", sim=sim)
    assert len(rep["events"]) > 5
    assert rep["seen"]["n_events"] == len(rep["events"])
    assert rep["seen"]["records"] == len(rep["trace"]) == len(rep["events"]) + 1


def _alter_one(kind):
    """Change the last coordinate of the first record of ``kind``, the cycle kept."""
    def alter(trace):
        i = next(i for i, r in enumerate(trace) if r[1] == kind)
        r = trace[i]
        trace[i] = (*r[:-1], r[-1] ^ 1)
        return trace
    return alter


@pytest.mark.parametrize("unit, sim", [("winner", "icarus"), ("outgoing", "verilator")])
def test_wrong_expected_trace_fails_at_first_divergence(tiny_net, unit, sim):
    if unit == "winner":
        lay, k, radius, stream, ctx = _wta_case(tiny_net, 0, 3, 0, 1)
        run = lambda: uh.run_winner(lay, k, radius, stream, ctx, "unit-wta-teeth", sim=sim,
                                    seed=1, alter=_alter_one("winner"))
    else:
        lay, lc, fire, vfire, ctx = _pool_case(tiny_net, 4, 1, 1)
        run = lambda: uh.run_outgoing(lay, lc, fire, vfire, ctx, "unit-pool-teeth", sim=sim,
                                      alter=_alter_one("event"))
    with pytest.raises(AssertionError, match=r"first divergence in trace at cycle \d+"):
        run()
