"""Weight quantization (Chowdhury et al. 2021): a trained network's layers re-expressed on fewer weight bits.

The command that sweeps a trained network over widths is ``python -m report.quantize``.

What the paper does: it quantizes the weights of its spiking network uniformly to a few bits
while training (quantization-aware training), and reports accuracy against the bit width.

What we do instead, and why: the network learns with STDP on the chip's own integer width --
the stochastic rounding of ``model/fixedpoint.py`` makes sub-LSB updates unbiased, so training
at b bits needs no shadow full-precision weights: setting ``layers[i].weight_bits: b`` in the
config trains layer i at b bits directly, on the model and on the core. What this module adds
is the *post-training* step: the weights an STDP run learned at W bits rounded to b bits, so
one trained network gives the whole accuracy-versus-width curve without retraining per width.

The rounding, per weight, from W to b bits (round to nearest, ties up, then clipped):

    q_b = min((q_W * 2^b + 2^(W-1)) >> W, 2^b - 1)

which is exactly ``q_W * 2^(b-W)`` when b >= W (widening is lossless). The clip matters: a
weight within half a b-bit LSB of 1.0 would round to 2^b, which is 1.0 and not representable.

What is kept: the layer's threshold stays the same in units of weight 1.0 and is re-expressed
in the new LSBs, round(threshold * 2^b) (as every layer's is, ``Network.thresholds``); so is the
pruning threshold. The pruning mask, the map enables, the inference window, the images learned
and the policy's state are copied unchanged: a connection whose weight rounds to 0 is not
pruned by quantization (it still costs its cycle on the core; pruning is the policy's decision).
The quantized network is an ordinary ``Network`` of a config whose layers carry their widths, so
it runs on the model and on the layer cores built for those widths (hw/ reads the width from
``EngineLayout``).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import config as C
from . import readout
from .network import Network

WIDTHS = tuple(range(2, 9))       # the sweep's default widths


def requantize(q: np.ndarray, from_bits: int, to_bits: int) -> np.ndarray:
    """Weights of ``from_bits`` bits rounded to nearest on ``to_bits`` bits (module docstring)."""
    q = np.asarray(q, dtype=np.int64)
    return np.minimum((q * (1 << to_bits) + (1 << (from_bits - 1))) >> from_bits,
                      (1 << to_bits) - 1)


def _per_layer(cfg: C.Config, bits) -> list[int]:
    """``bits``: one width for every layer, or one per layer (None: keep the layer's)."""
    n = len(cfg.layers)
    if isinstance(bits, Sequence):
        if len(bits) != n:
            raise ValueError(f"bits = {list(bits)}: needs one width per layer ({n}), or one int")
        return [cfg.weight_bits(i) if b is None else int(b) for i, b in enumerate(bits)]
    return [int(bits)] * n


def quantized_config(cfg: C.Config, bits) -> C.Config:
    """``cfg`` with ``layers[i].weight_bits`` set (``bits``: an int or one per layer, None kept),
    validated: a threshold that falls below one LSB of its layer's new width is a ConfigError."""
    return C.replace(cfg, **{f"layers.{i}.weight_bits": b
                             for i, b in enumerate(_per_layer(cfg, bits))})


def quantize(net: Network, bits) -> Network:
    """A copy of the trained fixed-point ``net`` whose layer i has ``bits`` (an int for every
    layer, or one per layer, None: unchanged) weight bits; everything but the weights is kept."""
    if net.mode != "fixed":
        raise ValueError(f"mode = {net.mode!r}: quantization takes a fixed-point network "
                         "(mode 'fixed'), whose weights are integers of known width")
    out = Network(quantized_config(net.cfg, bits), net.mode)
    st = net.state()
    for i in range(len(net.shapes)):
        st[f"weights{i}"] = requantize(net.weights[i], net.cfg.weight_bits(i),
                                       out.cfg.weight_bits(i))
    out.load_state(st)
    return out


def readout_accuracy(net: Network, ds) -> float:
    """Test accuracy of the SVM readout fitted on ``net``'s training features (nothing counted)."""
    clf = readout.fit(net.cfg, net.features(ds.train_x, phase=None), ds.train_y)
    return readout.accuracy(clf, net.features(ds.test_x, phase=None), ds.test_y)


def quantization_sweep(net: Network, ds, bits: Sequence[int] = WIDTHS,
                       per_layer: bool = False) -> list[dict]:
    """Readout accuracy of ``net`` quantized to each width in ``bits``: one row
    ``{"bits": b, "layer": "all", "accuracy": a}`` per width with every layer at b bits, and
    with ``per_layer`` one row per layer and width with only that layer at b bits (``"layer"``:
    its name; the others keep their widths). ``accuracy`` is None at a width where a layer's
    threshold is below one LSB (the config is refused)."""
    def acc(b) -> float | None:
        try:
            return readout_accuracy(quantize(net, b), ds)
        except C.ConfigError:
            return None

    n = len(net.cfg.layers)
    rows = [{"bits": int(b), "layer": "all", "accuracy": acc(b)} for b in bits]
    if per_layer:
        rows += [{"bits": int(b), "layer": lc.name,
                  "accuracy": acc([b if j == i else None for j in range(n)])}
                 for i, lc in enumerate(net.cfg.layers) for b in bits]
    return rows
