"""The layer core (hw/core.py) under Amaranth's simulator: every command's trace, counters and
memories against cycles/core.py, whose blocks are each checked against the model."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from conftest import core_case, layer_output
from hw import core as hc
from model import wta
from cycles.core import core_command
from sim import core_driver as cd
from sim.compare import first_trace_divergence
from sim.engine_driver import AmaranthBus

CMD = {"infer": hc.CMD_INFER, "learn": hc.CMD_LEARN, "sweep": hc.CMD_SWEEP}


def simulate(c, cmds, cycles, faults=frozenset()):
    """Run ``cmds`` in order on one core, loaded once; returns per command (trace, counters,
    state). ``cycles``: each command's cycles by the cycle model, which bound its wait."""
    lay, fmt, lc = c["lay"], c["net"].arith, c["lc"]
    dut = hc.LayerCore(lay, fmt, lc, faults)
    fmtr = cd.CoreTrace(lay, fmt, lc)
    seen = []

    async def bench(ctx):
        bus = AmaranthBus(ctx, dut)
        await cd.load_synapses(bus, lay, c["weights"], c["active"])
        await cd.load_image(bus, lay, c["x"], c["threshold"], learn=True)
        cd.set_learning(bus, c["learning"])
        for cmd, n in zip(cmds, cycles):
            trace, counters = await cd.run_command(bus, fmtr, CMD[cmd], n)
            n_out = bus.get("n_out") if lc.pool.size > 0 else None
            seen.append((trace, counters, await cd.read_state(bus, lay, n_out)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _predict(c, cmd, weights, active):
    return core_command(cmd, c["lay"], c["net"].arith, c["lc"], c["x"], weights, active,
                        c["threshold"], **c["learning"].stdp_args())


def _assert_matches(c, pred, seen, context):
    trace, counters, state = seen
    d = first_trace_divergence(pred.trace, trace, context)
    assert d is None, str(d)
    assert counters == pred.counters, f"counters: expected {pred.counters}, seen {counters}"
    d = cd.state_divergence(cd.expected_state(c["lay"], c["lc"], pred), state, context)
    assert d is None, str(d)


@pytest.mark.parametrize("layer, lanes, image, seed", [(0, 3, 0, 1), (1, 4, 1, 2)])
def test_core_commands_match_schedule(tiny_net, layer, lanes, image, seed):
    """learn, then infer and sweep on the learned synapses: the STDP unit's writes go to the
    engine's memories, so the second pass integrates with the learned weights and masks."""
    c = core_case(tiny_net, layer, lanes, image, seed, prune=0.3)
    cmds, preds = ["learn", "infer", "sweep"], []
    weights, active = c["weights"], c["active"]
    for cmd in cmds:
        preds.append(pred := _predict(c, cmd, weights, active))
        if pred.weights is not None:
            weights, active = pred.weights, pred.active
    seen = simulate(c, cmds, [p.cycles for p in preds])
    for cmd, pred, s in zip(cmds, preds, seen):
        _assert_matches(c, pred, s, {"layer": layer, "command": cmd, "seed": seed})
    learn = _predict(c, "learn", c["weights"], c["active"])
    assert learn.winners and learn.counters["prunes"] > 0, "the case must find winners and prune"
    # The winners are the model's: k-WTA on the layer's output after pointwise inhibition (the
    # layer with it; layer 1 has none).
    out = layer_output(c["lay"], c["x"][None], c["weights"], c["active"], c["threshold"])
    model = wta.learning_winners(c["lc"], out.times[0], out.v_fire[0], c["net"].T)
    assert [w[:3] for w in learn.winners] == [tuple(int(v) for v in w) for w in model]


def test_inhibition_without_pooling_is_refused(tiny_net):
    """The core inhibits in its outgoing unit: a layer without pooling cannot pick its winners
    after pointwise inhibition, and says so before anything is built or predicted."""
    from cycles.core import core_command, network_layouts
    from cycles.layout import HardwareConfigError
    cfg, net, times = tiny_net
    lc = cfg.layers[1].model_copy(update={"pointwise_inhibition": True})
    lay = network_layouts(cfg, 4)[1]
    msg = r"layer conv2: pointwise_inhibition = true with pool.size = 0"
    with pytest.raises(HardwareConfigError, match=msg):
        hc.LayerCore(lay, net.arith, lc)
    with pytest.raises(HardwareConfigError, match=msg):
        x = np.full((lay.channels, lay.side_in, lay.side_in), lay.time_steps)
        core_command("learn", lay, net.arith, lc, x, net.weights[1], ~net.pruned[1], 1)


@pytest.mark.parametrize("path", ["configs/tiny.yaml", "configs/mnist.yaml"])
def test_network_layouts_follow_the_data(path):
    """The layouts computed from the config alone (boards/, the resource report) are those of
    the spike times the model hands each layer."""
    from model import config as C
    from cycles.core import network_layouts
    from model.network import Network
    from cycles.layout import EngineLayout
    cfg = C.load(path)
    net = Network(cfg)
    times = net.encode(np.zeros((1, cfg.input.size, cfg.input.size), dtype=np.uint8))
    for i, lay in enumerate(network_layouts(cfg, 10)):
        seen = net.propagate(times, i)[0]
        assert lay == EngineLayout.for_input(cfg, i, min(10, cfg.layers[i].maps), seen)


def test_map_enable_words_read_back_as_written(tiny_net):
    """The host reads the map enables back one 32-map word at a time, nothing of the next word
    in it: a layer of 40 maps with 7 x 7 kernels, whose read port is 49 bits wide (the row
    summaries), so a word past 32 bits would show."""
    from cycles.layout import EngineLayout
    cfg, net, _ = tiny_net
    lay = EngineLayout(maps=40, channels=1, kernel=7, padding=3, side_in=7, time_steps=4, lanes=4,
                       weight_bits=8, potential_bits=12, max_events=49)
    dut = hc.LayerCore(lay, net.arith, cfg.layers[1])
    assert dut.rd_w > 32
    enabled = np.random.default_rng(7).random(lay.maps) < 0.5
    words = [(mem, lane, list(ws)) for mem, lane, ws in cd.policy_words(lay, enabled)
             if mem == hc.MEM_MAP_ON]
    ((_, _, want),) = words
    seen = []

    async def bench(ctx):
        bus = AmaranthBus(ctx, dut)
        seen.append(await cd.read_mem(bus, hc.MEM_MAP_ON, 0, len(want)))    # reset: all on
        await cd.load_policy(bus, lay, enabled)
        seen.append(await cd.read_mem(bus, hc.MEM_MAP_ON, 0, len(want)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert len(want) == 2 and seen[0] == [(1 << 32) - 1, (1 << 8) - 1]
    assert seen[1] == want == [sum(int(b) << i for i, b in enumerate(enabled[j:j + 32]))
                               for j in (0, 32)]
