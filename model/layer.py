"""A TTFS convolution layer: non-leaky integrate-and-fire, one spike per neuron at most.

Semantics (the hardware follows them; ``sim/`` checks it):

* Time is processed step by step. In step t every input spike with time t adds the weight of
  each of its unpruned synapses to the potential of the target neuron, saturating at the
  format's limit; after the step, a neuron whose potential has reached the threshold
  (V >= threshold; SpykeTorch fires when V > threshold) fires at t, if it has not fired before. Potentials keep integrating after a neuron fired (they are the
  readout features of the last layer), but a neuron never fires twice. Weights are
  non-negative, so the order of the events within a step does not change any result.
* Pointwise inhibition: at each position only the earliest of the maps keeps its spike; a tie is
  broken by the larger potential at the fire time, then by the lower map index.
* Pooling takes the earliest spike in each window (TTFS max pooling).

``integrate`` is that event-driven loop, compiled with numba: its cost grows with the synaptic
operations, as the hardware's does, not with the size of the layer. Fixed-point mode runs it on
int64 weights and potentials, float mode on float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass
class LayerOutput:
    times: np.ndarray      # (B, F, Ho, Wo) spike times, T = never
    v_fire: np.ndarray     # (B, F, Ho, Wo) potential at the fire time, 0 if never
    v_final: np.ndarray    # (B, F, Ho, Wo) potential after the last time step
    sop_done: np.ndarray   # (B,) synaptic accumulations performed
    sop_skipped: np.ndarray  # (B,) synaptic events skipped because the connection is pruned


def padded(times: np.ndarray, padding: int, T: int) -> np.ndarray:
    """Spike times (..., H, W) with a border of ``padding`` neurons that never spike."""
    h, w = times.shape[-2:]
    out = np.full(times.shape[:-2] + (h + 2 * padding, w + 2 * padding), T, dtype=times.dtype)
    out[..., padding:padding + h, padding:padding + w] = times
    return out


@numba.njit(cache=True, nogil=True)
def _integrate(times, w, active, padding, T, threshold, vmax, side_out, fire, v_fire, v, sops):
    w_max = w.max() if w.size else 0
    b_n, c_n, side_in, _ = times.shape
    f_n, _, k, _ = w.shape
    # Weights laid out (C, k, k, F) so the innermost loop runs over the maps of one synapse.
    w_t = np.zeros((c_n, k, k, f_n), dtype=v.dtype)
    n_active = np.zeros((c_n, k, k), dtype=np.int64)
    for f in range(f_n):
        for c in range(c_n):
            for ky in range(k):
                for kx in range(k):
                    if active[f, c, ky, kx]:
                        w_t[c, ky, kx, f] = w[f, c, ky, kx]
                        n_active[c, ky, kx] += 1
    n_pos = side_out * side_out
    touched = np.empty(n_pos, dtype=np.int64)     # positions where a neuron crossed this step
    stamp = np.full(n_pos, -1, dtype=np.int64)
    # Saturation can only happen if a full receptive field of maximal weights exceeds vmax.
    saturating = c_n * k * k * w_max > vmax
    for b in range(b_n):
        # Bucket the input spikes by time step (a counting sort).
        count = np.zeros(T + 1, dtype=np.int64)
        for c in range(c_n):
            for y in range(side_in):
                for x in range(side_in):
                    count[times[b, c, y, x]] += 1
        first = np.zeros(T + 1, dtype=np.int64)
        for t in range(1, T + 1):
            first[t] = first[t - 1] + count[t - 1]
        order = np.empty(first[T], dtype=np.int64)
        fill = first.copy()
        for c in range(c_n):
            for y in range(side_in):
                for x in range(side_in):
                    t = times[b, c, y, x]
                    if t < T:
                        order[fill[t]] = (c * side_in + y) * side_in + x
                        fill[t] += 1
        # Working state with the maps innermost; copied out to (F, H, W) at the end.
        vb = np.zeros((n_pos, f_n), dtype=v.dtype)
        fb = np.full((n_pos, f_n), T, dtype=fire.dtype)
        vfb = np.zeros((n_pos, f_n), dtype=v.dtype)
        done = 0
        skipped = 0
        stamp[:] = -1
        for t in range(T):
            n_touched = 0
            for e in range(first[t], first[t] + count[t]):
                c, rest = divmod(order[e], side_in * side_in)
                iy, ix = divmod(rest, side_in)
                for ky in range(k):
                    oy = iy + padding - ky
                    if oy < 0 or oy >= side_out:
                        continue
                    for kx in range(k):
                        ox = ix + padding - kx
                        if ox < 0 or ox >= side_out:
                            continue
                        done += n_active[c, ky, kx]
                        skipped += f_n - n_active[c, ky, kx]
                        pos = oy * side_out + ox
                        v_row = vb[pos]
                        w_row = w_t[c, ky, kx]
                        crossed = False
                        # Branch-free over the maps so the loop vectorises; a crossing is
                        # old < threshold <= new.
                        if saturating:
                            for f in range(f_n):
                                old = v_row[f]
                                new = min(old + w_row[f], vmax)
                                v_row[f] = new
                                crossed |= (old < threshold) & (new >= threshold)
                        else:
                            for f in range(f_n):
                                old = v_row[f]
                                new = old + w_row[f]
                                v_row[f] = new
                                crossed |= (old < threshold) & (new >= threshold)
                        if crossed and stamp[pos] != t:
                            stamp[pos] = t
                            touched[n_touched] = pos
                            n_touched += 1
            # After the step: neurons that reached the threshold fire now (once), with the
            # potential the whole step left them.
            for j in range(n_touched):
                pos = touched[j]
                for f in range(f_n):
                    if vb[pos, f] >= threshold and fb[pos, f] == T:
                        fb[pos, f] = t
                        vfb[pos, f] = vb[pos, f]
        for f in range(f_n):
            for oy in range(side_out):
                for ox in range(side_out):
                    pos = oy * side_out + ox
                    v[b, f, oy, ox] = vb[pos, f]
                    fire[b, f, oy, ox] = fb[pos, f]
                    v_fire[b, f, oy, ox] = vfb[pos, f]
        sops[b, 0] = done
        sops[b, 1] = skipped


def integrate(times_in: np.ndarray, weights: np.ndarray, active: np.ndarray, kernel: int,
              padding: int, T: int, threshold, vmax, dtype, window: int | None = None) -> LayerOutput:
    """Run one layer on a batch (B, C, H, W) of input spike times.

    ``weights`` (F, C, k, k) with ``active``, its unpruned mask; ``threshold``, ``vmax`` (the
    saturation limit) and ``dtype`` come from the arithmetic (fixed point or float).
    ``window`` < T processes only time steps 0 .. window - 1: later input spikes never arrive,
    neurons that have not fired by then never fire (time T), and the final potentials are those
    at the window's end.
    """
    if window is not None and window < T:
        if not 1 <= window:
            raise ValueError(f"window = {window}: must be 1 .. T = {T}")
        out = integrate(np.minimum(times_in, window), weights, active, kernel, padding, window,
                        threshold, vmax, dtype)
        out.times[out.times == window] = T
        return out
    if not threshold > 0:
        # Only events are checked against the threshold: a neuron with no input never fires.
        raise ValueError(f"threshold = {threshold}: must be > 0")
    b = times_in.shape[0]
    f = weights.shape[0]
    side = times_in.shape[-1] + 2 * padding - kernel + 1
    fire = np.empty((b, f, side, side), dtype=np.int16)
    v_fire = np.empty((b, f, side, side), dtype=dtype)
    v = np.empty((b, f, side, side), dtype=dtype)
    sops = np.zeros((b, 2), dtype=np.int64)
    _integrate(np.ascontiguousarray(times_in, dtype=np.int16), weights.astype(dtype, copy=False),
               active, padding, T, dtype(threshold), dtype(vmax), side, fire, v_fire, v, sops)
    return LayerOutput(fire, v_fire, v, sops[:, 0], sops[:, 1])


def pointwise_inhibition(times: np.ndarray, v_fire: np.ndarray, T: int) -> np.ndarray:
    """Keep at each position only the earliest map's spike (ties: larger potential, lower map)."""
    first = times.min(axis=1, keepdims=True)
    contender = (times == first) & (first < T)
    best = np.argmax(np.where(contender, v_fire, -1), axis=1)[:, None]       # first max: lower map
    keep = np.arange(times.shape[1])[None, :, None, None] == best
    return np.where(keep & contender, times, T).astype(times.dtype)


def pool(times: np.ndarray, size: int, stride: int) -> np.ndarray:
    """First-spike (min-time) pooling, no padding: windows that do not fit are dropped."""
    side = (times.shape[-1] - size) // stride + 1
    span = (side - 1) * stride + 1
    out = times[..., :span:stride, :span:stride].copy()
    for dy in range(size):
        for dx in range(size):
            np.minimum(out, times[..., dy:dy + span:stride, dx:dx + span:stride], out=out)
    return out
