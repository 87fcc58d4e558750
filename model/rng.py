"""The project's only source of randomness: a stateless 32-bit counter hash.

Hardware and model must draw identical random numbers, and the hardware updates P synapses per
cycle, so the generator is a *counter hash*, not a sequential LFSR: the random word for a given
use is ``mix32(key ^ counter)``, computable for any counter independently.

``mix32`` is the 32-bit finaliser of MurmurHash3 (fmix32): two xor-shifts and two multiplications by
constants, all modulo 2^32. It is a bijection of 32-bit words, so distinct counters under one key
never collide. In RTL it is three xor-shift stages and two constant multipliers.

Keys (all arithmetic modulo 2^32; GOLDEN = 0x9E3779B9):

    layer_key(seed, layer)       = mix32(seed ^ ((layer + 1) * GOLDEN))
    init_key(seed, layer)        = mix32(layer_key ^ INIT_SALT)
    round_key(seed, layer, n)    = mix32(layer_key ^ n)             n: images this layer has learned
    stdp_word(round_key, addr)   = mix32(round_key ^ addr)          addr: weight address in the layer
    init_words(init_key, addr)   = mix32(init_key ^ 2addr), mix32(init_key ^ (2addr + 1))

A weight address is ``map * fan_in + (channel * k + ky) * k + kx``: the flat index of the weight
in the layer's (maps, channels, k, k) array. Each map has at most one winner per image, so every
(n, addr) pair is used at most once.
"""
from __future__ import annotations

import numpy as np

MASK32 = 0xFFFF_FFFF
GOLDEN = 0x9E37_79B9
INIT_SALT = 0x5EED_1A17
_C1 = 0x85EB_CA6B
_C2 = 0xC2B2_AE35


def mix32(x):
    """MurmurHash3 fmix32 on an int or an integer array; returns uint64 values < 2^32."""
    h = np.asarray(x, dtype=np.uint64) & MASK32
    h = h ^ (h >> 16)
    h = (h * _C1) & MASK32
    h = h ^ (h >> 13)
    h = (h * _C2) & MASK32
    h = h ^ (h >> 16)
    return h


def layer_key(seed: int, layer: int) -> int:
    return int(mix32((seed ^ ((layer + 1) * GOLDEN)) & MASK32))


def init_key(seed: int, layer: int) -> int:
    return int(mix32(layer_key(seed, layer) ^ INIT_SALT))


def round_key(seed: int, layer: int, n: int) -> int:
    """Key of the n-th learning image of a layer (n counts from 0)."""
    return image_key(layer_key(seed, layer), n)


def image_key(key: int, n: int) -> int:
    """``round_key`` from the layer's key: what the STDP unit computes from its ``layer_key``
    and ``image_n`` registers."""
    return int(mix32(key ^ (n & MASK32)))


def words(key: int, counters) -> np.ndarray:
    """Random 32-bit words mix32(key ^ counter) for an array of counters (uint64 result)."""
    c = np.asarray(counters, dtype=np.uint64)
    return mix32(np.uint64(key) ^ c)
