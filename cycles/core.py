"""The schedule of hw/core.py (LayerCore): every trace record and counter of one command.

A command runs its blocks one after the other without a gap (hw/core.py), so its schedule is
the blocks' schedules laid end to end, stamped with the core's cycle:

* ``infer``: ``cycles.integrate.integrate_pass``, then (layers with pooling) ``cycles.pool.
  outgoing_pass`` on the pass's fire memories, from the cycle after the pass's last;
* ``learn``, layers with pointwise inhibition (the reference order: fire, inhibit, then k-WTA):
  the integrate pass without holds, then the outgoing unit's inhibition phase
  (``cycles.pool.inhibition_pass``, record ``inhibited``) streaming each fired position's survivor
  to the winner unit, then the unit's selection over the survivors
  (``cycles.wta.survivor_pass``; a winner found u cycles into its busy time is traced at the
  cycle after ``inhibited`` plus u), then ``cycles.stdp_unit.stdp_pass`` on the winners in winning order;
* ``learn``, layers without it: the integrate pass with the winner unit: after each step's
  ``step`` record the engine holds for 1 + the unit's busy cycles of that step
  (``cycles.wta.winner_pass``), and a winner the unit finds u cycles into its busy time of
  step t (its own stamp minus its busy cycles before the step) is traced at the core's cycle
  step(t) + 1 + u; then ``cycles.stdp_unit.stdp_pass`` on the winners, in winning order;
* ``sweep``: ``stdp_pass`` over every map with zero rates.

Each block's last record becomes a phase record -- ``integrated``, ``inhibited``, ``learned``,
``pooled`` -- and the command's last cycle also carries ``done``. The counters are the core's
(``COUNTERS``, which hw/core.py's ports follow; ``cyc_outgoing`` counts the inhibition phase of
a learning command).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.config import Config

from .integrate import PassResult, integrate_pass
from .layout import EngineLayout, PoolLayout
from .pool import OutgoingResult, check_inhibition, inhibition_pass, outgoing_pass
from .stdp_unit import StdpResult, stdp_pass
from .trace import trace_order
from .wta import WinnerResult, fire_stream, survivor_pass, survivor_stream, winner_pass

COMMANDS = ("infer", "learn", "sweep")
COUNTERS = ("cyc_integrate", "cyc_winners", "cyc_stdp", "cyc_outgoing", "ops", "op_cycles",
            "stdp_ops", "prunes")
HOLD_CYCLES = 1      # the engine's HOLD after a step lasts this much longer than the unit's busy time
PHASE_OF = {"integrate": "integrated", "inhibition": "inhibited", "stdp": "learned",
            "outgoing": "pooled"}


@dataclass
class CoreResult:
    trace: list
    cycles: int
    counters: dict
    engine: PassResult | None = None     # potentials, fire times (stalls included in cycles)
    winners: list = field(default_factory=list)   # (f, y, x, t) in winning order
    weights: np.ndarray | None = None    # after the STDP unit (learn, sweep)
    active: np.ndarray | None = None
    events: list | None = None           # the next layer's events (infer, with pooling)


def network_layouts(cfg: Config, lanes: int | None = None) -> list[EngineLayout]:
    """Every layer's layout on cores of ``lanes`` lanes (default: the config's ``core.lanes``;
    fewer where a layer has fewer maps):
    the generator parameters of the layer cores of a whole network (boards/, the resource
    report), from the config alone. Layer 0 sees the encoder's grid (2 DoG channels); a layer
    with pooling hands on its pooled side."""
    out, side, channels = [], cfg.input.grid, 2
    for i, lc in enumerate(cfg.layers):
        lay = EngineLayout.from_config(cfg, i, cfg.lanes(i, lanes), side, channels)
        out.append(lay)
        side = PoolLayout.from_config(lay, lc).side if lc.pool.size > 0 else lay.side_out
        channels = lc.maps
    return out


def _phase(records, block: str, offset: int) -> list:
    """A block's records at the core's cycle, its ``done`` renamed to the block's phase."""
    return [(r[0] + offset, PHASE_OF[block]) if r[1] == "done" else (r[0] + offset, *r[1:])
            for r in records]


def stalled(trace: list, stalls: list[int]) -> list:
    """The engine's trace with ``stalls[t]`` cycles inserted after step t's ``step`` record."""
    out, shift, t = [], 0, 0
    for rec in sorted(trace, key=trace_order):
        out.append((rec[0] + shift, *rec[1:]))
        if rec[1] == "step":
            shift += stalls[t]
            t += 1
    return out


@dataclass
class LearnPhases:
    """What a learning command adds to its integrate pass."""
    winner: WinnerResult
    stalls: list[int]        # cycles the engine holds after each step's ``step`` record
    stdp: StdpResult
    inhibition: OutgoingResult | None = None   # layers with pointwise inhibition

    @property
    def handshake(self) -> int:
        """The engine's HOLD cycles beyond the winner unit's busy ones (per-step mode)."""
        return sum(self.stalls) - (self.winner.cycles if self.inhibition is None else 0)


def learn_phases(lay: EngineLayout, formats, lc, eng: PassResult, times_in: np.ndarray,
                 weights: np.ndarray, active: np.ndarray, a_plus: int, a_minus: int,
                 round_key: int, check: bool, prune_th: int) -> LearnPhases:
    """The winner unit -- on the survivors of pointwise inhibition (layers with it) or on the
    pass's fires step by step, with the engine's holds --, then the STDP unit on the winners."""
    inh = None
    if check_inhibition(lc):
        inh = inhibition_pass(lay, lc, eng.fire, eng.v_fire)
        win = survivor_pass(lay, lc.winners, lc.inhibition_radius, survivor_stream(lay, inh.survivors))
        stalls = [0] * sum(1 for r in eng.trace if r[1] == "step")
    else:
        win = winner_pass(lay, lc.winners, lc.inhibition_radius, fire_stream(lay, eng.trace))
        stalls = [busy + HOLD_CYCLES for busy in win.busy]
    st = stdp_pass(lay, formats, weights, active, times_in, win.winners, a_plus, a_minus,
                   round_key, check, prune_th)
    return LearnPhases(win, stalls, st, inh)


def core_command(cmd: str, lay: EngineLayout, formats, lc, times_in: np.ndarray,
                 weights: np.ndarray, active: np.ndarray, threshold: int, *, a_plus: int = 0,
                 a_minus: int = 0, round_key: int = 0, check: bool = False,
                 prune_th: int = 0, enabled: np.ndarray | None = None,
                 window: int | None = None) -> CoreResult:
    """Predict one command of the layer core on one image's input spike times (C, S, S).

    ``active`` is the mask memory; ``enabled`` (the map enables) and ``window`` (the window
    end) are the core's policy registers (default: all maps on, T), which only the integrate
    pass reads: a disabled map never fires, so it never wins, and the STDP unit (the sweep too)
    walks the mask memory as it is."""
    if cmd not in COMMANDS:
        raise ValueError(f"command {cmd!r}: one of {', '.join(COMMANDS)}")
    counters = dict.fromkeys(COUNTERS, 0)
    res = CoreResult([], 0, counters)
    if cmd == "sweep":
        st = stdp_pass(lay, formats, weights, active, times_in, [], 0, 0, round_key, check,
                       prune_th, all_maps=True)
        return _learned(res, st, 0)

    eng = integrate_pass(lay, times_in, weights, active, threshold, enabled, window)
    counters.update(ops=eng.ops, op_cycles=eng.op_cycles)
    res.engine = eng
    trace = eng.trace
    if cmd == "learn":
        learned = learn_phases(lay, formats, lc, eng, times_in, weights, active, a_plus, a_minus,
                               round_key, check, prune_th)
        if learned.inhibition is not None:
            return _learned_after_inhibition(res, eng, learned)
        win, stalls = learned.winner, learned.stalls
        trace = stalled(eng.trace, stalls)
        steps = [r[0] for r in trace if r[1] == "step"]
        before, i = 0, 0
        for t, busy in enumerate(win.busy):     # winner records at the core's cycle
            while i < len(win.trace) and win.trace[i][0] < before + busy:
                c, kind, *payload = win.trace[i]
                trace.append((steps[t] + 1 + c - before, kind, *payload))
                i += 1
            before += busy
        res.winners = win.winners
        counters["cyc_winners"] = win.cycles
        eng_cycles = eng.cycles + sum(stalls)
    else:
        eng_cycles = eng.cycles
    res.trace = _phase(trace, "integrate", 0)
    counters["cyc_integrate"] = eng_cycles
    res.cycles = eng_cycles
    if cmd == "learn":
        return _learned(res, learned.stdp, eng_cycles)
    if lc.pool.size > 0:
        out = outgoing_pass(lay, lc, eng.fire, eng.v_fire)
        res.trace += _phase(out.trace, "outgoing", eng_cycles)
        res.events = out.events
        counters["cyc_outgoing"] = out.cycles
        res.cycles += out.cycles
    return _done(res)


def _learned_after_inhibition(res: CoreResult, eng: PassResult, learned: LearnPhases) -> CoreResult:
    """The integrate pass, the inhibition phase, the winner unit's selection (its busy cycles
    start in the cycle after ``inhibited``), laid end to end; then the STDP unit."""
    inh, win = learned.inhibition, learned.winner
    start = eng.cycles + inh.cycles
    res.trace = (_phase(eng.trace, "integrate", 0) + _phase(inh.trace, "inhibition", eng.cycles)
                 + [(start + c, *rest) for c, *rest in win.trace])
    res.winners = win.winners
    res.counters.update(cyc_integrate=eng.cycles, cyc_outgoing=inh.cycles, cyc_winners=win.cycles)
    res.cycles = start + win.cycles
    return _learned(res, learned.stdp, res.cycles)


def _learned(res: CoreResult, st, offset: int) -> CoreResult:
    res.trace += _phase(st.trace, "stdp", offset)
    res.counters.update(cyc_stdp=st.cycles, stdp_ops=sum(r[1] == "op" for r in st.trace),
                        prunes=sum(r[1] == "op" and r[6] for r in st.trace))
    res.cycles += st.cycles
    res.weights, res.active = st.weights, st.active
    return _done(res)


def _done(res: CoreResult) -> CoreResult:
    res.trace.append((res.cycles - 1, "done"))
    res.trace.sort(key=trace_order)
    return res

