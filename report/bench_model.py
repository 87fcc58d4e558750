"""Benchmark of the model's speed per image on a config (default: the MNIST network).

    python -m report.bench_model --config configs/mnist.yaml --out build/reports/bench_model.json

Writes the median over ``repeats`` runs, each on ``images`` training images, of:

* ``ms_per_image_learn_conv1``: encoding (batched) plus one STDP learning step of layer 0;
* ``ms_per_image_learn_conv2``: encoding and layer 0 inference (batched: layer 0 is frozen while
  layer 1 learns) plus one learning step of layer 1;
* ``ms_per_image_infer``: the whole inference pipeline, batched, to the readout features.

The network starts from its initial weights (mean 0.8), which make more neurons fire than trained
weights do: the figures are on the slow side. ``reference_ms`` holds the float SpykeTorch figures
of docs/design.md section 4 (CPU, 2 threads, batch 1), and ``speedup_vs_reference`` the ratios.
All timings of one run come from the same process, so compare ratios rather than absolute values
across machines.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import numpy as np

from model import config as C
from model import data
from model.cli import guarded, write_json
from model.network import Network

REFERENCE_MS = {"learn_conv1": 1.0, "learn_conv2": 2.7, "infer": 1.7}


def _learn(cfg, images, layer):
    net = Network(cfg)
    t0 = time.perf_counter()
    x, _ = net.propagate(net.encode(images), layer)     # the frozen layers below, batched
    for n in range(len(x)):
        net.learn(layer, x[n:n + 1])
    return time.perf_counter() - t0


def _infer(cfg, images):
    net = Network(cfg)
    t0 = time.perf_counter()
    net.features(images)
    return time.perf_counter() - t0


def run(cfg: C.Config, images: int, repeats: int) -> dict:
    ds = data.load(cfg)
    if len(ds.train_x) < images * repeats:
        images = max(1, len(ds.train_x) // repeats)
    tasks = {"learn_conv1": lambda c, x: _learn(c, x, 0), "learn_conv2": lambda c, x: _learn(c, x, 1),
             "infer": _infer}
    if len(cfg.layers) < 2:
        del tasks["learn_conv2"]
    for fn in tasks.values():            # compile the numba kernels before timing
        fn(cfg, ds.train_x[:2])
    samples = {name: [] for name in tasks}
    for r in range(repeats):
        batch = ds.train_x[r * images:(r + 1) * images]
        for name, fn in tasks.items():
            samples[name].append(fn(cfg, batch) / len(batch) * 1e3)
    report = {f"ms_per_image_{name}": statistics.median(v) for name, v in samples.items()}
    report.update({
        "samples_ms_per_image": samples,
        "images_per_repeat": images,
        "repeats": repeats,
        "reference_ms": REFERENCE_MS,
        "speedup_vs_reference": {name: REFERENCE_MS[name] / report[f"ms_per_image_{name}"]
                                 for name in tasks},
        "config": cfg.to_dict(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
    })
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--out", default="build/reports/bench_model.json")
    ap.add_argument("--quick", action="store_true", help="few images, for tests")
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)

    def body() -> int:
        cfg = C.load(args.config)
        images = args.images or (20 if args.quick else 300)
        repeats = args.repeats or (3 if args.quick else 7)
        report = run(cfg, images, repeats)
        report["quick"] = args.quick
        write_json(args.out, report)
        for name, ref in REFERENCE_MS.items():
            key = f"ms_per_image_{name}"
            if key in report:
                print(f"{key}: {report[key]:.3f} ms (reference {ref} ms, "
                      f"{report['speedup_vs_reference'][name]:.2f}x)")
        print(f"wrote {args.out}")
        return 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
