"""Co-simulation of the integrate engine: predict with the model, run the RTL, compare.

    from sim import cosim
    report = cosim.run_engine(cfg, layer=0, lanes=4, times_in=..., weights=..., active=...,
                              threshold=..., context={...}, sim="verilator")

``run_engine`` predicts the pass with ``model.schedule.integrate_pass``, writes the case for the
cocotb test ``sim/cocotb_integrate.py``, builds and runs the engine's Verilog under the chosen
simulator (``sim.runner``), and returns what was compared. Any divergence fails the cocotb test;
``sim.runner.run`` raises it as an AssertionError carrying the first divergence.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from hw.integrate import IntegrateEngine
from model.schedule import EngineLayout, integrate_pass
from sim import runner

ARRAYS = ("times_in", "weights", "active")


def save_case(path: Path, lay: EngineLayout, times_in, weights, active, threshold, pred, context):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".npz"), times_in=times_in, weights=weights, active=active,
             potentials=pred.potentials, fire=pred.fire, v_fire=pred.v_fire)
    path.with_suffix(".json").write_text(json.dumps({
        "layout": dataclasses.asdict(lay), "threshold": int(threshold), "trace": pred.trace,
        "counters": {"cycles": pred.cycles, "ops": pred.ops, "op_cycles": pred.op_cycles},
        "context": context}))


def load_case(path: str | Path) -> dict:
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    case = {"layout": EngineLayout(**meta["layout"]), "threshold": meta["threshold"],
            "trace": [tuple(r) for r in meta["trace"]], "counters": meta["counters"],
            "context": meta["context"]}
    with np.load(path.with_suffix(".npz")) as z:
        case.update({k: z[k] for k in ARRAYS})
        case["memories"] = {k: z[k] for k in ("potentials", "fire", "v_fire")}
    return case


def run_engine(lay: EngineLayout, times_in, weights, active, threshold, context: dict,
               sim: str | None = None, waves: bool | None = None, faults=frozenset()) -> dict:
    """Co-simulate one pass; returns the predicted counters and the number of trace records."""
    pred = integrate_pass(lay, times_in, weights, active, threshold)
    sim = runner.default_sim(sim)
    tag = f"integrate-{lay.maps}x{lay.channels}x{lay.kernel}-p{lay.lanes}" + \
          ("-" + "-".join(sorted(faults)) if faults else "")
    case = runner.BUILD / "cases" / f"{tag}-{sim}"
    save_case(case, lay, times_in, weights, active, threshold, pred, dict(context, simulator=sim))
    runner.run(IntegrateEngine(lay, faults), "integrate", "sim.cocotb_integrate", sim=sim,
               waves=waves, build_dir=runner.BUILD / f"{tag}-{sim}",
               extra_env={"ENGINE_CASE": str(case)})
    seen = json.loads(Path(str(case) + ".seen.json").read_text())
    return {"trace_events": len(pred.trace), "cycles": pred.cycles, "ops": pred.ops,
            "op_cycles": pred.op_cycles, "seen_counters": seen["counters"]}
