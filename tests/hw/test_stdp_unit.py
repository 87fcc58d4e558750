"""The STDP unit under Amaranth's simulator: cycle by cycle against cycles/integrate.py, whose
arithmetic is checked against the model's own STDP (model/stdp.py) and pruning rule."""
import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hw.stdp_unit import StdpUnit
from conftest import layer_input
from model import layer as L, rng, stdp, wta
from cycles.layout import EngineLayout
from cycles.learning import LearningParams
from cycles.stdp_unit import stdp_pass
from model.fixedpoint import Formats
from sim import engine_driver as drv, stdp_driver as sdrv
from sim.compare import first_memory_divergence, first_trace_divergence


def _case(tiny, layer, lanes, image, seed, prune_q):
    cfg, net, times = tiny
    x = layer_input(net, layer, times[image:image + 1])
    lc = cfg.layers[layer]
    rs = np.random.default_rng(seed)
    weights = rs.integers(40, 140, net.shapes[layer])      # many near the threshold
    # Live connections all at or above the pruning threshold, as after the warm-up's sweep: then
    # checking the written weights (hardware) equals sweeping them all (model).
    active = (rs.random(net.shapes[layer]) > 0.3) & (weights >= prune_q)
    out = net.run_layer(layer, x, None)
    win = wta.k_winners(out.times[0], out.v_fire[0], lc.winners, lc.inhibition_radius, net.T)
    winners = [(int(f), int(y), int(xx), int(out.times[0][f, y, xx])) for f, y, xx in win]
    lay = EngineLayout.for_input(cfg, layer, lanes, x)
    n = 300 + seed                     # an image count past a few rate doublings
    return dict(cfg=cfg, net=net, lay=lay, x=x[0], weights=weights, active=active,
                winners=winners, n=n, layer=layer, prune_q=prune_q)


def _simulate(c, all_maps=False):
    lay, fmt, cfg = c["lay"], c["net"].arith, c["cfg"]
    a_plus, a_minus = fmt.rates(cfg, c["n"])
    lp = LearningParams(int(a_plus), int(a_minus), rng.layer_key(cfg.seed, c["layer"]), c["n"],
                        True, c["prune_q"])
    dut = StdpUnit(lay, fmt, max_winners=8)
    seen = {}
    pred = stdp_pass(lay, fmt, c["weights"], c["active"], c["x"], c["winners"], a_plus, a_minus,
                     rng.round_key(cfg.seed, c["layer"], c["n"]), True, c["prune_q"], all_maps)

    async def bench(ctx):
        bus = drv.AmaranthBus(ctx, dut)
        await sdrv.load(bus, lay, c["weights"], c["active"], c["x"])
        seen["trace"] = await sdrv.run(bus, c["winners"], lp, all_maps, pred.cycles)
        seen["memories"] = await sdrv.read_back(bus, lay)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return pred, seen


def _assert_same(lay, pred, seen):
    assert first_trace_divergence(pred.trace, seen["trace"]) is None
    masks = lay.lane_masks(pred.active)
    for name, ref in (("weights", lay.lane_weights(pred.weights)), ("masks", masks),
                      ("row_any", lay.lane_rows(masks)), ("map_rows", lay.map_rows(pred.active))):
        assert first_memory_divergence(name, np.atleast_2d(ref), np.atleast_2d(seen["memories"][name])) is None


@pytest.mark.parametrize("layer, lanes, image, seed", [(0, 3, 0, 1), (0, 1, 1, 2), (1, 4, 2, 3)])
def test_stdp_unit_matches_schedule_and_model(tiny_net, layer, lanes, image, seed):
    c = _case(tiny_net, layer, lanes, image, seed, prune_q=77)
    pred, seen = _simulate(c)
    _assert_same(c["lay"], pred, seen)
    # The schedule's arithmetic is the model's: STDP on the winners, then the pruning rule.
    cfg, net = c["cfg"], c["net"]
    lc = cfg.layers[layer]
    w, pruned = c["weights"].copy(), ~c["active"]
    arr = np.array([wn[:3] for wn in c["winners"]])
    stdp.apply(net.arith, cfg, layer, c["n"], w, pruned, arr, np.array([wn[3] for wn in c["winners"]]),
               L.padded(c["x"], lc.padding, net.T), lc.kernel)
    pruned |= (w < c["prune_q"])
    np.testing.assert_array_equal(pred.weights, w)
    np.testing.assert_array_equal(pred.active, ~pruned)
    ops = [r for r in pred.trace if r[1] == "op"]
    assert any(r[6] for r in ops) and any(r[4] != r[5] for r in ops), "the case must learn and prune"


def test_sweep_prunes_every_map_without_changing_weights(tiny_net):
    c = _case(tiny_net, 0, 3, 3, 4, prune_q=0)
    c["prune_q"] = 100                 # a sweep at a higher threshold than the live weights meet
    pred, seen = _simulate(c, all_maps=True)
    _assert_same(c["lay"], pred, seen)
    np.testing.assert_array_equal(pred.weights, c["weights"])
    np.testing.assert_array_equal(pred.active, c["active"] & (c["weights"] >= 100))


def test_pruned_connections_cost_no_op_cycles(tiny_net):
    c = _case(tiny_net, 1, 4, 4, 5, prune_q=0)
    lay, fmt = c["lay"], c["net"].arith
    args = (c["x"], c["winners"], 262, 196, 1234, False, 0)
    dense = stdp_pass(lay, fmt, c["weights"], np.ones_like(c["active"]), *args)
    sparse = stdp_pass(lay, fmt, c["weights"], c["active"], *args)
    skipped = sum(int((~c["active"][f]).sum()) for f, *_ in c["winners"])
    assert skipped > 0 and dense.cycles - sparse.cycles == skipped


@st.composite
def stdp_cases(draw):
    """A small random layout, synapses and input spike times, up to eight winners (one a map),
    and random learning registers: rates, keys, the check and its threshold, or a sweep."""
    maps, channels = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    kernel = draw(st.sampled_from([1, 2, 3]))
    side_in, T = draw(st.integers(kernel, 6)), draw(st.integers(2, 6))
    weight_bits = draw(st.sampled_from([4, 8]))
    lay = EngineLayout(maps=maps, channels=channels, kernel=kernel,
                       padding=draw(st.integers(0, (kernel - 1) // 2)), side_in=side_in,
                       time_steps=T, lanes=draw(st.integers(1, maps)), weight_bits=weight_bits,
                       potential_bits=12, max_events=channels * side_in * side_in).check()
    fmt = Formats(weight_bits, 12, draw(st.sampled_from([8, 16])), draw(st.booleans()))
    shape = (maps, channels, kernel, kernel)
    weights = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, fmt.weight_max)))
    active = draw(hnp.arrays(np.bool_, shape))
    x = draw(hnp.arrays(np.int64, (channels, side_in, side_in), elements=st.integers(0, T)))
    won = draw(st.lists(st.integers(0, maps - 1), unique=True, max_size=min(maps, 8)))
    pos = st.integers(0, lay.side_out - 1)
    winners = [(f, draw(pos), draw(pos), draw(st.integers(0, T - 1))) for f in won]
    rate = st.integers(0, (1 << fmt.rate_frac_bits) - 1)
    lp = LearningParams(draw(rate), draw(rate), draw(st.integers(0, 0xFFFF_FFFF)),
                        draw(st.integers(0, 10_000)), draw(st.booleans()),
                        draw(st.integers(0, fmt.weight_max)))
    return lay, fmt, weights, active, x, winners, lp, draw(st.booleans())


@pytest.mark.timeout(900)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stdp_cases())
def test_stdp_unit_matches_schedule_on_random_stimulus(case):
    lay, fmt, weights, active, x, winners, lp, all_maps = case
    pred = stdp_pass(lay, fmt, weights, active, x, winners, **lp.stdp_args(), all_maps=all_maps)
    dut = StdpUnit(lay, fmt, max_winners=8)
    seen = {}

    async def bench(ctx):
        bus = drv.AmaranthBus(ctx, dut)
        await sdrv.load(bus, lay, weights, active, x)
        seen["trace"] = await sdrv.run(bus, winners, lp, all_maps, pred.cycles)
        seen["memories"] = await sdrv.read_back(bus, lay)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    _assert_same(lay, pred, seen)
