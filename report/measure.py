"""Cycles and energy of trained networks, measured image by image with ``cycles.image``.

* ``sample``: inference and learning cycles and energy of a trained network on a list of images
  (learning as the network's next learning image of every layer).
* ``TrajectoryTrainer``: a ``model.train.Trainer`` that, at each of its checkpoints, records the
  active connections and the learning cycles and energy of the layer that is learning, on the
  next images it will learn; the record is a JSON file beside the checkpoint, written before the
  checkpoint so a resumed run completes it (points are keyed by the images learned).
"""
from __future__ import annotations

import json
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
            rec["winner_cycles"][i].append(ic.learn[i].winner.cycles + ic.learn[i].handshake)
    return rec


def learning_point(net: Network, layer: int, train_x: np.ndarray, images: int,
                   lanes: int | None = None) -> dict:
    """Learning cycles and energy of ``layer`` on the next ``images`` images it would learn
    (the trainer's order: image ``learned % N`` of the training set), averaged."""
    n = net.learned[layer]
    idx = [(n + j) % len(train_x) for j in range(images)]
    cycles, energy = [], []
    for x in net.encode(train_x[idx]):
        ic = image_cycles(net, x, lanes, learn=(layer,), upto=layer + 1)
        cycles.append(ic.learning(layer))
        energy.append(energy_pj(image_counts(ic)["learning"][layer]))
    return {"layer": layer, "learned": n, "cycles": float(np.mean(cycles)),
            "energy_pj": float(np.mean(energy)), "images": images}


class TrajectoryTrainer(Trainer):
    """Trains as ``Trainer`` does and records a trajectory point at every checkpoint."""

    def __init__(self, cfg, checkpoint, train_x, images_per_point: int,
                 lanes: int | None = None, progress_bar: bool = True):
        super().__init__(cfg, checkpoint, "fixed", progress_bar)
        self.train_x, self.images, self.lanes = train_x, images_per_point, lanes
        self.side = Path(checkpoint).with_suffix(".trajectory.json")
        self.points = {}

    def run(self, train_images, resume: bool = True, stop_after=None):
        have = self.path.is_file() and self.side.is_file()
        if have and resume:
            self.points = json.loads(self.side.read_text())["points"]
        else:
            # A checkpoint without its trajectory cannot give one: learn again from the start.
            resume, self.points = False, {}
            self._record(Network(self.cfg, self.mode), None)
        return super().run(train_images, resume, stop_after)

    def trajectory(self) -> list[dict]:
        return sorted(self.points.values(), key=lambda p: (p["layer"], p["learned"]))

    def _record(self, net: Network, progress) -> None:
        """Measure the layer that learns (and, at a layer's end, the next one at its start)."""
        finished = progress["finished"] if progress else [False] * len(net.learned)
        todo = [i for i, n in enumerate(net.learned) if n > 0 and (i + 1 == len(net.learned)
                                                                   or net.learned[i + 1] == 0)]
        todo += [i + 1 for i in todo if finished[i] and i + 1 < len(net.learned)]
        if not progress:
            todo = [0]
        for i in todo:
            key = f"{i}:{net.learned[i]}"
            if key not in self.points:
                point = learning_point(net, i, self.train_x, self.images, self.lanes)
                point.update(active=net.active_connections(), total=net.total_connections(),
                             learned_all=list(net.learned))
                self.points[key] = point
        write_json(self.side, {"points": self.points})

    def _save(self, net, progress) -> None:
        self._record(net, progress)
        super()._save(net, progress)


def mean_over_training(points: list[dict], key: str, layer: int) -> tuple[float, int]:
    """(mean of ``key`` per learning step of ``layer`` over its training, steps): the trapezoid
    integral of the measured points over the images learned, divided by the images learned."""
    pts = sorted((p["learned"], p[key]) for p in points if p["layer"] == layer)
    if not pts:
        raise ValueError(f"no trajectory point of layer {layer}")
    n_end = pts[-1][0]
    if n_end == 0:
        return float(pts[0][1]), 0
    area = sum((n1 - n0) * (v0 + v1) / 2 for (n0, v0), (n1, v1) in zip(pts, pts[1:]))
    return float(area / n_end), int(n_end)
