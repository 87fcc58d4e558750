"""The schedule of hw/core.py (LayerCore): every trace record and counter of one command.

A command runs its blocks one after the other without a gap (hw/core.py), so its schedule is
the blocks' schedules laid end to end, stamped with the core's cycle:

* ``infer``: ``cycles.integrate.integrate_pass``, then (layers with pooling) ``cycles.pool.
  outgoing_pass`` on the pass's fire memories, from the cycle after the pass's last;
* ``learn``: the integrate pass with the winner unit: after each step's ``step`` record the
  engine holds for 1 + the unit's busy cycles of that step (``cycles.wta.winner_pass``), and
  a winner the unit finds u cycles into its busy time of step t (its own stamp minus its busy
  cycles before the step) is traced at the core's cycle step(t) + 1 + u; then
  ``cycles.stdp_unit.stdp_pass`` on the winners, in winning order;
* ``sweep``: ``stdp_pass`` over every map with zero rates.

Each block's last record becomes a phase record -- ``integrated``, ``learned``, ``pooled`` --
and the command's last cycle also carries ``done``. The counters are the core's
(``COUNTERS``, which hw/core.py's ports follow).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.config import Config

from .integrate import PassResult, integrate_pass
from .layout import EngineLayout, PoolLayout
from .pool import outgoing_pass
from .stdp_unit import StdpResult, stdp_pass
from .trace import trace_order
from .wta import WinnerResult, fire_stream, winner_pass

COMMANDS = ("infer", "learn", "sweep")
COUNTERS = ("cyc_integrate", "cyc_winners", "cyc_stdp", "cyc_outgoing", "ops", "op_cycles",
            "stdp_ops", "prunes")
HOLD_CYCLES = 1      # the engine's HOLD after a step lasts this much longer than the unit's busy time
PHASE_OF = {"integrate": "integrated", "stdp": "learned", "outgoing": "pooled"}


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
        lay = EngineLayout.from_config(cfg, i, min(lanes or cfg.core.lanes, lc.maps), side, channels)
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


def learn_phases(lay: EngineLayout, formats, lc, eng: PassResult, times_in: np.ndarray,
                 weights: np.ndarray, active: np.ndarray, a_plus: int, a_minus: int,
                 round_key: int, check: bool, prune_th: int) -> LearnPhases:
    """The winner unit on the pass's fires, the engine's holds, the STDP unit on the winners."""
    win = winner_pass(lay, lc.winners, lc.inhibition_radius, fire_stream(lay, eng.trace))
    st = stdp_pass(lay, formats, weights, active, times_in, win.winners, a_plus, a_minus,
                   round_key, check, prune_th)
    return LearnPhases(win, [busy + HOLD_CYCLES for busy in win.busy], st)


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

