"""The winner unit (hw/wta.py) under Amaranth's simulator: its winners against model.wta.k_winners,
its trace cycle by cycle against cycles/wta.py, fed the integrate engine's fire stream."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from conftest import layer_input, layer_output, random_synapses
from hw.wta import WinnerUnit
from cycles.layout import EngineLayout, HardwareConfigError
from cycles.integrate import integrate_pass
from model.wta import k_winners
from cycles.wta import fire_stream, stream_from_layer, winner_pass


def _simulate(lay, k, radius, images, gap=2, seed=0):
    """Run the unit on several images' streams (``clear`` before each); per image the trace,
    busy cycles per step, winners read back (f, y, x, t) and the final ``full``."""
    dut = WinnerUnit(lay, k, radius)
    junk = np.random.default_rng(seed)
    seen = []

    async def bench(ctx):
        def record(out):
            if ctx.get(dut.tr_winner):
                out["trace"].append((ctx.get(dut.cycle), "winner", ctx.get(dut.tr_win_f),
                                     ctx.get(dut.tr_win_y), ctx.get(dut.tr_win_x)))

        for stream in images:
            out = {"trace": [], "busy": []}
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for step in stream:
                for _ in range(gap):                  # the engine integrating the next step
                    record(out)
                    await ctx.tick()
                for i, beat in enumerate(step.beats):
                    assert not ctx.get(dut.busy)
                    # Lanes without a fire carry junk, as the engine's trace ports do.
                    ctx.set(dut.fire, sum(1 << lane for lane, b in enumerate(beat) if b))
                    ctx.set(dut.fire_addr, [b[0] if b else int(junk.integers(lay.groups * lay.npos))
                                            for b in beat])
                    ctx.set(dut.fire_v, [b[1] if b else int(junk.integers(1 << lay.potential_bits))
                                         for b in beat])
                    ctx.set(dut.step_end, i == len(step.beats) - 1)
                    ctx.set(dut.t, step.t)
                    record(out)
                    await ctx.tick()
                ctx.set(dut.fire, 0)
                ctx.set(dut.step_end, 0)
                busy = 0
                while ctx.get(dut.busy):              # the engine waits for busy to fall
                    busy += 1
                    assert busy <= 10_000, f"busy does not fall after step {step.t}"
                    record(out)
                    await ctx.tick()
                out["busy"].append(busy)
            n = ctx.get(dut.n_winners)
            out["winners"] = []
            for i in range(n):
                ctx.set(dut.win_idx, i)
                out["winners"].append((ctx.get(dut.win_f), ctx.get(dut.win_y), ctx.get(dut.win_x),
                                       ctx.get(dut.win_t)))
            out["full"] = ctx.get(dut.full)
            seen.append(out)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _check(lay, k, radius, stream, seen, times, v_fire):
    """The unit against the cycle model, and both against the model's k-WTA."""
    pred = winner_pass(lay, k, radius, stream)
    assert seen["trace"] == pred.trace
    assert seen["busy"] == pred.busy
    assert seen["winners"] == pred.winners
    assert seen["full"] == (len(pred.winners) == k)
    ref = k_winners(times, v_fire, k, radius, lay.time_steps)
    assert [w[:3] for w in seen["winners"]] == [tuple(int(v) for v in w) for w in ref]
    for f, y, x, t in seen["winners"]:
        assert times[f, y, x] == t
    return pred


def _layer_case(tiny_net, layer, lanes, image, seed):
    cfg, net, times = tiny_net
    x = layer_input(net, layer, times[image:image + 1])
    weights, active = random_synapses(net, layer, seed, 0.2)
    lay = EngineLayout.for_input(cfg, layer, lanes, x)
    th = net.thresholds[layer]
    out = layer_output(lay, x, weights, active, th)
    stream = fire_stream(lay, integrate_pass(lay, x[0], weights, active, th).trace)
    return lay, stream, out.times[0], out.v_fire[0]


@pytest.mark.parametrize("layer, lanes, images, seed, k, radius", [
    (0, 3, (0, 1), 1, None, None),     # the config's k and radius; P does not divide 4 maps
    (0, 1, (2,), 2, 3, 0),             # one lane, radius 0
    (1, 4, (3, 4), 4, 5, 2),           # conv2, 6 maps on 4 lanes, many winners
    (1, 6, (5,), 5, 4, 1),             # one map per lane
])
def test_unit_on_engine_fire_stream(tiny_net, layer, lanes, images, seed, k, radius):
    lc = tiny_net[0].layers[layer]
    k = lc.winners if k is None else k
    radius = lc.inhibition_radius if radius is None else radius
    cases = [_layer_case(tiny_net, layer, lanes, image, seed + image) for image in images]
    lay = cases[0][0]
    seen = _simulate(lay, k, radius, [c[1] for c in cases])
    for (_, stream, times, v_fire), got in zip(cases, seen):
        pred = _check(lay, k, radius, stream, got, times, v_fire)
        assert len(pred.winners) >= 2, "the case must select several winners"
        assert max(max(sum(b[l] is not None for b in s.beats) for l in range(lanes))
                   for s in stream) >= 2, "lanes must buffer several fires"


def test_arrival_order_does_not_matter(tiny_net):
    # The engine's stream, then the same fires of each step in reverse and shuffled lane order.
    lay, stream, times, v_fire = _layer_case(tiny_net, 1, 4, 3, 7)
    streams = [stream] + [stream_from_layer(lay, times, v_fire, order, seed=3)
                          for order in ("reverse", "shuffle")]
    seen = _simulate(lay, 5, 1, streams)
    for s, got in zip(streams, seen):
        _check(lay, 5, 1, s, got, times, v_fire)
    assert seen[1]["winners"] == seen[0]["winners"] == seen[2]["winners"]


# -- hand-built layer outputs: 5 maps of 6 x 6 on P = 2 lanes (G = 3, the last group half empty)
HAND = EngineLayout(maps=5, channels=1, kernel=3, padding=1, side_in=6, time_steps=4, lanes=2,
                    weight_bits=8, potential_bits=10, max_events=36)


def _hand(fires):
    """fires: {(f, y, x): (t, v)} -> (times, v_fire) as the model's layer output."""
    times = np.full((HAND.maps, HAND.side_out, HAND.side_out), HAND.time_steps, dtype=np.int64)
    v_fire = np.zeros_like(times)
    for (f, y, x), (t, v) in fires.items():
        times[f, y, x], v_fire[f, y, x] = t, v
    return times, v_fire


def _run_hand(fires, k, radius, orders=("address", "reverse", "shuffle")):
    times, v_fire = _hand(fires)
    streams = [stream_from_layer(HAND, times, v_fire, o, seed=5) for o in orders]
    seen = _simulate(HAND, k, radius, streams)
    for s, got in zip(streams, seen):
        _check(HAND, k, radius, s, got, times, v_fire)
    return seen[0]


def test_ties_broken_by_potential_then_map_row_column():
    got = _run_hand({
        (2, 1, 1): (0, 9), (0, 4, 4): (0, 7),   # map 0 loses on potential
        (4, 0, 0): (0, 9), (2, 0, 5): (0, 9),   # map 2: row 0 beats row 1 despite its column
        (3, 1, 0): (0, 9), (3, 1, 3): (0, 9),   # map 3, row 1: column 0 wins
        (1, 5, 5): (0, 9),                      # map 1 (lane 1) beats map 2 (lane 0)
        (0, 2, 2): (1, 900),                    # a later step never beats an earlier one
    }, k=6, radius=0)
    assert [w[:3] for w in got["winners"]] == [(1, 5, 5), (2, 0, 5), (3, 1, 0), (4, 0, 0),
                                               (0, 4, 4)]
    # Step 1's one fire (map 0, already won) costs one pass of one entry that finds nothing.
    assert not got["full"] and got["busy"][1] == 1 * (1 + 1) + 1 and got["busy"][2:] == [0, 0]


def test_radius_excludes_across_maps_and_steps_until_k():
    got = _run_hand({
        (0, 2, 2): (0, 20),
        (1, 3, 3): (0, 15),     # another map, within radius 1 of (2, 2): inhibited
        (2, 4, 4): (0, 10),     # distance 2: allowed
        (1, 0, 5): (0, 5),
        # step 1: no fire at all
        (3, 1, 1): (2, 30),     # near the step-0 winner (2, 2)
        (2, 0, 0): (2, 50),     # map 2 already won
        (4, 5, 0): (2, 1),
        (3, 5, 5): (3, 99),     # k reached before step 3
    }, k=4, radius=1)
    assert [w for w in got["winners"]] == [(0, 2, 2, 0), (2, 4, 4, 0), (1, 0, 5, 0), (4, 5, 0, 2)]
    assert got["full"] and got["busy"][1] == 0 and got["busy"][3] == 0
    # The k-th winner ends its step: one pass, no pass that finds nothing after it.
    assert got["busy"][2] == 1 * (2 + 1) + 1


def test_k_reached_stops_within_a_step():
    fires = {(f, y, x): (1, 3 * f + y + x) for f in range(5) for y in range(0, 6, 2) for x in (1, 4)}
    got = _run_hand(fires, k=2, radius=1, orders=("shuffle",))
    assert got["full"] and len(got["winners"]) == 2
    n = max(sum(1 for (f, _, _) in fires if f % 2 == lane) for lane in range(2))
    assert got["busy"] == [0, 2 * (n + 1) + 1, 0, 0]


def test_bad_parameters_are_refused():
    with pytest.raises(HardwareConfigError, match=r"k \(winners\) = 0: must be an integer in 1 \.\. 64"):
        WinnerUnit(HAND, 0, 1)
    with pytest.raises(HardwareConfigError, match=r"radius \(inhibition_radius\) = -1: must be an integer in 0"):
        WinnerUnit(HAND, 2, -1)
    with pytest.raises(HardwareConfigError, match=r"k \(winners\) = 2.5: must be an integer"):
        WinnerUnit(HAND, 2.5, 1)
    with pytest.raises(HardwareConfigError, match="lanes = 6: must be 1 .. min"):
        WinnerUnit(EngineLayout(5, 1, 3, 1, 6, 4, 6, 8, 10, 36), 2, 1)
