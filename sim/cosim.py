"""Co-simulation of the integrate engine: predict with the model, run the RTL, compare.

    from sim import cosim
    report = cosim.run_engine(lay, passes=[times_in, ...], weights=..., active=..., threshold=...,
                              context={...}, sim="verilator")

``run_engine`` predicts every pass with ``cycles.integrate.integrate_pass``, writes them as one case
for the cocotb test ``sim/cocotb_integrate.py``, builds the engine's Verilog for the layout and
runs it under the chosen simulator (``sim.runner``, the clock generated inside the simulation):
synapses are loaded once, then each pass's events; the trace of every pass (compared inside the
simulation against the predicted words, ``sim.capture.TraceCheck``) and the lane memories
(after every pass, or after the last one with ``memories="last"``) are compared. The first divergence fails the cocotb test, and
``sim.runner.run`` raises it as an AssertionError with its cycle, expected and seen record and
the context (config, layer, seed, image, pass, simulator). With ``timing``, each pass also runs
a second time without looking at the trace, and both wall and CPU times are returned
(sim/bench.py).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path

import numpy as np
from amaranth.lib.wiring import In

from hw.integrate import IntegrateEngine
from hw.stdp_unit import StdpUnit
from cycles.layout import EngineLayout
from cycles.learning import LearningParams
from cycles.integrate import integrate_pass, policy_registers
from cycles.stdp_unit import stdp_pass
from sim import runner
from sim.capture import TRACE_ROM_VERILOG, TraceCheck, rom_depth, write_rom
from sim.engine_driver import EngineTrace
from sim.stall import cycle_limit
from sim.verilog_out import design_key

MEMORIES = ("potentials", "fire", "v_fire")


def save_case(path: Path, lay: EngineLayout, passes, weights, active, threshold, preds, contexts,
              memories: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".npz"), times_in=np.stack(passes), weights=weights, active=active,
             **{m: np.stack([getattr(p, m) for p in preds]) for m in MEMORIES})
    path.with_suffix(".json").write_text(json.dumps({
        "layout": dataclasses.asdict(lay), "threshold": int(threshold), "memories": memories,
        "passes": [{"trace": p.trace, "context": c,
                    "counters": {"cycles": p.cycles, "ops": p.ops, "op_cycles": p.op_cycles}}
                   for p, c in zip(preds, contexts)]}))


def load_case(path: str | Path) -> dict:
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    case = {"layout": EngineLayout(**meta["layout"]), "threshold": meta["threshold"],
            "memories": meta["memories"], "passes": meta["passes"]}
    for p in case["passes"]:
        p["trace"] = [tuple(r) for r in p["trace"]]
    with np.load(path.with_suffix(".npz")) as z:
        case.update({k: z[k] for k in ("times_in", "weights", "active", *MEMORIES)})
    return case


def run_engine(lay: EngineLayout, passes, weights, active, threshold, context: dict,
               sim: str | None = None, waves: bool | None = None, faults=frozenset(),
               memories: str = "each", timing: bool = False) -> dict:
    """Co-simulate a sequence of passes over one set of synapses; returns what was compared."""
    sim = runner.default_sim(sim)
    preds = [integrate_pass(lay, x, weights, active, threshold) for x in passes]
    contexts = [dict(context, simulator=sim, image_pass=i) for i in range(len(passes))]
    tag = (f"integrate-{lay.maps}x{lay.channels}x{lay.kernel}x{lay.side_in}-p{lay.lanes}"
           + ("-" + "-".join(sorted(faults)) if faults else ""))
    case = runner.BUILD / "cases" / f"{tag}-{sim}"
    save_case(case, lay, passes, weights, active, threshold, preds, contexts, memories)
    # The expected trace of every pass, one after the other, in the design's ROM (TraceCheck):
    # the simulation compares it and runs its own clock, cocotb wakes twice a pass.
    fmt = EngineTrace(lay)
    words = [w for p in preds for w in fmt.pack(p.trace)]
    build_dir = runner.BUILD / f"{tag}-{sim}{'-waves' if runner.waves_on(waves) else ''}"
    rom = write_rom(build_dir / "expected_trace.hex", words)
    rom_v = build_dir / "trace_rom.v"
    runner.write_if_changed(rom_v, TRACE_ROM_VERILOG)
    top = TraceCheck(IntegrateEngine(lay, faults), fmt, rom, rom_depth(len(words)))
    runner.run(top, "integrate", "sim.cocotb_integrate", sim=sim, clock=("clk", 10),
               verilog_sources=[rom_v], waves=waves, build_dir=build_dir,
               waves_dir=runner.waves_dir_for(context, sim),
               extra_env={"ENGINE_CASE": str(case), "COCOTB_LOG_LEVEL": "WARNING",
                          "ENGINE_TIMING": "1" if timing else "0"})
    seen = json.loads(Path(str(case) + ".seen.json").read_text())
    return {"simulator": sim, "passes": len(passes),
            "trace_events": sum(len(p.trace) for p in preds),
            "cycles": [p.cycles for p in preds], "ops": [p.ops for p in preds],
            "op_cycles": [p.op_cycles for p in preds], "seen": seen}


# -- the STDP unit -------------------------------------------------------------------------------

def run_stdp(lay: EngineLayout, formats, weights, active, times_in, context: dict,
             winners: list, learning: LearningParams, all_maps: bool = False,
             sim: str | None = None, waves: bool | None = None, max_winners: int = 8) -> dict:
    """Co-simulate one pass of the STDP unit on ``winners`` (or every map: ``all_maps``)."""
    sim = runner.default_sim(sim)
    lp = learning
    pred = stdp_pass(lay, formats, weights, active, times_in, winners, lp.a_plus, lp.a_minus,
                     lp.round_key, lp.check, lp.prune_th, all_maps)
    tag = f"stdp-{lay.maps}x{lay.channels}x{lay.kernel}x{lay.side_in}-p{lay.lanes}-{sim}"
    case = runner.BUILD / "cases" / tag
    case.parent.mkdir(parents=True, exist_ok=True)
    np.savez(case.with_suffix(".npz"), weights=weights, active=active, times_in=times_in,
             pred_weights=pred.weights, pred_active=pred.active)
    case.with_suffix(".json").write_text(json.dumps({
        "layout": dataclasses.asdict(lay), "formats": dataclasses.asdict(formats),
        "args": {"winners": [list(map(int, w)) for w in winners], "learning": lp.registers(),
                 "all_maps": bool(all_maps)}, "trace": pred.trace, "cycles": pred.cycles,
        "context": dict(context, simulator=sim)}))
    runner.run(StdpUnit(lay, formats, max_winners), "stdp_unit", "sim.cocotb_stdp", sim=sim,
               waves=waves, build_dir=runner.BUILD / tag,
               extra_env={"STDP_CASE": str(case), "COCOTB_LOG_LEVEL": "WARNING"})
    return {"simulator": sim, "trace_events": len(pred.trace), "cycles": pred.cycles}


def load_stdp_case(path: str | Path) -> dict:
    from model.fixedpoint import Formats
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    args = dict(meta["args"], learning=LearningParams.from_registers(meta["args"]["learning"]))
    case = {"layout": EngineLayout(**meta["layout"]), "formats": Formats(**meta["formats"]),
            "args": args, "trace": [tuple(r) for r in meta["trace"]], "cycles": meta["cycles"],
            "context": meta["context"]}
    with np.load(path.with_suffix(".npz")) as z:
        case.update({k: z[k] for k in z.files})
    return case


# -- the layer core ------------------------------------------------------------------------------

_RUNS = itertools.count()

def layer_config(d: dict):
    """The parts of a layer's config the core and its trace use, rebuilt from a case file."""
    from types import SimpleNamespace
    return SimpleNamespace(**{**d, "pool": SimpleNamespace(**d["pool"])})


def stdp_args(step: dict) -> dict:
    """A step's keyword arguments of ``cycles.core.core_command``: its learning parameters' (an
    inference step has none)."""
    return step["learning"].stdp_args() if "learning" in step else {}


def run_core(lay: EngineLayout, formats, lc, steps: list[dict], weights, active, threshold,
             context: dict, sim: str | None = None, waves: bool | None = None,
             faults=frozenset(), tag: str = "", alter=None, memories: str = "each") -> dict:
    """Co-simulate a sequence of commands on one layer core (hw/core.py), loaded once.

    ``steps``: dicts with ``cmd`` (infer, learn, sweep), ``times_in`` (C, S, S) and, for learn
    and sweep, ``learning`` (``cycles.learning.LearningParams``); optionally ``enabled`` (the
    map enables, (F,) bools) and ``window`` (the window end), written into the core's policy
    registers before the command (default: all maps on, T). Each command is predicted on the
    synapses its predecessors left. The whole run is one script played inside the simulation
    (sim/host_script.py): the synapses' writes, then per step its image and policy registers,
    its configuration registers, the command (bounded by ``sim.stall.cycle_limit`` of its
    predicted cycles) with its trace compared record by record as it is made (the expected
    words in the design's ROM: ``sim.capture.TraceCheck``), its counters, output event count
    and winners, and every memory it changed read back word by word (``memories="each"``; with
    ``"sampled"`` after the first step of each kind -- command, map enables and window -- and
    after the last: the trace, counters and winners of every step are still compared, and
    reading the memories back is most of a short command's cycles). The first difference
    raises AssertionError naming it (cycle and record, or memory, lane and address, expected
    and seen) and the context; a stall names the command, the cycles waited and expected.
    Returns what was compared, with the wall and CPU seconds of the simulated run (``seconds``,
    ``cpu_seconds``: the script from its start to its end, in the simulator's process).
    With waves on, they go to ``sim.runner.waves_dir_for(context, sim)``, a folder named after
    the run's config, layer, variant and images.
    ``alter(step, trace)`` may change a step's expected trace before it is written (to show
    that a difference is caught)."""
    from hw.core import LayerCore
    from cycles.core import core_command
    from sim import core_driver as cd
    from sim.host_script import HostScript, Script
    sim = runner.default_sim(sim)
    fmt = cd.CoreTrace(lay, formats, lc)
    core = LayerCore(lay, formats, lc, faults)
    script = Script(core)
    script.part(dict(context, simulator=sim, loading="synapses"))
    for mem, lane, words in cd.synapse_words(lay, weights, active):
        script.write(mem, lane, words)
    w, a = np.asarray(weights), np.asarray(active)
    if memories not in ("each", "sampled"):
        raise ValueError(f"memories={memories!r}: 'each' or 'sampled'")
    meta, trace_words, kinds = [], [], set()
    for i, st in enumerate(steps):
        enabled, window = policy_registers(lay, st.get("enabled"), st.get("window"))
        pred = core_command(st["cmd"], lay, formats, lc, st["times_in"], w, a, threshold,
                            **stdp_args(st), enabled=enabled, window=window)
        if pred.weights is not None:
            w, a = pred.weights, pred.active
        ctx = dict(context, simulator=sim, step=i, command=st["cmd"])
        kind = (st["cmd"], tuple(enabled), window)
        read_back = memories == "each" or kind not in kinds or i == len(steps) - 1
        kinds.add(kind)
        cd.script_step(script, ctx, lay, lc, st, pred, threshold, enabled, window, read_back)
        trace = alter(i, list(pred.trace)) if alter else pred.trace
        words = fmt.pack(trace)
        meta.append({"trace": trace, "words": words, "trace_at": len(trace_words),
                     "counters": pred.counters, "cycles": pred.cycles, "context": ctx})
        trace_words += words
    script.end()
    # The expected trace and the script in ROMs read from files at time zero: a new case needs
    # no new build while it fits the ROMs (sim.capture.rom_depth; ROMS_LEAST words at least,
    # so the cases of one design -- tests, replays -- share a build).
    name = (f"core{tag}-{lay.maps}x{lay.channels}x{lay.kernel}x{lay.side_in}-p{lay.lanes}"
            f"-w{lay.weight_bits}"          # the weight width is a generator parameter too
            + ("-" + "-".join(sorted(faults)) if faults else "") + f"-{sim}"
            + ("-waves" if runner.waves_on(waves) else ""))      # tracing is a build option
    build_dir = runner.BUILD / name
    trace_rom = write_rom(build_dir / "expected_trace.hex", trace_words)
    script_rom = write_rom(build_dir / "host_script.hex", script.words)
    rom_v = runner.write_if_changed(build_dir / "trace_rom.v", TRACE_ROM_VERILOG)
    top = TraceCheck(HostScript(core, script_rom, rom_depth(len(script.words), ROMS_LEAST)), fmt,
                     trace_rom, rom_depth(len(trace_words), ROMS_LEAST))
    # The build is shared by every run of this design; the case belongs to this run only.
    case = runner.BUILD / "cases" / f"{name}-{os.getpid()}-{next(_RUNS)}.json"
    case.parent.mkdir(parents=True, exist_ok=True)
    limit = len(script.words) + sum(cycle_limit(m["cycles"]) for m in meta) + 64
    inputs = [n for n, mb in top.signature.members.items() if mb.flow == In and n not in ("clk",)]
    case.write_text(json.dumps({"limit": limit, "period_ns": CLOCK_NS, "inputs": inputs}))
    # The Verilog of this design, converted once (seconds) and reused while nothing it is
    # generated from changes.
    key = design_key(repr((dataclasses.asdict(lay), dataclasses.asdict(formats), repr(lc),
                           sorted(faults), top.rom, top.depth, top.block.rom, top.block.depth,
                           runner.waves_on(waves))))
    result = runner.run(top, "layer_core", "sim.cocotb_core", sim=sim, waves=waves,
                        build_dir=build_dir, clock=("clk", CLOCK_NS), verilog_sources=[rom_v],
                        design_key=key,
                        extra_env={"CORE_CASE": str(case), "COCOTB_LOG_LEVEL": "WARNING"},
                        waves_dir=runner.waves_dir_for(context, sim))
    seen = json.loads(Path(str(case) + ".seen.json").read_text())
    problem = _core_problem(seen, script, fmt, meta, len(trace_words))
    if problem:
        where = f"\n  waves: {result.waves}" if result.waves else ""
        raise AssertionError(problem + where)
    return {"simulator": sim, "steps": len(steps),
            "trace_events": sum(len(m["trace"]) for m in meta),
            "cycles": [m["cycles"] for m in meta], "counters": [m["counters"] for m in meta],
            "weights": w, "active": a, "seconds": seen["seconds"],
            "cpu_seconds": seen["cpu_seconds"],
            "seen": [{"counters": m["counters"], "trace_events": len(m["trace"])} for m in meta]}


CLOCK_NS = 10
ROMS_LEAST = 1 << 16


def _core_problem(seen: dict, script, fmt, meta: list[dict], n_words: int) -> str | None:
    """What ``sim/cocotb_core.py`` saw, as the message of the first difference, or None."""
    from sim.capture import place_in_waves, trace_word_divergence
    from sim.core_driver import MEMORY_NAMES
    if seen["cap_fail"]:
        at = seen["cap_seen_at"]
        m = next(m for m in reversed(meta) if m["trace_at"] <= at)
        d = trace_word_divergence(fmt, m["words"], at - m["trace_at"], seen["cap_seen"],
                                  m["context"])
        if d is None:
            return f"trace word {at} differs but its records compare equal [{m['context']}]"
        place_in_waves(d, fmt, seen["cap_seen"], CLOCK_NS, now_ns=seen["sim_time_ns"])
        return str(d)
    if seen["scr_fail"]:
        return script.explain(seen["scr_fail_at"], seen["scr_seen"], MEMORY_NAMES)
    if seen["timed_out"]:
        return (f"the co-simulation's script did not end within {seen['limit']} cycles, its "
                f"commands' limits included [{meta[0]['context'] if meta else ''}]")
    if seen["cap_index"] != n_words:
        return (f"the commands made {seen['cap_index']} trace records' words, the cycle model "
                f"{n_words} [{meta[-1]['context']}]")
    return None
