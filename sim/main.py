"""``make sim``: the RTL against the model on a few MNIST images, dense and pruned.

    python -m sim.main --config configs/tiny.yaml --config configs/mnist.yaml --images 2

For each config: train the network dense and with pruning (``model.train``, checkpointed under
``build/ckpt``, so later runs reuse it; ``--quick`` trains on a few hundred images), then, for
each variant and layer, co-simulate the layer core (hw/core.py, ``sim.cosim.run_core``) under
the chosen simulator on the first images of the test set: inference on each image (integrate,
then inhibition, pooling and the next layer's events), then learning on each as the layer's next
learning images (integrate, then on a layer with pointwise inhibition the inhibition phase and
the k-WTA over the spikes it leaves, on a layer without it the k-WTA at every step's end; then
the STDP unit with its pruning check). Every trace event, counter and memory is compared with the model's prediction
(cycles/core.py); the next layer's input is the model's, equal to the RTL's output
events, which are compared.

Writes ``build/reports/sim.json`` and the table of its figures beside it (``sim.md``,
``sim.figures``); the top-level figures are those of the last config (the default network),
``runs`` holds every config (each once, however often it is named), ``config_files`` their
files. Exits non-zero on any mismatch, with 2 and one line before any training when the simulator is unknown
or not installed (naming its install command), or a config or data file is wrong.

One case only: ``--layer conv2 --variant pruned --image 1`` co-simulates that layer of that
variant on that test image (``make sim LAYER=conv2 VARIANT=pruned IMAGE=1``); with ``--waves``
(``WAVES=1``) each run writes its waves to ``build/waves/<config>-<layer>-<variant>-img<images>-<sim>/``
(``sim.runner``), and a divergence names the wave file and the simulation time of its cycle.

Fields: ``simulator``, ``config``, ``images`` (how many), ``image_indices`` (of the test set),
``lanes`` (asked for), ``lanes_per_layer`` (built: at most the layer's maps), ``variants`` and
``layers`` (those run), ``trace_events_compared``,
``mismatches``, ``cycles`` (``inference`` -> ``dense`` / ``pruned`` -> cycles per image summed over
the layers, and per layer; ``learning`` -> ``dense`` / ``pruned`` -> per layer: the inference
commands below it and its learning command; ``per_image_all_layers`` their sum), ``phases``
(the core's counters per variant, layer and command, means over the images: cycles per phase,
lane operations, STDP updates, prunes), ``steps`` (per variant and layer, every command in the
order run, with its image and cycles; the learning commands follow each other, each on the
synapses the previous one left), ``inference_phases``, ``learning_phases``, ``speedup_inference`` and ``speedup_learning`` (dense over pruned cycles),
``connectivity_reduction`` (total and per layer, of the pruned
network), ``lane_utilization_dense`` (synaptic operations per cycle over the lanes, dense
passes), ``seconds``. A run of one case leaves out the figures it cannot give (a speed-up needs
both variants, the totals every layer).
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
from model.train import CHECKPOINTS, quick_config
from cycles.layout import EngineLayout
from cycles.learning import LearningParams
from model.train import Trainer, config_digest
from sim import cosim, figures, runner


def trained(cfg: C.Config, tag: str, pruning: bool, train_x):
    cfg = C.replace(cfg, **{"pruning.enabled": pruning})
    name = "pruned" if pruning else "dense"
    ckpt = CHECKPOINTS / f"{tag}-{name}-fixed-{config_digest(cfg, 'fixed')}.npz"
    net, _ = Trainer(cfg, ckpt, "fixed").run(train_x)
    return net


def layer_steps(net, i: int, times_in: np.ndarray) -> list[dict]:
    """Layer i's commands on a few images: inference on each, then learning on each as the
    layer's next learning images (its STDP rates, random stream and pruning check: on only in
    the pruned variant, whose ``net.cfg`` has pruning enabled, and past the warm-up)."""
    policy = dict(enabled=net.channel_on[i], window=net.window)     # the core's policy registers
    steps = [dict(cmd="infer", times_in=x, **policy) for x in times_in]
    for k, x in enumerate(times_in):
        steps.append(dict(cmd="learn", times_in=x,
                          learning=LearningParams.for_image(net, i, net.learned[i] + k), **policy))
    return steps


VARIANTS = {"dense": False, "pruned": True}


def co_simulate(cfg: C.Config, tag: str, images: int, lanes: int, sim: str, quick: bool,
                layers: list[str] | None = None, variants: list[str] | None = None,
                image: int | None = None, waves: bool | None = None) -> dict:
    """Co-simulate the config's layers (``layers``: names, default all) of each variant
    (``variants``, default dense and pruned) on the first ``images`` test images, or on test
    image ``image`` only."""
    if quick:
        cfg = quick_config(cfg)
    names = [lc.name for lc in cfg.layers]
    layers, variants = layers or names, variants or list(VARIANTS)
    ds = data.load(cfg)
    picked = [image] if image is not None else list(range(images))
    if picked and max(picked) >= len(ds.test_x):
        raise C.ConfigError(f"test image {max(picked)}: the config's test set has "
                            f"{len(ds.test_x)} images (0..{len(ds.test_x) - 1})")
    test = ds.test_x[picked]
    shown = f"{picked[0]}" if len(picked) == 1 else f"{picked[0]}-{picked[-1]}"
    result = {"config": tag, "images": len(picked), "image_indices": picked, "lanes": lanes,
              "lanes_per_layer": {}, "simulator": sim, "variants": variants, "layers": layers,
              "trace_events_compared": 0, "mismatches": 0,
              "cycles": {"inference": {}, "learning": {}}, "phases": {}, "steps": {},
              "inference_phases": ["integrate", "inhibition, pooling and the next layer's events "
                                   "(layers with pooling)"],
              "learning_phases": ["integrate (without pointwise inhibition: with the k-WTA at "
                                  "each step's end)", "inhibition, then the k-WTA over the spikes "
                                  "it leaves (layers with pointwise inhibition)", "stdp"]}
    util = []
    for variant in variants:
        pruning = VARIANTS[variant]
        net = trained(cfg, tag, pruning, ds.train_x)
        times = net.encode(test)
        infer, learn, phases, per_step = {}, {}, {}, {}
        for i, lc in enumerate(cfg.layers):
            if lc.name not in layers:              # its input is still the model's output
                if i < len(cfg.layers) - 1:
                    times = net.outgoing(i, net.run_layer(i, times, None))
                continue
            lay = EngineLayout.for_input(cfg, i, min(lanes, lc.maps), times)
            result["lanes_per_layer"][lc.name] = lay.lanes
            ctx = dict(config=tag, layer=lc.name, variant=variant, images=shown, seed=cfg.seed)
            steps = layer_steps(net, i, times)
            try:
                rep = cosim.run_core(lay, net.ariths[i], lc, steps, net.weights[i], ~net.pruned[i],
                                     net.thresholds[i], ctx, sim=sim, waves=waves,
                                     tag=f"-{tag}-l{i}")
            except AssertionError as exc:
                result["mismatches"] += 1
                result.setdefault("first_divergence", str(exc))
                return result
            result["trace_events_compared"] += rep["trace_events"]
            by_cmd = {cmd: [(c, k) for st, c, k in zip(steps, rep["cycles"], rep["counters"])
                            if st["cmd"] == cmd] for cmd in ("infer", "learn")}
            infer[lc.name] = float(np.mean([c for c, _ in by_cmd["infer"]]))
            learn[lc.name] = float(np.mean([c for c, _ in by_cmd["learn"]]))
            per_step[lc.name] = [{"command": st["cmd"], "image": picked[k % len(times)],
                                  "cycles": cyc}
                                 for k, (st, cyc) in enumerate(zip(steps, rep["cycles"]))]
            phases[lc.name] = {cmd: {name: float(np.mean([k[name] for _, k in runs]))
                                     for name in runs[0][1]} for cmd, runs in by_cmd.items()}
            if not pruning:
                util.append(sum(k["ops"] for _, k in by_cmd["infer"])
                            / (sum(k["cyc_integrate"] for _, k in by_cmd["infer"]) * lay.lanes))
            if i < len(cfg.layers) - 1:
                times = net.outgoing(i, net.run_layer(i, times, None))
        result["cycles"]["inference"][variant] = {"per_image": sum(infer.values()), "per_layer": infer}
        if layers == names:
            # Learning layer i on an image: inference through the layers below, then its own
            # learning command (integrate, inhibition and k-WTA, then STDP).
            learn_layer = {n: sum(infer[m] for m in names[:k]) + learn[n]
                           for k, n in enumerate(names)}
            result["cycles"]["learning"][variant] = {
                "per_image_all_layers": sum(learn_layer.values()), "per_layer": learn_layer}
        result["phases"][variant] = phases
        result["steps"][variant] = per_step
        if pruning:
            act, tot = net.active_connections(), net.total_connections()
            result["connectivity_reduction"] = {
                "total": 1 - sum(act) / sum(tot),
                "per_layer": {n: 1 - a / t for n, a, t in zip(names, act, tot)}}
    inf, lrn = result["cycles"]["inference"], result["cycles"]["learning"]
    if len(inf) == 2:
        result["speedup_inference"] = inf["dense"]["per_image"] / inf["pruned"]["per_image"]
    if len(lrn) == 2:
        result["speedup_learning"] = (lrn["dense"]["per_image_all_layers"]
                                      / lrn["pruned"]["per_image_all_layers"])
    if util:
        result["lane_utilization_dense"] = float(np.mean(util))
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.main", description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append",
                    help="a config file; repeatable, each config run once (default configs/mnist.yaml)")
    ap.add_argument("--images", type=int, default=2, help="the first N test images (default 2)")
    ap.add_argument("--image", type=int, default=None,
                    help="test image K only (its index in the test set), instead of --images")
    ap.add_argument("--layer", action="append", default=None,
                    help="a layer's name (conv1, ...); repeatable; default every layer")
    ap.add_argument("--variant", action="append", choices=list(VARIANTS), default=None,
                    help="dense or pruned; repeatable; default both")
    ap.add_argument("--lanes", type=int, default=None,
                    help="lanes per core (default: each config's core.lanes; a layer with fewer "
                         "maps gets one lane a map)")
    ap.add_argument("--sim", default=None, help="verilator (default, or $SIM) or icarus")
    ap.add_argument("--waves", action="store_true", default=None,
                    help="record waves (also WAVES=1): build/waves/<config>-<layer>-<variant>-"
                         "img<images>-<sim>/")
    ap.add_argument("--quick", action="store_true", help="train on a few hundred images")
    ap.add_argument("--out", default="build/reports/sim.json")
    args = ap.parse_args(argv)

    def body() -> int:
        start = time.perf_counter()
        # The simulator before any training: a missing one is named with its install command.
        sim = runner.require(args.sim)
        paths = list(dict.fromkeys(args.config or ["configs/mnist.yaml"]))   # each once
        cfgs = [(Path(p).stem, C.load(p)) for p in paths]
        for tag, cfg in cfgs:
            unknown = set(args.layer or ()) - {lc.name for lc in cfg.layers}
            if unknown:
                raise C.ConfigError(f"--layer {', '.join(sorted(unknown))}: config {tag} has the "
                                    f"layers {', '.join(lc.name for lc in cfg.layers)}")
        if args.image is not None and args.image < 0 or args.images < 1:
            raise C.ConfigError(f"--image {args.image} / --images {args.images}: an image index "
                                ">= 0 and at least one image")
        runs = []
        for tag, cfg in cfgs:
            lanes = cfg.core_lanes(args.lanes)
            run = co_simulate(cfg, tag, args.images, lanes, sim, args.quick,
                              layers=args.layer, variants=args.variant, image=args.image,
                              waves=args.waves)
            runs.append(run)
            summary(run)
        report = dict(runs[-1], runs=runs, mismatches=sum(r["mismatches"] for r in runs),
                      trace_events_compared=sum(r["trace_events_compared"] for r in runs),
                      config_files=paths, seconds=round(time.perf_counter() - start, 1))
        write_json(args.out, report)
        table = Path(args.out).with_suffix(".md")
        table.write_text(figures.table(report) + "\n")
        print(f"wrote {args.out}, {table}")
        return 1 if report["mismatches"] else 0

    return guarded(body, errors=(runner.UnknownSimulator, runner.ToolMissing))


def summary(run: dict) -> None:
    lanes = ", ".join(f"{n} {p}" for n, p in run["lanes_per_layer"].items())
    head = (f"{run['config']} ({run['simulator']}, {run['images']} images, lanes per core: "
            f"{lanes or 'none built'})")
    if run["mismatches"]:
        print(f"{head}: MISMATCH\n  {run['first_divergence']}")
        return
    inf, lrn = run["cycles"]["inference"], run["cycles"]["learning"]
    lines = [f"{head}: {run['trace_events_compared']} trace events compared, 0 mismatches"]
    cyc = ", ".join(f"{v} {c['per_image']:.0f}" for v, c in inf.items())
    lines.append(f"inference cycles per image ({', '.join(run['layers'])}): {cyc}"
                 + (f" (speed-up {run['speedup_inference']:.2f}x)" if "speedup_inference" in run
                    else ""))
    if lrn:
        cyc = ", ".join(f"{v} {c['per_image_all_layers']:.0f}" for v, c in lrn.items())
        lines.append(f"learning cycles per image (all layers): {cyc}"
                     + (f" (speed-up {run['speedup_learning']:.2f}x)" if "speedup_learning" in run
                        else ""))
    tail = []
    if "connectivity_reduction" in run:
        tail.append(f"connectivity reduction {run['connectivity_reduction']['total']:.2%}")
    if "lane_utilization_dense" in run:
        tail.append(f"dense lane utilisation {run['lane_utilization_dense']:.1%}")
    if tail:
        lines.append("; ".join(tail))
    print("\n  ".join(lines))


if __name__ == "__main__":
    sys.exit(main())
