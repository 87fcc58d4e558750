"""Layer-wise unsupervised training with checkpoints that resume bit-identically.

Layers learn one after the other (docs/design.md 2.2). Layer i sees the training images, in the data
set's fixed order and cycling if ``learning.max_images`` exceeds it, through the frozen layers
below it. It stops after ``max_images`` images or, checked every ``check_every`` images, when the
convergence measure C = mean(w (1 - w)) over its effective weights (a pruned connection counts
as 0) falls below ``convergence``. A policy that prunes in rounds after training (it has
``next_round``: LAMP, model/pruning/lamp.py) then alternates rounds and STDP retraining of every
layer, recorded in the progress record's ``rounds``. If a temporal policy shortens the network's
window while a layer learns, the layers below are run again with the new window.

A checkpoint holds the network's whole state (weights, pruning masks, images learned per layer,
counters: the random streams are hashes of these, so there is no generator state to save) and the
trainer's progress (which layers are finished, the convergence history, the pruning rounds). It
is written every ``training.checkpoint_every`` images, at the end of each layer and of each round's
cut and on Ctrl-C, to a temporary file that is then renamed over the old one, so a crash never
leaves a torn checkpoint. Resuming from it gives the same result, bit for bit, as a run that was
never interrupted.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import Config, replace
from .network import Network


# Where `make train`, `make report` and `make sim` keep their training checkpoints.
CHECKPOINTS = Path("build/ckpt")


# Quick mode (a demonstration, not the network's results): 300 training images, which each
# layer may learn over again, up to QUICK_MAX_IMAGES images in all; a+ doubles every
# QUICK_DOUBLE_EVERY images, so weights converge, and the threshold rule prunes them, within those
# images, from image QUICK_WARMUP on. On the default network: conv2 converges after about 700
# images with about 93% of its connections pruned, dense after about 950 (README, make report).
QUICK_IMAGES, QUICK_MAX_IMAGES, QUICK_DOUBLE_EVERY, QUICK_WARMUP = 300, 1000, 10, 20


def quick_config(cfg: Config) -> Config:
    """A few hundred images end to end, with a schedule under which pruning shows within them:
    for `make sim`, the quick reports and the tests. Only ever lowers the config's values."""
    changes = {"data.limit_train": min(cfg.data.limit_train or QUICK_IMAGES, QUICK_IMAGES),
               "data.limit_test": min(cfg.data.limit_test or 200, 200),
               "pruning.warmup": min(cfg.pruning.warmup, QUICK_WARMUP),
               "stdp.double_every": min(cfg.stdp.double_every, QUICK_DOUBLE_EVERY)}
    for i, lc in enumerate(cfg.layers):
        changes[f"layers.{i}.learning.max_images"] = min(lc.learning.max_images, QUICK_MAX_IMAGES)
        changes[f"layers.{i}.learning.check_every"] = min(lc.learning.check_every, 50)
        if lc.pruning.warmup is not None:
            changes[f"layers.{i}.pruning.warmup"] = min(lc.pruning.warmup, QUICK_WARMUP)
    return replace(cfg, **changes)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed with the current config."""


def _model_source_digest() -> str:
    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):       # the policies in model/pruning/ too
        h.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return h.hexdigest()


def config_digest(cfg: Config, mode: str) -> str:
    """Identifies what a checkpoint can be resumed by: the config, the mode and the model's code
    (a checkpoint of older code would not resume bit-identically)."""
    text = json.dumps({"config": cfg.learning_dict(), "mode": mode, "code": _model_source_digest()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(path: Path, net: Network, progress: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, progress=json.dumps(progress), **net.state())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, net: Network, digest: str) -> dict:
    with np.load(path) as z:
        progress = json.loads(str(z["progress"]))
        if progress.get("digest") != digest:
            raise CheckpointError(
                f"{path}: checkpoint was written for a different config or mode "
                f"(digest {progress.get('digest')}, this run {digest}); delete it or point "
                "the run at another checkpoint folder")
        net.load_state(z)
    return progress


class Trainer:
    def __init__(self, cfg: Config, checkpoint: str | Path | None = None, mode: str = "fixed",
                 progress_bar: bool = True):
        self.cfg, self.mode = cfg, mode
        self.path = Path(checkpoint) if checkpoint else None
        self.digest = config_digest(cfg, mode)
        self.progress_bar = progress_bar

    def run(self, train_images: np.ndarray, resume: bool = True, stop_after: int | None = None) -> tuple[Network, dict]:
        """Train every layer, then run the policy's pruning rounds if it has any; returns the
        network and the progress record.

        ``stop_after`` stops (with a checkpoint) after that many learning steps in this call:
        it simulates an interruption, for tests of resume.
        """
        net = Network(self.cfg, self.mode)
        progress = {"digest": self.digest, "finished": [False] * len(net.shapes),
                    "convergence": [[] for _ in net.shapes], "stopped_by": [None] * len(net.shapes)}
        if resume and self.path and self.path.is_file():
            progress = load_checkpoint(self.path, net, self.digest)
        encoded = net.encode(train_images)
        self._steps, self._stop_after = 0, stop_after
        try:
            for i, lc in enumerate(self.cfg.layers):
                if progress["finished"][i]:
                    continue
                if not self._learn(net, i, encoded, lc.learning.max_images, progress, converge=True):
                    return net, progress
                progress["stopped_by"][i] = progress["stopped_by"][i] or "max_images"
                progress["finished"][i] = True
                self._save(net, progress)
            if hasattr(net.pruning, "next_round") and not self._rounds(net, encoded, progress):
                return net, progress
        except KeyboardInterrupt:
            self._save(net, progress)
            raise
        return net, progress

    def _learn(self, net: Network, i: int, encoded: np.ndarray, until: int, progress: dict,
               converge: bool) -> bool:
        """Layer i learns until it has learned ``until`` images (or, with ``converge``, until
        its convergence measure falls below the config's bound); False if ``stop_after`` cut
        the run short (a checkpoint is written)."""
        lc = self.cfg.layers[i]
        window = net.window
        inputs, below = net.propagate(encoded, i)
        bar = tqdm(total=until, initial=net.learned[i], desc=f"learn {lc.name} ({self.mode})",
                   disable=None if self.progress_bar else True, leave=False)  # None: only on a terminal
        while net.learned[i] < until:
            if self._stop_after is not None and self._steps >= self._stop_after:
                self._save(net, progress)
                return False
            if net.window != window:     # a temporal policy shortened it: the layers below too
                window = net.window
                inputs, below = net.propagate(encoded, i)
            n = net.learned[i] % len(inputs)
            for j in range(i):       # the frozen layers below ran on this image too
                net.counters.add("learn", "sop_done", j, below[0][n, j])
                net.counters.add("learn", "sop_skipped", j, below[1][n, j])
            self._before_step(net, i, encoded[n])
            net.learn(i, inputs[n:n + 1])
            self._steps += 1
            bar.update(1)
            if converge and net.learned[i] % lc.learning.check_every == 0:
                c = net.convergence(i)
                progress["convergence"][i].append([net.learned[i], c])
                bar.set_postfix(C=f"{c:.4f}", active=net.active_connections()[i])
                if c < lc.learning.convergence:
                    progress["stopped_by"][i] = "convergence"
                    break
            if self.path and net.learned[i] % self.cfg.training.checkpoint_every == 0:
                self._save(net, progress)
        bar.close()
        return True

    def _rounds(self, net: Network, encoded: np.ndarray, progress: dict) -> bool:
        """The policy's pruning rounds after training (LAMP), each followed by every layer
        learning ``retrain_images`` more images, layer by layer. ``progress["rounds"]`` records
        per round what was pruned per layer and up to which image count each layer retrains,
        so a resume neither cuts a round twice nor retrains a layer twice."""
        rounds = progress.setdefault("rounds", [])
        while True:
            if not rounds or rounds[-1]["retrained"] == len(net.shapes):
                cut = net.pruning.next_round(net)
                if cut is None:
                    return True
                extra = net.pruning.retrain_images
                rounds.append({"pruned": cut, "until": [n + extra for n in net.learned],
                               "retrained": 0})
                self._save(net, progress)          # the cut is in the mask: never cut it again
            r = rounds[-1]
            while r["retrained"] < len(net.shapes):
                if not self._learn(net, r["retrained"], encoded, r["until"][r["retrained"]],
                                   progress, converge=False):
                    return False
                r["retrained"] += 1
                self._save(net, progress)

    def _before_step(self, net: Network, i: int, image: np.ndarray) -> None:
        """Called before layer i learns the encoded ``image`` (its next step): a subclass may
        measure the step on the network's state as it is then (report.measure)."""

    def _save(self, net: Network, progress: dict) -> None:
        if self.path:
            save_checkpoint(self.path, net, progress)
