"""A training sweep: one config setting over several values and training seeds, each trained
dense and pruned (``report.train.run``, checkpointed like ``make train``) and read out.

``sweep`` returns ``rows``, one per value and seed: the setting's value under its own key,
``seed``, ``accuracy_dense``, ``accuracy_pruned``, ``accuracy_loss`` (dense minus pruned),
``connectivity_reduction`` (total and per layer), ``learned`` (images each layer learned, per
variant) and ``sop_reduction_learning``; and ``summary``, one per value: the means over seeds,
the standard error of the accuracy loss over seeds (``loss_se``), the binomial standard error
of one accuracy on the test set (``accuracy_se``) and the mean reduction per layer. The dense
variant does not depend on pruning settings (``Config.learning_dict``), so a sweep of them
trains it once per seed.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from model import config as C
from report import train


def ints(text: str, what: str) -> list[int]:
    """A comma-separated list of integers >= 1 (a command's option), or a ValueError naming it."""
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise ValueError(f"{what} {text!r}: comma-separated integers, e.g. 500,100") from None
    if not values or min(values) < 1:
        raise ValueError(f"{what} {text!r}: at least one value, each >= 1")
    return values


def standard_error(values) -> float | None:
    """The standard error of the mean of ``values`` (one per training seed); None for one value."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else None


def sweep(cfg: C.Config, tag: str, key: str, values: list, changes: Callable[[object], dict],
          seeds: list[int], quick: bool, progress=print) -> dict:
    """Train every value of the setting ``key`` (``changes(value)``: the dotted config keys it
    sets) with every seed, dense and pruned."""
    start = time.perf_counter()
    rows = []
    for v in values:
        for seed in seeds:
            vcfg = C.replace(cfg, **changes(v), seed=seed)
            rep = train.run(vcfg, tag, quick, progress_bar=False)
            rows.append({key: v, "seed": seed,
                         "accuracy_dense": rep["accuracy_dense"], "accuracy_pruned": rep["accuracy_pruned"],
                         "accuracy_loss": rep["accuracy_dense"] - rep["accuracy_pruned"],
                         "connectivity_reduction": rep["connectivity_reduction"],
                         "learned": rep["images"]["learned"],
                         "sop_reduction_learning": rep["sop_reduction_learning"]})
            r = rows[-1]
            progress(f"{key} {v}, seed {seed}: dense {r['accuracy_dense']:.2%}, pruned "
                     f"{r['accuracy_pruned']:.2%}, connectivity -{r['connectivity_reduction']['total']:.2%} "
                     f"{ {n: round(x, 4) for n, x in r['connectivity_reduction']['per_layer'].items()} }, "
                     f"learned {r['learned']}")
    test_images = rep["images"]["test"]
    names = [lc.name for lc in cfg.layers]
    summary = []
    for v in values:
        sel = [r for r in rows if r[key] == v]
        loss = np.array([r["accuracy_loss"] for r in sel])
        acc = float(np.mean([r["accuracy_pruned"] for r in sel]))
        summary.append({
            key: v, "seeds": len(sel),
            "accuracy_dense": float(np.mean([r["accuracy_dense"] for r in sel])),
            "accuracy_pruned": acc,
            "accuracy_loss": float(loss.mean()),
            "loss_se": standard_error(loss),
            "accuracy_se": math.sqrt(acc * (1 - acc) / test_images),
            "connectivity_reduction": float(np.mean([r["connectivity_reduction"]["total"] for r in sel])),
            "connectivity_reduction_per_layer": {
                n: float(np.mean([r["connectivity_reduction"]["per_layer"][n] for r in sel])) for n in names},
            "learned_pruned": [float(np.mean([r["learned"]["pruned"][i] for r in sel]))
                               for i in range(len(names))],
            "learned_dense": [float(np.mean([r["learned"]["dense"][i] for r in sel]))
                              for i in range(len(names))],
            "sop_reduction_learning": float(np.mean([r["sop_reduction_learning"] for r in sel])),
        })
    return {"rows": rows, "summary": summary, "test_images": test_images, "config": cfg.to_dict(),
            "quick": quick, "seconds": round(time.perf_counter() - start, 1)}


def loss_cell(s: dict) -> str:
    """A summary's accuracy loss with its standard error over seeds."""
    se = f"{s['loss_se'] * 100:.2f}" if s["loss_se"] is not None else "-"
    return f"{s['accuracy_loss'] * 100:+.2f} pp ({se})"
