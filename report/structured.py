"""Whole maps off in one layer, measured: does disabling a layer's least active maps at the end
of its warm-up (``layers[i].pruning.maps_off``, model/pruning/threshold.py) take the layer below
the share of connections the threshold rule alone keeps, without losing accuracy?

    python -m report.structured --config configs/mnist.yaml [--layer 0] [--shares 0,0.2,0.3] \\
        [--seeds 1,2,3] [--quick] --out build/reports/structured.json

For each share and training seed, trains the dense and the pruned network (the dense one once
per seed: it does not depend on pruning settings) and reads both out; fields are those of
``report.sweep.sweep`` with ``maps_off`` as the setting, plus ``layer`` and, per summary,
``kept`` (the layer's share of connections still live) and the loss relative to share 0.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model import config as C
from model.cli import guarded, write_json
from report.sweep import ints, loss_cell, sweep


def shares(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v]
    except ValueError:
        raise ValueError(f"--shares {text!r}: comma-separated shares of maps, e.g. 0,0.2") from None
    if not values or not all(0 <= v < 1 for v in values):
        raise ValueError(f"--shares {text!r}: at least one value, each 0 <= share < 1")
    return values


def measure(cfg: C.Config, tag: str, layer: int, values: list[float], seeds: list[int],
            quick: bool, progress=print) -> dict:
    if not 0 <= layer < len(cfg.layers):
        raise ValueError(f"--layer {layer}: the config has layers 0 .. {len(cfg.layers) - 1}")
    rep = sweep(cfg, f"{tag}-maps", "maps_off", values,
                lambda s: {f"layers.{layer}.pruning.maps_off": s}, seeds, quick, progress)
    name = cfg.layers[layer].name
    base = next((s for s in rep["summary"] if s["maps_off"] == 0), None)
    for s in rep["summary"]:
        s["kept"] = 1 - s["connectivity_reduction_per_layer"][name]
        s["loss_vs_threshold_only"] = (base["accuracy_pruned"] - s["accuracy_pruned"]) if base else None
    rep["layer"] = layer
    return rep


def table(rep: dict) -> str:
    name = rep["config"]["layers"][rep["layer"]]["name"]
    lines = [f"maps_off  {name} kept  dense    pruned   loss vs dense (se)  vs share 0   total reduction"]
    for s in rep["summary"]:
        vs = f"{s['loss_vs_threshold_only'] * 100:+.2f} pp" if s["loss_vs_threshold_only"] is not None else "-"
        lines.append(f"{s['maps_off']:>8}  {s['kept']:>9.2%}  {s['accuracy_dense']:.2%}  "
                     f"{s['accuracy_pruned']:.2%}  {loss_cell(s):>18}  {vs:>10}   -{s['connectivity_reduction']:.2%}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m report.structured", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--layer", type=int, default=0, help="the layer whose maps are disabled (default 0)")
    ap.add_argument("--shares", default="0,0.2,0.3", help="shares of the layer's maps (maps_off)")
    ap.add_argument("--seeds", default="1,2,3", help="training seeds")
    ap.add_argument("--quick", action="store_true", help="a few hundred images")
    ap.add_argument("--out", default="build/reports/structured.json")
    args = ap.parse_args(argv)
    try:
        values, seeds = shares(args.shares), ints(args.seeds, "--seeds")
    except ValueError as exc:
        ap.error(str(exc))

    def body() -> int:
        rep = measure(C.load(args.config), Path(args.config).stem, args.layer, values, seeds, args.quick)
        write_json(args.out, rep)
        print(table(rep))
        print(f"wrote {args.out}")
        return 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
