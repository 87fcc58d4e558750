"""The winner unit's schedule (hw/wta.py): every winner pulse with its cycle.

The unit is generated in one of two modes, after the layer's ``pointwise_inhibition``:

* **survivors** (layers with pointwise inhibition, ``survivor_pass``): the reference order --
  fire, pointwise inhibition, then k-WTA over the spikes left (``model.wta.learning_winners``).
  The engine's pass runs without holds; then the outgoing unit's inhibition phase
  (``cycles.pool.inhibition_pass``) streams each fired position's survivor (map, position,
  t, potential at the fire time), positions ascending, at most one a cycle. The unit stores
  survivor s in bank s mod P at entry s div P, and when the stream ends (``step_end``, the
  outgoing unit's ``done``) it runs the selection passes below once over all of them, with
  N = ceil(S / P) for S survivors and the key (earliest t, largest potential, lowest map, row,
  column): one pass a winner, as the model's per-step greedy picks (a candidate of an earlier
  step beats every later one, so the global best allowed is the model's next winner).
* **per step** (layers without it): the engine's fires, step by step, as follows.

The unit eats the integrate engine's fire stream. During the drain of step t the engine presents
up to P fires a cycle (lane l, lane address ``g npos + pos``, potential at the fire time), then
strobes ``step_end`` (the engine's ``tr_step``, the same cycle as the step's last fire). The unit
buffers the fires per lane; after ``step_end`` it is busy with selection passes over the buffered
entries, all lanes in parallel, one entry index per cycle. A pass keeps the best *allowed*
candidate (its map has no winner yet and no winner so far lies within Chebyshev distance
``radius`` of its position) by the explicit key (largest potential, lowest map, row, column),
never by arrival order; the pass's best becomes a winner, and the next pass starts, until a pass
finds none or k winners are found.

Timing, with N = max over lanes of the step's fires and cycle u = 0 the first cycle after
``step_end`` (the unit's first busy cycle):

* no fire in the step, or k winners already: the unit stays idle (0 busy cycles);
* pass p (p = 0, 1, ...) reads entries u = p (N + 1) .. p (N + 1) + N - 1 and decides in cycle
  (p + 1)(N + 1) + 1: three pipeline stages after the last read (the word registered as it
  leaves the memory, compared against the winners, folded into the best). A winner pulses
  ``tr_winner`` in that cycle; the next pass's first read is the cycle before it;
* the step is busy for (passes) (N + 1) + 2 cycles, passes = winners of the step + 1, or the
  winners of the step if the k-th winner ends it.

In survivor mode the same timing holds with the one stream end as the step's end: busy for
(passes) (N + 1) + 2 cycles after it, 0 without survivors.

Trace records ``(cycle, "winner", map, row, column)``, ``cycle`` the unit's stamp: the number of
busy cycles since ``clear`` before the pulse (idle cycles never count).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np

from .layout import EngineLayout, HardwareConfigError

MAX_WINNERS = 64       # winner registers, each compared with every lane's candidate every cycle
MAX_RADIUS = 64        # the configuration's own limit (model/config.py)


def check_winner_params(k, radius) -> tuple[int, int]:
    """Refuse a k or radius the winner unit cannot hold; returns them as ints."""
    for name, value, top in (("k (winners)", k, MAX_WINNERS), ("radius (inhibition_radius)", radius, MAX_RADIUS)):
        try:
            operator.index(value)
        except TypeError:
            raise HardwareConfigError(f"{name} = {value!r}: must be an integer") from None
        low = 1 if name.startswith("k ") else 0
        if isinstance(value, bool) or not low <= value <= top:
            raise HardwareConfigError(f"{name} = {value!r}: must be an integer in {low} .. {top}")
    return int(k), int(radius)


@dataclass
class StepFires:
    """The fires of one step as the unit sees them.

    ``beats[i][lane]`` is ``(address, potential)`` or None, one beat a cycle; ``step_end`` is
    strobed with the last beat (a step without fires is one empty beat carrying ``step_end``).
    """
    t: int
    beats: list


@dataclass
class WinnerResult:
    trace: list                       # (cycle, "winner", f, y, x)
    winners: list                     # (f, y, x, t) in winning order
    busy: list = field(default_factory=list)   # busy cycles after each step_end
    cycles: int = 0                   # busy cycles in all
    entries: int = 0                  # candidates buffered: fires (per step) or survivors


def decompose(lay: EngineLayout, lane: int, addr: int) -> tuple[int, int, int]:
    """Lane address -> (map, row, column)."""
    g, pos = divmod(addr, lay.npos)
    y, x = divmod(pos, lay.side_out)
    return g * lay.lanes + lane, y, x


def fire_stream(lay: EngineLayout, trace) -> list[StepFires]:
    """The stream the unit sees from an integrate-engine trace (``integrate_pass(...).trace``).

    Beats run from the step's first fire cycle to its ``step`` record, cycle for cycle."""
    steps, fires = [], []
    for rec in trace:
        if rec[1] == "fire":
            fires.append(rec)
        elif rec[1] == "step":
            cycle, t = rec[0], rec[2]
            start = min([f[0] for f in fires] + [cycle])
            beats = [[None] * lay.lanes for _ in range(cycle - start + 1)]
            for c, _, lane, addr, ft, v in fires:
                if ft != t or c > cycle or beats[c - start][lane] is not None:
                    raise ValueError(f"fire record {(c, lane, addr, ft, v)} does not fit step {t}")
                beats[c - start][lane] = (addr, v)
            steps.append(StepFires(t, beats))
            fires = []
    if fires:
        raise ValueError(f"{len(fires)} fire records after the last step record")
    return steps


def stream_from_layer(lay: EngineLayout, times: np.ndarray, v_fire: np.ndarray,
                      order: str = "address", seed: int = 0) -> list[StepFires]:
    """A stream from a layer output (F, So, So) fire times and potentials, one step per time step.

    ``order`` is the order of each lane's fires within its step: ``address`` (ascending, as the
    engine's crossing FIFOs often are), ``reverse`` or ``shuffle`` (seeded): the unit must not
    depend on it."""
    rs = np.random.default_rng(seed)
    t_lanes = lay.to_lanes(times, lay.time_steps)
    v_lanes = lay.to_lanes(v_fire, 0)
    steps = []
    for t in range(lay.time_steps):
        per_lane = []
        for lane in range(lay.lanes):
            addrs = [int(a) for a in np.flatnonzero(t_lanes[lane] == t)]
            if order == "reverse":
                addrs.reverse()
            elif order == "shuffle":
                rs.shuffle(addrs)
            elif order != "address":
                raise ValueError(f"order = {order!r}: address, reverse or shuffle")
            per_lane.append([(a, int(v_lanes[lane, a])) for a in addrs])
        n = max(1, max(len(q) for q in per_lane))
        beats = [[q[i] if i < len(q) else None for q in per_lane] for i in range(n)]
        steps.append(StepFires(t, beats))
    return steps


def _select(res: WinnerResult, cands: list, n: int, k: int, radius: int) -> None:
    """The selection passes over buffered candidates (t, v, f, y, x), N = ``n`` entries a bank:
    each pass's best allowed candidate by (earliest t, largest v, lowest f, y, x) wins."""
    res.entries += len(cands)
    if n == 0 or len(res.winners) == k:
        res.busy.append(0)
        return
    used = {w[0] for w in res.winners}
    u = 0
    while True:
        u += n + 1                                    # reads, the next pass's first read
        allowed = [c for c in cands if c[2] not in used and
                   not any(abs(c[3] - w[1]) <= radius and abs(c[4] - w[2]) <= radius
                           for w in res.winners)]
        if not allowed:
            break
        t, _, f, y, x = min(allowed, key=lambda c: (c[0], -c[1], c[2], c[3], c[4]))
        res.trace.append((res.cycles + u + 1, "winner", f, y, x))   # decided a cycle later
        res.winners.append((f, y, x, t))
        used.add(f)
        if len(res.winners) == k:
            break
    res.busy.append(u + 2)
    res.cycles += u + 2


def winner_pass(lay: EngineLayout, k: int, radius: int, stream: list[StepFires]) -> WinnerResult:
    """Predict the winner unit (per-step mode) on a stream (one image: the unit cleared before it)."""
    k, radius = check_winner_params(k, radius)
    res = WinnerResult([], [])
    for step in stream:
        lanes = [[b[lane] for b in step.beats if b[lane] is not None] for lane in range(lay.lanes)]
        cands = [(step.t, v, *decompose(lay, lane, addr))
                 for lane, q in enumerate(lanes) for addr, v in q]
        _select(res, cands, max(len(q) for q in lanes), k, radius)
    return res


def survivor_stream(lay: EngineLayout, survivors: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """The stream the unit sees from the outgoing unit's inhibition phase: ``survivors``
    (npos, 3) of (map, t, potential) per position (t = T: no spike) -> [(f, y, x, t, v)] in
    position order, the positions without a spike left out."""
    out = []
    for pos, (f, t, v) in enumerate(np.asarray(survivors, dtype=np.int64)):
        if t < lay.time_steps:
            y, x = divmod(pos, lay.side_out)
            out.append((int(f), y, x, int(t), int(v)))
    return out


def survivor_pass(lay: EngineLayout, k: int, radius: int, stream: list) -> WinnerResult:
    """Predict the winner unit (survivor mode) on one image's survivor stream [(f, y, x, t, v)]
    (``survivor_stream``): survivor s in bank s mod P, selection over all of them at the end."""
    k, radius = check_winner_params(k, radius)
    res = WinnerResult([], [])
    cands = [(t, v, f, y, x) for f, y, x, t, v in stream]
    _select(res, cands, -(-len(cands) // lay.lanes), k, radius)
    return res
