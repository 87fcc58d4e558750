"""k-winners-take-all with an inhibition radius: who learns from an image.

Order of a learning step (Kheradpisheh et al. 2018, and SpykeTorch's reimplementation): the layer
fires, pointwise inhibition removes every spike but the earliest of each position (layers with
``pointwise_inhibition``), then k-WTA picks the winners among the spikes left
(``learning_winners``). A spike that inhibition removed has not fired: it can never win.

Candidates are the neurons that fired. They are ranked by (earliest spike time, largest potential
at the fire time, lowest map, lowest row, lowest column). The best candidate wins; it then
excludes every other neuron of its map and every neuron of any map within Chebyshev distance
``radius`` of its position. The next best remaining candidate wins, and so on, up to k winners.
"""
from __future__ import annotations

import numba
import numpy as np

from .layer import pointwise_inhibition


@numba.njit(cache=True, nogil=True)
def _k_winners(times, v_fire, k, radius, T):
    f_n, h, w = times.shape
    winners = np.full((k, 3), -1, dtype=np.int64)
    n_won = 0
    map_free = np.ones(f_n, dtype=np.bool_)
    flat_t = times.ravel()
    flat_v = v_fire.ravel()
    # Bucket the fired neurons by time step; a counting sort keeps (map, row, column) order
    # within a step.
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
        cand = bucket[first[t]:first[t] + count[t]]
        alive = np.ones(cand.size, dtype=np.bool_)
        while True:
            # The best remaining candidate of this step: largest potential, then the lowest
            # (map, row, column), which is the bucket's order.
            best = -1
            for j in range(cand.size):
                if alive[j] and (best < 0 or flat_v[cand[j]] > flat_v[cand[best]]):
                    best = j
            if best < 0:
                break
            f, rest = divmod(cand[best], h * w)
            y, x = divmod(rest, w)
            winners[n_won, 0], winners[n_won, 1], winners[n_won, 2] = f, y, x
            n_won += 1
            if n_won == k:
                return winners
            # The winner inhibits its map and its neighbourhood in every map.
            for j in range(cand.size):
                if alive[j]:
                    cf, crest = divmod(cand[j], h * w)
                    cy, cx = divmod(crest, w)
                    if cf == f or (abs(cy - y) <= radius and abs(cx - x) <= radius):
                        alive[j] = False
            map_free[f] = False
        # Candidates of later steps must respect every winner so far.
        if t + 1 < T:
            nxt = bucket[first[t + 1]:first[t + 1] + count[t + 1]]
            keep = np.ones(nxt.size, dtype=np.bool_)
            for j in range(nxt.size):
                cf, crest = divmod(nxt[j], h * w)
                cy, cx = divmod(crest, w)
                if not map_free[cf]:
                    keep[j] = False
                    continue
                for m in range(n_won):
                    if abs(cy - winners[m, 1]) <= radius and abs(cx - winners[m, 2]) <= radius:
                        keep[j] = False
                        break
            bucket[first[t + 1]:first[t + 1] + keep.sum()] = nxt[keep]
            count[t + 1] = keep.sum()
    return winners[:n_won]


def k_winners(times: np.ndarray, v_fire: np.ndarray, k: int, radius: int, T: int) -> np.ndarray:
    """Winners of one image: (n <= k, 3) int array of (map, row, column), in winning order."""
    return _k_winners(np.ascontiguousarray(times), np.ascontiguousarray(v_fire), k, radius, T)


def learning_winners(lc, times: np.ndarray, v_fire: np.ndarray, T: int) -> np.ndarray:
    """Winners of a learning step of a layer (config ``lc``) on one image's (F, H, W) fire times
    and fire potentials: k-WTA over the spikes that survive pointwise inhibition when the layer
    has it, over all its spikes otherwise."""
    if lc.pointwise_inhibition:
        times = pointwise_inhibition(times[None], v_fire[None], T)[0]
    return k_winners(times, v_fire, lc.winners, lc.inhibition_radius, T)
