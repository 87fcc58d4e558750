"""Layer-wise unsupervised training with checkpoints that resume bit-identically.

Layers learn one after the other (DESIGN.md 2.2). Layer i sees the training images, in the data
set's fixed order and cycling if ``learning.max_images`` exceeds it, through the frozen layers
below it. It stops after ``max_images`` images or, checked every ``check_every`` images, when the
convergence measure C = mean(w (1 - w)) over its effective weights (a pruned connection counts
as 0) falls below ``convergence``.

A checkpoint holds the network's whole state (weights, pruning masks, images learned per layer,
counters: the random streams are hashes of these, so there is no generator state to save) and the
trainer's progress (which layers are finished, the convergence history). It is written every
``training.checkpoint_every`` images, at the end of each layer and on Ctrl-C, to a temporary file
that is then renamed over the old one, so a crash never leaves a torn checkpoint. Resuming from it
gives the same result, bit for bit, as a run that was never interrupted.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import Config
from .network import Network


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed with the current config."""


def _model_source_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def config_digest(cfg: Config, mode: str) -> str:
    """Identifies what a checkpoint can be resumed by: the config, the mode and the model's code
    (a checkpoint of older code would not resume bit-identically)."""
    text = json.dumps({"config": cfg.to_dict(), "mode": mode, "code": _model_source_digest()},
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
        """Train every layer; returns the network and the progress record.

        ``stop_after`` stops (with a checkpoint) after that many learning steps in this call:
        it simulates an interruption, for tests of resume.
        """
        net = Network(self.cfg, self.mode)
        progress = {"digest": self.digest, "finished": [False] * len(net.shapes),
                    "convergence": [[] for _ in net.shapes], "stopped_by": [None] * len(net.shapes)}
        if resume and self.path and self.path.is_file():
            progress = load_checkpoint(self.path, net, self.digest)
        encoded = net.encode(train_images)
        steps = 0
        try:
            for i, lc in enumerate(self.cfg.layers):
                if progress["finished"][i]:
                    continue
                inputs, below = net.propagate(encoded, i)
                total = lc.learning.max_images
                bar = tqdm(total=total, initial=net.learned[i], desc=f"learn {lc.name} ({self.mode})",
                           disable=None if self.progress_bar else True, leave=False)  # None: only on a terminal
                while net.learned[i] < total:
                    if stop_after is not None and steps >= stop_after:
                        self._save(net, progress)
                        return net, progress
                    n = net.learned[i] % len(inputs)
                    for j in range(i):       # the frozen layers below ran on this image too
                        net.counters.add("learn", "sop_done", j, below[0][n, j])
                        net.counters.add("learn", "sop_skipped", j, below[1][n, j])
                    net.learn(i, inputs[n:n + 1])
                    steps += 1
                    bar.update(1)
                    if net.learned[i] % lc.learning.check_every == 0:
                        c = net.convergence(i)
                        progress["convergence"][i].append([net.learned[i], c])
                        bar.set_postfix(C=f"{c:.4f}", active=net.active_connections()[i])
                        if c < lc.learning.convergence:
                            progress["stopped_by"][i] = "convergence"
                            break
                    if self.path and net.learned[i] % self.cfg.training.checkpoint_every == 0:
                        self._save(net, progress)
                bar.close()
                progress["stopped_by"][i] = progress["stopped_by"][i] or "max_images"
                progress["finished"][i] = True
                self._save(net, progress)
        except KeyboardInterrupt:
            self._save(net, progress)
            raise
        return net, progress

    def _save(self, net: Network, progress: dict) -> None:
        if self.path:
            save_checkpoint(self.path, net, progress)
