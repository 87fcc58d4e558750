"""The weight-width sweep of a trained network (``model.quantize``), as a command:

    python -m report.quantize --config configs/tiny.yaml [--quick] [--per-layer] \\
        --out build/reports/quantize.json

trains (or reuses the checkpoint of) the config's pruned variant as ``report.train`` does,
then writes the sweep: ``rows`` (``quantization_sweep``'s, accuracy per width 2..8 with every
layer at that width, and one layer at a time with ``--per-layer``), ``reference`` (the accuracy
at the trained ``widths``), ``config``, ``quick``, ``images`` (train, test) and ``seconds``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model import config as C
from model import data
from model.cli import guarded, write_json
from model.quantize import WIDTHS, quantization_sweep, readout_accuracy
from model.train import quick_config
from report.train import train_network


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--bits", default=",".join(map(str, WIDTHS)), help="comma-separated widths")
    ap.add_argument("--per-layer", action="store_true", help="also one layer at a time")
    ap.add_argument("--quick", action="store_true", help="a few hundred images")
    ap.add_argument("--out", default="build/reports/quantize.json")
    args = ap.parse_args(argv)
    try:
        bits = [int(b) for b in args.bits.split(",")]
    except ValueError:
        ap.error(f"--bits {args.bits!r}: comma-separated integers, e.g. 2,4,8")

    def body() -> int:
        start = time.perf_counter()
        cfg = C.replace(C.load(args.config), **{"pruning.enabled": True})
        cfg = quick_config(cfg) if args.quick else cfg
        ds = data.load(cfg)
        # report.train's pruned variant: a finished run's checkpoint is reused
        net, _, _ = train_network(cfg, ds, "pruned", Path(args.config).stem)
        rep = {"rows": quantization_sweep(net, ds, bits, args.per_layer),
               "reference": readout_accuracy(net, ds),
               "widths": [cfg.weight_bits(i) for i in range(len(cfg.layers))],
               "config": args.config, "quick": args.quick,
               "images": {"train": len(ds.train_y), "test": len(ds.test_y)},
               "seconds": round(time.perf_counter() - start, 1)}
        write_json(args.out, rep)
        print(f"reference (widths {rep['widths']}): {rep['reference']:.2%}")
        for r in rep["rows"]:
            a = r["accuracy"]
            print(f"  {r['layer']} at {r['bits']} bits: "
                  + ("threshold below one LSB" if a is None else f"{a:.2%}"))
        print(f"wrote {args.out}")
        return 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
