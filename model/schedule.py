"""The core's schedule: the cycle of every trace event, predicted from the model.

This module mirrors the sequencer of ``hw/integrate.py`` state by state (see hw/README.md); the
arithmetic it carries along is the model's, and ``integrate_pass`` checks its results against
``model.layer.integrate`` so the schedule can never drift from the bit-accurate model.

Layout shared with the hardware (``EngineLayout``): lane l owns maps f = g P + l; a row is a
kernel position ``(c k + ky) k + kx``; lane memories are addressed ``row G + g`` (weights),
``row`` (mask word, bit g) and ``g npos + pos`` (potentials, fire times, potentials at fire).

Sequencer states and their cycles (cycle 0 is the first cycle after ``start``):

* CLEAR, ceil(G npos / 32) cycles: it zeroes the lanes' valid bitmaps (one bit per potential
  word and one per fire-time word, 32 to a bitmap word); a word whose bit is clear reads as
  potential 0, fire time T ("never"), fire potential 0, so the memories themselves are not cleared;
* event prefetch: event e is read in the cycle e advances (pass start, or the cycle that issues
  the previous event's first row or skips it) and its row summary in the next, so it is known
  ("ready") two cycles after e advanced;
* per time step t < t_end (the window end, hw/window.py; T unless a temporal policy shortened
  it): FETCH waits until the next event is ready; if it belongs to step t and has
  live rows inside the output, FETCH issues its first row (one cycle), else it skips it (one
  cycle; the event after it is ready two cycles later). Then ROWS, max(1, max over lanes of
  popcount(mask word of the enabled maps)) cycles per live row, rows back to back (a row is
  live when the row summary, which the map enables do not gate, says so: a row whose live
  maps are all disabled costs one empty op cycle); the last op cycle of an event
  issues the next event's first row directly (no cycle between) when that event is ready, of
  step t and has live rows, and otherwise returns to FETCH. An event of a later step (or the
  end of the list) ends the step: FETCH, STEP_END, then DRAIN, max over lanes of crossings + 2
  cycles;
* DONE, one cycle, after step t_end - 1's drain: input spikes at later steps never arrive.

Trace records, each a tuple starting with its cycle:

* ``(cycle, "row", event_index, row)``: first op cycle of a row;
* ``(cycle, "fire", lane, address, t, potential)``: a neuron's fire time written (drain);
* ``(cycle, "step", t)``: last cycle of step t's drain;
* ``(cycle, "done")``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config
from .layer import integrate


MAX_ADDRESS_BITS = 20        # deepest memory the generator accepts: 2^20 words per lane
MAX_LANES = 64
STDP_EXEC = 6                # STDP unit: an op's exec (write, trace) cycle after its issue
VALID_WORD_BITS = 32         # potential / fire-time words marked per valid-bitmap word


class HardwareConfigError(ValueError):
    """A layer the core cannot hold; the message says which limit and by how much."""


@dataclass(frozen=True)
class EngineLayout:
    """Sizes of one layer on the integrate engine (generator parameters of hw/integrate.py)."""
    maps: int            # F
    channels: int        # C
    kernel: int          # k
    padding: int
    side_in: int         # input side S
    time_steps: int      # T
    lanes: int           # P
    weight_bits: int
    potential_bits: int
    max_events: int

    @property
    def side_out(self) -> int:
        return self.side_in + 2 * self.padding - self.kernel + 1

    @property
    def npos(self) -> int:
        return self.side_out ** 2

    @property
    def groups(self) -> int:
        return -(-self.maps // self.lanes)

    @property
    def rows(self) -> int:
        return self.channels * self.kernel ** 2

    @property
    def valid_words(self) -> int:
        """Words of each lane's valid bitmaps: the cycles of the CLEAR phase."""
        return -(-self.groups * self.npos // VALID_WORD_BITS)

    def check(self) -> "EngineLayout":
        """Refuse what the hardware cannot hold, naming the limit."""
        if not 1 <= self.lanes <= min(MAX_LANES, self.maps):
            raise HardwareConfigError(f"lanes = {self.lanes}: must be 1 .. min({MAX_LANES}, maps = "
                                      f"{self.maps})")
        for name, depth in (("weight", self.rows * self.groups), ("potential", self.groups * self.npos),
                            ("event", self.max_events)):
            if depth > 1 << MAX_ADDRESS_BITS:
                raise HardwareConfigError(
                    f"the {name} memory needs {depth} words per lane, more than the "
                    f"{1 << MAX_ADDRESS_BITS} a {MAX_ADDRESS_BITS}-bit address reaches; "
                    "use more lanes or a smaller layer")
        if self.potential_bits > 32 or self.weight_bits > 16:
            raise HardwareConfigError(f"potential_bits = {self.potential_bits}, weight_bits = "
                                      f"{self.weight_bits}: the datapath holds at most 32 and 16")
        return self

    def check_formats(self, formats) -> "EngineLayout":
        """Refuse STDP formats of another weight width than the layout's (the layer's own)."""
        if formats.weight_bits != self.weight_bits:
            raise HardwareConfigError(
                f"formats.weight_bits = {formats.weight_bits}, but the layer's layout has "
                f"weight_bits = {self.weight_bits}: build its formats with "
                "Formats.from_config(cfg, layer)")
        return self

    @classmethod
    def from_config(cls, cfg: Config, layer: int, lanes: int, side_in: int, channels: int,
                    max_events: int | None = None) -> "EngineLayout":
        lc = cfg.layers[layer]
        return cls(lc.maps, channels, lc.kernel, lc.padding, side_in, cfg.input.time_steps, lanes,
                   cfg.weight_bits(layer), cfg.formats.potential_bits,
                   max_events or channels * side_in * side_in)

    @classmethod
    def for_input(cls, cfg: Config, layer: int, lanes: int, times_in: np.ndarray) -> "EngineLayout":
        """The layout of layer ``layer`` for inputs shaped like ``times_in`` ((B,) C, S, S)."""
        return cls.from_config(cfg, layer, lanes, side_in=times_in.shape[-1],
                               channels=times_in.shape[-3])

    # -- memory images: the model's arrays in the lanes' layout --------------------------------
    def lane_weights(self, weights: np.ndarray) -> np.ndarray:
        """(F, C, k, k) -> (P, rows * G): word row G + g of lane l is weight (g P + l, row)."""
        w = np.zeros((self.groups * self.lanes, self.rows), dtype=np.int64)
        w[:self.maps] = weights.reshape(self.maps, self.rows)
        return w.reshape(self.groups, self.lanes, self.rows).transpose(1, 2, 0).reshape(self.lanes, -1)

    def lane_masks(self, active: np.ndarray) -> np.ndarray:
        """(F, C, k, k) live connections -> (P, rows) mask words, bit g for map g P + l."""
        a = np.zeros((self.groups * self.lanes, self.rows), dtype=np.int64)
        a[:self.maps] = active.reshape(self.maps, self.rows)
        a = a.reshape(self.groups, self.lanes, self.rows)
        return (a << np.arange(self.groups)[:, None, None]).sum(axis=0)

    def row_any(self, masks: np.ndarray) -> np.ndarray:
        """(C,) words of k*k bits: bit (ky k + kx) set when row (c, ky, kx) has a live connection."""
        live = (masks != 0).any(axis=0).reshape(self.channels, self.kernel ** 2)
        return (live.astype(np.int64) << np.arange(self.kernel ** 2)).sum(axis=1)

    @property
    def map_words(self) -> int:
        """32-row words per map in the STDP unit's live-row bitmap."""
        return -(-self.rows // 32)

    def map_rows(self, active: np.ndarray) -> np.ndarray:
        """(F, C, k, k) live connections -> (F * NW,) words: bit row mod 32 of word f NW + row div 32."""
        a = np.zeros((self.maps, self.map_words * 32), dtype=np.int64)
        a[:, :self.rows] = active.reshape(self.maps, self.rows)
        a = a.reshape(self.maps, self.map_words, 32)
        return (a << np.arange(32)).sum(axis=2).reshape(-1)

    def events(self, times: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Input spike times (C, S, S) -> the event list (t, c, y, x), by time, then (c, y, x)."""
        t, c, y, x = times.ravel(), *np.unravel_index(np.arange(times.size), times.shape)
        live = t < self.time_steps
        order = np.argsort(t[live], kind="stable")
        return [tuple(int(v) for v in e) for e in
                np.stack([t[live], c[live], y[live], x[live]], axis=1)[order]]

    def to_lanes(self, nchw: np.ndarray, fill) -> np.ndarray:
        """(F, So, So) model array -> (P, G npos) lane memories (maps past F read as ``fill``)."""
        a = np.full((self.groups * self.lanes, self.npos), fill, dtype=np.int64)
        a[:self.maps] = nchw.reshape(self.maps, self.npos)
        return a.reshape(self.groups, self.lanes, self.npos).transpose(1, 0, 2).reshape(self.lanes, -1)


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


_KINDS = {"row": 0, "op": 0, "event": 0, "winner": 0, "fire": 1, "step": 2,
          "integrated": 3, "inhibited": 3, "learned": 3, "pooled": 3,
          "done": 4}                                     # from "integrated" on: hw/core.py


def trace_order(record: tuple):
    """Canonical order of trace records: by cycle, then kind, then lane (fires of one cycle)."""
    return (record[0], _KINDS[record[1]], record[2] if record[1] == "fire" else 0)


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
    ra = lay.row_any(lay.lane_masks(active))            # the row summaries: not gated
    events = lay.events(times_in)
    pot = np.zeros((P, G * npos), dtype=np.int64)
    fire = np.full((P, G * npos), T, dtype=np.int64)
    vfire = np.zeros((P, G * npos), dtype=np.int64)
    trace = []
    cycle = lay.valid_words                            # CLEAR: the valid bitmaps only
    ops = op_cycles = skipped = fetch_waits = 0
    e = 0
    ready_at = 1            # event e and its row summary are known from this cycle on

    def live_offsets(event):
        _, c, y, x = event
        return [(ky, kx) for ky in range(k) for kx in range(k)
                if 0 <= y + lay.padding - ky < lay.side_out
                and 0 <= x + lay.padding - kx < lay.side_out and (ra[c] >> (ky * k + kx)) & 1]

    for t in range(window):
        crossed = [[] for _ in range(P)]
        direct = False      # the last op cycle of the previous event may issue this one
        while True:
            in_step = e < len(events) and events[e][0] == t
            offsets = live_offsets(events[e]) if in_step else []
            if not (direct and ready_at <= cycle - 1 and offsets):
                direct = False
                fetch_waits += max(0, ready_at - cycle)
                cycle = max(cycle, ready_at)           # FETCH waits for the read-ahead
                if not in_step:
                    cycle += 2                         # FETCH, STEP_END
                    break
                if not offsets:                        # skipped: the next event is read
                    ready_at, e, cycle = cycle + 2, e + 1, cycle + 1
                    skipped += 1
                    continue
                cycle += 1                             # FETCH issues the first row
            ready_at = cycle + 1                       # issued in cycle - 1: event e + 1 read
            _, c, y, x = events[e]
            for ky, kx in offsets:
                row = (c * k + ky) * k + kx
                pos = (y + lay.padding - ky) * lay.side_out + (x + lay.padding - kx)
                trace.append((cycle, "row", e, row))
                width = 0
                for lane in range(P):
                    word = int(lm[lane, row])
                    width = max(width, bin(word).count("1"))
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
                width = max(width, 1)
                cycle += width
                op_cycles += width
            e += 1
            direct = True
        depth = max(len(q) for q in crossed)
        for i in range(depth):                         # DRAIN: write at drain cycle i + 2
            for lane in range(P):
                if i < len(crossed[lane]):
                    addr = crossed[lane][i]
                    fire[lane, addr] = t
                    vfire[lane, addr] = pot[lane, addr]
                    trace.append((cycle + i + 2, "fire", lane, addr, t, int(pot[lane, addr])))
        cycle += depth + 2
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
    from . import rng
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
