"""Cycle model of the integrate engine (hw/integrate.py): the cycle of every trace event of a
pass, predicted from the model.

This module mirrors the sequencer of ``hw/integrate.py`` state by state (see hw/README.md); the
arithmetic it carries along is the model's, and ``integrate_pass`` checks its results against
``model.layer.integrate`` so the schedule can never drift from the bit-accurate model.

The layout shared with the hardware is ``cycles.layout.EngineLayout``.

Sequencer states and their cycles (cycle 0 is the first cycle after ``start``):

* CLEAR, ceil(G npos / 32) cycles: it zeroes the lanes' valid bitmaps (one bit per potential
  word and one per fire-time word, 32 to a bitmap word); a word whose bit is clear reads as
  potential 0, fire time T ("never"), fire potential 0, so the memories themselves are not cleared;
* event prefetch: event e is read in the cycle e advances (pass start, or the cycle that issues
  the previous event's first row or skips it) and its row summary in the next, so it is known
  ("ready") two cycles after e advanced;
* per time step t < t_end (the window end, hw/window.py; T unless a temporal policy shortened
  it): FETCH waits until the next event is ready; if it belongs to step t and some lane has
  live rows inside the output, FETCH issues each such lane's first row (one cycle), else it
  skips it (one cycle; the event after it is ready two cycles later). Then ROWS: every lane
  walks its own live rows of the event (those its row summary marks: a row where one of the
  lane's maps is live; the map enables do not gate the summaries), lowest kernel offset first,
  back to back with its own row pointer, max(1, popcount(mask word of the enabled maps)) cycles
  a row (a row whose live maps in the lane are all disabled costs the lane one empty op
  cycle); a lane without live rows in the event idles. The lanes meet at the event's end: the
  event costs its busiest lane's cycles, max over lanes of the sum over the lane's rows. The
  event's last op cycle issues the next event's first rows directly (no cycle between) when
  that event is ready, of step t and has live rows, and otherwise returns to FETCH. An event of
  a later step (or the end of the list) ends the step: FETCH, STEP_END, then DRAIN, max over
  lanes of crossings + 3 cycles: each lane writes its crossings in ascending address order
  (the walk of its crossing bitmap), the i-th at drain cycle i + 3;
* DONE, one cycle, after step t_end - 1's drain: input spikes at later steps never arrive.

Trace records, each a tuple starting with its cycle:

* ``(cycle, "row", lane, event_index, row)``: the first op cycle of a row in a lane (a record
  per lane that walks the row: lanes walk different rows in one cycle);
* ``(cycle, "fire", lane, address, t, potential)``: a neuron's fire time written (drain);
* ``(cycle, "step", t)``: last cycle of step t's drain;
* ``(cycle, "done")``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.layer import integrate

from .layout import EngineLayout
from .trace import trace_order


@dataclass
class PassResult:
    trace: list
    cycles: int
    ops: int            # lane operations: synaptic accumulations done
    op_cycles: int      # cycles in which the lanes ran (ROWS)
    potentials: np.ndarray   # (P, G npos) lane memories after the pass
    fire: np.ndarray
    v_fire: np.ndarray
    skipped: int = 0         # events without a live row inside the output (one FETCH cycle each)
    fetch_waits: int = 0     # FETCH cycles spent waiting for the read-ahead of the next event



def _ffs(word: int) -> int:
    return (word & -word).bit_length() - 1


def policy_registers(lay: EngineLayout, enabled=None, window: int | None = None
                     ) -> tuple[np.ndarray, int]:
    """The core's policy registers with their reset values filled in: the map enables (F,)
    (default all on; ``Network.channel_on``) and the window end (default T; ``Network.window``).
    The window is not range-checked here: the hardware clamps what the host writes."""
    enabled = np.ones(lay.maps, dtype=bool) if enabled is None else np.asarray(enabled, dtype=bool)
    if enabled.shape != (lay.maps,):
        raise ValueError(f"enabled of shape {enabled.shape}: one flag per map, ({lay.maps},)")
    return enabled, lay.time_steps if window is None else int(window)


def integrate_pass(lay: EngineLayout, times_in: np.ndarray, weights: np.ndarray,
                   active: np.ndarray, threshold: int, enabled: np.ndarray | None = None,
                   window: int | None = None) -> PassResult:
    """Predict one layer pass of the integrate engine for one image's input spike times.

    ``active`` is the mask memory (the connections not pruned), ``enabled`` (F,) the map
    enables (default: all on; ``Network.channel_on``) and ``window`` the window end t_end
    (default T; ``Network.window``)."""
    P, G, npos, k, T = lay.lanes, lay.groups, lay.npos, lay.kernel, lay.time_steps
    vmax = (1 << lay.potential_bits) - 1
    enabled, window = policy_registers(lay, enabled, window)
    if not 1 <= window <= T:
        raise ValueError(f"window = {window}: must be 1 .. T = {T}")
    live = active & enabled[:, None, None, None]        # what the lanes walk
    lw, lm = lay.lane_weights(weights), lay.lane_masks(live)
    summaries = lay.lane_rows(lay.lane_masks(active))   # the lanes' row summaries: not gated
    events = lay.events(times_in)
    pot = np.zeros((P, G * npos), dtype=np.int64)
    fire = np.full((P, G * npos), T, dtype=np.int64)
    vfire = np.zeros((P, G * npos), dtype=np.int64)
    trace = []
    cycle = lay.valid_words                            # CLEAR: the valid bitmaps only
    ops = op_cycles = skipped = fetch_waits = 0
    e = 0
    ready_at = 1            # event e and its row summary are known from this cycle on

    def lane_offsets(event):
        """Each lane's live rows of ``event`` inside the output: (ky, kx), lowest offset first."""
        _, c, y, x = event
        inside = [(ky, kx) for ky in range(k) for kx in range(k)
                  if 0 <= y + lay.padding - ky < lay.side_out and 0 <= x + lay.padding - kx < lay.side_out]
        return [[(ky, kx) for ky, kx in inside if (summaries[lane, c] >> (ky * k + kx)) & 1]
                for lane in range(P)]

    for t in range(window):
        crossed = [[] for _ in range(P)]
        direct = False      # the last op cycle of the previous event may issue this one
        while True:
            in_step = e < len(events) and events[e][0] == t
            offsets = lane_offsets(events[e]) if in_step else [[]]
            has_rows = any(offsets)
            if not (direct and ready_at <= cycle - 1 and has_rows):
                direct = False
                fetch_waits += max(0, ready_at - cycle)
                cycle = max(cycle, ready_at)           # FETCH waits for the read-ahead
                if not in_step:
                    cycle += 2                         # FETCH, STEP_END
                    break
                if not has_rows:                       # skipped: the next event is read
                    ready_at, e, cycle = cycle + 2, e + 1, cycle + 1
                    skipped += 1
                    continue
                cycle += 1                             # FETCH issues the first rows
            ready_at = cycle + 1                       # issued in cycle - 1: event e + 1 read
            _, c, y, x = events[e]
            end = cycle + 1
            for lane in range(P):                      # each lane's rows back to back
                at = cycle
                for ky, kx in offsets[lane]:
                    row = (c * k + ky) * k + kx
                    pos = (y + lay.padding - ky) * lay.side_out + (x + lay.padding - kx)
                    trace.append((at, "row", lane, e, row))
                    word = int(lm[lane, row])
                    at += max(1, bin(word).count("1"))
                    while word:
                        g = _ffs(word)
                        word &= word - 1
                        addr = g * npos + pos
                        old = pot[lane, addr]
                        new = min(old + lw[lane, row * G + g], vmax)
                        pot[lane, addr] = new
                        ops += 1
                        if old < threshold <= new:
                            crossed[lane].append(addr)
                end = max(end, at)
            op_cycles += end - cycle                   # the lanes meet at the event's end
            cycle = end
            e += 1
            direct = True
        depth = max(len(q) for q in crossed)
        for lane in range(P):                          # DRAIN: ascending, i-th at cycle i + 3
            for i, addr in enumerate(sorted(crossed[lane])):
                fire[lane, addr] = t
                vfire[lane, addr] = pot[lane, addr]
                trace.append((cycle + i + 3, "fire", lane, addr, t, int(pot[lane, addr])))
        cycle += depth + 3
        trace.append((cycle - 1, "step", t))
    trace.append((cycle, "done"))
    cycle += 1
    trace.sort(key=trace_order)
    _check_against_model(lay, times_in, weights, live, threshold, pot, fire, vfire, window)
    return PassResult(trace, cycle, ops, op_cycles, pot, fire, vfire, skipped, fetch_waits)


def _check_against_model(lay, times_in, weights, active, threshold, pot, fire, vfire, window):
    """The schedule carries the model's arithmetic: assert it equals model.layer.integrate."""
    out = integrate(times_in[None], weights, active, lay.kernel, lay.padding, lay.time_steps,
                    threshold, (1 << lay.potential_bits) - 1, np.int64, window=window)
    for name, got, ref, fill in (("potentials", pot, out.v_final[0], 0),
                                 ("fire times", fire, out.times[0], lay.time_steps),
                                 ("fire potentials", vfire, out.v_fire[0], 0)):
        if not np.array_equal(got, lay.to_lanes(ref, fill)):
            raise AssertionError(f"schedule and model.layer.integrate disagree on {name}")
