"""LAMP pruning (spatial pruning of dynamic spatio-temporal pruning, DSTP): layer-adaptive magnitude scores ranked across layers.

What the paper does: it scores each weight u of a layer by LAMP (Lee et al., ICLR 2021),
``score(u) = w_u^2 / sum of w_v^2 over the layer's surviving weights v at least as large as u``,
ranks the scores of all layers together and prunes the lowest, so each layer's pruning amount
follows from one global cut; it prunes iteratively (a share of the surviving weights per round)
and fine-tunes with back-propagation between rounds.

What we do instead, and why:

* A global ranking needs every layer trained, and STDP trains the layers one after the other, so
  no pruning happens while the layers learn (``after_learn`` does nothing): the rounds run after
  the last layer has learned. Each round prunes ``fraction`` of the surviving connections (rounded
  half up, at least one), the last round exactly what is left to reach ``target`` (the share of
  all connections pruned, rounded half up to a count).
* The fine-tuning between rounds is STDP: every layer learns ``retrain_images`` more images, layer
  by layer in order (a layer sees the retrained layers below it), continuing the data set's order
  and the STDP rate schedule; pruned connections are frozen and skipped exactly as with threshold
  pruning, through the network's ``pruned`` masks. model/train.py runs the rounds and checkpoints
  them (``progress["rounds"]``), so an interrupted run resumes bit-identically.
* Ties: LAMP's denominator runs over the weights at or above u *in the sorted order*. Equal
  weights are ordered by their flat address in the layer's weight array (a lower address counts
  as the smaller weight), so equal weights get different scores, deterministically, and exactly
  one weight per layer, its largest, scores 1: a layer is never pruned empty. Across layers,
  equal scores are cut in the order (layer, address). Weights are unsigned, so |w| = w.
* Surviving = not in the mask (``~net.pruned[i]``); a connection of a disabled map still counts
  (this policy never disables maps).

Hardware: no new logic. The host reads the weights, computes the ranking and writes the mask
memory between rounds; the core then skips the pruned connections in learning and inference as
it does for threshold pruning.
"""
from __future__ import annotations

import numpy as np

from ..config import Config
from .base import Policy


def half_up(x: float) -> int:
    """Round half up (Python's round() rounds halves to even)."""
    return int(np.floor(x + 0.5))


def lamp_scores(weights: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """LAMP score of every surviving connection of one layer (same shape; 0 where pruned).

    Sorted ascending by (weight, address), the weight of rank r scores
    w_r^2 / sum_{s >= r} w_s^2; a layer whose surviving weights are all 0 scores them 0.
    """
    w = weights.astype(np.float64).ravel()
    live = np.flatnonzero(alive.ravel())
    order = live[np.argsort(w[live], kind="stable")]      # ascending; ties by address
    sq = w[order] ** 2
    tail = np.cumsum(sq[::-1])[::-1]                       # sum over ranks >= r
    scores = np.zeros(w.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores[order] = np.where(tail > 0, sq / np.where(tail > 0, tail, 1), 0.0)
    return scores.reshape(weights.shape)


def global_cut(weights: list[np.ndarray], alive: list[np.ndarray], count: int) -> list[np.ndarray]:
    """The ``count`` surviving connections of lowest LAMP score over all layers, as one new
    mask per layer (True = prune now). Within a layer a larger weight never goes before a
    smaller one (the score grows with the weight), so every layer loses its smallest weights."""
    keys, layer, addr = [], [], []
    for i, (w, a) in enumerate(zip(weights, alive)):
        live = np.flatnonzero(a.ravel())
        keys.append(lamp_scores(w, a).ravel()[live])
        layer.append(np.full(live.size, i))
        addr.append(live)
    keys, layer, addr = np.concatenate(keys), np.concatenate(layer), np.concatenate(addr)
    if not 0 <= count <= keys.size:
        raise ValueError(f"cannot prune {count} of {keys.size} surviving connections")
    pick = np.lexsort((addr, layer, keys))[:count]        # by score, then layer, then address
    cut = [np.zeros(w.shape, dtype=bool) for w in weights]
    for i in range(len(weights)):
        cut[i].ravel()[addr[pick][layer[pick] == i]] = True
    return cut


def round_size(total: int, pruned: int, target: float, fraction: float) -> int:
    """Connections the next round prunes: ``fraction`` of the survivors (half up, at least 1),
    capped at what is left to reach the target count; 0 once the target is reached."""
    left = half_up(target * total) - pruned
    if left <= 0:
        return 0
    return min(left, max(1, half_up(fraction * (total - pruned))))


class LampPruning(Policy):
    name = "lamp"

    def __init__(self, cfg: Config, arith):
        p = cfg.pruning.lamp
        self.target, self.fraction, self.retrain_images = p.target, p.fraction, p.retrain_images

    def next_round(self, net) -> list[int] | None:
        """Prune one round into ``net.pruned``; returns the count per layer, or None when the
        target is already reached."""
        total = sum(net.total_connections())
        count = round_size(total, sum(int(p.sum()) for p in net.pruned), self.target, self.fraction)
        if count == 0:
            return None
        cut = global_cut(net.weights, [~p for p in net.pruned], count)
        for p, c in zip(net.pruned, cut):
            p |= c
        return [int(c.sum()) for c in cut]
