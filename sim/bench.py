"""``make bench`` (co-simulation part): simulation speed with and without trace checking.

    python -m sim.bench --config configs/mnist.yaml --out build/reports/bench_sim.json

One integrate-engine layout (the config's first layer, P lanes) and one stimulus (the first test
images, the network's initial weights), under the chosen simulator:

* ``cycles_per_second_checked``: simulated cycles per wall-clock second of the passes whose whole
  trace is captured (sim/capture.py) and compared with the model's prediction, packed beforehand;
* ``cycles_per_second_raw``: the same passes on the same build run again, the driver waiting for
  ``done`` only;
* ``checking_slowdown``: their ratio;
* ``cycles_per_cpu_second_checked`` / ``_raw``: the same per second of the simulator process's
  CPU time (it runs in one thread): on a shared machine the wall-clock figures above fall with
  the load, these do not;
* ``lane_utilization_dense``: synaptic operations per cycle over P, dense weights;
* ``cycles_per_pruned_connection``: the RTL's lane operations (its op counter) beyond the model's
  count of live synaptic operations, in core cycles (1/P per lane operation), per synaptic event
  that met a pruned connection: 0 when pruned connections take no lane slot. The mask is a
  seeded random one pruning ``prune`` of the connections. ``idle_lane_slots_per_pruned_connection``
  is the imbalance the skipping leaves (lane slots idle while another lane finishes a row).

Medians over the images of one run; builds and loading are not timed.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

from model import config as C
from model import data
from model.cli import guarded, write_json
from model.layer import integrate
from model.network import Network
from cycles.layout import EngineLayout
from sim import cosim, runner


def run(cfg: C.Config, images: int, lanes: int, prune: float, sim: str) -> dict:
    net = Network(cfg)
    times = net.encode(data.load(cfg).test_x[:images])
    lc = cfg.layers[0]
    lay = EngineLayout.for_input(cfg, 0, min(lanes, lc.maps), times)
    dense_mask = np.ones(net.shapes[0], dtype=bool)
    pruned_mask = np.random.default_rng(cfg.seed).random(net.shapes[0]) >= prune
    ctx = dict(config=cfg.to_dict()["layers"][0]["name"], seed=cfg.seed)
    dense = cosim.run_engine(lay, list(times), net.weights[0], dense_mask, net.thresholds[0],
                             dict(ctx, variant="dense"), sim=sim, memories="last", timing=True)
    pruned = cosim.run_engine(lay, list(times), net.weights[0], pruned_mask, net.thresholds[0],
                              dict(ctx, variant="pruned"), sim=sim, memories="last", timing=True)
    checked = [s["counters"]["cycles"] / s["checked_seconds"] for s in dense["seen"] + pruned["seen"]]
    raw = [s["raw_counters"]["cycles"] / s["raw_seconds"] for s in dense["seen"] + pruned["seen"]]
    checked_cpu = [s["counters"]["cycles"] / s["checked_cpu_seconds"]
                   for s in dense["seen"] + pruned["seen"]]
    raw_cpu = [s["raw_counters"]["cycles"] / s["raw_cpu_seconds"]
               for s in dense["seen"] + pruned["seen"]]
    # Lane operations the RTL spent on pruned connections: its op counter (measured) minus the
    # model's count of live synaptic operations, per synaptic event that met a pruned connection.
    live = skipped = 0
    for x in times:
        out = integrate(x[None], net.weights[0], pruned_mask, lc.kernel, lc.padding,
                        cfg.input.time_steps, net.thresholds[0], net.arith.potential_max, np.int64)
        live, skipped = live + int(out.sop_done[0]), skipped + int(out.sop_skipped[0])
    rtl_ops = sum(s["counters"]["ops"] for s in pruned["seen"])
    slots = sum(s["counters"]["op_cycles"] for s in pruned["seen"]) * lay.lanes - rtl_ops
    return {
        "simulator": sim, "config_layer": lc.name, "lanes": lay.lanes, "images": images,
        "prune": prune,
        "cycles_per_second_checked": statistics.median(checked),
        "cycles_per_second_raw": statistics.median(raw),
        "checking_slowdown": statistics.median(raw) / statistics.median(checked),
        "cycles_per_cpu_second_checked": statistics.median(checked_cpu),
        "cycles_per_cpu_second_raw": statistics.median(raw_cpu),
        "lane_utilization_dense": sum(dense["ops"]) / (sum(dense["cycles"]) * lay.lanes),
        "cycles_per_pruned_connection": (rtl_ops - live) / lay.lanes / skipped if skipped else 0.0,
        "idle_lane_slots_per_pruned_connection": slots / skipped if skipped else 0.0,
        "cycles": {"dense": dense["cycles"], "pruned": pruned["cycles"]},
        "trace_events_compared": dense["trace_events"] + pruned["trace_events"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--lanes", type=int, default=None,
                    help="lanes per core (default: the config's core.lanes)")
    ap.add_argument("--prune", type=float, default=0.9)
    ap.add_argument("--sim", default=None)
    ap.add_argument("--out", default="build/reports/bench_sim.json")
    args = ap.parse_args(argv)

    def body() -> int:
        sim = runner.require(args.sim)         # before the config's network is built
        cfg = C.load(args.config)
        report = run(cfg, args.images, cfg.core_lanes(args.lanes),
                     args.prune, sim)
        write_json(args.out, report)
        for key in ("cycles_per_second_checked", "cycles_per_second_raw", "checking_slowdown",
                    "cycles_per_cpu_second_checked", "cycles_per_cpu_second_raw",
                    "lane_utilization_dense", "cycles_per_pruned_connection",
                    "idle_lane_slots_per_pruned_connection"):
            print(f"{key}: {report[key]:.4g}")
        print(f"wrote {args.out}")
        return 0

    return guarded(body, errors=(runner.UnknownSimulator, runner.ToolMissing))


if __name__ == "__main__":
    sys.exit(main())
