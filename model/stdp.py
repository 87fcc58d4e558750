"""The STDP unit: applies the learning rule to the winners' kernels, skipping pruned connections.

For each winner (map f, row y, column x, fire time t_post) and each unpruned weight (c, ky, kx) of
kernel f, the pre-synaptic time is the input spike time at (c, y + ky, x + kx) of the padded input
(padding never spikes); the update is LTP when t_pre <= t_post, else LTD, and uses:

* fixed point: exactly ``fixedpoint.Formats.stdp`` (the documented rule, in NumPy), with the random
  word ``rng.words(round_key, addr)`` of the weight's address; this module computes the same thing
  in a compiled loop, one synapse at a time, as a hardware lane does, and
  ``tests/model/test_stdp.py`` holds the two together;
* float: ``w += a w (1 - w)``, clipped to [0, 1].

Returns the number of weights updated; the pruned ones of the winners' kernels are skipped.
"""
from __future__ import annotations

import numba
import numpy as np

from . import rng
from .fixedpoint import Formats

_M = 0xFFFF_FFFF


@numba.njit(cache=True, nogil=True, inline="always")
def _mix32(h):
    # rng.mix32 in int64 arithmetic: products wrap, and the mask keeps their exact low 32 bits.
    h &= _M
    h ^= h >> 16
    h = (h * 0x85EB_CA6B) & _M
    h ^= h >> 13
    h = (h * 0xC2B2_AE35) & _M
    h ^= h >> 16
    return h


@numba.njit(cache=True, nogil=True)
def _fixed_rule(q, ltp, addr, p):
    """fixedpoint.Formats.stdp for one synapse; p = (a+_q, |a-_q|, key, W, W + A, stochastic)."""
    a_plus, a_minus, key, weight_bits, shift, stochastic = p
    full = 1 << weight_bits
    num = (a_plus if ltp else a_minus) * q * (full - q)
    if stochastic:
        num += _mix32(key ^ addr) & ((1 << shift) - 1)
    dq = num >> shift
    return min(max(q + dq if ltp else q - dq, 0), full - 1)


@numba.njit(cache=True, nogil=True)
def _float_rule(q, ltp, addr, p):
    """w + a w (1 - w), clipped to [0, 1]; p = (a+, a-) with a- < 0."""
    a = p[0] if ltp else p[1]
    return min(max(q + a * q * (1.0 - q), 0.0), 1.0)


@numba.njit(cache=True, nogil=True)
def _apply(rule, p, w, pruned, fmap, ys, xs, post, src, kernel):
    n_fan = w.shape[1]
    done = 0
    for j in range(fmap.size):
        f = fmap[j]
        idx = 0
        for c in range(src.shape[0]):
            for ky in range(kernel):
                for kx in range(kernel):
                    if not pruned[f, idx]:
                        ltp = src[c, ys[j] + ky, xs[j] + kx] <= post[j]
                        w[f, idx] = rule(w[f, idx], ltp, f * n_fan + idx, p)
                        done += 1
                    idx += 1
    return done


def apply(arith, cfg, layer: int, n: int, weights: np.ndarray, pruned: np.ndarray,
          winners: np.ndarray, post: np.ndarray, src: np.ndarray, kernel: int) -> int:
    """Update ``weights`` (F, C, k, k) in place for the n-th learning image of ``layer``.

    ``winners`` (n_win, 3) of (map, row, column), ``post`` their fire times, ``src`` the padded
    input spike times (C, H + 2p, W + 2p).
    """
    f_n = weights.shape[0]
    w2, p2 = weights.reshape(f_n, -1), pruned.reshape(f_n, -1)     # views: updated in place
    fmap, ys, xs = (np.ascontiguousarray(a) for a in winners.T)
    post = np.ascontiguousarray(post, dtype=np.int64)
    a_plus, a_minus = arith.rates(cfg, n)
    if isinstance(arith, Formats):
        key = rng.round_key(cfg.seed, layer, n) if arith.stochastic else 0
        rule, p = _fixed_rule, (a_plus, a_minus, key, arith.weight_bits, arith.stdp_shift,
                                arith.stochastic)
    else:
        rule, p = _float_rule, (float(a_plus), float(a_minus))
    return _apply(rule, p, w2, p2, fmap, ys, xs, post, src, kernel)
