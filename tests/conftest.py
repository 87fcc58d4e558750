"""Shared helpers for the model tests: paths, small configs, an independent fmix32."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# model/data.py caches the MNIST subset under the relative path build/cache: run from the root.
os.chdir(ROOT)

from model import config as C  # noqa: E402

TINY = ROOT / "configs" / "tiny.yaml"
MNIST = ROOT / "configs" / "mnist.yaml"

M32 = 0xFFFF_FFFF


def fmix32(h: int) -> int:
    """MurmurHash3's 32-bit finaliser, written out with plain Python ints (reference)."""
    h &= M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def tiny(**changes):
    """The tiny config, optionally with dotted keys changed."""
    cfg = C.load(TINY)
    return C.replace(cfg, **changes) if changes else cfg


@pytest.fixture(scope="session")
def tiny_cfg():
    return C.load(TINY)


@pytest.fixture(scope="session")
def tiny_data():
    from model import data
    return data.load(C.load(TINY))


@pytest.fixture(scope="session")
def tiny_encoded(tiny_data):
    """The first 60 training images of the tiny config, encoded (N, 2, 14, 14)."""
    from model import encoding
    return encoding.encode(C.load(TINY), tiny_data.train_x[:60])


@pytest.fixture(scope="session")
def tiny_net(tiny_cfg, tiny_encoded):
    """(config, network with its initial weights, encoded images) of the tiny config."""
    from model import network
    return tiny_cfg, network.Network(tiny_cfg), tiny_encoded


def layer_input(net, i: int, times: np.ndarray) -> np.ndarray:
    """Input spike times of layer i of ``net``, computed layer by layer (counts under 'infer')."""
    for j in range(i):
        times = net.outgoing(j, net.run_layer(j, times, "infer"))
    return times


def random_synapses(net, layer: int, seed: int, prune: float):
    """Seeded random weights (0 .. 255) of ``layer`` and its live mask, ``prune`` of the
    connections pruned (weights drawn first, then the mask)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, net.shapes[layer]), rng.random(net.shapes[layer]) >= prune


def layer_output(lay, x, weights, active, threshold):
    """The model layer on a batch ``x`` (B, C, S, S), sized and saturating as the layout says."""
    from model.layer import integrate
    return integrate(x, weights, active, lay.kernel, lay.padding, lay.time_steps, threshold,
                     (1 << lay.potential_bits) - 1, np.int64)


CORE_PRUNE_TH = 77


def core_case(tiny_net, layer, lanes, image, seed, prune):
    """A layer-core case on the tiny network: seeded synapses strong enough to fire, many
    live weights just above a pruning threshold (so learning prunes), the STDP rates of an
    image past a few rate doublings."""
    from model import rng
    from cycles.layout import EngineLayout
    from cycles.learning import LearningParams
    cfg, net, times = tiny_net
    x = layer_input(net, layer, times[image:image + 1])
    rs = np.random.default_rng(seed)
    weights = rs.integers(90, 256, net.shapes[layer])      # strong enough to fire ...
    near = rs.random(net.shapes[layer]) < 0.3               # ... and many near the threshold
    weights[near] = CORE_PRUNE_TH + rs.integers(0, 4, int(near.sum()))
    # Live connections at or above it, as after the warm-up's sweep (tests/hw/test_stdp_unit.py).
    active = (rs.random(net.shapes[layer]) >= prune) & (weights >= CORE_PRUNE_TH)
    lay = EngineLayout.for_input(cfg, layer, lanes, x)
    n = 300 + seed
    a_plus, a_minus = net.arith.rates(cfg, n)
    learning = LearningParams(int(a_plus), int(a_minus), rng.layer_key(cfg.seed, layer), n,
                              check=True, prune_th=CORE_PRUNE_TH)
    return dict(cfg=cfg, net=net, lay=lay, lc=cfg.layers[layer], x=x[0], weights=weights,
                active=active, threshold=net.thresholds[layer], layer=layer, learning=learning)


def narrow_core_case(tiny_cfg, encoded, layer, lanes, image, seed, prune, bits):
    """``core_case`` on the tiny network with every layer at ``bits`` weight bits: its 8-bit
    weights and pruning threshold requantized (model/quantize.py, monotone, so the live
    connections stay at or above the threshold), thresholds in the narrow LSBs."""
    from model import network
    from model.quantize import quantized_config, requantize
    cfg = quantized_config(tiny_cfg, bits)
    c = core_case((cfg, network.Network(cfg), encoded), layer, lanes, image, seed, prune)
    c["weights"] = requantize(c["weights"], 8, bits)
    c["learning"] = replace(c["learning"], prune_th=int(requantize(CORE_PRUNE_TH, 8, bits)))
    return c
