"""The model's default experiment: train with and without pruning, read out, report.

    python -m report.train --config configs/mnist.yaml --out build/reports/train.json

trains every layer twice on the configured data, once dense (``pruning.enabled: false``) and once
with the config's pruning, reads both out with the linear SVM, and writes a JSON report. Each
training run checkpoints to ``build/ckpt/<config>-<variant>-<mode>-<digest>.npz``; running the same
command again resumes an interrupted run (or reuses a finished one) bit-identically.

Report fields (all fractions in [0, 1]):

* ``accuracy_dense``, ``accuracy_pruned``: test accuracy of the SVM readout on the features of
  ``readout.pool_grid``; ``accuracy_float_dense`` too with ``--float`` (the real-valued twin, to
  price fixed point). Each variant's ``accuracy_by_pool_grid`` adds the global-pooling (grid 1)
  accuracy when the config pools on a finer grid.
* ``connectivity_reduction``: ``{"total": .., "per_layer": {name: ..}}``, 1 - active / all
  connections of the pruned network.
* ``sop_reduction_learning``: 1 - synaptic operations (all layers) spent learning, pruned over
  dense; ``sop_reduction_inference``: the same on the test set.
* ``images``: training and test images used, and images each layer learned per variant.
* ``variants``: per variant, the counters (``learn``/``infer``: images, sop_done, sop_skipped,
  stdp_done, stdp_skipped per layer), active connections, convergence history, why each
  layer stopped, and ``policy``: what the policy chose: its ``name``, the inference ``window``
  (time steps) the readout used, ``pruned_share`` per layer (masked connections over all); for
  ``lamp`` the number of ``rounds`` and ``pruned_per_round`` (per layer); for
  ``temporal_window`` the ``trained_window`` and the ``divergence`` curve over windows 1 ..
  trained_window; for ``channel_activity`` per layer ``maps_disabled`` at the end,
  ``disabled_maps``, ``disable_events``, ``regrow_events``, ``mask_updates``; for
  ``pca_channels`` the record of ``pca_rebuild`` (per layer ``maps_before``, ``maps_after``,
  ...). A rebuilt variant's ``connections`` are the original network's, so the reductions price
  the removed maps.
* ``config`` (the validated config), ``seed``, ``mode``, ``quick``, ``seconds``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model import config as C
from model import data, readout
from model.cli import guarded, write_json
from model.network import COUNTERS, PHASES, Network
from model.pruning.pca_channels import pca_rebuild
from model.train import CHECKPOINTS, Trainer, config_digest, quick_config, save_checkpoint

def train_network(cfg: C.Config, ds: data.Dataset, name: str, tag: str, mode: str = "fixed",
                  progress_bar: bool = True):
    """Train (or resume) one variant with its policy's procedures; returns (net, progress, ckpt)."""
    rebuilt = {}
    if _policy(cfg) == "pca_channels":
        # The variant is the rebuilt network (net.cfg); read_out counts against the original.
        cfg, rebuilt = pca_rebuild(cfg, ds.train_x, CHECKPOINTS, f"{tag}-{name}", mode, progress_bar)
    ckpt = CHECKPOINTS / f"{tag}-{name}-{mode}-{config_digest(cfg, mode)}.npz"
    net, progress = Trainer(cfg, ckpt, mode, progress_bar).run(ds.train_x)
    if "chosen" not in progress:
        # Once: what the policy decides after training (the window) goes into the checkpoint.
        progress["chosen"] = {**rebuilt, **net.pruning.after_training(net, ds)}
        save_checkpoint(ckpt, net, progress)
    return net, progress, ckpt


def _policy(cfg: C.Config) -> str:
    return cfg.pruning.policy if cfg.pruning.enabled else "none"


def run_variant(cfg: C.Config, ds: data.Dataset, name: str, tag: str, mode: str = "fixed",
                progress_bar: bool = True) -> dict:
    """Train (or resume) one variant, read it out; returns its part of the report."""
    return read_out(cfg, ds, *train_network(cfg, ds, name, tag, mode, progress_bar))


def read_out(cfg: C.Config, ds: data.Dataset, net, progress: dict, ckpt) -> dict:
    """The SVM readout of a trained network and its record (``run_variant``'s report part)."""
    # A policy may have rebuilt the network (fewer maps): connections count against cfg's.
    connections = Network(cfg, net.mode).total_connections()
    cfg = net.cfg
    train_features = net.features(ds.train_x, phase=None)
    test_features = net.features(ds.test_x, phase="infer")
    clf = readout.fit(cfg, train_features, ds.train_y)
    by_grid = {cfg.readout.pool_grid: readout.accuracy(clf, test_features, ds.test_y)}
    if cfg.readout.pool_grid > 1:      # the regions partition each map: their max is the global max
        maps = cfg.layers[-1].maps
        glob = lambda f: f.reshape(len(f), maps, -1).max(axis=2)
        by_grid[1] = readout.accuracy(readout.fit(cfg, glob(train_features), ds.train_y),
                                      glob(test_features), ds.test_y)
    counters = {phase: {c: net.counters.get(phase, c).tolist() for c in COUNTERS} for phase in PHASES}
    return {
        "accuracy": by_grid[cfg.readout.pool_grid],
        "accuracy_by_pool_grid": by_grid,
        "train_accuracy": readout.accuracy(clf, train_features, ds.train_y),
        "active_connections": net.active_connections(),
        "connections": connections,
        "learned": list(net.learned),
        "stopped_by": progress["stopped_by"],
        "convergence": progress["convergence"],
        "counters": counters,
        "policy": _policy_record(_policy(cfg), net, progress),
        "checkpoint": str(ckpt),
    }


def _policy_record(policy: str, net, progress: dict) -> dict:
    """What the policy chose: the inference window, the pruned share per layer, LAMP's rounds,
    the temporal window's divergence curve."""
    rec = {"name": policy, "window": net.window,
           "pruned_share": [float(p.mean()) for p in net.pruned]}
    if "rounds" in progress:
        rec["rounds"] = len(progress["rounds"])
        rec["pruned_per_round"] = [r["pruned"] for r in progress["rounds"]]
    rec.update(progress["chosen"])
    return rec


def _reduction(after: float, before: float) -> float:
    return float(1 - after / before) if before else 0.0


def run(cfg: C.Config, tag: str, quick: bool = False, with_float: bool = False,
        progress_bar: bool = True) -> dict:
    start = time.perf_counter()
    if quick:
        cfg = quick_config(cfg)
    ds = data.load(cfg)
    dense_cfg = C.replace(cfg, **{"pruning.enabled": False})
    pruned_cfg = C.replace(cfg, **{"pruning.enabled": True})
    variants = {"dense": run_variant(dense_cfg, ds, "dense", tag, "fixed", progress_bar),
                "pruned": run_variant(pruned_cfg, ds, "pruned", tag, "fixed", progress_bar)}
    if with_float:
        variants["float_dense"] = run_variant(dense_cfg, ds, "dense", tag, "float", progress_bar)
    report = {**compare(cfg, ds, variants), "variants": variants, "config": cfg.to_dict(),
              "seed": cfg.seed, "mode": "fixed", "quick": quick}
    if with_float:
        report["accuracy_float_dense"] = variants["float_dense"]["accuracy"]
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report


def compare(cfg: C.Config, ds: data.Dataset, variants: dict) -> dict:
    """The dense and the pruned variant (``run_variant`` records) against each other: accuracies,
    connectivity reduction, synaptic operations saved, images used and learned."""
    d, p = variants["dense"], variants["pruned"]
    names = [lc.name for lc in cfg.layers]
    per_layer = {n: _reduction(a, t) for n, a, t in zip(names, p["active_connections"], p["connections"])}
    return {
        "accuracy_dense": d["accuracy"],
        "accuracy_pruned": p["accuracy"],
        "connectivity_reduction": {
            "total": _reduction(sum(p["active_connections"]), sum(p["connections"])),
            "per_layer": per_layer,
        },
        "sop_reduction_learning": _reduction(sum(p["counters"]["learn"]["sop_done"]),
                                             sum(d["counters"]["learn"]["sop_done"])),
        "sop_reduction_inference": _reduction(sum(p["counters"]["infer"]["sop_done"]),
                                              sum(d["counters"]["infer"]["sop_done"])),
        "images": {"train": int(len(ds.train_y)), "test": int(len(ds.test_y)),
                   "learned": {k: v["learned"] for k, v in variants.items()}},
    }


def summary(report: dict) -> str:
    cr = report["connectivity_reduction"]
    layers = ", ".join(f"{k} {v:.2%}" for k, v in cr["per_layer"].items())
    lines = [
        f"images: {report['images']['train']} train, {report['images']['test']} test"
        f"{' (quick)' if report['quick'] else ''}; learned per layer: {report['images']['learned']}",
        f"accuracy dense {report['accuracy_dense']:.2%}, pruned {report['accuracy_pruned']:.2%}"
        + (f", float dense {report['accuracy_float_dense']:.2%}" if "accuracy_float_dense" in report else ""),
        f"connectivity reduction {cr['total']:.2%} ({layers})",
        f"synaptic operations saved: learning {report['sop_reduction_learning']:.2%}, "
        f"inference {report['sop_reduction_inference']:.2%}",
        f"{report['seconds']} s",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m report.train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--out", default="build/reports/train.json")
    ap.add_argument("--quick", action="store_true", help="a few hundred images, a few seconds")
    ap.add_argument("--float", action="store_true", help="also train the float twin (dense)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    def body() -> int:
        cfg = C.load(args.config)
        report = run(cfg, Path(args.config).stem, args.quick, args.float, not args.no_progress)
        write_json(args.out, report)
        print(summary(report))
        print(f"wrote {args.out}")
        return 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
