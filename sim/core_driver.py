"""Drives the layer core (hw/core.py) through its host interface, and reads its trace.

The same coroutines serve Amaranth's simulator and cocotb (the buses of sim/engine_driver.py).
"""
from __future__ import annotations

import numpy as np
from amaranth import Mux

from hw import core as hc
from hw.common import bits
from hw.integrate import event_layout, pack_event
from cycles.layout import PoolLayout
from cycles.layout import EngineLayout
from cycles.learning import LearningParams
from sim.capture import TraceFormat
from sim import engine_driver as drv
from sim.engine_driver import EngineTrace, read_each, write_words

_FLAGS = {"tr_integrated": "integrated", "tr_inhibited": "inhibited", "tr_learned": "learned",
          "tr_pooled": "pooled", "tr_done": "done"}


class CoreTrace(TraceFormat):
    """The core's trace ports as the records of ``cycles.core``: the engine's (row,
    fire, step), winners, STDP ops, the next layer's events, the phase ends and done."""

    def __init__(self, lay: EngineLayout, formats, lc):
        self.lay, self.engine = lay, EngineTrace(lay)
        fb, cb, rb = bits(lay.maps - 1), bits(lay.side_out - 1), bits(lay.rows - 1)
        wb = lay.check_formats(formats).weight_bits
        self.next = PoolLayout.from_config(lay, lc).next_format() if lc.pool.size > 0 else None
        self.ev = event_layout(self.next) if self.next else None
        self.winner = [("tr_win_f", fb), ("tr_win_y", cb), ("tr_win_x", cb)]
        self.op = [("tr_map", fb), ("tr_op_row", rb), ("tr_q", wb), ("tr_q_next", wb),
                   ("tr_pruned", 1)]
        engine = [f for f in self.engine.fields if f[0] not in ("cycle", "tr_done")]
        super().__init__([("cycle", 32), *engine, ("tr_winner", 1), *self.winner,
                          ("tr_op", 1), *self.op, ("tr_ev", 1),
                          ("tr_ev_data", self.ev.size if self.ev else 1),
                          *((name, 1) for name in _FLAGS)])

    def gated(self, c):
        g = {k: v for k, v in self.engine.gated(c).items() if k != "tr_done"}
        for flag, payload in (("tr_winner", self.winner), ("tr_op", self.op),
                              ("tr_ev", [("tr_ev_data", 0)])):
            g[flag] = getattr(c, flag)
            g.update({name: Mux(getattr(c, flag), getattr(c, name), 0) for name, _ in payload})
        g.update({name: getattr(c, name) for name in _FLAGS})
        return g

    def valid(self, c):
        return (self.engine.valid(c) | c.tr_winner | c.tr_op | c.tr_ev | c.tr_integrated
                | c.tr_inhibited | c.tr_learned | c.tr_pooled | c.tr_done)

    def records(self, cycle, get):
        out = self.engine.records(cycle, lambda name: 0 if name == "tr_done" else get(name))
        if get("tr_winner"):
            out.append((cycle, "winner", *(get(n) for n, _ in self.winner)))
        if get("tr_op"):
            f, row, q, q_next, pruned = (get(n) for n, _ in self.op)
            out.append((cycle, "op", f, row, q, q_next, bool(pruned)))
        if get("tr_ev"):
            word = get("tr_ev_data")
            out.append((cycle, "event", *(word >> self.ev[n].offset & ((1 << self.ev[n].width) - 1)
                                          for n in "tcyx")))
        out += [(cycle, kind) for name, kind in _FLAGS.items() if get(name)]
        return out

    def fields_of(self, records):
        engine = [r for r in records if r[1] in ("row", "fire", "step")]
        v = self.engine.fields_of(engine)
        for r in records:
            if r[1] == "winner":
                v.update(tr_winner=1, **dict(zip((n for n, _ in self.winner), r[2:])))
            elif r[1] == "op":
                v.update(tr_op=1, **dict(zip((n for n, _ in self.op), (*r[2:6], int(r[6])))))
            elif r[1] == "event":
                v.update(tr_ev=1, tr_ev_data=pack_event(self.next, *r[2:]))
            elif r[1] in _FLAGS.values():
                v[next(k for k, kind in _FLAGS.items() if kind == r[1])] = 1
            elif r[1] not in ("row", "fire", "step"):
                raise ValueError(f"not a layer-core trace record: {r}")
        return v


def synapse_words(lay: EngineLayout, weights, active) -> list[tuple[int, int, list[int]]]:
    """(memory, lane, words from address 0) that load a layer's synapses into its core:
    weights, mask words, row summaries and live-row words (also the board's host link,
    boards/host.py)."""
    lm, lw = lay.lane_masks(active), lay.lane_weights(weights)
    summaries = lay.lane_rows(lm)
    out = [(hc.MEM_MAP_ROWS, 0, lay.map_rows(active))]
    for lane in range(lay.lanes):
        out += [(hc.MEM_ROW_ANY, lane, summaries[lane]), (hc.MEM_WEIGHTS, lane, lw[lane]),
                (hc.MEM_MASKS, lane, lm[lane])]
    return [(mem, lane, [int(w) for w in words]) for mem, lane, words in out]


def policy_words(lay: EngineLayout, enabled=None, window: int | None = None) -> list:
    """(memory, lane, words) of the core's policy registers (``sim.engine_driver.policy_words``
    at the core's codes; also the board's host link, boards/host.py)."""
    return drv.policy_words(lay, enabled, window, (hc.MEM_MAP_ON, hc.MEM_WINDOW))


async def load_policy(bus, lay: EngineLayout, enabled=None, window: int | None = None) -> None:
    """The map enables (default: all on) and the window end (default: T)."""
    await drv.load_policy(bus, lay, enabled, window, (hc.MEM_MAP_ON, hc.MEM_WINDOW))


def image_words(lay: EngineLayout, times_in, learn: bool) -> tuple[list, int]:
    """One image's (memory, lane, words) -- its input events and, for learning, its spike
    times for the STDP unit -- and its event count."""
    events = lay.events(times_in)
    out = [(hc.MEM_EVENTS, 0, [pack_event(lay, *ev) for ev in events])]
    if learn:
        out.append((hc.MEM_TIMES, 0, [int(t) for t in np.asarray(times_in).reshape(-1)]))
    return out, len(events)


async def load_synapses(bus, lay: EngineLayout, weights, active) -> None:
    """Weights, mask words, row summaries and live-row words of the layer."""
    for mem, lane, words in synapse_words(lay, weights, active):
        await write_words(bus, mem, lane, words)


async def load_image(bus, lay: EngineLayout, times_in, threshold: int, learn: bool) -> None:
    """One image's input events (and, for learning, its spike times for the STDP unit)."""
    writes, n_events = image_words(lay, times_in, learn)
    for mem, lane, words in writes:
        await write_words(bus, mem, lane, words)
    bus.set("n_events", n_events)
    bus.set("threshold", threshold)


def set_learning(bus, learning: LearningParams) -> None:
    """The learning registers of the next learn or sweep command."""
    for name, v in learning.registers().items():
        bus.set(name, v)


async def command(bus, cmd: int) -> None:
    bus.set("cmd", cmd)
    bus.set("start", 1)
    await bus.tick()
    bus.set("start", 0)


def counters(bus) -> dict:
    return {name: bus.get(name) for name in hc.COUNTERS}


async def read_mem(bus, mem: int, lane: int, n: int) -> list[int]:
    bus.set("rd_mem", mem)
    bus.set("rd_lane", lane)
    return [w[0] for w in await read_each(bus, "rd_addr", n, ("rd_data",))]


async def read_lanes(bus, lay: EngineLayout, mem: int, n: int) -> np.ndarray:
    return np.array([await read_mem(bus, mem, lane, n) for lane in range(lay.lanes)],
                    dtype=np.int64)


async def read_winners(bus) -> list[tuple[int, int, int, int]]:
    """The winners of the last learn command: (map, row, column, step) each."""
    winners = []
    for i in range(bus.get("n_winners")):
        bus.set("win_idx", i)
        await bus.read_tick()
        winners.append(tuple(bus.get(n) for n in ("win_f", "win_y", "win_x", "win_t")))
    return winners


async def read_state(bus, lay: EngineLayout, n_out: int | None = None) -> dict:
    """Every memory the model predicts: neurons, synapses, live rows, winners, output events."""
    n = lay.groups * lay.npos
    out = {"potentials": await read_lanes(bus, lay, hc.MEM_POTENTIALS, n),
           "fire": await read_lanes(bus, lay, hc.MEM_FIRE, n),
           "v_fire": await read_lanes(bus, lay, hc.MEM_VFIRE, n),
           "weights": await read_lanes(bus, lay, hc.MEM_WEIGHTS, lay.rows * lay.groups),
           "masks": await read_lanes(bus, lay, hc.MEM_MASKS, lay.rows),
           "row_any": await read_lanes(bus, lay, hc.MEM_ROW_ANY, lay.channels),
           "map_rows": np.array(await read_mem(bus, hc.MEM_MAP_ROWS, 0, lay.maps * lay.map_words))}
    out["winners"] = await read_winners(bus)
    if n_out is not None:
        out["out_events"] = await read_mem(bus, hc.MEM_OUT_EVENTS, 0, n_out)
    return out


COMMAND_NAMES = {hc.CMD_INFER: "infer", hc.CMD_LEARN: "learn", hc.CMD_SWEEP: "sweep"}


async def run_command(bus, fmt: CoreTrace, cmd: int, cycles: int, expected: list | None = None,
                      context: dict | None = None, words: list[int] | None = None):
    """Start ``cmd`` and follow it to ``done``; returns (trace records, counters). ``cycles``:
    the command's cycles by the cycle model (``cycles.core.core_command``): past
    ``sim.stall.cycle_limit`` of them the wait ends in StallError. Under Amaranth's simulator
    (``expected`` None) the records are read every cycle; on a ``TraceCapture``-wrapped core
    under cocotb they are compared with ``expected`` as the capture fills (sim/capture.py), and
    the records returned are the expected ones, seen equal."""
    name = f"layer core {COMMAND_NAMES.get(cmd, cmd)}"
    await command(bus, cmd)
    if expected is None:
        trace = []
        await drv.trace_until_done(bus, lambda c: trace.extend(fmt.records(c, bus.get)), name,
                                   cycles, context)
    else:
        from sim.capture import check_pass
        await check_pass(bus.dut, fmt, expected, context or {}, words, command=name)
        trace = expected
    await bus.tick()
    return trace, counters(bus)


LIST_STATE = ("winners", "out_events")     # compared as lists; the other memories as arrays


def split_state(state: dict, step: int) -> tuple[dict, dict]:
    """A predicted state for a case file: (the JSON part -- ``state``, the lists, and ``arrays``,
    the names of the others --, the arrays for the .npz, keyed ``s<step>_<name>``)."""
    arrays = sorted(k for k in state if k not in LIST_STATE)
    return ({"state": {k: v for k, v in state.items() if k in LIST_STATE}, "arrays": arrays},
            {f"s{step}_{k}": state[k] for k in arrays})


def join_state(meta: dict, npz: dict, step: int) -> dict:
    """``split_state`` undone: the state from a case step's JSON part and the .npz arrays."""
    return {**meta["state"], **{k: npz[f"s{step}_{k}"] for k in meta["arrays"]}}


def expected_state(lay: EngineLayout, lc, pred) -> dict:
    """The memories ``cycles.core.core_command`` predicts after a command, as the host
    reads them (``read_state``)."""
    out = {}
    if pred.engine is not None:
        out.update(potentials=pred.engine.potentials, fire=pred.engine.fire, v_fire=pred.engine.v_fire)
    if pred.weights is not None:
        masks = lay.lane_masks(pred.active)
        out.update(weights=lay.lane_weights(pred.weights), masks=masks, row_any=lay.lane_rows(masks),
                   map_rows=lay.map_rows(pred.active))
    if pred.engine is not None and pred.weights is not None:        # learn
        out["winners"] = [list(w) for w in pred.winners]
    if pred.events is not None:
        nxt = PoolLayout.from_config(lay, lc).next_format()
        out["out_events"] = [pack_event(nxt, *e) for e in pred.events]
    return out


# The memories of ``expected_state`` and ``read_state``: their codes, and whether per lane.
STATE_MEMORIES = {"potentials": (hc.MEM_POTENTIALS, True), "fire": (hc.MEM_FIRE, True),
                  "v_fire": (hc.MEM_VFIRE, True), "weights": (hc.MEM_WEIGHTS, True),
                  "masks": (hc.MEM_MASKS, True), "row_any": (hc.MEM_ROW_ANY, True),
                  "map_rows": (hc.MEM_MAP_ROWS, False), "out_events": (hc.MEM_OUT_EVENTS, False)}
MEMORY_NAMES = {code: name for name, (code, _) in STATE_MEMORIES.items()}


def script_step(script, context: dict, lay: EngineLayout, lc, step: dict, pred, threshold: int,
                enabled, window: int, read_back: bool = True) -> None:
    """One step of ``sim.cosim.run_core`` as ``sim.host_script.Script`` words: the image's and
    the policy registers' writes, the registers, the command, then its counters, output event
    count, winners and (``read_back``) every memory ``expected_state`` predicts, compared."""
    script.part(context)
    writes, n_events = image_words(lay, step["times_in"], step["cmd"] != "infer")
    for mem, lane, words in writes + policy_words(lay, enabled, window):
        script.write(mem, lane, words)
    learning = step.get("learning", LearningParams())
    for name, value in {"threshold": threshold, "n_events": n_events,
                        **learning.registers()}.items():
        script.set(name, value)
    cmd = {"infer": hc.CMD_INFER, "learn": hc.CMD_LEARN, "sweep": hc.CMD_SWEEP}[step["cmd"]]
    script.run(cmd, f"layer core {COMMAND_NAMES[cmd]}", pred.cycles)
    for name in hc.COUNTERS:
        script.port(name, pred.counters[name])
    state = expected_state(lay, lc, pred)
    if "out_events" in state:
        script.port("n_out", len(state["out_events"]))
    if "winners" in state:
        script.port("n_winners", len(state["winners"]))
        for k, w in enumerate(state["winners"]):
            script.winner(k, *w)
    for name, value in state.items():
        if name == "winners" or not read_back:
            continue
        mem, per_lane = STATE_MEMORIES[name]
        lanes = np.atleast_2d(np.asarray(value, dtype=np.int64)) if per_lane else [list(value)]
        for lane, words in enumerate(lanes):
            script.read(mem, lane, [int(v) for v in words])


def state_divergence(expected: dict, seen: dict, context: dict):
    """The first memory in which ``seen`` (``read_state``) differs from ``expected``, or None."""
    from sim.compare import Divergence, first_memory_divergence
    for name, ref in expected.items():
        got = seen[name]
        if name in LIST_STATE:
            got = [list(w) for w in got] if name == "winners" else list(got)
            if got != list(ref):
                return Divergence(name, 0, None, ref, got, context)
            continue
        d = first_memory_divergence(name, np.atleast_2d(ref), np.atleast_2d(got), context)
        if d is not None:
            return d
    return None
