"""The layer core (hw/core.py) under Amaranth's simulator: every command's trace, counters and
memories against model/core_schedule.py, whose blocks are each checked against the model."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from conftest import layer_input, layer_output
from hw import core as hc
from hw.integrate import pack_event
from model import rng, wta
from model.core_schedule import core_command
from model.pool_schedule import PoolLayout
from model.schedule import EngineLayout
from sim import core_driver as cd
from sim.compare import first_memory_divergence, first_trace_divergence
from sim.engine_driver import AmaranthBus

PRUNE_TH = 77
CMD = {"infer": hc.CMD_INFER, "learn": hc.CMD_LEARN, "sweep": hc.CMD_SWEEP}


def _case(tiny_net, layer, lanes, image, seed, prune):
    cfg, net, times = tiny_net
    x = layer_input(net, layer, times[image:image + 1])
    rs = np.random.default_rng(seed)
    weights = rs.integers(90, 256, net.shapes[layer])      # strong enough to fire ...
    near = rs.random(net.shapes[layer]) < 0.3               # ... and many near the threshold
    weights[near] = PRUNE_TH + rs.integers(0, 4, int(near.sum()))
    # Live connections at or above it, as after the warm-up's sweep (tests/test_stdp_unit.py).
    active = (rs.random(net.shapes[layer]) >= prune) & (weights >= PRUNE_TH)
    lay = EngineLayout.for_input(cfg, layer, lanes, x)
    n = 300 + seed
    a_plus, a_minus = net.arith.rates(cfg, n)
    return dict(cfg=cfg, net=net, lay=lay, lc=cfg.layers[layer], x=x[0], weights=weights,
                active=active, threshold=net.thresholds[layer], layer=layer,
                learning=dict(a_plus=a_plus, a_minus=a_minus, round_key=rng.round_key(cfg.seed, layer, n),
                              check=True, prune_th=PRUNE_TH),
                keys=dict(layer_key=rng.layer_key(cfg.seed, layer), image_n=n))


def simulate(c, cmds, faults=frozenset()):
    """Run ``cmds`` in order on one core, loaded once; returns per command (trace, counters,
    state)."""
    lay, fmt, lc = c["lay"], c["net"].arith, c["lc"]
    dut = hc.LayerCore(lay, fmt, lc, faults)
    fmtr = cd.CoreTrace(lay, fmt, lc)
    seen = []

    async def bench(ctx):
        bus = AmaranthBus(ctx, dut)
        await cd.load_synapses(bus, lay, c["weights"], c["active"])
        await cd.load_image(bus, lay, c["x"], c["threshold"], learn=True)
        lp = c["learning"]
        cd.set_learning(bus, lp["a_plus"], lp["a_minus"], c["keys"]["layer_key"],
                        c["keys"]["image_n"], lp["check"], lp["prune_th"])
        for cmd in cmds:
            await cd.command(bus, CMD[cmd])
            trace = []
            for _ in range(1_000_000):
                cycle = bus.get("cycle")
                trace += fmtr.records(cycle, bus.get)
                if bus.get("tr_done"):
                    break
                await bus.tick()
            await bus.tick()
            counters = cd.counters(bus)
            n_out = bus.get("n_out") if lc.pool.size > 0 else None
            seen.append((trace, counters, await cd.read_state(bus, lay, n_out)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _predict(c, cmd, weights, active):
    return core_command(cmd, c["lay"], c["net"].arith, c["lc"], c["x"], weights, active,
                        c["threshold"], **c["learning"])


def _assert_matches(c, pred, seen, context):
    trace, counters, state = seen
    d = first_trace_divergence(pred.trace, trace, context)
    assert d is None, str(d)
    assert counters == pred.counters, f"counters: expected {pred.counters}, seen {counters}"
    lay = c["lay"]
    if pred.engine is not None:
        for name in ("potentials", "fire", "v_fire"):
            d = first_memory_divergence(name, getattr(pred.engine, name), state[name], context)
            assert d is None, str(d)
    if pred.weights is not None:
        masks = lay.lane_masks(pred.active)
        for name, ref in (("weights", lay.lane_weights(pred.weights)), ("masks", masks),
                          ("row_any", lay.row_any(masks)), ("map_rows", lay.map_rows(pred.active))):
            d = first_memory_divergence(name, np.atleast_2d(ref), np.atleast_2d(state[name]), context)
            assert d is None, str(d)
        assert state["winners"] == [tuple(w) for w in pred.winners]
    if pred.events is not None:         # packed in the next layer's event format
        nxt = PoolLayout.from_config(lay, c["lc"]).next_format()
        assert state["out_events"] == [pack_event(nxt, *e) for e in pred.events]


@pytest.mark.parametrize("layer, lanes, image, seed", [(0, 3, 0, 1), (1, 4, 1, 2)])
def test_core_commands_match_schedule(tiny_net, layer, lanes, image, seed):
    """learn, then infer and sweep on the learned synapses: the STDP unit's writes go to the
    engine's memories, so the second pass integrates with the learned weights and masks."""
    c = _case(tiny_net, layer, lanes, image, seed, prune=0.3)
    seen = simulate(c, ["learn", "infer", "sweep"])
    weights, active = c["weights"], c["active"]
    for cmd, s in zip(["learn", "infer", "sweep"], seen):
        pred = _predict(c, cmd, weights, active)
        _assert_matches(c, pred, s, {"layer": layer, "command": cmd, "seed": seed})
        if pred.weights is not None:
            weights, active = pred.weights, pred.active
    learn = _predict(c, "learn", c["weights"], c["active"])
    assert learn.winners and learn.counters["prunes"] > 0, "the case must find winners and prune"
    # The winners are the model's k-WTA on the layer's output.
    out = layer_output(c["lay"], c["x"][None], c["weights"], c["active"], c["threshold"])
    lc = c["lc"]
    model = wta.k_winners(out.times[0], out.v_fire[0], lc.winners, lc.inhibition_radius, c["net"].T)
    assert [w[:3] for w in learn.winners] == [tuple(int(v) for v in w) for w in model]
