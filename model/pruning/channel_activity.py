"""Channel-activity pruning with regrowth (SCA, Li et al. 2024), adapted to layer-wise STDP learning.

What the paper does: during backpropagation training, each convolution channel gets an
importance from its spiking activity (spike counts plus membrane-potential magnitude,
accumulated between mask updates); channels are ranked across all layers and the lowest are
masked to reach a sparsity target; masked channels whose batch-norm gamma gradient is large are
regrown, as many as are pruned, so the sparsity holds while the structure keeps adapting.

What we do instead, and why:

* A channel is an output map of a layer; disabling map f of layer i sets
  ``net.channel_on[i][f] = False``: its whole kernel is skipped (the map never integrates, so it
  never fires nor wins, and its frozen weights get no STDP update; its synaptic events count as
  skipped). The hardware gets one enable bit per map; the ranking below runs on the host between
  images (a few sums per map), not in the core.
* Accumulated per enabled map over the layer's learning images since the last mask update, from
  the layer's output ``out`` (before pointwise inhibition): ``spikes`` S_f, the number of its
  neurons that fired; ``potential`` P_f, the sum of its final potentials (all >= 0: weights are
  non-negative). The two have different units, so each is divided by its largest value over
  the layer's enabled maps and the importance is their mean,
  ``I_f = (S_f / max S + P_f / max P) / 2`` in [0, 1] (a term whose maximum is 0 counts 0).
* Ranking per layer, the same share in every layer: with layer-wise learning only the learning
  layer's activity changes; the layers below are frozen (re-masking them would change the
  learning layer's input under it) and the layers above have not run yet. A cut across layers
  would only hand the learning layer whatever budget the earlier ones left, which depends on
  the layer order. So each layer keeps ``floor(sparsity * maps)`` maps disabled: never more
  than the target share, and at least one map stays on since sparsity < 1 (tiny, sparsity 0.5:
  2 of 4 and 3 of 6).
* Mask updates happen after the layer's image ``warmup + k * update_every`` (``pruning.warmup``;
  k >= 0, images counted from 1, so without a warm-up the first is after image update_every).
  The first one disables the lowest-importance maps down to the target; later ones swap
  (below). Ties are broken by the lower map index (disabled first, regrown first). The
  accumulators are reset after every update.
* Regrowth (``regrow: true``) replaces the gamma gradient by the STDP drive a disabled map would
  have received: for every winner (map, y, x, fire time t) of a learning image, the potential the
  map's frozen kernel would reach from the input spikes of the winner's receptive field with
  time <= t (STDP's LTP side). ``drive`` D_f accumulates it for every map (weights after the
  image's update; the disabled ones are frozen anyway), only with regrowth on. A disabled map's growth is
  ``G_g = D_g / max D`` over the enabled maps: a fraction of the best enabled map's drive, the
  same "fraction of the layer's best" scale as the importance. At an update, after the pruning
  step, the j-th strongest growth among the maps that were already disabled is paired with the
  j-th weakest importance among the enabled maps; while the growth is larger (strictly), the two
  swap: the sparsity holds, as in the paper. A regrown map goes on learning from the weights
  it was frozen with. When the layer's learning ends, its mask stays as the last update left it.

``after_learn`` returns the connections switched off by the update (the kernels of the maps it
disabled), which Network.learn counts as ``pruned_now``. Accumulators and event counts are in
``state()``, so a checkpoint resumes bit-identically.
"""
from __future__ import annotations

import math

import numpy as np

from ..config import Config
from ..layer import padded
from .base import Policy


def fractions(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """values / max(values[among]); all 0 when that maximum is 0 (nothing to tell apart)."""
    top = values[among].max() if among.any() else 0.0
    return values / top if top > 0 else np.zeros_like(values, dtype=np.float64)


def importance(spikes: np.ndarray, potential: np.ndarray, on: np.ndarray) -> np.ndarray:
    """I_f = (S_f / max S + P_f / max P) / 2, maxima over the enabled maps ``on``."""
    return (fractions(spikes, on) + fractions(potential, on)) / 2


def activity(out, time_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One image's activity per map from a layer's output (before pointwise inhibition): the
    neurons that fired, and the sum of the final potentials."""
    return ((out.times[0] < time_steps).sum(axis=(1, 2)),
            out.v_final[0].sum(axis=(1, 2), dtype=np.float64))


def disabled_count(sparsity: float, maps: int) -> int:
    """Maps a layer keeps disabled: floor(sparsity * maps), never the target share exceeded."""
    return math.floor(sparsity * maps)


def update_mask(on: np.ndarray, spikes: np.ndarray, potential: np.ndarray, drive: np.ndarray,
                n_off: int, regrow: bool) -> tuple[np.ndarray, np.ndarray]:
    """One mask update of a layer; ``on`` is changed in place. Returns (disabled, regrown) map
    indices. Pruning step first, then the regrowth swaps among the maps disabled before."""
    was_off = ~on
    score = importance(spikes, potential, on)
    enabled = np.flatnonzero(on)
    weakest = enabled[np.argsort(score[enabled], kind="stable")]
    cut = weakest[:max(n_off - int(was_off.sum()), 0)]
    on[cut] = False
    disabled, regrown = list(cut), []
    if regrow:
        growth = fractions(drive, ~was_off)
        candidates = np.flatnonzero(was_off)
        candidates = candidates[np.argsort(-growth[candidates], kind="stable")]
        remaining = weakest[len(cut):]
        for g, f in zip(candidates, remaining):
            if not growth[g] > score[f]:
                break
            on[g], on[f] = True, False
            regrown.append(int(g))
            disabled.append(int(f))
    return np.array(disabled, dtype=np.int64), np.array(regrown, dtype=np.int64)


class ChannelActivityPruning(Policy):
    name = "channel_activity"

    def __init__(self, cfg: Config, arith):
        p = cfg.pruning.channel_activity
        self.cfg, self.warmup = cfg, cfg.pruning.warmup
        self.sparsity, self.update_every, self.regrow = p.sparsity, p.update_every, p.regrow
        maps = [lc.maps for lc in cfg.layers]
        self.spikes = [np.zeros(f) for f in maps]
        self.potential = [np.zeros(f) for f in maps]
        self.drive = [np.zeros(f) for f in maps]
        # Per layer: maps disabled and regrown over the run (events), and mask updates done.
        self.disabled_events = np.zeros(len(maps), dtype=np.int64)
        self.regrown_events = np.zeros(len(maps), dtype=np.int64)
        self.updates = np.zeros(len(maps), dtype=np.int64)

    def record(self, net, i: int, out, winners: np.ndarray, times_in: np.ndarray) -> None:
        """Accumulate one learning image's activity and drive for layer i."""
        spikes, potential = activity(out, net.T)
        self.spikes[i] += spikes
        self.potential[i] += potential
        if self.regrow and len(winners):        # the drive only serves regrowth
            lc = self.cfg.layers[i]
            k = lc.kernel
            src = padded(times_in[0], lc.padding, net.T)
            post = out.times[0][tuple(winners.T)]
            ltp = np.stack([src[:, y:y + k, x:x + k] <= t
                            for (_, y, x), t in zip(winners, post)]).astype(np.float64)
            weights = np.where(net.pruned[i], 0, net.weights[i]).astype(np.float64)
            self.drive[i] += np.einsum("nckl,fckl->f", ltp, weights)

    def due(self, learned: int) -> bool:
        """A mask update after the layer's ``learned``-th image (counted from 1)?"""
        return learned >= self.warmup and (learned - self.warmup) % self.update_every == 0

    def after_learn(self, net, i: int, out, winners: np.ndarray, times_in: np.ndarray) -> int:
        self.record(net, i, out, winners, times_in)
        if not self.due(net.learned[i]):
            return 0
        on = net.channel_on[i]
        disabled, regrown = update_mask(on, self.spikes[i], self.potential[i], self.drive[i],
                                        disabled_count(self.sparsity, len(on)), self.regrow)
        self.disabled_events[i] += len(disabled)
        self.regrown_events[i] += len(regrown)
        self.updates[i] += 1
        for acc in (self.spikes, self.potential, self.drive):
            acc[i][:] = 0
        return int((~net.pruned[i][disabled]).sum())

    def after_training(self, net, ds) -> dict:
        """What the policy chose, per layer: maps left disabled, and the events over the run."""
        return {"maps_disabled": [int((~on).sum()) for on in net.channel_on],
                "disabled_maps": [np.flatnonzero(~on).tolist() for on in net.channel_on],
                "disable_events": self.disabled_events.tolist(),
                "regrow_events": self.regrown_events.tolist(),
                "mask_updates": self.updates.tolist()}

    def state(self) -> dict[str, np.ndarray]:
        st = {"disabled_events": self.disabled_events, "regrown_events": self.regrown_events,
              "updates": self.updates}
        for i in range(len(self.spikes)):
            st.update({f"spikes{i}": self.spikes[i], f"potential{i}": self.potential[i],
                       f"drive{i}": self.drive[i]})
        return st

    def load_state(self, st) -> None:
        for key in ("disabled_events", "regrown_events", "updates"):
            setattr(self, key, np.array(st[key], dtype=np.int64))
        for i in range(len(self.spikes)):
            self.spikes[i] = np.array(st[f"spikes{i}"], dtype=np.float64)
            self.potential[i] = np.array(st[f"potential{i}"], dtype=np.float64)
            self.drive[i] = np.array(st[f"drive{i}"], dtype=np.float64)
