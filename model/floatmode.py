"""The real-valued twin of ``fixedpoint.Formats``: the same network in float64, weights in [0, 1].

It follows docs/design.md 2.2 exactly as written (dw = a w (1 - w), no rounding, no saturation), so
comparing it with the fixed-point model measures what the integer formats cost. Initial weights
are the fixed-point ones divided by 2^W (the layer's W), so both modes start from the same
network.
"""
from __future__ import annotations

import numpy as np

from .config import Config
from .fixedpoint import Formats


class FloatFormats:
    dtype = np.float64

    def __init__(self, fixed: Formats):
        self.fixed = fixed

    @classmethod
    def from_config(cls, cfg: Config, layer: int | None = None) -> "FloatFormats":
        return cls(Formats.from_config(cfg, layer))

    def threshold(self, value: float) -> float:
        return float(value)

    potential_max = np.inf

    def real(self, w: np.ndarray) -> np.ndarray:
        return np.asarray(w, dtype=np.float64)

    def init_weights(self, cfg: Config, layer: int, shape: tuple[int, ...]) -> np.ndarray:
        return self.fixed.real(self.fixed.init_weights(cfg, layer, shape))

    @staticmethod
    def rates(cfg: Config, n: int) -> tuple[float, float]:
        s = cfg.stdp
        ap = min(s.a_plus * 2.0 ** (n // s.double_every), s.a_plus_max)
        return ap, ap * s.a_minus / s.a_plus

    def update(self, cfg: Config, layer: int, n: int, w: np.ndarray, ltp: np.ndarray,
               addr: np.ndarray) -> np.ndarray:
        a_plus, a_minus = self.rates(cfg, n)
        return np.clip(w + np.where(ltp, a_plus, a_minus) * w * (1 - w), 0.0, 1.0)

    def convergence(self, w: np.ndarray) -> float:
        return float(np.mean(w * (1 - w))) if w.size else 0.0


def arithmetic(cfg: Config, mode: str, layer: int | None = None):
    """The arithmetic for ``mode``: 'fixed' (bit-accurate, the default) or 'float'; of layer
    ``layer`` (its weight width) or, with None, of the network's default formats."""
    if mode == "fixed":
        return Formats.from_config(cfg, layer)
    if mode == "float":
        return FloatFormats.from_config(cfg, layer)
    raise ValueError(f"mode = {mode!r}: allowed modes are 'fixed' and 'float'")
