"""Cycle model of the STDP unit (hw/stdp_unit.py): every op of a pass with its cycle, its new
weight and its prune, predicted from the model's STDP rule (``model.stdp``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import STDP_EXEC, EngineLayout


@dataclass
class StdpResult:
    trace: list
    cycles: int
    weights: np.ndarray      # (F, C, k, k) after the pass
    active: np.ndarray       # live connections after the pass


def stdp_pass(lay: EngineLayout, formats, weights: np.ndarray, active: np.ndarray,
              times_in: np.ndarray, winners, a_plus: int, a_minus: int, round_key: int,
              check: bool, prune_th: int, all_maps: bool = False) -> StdpResult:
    """Predict one pass of hw/stdp_unit.py.

    Cycle 0 is the first walk's W_LOAD. A walk (one winner, or one map with ``all_maps``) costs
    1 + NW + its live connections cycles: W_LOAD, then per 32-row word one cycle per live row
    and one to find the word empty. One more W_LOAD finds the list done, then FLUSH
    (STDP_EXEC - 3 = 3 cycles: the op pipeline empties) and DONE. Each op is traced in its exec
    cycle, issue + STDP_EXEC (stages I, A, B, C, D, E, X; the last op's exec is at the latest the
    DONE cycle), as
    ``(cycle, "op", map, row, q, q_next, pruned)``;
    ``(cycle, "done")`` ends the trace. The arithmetic is ``fixedpoint.Formats.stdp`` on the words
    of ``rng.words(round_key, map * rows + row)``; with ``all_maps`` the rates are zero.
    """
    from model import rng
    lay.check_formats(formats)
    rows, k, T, S, pad = lay.rows, lay.kernel, lay.time_steps, lay.side_in, lay.padding
    w = weights.reshape(lay.maps, rows).astype(np.int64).copy()
    live = active.reshape(lay.maps, rows).copy()
    walks = [(f, 0, 0, 0) for f in range(lay.maps)] if all_maps else list(winners)
    ap, am = (0, 0) if all_maps else (a_plus, a_minus)
    trace, cycle = [], 0
    for f, y, x, t_post in walks:
        cycle += 1                                          # W_LOAD
        for word in range(lay.map_words):
            for row in range(word * 32, min(rows, word * 32 + 32)):
                if not live[f, row]:
                    continue
                c, ky, kx = row // (k * k), row // k % k, row % k
                py, px = y + ky - pad, x + kx - pad
                t_pre = times_in[c, py, px] if 0 <= py < S and 0 <= px < S else T
                q = int(w[f, row])
                rnd = rng.words(round_key, np.array([f * rows + row]))
                q_next = int(formats.stdp(np.array([q]), np.array([t_pre <= t_post]), ap, am, rnd)[0])
                pruned = (check or all_maps) and q_next < prune_th
                w[f, row] = q_next
                if pruned:
                    live[f, row] = False
                trace.append((cycle + STDP_EXEC, "op", f, row, q, q_next, bool(pruned)))
                cycle += 1
            cycle += 1                                      # the word found empty
    cycle += 1 + STDP_EXEC - 3                              # W_LOAD: no more walks; FLUSH
    trace.append((cycle, "done"))
    return StdpResult(trace, cycle + 1, w.reshape(weights.shape), live.reshape(active.shape))
