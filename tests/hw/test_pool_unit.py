"""The outgoing unit (inhibition + pooling, hw/pool.py) under Amaranth's simulator: its event
memory against the model's next-layer event list, its trace cycle by cycle against
cycles/pool.py."""
from types import SimpleNamespace

import numpy as np
import pytest
from amaranth import Elaboratable, Module, unsigned
from amaranth.lib import memory
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import MNIST, layer_output, random_synapses
from hw.common import bits
from hw.integrate import event_layout, pack_event
from hw.pool import OutgoingUnit
from model import config
from cycles.layout import PoolLayout
from cycles.pool import (cycle_cost, fired_positions, inhibition_cycles, model_events,
                         outgoing_pass)
from cycles.layout import EngineLayout, HardwareConfigError


def _lc(size=2, stride=2, inhibition=True):
    return SimpleNamespace(pointwise_inhibition=inhibition, pool=SimpleNamespace(size=size, stride=stride))


class _Bench(Elaboratable):
    """The unit with the engine's lane memories (filled from images) and an event memory."""

    def __init__(self, lay, lc, fire, vfire):
        self.dut = OutgoingUnit(lay, lc)
        self.lay, self.fire, self.vfire = lay, fire, vfire
        self.events = memory.Memory(shape=unsigned(self.dut.ev_lay.size),
                                    depth=self.dut.pl.max_events, init=[])

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        m.submodules.events = self.events
        wp = self.events.write_port()
        m.d.comb += [wp.addr.eq(dut.ev_addr), wp.data.eq(dut.ev_data), wp.en.eq(dut.ev_we)]
        lay = self.lay
        for l in range(lay.lanes):
            for name, image, width, port in (("fire", self.fire, bits(lay.time_steps), dut.rd_fire),
                                             ("vfire", self.vfire, lay.potential_bits, dut.rd_vfire)):
                m.submodules[f"{name}{l}"] = mem = memory.Memory(
                    shape=unsigned(width), depth=lay.groups * lay.npos, init=[int(v) for v in image[l]])
                rp = mem.read_port()
                m.d.comb += [rp.addr.eq(dut.rd_addr), port[l].eq(rp.data)]
        return m


def _fires(lay, fire, fed, rng):
    """The engine's fires that set the unit's bitmap: per lane, the addresses of its maps that
    fired at a position of ``fed``, in a random order (back-to-back fires into one word)."""
    P, G, npos = lay.lanes, lay.groups, lay.npos
    per_lane = []
    for l in range(P):
        addrs = [g * npos + pos for g in range(G) if g * P + l < lay.maps
                 for pos in np.flatnonzero(fed) if fire[l][g * npos + pos] < lay.time_steps]
        per_lane.append([int(a) for a in rng.permutation(addrs)])
    return per_lane


def _simulate(lay, lc, fire, vfire, runs=1, limit=None, inhibit_only=(), fed=None):
    """Run the unit ``runs`` times (run i with ``inhibit_only`` if i is in it); before each,
    the fires of the positions in ``fed[i]`` (default: all) come in on the fire ports, all lanes
    at once. Per run: trace, event memory words, n_events, cycles, and the survivors presented
    (cycle, f, pos, t, v). A run longer than ``limit`` cycles (default: the cost formula's
    bound) fails."""
    pl = PoolLayout.from_config(lay, lc)
    limit = limit or cycle_cost(pl, np.ones(lay.npos, dtype=bool), pl.windows, pl.max_pooled,
                                pl.buckets, lay.time_steps)
    fed = fed or [np.ones(lay.npos, dtype=bool)] * runs
    bench = _Bench(lay, lc, np.asarray(fire), np.asarray(vfire))
    dut, ev_lay = bench.dut, bench.dut.ev_lay
    rng = np.random.default_rng(0)
    results = []

    async def tb(ctx):
        for run in range(runs):
            lanes = _fires(lay, np.asarray(fire), fed[run], rng)
            for k in range(max(map(len, lanes))):
                for l, addrs in enumerate(lanes):
                    ctx.set(dut.fire[l], k < len(addrs))
                    ctx.set(dut.fire_addr[l], addrs[k] if k < len(addrs) else 0)
                await ctx.tick()
            ctx.set(dut.fire, 0)
            ctx.set(dut.start, 1)
            ctx.set(dut.inhibit_only, run in inhibit_only)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.inhibit_only, 0)          # sampled at start only
            trace, addrs, surv = [], [], []
            while True:
                cycle = ctx.get(dut.cycle)
                if ctx.get(dut.surv):
                    surv.append((cycle, *(ctx.get(getattr(dut, f"surv_{n}")) for n in "f pos t v".split())))
                if ctx.get(dut.ev_we):
                    word = ctx.get(dut.ev_data)
                    trace.append((cycle, "event", *(word >> ev_lay[f].offset & ((1 << ev_lay[f].width) - 1)
                                                    for f in ("t", "c", "y", "x"))))
                    addrs.append(ctx.get(dut.ev_addr))
                assert cycle <= limit, f"no done after {limit} cycles"
                if ctx.get(dut.done):
                    trace.append((cycle, "done"))
                    n = ctx.get(dut.n_events)
                    await ctx.tick()
                    break
                await ctx.tick()
            assert addrs == list(range(len(addrs))), "events are written at 0, 1, ..."
            words = [ctx.get(bench.events.data[i]) for i in range(n)]
            results.append(dict(trace=trace, words=words, n=n, cycles=cycle + 1, surv=surv))

    sim = Simulator(bench)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return results


def _first_difference(expected, seen):
    for i, (a, b) in enumerate(zip(expected, seen)):
        if a != b:
            return f"record {i}: expected {a}, seen {b}"
    if len(expected) != len(seen):
        return f"lengths differ: expected {len(expected)} records, seen {len(seen)}"
    return None


def _check(lay, lc, fire, vfire, reference_events, next_lay=None, runs=1):
    """RTL against the cycle model (trace, cycles) and against ``reference_events``."""
    pred = outgoing_pass(lay, lc, fire, vfire)
    assert pred.events == reference_events
    next_lay = next_lay or PoolLayout.from_config(lay, lc).next_format()
    words = [pack_event(next_lay, *e) for e in reference_events]
    for seen in _simulate(lay, lc, fire, vfire, runs):
        assert _first_difference(pred.trace, seen["trace"]) is None, \
            _first_difference(pred.trace, seen["trace"])
        assert seen["words"] == words and seen["n"] == len(words)
        assert seen["cycles"] == pred.cycles
    return pred


# -- (1) real layer outputs of configs/tiny.yaml conv1 ----------------------------------------------
@pytest.mark.parametrize("image, lanes, seed", [
    (0, 4, None),   # the network's initial weights, one map per lane
    (1, 3, 1),      # random weights; P does not divide F (G = 2, last group half empty)
    (2, 1, 2),      # one lane, G = F
    (5, 2, 3),
])
def test_unit_on_real_layer_outputs(tiny_net, image, lanes, seed):
    cfg, net, times = tiny_net
    x = times[image:image + 1]
    lay = EngineLayout.for_input(cfg, 0, lanes, x)
    if seed is None:
        out = net.run_layer(0, x, None)
    else:
        out = layer_output(lay, x, *random_synapses(net, 0, seed, 0.2), net.thresholds[0])
    T = lay.time_steps
    # The case must exercise inhibition: positions where several maps fire.
    assert ((out.times[0] < T).sum(axis=0) > 1).any()
    side = PoolLayout.from_config(lay, cfg.layers[0]).side
    next_lay = EngineLayout.from_config(cfg, 1, 1, side_in=side, channels=lay.maps)
    assert event_layout(next_lay).size == event_layout(PoolLayout.from_config(lay, cfg.layers[0])
                                                       .next_format()).size
    reference = next_lay.events(net.outgoing(0, out)[0])
    assert len(reference) > 5
    _check(lay, cfg.layers[0], lay.to_lanes(out.times[0], T), lay.to_lanes(out.v_fire[0], 0),
           reference, next_lay)


# -- (2) hand-built cases ---------------------------------------------------------------------------
def _hand_layout(maps=3, side=4, lanes=2, T=8):
    return EngineLayout(maps, 1, 1, 0, side, T, lanes, 8, 14, 16)


def test_hand_built_ties_pooling_and_silence():
    lay, T = _hand_layout(), 8
    times = np.full((3, 4, 4), T)
    v = np.zeros((3, 4, 4), dtype=np.int64)

    def spike(f, y, x, t, pot):
        times[f, y, x], v[f, y, x] = t, pot
    # window (0, 0)
    spike(1, 0, 0, 3, 20); spike(2, 0, 0, 3, 20); spike(0, 0, 0, 3, 10)   # tie on v: map 1
    spike(0, 0, 1, 2, 9); spike(2, 0, 1, 2, 5)                             # larger v: map 0
    spike(1, 1, 0, 5, 1)                                                   # map 1 again, later
    spike(2, 1, 1, 6, 3); spike(0, 1, 1, 1, 1)                             # earliest: map 0 at 1
    # window (0, 1): no spike at all. window (1, 0): the last step, one map twice at once.
    spike(2, 2, 0, 7, 4); spike(2, 3, 1, 7, 4); spike(0, 2, 1, 7, 50)
    # window (1, 1): earliest beats a larger potential
    spike(1, 3, 3, 0, 30); spike(0, 3, 3, 4, 99)
    expected = [(0, 1, 1, 1), (1, 0, 0, 0), (3, 1, 0, 0), (7, 0, 1, 0), (7, 2, 1, 0)]
    pl = PoolLayout.from_config(lay, _lc())
    assert model_events(pl, times, v) == expected
    fire, vfire = lay.to_lanes(times, T), lay.to_lanes(v, 0)
    fire[1, lay.npos:] = 0                       # map 3 does not exist: garbage spikes, ignored
    vfire[1, lay.npos:] = (1 << 14) - 1
    pred = _check(lay, _lc(), fire, vfire, expected, runs=3)   # later passes start clean
    # 8 fired positions of G = 2 words in one bitmap word: walk 1 + 16, flush 4; 3 windows
    # hold one: (3 + 1) 4 + 3; events: T + 4 steps + 5 buckets + 5 events; DONE.
    fired = (times < T).any(axis=0).ravel()
    assert pred.cycles == 21 + 19 + 22 + 1 == cycle_cost(pl, fired, 3, 5, 5, 4)


def test_bitmap_is_cleared_by_each_pass(tiny_net):
    """Each pass walks only the positions whose fires came in since the last one: a pass fed
    half the fires after a full one, then a pass fed none, see exactly their own (the fire
    memories still hold every spike)."""
    cfg, net, times = tiny_net
    x = times[2:3]
    lay = EngineLayout.for_input(cfg, 0, 3, x)
    out = layer_output(lay, x, *random_synapses(net, 0, 4, 0.2), net.thresholds[0])
    T = lay.time_steps
    fire, vfire = lay.to_lanes(out.times[0], T), lay.to_lanes(out.v_fire[0], 0)
    y = np.arange(lay.npos) // lay.side_out
    fed = [np.ones(lay.npos, dtype=bool), y >= lay.side_out // 2, np.zeros(lay.npos, dtype=bool)]
    seen = _simulate(lay, cfg.layers[0], fire, vfire, runs=3, fed=fed)
    for run, mask in zip(seen, fed):
        pred = outgoing_pass(lay, cfg.layers[0], np.where(np.tile(mask, lay.groups), fire, T), vfire)
        assert _first_difference(pred.trace, run["trace"]) is None, _first_difference(pred.trace, run["trace"])
        assert run["cycles"] == pred.cycles
    full, half, none = (len(r["trace"]) for r in seen)
    assert full > half > none == 1


def test_inhibition_only_pass_streams_the_survivors(tiny_net):
    """A learning command's pass (``inhibit_only``): phase A and DONE, no event written; every
    position's surviving spike presented in the cycle its survivor is written, as
    cycles.pool.inhibition_pass predicts; a full pass after it is unchanged."""
    from cycles.pool import inhibition_pass
    cfg, net, times = tiny_net
    x = times[1:2]
    lay = EngineLayout.for_input(cfg, 0, 3, x)                 # G = 2
    out = layer_output(lay, x, *random_synapses(net, 0, 1, 0.2), net.thresholds[0])
    T = lay.time_steps
    fire, vfire = lay.to_lanes(out.times[0], T), lay.to_lanes(out.v_fire[0], 0)
    pred = inhibition_pass(lay, cfg.layers[0], fire, vfire)
    full = outgoing_pass(lay, cfg.layers[0], fire, vfire)
    first, again = _simulate(lay, cfg.layers[0], fire, vfire, runs=2, inhibit_only=(0,))
    fired = fired_positions(lay, fire)
    assert first["trace"] == pred.trace
    assert first["cycles"] == pred.cycles == inhibition_cycles(PoolLayout.from_config(lay, _lc()), fired) + 1
    assert first["n"] == 0
    expect = [(c, f, pos, t, v) for c, pos in pred.stream
              for f, t, v in [pred.survivors[pos].tolist()] if t < T]
    assert [pos for _, pos in pred.stream] == np.flatnonzero(fired).tolist()   # ascending
    assert first["surv"] == expect
    # the survivors are the spikes pointwise inhibition leaves, several maps meeting at a position
    assert len(expect) > 10 and ((out.times[0] < T).sum(axis=0) > 1).any()
    assert again["trace"] == full.trace and again["cycles"] == full.cycles and again["surv"] == expect


def test_no_spike_at_all():
    lay = _hand_layout()
    fire, vfire = np.full((2, 2 * 16), 8), np.zeros((2, 2 * 16))
    pred = _check(lay, _lc(), fire, vfire, [])
    assert pred.trace == [(pred.cycles - 1, "done")]
    assert pred.cycles == cycle_cost(PoolLayout.from_config(lay, _lc()), np.zeros(16, dtype=bool), 0, 0, 0, 0)


@pytest.mark.parametrize("maps, lanes, side, size, stride, seed", [
    (5, 3, 7, 3, 2, 11),    # overlapping windows
    (5, 2, 8, 2, 3, 12),    # gaps between windows
    (3, 3, 5, 1, 1, 13),    # no pooling: inhibition only
])
def test_random_fire_maps_any_window(maps, lanes, side, size, stride, seed):
    lay, T = _hand_layout(maps, side, lanes, T=6), 6
    rng = np.random.default_rng(seed)
    times = np.where(rng.random((maps, side, side)) < 0.4, rng.integers(0, T, (maps, side, side)), T)
    v = np.where(times < T, rng.integers(10, 13, times.shape), 0)     # many ties on potential
    pl = PoolLayout.from_config(lay, _lc(size, stride))
    _check(lay, _lc(size, stride), lay.to_lanes(times, T), lay.to_lanes(v, 0),
           model_events(pl, times, v))


# -- (3) refused configurations ---------------------------------------------------------------------
def test_bad_configs_are_refused():
    cfg = config.load(MNIST)
    conv2 = EngineLayout.from_config(cfg, 1, 10, side_in=14, channels=30)
    with pytest.raises(HardwareConfigError, match=r"pool.size = 0 .*no outgoing unit"):
        OutgoingUnit(conv2, cfg.layers[1])
    conv1 = EngineLayout.from_config(cfg, 0, 10, side_in=28, channels=2)
    with pytest.raises(HardwareConfigError, match=r"pointwise_inhibition = false: .* needs "
                                                  r"pointwise_inhibition = true"):
        OutgoingUnit(conv1, _lc(inhibition=False))
    with pytest.raises(HardwareConfigError, match=r"pool.size = 30: larger than the 28x28"):
        OutgoingUnit(conv1, _lc(30, 1))
    with pytest.raises(HardwareConfigError, match=r"lanes = 31: must be 1 .. min"):
        outgoing_pass(EngineLayout.from_config(cfg, 0, 31, 28, 2), cfg.layers[0],
                      np.zeros((31, 784)), np.zeros((31, 784)))


# -- (4) the MNIST conv1 size --------------------------------------------------------------------------
def test_mnist_conv1_size_synthetic():
    cfg = config.load(MNIST)
    lay, lc = EngineLayout.from_config(cfg, 0, 10, side_in=28, channels=2), cfg.layers[0]
    assert (lay.maps, lay.side_out, lay.time_steps, lc.pool.size, lc.pool.stride) == (30, 28, 15, 2, 2)
    T = lay.time_steps
    rng = np.random.default_rng(5)
    shape = (lay.maps, lay.side_out, lay.side_out)
    times = np.where(rng.random(shape) < 0.08, rng.integers(0, T, shape), T)
    v = np.where(times < T, rng.integers(3840, 3844, shape), 0)
    pl = PoolLayout.from_config(lay, lc)
    next_lay = EngineLayout.from_config(cfg, 1, 10, side_in=pl.side, channels=lay.maps)
    pred = _check(lay, lc, lay.to_lanes(times, T), lay.to_lanes(v, 0),
                  model_events(pl, times, v), next_lay)
    assert len(pred.events) > 200


@st.composite
def fire_maps(draw):
    """A random layout and pooling window, and random fire times (T: no fire) with potentials
    from a narrow range (many ties)."""
    maps, side = draw(st.integers(1, 5)), draw(st.integers(2, 7))
    size = draw(st.integers(1, min(3, side)))
    stride = 1 if size == 1 else draw(st.integers(1, 3))
    lay, T = _hand_layout(maps, side, draw(st.integers(1, maps)), T=6), 6
    times = draw(hnp.arrays(np.int64, (maps, side, side), elements=st.integers(0, T)))
    v = np.where(times < T, draw(hnp.arrays(np.int64, times.shape, elements=st.integers(10, 12))), 0)
    return lay, T, size, stride, times, v


@pytest.mark.timeout(600)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fire_maps())
def test_random_layouts_and_windows(case):
    lay, T, size, stride, times, v = case
    pl = PoolLayout.from_config(lay, _lc(size, stride))
    _check(lay, _lc(size, stride), lay.to_lanes(times, T), lay.to_lanes(v, 0),
           model_events(pl, times, v))
