"""Maps per layer from PCA of the layer's potentials (Chowdhury et al. 2021, structured spatial pruning).

What the paper does: after training, it collects each layer's average accumulated membrane
potential, takes the principal component analysis of it, and keeps as many channels as there
are components needed for a high cumulative explained variance (e.g. 99.x%); the network is
rebuilt with those channel counts and retrained with backpropagation.

What we do instead, and why:

* Layer by layer, in order, since STDP learning is layer-wise (``pca_rebuild``): train layers
  0 .. i (layers above get ``max_images: 0``: they would be retrained anyway), run
  ``pruning.pca_channels.images`` training images through them and take layer i's final
  potentials ``v_final`` as the samples: every (image, position) is a row, the maps are the
  columns. A non-leaky neuron's final potential is its potential accumulated over the whole
  window, the TTFS counterpart of the paper's accumulated potential; each position is one
  sample of "which maps respond together", which is what the components count.
* ``pca_count``: the number of components whose cumulative explained variance ratio reaches
  ``variance`` (scikit-learn's PCA of the centred, unscaled samples, full SVD: deterministic).
  Then ``layers[i].maps`` becomes that count and the next round trains layer i again from
  scratch; the layers above see fewer input channels and are trained after it. The last
  layer's retraining is the caller's final training (report/train.py ``train_network``).
  Layers below i are retrained bit-identically in every round (same config, hashed random
  streams): that costs time, not results, and keeps the training code untouched.
* Each round is a normal training run with its checkpoint under ``build/ckpt``, named by the
  round's config digest, so an interrupted rebuild resumes where it stopped and a finished one is
  reused.

During learning the policy itself does nothing (``PCAChannelsPolicy`` in
model/pruning/__init__.py): the structure is chosen between trainings. The hardware needs no
new logic: the rebuilt layer is a generator parameter (fewer maps), so the core is smaller.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from .. import config as C
from ..train import Trainer, config_digest

# Cumulative ratios are sums of floats: a target of 1.0 is reached within this tolerance.
TOLERANCE = 1e-9


def cumulative_variance(samples: np.ndarray) -> np.ndarray:
    """Cumulative explained variance ratios of the principal components of ``samples`` (rows:
    samples, columns: maps). Samples without any variance say nothing about the maps: one
    component then "explains" all of it."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or len(samples) < 2:
        raise ValueError(f"samples of shape {samples.shape}: need a 2-D array with >= 2 rows")
    if not np.ptp(samples, axis=0).any():
        return np.ones(1)
    return np.cumsum(PCA(svd_solver="full").fit(samples).explained_variance_ratio_)


def components_for(cumulative: np.ndarray, variance: float) -> int:
    """The first number of components whose cumulative ratio reaches ``variance`` (0 < v <= 1)."""
    if not 0 < variance <= 1:
        raise ValueError(f"variance = {variance}: must be in (0, 1]")
    reached = cumulative >= variance - TOLERANCE
    return int(np.argmax(reached)) + 1     # the last ratio is 1 (up to rounding): always reached


def pca_count(samples: np.ndarray, variance: float) -> int:
    """The number of principal components of ``samples`` (rows: samples, columns: maps) whose
    cumulative explained variance ratio reaches ``variance``."""
    return components_for(cumulative_variance(samples), variance)


def layer_samples(net, i: int, encoded: np.ndarray, batch: int = 8) -> np.ndarray:
    """Layer i's final potentials on encoded images: (images * positions, maps)."""
    rows = []
    for s in range(0, len(encoded), batch):
        times, _ = net.propagate(encoded[s:s + batch], i)
        v = net.run_layer(i, times, None).v_final
        rows.append(v.transpose(0, 2, 3, 1).reshape(-1, v.shape[1]))
    return np.concatenate(rows)


def pca_rebuild(cfg: C.Config, train_x: np.ndarray, checkpoints: str | Path = "build/ckpt",
                tag: str = "pca", mode: str = "fixed",
                progress_bar: bool = True) -> tuple[C.Config, dict]:
    """The config with each layer's maps set by PCA, layer by layer; and the record, per layer:
    ``maps_before``, ``maps_after``, ``samples`` (rows analysed), ``cumulative_variance`` (of
    the first maps_after components) and the round's ``checkpoint``."""
    p = cfg.pruning.pca_channels
    record = {"variance": p.variance, "images": p.images, "layers": []}
    for i in range(len(cfg.layers)):
        above = {f"layers.{j}.learning.max_images": 0 for j in range(i + 1, len(cfg.layers))}
        round_cfg = C.replace(cfg, **above) if above else cfg
        ckpt = Path(checkpoints) / f"{tag}-pca{i}-{mode}-{config_digest(round_cfg, mode)}.npz"
        net, _ = Trainer(round_cfg, ckpt, mode, progress_bar).run(train_x)
        samples = layer_samples(net, i, net.encode(train_x[:p.images]))
        cumulative = cumulative_variance(samples)
        count = components_for(cumulative, p.variance)
        record["layers"].append({"name": cfg.layers[i].name, "maps_before": cfg.layers[i].maps,
                                 "maps_after": count, "samples": int(len(samples)),
                                 "cumulative_variance": float(cumulative[count - 1]),
                                 "checkpoint": str(ckpt)})
        cfg = C.replace(cfg, **{f"layers.{i}.maps": count})
    return cfg, record
