"""model/wta.py: k winners with an inhibition radius, by hand."""
from __future__ import annotations

import numpy as np
import pytest

from model.wta import k_winners

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
