"""The connection-pruning rule of Nguyen et al. 2021 (arXiv:2010.04351): threshold pruning during STDP learning.

A layer learns with all its connections during a warm-up of ``pruning.warmup`` images. From the
image that completes the warm-up on, after each image's STDP update, every connection whose
weight is below ``pruning.threshold`` is pruned for good (a layer's own ``pruning:`` entry may
set its threshold and warm-up, ``Config.prune_threshold`` / ``prune_warmup``): the mask only grows, the weight is
frozen at its value, the connection gets no more STDP updates and no longer accumulates, in
learning or in inference.

Only STDP changes weights, so after the warm-up only the winners' kernels can cross the
threshold: the hardware sweeps the whole weight memory once at the end of the warm-up and then
checks the words the STDP unit writes. The model sweeps every weight after every image, which
gives the same mask (tests/model/test_pruning.py checks the equivalence).
"""
from __future__ import annotations

import numpy as np

from ..config import Config
from .base import Policy


class ThresholdPruning(Policy):
    name = "threshold"

    def __init__(self, cfg: Config, arith):
        p = cfg.pruning
        self.enabled = p.enabled
        self.warmup = p.warmup
        self.warmups = [cfg.prune_warmup(i) for i in range(len(cfg.layers))]
        self.threshold = arith.threshold(p.threshold)

    def after_update(self, learned: int, weights: np.ndarray, pruned: np.ndarray,
                     threshold=None, warmup: int | None = None) -> int:
        """Apply the rule after a layer has learned ``learned`` images; returns newly pruned count.
        ``threshold``: in the layer's weight LSBs (default: in those of formats.weight_bits);
        ``warmup``: the layer's (default: the pruning section's)."""
        if not self.enabled or learned < (self.warmup if warmup is None else warmup):
            return 0
        new = (weights < (self.threshold if threshold is None else threshold)) & ~pruned
        pruned |= new
        return int(new.sum())

    def after_learn(self, net, i: int, out, winners: np.ndarray, times_in: np.ndarray) -> int:
        """The hook Network.learn calls after layer i's STDP update; returns newly pruned count."""
        return self.after_update(net.learned[i], net.weights[i], net.pruned[i],
                                 net.prune_thresholds[i], self.warmups[i])
