"""``make sim``: the RTL against the model on a few MNIST images, dense and pruned.

    python -m sim.main --config configs/tiny.yaml --config configs/mnist.yaml --images 2

For each config: train the network dense and with pruning (``model.train``, checkpointed under
``build/ckpt``, so later runs reuse it; ``--quick`` trains on a few hundred images), then, for
each variant and layer, co-simulate the integrate engine (``sim.cosim``) on the first images of the
test set under the chosen simulator: every trace event and every lane memory is compared with
the model's prediction. Between layers, inhibition and pooling come from the model (their block
is not in the RTL yet), and so does learning: ``speedup_learning`` is null until it is.

Writes ``build/reports/sim.json``; the top-level figures are those of the last config (the
default network), ``runs`` holds every config. Exits non-zero on any mismatch.

Fields: ``simulator``, ``config``, ``images``, ``lanes``, ``trace_events_compared``,
``mismatches``, ``cycles`` (``inference`` -> ``dense`` / ``pruned`` -> cycles per image summed over
the layers, and per layer; ``learning``: null), ``speedup_inference`` (dense over pruned cycles),
``speedup_learning`` (null), ``connectivity_reduction`` (total and per layer, of the pruned
network), ``lane_utilization_dense`` (synaptic operations per cycle over the lanes, dense
passes), ``seconds``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from model import config as C
from model import data
from model.cli import guarded, write_json
from model.experiment import CHECKPOINTS, quick_config
from model.schedule import EngineLayout
from model.train import Trainer, config_digest
from sim import cosim, runner


def trained(cfg: C.Config, tag: str, pruning: bool, train_x):
    cfg = C.replace(cfg, **{"pruning.enabled": pruning})
    name = "pruned" if pruning else "dense"
    ckpt = CHECKPOINTS / f"{tag}-{name}-fixed-{config_digest(cfg, 'fixed')}.npz"
    net, _ = Trainer(cfg, ckpt, "fixed").run(train_x)
    return net


def co_simulate(cfg: C.Config, tag: str, images: int, lanes: int, sim: str, quick: bool) -> dict:
    if quick:
        cfg = quick_config(cfg)
    ds = data.load(cfg)
    test = ds.test_x[:images]
    result = {"config": tag, "images": images, "lanes": lanes, "simulator": sim,
              "trace_events_compared": 0, "mismatches": 0,
              "cycles": {"inference": {}, "learning": None}}
    util = []
    for variant, pruning in (("dense", False), ("pruned", True)):
        net = trained(cfg, tag, pruning, ds.train_x)
        times = net.encode(test)
        per_layer = {}
        for i, lc in enumerate(cfg.layers):
            lay = EngineLayout.from_config(cfg, i, min(lanes, lc.maps), side_in=times.shape[-1],
                                           channels=times.shape[1])
            ctx = dict(config=tag, layer=i, variant=variant, seed=cfg.seed)
            try:
                report = cosim.run_engine(lay, list(times), net.weights[i], ~net.pruned[i],
                                          net.thresholds[i], ctx, sim=sim, memories="last")
            except AssertionError as exc:
                result["mismatches"] += 1
                result.setdefault("first_divergence", str(exc))
                return result
            result["trace_events_compared"] += report["trace_events"]
            per_layer[lc.name] = float(np.mean(report["cycles"]))
            if not pruning:
                util.append(sum(report["ops"]) / (sum(report["cycles"]) * lay.lanes))
            if i < len(cfg.layers) - 1:
                times = net.outgoing(i, net.run_layer(i, times, None))
        result["cycles"]["inference"][variant] = {"per_image": sum(per_layer.values()),
                                                  "per_layer": per_layer}
        if pruning:
            names = [lc.name for lc in cfg.layers]
            act, tot = net.active_connections(), net.total_connections()
            result["connectivity_reduction"] = {
                "total": 1 - sum(act) / sum(tot),
                "per_layer": {n: 1 - a / t for n, a, t in zip(names, act, tot)}}
    inf = result["cycles"]["inference"]
    result["speedup_inference"] = inf["dense"]["per_image"] / inf["pruned"]["per_image"]
    result["speedup_learning"] = None
    result["lane_utilization_dense"] = float(np.mean(util))
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", help="repeatable; default configs/mnist.yaml")
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--lanes", type=int, default=10)
    ap.add_argument("--sim", default=None, help="verilator (default, or $SIM) or icarus")
    ap.add_argument("--quick", action="store_true", help="train on a few hundred images")
    ap.add_argument("--out", default="build/reports/sim.json")
    args = ap.parse_args(argv)

    def body() -> int:
        start = time.perf_counter()
        sim = runner.default_sim(args.sim)
        runs = []
        for path in args.config or ["configs/mnist.yaml"]:
            cfg = C.load(path)
            run = co_simulate(cfg, Path(path).stem, args.images, args.lanes, sim, args.quick)
            runs.append(run)
            summary(run)
        report = dict(runs[-1], runs=runs, mismatches=sum(r["mismatches"] for r in runs),
                      trace_events_compared=sum(r["trace_events_compared"] for r in runs),
                      seconds=round(time.perf_counter() - start, 1))
        write_json(args.out, report)
        print(f"wrote {args.out}")
        return 1 if report["mismatches"] else 0

    return guarded(body)


def summary(run: dict) -> None:
    head = f"{run['config']} ({run['simulator']}, {run['images']} images, {run['lanes']} lanes)"
    if run["mismatches"]:
        print(f"{head}: MISMATCH\n  {run['first_divergence']}")
        return
    inf = run["cycles"]["inference"]
    print(f"{head}: {run['trace_events_compared']} trace events compared, 0 mismatches\n"
          f"  inference cycles per image: dense {inf['dense']['per_image']:.0f}, pruned "
          f"{inf['pruned']['per_image']:.0f} (speed-up {run['speedup_inference']:.2f}x); "
          f"connectivity reduction {run['connectivity_reduction']['total']:.2%}; "
          f"dense lane utilisation {run['lane_utilization_dense']:.1%}")


if __name__ == "__main__":
    sys.exit(main())
