"""The integrate engine under Amaranth's simulator, cycle by cycle against cycles/integrate.py."""
import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import layer_input, random_synapses
from hw.integrate import FAULTS, STALLS, IntegrateEngine
from model import config
from model.layer import integrate
from cycles.layout import EngineLayout, HardwareConfigError
from cycles.integrate import integrate_pass
from cycles.trace import trace_order
from sim import engine_driver as drv
from sim.compare import first_memory_divergence, first_trace_divergence


def _case(tiny_net, layer, lanes, image, prune, seed):
    """Layout, input spike times, weights, live mask and threshold of one test case."""
    cfg, net, times = tiny_net
    x = layer_input(net, layer, times[image:image + 1])
    weights, active = random_synapses(net, layer, seed, prune)
    return EngineLayout.for_input(cfg, layer, lanes, x), x[0], weights, active, net.thresholds[layer]


def _simulate(lay, x, weights, active, threshold, faults=frozenset(), before=(), policy=None):
    """Run the pass on ``x`` and return its trace, counters and memories; the passes on the
    inputs ``before`` run first on the same engine (synapses loaded once, nothing reset), and
    their results are under ``"before"``. ``policy``: one (enabled, window) per pass, written
    into the policy registers before it (None: left at their reset values)."""
    results = _simulate_passes(lay, [*before, x], weights, active, threshold, faults, policy)
    return dict(results[-1], before=results[:-1])


def _simulate_passes(lay, passes, weights, active, threshold, faults, policy=None):
    dut = IntegrateEngine(lay, faults)
    results = []
    # The cycle model's cycles of each pass bound its wait (sim/stall.py); a window end the
    # hardware clamps (0, past T) is predicted clamped.
    def cycles_of(i, x):
        enabled, window = policy[i] if policy is not None else (None, None)
        window = None if window is None else min(max(window, 1), lay.time_steps)
        return integrate_pass(lay, x, weights, active, threshold, enabled, window).cycles
    cycles = [cycles_of(i, x) for i, x in enumerate(passes)]

    async def bench(ctx):
        bus = drv.AmaranthBus(ctx, dut)
        await drv.load_synapses(bus, lay, weights, active)
        for i, x in enumerate(passes):
            if policy is not None:
                await drv.load_policy(bus, lay, *policy[i])
            await drv.load_events(bus, lay, x, threshold)
            trace, counters = await drv.run(bus, lay, cycles[i])
            results.append(dict(trace=trace, counters=counters,
                                memories=await drv.read_memories(bus, lay),
                                all_lanes=await drv.read_fire_lanes(bus, lay),
                                registers=(bus.get("map_on"), bus.get("t_end"))))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results


def _divergences(pred, seen, context):
    found = [first_trace_divergence(pred.trace, seen["trace"], context)]
    for name, ref in (("potentials", pred.potentials), ("fire", pred.fire), ("v_fire", pred.v_fire)):
        found.append(first_memory_divergence(name, ref, seen["memories"][name], context))
    for name, ref in (("fire", pred.fire), ("v_fire", pred.v_fire)):     # the all-lane ports
        found.append(first_memory_divergence(f"{name} (all lanes)", ref, seen["all_lanes"][name],
                                             context))
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


def test_event_prefetch_on_sparse_rows(tiny_net):
    # 90% pruned: events with no live row inside the output (skipped, the next one waited for)
    # and events of one or two op cycles (the read-ahead just in time, or one FETCH cycle late).
    lay, x, w, active, _ = _case(tiny_net, 0, 4, 2, 0.9, 9)
    w, th = np.full_like(w, 255), 500                   # two live connections make a spike
    pred = integrate_pass(lay, x, w, active, th)
    assert pred.skipped > 0 and pred.fetch_waits > 0
    assert any(r[1] == "fire" for r in pred.trace)
    seen = _simulate(lay, x, w, active, th)
    assert _divergences(pred, seen, dict(case="sparse rows")) == []
    assert seen["counters"] == {"cycles": pred.cycles, "ops": pred.ops, "op_cycles": pred.op_cycles}


@pytest.mark.parametrize("lanes", [4, 3])
def test_back_to_back_ops_on_one_potential(tiny_net, lanes):
    # Two spikes of one step whose rows meet on one output position back to back: the first
    # event's last row (offset (2, 2) from (4, 4)) and the second's first (offset (0, 0) from
    # (2, 2), the next channel) both land on (3, 3). With one map per lane (4 lanes) each
    # lane's two ops there are consecutive: the second reads the potential before the first
    # writes it, so the sum must be forwarded; the two weights together cross the threshold, one
    # alone does not. With 3 lanes (G = 2) the ops are one apart (the read port's transparency).
    cfg, net, times = tiny_net
    x = np.full_like(layer_input(net, 0, times[:1])[0], cfg.input.time_steps)
    x[0, 4, 4] = x[1, 2, 2] = 3
    lay = EngineLayout.for_input(cfg, 0, lanes, x)
    w, active = random_synapses(net, 0, 1, 0.0)
    w, th = np.full_like(w, 200), 300
    pred = integrate_pass(lay, x, w, active, th)
    assert pred.potentials.max() == 400, "both rows must reach one potential"
    assert sum(r[1] == "fire" for r in pred.trace) == lay.maps, "(3, 3) fires in every map"
    seen = _simulate(lay, x, w, active, th)
    assert _divergences(pred, seen, dict(case="back to back", lanes=lanes)) == []


def test_lanes_walk_their_own_rows(tiny_net):
    # One spike in the middle of channel 0 reaches its 9 rows. Lane 0's maps (0 and 2) keep
    # offsets 0 .. 4, lane 1's (1 and 3) offsets 5 .. 8: each lane walks only its own rows, two
    # op cycles a row, back to back from the event's first op cycle, and the lanes meet at the
    # event's end: 5 rows x 2 = 10 op cycles (all lanes on one row at a time: 9 x 2 = 18).
    cfg, net, times = tiny_net
    x = np.full_like(layer_input(net, 0, times[:1])[0], cfg.input.time_steps)
    x[0, 6, 6] = 0
    lay = EngineLayout.for_input(cfg, 0, 2, x)
    w, _ = random_synapses(net, 0, 4, 0.0)
    active = np.zeros(w.shape, dtype=bool)
    active[0::2, 0].reshape(2, -1)[:, :5] = True
    active[1::2, 0].reshape(2, -1)[:, 5:] = True
    th = 10 ** 4                                      # nothing fires: the rows alone
    pred = integrate_pass(lay, x, w, active, th)
    assert pred.ops == 9 * 2 and pred.op_cycles == 10    # each row: two live maps of one lane
    rows = [r for r in pred.trace if r[1] == "row"]
    first = rows[0][0]
    assert rows == sorted([(first + 2 * i, "row", 0, 0, i) for i in range(5)] +
                          [(first + 2 * i, "row", 1, 0, 5 + i) for i in range(4)], key=trace_order)
    seen = _simulate(lay, x, w, active, th)
    assert _divergences(pred, seen, dict(case="own rows")) == []
    assert seen["counters"] == {"cycles": pred.cycles, "ops": pred.ops, "op_cycles": pred.op_cycles}


def _in_every_bitmap_word(lay, where):
    """``where`` (P, G npos) holds somewhere in every 32-word of every lane's valid bitmaps."""
    padded = np.zeros((lay.lanes, lay.valid_words * 32), dtype=bool)
    padded[:, :where.shape[1]] = where
    return padded.reshape(lay.lanes, lay.valid_words, 32).any(axis=2).all()


def test_back_to_back_passes_leak_nothing(tiny_net):
    # Pass 2 (30% of one image's spikes) runs straight after pass 1 (every input spiking at
    # t = 0, so nearly every neuron integrates and fires), nothing reloaded or reset: only CLEAR
    # zeroing the valid bitmaps stands between them. One map per lane (G = 1): a lane's
    # consecutive ops and drains often share a bitmap word (the transparent read-modify-write).
    lay, x, w, active, th = _case(tiny_net, 0, 4, 3, 0.2, 8)
    x1 = np.zeros_like(x)
    x2 = np.where(np.random.default_rng(8).random(x.shape) < 0.3, x, lay.time_steps)
    preds = [integrate_pass(lay, xi, w, active, th) for xi in (x1, x2)]
    # in every bitmap word, pass 1 leaves a potential and a fire where pass 2 writes none
    assert _in_every_bitmap_word(lay, (preds[0].potentials != 0) & (preds[1].potentials == 0))
    assert _in_every_bitmap_word(lay, (preds[0].fire < lay.time_steps) &
                                 (preds[1].fire == lay.time_steps))
    assert any(r[1] == "fire" for r in preds[1].trace)
    seen = _simulate(lay, x2, w, active, th, before=(x1,))
    for i, (pred, got) in enumerate(zip(preds, [*seen["before"], seen])):
        assert _divergences(pred, got, dict(case="back to back", image_pass=i)) == []
        assert got["counters"] == {"cycles": pred.cycles, "ops": pred.ops, "op_cycles": pred.op_cycles}


def test_clear_phase_costs_one_cycle_per_bitmap_word(tiny_net):
    lay, x, w, active, th = _case(tiny_net, 0, 3, 0, 0.0, 1)
    assert lay.valid_words == -(-lay.groups * lay.npos // 32) == 13      # G npos = 392
    no_events = np.full_like(x, lay.time_steps)
    # CLEAR, then per step FETCH, STEP_END and a three-cycle drain (no crossing), then DONE
    assert integrate_pass(lay, no_events, w, active, th).cycles == 13 + lay.time_steps * 5 + 1


def test_map_enables_and_window_end(tiny_net):
    # Three passes on one engine, nothing reloaded but the policy registers: maps 0 and 2 off
    # with the window ending at step 4, then map 2 back on (a live map disabled: its rows are
    # still visited), then every map on with the whole window -- the dense pass, as if the
    # enables had never been touched.
    lay, x, w, active, th = _case(tiny_net, 0, 4, 1, 0.3, 2)
    T = lay.time_steps
    off02, off0 = np.array([False, True, False, True]), np.array([False, True, True, True])
    policy = [(off02, 4), (off0, T - 2), (None, None)]
    preds = [integrate_pass(lay, x, w, active, th, *p) for p in policy]
    dense = integrate_pass(lay, x, w, active, th)
    assert preds[2].trace == dense.trace
    for p in preds[:2]:                 # the policies change what the pass does, and its cycles
        assert p.cycles < dense.cycles and p.ops < dense.ops
    fired = {r[2] for r in preds[0].trace if r[1] == "fire"}
    assert fired and not fired & {0, 2}, "only the enabled maps (lanes 1 and 3) fire"
    assert max(r[2] for r in preds[0].trace if r[1] == "step") == 3
    seen = _simulate(lay, x, w, active, th, before=(x, x), policy=policy)
    for i, (pred, got) in enumerate(zip(preds, [*seen["before"], seen])):
        assert _divergences(pred, got, dict(case="policies", image_pass=i)) == []
        assert got["counters"] == {"cycles": pred.cycles, "ops": pred.ops, "op_cycles": pred.op_cycles}
    assert [r["registers"] for r in (*seen["before"], seen)] == [(0b1010, 4), (0b1110, T - 2), (0b1111, T)]


def test_window_end_is_clamped(tiny_net):
    # A window end of 0 or past T is taken as 1 or T: the engine cannot run past its last step.
    lay, x, w, active, th = _case(tiny_net, 0, 4, 1, 0.3, 2)
    seen = _simulate(lay, x, w, active, th, before=(x,), policy=[(None, 0), (None, 1000)])
    assert [r["registers"][1] for r in (*seen["before"], seen)] == [1, lay.time_steps]
    assert seen["before"][0]["counters"]["cycles"] == integrate_pass(lay, x, w, active, th, None, 1).cycles


# Faults that show only under a policy: the policy registers their case writes.
FAULT_POLICY = {"ignore_enables": (np.array([True, False, True, True]), None)}


@pytest.mark.parametrize("fault", sorted(set(FAULTS) - STALLS))    # stalls: tests/sim/test_stall.py
def test_comparison_catches_injected_faults(tiny_net, fault):
    lay, x, w, active, th = _case(tiny_net, 0, 4, 1, 0.5, 2)
    w = np.full_like(w, th // 4)      # potentials land exactly on the threshold
    enabled, window = FAULT_POLICY.get(fault, (None, None))
    pred = integrate_pass(lay, x, w, active, th, enabled, window)
    # after a pass on another image, so that faults leaking its values show too
    _, other, *_ = _case(tiny_net, 0, 4, 0, 0.5, 2)
    seen = _simulate(lay, x, w, active, th, frozenset({fault}), before=(other,),
                     policy=[(enabled, window)] * 2)
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


@st.composite
def engine_cases(draw):
    """A small random layout with random input spike times (T: no spike), weights, live mask
    and threshold: shapes and corners the fixed cases above do not reach."""
    maps, channels = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    kernel = draw(st.sampled_from([1, 2, 3]))
    side_in, T = draw(st.integers(kernel, 6)), draw(st.integers(2, 6))
    lay = EngineLayout(maps=maps, channels=channels, kernel=kernel,
                       padding=draw(st.integers(0, (kernel - 1) // 2)), side_in=side_in,
                       time_steps=T, lanes=draw(st.integers(1, maps)), weight_bits=8,
                       potential_bits=draw(st.integers(9, 12)),
                       max_events=channels * side_in * side_in).check()
    x = draw(hnp.arrays(np.int64, (channels, side_in, side_in), elements=st.integers(0, T)))
    w = draw(hnp.arrays(np.int64, (maps, channels, kernel, kernel), elements=st.integers(0, 255)))
    active = draw(hnp.arrays(np.bool_, w.shape))
    # the threshold register holds a potential (a wider value is refused by the host link)
    return lay, x, w, active, draw(st.integers(1, (1 << lay.potential_bits) - 1))


@pytest.mark.timeout(900)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engine_cases())
def test_engine_matches_schedule_on_random_stimulus(case):
    lay, x, w, active, th = case
    pred = integrate_pass(lay, x, w, active, th)
    seen = _simulate(lay, x, w, active, th)
    assert _divergences(pred, seen, dict(case="random", layout=lay, threshold=th)) == []
    assert seen["counters"] == {"cycles": pred.cycles, "ops": pred.ops, "op_cycles": pred.op_cycles}
