"""Cycles and energy of trained networks, measured image by image with ``cycles.image``.

* ``sample``: inference and learning cycles and energy of a trained network on a list of images
  (learning as the network's next learning image of every layer).
* ``TrajectoryTrainer``: a ``model.train.Trainer`` that measures the cycles and energy of every
  n-th learning step of each layer as it trains (the step's image, the state it starts from) and
  records the active connections at each checkpoint; the record is a JSON file beside the
  checkpoint, written before the checkpoint so a resumed run completes it (keyed by the images
  learned).
* ``whole_training``: a layer's learning cycles (or energy) summed over its whole training from
  those measured steps, exact when every step is measured, with the sample's standard error.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.cli import write_json
from cycles.image import image_cycles
from report.energy import energy_pj, image_counts
from model.network import Network
from model.train import Trainer


def sample(net: Network, images: np.ndarray, lanes: int | None = None, learn: bool = True,
           desc: str = "cycles", progress: bool = True) -> dict:
    """Per image: inference cycles (total and per layer) and energy (pJ), synaptic operations,
    and with ``learn`` each layer's learning-step cycles and energy."""
    times = net.encode(images)
    layers = range(len(net.cfg.layers))
    rec = {"inference_cycles": [], "inference_cycles_per_layer": [], "integrate_cycles_per_layer": [],
           "op_cycles_per_layer": [], "outgoing_cycles_per_layer": [], "inference_energy_pj": [],
           "inference_sops": []}
    if learn:
        rec.update(learning_cycles=[[] for _ in layers], learning_energy_pj=[[] for _ in layers],
                   stdp_cycles=[[] for _ in layers], winner_cycles=[[] for _ in layers])
    for x in tqdm(times, desc=desc, leave=False, disable=None if progress else True):
        ic = image_cycles(net, x, lanes, learn=tuple(layers) if learn else ())
        counts = image_counts(ic)
        rec["inference_cycles"].append(ic.inference())
        rec["inference_cycles_per_layer"].append(ic.inference_per_layer())
        rec["integrate_cycles_per_layer"].append([lp.integrate.cycles for lp in ic.layers])
        rec["op_cycles_per_layer"].append([lp.integrate.op_cycles for lp in ic.layers])
        rec["outgoing_cycles_per_layer"].append([lp.cycles - lp.integrate.cycles for lp in ic.layers])
        rec["inference_energy_pj"].append(energy_pj(counts["inference"]))
        rec["inference_sops"].append(sum(lp.integrate.ops for lp in ic.layers))
        for i in ic.learn:
            rec["learning_cycles"][i].append(ic.learning(i))
            rec["learning_energy_pj"][i].append(energy_pj(counts["learning"][i]))
            rec["stdp_cycles"][i].append(ic.learn[i].stdp.cycles)
            # choosing the winners: the unit, its handshake, and the inhibition phase feeding it
            ln = ic.learn[i]
            rec["winner_cycles"][i].append(ln.inhibition_cycles + ln.winner.cycles + ln.handshake)
    return rec


def learning_step(net: Network, layer: int, image: np.ndarray, lanes: int | None = None) -> dict:
    """Cycles and energy of ``layer``'s next learning step, on the encoded ``image``, in the
    network's state as it is (its rates, random stream and pruning check at ``net.learned``)."""
    ic = image_cycles(net, image, lanes, learn=(layer,), upto=layer + 1)
    return {"layer": layer, "learned": int(net.learned[layer]), "cycles": int(ic.learning(layer)),
            "energy_pj": float(energy_pj(image_counts(ic)["learning"][layer]))}


class TrajectoryTrainer(Trainer):
    """Trains as ``Trainer`` does, measures every ``sample_every``-th learning step of each layer
    (the step's own image, on the state the step starts from: ``sample_every`` = 1 measures
    every step) and records the active connections at every checkpoint."""

    def __init__(self, cfg, checkpoint, sample_every: int, lanes: int | None = None,
                 progress_bar: bool = True):
        super().__init__(cfg, checkpoint, "fixed", progress_bar)
        if sample_every < 1:
            raise ValueError(f"sample_every = {sample_every}: must be >= 1 (1: every step)")
        self.every, self.lanes = sample_every, lanes
        self.side = Path(checkpoint).with_suffix(f".steps-{sample_every}-{lanes}.json")
        self.points, self.steps = {}, {}

    def run(self, train_images, resume: bool = True, stop_after=None):
        have = self.path.is_file() and self.side.is_file()
        if have and resume:
            record = json.loads(self.side.read_text())
            self.points, self.steps = record["points"], record["steps"]
        else:
            # A checkpoint without its measured steps cannot give them: learn again from the start.
            resume, self.points, self.steps = False, {}, {}
            self._record(Network(self.cfg, self.mode))
        return super().run(train_images, resume, stop_after)

    def trajectory(self) -> list[dict]:
        """Active connections at each checkpoint, in learning order."""
        return sorted(self.points.values(), key=lambda p: sum(p["learned_all"]))

    def sampled_steps(self) -> list[dict]:
        """The measured learning steps, by layer and images learned before them."""
        return sorted(self.steps.values(), key=lambda p: (p["layer"], p["learned"]))

    def _before_step(self, net, i, image) -> None:
        # Keyed by the step: a run resumed from an older checkpoint measures it again, the same.
        if net.learned[i] % self.every == 0:
            self.steps[f"{i}:{net.learned[i]}"] = learning_step(net, i, image, self.lanes)

    def _record(self, net: Network) -> None:
        self.points[",".join(map(str, net.learned))] = {
            "learned_all": list(net.learned), "active": net.active_connections(),
            "total": net.total_connections()}
        write_json(self.side, {"points": self.points, "steps": self.steps, "every": self.every})

    def _save(self, net, progress) -> None:
        self._record(net)
        super()._save(net, progress)


def whole_training(steps: list[dict], key: str, layer: int, learned: int, every: int) -> dict:
    """A layer's ``key`` (cycles or energy) summed over all ``learned`` steps of its training,
    from the steps measured every ``every`` steps (steps 0, every, 2 every, ...): each measured
    step stands for itself and the ``every`` - 1 steps after it that were not measured (fewer at
    the end), so with ``every`` = 1 the sum is exact. ``se``: the standard error of that
    systematic sample's total from successive differences (0 when every step is measured);
    ``mean``: per step."""
    ys = [(p["learned"], p[key]) for p in sorted(steps, key=lambda p: p["learned"])
          if p["layer"] == layer and p["learned"] < learned]
    expected = list(range(0, learned, every))
    if [n for n, _ in ys] != expected:
        raise ValueError(f"layer {layer}: measured steps {[n for n, _ in ys][:6]}... are not every "
                         f"{every}-th of its {learned} steps")
    total = float(sum(v * min(every, learned - n) for n, v in ys))
    v = np.array([y for _, y in ys], dtype=float)
    se = 0.0
    if every > 1 and len(v) > 1:
        # a systematic sample: the steps' variance from successive differences (they drift as
        # the layer learns), with the finite-population correction of sampling 1 in ``every``
        var = np.sum(np.diff(v) ** 2) / (2 * (len(v) - 1))
        se = float(every * math.sqrt(len(v) * var * (1 - 1 / every)))
    return {"total": total, "se": se, "steps": learned, "sampled": len(v),
            "mean": total / learned if learned else 0.0}
