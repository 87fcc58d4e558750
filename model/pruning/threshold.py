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

Structured option, per layer (``layers[i].pruning.maps_off``, default 0): at the end of the
warm-up (after image max(warmup, 1)) the rule also disables for good the share
floor(maps_off x maps) of the layer's maps that were least active over the warm-up images, by
the importance of Li et al. 2024 (``channel_activity.importance``: spikes and final potentials,
each a fraction of the layer's most active map; ties: the lower map first). A disabled map's
kernel is skipped whole (``Network.channel_on``, the core's map enables, written by the host),
so it neither fires nor learns, and the next layer never sees its channel. Weights are bimodal
after learning, so the threshold alone keeps a layer's strong connections whatever the
threshold; removing whole maps is what takes a layer with redundant features below that share.
"""
from __future__ import annotations

import math

import numpy as np

from ..config import Config
from .base import Policy
from .channel_activity import activity, importance


class ThresholdPruning(Policy):
    name = "threshold"

    def __init__(self, cfg: Config, arith):
        p = cfg.pruning
        self.enabled = p.enabled
        self.warmup = p.warmup
        self.warmups = [cfg.prune_warmup(i) for i in range(len(cfg.layers))]
        self.threshold = arith.threshold(p.threshold)
        self.maps_off = [math.floor(lc.pruning.maps_off * lc.maps) for lc in cfg.layers]
        # Activity per map over the warm-up, for the layers that disable maps.
        self.spikes = [np.zeros(lc.maps) for lc in cfg.layers]
        self.potential = [np.zeros(lc.maps) for lc in cfg.layers]

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

    def disable_maps(self, on: np.ndarray, i: int) -> np.ndarray:
        """Disable layer i's ``maps_off`` least active maps (``on`` changed in place); returns them."""
        score = importance(self.spikes[i], self.potential[i], on)
        enabled = np.flatnonzero(on)
        cut = enabled[np.argsort(score[enabled], kind="stable")][:self.maps_off[i]]
        on[cut] = False
        return cut

    def after_learn(self, net, i: int, out, winners: np.ndarray, times_in: np.ndarray) -> int:
        """The hook Network.learn calls after layer i's STDP update; returns the connections
        switched off (pruned, or in a map disabled)."""
        if not (self.enabled and self.maps_off[i]):
            return self.after_update(net.learned[i], net.weights[i], net.pruned[i],
                                     net.prune_thresholds[i], self.warmups[i])
        before = int(net.active(i).sum())
        end = max(self.warmups[i], 1)
        if net.learned[i] <= end:
            spikes, potential = activity(out, net.T)
            self.spikes[i] += spikes
            self.potential[i] += potential
        if net.learned[i] == end:
            self.disable_maps(net.channel_on[i], i)
        self.after_update(net.learned[i], net.weights[i], net.pruned[i],
                          net.prune_thresholds[i], self.warmups[i])
        return before - int(net.active(i).sum())

    def state(self) -> dict[str, np.ndarray]:
        st = {}
        for i in range(len(self.spikes)):
            st.update({f"spikes{i}": self.spikes[i], f"potential{i}": self.potential[i]})
        return st

    def load_state(self, st) -> None:
        for i in range(len(self.spikes)):
            self.spikes[i] = np.array(st[f"spikes{i}"], dtype=np.float64)
            self.potential[i] = np.array(st[f"potential{i}"], dtype=np.float64)
