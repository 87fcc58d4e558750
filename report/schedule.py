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
import sys
from pathlib import Path

from model import config as C
from model.cli import guarded, write_json
from report.sweep import ints, loss_cell, sweep


def measure(cfg: C.Config, tag: str, schedules: list[int], seeds: list[int], quick: bool,
            progress=print) -> dict:
    return sweep(cfg, f"{tag}-sched", "double_every", schedules,
                 lambda d: {"stdp.double_every": d}, seeds, quick, progress)


def table(rep: dict) -> str:
    lines = ["double_every  dense    pruned   loss (se)          connectivity  learned pruned / dense  learning SOPs saved"]
    for s in rep["summary"]:
        lines.append(f"{s['double_every']:>12}  {s['accuracy_dense']:.2%}  {s['accuracy_pruned']:.2%}  "
                     f"{loss_cell(s)}  -{s['connectivity_reduction']:.2%}"
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
        schedules, seeds = ints(args.double_every, "--double-every"), ints(args.seeds, "--seeds")
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
