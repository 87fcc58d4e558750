"""model/wta.py: k winners with an inhibition radius, by hand."""
from __future__ import annotations

import numpy as np
import pytest

from model.wta import k_winners, learning_winners

T = 5


def _grid(cands, f=3, side=4):
    times = np.full((f, side, side), T, np.int16)
    v = np.zeros((f, side, side), np.int64)
    for (m, y, x), (t, p) in cands.items():
        times[m, y, x], v[m, y, x] = t, p
    return times, v


# (map, row, col): (time, potential). Ranking by (time, -potential, map, row, col):
#   B (1,1,2) t1 v25;  D (2,2,2) t1 v25 (ties B, higher map);  C (0,1,1) t1 v20;
#   A (0,0,0) t2 v30;  E (2,3,3) t2 v5;  F (1,3,0) t3 v50.
CANDS = {(0, 0, 0): (2, 30), (1, 1, 2): (1, 25), (0, 1, 1): (1, 20),
         (2, 2, 2): (1, 25), (2, 3, 3): (2, 5), (1, 3, 0): (3, 50)}


def test_radius_one_k3():
    # B wins. D: map 2 free but Chebyshev distance |2-1|,|2-2| -> 1 <= 1: out. C: distance 1: out.
    # A: distance max(1, 2) = 2: wins. E: distance 2 from B, 3 from A: wins. k = 3 reached.
    w = k_winners(*_grid(CANDS), 3, 1, T)
    assert w.tolist() == [[1, 1, 2], [0, 0, 0], [2, 3, 3]]


def test_fewer_candidates_than_k():
    # k = 5: after B, A, E only F is left, and its map (1) already won.
    w = k_winners(*_grid(CANDS), 5, 1, T)
    assert w.shape == (3, 3)
    assert w.tolist() == [[1, 1, 2], [0, 0, 0], [2, 3, 3]]


def test_radius_zero():
    # Only the map rule: B, then D (map 2), then C (map 0): k = 3.
    w = k_winners(*_grid(CANDS), 3, 0, T)
    assert w.tolist() == [[1, 1, 2], [2, 2, 2], [0, 1, 1]]


def test_k_one_and_large_radius():
    assert k_winners(*_grid(CANDS), 1, 1, T).tolist() == [[1, 1, 2]]
    # radius 3 covers the whole 4x4 grid: one winner whatever k.
    assert k_winners(*_grid(CANDS), 4, 3, T).tolist() == [[1, 1, 2]]


def test_radius_excludes_all_maps_within_the_window():
    # Winner map 0 at (1,1), radius 1: map 1 at (2,2) (distance 1) is out, map 1 at (3,3)
    # (distance 2) wins even though it fired later and with less potential.
    w = k_winners(*_grid({(0, 1, 1): (0, 9), (1, 2, 2): (0, 8), (1, 3, 3): (4, 1)}), 3, 1, T)
    assert w.tolist() == [[0, 1, 1], [1, 3, 3]]


def test_time_before_potential():
    w = k_winners(*_grid({(0, 0, 0): (3, 100), (1, 3, 3): (2, 1)}), 1, 0, T)
    assert w.tolist() == [[1, 3, 3]]


@pytest.mark.parametrize("cands, first", [
    ({(0, 2, 1): (0, 7), (0, 1, 3): (0, 7)}, [0, 1, 3]),        # same map, t, v: lower row
    ({(0, 1, 3): (0, 7), (0, 1, 0): (0, 7)}, [0, 1, 0]),        # same row: lower column
    ({(2, 0, 0): (0, 7), (1, 3, 3): (0, 7)}, [1, 3, 3]),        # lower map before position
    ({(2, 0, 0): (0, 8), (1, 3, 3): (0, 7)}, [2, 0, 0]),        # larger potential before map
])
def test_tie_breaks(cands, first):
    assert k_winners(*_grid(cands), 1, 0, T).tolist() == [first]


def test_no_candidates():
    w = k_winners(*_grid({}), 3, 1, T)
    assert w.shape == (0, 3)


def test_not_fired_never_wins():
    # A neuron at T with a huge potential is not a candidate.
    times, v = _grid({(0, 0, 0): (4, 1)})
    v[1, 3, 3] = 10**6
    assert k_winners(times, v, 3, 0, T).tolist() == [[0, 0, 0]]


# -- the learning order: fire, pointwise inhibition, then k-WTA (model.wta.learning_winners) ---
# conv1 of configs/mnist.yaml (k = 5, radius 2, pointwise inhibition), 6 maps on a 10 x 10 grid.
def _conv1(inhibition=True):
    from model import config
    lc = config.load("configs/mnist.yaml").layers[0]
    assert (lc.winners, lc.inhibition_radius, lc.pointwise_inhibition) == (5, 2, True)
    return lc.model_copy(update={"pointwise_inhibition": inhibition})


def _learning(cands, inhibition=True):
    times, v = _grid(cands, f=6, side=10)
    times[times == T] = 15
    return learning_winners(_conv1(inhibition), times, v, 15).tolist()


def test_inhibited_spike_never_wins():
    """Map 4 wins at (1, 7) at t = 2. At (3, 2) all six maps fire at t = 3 and inhibition keeps
    only map 4 (largest potential, 21), which has won already: no spike is left at (3, 2), and the
    second winner is map 1 at (6, 6), at t = 4. Picking winners before inhibition takes map 2
    at (3, 2) (the best of the other five, 19), a spike inhibition removed."""
    cands = {(4, 1, 7): (2, 20), (1, 6, 6): (4, 17), (0, 9, 0): (4, 16)}
    cands.update({(f, 3, 2): (3, v) for f, v in enumerate((16, 17, 19, 15, 21, 18))})
    assert _learning(cands) == [[4, 1, 7], [1, 6, 6], [0, 9, 0]]
    assert _learning(cands, inhibition=False) == [[4, 1, 7], [2, 3, 2], [1, 6, 6], [0, 9, 0]]


def test_spike_after_an_earlier_one_at_its_position_is_inhibited():
    """Map 4 wins at (1, 7) at t = 2 and also fires at (5, 3) at t = 2; map 0 fires at (5, 3)
    later (t = 3) with a larger potential. Inhibition keeps map 4's earlier spike at (5, 3),
    whose map has won: map 0's later spike is gone, and the second winner is map 3 at (8, 8)."""
    cands = {(4, 1, 7): (2, 20), (4, 5, 3): (2, 10), (0, 5, 3): (3, 30), (3, 8, 8): (4, 5)}
    assert _learning(cands) == [[4, 1, 7], [3, 8, 8]]
    assert _learning(cands, inhibition=False) == [[4, 1, 7], [0, 5, 3], [3, 8, 8]]


def test_survivor_ties_by_potential_then_lower_map():
    # Maps 1 and 5 fire at (4, 4) at t = 1 with equal potential: map 1 survives and wins; map 2
    # fires there at t = 1 with less and is gone too.
    cands = {(5, 4, 4): (1, 9), (1, 4, 4): (1, 9), (2, 4, 4): (1, 8)}
    assert _learning(cands) == [[1, 4, 4]]


@pytest.mark.parametrize("mode", ["fixed", "float"])
def test_network_learns_from_the_winners_after_inhibition(tiny_cfg, tiny_encoded, mode):
    """Network.learn (the integer model and its float twin) trains the winners k-WTA picks
    among the spikes pointwise inhibition leaves, on the layer with it; on the layer without,
    among all spikes."""
    from conftest import layer_input
    from model.network import Network
    net = Network(tiny_cfg, mode)
    differ = 0
    for layer in (0, 1):
        lc = tiny_cfg.layers[layer]
        for n in range(12):
            x = layer_input(net, layer, tiny_encoded[n:n + 1])
            out = net.run_layer(layer, x, None)
            expect = learning_winners(lc, out.times[0], out.v_fire[0], net.T).tolist()
            before = k_winners(out.times[0], out.v_fire[0], lc.winners, lc.inhibition_radius,
                               net.T).tolist()
            assert net.learn(layer, x).tolist() == expect
            if lc.pointwise_inhibition:
                differ += expect != before
            else:
                assert expect == before
    assert differ > 0, "some image must pick other winners after inhibition"
