"""The integrate engine under Amaranth's simulator, cycle by cycle against model/schedule.py."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from conftest import layer_input, random_synapses
from hw.integrate import FAULTS, IntegrateEngine
from model import config
from model.layer import integrate
from model.schedule import EngineLayout, HardwareConfigError, integrate_pass
from sim import engine_driver as drv
from sim.compare import first_memory_divergence, first_trace_divergence


def _case(tiny_net, layer, lanes, image, prune, seed):
    """Layout, input spike times, weights, live mask and threshold of one test case."""
    cfg, net, times = tiny_net
    x = layer_input(net, layer, times[image:image + 1])
    weights, active = random_synapses(net, layer, seed, prune)
    return EngineLayout.for_input(cfg, layer, lanes, x), x[0], weights, active, net.thresholds[layer]


def _simulate(lay, x, weights, active, threshold, faults=frozenset()):
    dut = IntegrateEngine(lay, faults)
    result = {}

    async def bench(ctx):
        bus = drv.AmaranthBus(ctx, dut)
        await drv.load(bus, lay, x, weights, active, threshold)
        result["trace"], result["counters"] = await drv.run(bus, lay)
        result["memories"] = await drv.read_memories(bus, lay)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result


def _divergences(pred, seen, context):
    found = [first_trace_divergence(pred.trace, seen["trace"], context)]
    for name, ref in (("potentials", pred.potentials), ("fire", pred.fire), ("v_fire", pred.v_fire)):
        found.append(first_memory_divergence(name, ref, seen["memories"][name], context))
    return [d for d in found if d is not None]


@pytest.mark.parametrize("layer, lanes, image, prune, seed", [
    (0, 3, 0, 0.0, 1),      # dense conv1, G = 2, the last group half empty
    (0, 4, 1, 0.5, 2),      # one map per lane, half the connections pruned
    (0, 1, 2, 0.3, 3),      # one lane
    (1, 4, 3, 0.0, 4),      # conv2 (4 channels, 6 maps): dense
    (1, 6, 0, 0.6, 5),      # conv2 mostly pruned, one map per lane
])
def test_engine_matches_schedule_cycle_by_cycle(tiny_net, layer, lanes, image, prune, seed):
    lay, x, w, active, th = _case(tiny_net, layer, lanes, image, prune, seed)
    pred = integrate_pass(lay, x, w, active, th)
    seen = _simulate(lay, x, w, active, th)
    context = dict(config="tiny", layer=layer, lanes=lanes, image=image, seed=seed)
    assert _divergences(pred, seen, context) == []
    assert seen["counters"] == {"cycles": pred.cycles, "ops": pred.ops, "op_cycles": pred.op_cycles}
    assert any(r[1] == "fire" for r in pred.trace), "the case must make neurons fire"


def test_pruned_connections_cost_no_cycles(tiny_net):
    # The same image, dense and with half the connections pruned: every lane operation is a live
    # synapse (ops = unpruned synaptic operations of the model), and op cycles shrink.
    lay, x, w, active, th = _case(tiny_net, 0, 4, 1, 0.5, 2)
    dense = integrate_pass(lay, x, w, np.ones_like(active), th)
    pruned = integrate_pass(lay, x, w, active, th)
    model = integrate(x[None], w, active, lay.kernel, lay.padding, lay.time_steps, th,
                      (1 << lay.potential_bits) - 1, np.int64)
    assert model.sop_done[0] > 0 and model.sop_skipped[0] > 0
    assert pruned.ops == int(model.sop_done[0]) and dense.ops == pruned.ops + int(model.sop_skipped[0])
    assert pruned.op_cycles < dense.op_cycles


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_comparison_catches_injected_faults(tiny_net, fault):
    lay, x, w, active, th = _case(tiny_net, 0, 4, 1, 0.5, 2)
    w = np.full_like(w, th // 4)      # potentials land exactly on the threshold
    pred = integrate_pass(lay, x, w, active, th)
    seen = _simulate(lay, x, w, active, th, frozenset({fault}))
    found = _divergences(pred, seen, dict(fault=fault))
    assert found, f"fault {fault!r} went unnoticed"
    assert "first divergence" in str(found[0]) and f"fault={fault}" in str(found[0])


def test_layers_the_hardware_cannot_hold_are_refused():
    cfg = config.load("configs/mnist.yaml")
    with pytest.raises(HardwareConfigError, match=r"weight memory needs 7500000 words per lane"):
        IntegrateEngine(EngineLayout(100, 3000, 5, 2, 14, 15, 1, 8, 18, 100))
    with pytest.raises(HardwareConfigError, match="lanes = 40: must be 1 .. min"):
        EngineLayout.from_config(cfg, 0, 40, side_in=28, channels=2).check()
    with pytest.raises(HardwareConfigError, match="potential_bits = 40"):
        EngineLayout(30, 2, 5, 2, 28, 15, 10, 8, 40, 100).check()
    with pytest.raises(ValueError, match="unknown faults"):
        IntegrateEngine(EngineLayout.from_config(cfg, 0, 10, 28, 2), frozenset({"nope"}))
