"""Number formats and the fixed-point STDP rule: defined here once, used by model and hardware.

Formats (widths come from ``formats`` in the config; a layer may set its own ``weight_bits``,
and then its weights, threshold, potentials and STDP use that width W, see
``Config.weight_bits``):

* **Weight** ``q``: unsigned, W = ``weight_bits`` bits, ``q`` in ``0 .. 2^W - 1`` stands for
  ``w = q / 2^W`` (so 1.0 itself is not representable; the largest weight is 1 - 2^-W).
* **Potential** ``V``: unsigned, P = ``potential_bits`` bits, in weight LSBs. Every
  accumulation saturates: ``V <- min(V + q, 2^P - 1)``. Weights are non-negative, so saturating
  each addition equals saturating the sum, whatever the order of the events.
* **Threshold**: ``round(threshold * 2^W)`` weight LSBs; a neuron fires when ``V >= threshold``.
* **STDP rate** ``a``: signed, ``rate_frac_bits`` = A fraction bits, ``a_q = round(a * 2^A)``.

The STDP rule (docs/design.md 2.2, multiplicative): ``dw = a * w * (1 - w)``, with a = a+ when the
pre-synaptic spike came no later than the post-synaptic one (an input that never spiked counts as
later) and a = a- otherwise. In LSBs that is ``dq = a_q * q * (2^W - q) / 2^(W + A)``. With 8-bit
weights and a+ = 0.004 this is below one LSB, so the magnitude is rounded *stochastically*:

    num = |a_q| * q * (2^W - q)                 exact integer, < 2^(A + 2W)
    r   = stdp_word & (2^(W + A) - 1)           uniform in [0, 2^(W+A)), see model/rng.py
    |dq| = (num + r) >> (W + A)                 so E[|dq|] = num / 2^(W+A) exactly
    q'  = clamp(q + sign(a) * |dq|, 0, 2^W - 1)

``rounding: floor`` uses r = 0 (kept to show that it cannot learn). ``q = 0`` never moves, as in
the real-valued rule.

The learning-rate schedule is computed in integers too: ``a+_q(n) = min(a+_q(0) * 2^(n // d),
a+max_q)`` and ``|a-_q(n)| = a+_q(n) * |a-_q(0)| // a+_q(0)``, for the n-th image a layer learns.

Weight initialisation ~ N(mean, std) uses four 16-bit uniforms (Irwin-Hall, n = 4) from two hash
words per weight: ``c = u0 + u1 + u2 + u3 - 2 * 65535``, whose standard deviation is
``65536 / sqrt(3)``; ``q = clamp(mean_q + ((c * scale + 2^15) >> 16), 0, 2^W - 1)`` with
``scale = round(std * 2^W * sqrt(3))`` and ``mean_q = round(mean * 2^W)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import rng
from .config import Config


@dataclass(frozen=True)
class Formats:
    """The integer formats of one config, with the conversions both model and RTL use."""

    weight_bits: int
    potential_bits: int
    rate_frac_bits: int
    stochastic: bool

    @classmethod
    def from_config(cls, cfg: Config, layer: int | None = None) -> "Formats":
        """The formats of layer ``layer`` (its weight width), or the network's defaults."""
        f = cfg.formats
        wb = f.weight_bits if layer is None else cfg.weight_bits(layer)
        return cls(wb, f.potential_bits, f.rate_frac_bits, f.rounding == "stochastic")

    @property
    def weight_max(self) -> int:
        return (1 << self.weight_bits) - 1

    @property
    def potential_max(self) -> int:
        return (1 << self.potential_bits) - 1

    @property
    def stdp_shift(self) -> int:
        return self.weight_bits + self.rate_frac_bits

    def weight_q(self, w: float) -> int:
        """A real weight (threshold, pruning threshold) in weight LSBs."""
        return int(round(w * (1 << self.weight_bits)))

    def rate_q(self, a: float) -> int:
        return int(round(a * (1 << self.rate_frac_bits)))

    def rates(self, cfg: Config, n: int) -> tuple[int, int]:
        """(a+_q, |a-_q|) for the n-th learning image of a layer."""
        s = cfg.stdp
        ap0, am0 = self.rate_q(s.a_plus), -self.rate_q(s.a_minus)
        ap = min(ap0 << min(n // s.double_every, 40), self.rate_q(s.a_plus_max))
        return ap, ap * am0 // ap0

    def stdp(self, q: np.ndarray, ltp: np.ndarray, a_plus_q: int, a_minus_mag_q: int,
             words: np.ndarray | None) -> np.ndarray:
        """New weights after one STDP update of ``q`` (int array); ``ltp`` says a = a+."""
        q = q.astype(np.int64)
        num = np.where(ltp, a_plus_q, a_minus_mag_q) * q * ((1 << self.weight_bits) - q)
        if self.stochastic:
            num = num + (words.astype(np.int64) & ((1 << self.stdp_shift) - 1))
        dq = num >> self.stdp_shift
        return np.clip(np.where(ltp, q + dq, q - dq), 0, self.weight_max)

    def update(self, cfg: Config, layer: int, n: int, q: np.ndarray, ltp: np.ndarray,
               addr: np.ndarray) -> np.ndarray:
        """STDP on the weights ``q`` at addresses ``addr`` for the n-th learning image of a layer."""
        a_plus, a_minus = self.rates(cfg, n)
        words = rng.words(rng.round_key(cfg.seed, layer, n), addr) if self.stochastic else None
        return self.stdp(q, ltp, a_plus, a_minus, words).astype(q.dtype)

    # -- what the network needs from an arithmetic (model/floatmode.py has the real-valued twin)
    dtype = np.int64            # weights and potentials in model/layer.py

    def threshold(self, value: float) -> int:
        return self.weight_q(value)

    def real(self, q: np.ndarray) -> np.ndarray:
        return q.astype(np.float64) / (1 << self.weight_bits)

    def init_weights(self, cfg: Config, layer: int, shape: tuple[int, ...]) -> np.ndarray:
        """Initial weights of a layer, N(init_mean, init_std) by hashed Irwin-Hall."""
        n = int(np.prod(shape))
        key = rng.init_key(cfg.seed, layer)
        addr = np.arange(n, dtype=np.uint64)
        w0, w1 = rng.words(key, 2 * addr), rng.words(key, 2 * addr + 1)
        c = ((w0 & 0xFFFF) + (w0 >> 16) + (w1 & 0xFFFF) + (w1 >> 16)).astype(np.int64) - 2 * 65535
        scale = int(round(cfg.stdp.init_std * (1 << self.weight_bits) * math.sqrt(3)))
        q = self.weight_q(cfg.stdp.init_mean) + ((c * scale + (1 << 15)) >> 16)
        return np.clip(q, 0, self.weight_max).astype(np.int64).reshape(shape)

    def convergence(self, q: np.ndarray) -> float:
        """C = mean(w (1 - w)) over the given weights."""
        w = self.real(q)
        return float(np.mean(w * (1 - w))) if w.size else 0.0
