"""``make report``: the paper's experiment (Nguyen et al. 2021) at MNIST scale, measured end to end.

    python -m report --config configs/mnist.yaml [--quick] --out build/reports

Trains the network dense and with pruning (``model.train.Trainer`` through
``report.measure.TrajectoryTrainer``, checkpointed under ``build/ckpt``), reads both out with the
SVM (``report.train.run_variant``), counts cycles and energy with ``cycles.image`` and
``report.energy``, sweeps the pruning threshold and warm-up, co-simulates a sample of the test
images in the RTL (``sim.main.co_simulate``), and writes ``report.json``, the PNG figures and
``report.md``. Every step's result is cached under ``<out>/report_cache`` (``joblib.Memory``)
by the config's digest, so an interrupted run resumes from its last finished step (and training
from its checkpoint).
The two variants, each sweep point and the co-simulation (after both variants) are tasks on a
Dask cluster (cluster/runner.py: a local one of ``--workers`` processes by default,
``--scheduler`` a running one, ``--workers 0`` this process); each caches its result before it
returns, and the report is the same wherever they ran.

While the variants train, every ``sample_every``-th learning step of each layer is counted with
``cycles.image`` on the step's own image and the state it starts from (``report.measure``); the
whole training's learning cycles are summed from them (exact with ``sample_every`` 1). The
report's configs checkpoint every ``trajectory_every`` images (``training.checkpoint_every``, which
does not change what is learned) to give the connectivity trajectory its points. Besides the
config's training seed, ``seeds`` - 1 more seeds are trained dense and pruned for the accuracy loss.

``report.json`` fields (fractions in [0, 1], cycles per image unless named otherwise):

* ``accuracy_dense``, ``accuracy_pruned``: SVM test accuracy (``readout.pool_grid`` features) at
  the config's seed, ``accuracy_se`` their binomial standard errors on the test set;
  ``accuracy_by_pool_grid`` per variant.
* ``accuracy_over_seeds``: the headline accuracy loss: ``rows`` (per training seed: ``seed``,
  ``accuracy_dense``, ``accuracy_pruned``, ``accuracy_loss`` = dense minus pruned,
  ``connectivity_reduction``, ``learned``), their means and ``loss_se``, the standard error of
  the mean loss over the ``seeds``.
* ``connectivity_reduction``: ``{"total", "per_layer"}``: 1 - active / all connections, pruned.
* ``cycles``: per variant, ``inference`` (mean, per layer, ``per_image`` list over the test
  sample), ``learning_final`` (per layer: one learning step of the trained network, mean over
  the test sample taken as learning images; ``all_layers`` their sum), ``learning_training``
  (the whole training, from the measured steps: ``total`` cycles of every learning step of every
  layer, ``total_se`` the sampling's standard error (0 when every step is measured),
  ``total_per_layer``; ``per_layer`` the mean per learning step, ``all_layers`` their sum;
  ``images`` steps per layer, ``sampled`` steps measured).
  ``cycles.<variant>.inference.phases_per_layer``: lane op cycles, the integrate engine's other
  cycles and the outgoing unit's; ``learning_final`` also has the winner and STDP units' cycles.
* ``speedup_inference``: dense over pruned mean inference cycles; ``speedup_learning`` (the
  headline): dense over pruned ``learning_training.total``, the whole training's learning cycles
  against the dense run trained on the same schedule and images, ``speedup_learning_se`` its
  sampling standard error; ``speedup_learning_per_step``: dense over pruned
  ``learning_training.all_layers`` (one step of every layer, averaged over training);
  ``speedup_learning_final``: one step of every layer of the trained networks.
* ``energy``: per variant the mean inference energy per image and the learning energy (as the
  cycles), in pJ; ``energy_saving_inference``: 1 - pruned / dense of the inference means,
  ``energy_saving_learning`` of the whole training's learning energy,
  ``energy_saving_learning_final`` of one step of every layer of the trained networks;
  ``energy_model``: the per-operation energies and their source.
* ``sop_ratio_inference``: dense over pruned synaptic operations per inference (cycle model, test
  sample): what the speed-up would be if cycles scaled with operations.
* ``synaptic_operations``: per variant, from the model's counters: ``learning_total`` per layer
  (whole training), ``inference_per_image`` per layer (test set); and the cycle model's mean per
  test-sample image.
* ``cosim_images_checked``, ``cosim_mismatches`` and ``cosim``: the co-simulation (test images
  run in the RTL; mismatches counts trace or memory divergences and cycle figures where the
  RTL-checked counts disagree with ``cycles.image``); ``cosim.layers`` and ``cosim.variants``
  name what it ran (every layer, dense and pruned, unless ``--cosim-layers`` /
  ``--cosim-variants`` or quick mode, which co-simulates the first layer of the pruned network,
  say otherwise), ``cosim.every_layer_and_variant`` whether that is all of them.
* ``resources``: ``build/reports/resources-<config>.json`` (``make resources``, boards/resources.py) if
  present, with its ``pruning_overhead`` (per FPGA family: the pruning check's share of the
  network's core LUTs + FFs), else ``{"status": "missing"}``.
* ``trajectory``: per variant, the active connections at each checkpoint (``learned_all``:
  images learned per layer); ``learning_steps``: per variant, the measured learning steps
  (``layer``, ``learned`` before the step, ``cycles``, ``energy_pj``); ``weights_histogram``:
  weight counts before and after learning.
* ``sweep``: per (threshold, warm-up) point: accuracy, connectivity reduction, inference and
  final-state learning speed-ups on ``sweep_images`` test images.
* ``paper``: the paper's headline figures; ``targets``: each target and whether it was met
  (quick mode: ``quick_demonstration`` only, its figures being no measure of the network's).
* ``tasks``: each task's (variant, other seed's variant, sweep point, co-simulation) own wall
  time, ``seconds``.
* ``config``, ``quick``, ``options``, ``seconds``, ``cache_hits``, ``trained``.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import re
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import joblib
import numpy as np

from model import config as C
from model import data
from model.cli import guarded, write_json
from cycles.image import STEP_HANDSHAKE_CYCLES
from report.energy import ENERGY_PJ, SOURCE
from report import train as experiment
from model.train import quick_config
from report.train import run_variant
from model.network import Network
from model.train import Trainer, config_digest
from boards.resources import BASELINES, shown_path
from cluster import Runner, add_arguments
from cluster.runner import check_arguments
from report import measure
from report.sweep import standard_error

VARIANTS = ("dense", "pruned")
PAPER = {   # Nguyen et al. 2021 (arXiv:2010.04351), docs/design.md 2.1
    "speedup_learning": 2.1, "speedup_inference": 2.83, "connectivity_reduction": 0.9283,
    "energy_saving_learning": 0.64, "energy_saving_inference": 0.7824, "pruning_overhead": 0.0056,
}
TARGETS = {"connectivity_reduction": 0.93, "accuracy_loss_pp": 0.5, "speedup_learning": 2.1,
           "speedup_inference": 2.83, "seconds": 1800}
# make report QUICK=1: within 3 minutes, at least half the connections pruned, every speed-up > 1
QUICK_TARGETS = {"seconds": 180, "connectivity_reduction": 0.5}
SPEEDUPS = ("speedup_learning", "speedup_learning_per_step", "speedup_learning_final",
            "speedup_inference")
RESOURCES = Path("build/reports/resources.json")


@dataclass
class Options:
    quick: bool = False
    test_images: int = 40          # test images whose cycles and energy are counted
    sample_every: int = 25         # learning steps between measured ones (1: every step; best
                                   # not a divisor of the training images, which layers repeat)
    trajectory_every: int = 250    # images between checkpoints (connectivity trajectory points)
    seeds: int = 3                 # training seeds of the accuracy loss: the config's and the next
    thresholds: tuple = (0.05, 0.1, 0.15, 0.2, 0.3)
    warmups: tuple = (250, 500, 1000)
    sweep_images: int = 8
    cosim_images: int = 2
    cosim_layers: int | None = None   # the first n layers co-simulated; None: every layer
    cosim_variants: tuple = VARIANTS  # the variants co-simulated
    lanes: int | None = None       # lanes per core; None: the config's core.lanes
    sim: str | None = None
    progress: bool = True

    @classmethod
    def quick_mode(cls, **kw) -> "Options":
        # sample_every 97: not a divisor of the 300 images layers learn over again, so the
        # counted steps are of different images. The co-simulation checks the first layer's
        # core of the pruned network (the pruning logic at work): the Verilator build of the
        # second layer's core alone takes about 2 minutes on a 2-core machine; make sim and
        # make report check every layer, dense and pruned.
        base = dict(quick=True, test_images=4, sample_every=97, trajectory_every=50,
                    thresholds=(0.05, 0.2), warmups=(), sweep_images=2, cosim_images=1,
                    cosim_layers=1, cosim_variants=("pruned",))
        return cls(**{**base, **kw})

    def check(self) -> "Options":
        for name in ("test_images", "sample_every", "trajectory_every", "sweep_images", "lanes",
                     "seeds"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be >= 1")
        if self.cosim_images < 0:
            raise ValueError(f"cosim_images = {self.cosim_images}: must be >= 0 (0: skip)")
        if self.cosim_layers is not None and self.cosim_layers < 1:
            raise ValueError(f"cosim_layers = {self.cosim_layers}: must be >= 1 (the first n "
                             "layers; none given: every layer)")
        self.cosim_variants = tuple(self.cosim_variants)
        bad = [v for v in self.cosim_variants if v not in VARIANTS]
        if bad or not self.cosim_variants or len(set(self.cosim_variants)) < len(self.cosim_variants):
            raise ValueError(f"cosim_variants = {list(self.cosim_variants)}: must be one or both "
                             f"of {list(VARIANTS)}, each once")
        if self.sweep_images > self.test_images:
            raise ValueError(f"sweep_images = {self.sweep_images}: must be <= test_images = "
                             f"{self.test_images} (the sweep reuses the dense sample)")
        if self.cosim_images:         # the simulator before any training (names its install)
            from sim import runner
            runner.require(self.sim)
        return self


@dataclass
class Cache:
    """Each step's result on disk under ``folder`` (``joblib.Memory``), keyed by the step's name
    and a JSON text of what defines it; ``hits`` names the steps read back instead of computed."""
    folder: Path
    hits: list = field(default_factory=list)

    def __post_init__(self):
        self._step = joblib.Memory(self.folder, verbose=0).cache(_step_value, ignore=["compute"])

    def get(self, name: str, key: dict, compute):
        key_text = json.dumps(key, sort_keys=True, default=str)
        if self._step.check_call_in_cache(name, key_text, compute):
            self.hits.append(name)
        return self._step(name, key_text, compute)


def _step_value(name: str, key_text: str, compute):
    """A step's value as its JSON reads back: the same types whether computed or cached."""
    return json.loads(json.dumps(compute(), default=_json_default))


def _json_default(o):
    return o.tolist() if isinstance(o, np.ndarray) else str(o)


def measure_code() -> str:
    """Part of the cache key of every measured step: a changed report/measure.py measures again."""
    return hashlib.sha256(Path(measure.__file__).read_bytes()).hexdigest()[:16]


def checkpoint(cfg: C.Config, name: str, tag: str) -> Path:
    """The checkpoint ``report.train.run_variant`` uses for this config and variant."""
    return experiment.CHECKPOINTS / f"{tag}-{name}-fixed-{config_digest(cfg, 'fixed')}.npz"


def _mean(xs) -> float:
    return float(np.mean(xs))


def _saving(pruned: float, dense: float) -> float:
    return float(1 - pruned / dense)


def ratio_se(a: float, a_se: float, b: float, b_se: float) -> float:
    """Standard error of a / b from those of a and b, first order, as if independent: the dense
    and pruned samples are of the same steps (same images), so this overstates it."""
    return float(a / b * math.sqrt((a_se / a) ** 2 + (b_se / b) ** 2))


def _weight_edges(cfg: C.Config, i: int) -> np.ndarray:
    """32 bins over layer ``i``'s weight range, in its LSBs (``WEIGHT_UNIT_EDGES`` in units of 1.0)."""
    return WEIGHT_UNIT_EDGES * (1 << cfg.weight_bits(i))


WEIGHT_UNIT_EDGES = np.linspace(0, 1, 33)


def learned_histogram(cfg: C.Config, net: Network) -> dict:
    """Per layer, the weight counts of a trained network (pruned connections left out)."""
    return {lc.name: np.histogram(net.weights[i][~net.pruned[i]], _weight_edges(cfg, i))[0].tolist()
            for i, lc in enumerate(cfg.layers)}


def histograms(cfg: C.Config, learned: dict) -> dict:
    """Weight counts in 32 bins over the weight range: initial, and after learning per variant
    (``learned``: variant -> ``learned_histogram``)."""
    init = Network(cfg)
    out = {"edges": WEIGHT_UNIT_EDGES.tolist(), "layers": {}}
    for i, lc in enumerate(cfg.layers):
        h = {"initial": np.histogram(init.weights[i], _weight_edges(cfg, i))[0].tolist()}
        h.update({name: per_layer[lc.name] for name, per_layer in learned.items()})
        out["layers"][lc.name] = h
    return out


def train_variant(cfg, ds, name, tag, opts: Options, trained: list):
    """Train (or resume) one variant, measuring its learning steps; returns (net, trajectory
    points, measured steps)."""
    path = checkpoint(cfg, name, tag)
    if not path.is_file():
        trained.append(name)
    trainer = measure.TrajectoryTrainer(cfg, path, opts.sample_every, opts.lanes, opts.progress)
    net, _ = trainer.run(ds.train_x)
    return net, trainer.trajectory(), trainer.sampled_steps()


def timed(task):
    """A task whose result records its own wall time as ``seconds``."""
    @functools.wraps(task)
    def run(*args, **kwargs):
        start = time.perf_counter()
        return {**task(*args, **kwargs), "seconds": round(time.perf_counter() - start, 1)}
    return run


@timed
def variant_task(cfg: C.Config, name: str, tag: str, opts: Options, out_dir: Path) -> dict:
    """One variant (``dense`` or ``pruned``) as a task: trains or resumes it with its trajectory,
    reads it out and counts cycles and energy on the test sample, each step cached (checkpoints,
    ``<out>/report_cache``) before the task returns."""
    vcfg = C.replace(cfg, **{"pruning.enabled": name == "pruned"})
    cache, ds, trained = Cache(out_dir / "report_cache"), data.load(cfg), []
    net, trajectory, steps = train_variant(vcfg, ds, name, tag, opts, trained)
    variant = cache.get(f"variant-{name}", {"cfg": config_digest(vcfg, "fixed")},
                        lambda: run_variant(vcfg, ds, name, tag, "fixed", opts.progress))
    sample = cache.get(
        f"sample-{name}", {"cfg": config_digest(vcfg, "fixed"), "n": opts.test_images,
                           "lanes": opts.lanes, "handshake": STEP_HANDSHAKE_CYCLES,
                           "code": measure_code()},
        lambda: measure.sample(net, ds.test_x[:opts.test_images], opts.lanes,
                               desc=f"cycles {name}", progress=opts.progress))
    return {"trajectory": trajectory, "steps": steps, "variant": variant, "sample": sample,
            "histogram": learned_histogram(cfg, net), "trained": trained, "hits": cache.hits}


@timed
def seed_task(cfg: C.Config, seed: int, name: str, tag: str, opts: Options, out_dir: Path) -> dict:
    """One variant at another training seed (initial weights, stochastic rounding) as a task:
    trained and read out, cached like ``variant_task``'s, for the accuracy loss over seeds."""
    vcfg = C.replace(cfg, **{"pruning.enabled": name == "pruned", "seed": seed})
    cache = Cache(out_dir / "report_cache")
    variant = cache.get(f"variant-{name}", {"cfg": config_digest(vcfg, "fixed")},
                        lambda: run_variant(vcfg, data.load(cfg), name, tag, "fixed", opts.progress))
    return {"variant": variant, "hits": cache.hits}


def training_seeds(cfg: C.Config, opts: Options) -> list[int]:
    """The config's seed and the ``opts.seeds`` - 1 after it."""
    return [cfg.seed + j for j in range(opts.seeds)]


def over_seeds(cfg: C.Config, ds, variants: dict) -> dict:
    """The accuracy loss over training seeds (``variants``: seed -> {"dense", "pruned"} records):
    per seed the two accuracies and the connectivity reduction; their means, and the standard
    error of the mean loss over the seeds (as ``report.schedule`` gives it per schedule)."""
    rows = []
    for seed, v in variants.items():
        c = experiment.compare(cfg, ds, v)
        rows.append({"seed": seed, "accuracy_dense": c["accuracy_dense"],
                     "accuracy_pruned": c["accuracy_pruned"],
                     "accuracy_loss": c["accuracy_dense"] - c["accuracy_pruned"],
                     "connectivity_reduction": c["connectivity_reduction"]["total"],
                     "learned": c["images"]["learned"]})
    loss = np.array([r["accuracy_loss"] for r in rows])
    return {"rows": rows, "seeds": len(rows), "accuracy_loss": float(loss.mean()),
            "loss_se": standard_error(loss),
            **{k: float(np.mean([r[k] for r in rows]))
               for k in ("accuracy_dense", "accuracy_pruned", "connectivity_reduction")}}


def _whole_training(steps: list, key: str, learned: list, names: list, every: int) -> dict:
    """Per layer and summed: ``key`` over the whole training (``measure.whole_training``)."""
    per = {n: measure.whole_training(steps, key, i, learned[i], every) for i, n in enumerate(names)}
    return {"per_layer": {n: v["mean"] for n, v in per.items()},
            "all_layers": float(sum(v["mean"] for v in per.values())),
            "images": {n: v["steps"] for n, v in per.items()},
            "sampled": {n: v["sampled"] for n, v in per.items()},
            "total_per_layer": {n: v["total"] for n, v in per.items()},
            "total": float(sum(v["total"] for v in per.values())),
            "total_se": float(math.sqrt(sum(v["se"] ** 2 for v in per.values())))}


def summarise_variant(cfg, rec: dict, steps: list, variant: dict, every: int) -> dict:
    """Cycles, energy and synaptic operations of one variant from its sample and measured steps."""
    names = [lc.name for lc in cfg.layers]
    lt = _whole_training(steps, "cycles", variant["learned"], names, every)
    le = _whole_training(steps, "energy_pj", variant["learned"], names, every)
    counters = variant["counters"]
    infer_images = np.maximum(np.array(counters["infer"]["images"]), 1)
    return {
        "cycles": {
            "inference": {"mean": _mean(rec["inference_cycles"]),
                          "per_layer": dict(zip(names, np.mean(rec["inference_cycles_per_layer"], 0).tolist())),
                          "per_image": rec["inference_cycles"],
                          "phases_per_layer": {n: {
                              "lane_op_cycles": _mean([c[i] for c in rec["op_cycles_per_layer"]]),
                              "integrate_other": _mean([a[i] - b[i] for a, b in zip(
                                  rec["integrate_cycles_per_layer"], rec["op_cycles_per_layer"])]),
                              "outgoing_unit": _mean([c[i] for c in rec["outgoing_cycles_per_layer"]])}
                              for i, n in enumerate(names)}},
            "learning_final": {"per_layer": {n: _mean(rec["learning_cycles"][i]) for i, n in enumerate(names)},
                               "winner_unit_per_layer": {n: _mean(rec["winner_cycles"][i])
                                                         for i, n in enumerate(names)},
                               "stdp_unit_per_layer": {n: _mean(rec["stdp_cycles"][i])
                                                       for i, n in enumerate(names)},
                               "all_layers": float(sum(_mean(c) for c in rec["learning_cycles"]))},
            "learning_training": lt,
        },
        "energy_pj": {
            "inference": _mean(rec["inference_energy_pj"]),
            "learning_final": float(sum(_mean(e) for e in rec["learning_energy_pj"])),
            "learning_training": le,
        },
        "synaptic_operations": {
            "learning_total": dict(zip(names, counters["learn"]["sop_done"])),
            "inference_per_image": dict(zip(names, (np.array(counters["infer"]["sop_done"])
                                                    / infer_images).tolist())),
            "cycle_model_inference_per_image": _mean(rec["inference_sops"]),
        },
    }


def sweep_grid(cfg: C.Config, opts: Options) -> list[tuple]:
    """The (threshold, warm-up) points besides the config's own (the report's pruned variant)."""
    warm = cfg.pruning.warmup
    grid = [(th, warm) for th in opts.thresholds] + [(cfg.pruning.threshold, w) for w in opts.warmups]
    return sorted(set(grid) - {(cfg.pruning.threshold, warm)})


@timed
def sweep_task(cfg: C.Config, threshold: float, warmup: int, tag: str, opts: Options,
               out_dir: Path) -> dict:
    """One sweep point as a task: trains the pruned network at (``threshold``, ``warmup``), reads
    it out and counts its cycles on the first ``sweep_images`` test images; cached."""
    pcfg = C.replace(cfg, **{"pruning.enabled": True, "pruning.threshold": threshold,
                             "pruning.warmup": warmup})
    cache, k = Cache(out_dir / "report_cache"), opts.sweep_images

    def compute():
        ds = data.load(cfg)
        net, _ = Trainer(pcfg, checkpoint(pcfg, "pruned", tag), "fixed", opts.progress).run(ds.train_x)
        var = run_variant(pcfg, ds, "pruned", tag, "fixed", opts.progress)
        rec = measure.sample(net, ds.test_x[:k], opts.lanes, desc=f"cycles th={threshold} w={warmup}",
                             progress=opts.progress)
        act, tot = var["active_connections"], var["connections"]
        return {"threshold": threshold, "warmup": warmup, "accuracy": var["accuracy"],
                "connectivity_reduction": 1 - sum(act) / sum(tot),
                "inference_cycles": _mean(rec["inference_cycles"]),
                "learning_cycles": float(sum(_mean(c) for c in rec["learning_cycles"])),
                "learned": var["learned"]}
    point = cache.get("sweep-point", {"cfg": config_digest(pcfg, "fixed"), "k": k,
                                      "lanes": opts.lanes, "code": measure_code()}, compute)
    return {"point": point, "hits": cache.hits}


def sweep(points: list[dict], dense_rec: dict, k: int, default_point: dict) -> list[dict]:
    """Accuracy, connectivity reduction and speed-ups (over dense, on the first ``k`` test
    images) across pruning thresholds and warm-ups."""
    dense_inf = _mean(dense_rec["inference_cycles"][:k])
    dense_lrn = sum(_mean(c[:k]) for c in dense_rec["learning_cycles"])
    out = [default_point] + [
        {"threshold": p["threshold"], "warmup": p["warmup"], "accuracy": p["accuracy"],
         "connectivity_reduction": p["connectivity_reduction"],
         "speedup_inference": dense_inf / p["inference_cycles"],
         "speedup_learning_final": dense_lrn / p["learning_cycles"], "learned": p["learned"]}
        for p in points]
    return sorted(out, key=lambda p: (p["warmup"], p["threshold"]))


@timed
def cosim_task(cfg, tag, opts: Options, out_dir: Path, *after) -> dict:
    """Co-simulate the first test images in the RTL (``opts.cosim_layers`` and
    ``opts.cosim_variants``), cached; ``after``: the tasks of the variants it co-simulates,
    whose checkpoints it reads."""
    if opts.cosim_images == 0:
        return {"res": None, "hits": []}
    from sim import main as sim_main
    from sim import runner
    sim, n, cache = runner.default_sim(opts.sim), opts.cosim_images, Cache(out_dir / "report_cache")
    layers = [lc.name for lc in cfg.layers][:opts.cosim_layers]
    variants = list(opts.cosim_variants)
    res = cache.get("cosim", {"cfg": config_digest(cfg, "fixed"), "n": n, "sim": sim,
                              "lanes": opts.lanes, "layers": layers, "variants": variants},
                    lambda: sim_main.co_simulate(cfg, tag, n, opts.lanes, sim, quick=False,
                                                 layers=layers, variants=variants))
    return {"res": res, "hits": cache.hits}


def confirm_in_rtl(cfg, opts: Options, res: dict | None, samples: dict) -> dict:
    """The co-simulation's result, with its RTL-checked cycle counts held against
    ``cycles.image`` on the same images."""
    if res is None:
        return {"status": "skipped (--cosim-images 0)", "images": 0, "mismatches": 0}
    return compare_cosim(cfg, res, samples, opts.cosim_images)


def compare_cosim(cfg, res: dict, samples: dict, n: int) -> dict:
    """Mismatches: the co-simulation's own, plus each cycle count it checked in the RTL that
    ``cycles.image`` predicts otherwise: every image's inference command per co-simulated layer
    (integrate, then the outgoing unit), and the first image's learning command per layer
    (integrate with the k-WTA, then STDP: the later images learn on the synapses the first one
    changed, which ``cycles.image`` leaves as they are)."""
    names = [lc.name for lc in cfg.layers]
    disagree = []
    if not res["mismatches"]:
        for variant in res["variants"]:
            rec = samples[variant]
            for i, name in enumerate(names):
                if name not in res["layers"]:
                    continue
                steps = res["steps"][variant][name]
                pairs = [("inference", s["image"], s["cycles"],
                          rec["inference_cycles_per_layer"][s["image"]][i])
                         for s in steps if s["command"] == "infer"]
                first = next(s for s in steps if s["command"] == "learn")
                below = sum(rec["inference_cycles_per_layer"][first["image"]][:i])
                pairs.append(("learning", first["image"], first["cycles"],
                              rec["learning_cycles"][i][first["image"]] - below))
                for what, image, rtl, model in pairs:
                    if rtl != model:
                        disagree.append({"variant": variant, "layer": name, "command": what,
                                         "image": image, "rtl_checked": rtl, "model_cycles": model})
    every = res["layers"] == names and len(res["variants"]) == len(VARIANTS)
    return {"status": "run", "simulator": res["simulator"], "images": n,
            "layers": res["layers"], "variants": res["variants"], "every_layer_and_variant": every,
            "passes": f"the layer core (hw/core.py) on {' and '.join(res['layers'])}: inference "
                      "on each image, learning on each (the first compared with cycles.image), "
                      f"{' and '.join(res['variants'])}",
            "trace_events_compared": res["trace_events_compared"],
            "mismatches": int(res["mismatches"]) + len(disagree),
            "cycle_disagreements": disagree, "first_divergence": res.get("first_divergence")}


def resources(config: str | None = None, lanes: int | None = None,
              path: Path | None = None) -> dict:
    """The pruning logic's resource overhead from synthesis: ``resources-<config>.json`` beside
    ``RESOURCES`` (``make resources``), or ``RESOURCES`` itself (``path`` if given, looked up at
    call time), when it was written for the config named
    ``config`` (a config file's stem, e.g. ``mnist``) and ``lanes``, else that config's committed
    baseline (``boards/baselines/yosys-<version>/<config>.json``, newest version first), else
    missing with the reason. Without ``config``, ``RESOURCES`` whatever config it is of."""
    path = path or RESOURCES
    candidates = [path]
    if config is not None:       # make resources writes each config's report under its name
        candidates.insert(0, path.with_name(f"resources-{config}.json"))
        candidates += sorted(BASELINES.glob(f"yosys-*/{config}.json"), reverse=True,
                             key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)])
    for cand in candidates:
        if not cand.is_file():
            continue
        content = json.loads(cand.read_text())
        if config is None or (Path(str(content.get("config", ""))).stem == config
                              and content.get("lanes") == lanes):
            return {"status": "present", "path": shown_path(cand),
                    "pruning_overhead": find_key(content, "pruning_overhead"), "content": content}
    why = (f"`{path}` does not exist (`make resources` writes it)" if not path.is_file() else
           f"`{path}` is of another config or lane count than {config} at P = {lanes}")
    if config is not None:
        why += f", and there is no baseline of {config} in `{shown_path(BASELINES)}`"
    return {"status": "missing", "path": shown_path(path), "why": why}


def find_key(obj, key: str):
    """The first value under ``key`` anywhere in a nested dict/list (depth first), else None."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            hit = find_key(v, key)
            if hit is not None:
                return hit
    return None


def targets(rep: dict, opts: Options) -> dict:
    seeds = rep["accuracy_over_seeds"]
    drop_pp = seeds["accuracy_loss"] * 100
    ok_points = [p for p in rep["sweep"]
                 if (rep["accuracy_dense"] - p["accuracy"]) * 100 <= TARGETS["accuracy_loss_pp"]]
    best = max(ok_points, key=lambda p: p["connectivity_reduction"], default=None)
    # make report as it runs by default (sweep, co-simulation, seeds, sampling), nothing reused
    defaults = {k: v for k, v in asdict(Options()).items() if k not in ("lanes", "sim", "progress")}
    as_default = all(getattr(opts, k) == v for k, v in defaults.items())
    full_fresh = as_default and not rep["cache_hits"] and len(rep["trained"]) == 2
    if opts.quick:
        return {"quick_demonstration": quick_target(rep, opts)}
    return {
        "connectivity_reduction_at_default": {
            "target": ">= 93% with <= 0.5 pp accuracy loss (mean over training seeds)",
            "measured": rep["connectivity_reduction"]["total"],
            "accuracy_loss_pp": drop_pp, "seeds": seeds["seeds"],
            "loss_se_pp": None if seeds["loss_se"] is None else seeds["loss_se"] * 100,
            "met": rep["connectivity_reduction"]["total"] >= TARGETS["connectivity_reduction"]
            and drop_pp <= TARGETS["accuracy_loss_pp"]},
        "connectivity_reduction_best_in_sweep": {
            "target": ">= 93% with <= 0.5 pp accuracy loss",
            "point": best, "met": bool(best and best["connectivity_reduction"] >= TARGETS["connectivity_reduction"])},
        "speedup_learning": {"target": ">= 2.1x, whole training against the matched dense run",
                             "measured": rep["speedup_learning"],
                             "met": rep["speedup_learning"] >= TARGETS["speedup_learning"]},
        "speedup_inference": {"target": "> 2.83x", "measured": rep["speedup_inference"],
                              "met": rep["speedup_inference"] > TARGETS["speedup_inference"]},
        "full_run_within_30_min": {
            "target": "a full make report within 30 minutes on 2 cores", "seconds": rep["seconds"],
            "met": (rep["seconds"] <= TARGETS["seconds"]) if full_fresh else None,
            "note": None if full_fresh else "not a fresh run of make report's default options "
                                            "(quick, options changed, cached steps or reused "
                                            "checkpoints): not measured by this run"},
    }


def quick_target(rep: dict, opts: Options) -> dict:
    """Quick mode's own target: the effect visible (half the connections pruned, every speed-up
    above 1) within 3 minutes; the time counts only for a run of quick mode's own options with
    nothing trained or cached before (the Verilator builds under build/sim may be reused)."""
    defaults = {k: v for k, v in asdict(Options.quick_mode()).items()
                if k not in ("lanes", "sim", "progress")}
    fresh = (all(getattr(opts, k) == v for k, v in defaults.items()) and not rep["cache_hits"]
             and len(rep["trained"]) == 2)
    shown = (rep["connectivity_reduction"]["total"] >= QUICK_TARGETS["connectivity_reduction"]
             and all(rep[k] > 1 for k in SPEEDUPS))
    return {"target": "make report QUICK=1 within 3 minutes on 2 cores, with >= 50% connectivity "
                      "reduction and every speed-up above 1",
            "seconds": rep["seconds"], "connectivity_reduction": rep["connectivity_reduction"]["total"],
            "speedups": {k: rep[k] for k in SPEEDUPS}, "effect_shown": shown,
            "met": (shown and rep["seconds"] <= QUICK_TARGETS["seconds"]) if fresh else None,
            "note": None if fresh else "not a fresh run of quick mode's own options (options "
                                       "changed, cached steps or reused checkpoints): time not "
                                       "measured by this run"}


def prepare(cfg: C.Config, opts, out_dir: Path):
    """(config, step cache, data) of a report run: the quick config if asked, checkpoints every
    ``opts.trajectory_every`` images (the trajectory's points; make compare reuses them)."""
    opts.check()
    opts.lanes = cfg.core_lanes(opts.lanes)
    if opts.cosim_layers is not None and opts.cosim_layers > len(cfg.layers):
        raise C.ConfigError(f"cosim_layers = {opts.cosim_layers}: the config has "
                            f"{len(cfg.layers)} layers (1..{len(cfg.layers)})")
    if opts.quick:
        cfg = quick_config(cfg)
    cfg = C.replace(cfg, **{"training.checkpoint_every": opts.trajectory_every})
    return cfg, Cache(out_dir / "report_cache"), data.load(cfg)


def run(cfg: C.Config, tag: str, opts: Options, out_dir: Path, runner: Runner | None = None) -> dict:
    """The report; its variants, sweep points and co-simulation are tasks of ``runner`` (default:
    this process, one after the other)."""
    start = time.perf_counter()
    cfg, cache, ds = prepare(cfg, opts, out_dir)
    runner = runner or Runner(workers=0)
    names = [lc.name for lc in cfg.layers]
    task_opts = replace(opts, progress=opts.progress and runner.task_progress)
    tasks = {name: runner.submit(variant_task, cfg, name, tag, task_opts, out_dir, key=f"variant-{name}")
             for name in VARIANTS}
    # Submitted before the other tasks so that it starts (the longest, with its Verilator
    # builds) as soon as the variants it co-simulates are trained.
    tasks["cosim"] = runner.submit(cosim_task, cfg, tag, task_opts, out_dir,
                                   *[tasks[v] for v in opts.cosim_variants], key="cosim")
    seeds = training_seeds(cfg, opts)
    tasks.update({("seed", seed, name): runner.submit(seed_task, cfg, seed, name, tag, task_opts,
                                                      out_dir, key=f"seed-{seed}-{name}")
                  for seed in seeds[1:] for name in ("dense", "pruned")})
    grid = sweep_grid(cfg, opts)
    tasks.update({("sweep", th, w): runner.submit(sweep_task, cfg, th, w, tag, task_opts, out_dir,
                                                  key=f"sweep-th{th}-w{w}")
                  for th, w in grid})
    done = runner.gather(tasks, desc="report tasks")
    order = (["dense", "pruned"] + [("seed", seed, n) for seed in seeds[1:] for n in ("dense", "pruned")]
             + [("sweep", th, w) for th, w in grid] + ["cosim"])
    cache.hits += [hit for key in order for hit in done[key]["hits"]]
    trained = [t for name in ("dense", "pruned") for t in done[name]["trained"]]
    variants = {name: done[name]["variant"] for name in ("dense", "pruned")}
    samples = {name: done[name]["sample"] for name in ("dense", "pruned")}
    summ = {name: summarise_variant(cfg, samples[name], done[name]["steps"], variants[name],
                                    opts.sample_every)
            for name in ("dense", "pruned")}
    d, p = summ["dense"], summ["pruned"]
    act, tot = variants["pruned"]["active_connections"], variants["pruned"]["connections"]
    conn = {"total": 1 - sum(act) / sum(tot),
            "per_layer": {n: 1 - a / t for n, a, t in zip(names, act, tot)}}
    by_seed = {seeds[0]: variants} | {seed: {n: done["seed", seed, n]["variant"] for n in variants}
                                      for seed in seeds[1:]}
    dl, pl = d["cycles"]["learning_training"], p["cycles"]["learning_training"]
    rep = {
        "accuracy_dense": variants["dense"]["accuracy"],
        "accuracy_pruned": variants["pruned"]["accuracy"],
        "accuracy_se": {n: math.sqrt(v["accuracy"] * (1 - v["accuracy"]) / len(ds.test_y))
                        for n, v in variants.items()},
        "accuracy_over_seeds": over_seeds(cfg, ds, by_seed),
        "accuracy_by_pool_grid": {k: v["accuracy_by_pool_grid"] for k, v in variants.items()},
        "connectivity_reduction": conn,
        "speedup_inference": d["cycles"]["inference"]["mean"] / p["cycles"]["inference"]["mean"],
        "speedup_learning": dl["total"] / pl["total"],
        "speedup_learning_se": ratio_se(dl["total"], dl["total_se"], pl["total"], pl["total_se"]),
        "speedup_learning_per_step": dl["all_layers"] / pl["all_layers"],
        "speedup_learning_final": (d["cycles"]["learning_final"]["all_layers"]
                                   / p["cycles"]["learning_final"]["all_layers"]),
        "sop_ratio_inference": (d["synaptic_operations"]["cycle_model_inference_per_image"]
                                / p["synaptic_operations"]["cycle_model_inference_per_image"]),
        "energy_saving_inference": _saving(p["energy_pj"]["inference"], d["energy_pj"]["inference"]),
        "energy_saving_learning": _saving(p["energy_pj"]["learning_training"]["total"],
                                          d["energy_pj"]["learning_training"]["total"]),
        "energy_saving_learning_final": _saving(p["energy_pj"]["learning_final"],
                                                d["energy_pj"]["learning_final"]),
        "cycles": {k: v["cycles"] for k, v in summ.items()},
        "energy": {k: v["energy_pj"] for k, v in summ.items()},
        "energy_model": {"pj_per_op": ENERGY_PJ, "source": SOURCE,
                         "what": "dynamic energy of counted memory bits, adds, compares and "
                                 "multiplies (report/energy.py); static power not counted"},
        "synaptic_operations": {k: v["synaptic_operations"] for k, v in summ.items()},
        "images": {"train": int(len(ds.train_y)), "test": int(len(ds.test_y)),
                   "cycle_sample": opts.test_images, "learning_sample_every": opts.sample_every,
                   "learned": {k: v["learned"] for k, v in variants.items()}},
        "lanes": opts.lanes, "step_handshake_cycles": STEP_HANDSHAKE_CYCLES,
        "trajectory": {name: done[name]["trajectory"] for name in ("dense", "pruned")},
        "learning_steps": {name: done[name]["steps"] for name in ("dense", "pruned")},
        "weights_histogram": histograms(cfg, {name: done[name]["histogram"]
                                              for name in ("dense", "pruned")}),
    }
    default = (cfg.pruning.threshold, cfg.pruning.warmup)
    k = opts.sweep_images
    default_point = {"threshold": default[0], "warmup": default[1], "accuracy": rep["accuracy_pruned"],
                     "connectivity_reduction": conn["total"],
                     "speedup_inference": (_mean(samples["dense"]["inference_cycles"][:k])
                                           / _mean(samples["pruned"]["inference_cycles"][:k])),
                     "speedup_learning_final": (
                         sum(_mean(c[:k]) for c in samples["dense"]["learning_cycles"])
                         / sum(_mean(c[:k]) for c in samples["pruned"]["learning_cycles"])),
                     "learned": variants["pruned"]["learned"], "default": True}
    rep["sweep"] = sweep([done["sweep", th, w]["point"] for th, w in grid], samples["dense"], k,
                         default_point)
    rep["sweep_images"] = k
    cos = confirm_in_rtl(cfg, opts, done["cosim"]["res"], samples)
    rep.update(cosim_images_checked=cos["images"], cosim_mismatches=cos["mismatches"], cosim=cos)
    rep["resources"] = resources(tag, opts.lanes)
    rep["paper"] = PAPER
    rep["tasks"] = {(key if isinstance(key, str) else f"sweep th={key[1]} w={key[2]}"
                     if key[0] == "sweep" else f"seed {key[1]} {key[2]}"):
                    {"seconds": done[key]["seconds"]} for key in order}
    rep.update(config=cfg.to_dict(), quick=opts.quick, options=asdict(opts),
               cache_hits=cache.hits, trained=trained,
               seconds=round(time.perf_counter() - start, 1))
    rep["targets"] = targets(rep, opts)
    return rep


def main(argv=None) -> int:
    ap = command_parser(__doc__.splitlines()[0], "folder of report.json, report.md, PNGs",
                        prog="python -m report")
    ap.add_argument("--sweep-images", type=int)
    ap.add_argument("--cosim-images", type=int, help="0 skips the co-simulation")
    ap.add_argument("--cosim-layers", type=int, help="co-simulate the first n layers (default: "
                    "every layer; --quick: 1)")
    ap.add_argument("--cosim-variants", nargs="+", help="the variants co-simulated: dense, "
                    "pruned or both (default: both; --quick: pruned)")
    ap.add_argument("--thresholds", type=float, nargs="*")
    ap.add_argument("--warmups", type=int, nargs="*")
    ap.add_argument("--sim", default=None, help="verilator (default, or $SIM) or icarus")
    ap.add_argument("--seeds", type=int, help="training seeds of the accuracy loss (the config's "
                    "seed and the next ones)")
    ap.add_argument("--sample-every", type=int, help="learning steps between those counted "
                    "(1: every step, the exact whole-training total)")
    args = ap.parse_args(argv)
    tuple_or_none = lambda v: None if v is None else tuple(v)

    def write(rep: dict, out: Path) -> int:
        from report import markdown, plots
        write_json(out / "report.json", rep)
        figures = plots.draw(rep, out)
        (out / "report.md").write_text(markdown.render(rep, figures))
        print(markdown.summary(rep))
        print(f"wrote {out / 'report.json'}, {out / 'report.md'} and {len(figures)} figures")
        return 1 if rep["cosim_mismatches"] else 0

    return run_command(args, Options, {"sweep_images": args.sweep_images,
                                       "cosim_images": args.cosim_images,
                                       "cosim_layers": args.cosim_layers,
                                       "cosim_variants": tuple_or_none(args.cosim_variants),
                                       "thresholds": tuple_or_none(args.thresholds),
                                       "warmups": tuple_or_none(args.warmups), "sim": args.sim,
                                       "seeds": args.seeds, "sample_every": args.sample_every},
                       run, write)


def command_parser(description: str, out_help: str, prog: str | None = None) -> argparse.ArgumentParser:
    """The arguments every report command (make report, make compare) takes; ``prog``: the
    command as a user types it (else argparse names the file, ``__main__.py``)."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--config", default="configs/mnist.yaml", help="the network's config file")
    ap.add_argument("--out", default="build/reports", help=out_help)
    ap.add_argument("--quick", action="store_true", help="a few hundred images, a few minutes")
    ap.add_argument("--test-images", type=int, help="test images whose cycles and energy are "
                    "counted")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_arguments(ap)
    return ap


def run_command(args, options: type, given: dict, build, write) -> int:
    """A report command once its arguments are parsed: its options (``given`` and the common
    ones, None values left at their defaults; ``options.quick_mode`` with --quick), checked; then
    ``build(cfg, tag, opts, out, runner)`` on --config into --out with the tasks on --workers /
    --scheduler (cluster.Runner), and ``write(rep, out)``, which returns the exit status."""
    given = {k: v for k, v in {"test_images": args.test_images, **given}.items() if v is not None}
    given["progress"] = not args.no_progress
    opts = options.quick_mode(**given) if args.quick else options(**given)

    def body() -> int:
        out, cfg = Path(args.out), C.load(args.config)     # a bad config stops before any worker
        with Runner.from_args(args, opts.progress) as runner:
            rep = build(cfg, Path(args.config).stem, opts, out, runner)
        return write(rep, out)

    return checked(opts, args, body)


def checked(opts, args, body) -> int:
    """Run a report command's ``body`` if its options are valid (exit 2 naming the bad one)."""
    from sim.runner import ToolMissing
    try:
        opts.check()
        check_arguments(args.workers, args.scheduler)
    except (ValueError, ToolMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return guarded(body)
