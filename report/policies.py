"""``make compare``: every pruning policy of model/pruning on one network and one core.

    python -m report.policies --config configs/mnist.yaml [--quick] --out build/reports

Trains the network once per policy (``report.train.train_network``, checkpointed under
``build/ckpt``, so an interrupted run resumes), reads each out with the SVM, counts cycles and
energy on the same test images with ``cycles.image`` / ``report.energy`` (``report.measure.
sample``: the core's cycle model, which honours the network's masks, map enables and window),
sweeps the weight width of the threshold-pruned network (``model.quantize``), and writes
``policies.json``, ``policies.md`` and ``policies.png``. Each policy's result is cached under
``<out>/report_cache`` by its config's digest. The policies are tasks on a Dask cluster
(cluster/runner.py, as ``make report``'s): LAMP and the quantization sweep wait for the
threshold variant, the others run side by side.

The policies' parameters for the comparison are in ``variant_changes``; LAMP's target is set to
the connectivity the threshold rule reached, so the two compare at equal connectivity.
The dense and threshold variants use ``make report``'s checkpoints when they exist (same config,
same checkpoint interval).

``policies.json`` fields (fractions in [0, 1]; cycles and energy per image, means over the
``test_images`` sample):

* ``rows``: one per variant (``dense`` first): ``policy``, ``parameters`` (the policy's config
  section), ``accuracy``, ``connectivity_reduction`` (1 - active / all connections, all layers;
  a disabled map's connections count as inactive), ``maps`` per layer (PCA rebuilds layers),
  ``window`` (time steps processed in inference), ``sop_learning`` (synaptic operations of the
  whole training run, all layers), ``sop_inference`` (per test image), ``cycles_inference``,
  ``cycles_learning`` (one learning step of every layer in the trained state),
  ``speedup_inference``, ``speedup_learning`` (dense over the variant), ``sop_reduction_learning``
  (1 - the variant's training operations over dense's), ``energy_inference_pj``,
  ``energy_learning_pj``, ``energy_saving_inference``, ``energy_saving_learning``,
  ``hardware`` (the policy's extra logic, per FPGA family, LUTs + FFs over the core's, from
  ``build/reports/resources-<config>.json`` if ``make resources`` wrote it for this lane count,
  else from the config's committed baseline in ``boards/baselines``, named in ``source``; or
  what it reuses), ``chosen`` (what the policy decided: window,
  rounds, maps disabled, ...).
* ``quantization``: per weight width, the accuracy of the threshold-pruned network quantized to
  that width (every layer).
* ``best``: ``accuracy_at_equal_connectivity`` (variants whose connectivity reduction is within
  ``connectivity_tolerance`` of the threshold rule's) and ``speedup_at_equal_accuracy``
  (variants within ``accuracy_tolerance`` of the dense accuracy), each with its candidates.
* ``tasks``: each task's (policy, quantization sweep) own wall time, ``seconds``.
* ``config``, ``quick``, ``options``, ``seconds``, ``cache_hits``.
"""
from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from cluster import Runner
from model import config as C
from model import data
from model.cli import write_json
from report.train import read_out, train_network
from model.train import config_digest
from report import measure
from report.pipeline import (Cache, find_key, command_parser, measure_code, prepare, resources,
                             run_command, timed)

# The resources.json key of each policy's extra logic (boards/resources.py). LAMP and PCA add
# none: LAMP's masks are the mask memory and its skip walks, which threshold pruning has too
# (the host ranks and writes them), and a PCA-rebuilt layer is a core with fewer maps.
HARDWARE_KEYS = {"threshold": "pruning_overhead", "channel_activity": "channel_enable_overhead",
                 "temporal_window": "window_overhead"}
REUSES = {"dense": "nothing to add", "lamp": "the mask memory and skip walks only (ranking on the host)",
          "pca_channels": "none: the rebuilt layer is a smaller core (generator parameter)"}


@dataclass
class Options:
    quick: bool = False
    test_images: int = 40
    lanes: int | None = None        # lanes per core; None: the config's core.lanes
    bits: tuple = (2, 3, 4, 5, 6, 7, 8)
    connectivity_tolerance: float = 0.02
    accuracy_tolerance: float = 0.005
    channel_sparsity: float = 0.3
    trajectory_every: int = 250     # make report's checkpoint interval: its checkpoints are reused
    cosim_layers: int | None = None  # the comparison co-simulates nothing (report.pipeline.prepare)
    progress: bool = True

    @classmethod
    def quick_mode(cls, **kw) -> "Options":
        return cls(**{**dict(quick=True, test_images=4, bits=(2, 4, 8), trajectory_every=50), **kw})

    def check(self) -> "Options":
        if self.test_images < 1 or (self.lanes is not None and self.lanes < 1):
            raise ValueError(f"test_images = {self.test_images}, lanes = {self.lanes}: both must be >= 1")
        bad = [b for b in self.bits if not 2 <= b <= 16]
        if bad or not self.bits:
            raise ValueError(f"bits = {self.bits}: each width must be 2 .. 16, at least one")
        if not 0 < self.channel_sparsity < 1:
            raise ValueError(f"channel_sparsity = {self.channel_sparsity}: must be in (0, 1)")
        return self


def variant_changes(opts: Options, threshold_reduction: float | None) -> dict[str, dict]:
    """Each variant's config changes (dotted keys of ``model.config.replace``); LAMP's only once
    the threshold rule's connectivity reduction is measured."""
    def policy(name: str, section: dict | None = None) -> dict:
        ch = {"pruning.enabled": True, "pruning.policy": name}
        if section is not None:
            ch[f"pruning.{name}"] = section
        return ch
    lamp = {} if threshold_reduction is None else {
        # Equal connectivity: LAMP cuts to what the threshold rule reached.
        "lamp": policy("lamp", {"target": round(min(max(threshold_reduction, 0.01), 0.99), 4)})}
    return {
        "dense": {"pruning.enabled": False},
        "threshold": policy("threshold"),
        **lamp,
        "temporal_window": policy("temporal_window", {}),
        "channel_activity": policy("channel_activity", {"sparsity": opts.channel_sparsity}),
        # 99.9%: at 99% PCA keeps 5 of conv1's 30 maps on the trained MNIST network.
        "pca_channels": policy("pca_channels", {"variance": 0.999}),
    }


def _mean(xs) -> float:
    return float(np.mean(xs))


def measure_variant(cfg: C.Config, ds, name: str, tag: str, opts: Options) -> dict:
    """Train (or resume) one variant; its readout, counters, and cycles and energy on the sample."""
    # "pruned" is make report's name for the threshold variant: the checkpoints are shared.
    net, progress, ckpt = train_network(cfg, ds, "pruned" if name == "threshold" else name, tag,
                                        "fixed", opts.progress)
    var = read_out(cfg, ds, net, progress, ckpt)
    rec = measure.sample(net, ds.test_x[:opts.test_images], opts.lanes, desc=f"cycles {name}",
                         progress=opts.progress)
    infer_images = max(int(np.sum(var["counters"]["infer"]["images"])) // len(net.shapes), 1)
    act, tot = var["active_connections"], var["connections"]
    return {
        "policy": name,
        "parameters": (cfg.pruning.model_dump(mode="json") if cfg.pruning.enabled else None),
        "accuracy": var["accuracy"],
        "connectivity_reduction": 1 - sum(act) / sum(tot),
        "maps": [lc.maps for lc in net.cfg.layers],
        "window": int(net.window),
        "sop_learning": int(np.sum(var["counters"]["learn"]["sop_done"])),
        "sop_inference": float(np.sum(var["counters"]["infer"]["sop_done"]) / infer_images),
        "cycles_inference": _mean(rec["inference_cycles"]),
        "cycles_learning": float(sum(_mean(c) for c in rec["learning_cycles"])),
        "energy_inference_pj": _mean(rec["inference_energy_pj"]),
        "energy_learning_pj": float(sum(_mean(e) for e in rec["learning_energy_pj"])),
        "learned": var["learned"],
        "chosen": var.get("policy", {}),
    }


def hardware(name: str, synthesis: dict) -> dict:
    """The policy's extra logic from ``synthesis`` (``report.pipeline.resources``: resources.json
    or the config's baseline), or what it reuses instead."""
    if name in REUSES:
        return {"extra_logic": None, "note": REUSES[name]}
    key = HARDWARE_KEYS[name]
    found = find_key(synthesis.get("content"), key)
    if found is None:
        return {"extra_logic": None, "note": "not measured: " + synthesis.get(
            "why", f"no '{key}' in {synthesis['path']}") + " (run make resources)"}
    return {"extra_logic": found, "key": key, "source": synthesis["path"]}


def with_ratios(rows: list[dict], synthesis: dict) -> list[dict]:
    d = rows[0]
    for r in rows:
        r.update(speedup_inference=d["cycles_inference"] / r["cycles_inference"],
                 speedup_learning=d["cycles_learning"] / r["cycles_learning"],
                 sop_reduction_learning=1 - r["sop_learning"] / d["sop_learning"],
                 energy_saving_inference=1 - r["energy_inference_pj"] / d["energy_inference_pj"],
                 energy_saving_learning=1 - r["energy_learning_pj"] / d["energy_learning_pj"],
                 hardware=hardware(r["policy"], synthesis))
    return rows


def best(rows: list[dict], opts: Options) -> dict:
    """Which policy wins at equal connectivity (accuracy) and at equal accuracy (speed-up)."""
    ref = next(r for r in rows if r["policy"] == "threshold")
    dense = rows[0]
    level = [r for r in rows[1:] if abs(r["connectivity_reduction"] - ref["connectivity_reduction"])
             <= opts.connectivity_tolerance]
    holding = [r for r in rows[1:] if dense["accuracy"] - r["accuracy"] <= opts.accuracy_tolerance]

    def pick(cands, key):
        top = max(cands, key=lambda r: r[key], default=None)
        return {"policy": top and top["policy"], key: top and top[key],
                "candidates": {r["policy"]: r[key] for r in cands}}
    return {
        "accuracy_at_equal_connectivity": {
            "connectivity_reduction": ref["connectivity_reduction"],
            "tolerance": opts.connectivity_tolerance, **pick(level, "accuracy")},
        "speedup_at_equal_accuracy": {
            "dense_accuracy": dense["accuracy"], "tolerance": opts.accuracy_tolerance,
            "inference": pick(holding, "speedup_inference"),
            "learning": pick(holding, "speedup_learning")},
    }


def quantization(cfg: C.Config, ds, tag: str, opts: Options) -> list[dict]:
    """Accuracy of the threshold-pruned network quantized to each width (all layers)."""
    from model.quantize import quantization_sweep
    net, _, _ = train_network(cfg, ds, "pruned", tag, "fixed", opts.progress)
    return quantization_sweep(net, ds, bits=tuple(opts.bits))


POLICIES = ("dense", "threshold", "lamp", "temporal_window", "channel_activity", "pca_channels")


def cache_key(opts: Options) -> dict:
    """What every cached row and the quantization sweep depend on besides their config."""
    return {"n": opts.test_images, "lanes": opts.lanes, "code": measure_code(),
            "source": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}


@timed
def policy_task(cfg: C.Config, name: str, tag: str, opts: Options, out_dir: Path,
                threshold: dict | None = None) -> dict:
    """One variant's row as a task, cached under ``<out>/report_cache``; LAMP's needs the
    threshold variant's task result (``threshold``) for its target."""
    reduction = threshold and threshold["row"]["connectivity_reduction"]
    vcfg = C.replace(cfg, **variant_changes(opts, reduction)[name])
    cache = Cache(out_dir / "report_cache")
    row = cache.get(f"policy-{name}", {**cache_key(opts), "cfg": config_digest(vcfg, "fixed")},
                    lambda: measure_variant(vcfg, data.load(cfg), name, tag, opts))
    return {"row": row, "hits": cache.hits}


@timed
def quantization_task(cfg: C.Config, tag: str, opts: Options, out_dir: Path, *after) -> dict:
    """The weight-width sweep of the threshold variant as a task (``after``: that variant's
    task, whose checkpoint it reads), cached."""
    tcfg = C.replace(cfg, **variant_changes(opts, None)["threshold"])
    cache = Cache(out_dir / "report_cache")
    quant = cache.get("quantization", {**cache_key(opts), "cfg": config_digest(tcfg, "fixed"),
                                       "bits": list(opts.bits)},
                      lambda: quantization(tcfg, data.load(cfg), tag, opts))
    return {"quantization": quant, "hits": cache.hits}


def compare(cfg: C.Config, tag: str, opts: Options, out_dir: Path,
            runner: Runner | None = None) -> dict:
    """Every policy's row and the quantization sweep, as tasks of ``runner`` (default: this
    process); LAMP and the quantization sweep wait for the threshold variant."""
    start = time.perf_counter()
    cfg, cache, ds = prepare(cfg, opts, out_dir)
    runner = runner or Runner(workers=0)
    task_opts = replace(opts, progress=opts.progress and runner.task_progress)
    tasks = {}
    for name in POLICIES:
        after = (tasks["threshold"],) if name == "lamp" else ()
        tasks[name] = runner.submit(policy_task, cfg, name, tag, task_opts, out_dir, *after,
                                    key=f"policy-{name}")
    tasks["quantization"] = runner.submit(quantization_task, cfg, tag, task_opts, out_dir,
                                          tasks["threshold"], key="quantization")
    done = runner.gather(tasks, desc="policy tasks")
    cache.hits += [hit for name in (*POLICIES, "quantization") for hit in done[name]["hits"]]
    rows = with_ratios([done[name]["row"] for name in POLICIES], resources(tag, opts.lanes))
    return {"rows": rows, "quantization": done["quantization"]["quantization"],
            "best": best(rows, opts),
            "images": {"train": int(len(ds.train_y)), "test": int(len(ds.test_y)),
                       "cycle_sample": opts.test_images},
            "lanes": opts.lanes, "config": cfg.to_dict(), "quick": opts.quick,
            "options": asdict(opts), "cache_hits": cache.hits,
            "tasks": {name: {"seconds": done[name]["seconds"]}
                      for name in (*POLICIES, "quantization")},
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> int:
    ap = command_parser(__doc__.splitlines()[0], "folder of policies.json/.md/.png",
                        prog="python -m report.policies")
    ap.add_argument("--bits", type=int, nargs="*")
    args = ap.parse_args(argv)

    def write(rep: dict, out: Path) -> int:
        from report import markdown, plots
        write_json(out / "policies.json", rep)
        figure = plots.policies(rep, out / "policies.png")
        (out / "policies.md").write_text(markdown.policies(rep, figure))
        print(markdown.policies_summary(rep))
        print(f"wrote {out / 'policies.json'}, {out / 'policies.md'} and {figure}")
        return 0

    return run_command(args, Options, {"bits": tuple(args.bits) if args.bits else None},
                       compare, write)


if __name__ == "__main__":
    sys.exit(main())
