"""The network: layers, their weights and pruning state, inference, learning and counters.

State that defines a trained network, and everything a checkpoint holds: ``weights``,
``pruned`` (the connection mask) and ``channel_on`` (the map enables) per layer, ``window`` (the
time steps processed, T unless a temporal policy shortened it), the pruning policy's state,
``learned`` (images each layer has learned, which also indexes the STDP
random stream and the rate schedule) and the counters. There is no hidden generator state: all
randomness is a hash of (seed, layer, image count, weight address), see model/rng.py.

Each layer has its own arithmetic ``ariths[i]`` (its weight width, ``Config.weight_bits``):
its weights, threshold, pruning threshold and STDP are in that layer's weight LSBs. ``arith``
is the network's default one, for what does not depend on the width (potential range, dtype,
STDP rates).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import encoding, layer as L, stdp, wta
from .config import Config
from .floatmode import arithmetic
from .pruning import make_policy

PHASES = ("learn", "infer")
BATCH = 8          # images per batch in inference: small batches keep the arrays in cache
COUNTERS = ("images", "sop_done", "sop_skipped", "stdp_done", "stdp_skipped", "pruned_now")


@dataclass
class Counters:
    """Per phase, per layer: what the hardware's performance counters count."""
    n_layers: int
    values: dict = field(default_factory=dict)

    def __post_init__(self):
        for phase in PHASES:
            for name in COUNTERS:
                self.values.setdefault(f"{phase}.{name}", np.zeros(self.n_layers, dtype=np.int64))

    def add(self, phase: str, name: str, layer: int, amount) -> None:
        self.values[f"{phase}.{name}"][layer] += int(amount)

    def get(self, phase: str, name: str) -> np.ndarray:
        return self.values[f"{phase}.{name}"]


def region_max(v: np.ndarray, grid: int) -> np.ndarray:
    """(B, F, H, W) -> (B, F * grid^2): maxima over a grid x grid partition of each map; region
    (i, j) spans rows i*H//grid .. (i+1)*H//grid - 1 (and likewise columns)."""
    b, f, h, w = v.shape
    rows, cols = [i * h // grid for i in range(grid + 1)], [j * w // grid for j in range(grid + 1)]
    return np.stack([v[:, :, rows[i]:rows[i + 1], cols[j]:cols[j + 1]].max(axis=(2, 3))
                     for i in range(grid) for j in range(grid)], axis=2).reshape(b, -1)


class Network:
    def __init__(self, cfg: Config, mode: str = "fixed"):
        self.cfg, self.mode = cfg, mode
        self.arith = arithmetic(cfg, mode)
        self.ariths = [arithmetic(cfg, mode, i) for i in range(len(cfg.layers))]
        self.T = cfg.input.time_steps
        self.shapes = []
        channels = 2
        for lc in cfg.layers:
            self.shapes.append((lc.maps, channels, lc.kernel, lc.kernel))
            channels = lc.maps
        self.weights = [self.ariths[i].init_weights(cfg, i, s) for i, s in enumerate(self.shapes)]
        self.pruned = [np.zeros(s, dtype=bool) for s in self.shapes]
        self.channel_on = [np.ones(s[0], dtype=bool) for s in self.shapes]
        self.window = self.T
        self.learned = [0] * len(self.shapes)
        self.counters = Counters(len(self.shapes))
        self.thresholds = [a.threshold(lc.threshold) for a, lc in zip(self.ariths, cfg.layers)]
        # The pruning threshold in each layer's LSBs (the core's prune_th register).
        self.prune_thresholds = [a.threshold(cfg.prune_threshold(i)) for i, a in enumerate(self.ariths)]
        self.pruning = make_policy(cfg, self.arith)

    # -- inference ------------------------------------------------------------------------
    def active(self, i: int) -> np.ndarray:
        """Layer i's connections that accumulate: not pruned, and their map enabled."""
        return ~self.pruned[i] & self.channel_on[i][:, None, None, None]

    def encode(self, images) -> np.ndarray:
        return encoding.encode(self.cfg, images)

    def run_layer(self, i: int, times_in: np.ndarray, phase: str | None) -> L.LayerOutput:
        """Layer i on a batch of input spike times; counts into ``phase`` unless it is None."""
        lc = self.cfg.layers[i]
        out = L.integrate(times_in, self.weights[i], self.active(i), lc.kernel, lc.padding, self.T,
                          self.thresholds[i], self.arith.potential_max, self.arith.dtype,
                          window=self.window)
        if phase is not None:
            self.counters.add(phase, "sop_done", i, out.sop_done.sum())
            self.counters.add(phase, "sop_skipped", i, out.sop_skipped.sum())
            self.counters.add(phase, "images", i, len(times_in))
        return out

    def outgoing(self, i: int, out: L.LayerOutput) -> np.ndarray:
        """The spike times layer i passes on: pointwise inhibition, then first-spike pooling."""
        lc = self.cfg.layers[i]
        times = out.times
        if lc.pointwise_inhibition:
            times = L.pointwise_inhibition(times, out.v_fire, self.T)
        return L.pool(times, lc.pool.size, lc.pool.stride)

    def propagate(self, times: np.ndarray, upto: int, batch: int = BATCH):
        """Input spike times of layer ``upto`` for encoded images, through the layers below it.

        Counts nothing; returns (times, (sop_done, sop_skipped)), the last two (N, upto) arrays
        of per-image synaptic operations in each layer below, for the caller to count.
        """
        n = len(times)
        sops = (np.zeros((n, upto), dtype=np.int64), np.zeros((n, upto), dtype=np.int64))
        chunks = []
        for s in range(0, n, batch):
            t = times[s:s + batch]
            for i in range(upto):
                out = self.run_layer(i, t, None)
                sops[0][s:s + batch, i], sops[1][s:s + batch, i] = out.sop_done, out.sop_skipped
                t = self.outgoing(i, out)
            chunks.append(t)
        return (np.concatenate(chunks) if chunks else times[:, :0]), sops

    def features(self, images, batch: int = BATCH, phase: str | None = "infer",
                 grid: int | None = None) -> np.ndarray:
        """Readout features, (N, maps * grid^2): the maxima of the last layer's final potentials
        over a grid x grid partition of each map (grid 1: global max pooling)."""
        grid = grid or self.cfg.readout.pool_grid
        feats = []
        for s in range(0, len(images), batch):
            times = self.encode(images[s:s + batch])
            for i in range(len(self.shapes)):
                out = self.run_layer(i, times, phase)
                times = self.outgoing(i, out) if i < len(self.shapes) - 1 else None
            feats.append(region_max(out.v_final, grid))
        return np.concatenate(feats).astype(np.float64)

    # -- learning ---------------------------------------------------------------------------
    def learn(self, i: int, times_in: np.ndarray) -> np.ndarray:
        """One STDP step of layer i on one image's input spike times (1, C, H, W).

        Returns the winners (map, row, column). Weights, pruning mask, ``learned[i]`` and the
        counters are updated.
        """
        lc = self.cfg.layers[i]
        out = self.run_layer(i, times_in, "learn")
        winners = wta.k_winners(out.times[0], out.v_fire[0], lc.winners, lc.inhibition_radius, self.T)
        n = self.learned[i]
        if len(winners):
            self._stdp(i, n, winners, times_in[0], out)
        self.learned[i] = n + 1
        self.counters.add("learn", "pruned_now", i,
                          self.pruning.after_learn(self, i, out, winners, times_in))
        return winners

    def _stdp(self, i: int, n: int, winners: np.ndarray, times_in: np.ndarray,
              out: L.LayerOutput) -> None:
        lc = self.cfg.layers[i]
        post = out.times[0][tuple(winners.T)]
        src = L.padded(times_in, lc.padding, self.T)
        done = stdp.apply(self.ariths[i], self.cfg, i, n, self.weights[i], self.pruned[i], winners,
                          post, src, lc.kernel)
        self.counters.add("learn", "stdp_done", i, done)
        self.counters.add("learn", "stdp_skipped", i, len(winners) * self.weights[i][0].size - done)

    # -- measures ----------------------------------------------------------------------------
    def active_connections(self) -> list[int]:
        return [int(self.active(i).sum()) for i in range(len(self.shapes))]

    def total_connections(self) -> list[int]:
        return [int(p.size) for p in self.pruned]

    def convergence(self, i: int) -> float:
        """C = mean(w (1 - w)) over the layer's effective weights: a pruned connection counts as
        weight 0, which is what it contributes, so pruning does not hold convergence back."""
        return self.ariths[i].convergence(np.where(self.active(i), self.weights[i], 0))

    # -- state ---------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        st = {"learned": np.array(self.learned, dtype=np.int64),
              "window": np.array(self.window, dtype=np.int64)}
        for i in range(len(self.shapes)):
            st[f"weights{i}"] = self.weights[i]
            st[f"pruned{i}"] = self.pruned[i]
            st[f"channel_on{i}"] = self.channel_on[i]
        st.update({f"counter.{k}": v for k, v in self.counters.values.items()})
        st.update({f"policy.{k}": v for k, v in self.pruning.state().items()})
        return st

    def load_state(self, st) -> None:
        self.learned = [int(v) for v in st["learned"]]
        for i in range(len(self.shapes)):
            w, p = np.array(st[f"weights{i}"]), np.array(st[f"pruned{i}"])
            if w.shape != self.shapes[i] or p.shape != self.shapes[i]:
                raise ValueError(f"state for layer {i} has shape {w.shape}, the config needs "
                                 f"{self.shapes[i]}")
            self.weights[i], self.pruned[i] = w.astype(self.weights[i].dtype), p.astype(bool)
            self.channel_on[i] = np.array(st[f"channel_on{i}"], dtype=bool)
        self.window = int(st["window"])
        for k in self.counters.values:
            self.counters.values[k] = np.array(st[f"counter.{k}"], dtype=np.int64)
        self.pruning.load_state({k.removeprefix("policy."): np.array(st[k]) for k in st
                                 if k.startswith("policy.")})
