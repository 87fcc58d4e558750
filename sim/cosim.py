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

from hw.integrate import IntegrateEngine
from hw.stdp_unit import StdpUnit
from cycles.layout import EngineLayout
from cycles.learning import LearningParams
from cycles.integrate import integrate_pass, policy_registers
from cycles.stdp_unit import stdp_pass
from sim import runner
from sim.capture import TRACE_ROM_VERILOG, TraceCheck, rom_depth, write_rom
from sim.engine_driver import EngineTrace

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

def _layer_config(lc) -> dict:
    return {"winners": lc.winners, "inhibition_radius": lc.inhibition_radius,
            "pointwise_inhibition": lc.pointwise_inhibition,
            "pool": {"size": lc.pool.size, "stride": lc.pool.stride}}


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
             faults=frozenset(), tag: str = "", alter=None) -> dict:
    """Co-simulate a sequence of commands on one layer core (hw/core.py), loaded once.

    ``steps``: dicts with ``cmd`` (infer, learn, sweep), ``times_in`` (C, S, S) and, for learn
    and sweep, ``learning`` (``cycles.learning.LearningParams``); optionally ``enabled`` (the
    map enables, (F,) bools) and ``window`` (the window end), written into the core's policy
    registers before the command (default: all maps on, T). Each command is predicted
    on the synapses its predecessors left; its trace is compared as the capture fills, then its
    counters and every memory it changed (sim/cocotb_core.py). Returns what was compared.
    With waves on, they go to ``sim.runner.waves_dir_for(context, sim)``, a folder named after
    the run's config, layer, variant and images.
    ``alter(step, trace)`` may change a step's expected trace before it is written (to show
    that a difference is caught)."""
    from hw.core import LayerCore
    from cycles.core import core_command
    from sim import core_driver as cd
    from sim.host_script import HostScript, ScriptFormat
    sim = runner.default_sim(sim)
    fmt = cd.CoreTrace(lay, formats, lc)
    core = LayerCore(lay, formats, lc, faults)
    sfmt = ScriptFormat.of(core)
    # The host's writes and read-backs, played inside the simulation (sim/host_script.py):
    # the synapses, then per step its image and policy registers, and after its command every
    # memory the model predicts, compared word by word.
    script = cd.script_writes(sfmt, cd.synapse_words(lay, weights, active))
    trace_words = []
    w, a = np.asarray(weights), np.asarray(active)
    meta, times, npz = [], [], {}
    for i, st in enumerate(steps):
        enabled, window = policy_registers(lay, st.get("enabled"), st.get("window"))
        pred = core_command(st["cmd"], lay, formats, lc, st["times_in"], w, a, threshold,
                            **stdp_args(st), enabled=enabled, window=window)
        if pred.weights is not None:
            w, a = pred.weights, pred.active
        expected = cd.expected_state(lay, lc, pred)
        state, arrays = cd.split_state(expected, i)
        trace = alter(i, list(pred.trace)) if alter else pred.trace
        writes, n_events = cd.image_words(lay, st["times_in"], st["cmd"] != "infer")
        load_at = len(script)
        script += cd.script_writes(sfmt, writes + cd.policy_words(lay, enabled, window))
        check_at = len(script)
        script += cd.script_checks(sfmt, expected)
        words = fmt.pack(trace)
        meta.append({"cmd": st["cmd"], "trace": trace, "words": words,
                     "counters": pred.counters, "cycles": pred.cycles,
                     "context": dict(context, simulator=sim, step=i, command=st["cmd"]),
                     "learning": st.get("learning", LearningParams()).registers(),
                     "n_events": n_events, "load_at": load_at, "check_at": check_at,
                     "trace_at": len(trace_words), **state})
        trace_words += words
        npz.update(arrays)
        times.append(np.asarray(st["times_in"]))
    # The weight width is a generator parameter too: a core of another width is another build.
    name = (f"core{tag}-{lay.maps}x{lay.channels}x{lay.kernel}x{lay.side_in}-p{lay.lanes}"
            f"-w{lay.weight_bits}"
            + ("-" + "-".join(sorted(faults)) if faults else "") + f"-{sim}"
            + ("-waves" if runner.waves_on(waves) else ""))      # tracing is a build option
    # The build is shared by every run of this design; the case belongs to this run only.
    case = runner.BUILD / "cases" / f"{name}-{os.getpid()}-{next(_RUNS)}"
    case.parent.mkdir(parents=True, exist_ok=True)
    np.savez(case.with_suffix(".npz"), weights=weights, active=active, times=np.stack(times), **npz)
    case.with_suffix(".json").write_text(json.dumps({
        "layout": dataclasses.asdict(lay), "formats": dataclasses.asdict(formats),
        "layer": _layer_config(lc), "threshold": int(threshold), "script": script,
        "steps": meta}))
    # The expected trace and the host script in ROMs read from files at time zero: a new case
    # needs no new build while it fits the ROMs (sim.capture.rom_depth).
    build_dir = runner.BUILD / name
    trace_rom = write_rom(build_dir / "expected_trace.hex", trace_words)
    script_rom = write_rom(build_dir / "host_script.hex", script)
    rom_v = runner.write_if_changed(build_dir / "trace_rom.v", TRACE_ROM_VERILOG)
    top = TraceCheck(HostScript(core, script_rom, rom_depth(len(script))), fmt, trace_rom,
                     rom_depth(len(trace_words)))
    runner.run(top, "layer_core", "sim.cocotb_core", sim=sim, waves=waves, build_dir=build_dir,
               clock=("clk", 10), verilog_sources=[rom_v],
               extra_env={"CORE_CASE": str(case), "COCOTB_LOG_LEVEL": "WARNING"},
               waves_dir=runner.waves_dir_for(context, sim))
    seen = json.loads(Path(str(case) + ".seen.json").read_text())
    return {"simulator": sim, "steps": len(steps),
            "trace_events": sum(len(m["trace"]) for m in meta),
            "cycles": [m["cycles"] for m in meta], "counters": [m["counters"] for m in meta],
            "weights": w, "active": a, "seen": seen}


def load_core_case(path: str | Path) -> dict:
    from model.fixedpoint import Formats
    from sim.core_driver import join_state
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["layout"] = EngineLayout(**meta["layout"])
    meta["formats"] = Formats(**meta["formats"])
    meta["layer"] = layer_config(meta["layer"])
    with np.load(path.with_suffix(".npz")) as z:
        arrays = {k: z[k] for k in z.files}
    for i, st in enumerate(meta["steps"]):
        st["trace"] = [tuple(r) for r in st["trace"]]
        st["state"] = join_state(st, arrays, i)
    meta.update(weights=arrays["weights"], active=arrays["active"], times=arrays["times"])
    return meta
