"""The learning-rate schedule, measured: how fast a+ doubles decides when weights converge, and
so when the threshold rule can prune and how many images each layer learns.

    python -m report.schedule --config configs/mnist.yaml [--double-every 500,250,100,50] \\
        [--seeds 1,2,3] [--quick] --out build/reports/schedule.json

For each schedule (``stdp.double_every``; a- keeps its ratio to a+) and each training seed (the
config's ``seed``: initial weights and the stochastic rounding), trains the dense and the pruned
variant on the same schedule (``report.train.run``, checkpointed like ``make train``) and reads
both out. Fields: ``rows``, one per schedule and seed: ``double_every``, ``seed``,
``accuracy_dense``, ``accuracy_pruned``, ``accuracy_loss`` (dense minus pruned),
``connectivity_reduction`` (total and per layer), ``learned`` (images each layer learned, per
variant) and ``sop_reduction_learning`` (synaptic operations of the whole training, pruned
against dense); ``summary``, one per schedule: the means over seeds, with the standard error of
the accuracy loss over seeds (``loss_se``) and the binomial standard error of one accuracy on the
test set (``accuracy_se``); ``test_images``, ``config``, ``quick``, ``seconds``.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from model import config as C
from model.cli import guarded, write_json
from report import train


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise ValueError(f"{what} {text!r}: comma-separated integers, e.g. 500,100") from None
    if not values or min(values) < 1:
        raise ValueError(f"{what} {text!r}: at least one value, each >= 1")
    return values


def measure(cfg: C.Config, tag: str, schedules: list[int], seeds: list[int], quick: bool,
            progress=print) -> dict:
    start = time.perf_counter()
    rows = []
    for d in schedules:
        for seed in seeds:
            vcfg = C.replace(cfg, **{"stdp.double_every": d, "seed": seed})
            rep = train.run(vcfg, f"{tag}-sched", quick, progress_bar=False)
            rows.append({"double_every": d, "seed": seed,
                         "accuracy_dense": rep["accuracy_dense"], "accuracy_pruned": rep["accuracy_pruned"],
                         "accuracy_loss": rep["accuracy_dense"] - rep["accuracy_pruned"],
                         "connectivity_reduction": rep["connectivity_reduction"],
                         "learned": rep["images"]["learned"],
                         "sop_reduction_learning": rep["sop_reduction_learning"]})
            r = rows[-1]
            progress(f"double_every {d}, seed {seed}: dense {r['accuracy_dense']:.2%}, pruned "
                     f"{r['accuracy_pruned']:.2%}, connectivity -{r['connectivity_reduction']['total']:.2%}, "
                     f"learned {r['learned']}")
    test_images = rep["images"]["test"]
    summary = []
    for d in schedules:
        sel = [r for r in rows if r["double_every"] == d]
        loss = np.array([r["accuracy_loss"] for r in sel])
        acc = float(np.mean([r["accuracy_pruned"] for r in sel]))
        summary.append({
            "double_every": d, "seeds": len(sel),
            "accuracy_dense": float(np.mean([r["accuracy_dense"] for r in sel])),
            "accuracy_pruned": acc,
            "accuracy_loss": float(loss.mean()),
            "loss_se": float(loss.std(ddof=1) / math.sqrt(len(loss))) if len(loss) > 1 else None,
            "accuracy_se": math.sqrt(acc * (1 - acc) / test_images),
            "connectivity_reduction": float(np.mean([r["connectivity_reduction"]["total"] for r in sel])),
            "learned_pruned": [float(np.mean([r["learned"]["pruned"][i] for r in sel]))
                               for i in range(len(cfg.layers))],
            "learned_dense": [float(np.mean([r["learned"]["dense"][i] for r in sel]))
                              for i in range(len(cfg.layers))],
            "sop_reduction_learning": float(np.mean([r["sop_reduction_learning"] for r in sel])),
        })
    return {"rows": rows, "summary": summary, "test_images": test_images, "config": cfg.to_dict(),
            "quick": quick, "seconds": round(time.perf_counter() - start, 1)}


def table(rep: dict) -> str:
    lines = ["double_every  dense    pruned   loss (se)          connectivity  learned pruned / dense  learning SOPs saved"]
    for s in rep["summary"]:
        se = f"{s['loss_se'] * 100:.2f}" if s["loss_se"] is not None else "-"
        lines.append(f"{s['double_every']:>12}  {s['accuracy_dense']:.2%}  {s['accuracy_pruned']:.2%}  "
                     f"{s['accuracy_loss'] * 100:+.2f} pp ({se})  -{s['connectivity_reduction']:.2%}"
                     f"       {[round(v) for v in s['learned_pruned']]} / {[round(v) for v in s['learned_dense']]}"
                     f"   {s['sop_reduction_learning']:.2%}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m report.schedule", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--double-every", default="500,250,100,50", help="schedules (stdp.double_every)")
    ap.add_argument("--seeds", default="1,2,3", help="training seeds")
    ap.add_argument("--quick", action="store_true", help="a few hundred images")
    ap.add_argument("--out", default="build/reports/schedule.json")
    args = ap.parse_args(argv)
    try:
        schedules, seeds = _ints(args.double_every, "--double-every"), _ints(args.seeds, "--seeds")
    except ValueError as exc:
        ap.error(str(exc))

    def body() -> int:
        rep = measure(C.load(args.config), Path(args.config).stem, schedules, seeds, args.quick)
        write_json(args.out, rep)
        print(table(rep))
        print(f"wrote {args.out}")
        return 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
