"""Property tests: the layer against a slow reference, pruning, determinism, k-WTA invariants."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from conftest import layer_input, tiny
from model import layer as L, network
from model.wta import k_winners

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- a slow, obviously-correct reference of one layer ------------------------------------------

def reference_layer(times, w, active, k, pad, T, th, vmax):
    """Step by step, event by event, synapse by synapse, in plain Python.

    Returns (fire, v_fire, v_final, sop_done, sop_skipped, events), events the list of spikes
    (b, f, y, x, t) in the order they happen.
    """
    B, C, S, _ = times.shape
    F = w.shape[0]
    so = S + 2 * pad - k + 1
    fire = np.full((B, F, so, so), T, np.int64)
    v_fire = np.zeros((B, F, so, so), dtype=object)
    v_final = np.zeros((B, F, so, so), dtype=object)
    done, skipped, events = [0] * B, [0] * B, []
    for b in range(B):
        v = [[[0 for _ in range(so)] for _ in range(so)] for _ in range(F)]
        has_fired = [[[False] * so for _ in range(so)] for _ in range(F)]
        for t in range(T):
            for c in range(C):
                for y in range(S):
                    for x in range(S):
                        if times[b, c, y, x] != t:
                            continue
                        # input (y, x) -> padded (y + pad, x + pad) -> output (oy, ox) = that
                        # minus the kernel offset (ky, kx)
                        for f in range(F):
                            for ky in range(k):
                                for kx in range(k):
                                    oy, ox = y + pad - ky, x + pad - kx
                                    if not (0 <= oy < so and 0 <= ox < so):
                                        continue
                                    if active[f, c, ky, kx]:
                                        s = v[f][oy][ox] + w[f, c, ky, kx].item()
                                        v[f][oy][ox] = min(s, vmax)
                                        done[b] += 1
                                    else:
                                        skipped[b] += 1
            for f in range(F):
                for oy in range(so):
                    for ox in range(so):
                        if not has_fired[f][oy][ox] and v[f][oy][ox] >= th:
                            has_fired[f][oy][ox] = True
                            events.append((b, f, oy, ox, t))
                            fire[b, f, oy, ox] = t
                            v_fire[b, f, oy, ox] = v[f][oy][ox]
        for f in range(F):
            for oy in range(so):
                for ox in range(so):
                    v_final[b, f, oy, ox] = v[f][oy][ox]
    return fire, v_fire, v_final, done, skipped, events


@st.composite
def layer_case(draw):
    k = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    side = draw(st.integers(max(1, k - 2 * pad), 5))
    B, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    T = draw(st.integers(2, 6))
    n_in, n_w = B * C * side * side, F * C * k * k
    # spike times 0..T-1, or T (no spike), often
    times = draw(st.lists(st.one_of(st.integers(0, T - 1), st.just(T)), min_size=n_in,
                          max_size=n_in))
    w = draw(st.lists(st.integers(0, 12), min_size=n_w, max_size=n_w))
    active = draw(st.lists(st.booleans(), min_size=n_w, max_size=n_w))
    vmax = draw(st.integers(1, 60))
    th = draw(st.integers(1, 70))
    real = draw(st.booleans())       # float mode: weights in quarters (exact in float64)
    return dict(times=np.array(times, np.int16).reshape(B, C, side, side),
                w=np.array(w, np.int64).reshape(F, C, k, k),
                active=np.array(active, bool).reshape(F, C, k, k),
                k=k, pad=pad, T=T, th=th, vmax=vmax, real=real)


def _run(case, w=None, times=None, active=None):
    w = case["w"] if w is None else w
    times = case["times"] if times is None else times
    active = case["active"] if active is None else active
    if case["real"]:
        vmax = np.inf if case["vmax"] > 50 else case["vmax"] / 4
        return L.integrate(times, w / 4, active, case["k"], case["pad"], case["T"],
                           case["th"] / 4, vmax, np.float64)
    return L.integrate(times, w, active, case["k"], case["pad"], case["T"], case["th"],
                       case["vmax"], np.int64)


@SETTINGS
@given(layer_case())
def test_integrate_matches_reference(case):
    out = _run(case)
    if case["real"]:
        vmax = np.inf if case["vmax"] > 50 else case["vmax"] / 4
        ref = reference_layer(case["times"], case["w"] / 4, case["active"], case["k"],
                              case["pad"], case["T"], case["th"] / 4, vmax)
    else:
        ref = reference_layer(case["times"], case["w"], case["active"], case["k"], case["pad"],
                              case["T"], case["th"], case["vmax"])
    fire, v_fire, v_final, done, skipped, events = ref
    assert out.times.shape == fire.shape
    assert np.array_equal(out.times, fire)
    assert out.v_fire.tolist() == v_fire.tolist()
    assert out.v_final.tolist() == v_final.tolist()
    assert out.sop_done.tolist() == done and out.sop_skipped.tolist() == skipped

    # One spike per neuron at most, and integrate's spikes are exactly the reference's events.
    neurons = [e[:4] for e in events]
    assert len(neurons) == len(set(neurons))
    T = case["T"]
    assert ((out.times >= 0) & (out.times <= T)).all()
    fired = {tuple(int(i) for i in idx) for idx in zip(*np.nonzero(out.times < T))}
    assert fired == set(neurons)
    for b, f, y, x, t in events:
        assert out.times[b, f, y, x] == t


@SETTINGS
@given(layer_case(), st.data())
def test_first_spike_is_causal(case, data):
    # Spikes up to step t depend only on input spikes up to t: cut the input after t and the
    # spikes at or before t are unchanged (time and potential), the later ones disappear.
    T = case["T"]
    out = _run(case)
    t = data.draw(st.integers(0, T - 1))
    cut = np.where(case["times"] <= t, case["times"], T).astype(np.int16)
    out_cut = _run(case, times=cut)
    early = out.times <= t
    assert np.array_equal(out_cut.times[early], out.times[early])
    assert np.array_equal(out_cut.v_fire[early], out.v_fire[early])
    assert (out_cut.times[~early] == T).all()
    # v_fire is the potential after the step of the spike: equal to the final potential of the
    # input cut after that step, and at least the threshold.
    th = case["th"] / 4 if case["real"] else case["th"]
    at_t = out.times == t
    assert np.array_equal(out_cut.v_final[at_t], out.v_fire[at_t])
    assert (out.v_fire[out.times < T] >= th).all()
    assert (out.v_fire[out.times < T] <= out.v_final[out.times < T]).all()


@SETTINGS
@given(layer_case(), st.data())
def test_pruned_synapse_never_contributes(case, data):
    pruned = ~case["active"]
    assume(pruned.any())
    other = data.draw(st.lists(st.integers(0, 255), min_size=pruned.size, max_size=pruned.size))
    w2 = np.where(pruned, np.array(other).reshape(pruned.shape), case["w"])
    a, b = _run(case), _run(case, w=w2)
    for name in ("times", "v_fire", "v_final", "sop_done", "sop_skipped"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


# -- the network with pruned connections ---------------------------------------------------------

@SLOW
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 0.7))
def test_network_features_ignore_pruned_weights(tiny_data, seed, fraction):
    net = network.Network(tiny())
    rs = np.random.default_rng(seed)
    net.pruned = [rs.random(s) < fraction for s in net.shapes]
    images = tiny_data.train_x[:6]
    feats = net.features(images)
    for i, s in enumerate(net.shapes):
        net.weights[i] = np.where(net.pruned[i], rs.integers(0, 256, s), net.weights[i]).astype(
            net.weights[i].dtype)
    assert np.array_equal(net.features(images), feats)


def test_network_features_depend_on_unpruned_weights(tiny_data):
    # The counterpart of the test above: the same change on unpruned weights is visible.
    net = network.Network(tiny())
    rs = np.random.default_rng(1)
    net.pruned = [rs.random(s) < 0.3 for s in net.shapes]
    images = tiny_data.train_x[:6]
    feats = net.features(images)
    i = 1
    net.weights[i] = np.where(~net.pruned[i], rs.integers(0, 256, net.shapes[i]),
                              net.weights[i]).astype(net.weights[i].dtype)
    assert not np.array_equal(net.features(images), feats)


# -- pruning during learning ---------------------------------------------------------------------

@SLOW
@given(seed=st.integers(0, 2**32 - 1), threshold=st.sampled_from([0.74, 0.78, 0.8, 0.82]),
       warmup=st.integers(1, 12))
def test_mask_grows_weights_freeze_and_hardware_schedule(tiny_encoded, seed, threshold, warmup):
    cfg = tiny(**{"seed": seed, "pruning.threshold": threshold, "pruning.warmup": warmup,
                  "stdp.a_plus": 0.05, "stdp.a_minus": -0.04})
    th_q = round(threshold * 256)
    net = network.Network(cfg)
    n_img = 20
    for i in range(len(net.shapes)):
        times = layer_input(net, i, tiny_encoded[:n_img])
        hw = np.zeros(net.shapes[i], bool)
        for j in range(n_img):
            mask0, w0 = net.pruned[i].copy(), net.weights[i].copy()
            winners = net.learn(i, times[j:j + 1])
            mask, w = net.pruned[i], net.weights[i]
            assert (mask | mask0 == mask).all()                       # only grows
            assert np.array_equal(w[mask0], w0[mask0])                # pruned: frozen
            if j + 1 == warmup:                                       # hardware schedule
                hw |= w < th_q
            elif j + 1 > warmup:
                for f in winners[:, 0]:
                    hw[f] |= w[f] < th_q
            assert np.array_equal(mask, hw)
            assert not (mask & (w >= th_q) & ~mask0).any()            # new ones are below th
        if warmup <= n_img:
            assert net.pruned[i].any()      # not vacuous: init ~N(205, 12.8) LSBs, th >= 189


# -- determinism -----------------------------------------------------------------------------------

def _train(cfg, enc, n=12):
    net = network.Network(cfg)
    for i in range(len(net.shapes)):
        times = layer_input(net, i, enc[:n])
        for j in range(n):
            net.learn(i, times[j:j + 1])
    return net


def test_same_seed_same_result(tiny_encoded):
    cfg = tiny(**{"pruning.threshold": 0.78, "pruning.warmup": 4, "stdp.a_plus": 0.05,
                  "stdp.a_minus": -0.04})
    a, b = _train(cfg, tiny_encoded), _train(cfg, tiny_encoded)
    sa, sb = a.state(), b.state()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert np.array_equal(sa[key], sb[key]), key
    assert a.learned == [12, 12] and any(p.any() for p in a.pruned)
    c = _train(tiny(**{"seed": 8, "pruning.threshold": 0.78, "pruning.warmup": 4,
                       "stdp.a_plus": 0.05, "stdp.a_minus": -0.04}), tiny_encoded)
    assert not np.array_equal(c.weights[0], a.weights[0])
    assert not np.array_equal(network.Network(tiny(seed=8)).weights[0],
                              network.Network(tiny()).weights[0])


# -- k winners ---------------------------------------------------------------------------------------

@st.composite
def wta_case(draw):
    F, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    T = draw(st.integers(2, 6))
    n = F * h * w
    times = draw(st.lists(st.one_of(st.integers(0, T - 1), st.just(T)), min_size=n, max_size=n))
    v = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))     # small: many ties
    times = np.array(times, np.int16).reshape(F, h, w)
    v = np.where(times < T, np.array(v).reshape(F, h, w), 0).astype(np.int64)
    return times, v, draw(st.integers(1, 5)), draw(st.integers(0, 3)), T


def _key(times, v, f, y, x):
    return (int(times[f, y, x]), -int(v[f, y, x]), f, y, x)


@SETTINGS
@given(wta_case())
def test_k_winners_invariants(case):
    times, v, k, r, T = case
    win = k_winners(times, v, k, r, T)
    assert win.ndim == 2 and win.shape[1] == 3 and len(win) <= k
    maps = win[:, 0].tolist()
    assert len(set(maps)) == len(maps)
    for a in range(len(win)):
        assert times[tuple(win[a])] < T                                    # fired
        for b in range(a):
            assert max(abs(win[a, 1] - win[b, 1]), abs(win[a, 2] - win[b, 2])) > r
    cands = [tuple(int(i) for i in c) for c in zip(*np.nonzero(times < T))]
    if cands:
        best = min(cands, key=lambda c: _key(times, v, *c))
        assert tuple(win[0]) == best
    else:
        assert len(win) == 0

    # Greedy reference over the full ranking.
    expect = []
    for c in sorted(cands, key=lambda c: _key(times, v, *c)):
        if len(expect) == k:
            break
        if any(c[0] == e[0] or max(abs(c[1] - e[1]), abs(c[2] - e[2])) <= r for e in expect):
            continue
        expect.append(c)
    assert [tuple(x) for x in win.tolist()] == expect


# -- one learning step, rebuilt from the documented rule ------------------------------------------

def test_learn_applies_the_documented_stdp_rule(tiny_encoded):
    # Pruning off, a fixed random mask: learn() must (1) pick the k-WTA winners of the layer's
    # output, (2) update each winner's unpruned synapses with a = a+ if the input spiked no later
    # than the winner (padding and silent inputs count as later), a- otherwise, using the word
    # fmix32(round_key ^ addr), addr = map * fan_in + (c * k + ky) * k + kx, and (3) leave
    # everything else alone.
    from conftest import M32, fmix32
    cfg = tiny(**{"pruning.enabled": False, "stdp.a_plus": 0.05, "stdp.a_minus": -0.04})
    # a+ = round(0.05 * 65536) = round(3276.8) = 3277; |a-| = round(2621.44) = 2621 (n < 20)
    rates = (3277, 2621)
    net = network.Network(cfg)
    rs = np.random.default_rng(5)
    net.pruned = [rs.random(s) < 0.2 for s in net.shapes]
    T = cfg.input.time_steps
    seen_ltp = seen_ltd = 0
    for i, lc in enumerate(cfg.layers):
        times = layer_input(net, i, tiny_encoded[:6])
        k, pad = lc.kernel, lc.padding
        C = net.shapes[i][1]
        fan_in = C * k * k
        layer_key = fmix32(cfg.seed ^ (((i + 1) * 0x9E3779B9) & M32))
        for n in range(6):
            x = times[n:n + 1]
            out = L.integrate(x, net.weights[i], ~net.pruned[i], k, pad, T, net.thresholds[i],
                              (1 << 14) - 1, np.int64)
            expect_win = k_winners(out.times[0], out.v_fire[0], lc.winners,
                                   lc.inhibition_radius, T)
            before = net.weights[i].copy()
            win = net.learn(i, x)
            assert np.array_equal(win, expect_win)
            expect = before.copy()
            rk = fmix32(layer_key ^ n)
            for f, y, xx in win.tolist():
                post = out.times[0, f, y, xx]
                for c in range(C):
                    for ky in range(k):
                        for kx in range(k):
                            if net.pruned[i][f, c, ky, kx]:
                                continue
                            iy, ix = y + ky - pad, xx + kx - pad
                            inside = 0 <= iy < x.shape[2] and 0 <= ix < x.shape[3]
                            pre = x[0, c, iy, ix] if inside else T
                            ltp = pre <= post
                            seen_ltp += ltp
                            seen_ltd += not ltp
                            q = int(before[f, c, ky, kx])
                            word = fmix32(rk ^ (f * fan_in + (c * k + ky) * k + kx))
                            dq = (rates[0 if ltp else 1] * q * (256 - q) + (word & 0xFFFFFF)) >> 24
                            expect[f, c, ky, kx] = min(max(q + dq if ltp else q - dq, 0), 255)
            assert np.array_equal(net.weights[i], expect), (i, n)
    assert seen_ltp > 0 and seen_ltd > 0
