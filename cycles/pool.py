"""Cycle model of the outgoing unit (hw/pool.py): pointwise inhibition, first-spike pooling and
the next layer's event list, predicted cycle by cycle.

``outgoing_pass`` mirrors the unit's sequencer phase by phase (hw/pool.py documents the
hardware); the values it carries are checked against the model (``model.layer.pointwise_inhibition``,
``model.layer.pool`` and ``EngineLayout.events``), so the schedule cannot drift from the
bit-accurate model. Cycle 0 is the first cycle after ``start``.

Phases (NW = ceil(npos / 32) words of the fired-position bitmap, m_w fired positions in word w,
n_f of them in all, W_s windows holding a fired position, S2 = s^2 cells per window):

* A, inhibition over the fired positions only: L + A_FLUSH cycles (A_FLUSH = 4),
  L = 1 + sum over words of (G m_w, or 1 for an empty word). Walk cycle 0 addresses bitmap word
  0; from cycle 1 each word costs one cycle when empty and G cycles per fired position
  otherwise, the positions ascending, one group a cycle (the read is registered and issued the
  cycle after); a word's last cycle addresses the next word. A position's survivor (map, t) is
  written A_FLUSH cycles after its last group's walk cycle, once the lanes' words are registered
  and merged (``stream``); at every other position the survivor memory reads "no spike".
* B, pooling, only the windows holding a fired position: (W_s + 1) S2 + B_FLUSH cycles
  (B_FLUSH = 3), none when W_s = 0. Those windows are read in descending raster order, one cell
  per cycle (registered as it arrives); the window's first spike of each map (earliest t, ties:
  first cell) is its representative, and during the next window's reads representative j is
  inserted in slot j at the head of the linked list of bucket (t, map), one insert per cycle.
* Walk: for each t, one cycle to find its first non-empty bucket (if any), then per bucket one
  head-read cycle and one cycle per event (the event is written in that cycle), and one cycle
  to find no bucket left: T + T_ne + NB + n cycles (T_ne time steps with events, NB non-empty
  buckets, n events).
* DONE, one cycle.

In a learning command (``inhibition_pass``, layers with pointwise inhibition) the unit runs
phase A only and then DONE: L + A_FLUSH + 1 cycles. Each fired position's survivor (map,
position, t, potential at the fire time) goes to the winner unit in the cycle it is merged
(``stream``; no survivor is written), in ascending position order, which picks the k winners among them (cycles/wta.py,
``survivor_pass``).

Trace records: ``(cycle, "event", t, c, y, x)`` in the cycle the unit writes event memory word
``index`` (events are written at addresses 0, 1, ... in trace order), and ``(cycle, "done")``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.layer import pointwise_inhibition, pool

from .layout import A_FLUSH, B_FLUSH, FIRED_WORD_BITS, EngineLayout, HardwareConfigError, PoolLayout


def check_inhibition(lc) -> bool:
    """Whether a layer's winners are chosen after pointwise inhibition (``lc``: its config). The
    core's inhibition phase is the outgoing unit's: refused on a layer without pooling."""
    if lc.pointwise_inhibition and lc.pool.size == 0:
        raise HardwareConfigError(
            f"layer {getattr(lc, 'name', '?')}: pointwise_inhibition = true with pool.size = 0: "
            "the core inhibits in its outgoing unit, which only layers with pooling have "
            "(allowed: pointwise_inhibition = false on the last layer, or pool.size >= 1)")
    return bool(lc.pointwise_inhibition)


@dataclass
class OutgoingResult:
    events: list            # [(t, c, y, x)], in the order written (event memory word i)
    cycles: int             # busy cycles, DONE included
    trace: list
    survivors: np.ndarray   # (npos, 3): (map, t, potential) per position after inhibition
    phases: dict            # first cycle of each phase: B, walk, done       (t = T: none)
    stream: list = field(default_factory=list)   # (cycle, position): survivors as written
    windows: int = 0        # windows pooling read (those holding a fired position)


def fired_positions(lay: EngineLayout, fire_lanes: np.ndarray) -> np.ndarray:
    """(npos,) bool: the positions where some map fired (fire time < T) -- the bitmap the unit
    sets from the engine's fires. Words of maps past F are not neurons: never fired."""
    P, G, npos = lay.lanes, lay.groups, lay.npos
    exists = np.arange(G)[None, :] * P + np.arange(P)[:, None] < lay.maps        # (P, G)
    fire = np.asarray(fire_lanes).reshape(P, G, npos)
    return ((fire < lay.time_steps) & exists[:, :, None]).any(axis=(0, 1))


def inhibition_walk(pl: PoolLayout, fired: np.ndarray) -> tuple[list[int], int]:
    """Phase A's walk over the bitmap: the walk cycle of each fired position's first group
    (ascending positions) and the walk's length L."""
    starts, cycle = [], 1                           # cycle 0 addresses word 0
    for w in range(pl.fired_words):
        hits = np.flatnonzero(fired[w * FIRED_WORD_BITS:(w + 1) * FIRED_WORD_BITS])
        if not len(hits):
            cycle += 1                              # an empty word: one cycle
        for _ in hits:
            starts.append(cycle)
            cycle += pl.lay.groups
    return starts, cycle


def marked_windows(pl: PoolLayout, fired: np.ndarray) -> list[tuple[int, int]]:
    """The windows holding a fired position, (wy, wx) in raster order: the ones pooling reads."""
    s, st, so = pl.size, pl.stride, pl.lay.side_out
    f = np.asarray(fired).reshape(so, so)
    return [(wy, wx) for wy in range(pl.side) for wx in range(pl.side)
            if f[wy * st:wy * st + s, wx * st:wx * st + s].any()]


def inhibition_cycles(pl: PoolLayout, fired: np.ndarray) -> int:
    """Phase A: L + A_FLUSH, L = 1 + G n_f + the bitmap's empty words."""
    padded = np.zeros(pl.fired_words * FIRED_WORD_BITS, dtype=bool)
    padded[:pl.lay.npos] = fired
    empty = int((~padded.reshape(pl.fired_words, -1).any(axis=1)).sum())
    return 1 + pl.lay.groups * int(np.count_nonzero(fired)) + empty + A_FLUSH


def pooling_cycles(pl: PoolLayout, windows: int) -> int:
    """Phase B over ``windows`` marked windows: (W_s + 1) S2 + B_FLUSH, none without one."""
    return (windows + 1) * pl.cells + B_FLUSH if windows else 0


def cycle_cost(pl: PoolLayout, fired: np.ndarray, windows: int, n: int, buckets: int,
               steps: int) -> int:
    """The documented cost: A + B + (T + T_ne + NB + n) + 1 (DONE)."""
    return inhibition_cycles(pl, fired) + pooling_cycles(pl, windows) + \
        (pl.lay.time_steps + steps + buckets + n) + 1


def lanes_to_maps(lay: EngineLayout, lanes: np.ndarray) -> np.ndarray:
    """(P, G npos) lane memories -> (F, So, So): the inverse of ``EngineLayout.to_lanes``."""
    a = np.asarray(lanes).reshape(lay.lanes, lay.groups, lay.npos).transpose(1, 0, 2)
    return a.reshape(lay.groups * lay.lanes, lay.npos)[:lay.maps].reshape(
        lay.maps, lay.side_out, lay.side_out)


def _phase_a(pl: PoolLayout, fire_lanes, vfire_lanes):
    """Phase A: (survivors, its cycles, the survivors' write cycles and positions)."""
    lay = pl.lay
    fired = fired_positions(lay, fire_lanes)
    starts, walk = inhibition_walk(pl, fired)
    surv = _inhibit(lay, fire_lanes, vfire_lanes, fired)
    stream = [(c + lay.groups - 1 + A_FLUSH, int(pos)) for c, pos in zip(starts, np.flatnonzero(fired))]
    assert walk + A_FLUSH == inhibition_cycles(pl, fired)
    return fired, surv, walk + A_FLUSH, stream


def outgoing_pass(lay: EngineLayout, lc, fire_lanes: np.ndarray,
                  vfire_lanes: np.ndarray) -> OutgoingResult:
    """Predict one pass of hw/pool.py on the engine's fire-time and fire-potential lane memories
    ((P, G npos) each, ``EngineLayout.to_lanes``); words of maps past F are ignored."""
    pl = PoolLayout.from_config(lay, lc)
    T = lay.time_steps
    so, s, st = lay.side_out, pl.size, pl.stride
    fired, surv, b0, stream = _phase_a(pl, fire_lanes, vfire_lanes)

    # B: marked windows in descending raster order; representatives prepended to their list.
    windows = marked_windows(pl, fired)
    lists: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for wy, wx in reversed(windows):
        cells = [surv[(wy * st + dy) * so + wx * st + dx, :2] for dy in range(s) for dx in range(s)]
        for j, (mj, tj) in enumerate(cells):
            if tj < T and not any(mk == mj and tk <= tj for mk, tk in cells[:j]) and \
                    not any(mk == mj and tk < tj for mk, tk in cells[j + 1:]):
                lists.setdefault((int(tj), int(mj)), []).insert(0, (wy, wx))
    walk0 = b0 + pooling_cycles(pl, len(windows))

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
                            {"B": b0, "walk": walk0, "done": cycle}, stream, len(windows))
    _check_against_model(pl, fire_lanes, vfire_lanes, events)
    assert result.cycles == cycle_cost(pl, fired, len(windows), len(events), len(lists),
                                       len({t for t, _ in lists}))
    return result


def _inhibit(lay: EngineLayout, fire_lanes, vfire_lanes, fired) -> np.ndarray:
    """Phase A: per fired position, groups in order, lanes in order; replace only when strictly
    better. (npos, 3): the survivor's (map, t, potential); (0, T, 0) where nothing fired."""
    P, G, npos, F, T = lay.lanes, lay.groups, lay.npos, lay.maps, lay.time_steps
    fire = np.asarray(fire_lanes, dtype=np.int64).reshape(P, G, npos)
    vfire = np.asarray(vfire_lanes, dtype=np.int64).reshape(P, G, npos)
    surv = np.zeros((npos, 3), dtype=np.int64)
    surv[:, 1] = T
    for pos in np.flatnonzero(fired):
        bt, bv, bm = T, 0, 0
        for g in range(G):
            for lane in range(P):
                f = g * P + lane
                if f >= F:
                    continue
                t, v = int(fire[lane, g, pos]), int(vfire[lane, g, pos])
                if t < bt or (t == bt and v > bv):
                    bt, bv, bm = t, v, f
        surv[pos] = bm, bt, bv
    return surv


def inhibition_pass(lay: EngineLayout, lc, fire_lanes: np.ndarray,
                    vfire_lanes: np.ndarray) -> OutgoingResult:
    """Predict hw/pool.py in a learning command: phase A, then DONE (L + A_FLUSH + 1 cycles);
    its ``survivors`` are the spikes pointwise inhibition leaves (checked against
    ``model.layer.pointwise_inhibition``), ``stream`` the cycles they reach the winner unit."""
    pl = PoolLayout.from_config(lay, lc)           # refuses a layer the unit cannot hold
    _, surv, done, stream = _phase_a(pl, fire_lanes, vfire_lanes)
    times = lanes_to_maps(lay, fire_lanes)
    kept = pointwise_inhibition(times[None], lanes_to_maps(lay, vfire_lanes)[None],
                                lay.time_steps)[0].reshape(lay.maps, -1)
    seen = np.full_like(kept, lay.time_steps)
    hit = surv[:, 1] < lay.time_steps
    seen[surv[hit, 0], np.flatnonzero(hit)] = surv[hit, 1]
    if not (seen == kept).all():
        raise AssertionError("inhibition schedule and model.layer.pointwise_inhibition disagree")
    return OutgoingResult([], done + 1, [(done, "done")], surv, {"done": done}, stream)


def model_events(pl: PoolLayout, times: np.ndarray, v_fire: np.ndarray) -> list:
    """The model's event list for the next layer from (F, So, So) fire times and potentials."""
    t = pointwise_inhibition(times[None], v_fire[None], pl.lay.time_steps) if pl.inhibition \
        else times[None]
    return pl.next_format().events(pool(t, pl.size, pl.stride)[0])


def _check_against_model(pl, fire_lanes, vfire_lanes, events):
    times, v = lanes_to_maps(pl.lay, fire_lanes), lanes_to_maps(pl.lay, vfire_lanes)
    if events != model_events(pl, times, v):
        raise AssertionError("pool schedule and model.layer (inhibition, pool, events) disagree")
