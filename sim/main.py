"""``make sim``: the RTL against the model on a few MNIST images, dense and pruned.

    python -m sim.main --config configs/tiny.yaml --config configs/mnist.yaml --images 2

For each config: train the network dense and with pruning (``model.train``, checkpointed under
``build/ckpt``, so later runs reuse it; ``--quick`` trains on a few hundred images), then, for
each variant and layer, co-simulate the integrate engine (``sim.cosim``) on the first images of the
test set under the chosen simulator: every trace event and every lane memory is compared with
the model's prediction. Between layers, inhibition and pooling come from the model (their block
is not in the RTL yet). Learning: each layer's integrate pass and an STDP-unit pass on its winners
(chosen by the model's k-WTA: that block is not in the RTL yet, and its cycles are not counted),
as the next learning image of the trained network.

Writes ``build/reports/sim.json``; the top-level figures are those of the last config (the
default network), ``runs`` holds every config. Exits non-zero on any mismatch.

Fields: ``simulator``, ``config``, ``images``, ``lanes``, ``trace_events_compared``,
``mismatches``, ``cycles`` (``inference`` -> ``dense`` / ``pruned`` -> cycles per image summed over
the layers, and per layer; ``learning`` -> ``dense`` / ``pruned`` -> per layer: the inference
passes below it, its own pass and its STDP pass; ``per_image_all_layers`` their sum),
``learning_phases``, ``speedup_inference`` and ``speedup_learning`` (dense over pruned cycles),
``connectivity_reduction`` (total and per layer, of the pruned
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
from model import data, rng, wta
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


def learning_step(cfg, net, i: int, times_in: np.ndarray, lanes: int, sim: str, ctx: dict) -> dict:
    """Co-simulate the STDP unit on layer i's winners for one image (as the next learning image).

    The winners come from the model's k-WTA (its block is not in the RTL yet); the rates, the
    random stream and the pruning check are those of the layer's next learning image.
    """
    lc = cfg.layers[i]
    out = net.run_layer(i, times_in[None], None)
    win = wta.k_winners(out.times[0], out.v_fire[0], lc.winners, lc.inhibition_radius, net.T)
    winners = [(int(f), int(y), int(x), int(out.times[0][f, y, x])) for f, y, x in win]
    n = net.learned[i]
    a_plus, a_minus = net.arith.rates(cfg, n)
    lay = EngineLayout.for_input(cfg, i, min(lanes, lc.maps), times_in)
    check = cfg.pruning.enabled and n + 1 > cfg.pruning.warmup
    return cosim.run_stdp(lay, net.arith, net.weights[i], ~net.pruned[i], times_in, ctx, sim=sim,
                          max_winners=lc.winners, winners=winners, a_plus=a_plus,
                          a_minus=a_minus, layer_key=rng.layer_key(cfg.seed, i), image_n=n,
                          round_key=rng.round_key(cfg.seed, i, n), check=check,
                          prune_th=net.pruning.threshold, all_maps=False)


def co_simulate(cfg: C.Config, tag: str, images: int, lanes: int, sim: str, quick: bool) -> dict:
    if quick:
        cfg = quick_config(cfg)
    ds = data.load(cfg)
    test = ds.test_x[:images]
    result = {"config": tag, "images": images, "lanes": lanes, "simulator": sim,
              "trace_events_compared": 0, "mismatches": 0,
              "cycles": {"inference": {}, "learning": {}},
              "learning_phases": ["integrate (RTL)", "stdp (RTL)",
                                  "winner-take-all: not counted, its block is not in the RTL yet"]}
    util = []
    names = [lc.name for lc in cfg.layers]
    for variant, pruning in (("dense", False), ("pruned", True)):
        net = trained(cfg, tag, pruning, ds.train_x)
        times = net.encode(test)
        infer, stdp_cycles = {}, {}
        for i, lc in enumerate(cfg.layers):
            lay = EngineLayout.for_input(cfg, i, min(lanes, lc.maps), times)
            ctx = dict(config=tag, layer=i, variant=variant, seed=cfg.seed)
            try:
                report = cosim.run_engine(lay, list(times), net.weights[i], ~net.pruned[i],
                                          net.thresholds[i], ctx, sim=sim, memories="last")
                learn = [learning_step(cfg, net, i, x, lanes, sim, dict(ctx, image=k))
                         for k, x in enumerate(times)]
            except AssertionError as exc:
                result["mismatches"] += 1
                result.setdefault("first_divergence", str(exc))
                return result
            result["trace_events_compared"] += report["trace_events"] + sum(r["trace_events"] for r in learn)
            infer[lc.name] = float(np.mean(report["cycles"]))
            stdp_cycles[lc.name] = float(np.mean([r["cycles"] for r in learn]))
            if not pruning:
                util.append(sum(report["ops"]) / (sum(report["cycles"]) * lay.lanes))
            if i < len(cfg.layers) - 1:
                times = net.outgoing(i, net.run_layer(i, times, None))
        result["cycles"]["inference"][variant] = {"per_image": sum(infer.values()), "per_layer": infer}
        # Learning layer i on an image: inference through the layers below, then its own pass
        # and its STDP pass.
        learn_layer = {n: sum(infer[m] for m in names[:k + 1]) + stdp_cycles[n]
                       for k, n in enumerate(names)}
        result["cycles"]["learning"][variant] = {"per_image_all_layers": sum(learn_layer.values()),
                                                 "per_layer": learn_layer, "stdp_per_layer": stdp_cycles}
        if pruning:
            act, tot = net.active_connections(), net.total_connections()
            result["connectivity_reduction"] = {
                "total": 1 - sum(act) / sum(tot),
                "per_layer": {n: 1 - a / t for n, a, t in zip(names, act, tot)}}
    inf, lrn = result["cycles"]["inference"], result["cycles"]["learning"]
    result["speedup_inference"] = inf["dense"]["per_image"] / inf["pruned"]["per_image"]
    result["speedup_learning"] = (lrn["dense"]["per_image_all_layers"]
                                  / lrn["pruned"]["per_image_all_layers"])
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
    lrn = run["cycles"]["learning"]
    print(f"{head}: {run['trace_events_compared']} trace events compared, 0 mismatches\n"
          f"  inference cycles per image: dense {inf['dense']['per_image']:.0f}, pruned "
          f"{inf['pruned']['per_image']:.0f} (speed-up {run['speedup_inference']:.2f}x)\n"
          f"  learning cycles per image (all layers, without k-WTA): dense "
          f"{lrn['dense']['per_image_all_layers']:.0f}, pruned {lrn['pruned']['per_image_all_layers']:.0f} "
          f"(speed-up {run['speedup_learning']:.2f}x)\n  "
          f"connectivity reduction {run['connectivity_reduction']['total']:.2%}; "
          f"dense lane utilisation {run['lane_utilization_dense']:.1%}")


if __name__ == "__main__":
    sys.exit(main())
