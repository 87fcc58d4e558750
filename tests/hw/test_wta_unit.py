"""The winner unit (hw/wta.py) under Amaranth's simulator: its winners against model.wta.k_winners,
its trace cycle by cycle against cycles/wta.py, fed the integrate engine's fire stream."""
import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
            out["winners"] = _read_winners(ctx, dut)
            out["full"] = ctx.get(dut.full)
            seen.append(out)

    _run(dut, bench)
    return seen


def _read_winners(ctx, dut):
    """The winner registers read back, (f, y, x, t) each."""
    out = []
    for i in range(ctx.get(dut.n_winners)):
        ctx.set(dut.win_idx, i)
        out.append((ctx.get(dut.win_f), ctx.get(dut.win_y), ctx.get(dut.win_x), ctx.get(dut.win_t)))
    return out


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


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


def _run_hand(fires, k, radius, orders=("address", "reverse", "shuffle"), gap=2):
    times, v_fire = _hand(fires)
    streams = [stream_from_layer(HAND, times, v_fire, o, seed=5) for o in orders]
    seen = _simulate(HAND, k, radius, streams, gap)
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
    assert not got["full"] and got["busy"][1] == 1 * (1 + 1) + 2 and got["busy"][2:] == [0, 0]


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
    assert got["busy"][2] == 1 * (2 + 1) + 2


def test_k_reached_stops_within_a_step():
    fires = {(f, y, x): (1, 3 * f + y + x) for f in range(5) for y in range(0, 6, 2) for x in (1, 4)}
    got = _run_hand(fires, k=2, radius=1, orders=("shuffle",))
    assert got["full"] and len(got["winners"]) == 2
    n = max(sum(1 for (f, _, _) in fires if f % 2 == lane) for lane in range(2))
    assert got["busy"] == [0, 2 * (n + 1) + 2, 0, 0]


def test_bad_parameters_are_refused():
    with pytest.raises(HardwareConfigError, match=r"k \(winners\) = 0: must be an integer in 1 \.\. 64"):
        WinnerUnit(HAND, 0, 1)
    with pytest.raises(HardwareConfigError, match=r"radius \(inhibition_radius\) = -1: must be an integer in 0"):
        WinnerUnit(HAND, 2, -1)
    with pytest.raises(HardwareConfigError, match=r"k \(winners\) = 2.5: must be an integer"):
        WinnerUnit(HAND, 2.5, 1)
    with pytest.raises(HardwareConfigError, match="lanes = 6: must be 1 .. min"):
        WinnerUnit(EngineLayout(5, 1, 3, 1, 6, 4, 6, 8, 10, 36), 2, 1)


# -- survivor mode: the spikes pointwise inhibition leaves, from the outgoing unit's phase A ---
def _simulate_survivors(lay, k, radius, streams, spacing=1, seed=0):
    """Run the unit in survivor mode on several images' survivor streams [(f, y, x, t, v)],
    one survivor every ``spacing`` cycles (the outgoing unit's G), ``step_end`` after the last;
    per image the trace, the busy cycles, the cycle ``done`` rose (0: with ``step_end``) and
    the winners read back."""
    dut = WinnerUnit(lay, k, radius, survivors=True)
    junk = np.random.default_rng(seed)
    seen = []

    async def bench(ctx):
        for stream in streams:
            out = {"trace": [], "done": []}
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for f, y, x, t, v in stream:
                for i in range(spacing):
                    first = i == spacing - 1
                    # Between survivors the ports carry junk, as the outgoing unit's do.
                    ctx.set(dut.surv, first)
                    ctx.set(dut.surv_f, f if first else int(junk.integers(lay.maps)))
                    ctx.set(dut.surv_pos, y * lay.side_out + x if first else int(junk.integers(lay.npos)))
                    ctx.set(dut.surv_t, t if first else int(junk.integers(lay.time_steps)))
                    ctx.set(dut.surv_v, v if first else int(junk.integers(1 << lay.potential_bits)))
                    assert not ctx.get(dut.busy) and not ctx.get(dut.done)
                    await ctx.tick()
            ctx.set(dut.surv, 0)
            ctx.set(dut.step_end, 1)
            if ctx.get(dut.done):
                out["done"].append(0)
            await ctx.tick()
            ctx.set(dut.step_end, 0)
            busy = 0
            while ctx.get(dut.busy):
                busy += 1
                assert busy <= 10_000, "busy does not fall"
                if ctx.get(dut.tr_winner):
                    out["trace"].append((ctx.get(dut.cycle), "winner", ctx.get(dut.tr_win_f),
                                         ctx.get(dut.tr_win_y), ctx.get(dut.tr_win_x)))
                if ctx.get(dut.done):
                    out["done"].append(busy)
                await ctx.tick()
            out["busy"] = [busy]
            out["winners"] = _read_winners(ctx, dut)
            seen.append(out)

    _run(dut, bench)
    return seen


def _survivors(lay, lc, times, v_fire):
    """The outgoing unit's survivor stream for a layer output (cycles.pool)."""
    from cycles.pool import inhibition_pass
    from cycles.wta import survivor_stream
    T = lay.time_steps
    inh = inhibition_pass(lay, lc, lay.to_lanes(times, T), lay.to_lanes(v_fire, 0))
    return survivor_stream(lay, inh.survivors)


def _check_survivors(lay, lc, k, radius, stream, seen, times, v_fire):
    """The unit against survivor_pass, and both against the model's learning order."""
    from model.wta import learning_winners
    from cycles.wta import survivor_pass
    pred = survivor_pass(lay, k, radius, stream)
    assert seen["trace"] == pred.trace
    assert seen["busy"] == pred.busy
    assert seen["done"] == [pred.busy[0]], "done: the last busy cycle, or with step_end if none"
    assert seen["winners"] == pred.winners
    ref = learning_winners(lc.model_copy(update={"winners": k, "inhibition_radius": radius}),
                           times, v_fire, lay.time_steps)
    assert [w[:3] for w in seen["winners"]] == [tuple(int(v) for v in w) for w in ref]
    return pred


# conv1 of configs/mnist.yaml (pointwise inhibition, pooling 2) on 6 maps of 10 x 10, P = 4.
SURV = EngineLayout(maps=6, channels=1, kernel=3, padding=1, side_in=10, time_steps=15, lanes=4,
                    weight_bits=8, potential_bits=10, max_events=100)


def _mnist_conv1():
    from model import config
    return config.load("configs/mnist.yaml").layers[0]


@pytest.mark.parametrize("spacing", [1, 2])
def test_survivor_mode_takes_no_inhibited_spike(spacing):
    """The hand-worked cases of tests/model/test_wta.py through the unit: map 4 wins at (1, 7) at
    t = 2; at (3, 2) all six maps fire at t = 3 and only map 4's spike survives, so no winner is
    at (3, 2); at (5, 3) map 4's spike at t = 2 inhibits map 0's at t = 3."""
    lc = _mnist_conv1()
    cases = [
        {(4, 1, 7): (2, 20), (1, 6, 6): (4, 17), (0, 9, 0): (4, 16),
         **{(f, 3, 2): (3, v) for f, v in enumerate((16, 17, 19, 15, 21, 18))}},
        {(4, 1, 7): (2, 20), (4, 5, 3): (2, 10), (0, 5, 3): (3, 30), (3, 8, 8): (4, 5)},
        {},                                              # no spike: done with step_end
    ]
    grids = []
    for fires in cases:
        times = np.full((6, 10, 10), 15, dtype=np.int64)
        v_fire = np.zeros_like(times)
        for (f, y, x), (t, v) in fires.items():
            times[f, y, x], v_fire[f, y, x] = t, v
        grids.append((times, v_fire))
    streams = [_survivors(SURV, lc, *g) for g in grids]
    seen = _simulate_survivors(SURV, lc.winners, lc.inhibition_radius, streams, spacing)
    for stream, got, g in zip(streams, seen, grids):
        _check_survivors(SURV, lc, lc.winners, lc.inhibition_radius, stream, got, *g)
    assert [w[:3] for w in seen[0]["winners"]] == [(4, 1, 7), (1, 6, 6), (0, 9, 0)]
    assert [w for w in seen[1]["winners"]] == [(4, 1, 7, 2), (3, 8, 8, 4)]
    # 4 survivors (one at (3, 2)) on 4 banks: N = 1; three winners and a pass that finds none.
    assert len(streams[0]) == 4 and seen[0]["busy"] == [4 * (1 + 1) + 2]
    assert seen[2]["busy"] == [0]


@pytest.mark.parametrize("layer_lanes_images_k_radius", [
    (3, (0, 1), None, None),     # the config's k and radius; P does not divide 4 maps
    (4, (2, 3), 3, 0),           # radius 0
    (1, (4,), 4, 1),             # one bank
])
def test_survivor_mode_on_engine_output(tiny_net, layer_lanes_images_k_radius):
    lanes, images, k, radius = layer_lanes_images_k_radius
    lc = tiny_net[0].layers[0]
    assert lc.pointwise_inhibition
    k = lc.winners if k is None else k
    radius = lc.inhibition_radius if radius is None else radius
    cases = [_layer_case(tiny_net, 0, lanes, image, 11 + image) for image in images]
    lay = cases[0][0]
    streams = [_survivors(lay, lc, times, v) for _, _, times, v in cases]
    seen = _simulate_survivors(lay, k, radius, streams, spacing=lay.groups)
    for (_, _, times, v_fire), stream, got in zip(cases, streams, seen):
        pred = _check_survivors(lay, lc, k, radius, stream, got, times, v_fire)
        assert len(pred.winners) >= 2 and len(stream) > 2 * lanes, "the case must select from many"


@st.composite
def hand_fires(draw):
    """Random fires of the hand-built layer (at most one per neuron, potentials from a narrow
    range so that ties are common), with k and the radius."""
    neurons = st.tuples(st.integers(0, HAND.maps - 1), st.integers(0, HAND.side_out - 1),
                        st.integers(0, HAND.side_out - 1))
    fire = st.tuples(st.integers(0, HAND.time_steps - 1), st.integers(1, 12))
    fires = draw(st.dictionaries(neurons, fire, max_size=40))
    return fires, draw(st.integers(1, HAND.maps)), draw(st.integers(0, 2))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("gap", [2, 0])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hand_fires())
def test_unit_on_random_fires_in_any_order(gap, case):
    # gap 0: the next step's fires come the cycle after busy falls, while the reads the last
    # pass issued ahead are still in flight (they must not become candidates)
    fires, k, radius = case
    _run_hand(fires, k, radius, gap=gap)   # winners and trace against the model, in three orders
