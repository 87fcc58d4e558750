"""Cycle model of the outgoing unit (hw/pool.py): pointwise inhibition, first-spike pooling and
the next layer's event list, predicted cycle by cycle.

``outgoing_pass`` mirrors the unit's sequencer phase by phase (hw/pool.py documents the
hardware); the values it carries are checked against the model (``model.layer.pointwise_inhibition``,
``model.layer.pool`` and ``EngineLayout.events``), so the schedule cannot drift from the
bit-accurate model. Cycle 0 is the first cycle after ``start``.

Phases (N = G npos, W = Sp^2 pooled windows, S2 = s^2 cells per window):

* A, inhibition: N + 3 cycles. Cycle pos G + g reads word g npos + pos of every lane; three
  cycles later (the words registered as they arrive, then the tree over the lanes) the group's
  best candidate is merged into the position's running best, and after the
  last group the survivor (map, t) of the position is written (t = T: no spike).
* B, pooling: (W + 1) S2 + B_FLUSH cycles (B_FLUSH = 3). Windows are read in descending raster
  order, one cell per cycle (registered as it arrives); the window's first spike of each map (earliest t, ties: first cell) is its
  representative, and during the next window's reads representative j is inserted in slot j at
  the head of the linked list of bucket (t, map), one insert per cycle.
* Walk: for each t, one cycle to find its first non-empty bucket (if any), then per bucket one
  head-read cycle and one cycle per event (the event is written in that cycle), and one cycle
  to find no bucket left: T + T_ne + NB + n cycles (T_ne time steps with events, NB non-empty
  buckets, n events).
* DONE, one cycle.

Trace records: ``(cycle, "event", t, c, y, x)`` in the cycle the unit writes event memory word
``index`` (events are written at addresses 0, 1, ... in trace order), and ``(cycle, "done")``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.layer import pointwise_inhibition, pool

from .layout import B_FLUSH, EngineLayout, PoolLayout


@dataclass
class OutgoingResult:
    events: list            # [(t, c, y, x)], in the order written (event memory word i)
    cycles: int             # busy cycles, DONE included
    trace: list
    survivors: np.ndarray   # (npos, 2): (map, t) per position after inhibition (t = T: none)
    phases: dict            # first cycle of each phase: B, walk, done


def cycle_cost(pl: PoolLayout, n: int, buckets: int, steps: int) -> int:
    """The documented cost: (G npos + 3) + ((W + 1) S2 + B_FLUSH) + (T + T_ne + NB + n) + 1."""
    lay = pl.lay
    return (lay.groups * lay.npos + 3) + ((pl.windows + 1) * pl.cells + B_FLUSH) + \
        (lay.time_steps + steps + buckets + n) + 1


def lanes_to_maps(lay: EngineLayout, lanes: np.ndarray) -> np.ndarray:
    """(P, G npos) lane memories -> (F, So, So): the inverse of ``EngineLayout.to_lanes``."""
    a = np.asarray(lanes).reshape(lay.lanes, lay.groups, lay.npos).transpose(1, 0, 2)
    return a.reshape(lay.groups * lay.lanes, lay.npos)[:lay.maps].reshape(
        lay.maps, lay.side_out, lay.side_out)


def outgoing_pass(lay: EngineLayout, lc, fire_lanes: np.ndarray,
                  vfire_lanes: np.ndarray) -> OutgoingResult:
    """Predict one pass of hw/pool.py on the engine's fire-time and fire-potential lane memories
    ((P, G npos) each, ``EngineLayout.to_lanes``); words of maps past F are ignored."""
    pl = PoolLayout.from_config(lay, lc)
    P, G, npos, F, T = lay.lanes, lay.groups, lay.npos, lay.maps, lay.time_steps
    so, s, st, sp = lay.side_out, pl.size, pl.stride, pl.side
    fire = np.asarray(fire_lanes, dtype=np.int64).reshape(P, G, npos)
    vfire = np.asarray(vfire_lanes, dtype=np.int64).reshape(P, G, npos)

    # A: per position, groups in order, lanes in order; replace only when strictly better.
    surv = np.zeros((npos, 2), dtype=np.int64)
    for pos in range(npos):
        bt, bv, bm = T, 0, 0
        for g in range(G):
            for lane in range(P):
                f = g * P + lane
                if f >= F:
                    continue
                t, v = int(fire[lane, g, pos]), int(vfire[lane, g, pos])
                if t < bt or (t == bt and v > bv):
                    bt, bv, bm = t, v, f
        surv[pos] = bm, bt
    b0 = G * npos + 3

    # B: windows in descending raster order; representatives prepended to their bucket's list.
    lists: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for w in reversed(range(pl.windows)):
        wy, wx = divmod(w, sp)
        cells = [surv[(wy * st + dy) * so + wx * st + dx] for dy in range(s) for dx in range(s)]
        for j, (mj, tj) in enumerate(cells):
            if tj < T and not any(mk == mj and tk <= tj for mk, tk in cells[:j]) and \
                    not any(mk == mj and tk < tj for mk, tk in cells[j + 1:]):
                lists.setdefault((int(tj), int(mj)), []).insert(0, (wy, wx))
    walk0 = b0 + (pl.windows + 1) * pl.cells + B_FLUSH

    # Walk: buckets in (t, map) order, each list from its head.
    trace, events = [], []
    cycle = walk0
    for t in range(T):
        maps = sorted(c for (tt, c) in lists if tt == t)
        if maps:
            cycle += 1                              # first bucket found, head read issued
            for c in maps:
                cycle += 1                          # head word arrives, first link read
                for y, x in lists[(t, c)]:
                    trace.append((cycle, "event", t, c, y, x))
                    events.append((t, c, y, x))
                    cycle += 1
        cycle += 1                                  # no bucket left in step t
    trace.append((cycle, "done"))
    result = OutgoingResult(events, cycle + 1, trace, surv,
                            {"B": b0, "walk": walk0, "done": cycle})
    _check_against_model(pl, fire_lanes, vfire_lanes, events)
    assert result.cycles == cycle_cost(pl, len(events), len(lists),
                                       len({t for t, _ in lists}))
    return result


def model_events(pl: PoolLayout, times: np.ndarray, v_fire: np.ndarray) -> list:
    """The model's event list for the next layer from (F, So, So) fire times and potentials."""
    t = pointwise_inhibition(times[None], v_fire[None], pl.lay.time_steps) if pl.inhibition \
        else times[None]
    return pl.next_format().events(pool(t, pl.size, pl.stride)[0])


def _check_against_model(pl, fire_lanes, vfire_lanes, events):
    times, v = lanes_to_maps(pl.lay, fire_lanes), lanes_to_maps(pl.lay, vfire_lanes)
    if events != model_events(pl, times, v):
        raise AssertionError("pool schedule and model.layer (inhibition, pool, events) disagree")
