"""k-winners-take-all with an inhibition radius: who learns from an image.

Candidates are the neurons that fired. They are ranked by (earliest spike time, largest potential
at the fire time, lowest map, lowest row, lowest column). The best candidate wins; it then
excludes every other neuron of its map and every neuron of any map within Chebyshev distance
``radius`` of its position. The next best remaining candidate wins, and so on, up to k winners.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _k_winners(times, v_fire, k, radius, T):
    f_n, h, w = times.shape
    winners = np.full((k, 3), -1, dtype=np.int64)
    n_won = 0
    map_free = np.ones(f_n, dtype=np.bool_)
    flat_t = times.ravel()
    flat_v = v_fire.ravel()
    # Bucket the fired neurons by time step (a counting sort keeps (map, row, column) order
    # within a step); a stable sort by decreasing potential then completes the ranking.
    count = np.zeros(T + 1, dtype=np.int64)
    for idx in range(flat_t.size):
        count[flat_t[idx]] += 1
    first = np.zeros(T + 1, dtype=np.int64)
    for t in range(1, T + 1):
        first[t] = first[t - 1] + count[t - 1]
    bucket = np.empty(first[T], dtype=np.int64)
    fill = first.copy()
    for idx in range(flat_t.size):
        t = flat_t[idx]
        if t < T:
            bucket[fill[t]] = idx
            fill[t] += 1
    for t in range(T):
        if count[t] == 0:
            continue
        cand = bucket[first[t]:first[t] + count[t]]
        cand = cand[np.argsort(-flat_v[cand], kind="mergesort")]
        for idx in cand:
            f, rest = divmod(idx, h * w)
            y, x = divmod(rest, w)
            if not map_free[f]:
                continue
            near = False
            for j in range(n_won):
                if abs(y - winners[j, 1]) <= radius and abs(x - winners[j, 2]) <= radius:
                    near = True
                    break
            if near:
                continue
            winners[n_won, 0], winners[n_won, 1], winners[n_won, 2] = f, y, x
            n_won += 1
            map_free[f] = False
            if n_won == k:
                return winners
    return winners[:n_won]


def k_winners(times: np.ndarray, v_fire: np.ndarray, k: int, radius: int, T: int) -> np.ndarray:
    """Winners of one image: (n <= k, 3) int array of (map, row, column), in winning order."""
    return _k_winners(np.ascontiguousarray(times), np.ascontiguousarray(v_fire), k, radius, T)
