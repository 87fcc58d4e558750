"""Number formats, fixed-point STDP, rate schedule, weight init (model/fixedpoint.py) and the
counter-hash RNG (model/rng.py), each against values worked out from the documented formulas."""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import M32, fmix32, tiny
from model import rng
from model.fixedpoint import Formats

GOLDEN = 0x9E3779B9
INIT_SALT = 0x5EED1A17

F8 = Formats(8, 18, 16, True)          # W = 8, A = 16: shift W + A = 24
F8_FLOOR = Formats(8, 18, 16, False)
TWO24 = 1 << 24


def _stdp(fmt, q, ltp, ap, am, words=None):
    q = np.asarray(q, dtype=np.int64)
    ltp = np.asarray(ltp, dtype=bool)
    w = None if words is None else np.asarray(words, dtype=np.uint64)
    return fmt.stdp(q, ltp, ap, am, w).tolist()


# -- rng ---------------------------------------------------------------------------------------

def test_mix32_matches_fmix32():
    # Independent reference: MurmurHash3 fmix32 with plain Python ints (conftest.fmix32).
    assert fmix32(0) == 0
    xs = [0, 1, 2, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
    xs += np.random.default_rng(11).integers(0, 1 << 32, 5000, dtype=np.uint64).tolist()
    got = rng.mix32(np.array(xs, dtype=np.uint64))
    assert got.dtype == np.uint64
    assert got.tolist() == [fmix32(x) for x in xs]
    assert int(rng.mix32(0xDEADBEEF)) == fmix32(0xDEADBEEF)     # scalar input


def test_mix32_bijective_on_samples():
    low = rng.mix32(np.arange(1 << 16, dtype=np.uint64))
    high = rng.mix32(np.arange(1 << 16, dtype=np.uint64) << np.uint64(16))
    assert len(np.unique(low)) == 1 << 16 and len(np.unique(high)) == 1 << 16
    assert int(low.max()) <= M32 and int(high.max()) <= M32
    keyed = rng.words(0x12345678, np.arange(1 << 16))
    assert len(np.unique(keyed)) == 1 << 16


def test_keys_follow_the_documented_formulas():
    for seed in (0, 1, 7, 0xFFFFFFFF):
        for layer in (0, 1, 5):
            lk = fmix32(seed ^ (((layer + 1) * GOLDEN) & M32))
            assert rng.layer_key(seed, layer) == lk
            assert rng.init_key(seed, layer) == fmix32(lk ^ INIT_SALT)
            for n in (0, 1, 499, 1 << 31):
                assert rng.round_key(seed, layer, n) == fmix32(lk ^ n)


def test_words_are_deterministic_and_keyed():
    addr = np.arange(1000)
    a, b = rng.words(42, addr), rng.words(42, addr)
    assert np.array_equal(a, b)
    assert a.tolist() == [fmix32(42 ^ i) for i in range(1000)]
    assert not np.array_equal(a, rng.words(43, addr))


# -- formats -----------------------------------------------------------------------------------

def test_format_limits():
    assert (F8.weight_max, F8.potential_max, F8.stdp_shift) == (255, (1 << 18) - 1, 24)
    f = Formats.from_config(tiny())
    assert f == Formats(8, 14, 16, True)
    assert Formats.from_config(tiny(**{"formats.rounding": "floor"})).stochastic is False


def test_weight_q_and_threshold():
    # round(x * 256): 3.0 -> 768, 4.0 -> 1024, 0.1 -> round(25.6) = 26, 0.8 -> round(204.8) = 205
    assert F8.weight_q(3.0) == 768 and F8.threshold(4.0) == 1024
    assert F8.weight_q(0.1) == 26 and F8.weight_q(0.8) == 205
    # rates in A = 16 fraction bits: 0.004 * 65536 = 262.144 -> 262; -0.003 -> -196.608 -> -197
    assert F8.rate_q(0.004) == 262 and F8.rate_q(-0.003) == -197
    assert F8.real(np.array([0, 128, 255])).tolist() == [0.0, 0.5, 255 / 256]


def test_rates_schedule_by_hand():
    # tiny: a+ 0.004 -> 262, |a-| 0.003 -> 197, a+max 0.15 -> round(9830.4) = 9830, d = 20.
    # a+(n) = min(262 * 2^(n//20), 9830); |a-|(n) = a+(n) * 197 // 262
    cfg = tiny()
    f = Formats.from_config(cfg)
    expect = {
        0: (262, 197), 19: (262, 197),
        20: (524, 394),                       # 524*197 = 103228 = 262*394
        40: (1048, 788), 60: (2096, 1576), 80: (4192, 3152),
        100: (8384, 6304),                    # 8384*197/262 = 6304 exactly
        119: (8384, 6304),
        120: (9830, 7391),                    # 16768 capped; 9830*197 = 1936510 = 262*7391 + 68
        10**9: (9830, 7391),                  # capped (and the shift is bounded)
    }
    for n, rates in expect.items():
        assert f.rates(cfg, n) == rates, n


# -- STDP, exact cases -------------------------------------------------------------------------

def test_stdp_stochastic_boundaries_small_rate():
    # q = 128, a+ = 262: num = 262*128*128 = 4,292,608 < 2^24, so dq = 1 iff
    # r = word & 0xFFFFFF >= 2^24 - 4,292,608 = 12,484,608; bits above 24 are ignored.
    q = [128] * 5
    words = [0, 12_484_607, 12_484_608, 0xFFFFFFFF, 0xAB000000 | 12_484_607]
    assert _stdp(F8, q, [True] * 5, 262, 197, words) == [128, 128, 129, 129, 128]


def test_stdp_stochastic_boundaries_large_rate():
    # q = 100, 2^8 - q = 156.
    # LTP a+ = 9830: num = 9830*100*156 = 153,348,000 = 9*2^24 + 2,353,056
    #   -> dq = 9, or 10 iff r >= 2^24 - 2,353,056 = 14,424,160.
    # LTD |a-| = 7391: num = 7391*15600 = 115,299,600 = 6*2^24 + 14,636,304
    #   -> dq = 6, or 7 iff r >= 2^24 - 14,636,304 = 2,140,912.
    # LTD from q = 101 (odd boundary, so every bit of r counts): num = 7391*101*155
    #   = 115,706,105 = 6*2^24 + 15,042,809 -> dq = 6, or 7 iff r >= 1,734,407.
    q = [100, 100, 100, 100, 101, 101]
    ltp = [True, True, False, False, False, False]
    words = [14_424_159, 14_424_160, 2_140_911, 2_140_912, 1_734_406, 1_734_407]
    assert _stdp(F8, q, ltp, 9830, 7391, words) == [109, 110, 94, 93, 95, 94]


def test_stdp_floor():
    # r = 0: the same cases floor to 109 (LTP) and 94 (LTD); words are not needed.
    assert _stdp(F8_FLOOR, [100, 100], [True, False], 9830, 7391) == [109, 94]
    # With a+ = 262, num <= 262 * 128 * 128 < 2^24 for every q: floor never moves a weight.
    q = np.arange(256)
    assert _stdp(F8_FLOOR, q, np.ones(256, bool), 262, 197) == q.tolist()
    assert _stdp(F8_FLOOR, q, np.zeros(256, bool), 262, 197) == q.tolist()


def test_stdp_saturates_at_top():
    # q = 255, a+ = 9830, r = 2^24 - 1: num = 9830*255*1 = 2,506,650; (num + r) >> 24 = 1 -> 256,
    # clamped to 255. A huge rate (a+ = 2^20, i.e. 16.0) from q = 250: 2^20*250*6 >> 24 = 93
    # -> 343, clamped to 255.
    assert _stdp(F8, [255], [True], 9830, 7391, [0xFFFFFF]) == [255]
    assert _stdp(F8_FLOOR, [250], [True], 1 << 20, 0) == [255]


def test_stdp_saturates_at_zero():
    # LTD from q = 1, |a-| = 7391, r = 2^24 - 1: num = 7391*255 = 1,884,705 -> dq = 1 -> 0.
    assert _stdp(F8, [1], [False], 9830, 7391, [0xFFFFFF]) == [0]
    # |a-| = 2^17 (2.0) from q = 2, floor: 2^17*2*254 = 66,584,576 >> 24 = 3 -> -1, clamped 0.
    assert _stdp(F8_FLOOR, [2], [False], 0, 1 << 17) == [0]


def test_stdp_zero_never_moves():
    words = rng.words(5, np.arange(1000))
    for ltp in (True, False):
        out = F8.stdp(np.zeros(1000, np.int64), np.full(1000, ltp), 9830, 7391, words)
        assert not out.any()


def test_stdp_small_format_by_hand():
    # W = 4, A = 4 (shift 8). q = 8, a+ = 15: num = 15*8*8 = 960 = 3*256 + 192 -> 11, or 12 iff
    # r = word & 0xFF >= 64. LTD a- = 10 from q = 3: 10*3*13 = 390 = 256 + 134 -> 2, or 1 iff
    # r >= 122.
    f = Formats(4, 8, 4, True)
    out = _stdp(f, [8, 8, 3, 3], [True, True, False, False], 15, 10,
                [0x100 | 63, 64, 121, 0xFF00 | 122])
    assert out == [11, 12, 2, 1]


def test_update_uses_round_key_words():
    # Formats.update = stdp with rates(n) and words mix32(round_key ^ addr); rebuilt here from
    # the rng docstring with Python ints. tiny: seed 7, layer 1, n = 25 -> a+ 524, |a-| 394.
    cfg = tiny()
    f = Formats.from_config(cfg)
    addr = np.array([0, 3, 17, 53, 100])
    q = np.array([200, 150, 120, 90, 30], dtype=np.int32)
    ltp = np.array([True, False, True, False, True])
    lk = fmix32(7 ^ ((2 * GOLDEN) & M32))
    rk = fmix32(lk ^ 25)
    expect = []
    for qi, li, ai in zip(q.tolist(), ltp.tolist(), addr.tolist()):
        a = 524 if li else 394
        dq = (a * qi * (256 - qi) + (fmix32(rk ^ ai) & (TWO24 - 1))) >> 24
        expect.append(min(max(qi + dq if li else qi - dq, 0), 255))
    out = f.update(cfg, 1, 25, q, ltp, addr)
    assert out.dtype == np.int32 and out.tolist() == expect


@pytest.mark.parametrize("q, ltp, a", [(128, True, 262), (37, False, 7391), (250, True, 9830),
                                       (3, False, 197)])
def test_stochastic_rounding_unbiased(q, ltp, a):
    # E[|dq|] = num / 2^24 exactly when r is uniform on [0, 2^24); the hash words are that.
    n = 200_000
    words = rng.words(rng.round_key(7, 0, 3), np.arange(n))
    out = F8.stdp(np.full(n, q, np.int64), np.full(n, ltp), a, a, words)
    dq = np.abs(out - q)
    expected = a * q * (256 - q) / TWO24
    # |dq| is floor(e) or floor(e) + 1: its variance is at most 1/4.
    assert abs(dq.mean() - expected) < 5 * 0.5 / math.sqrt(n)
    assert set(np.unique(dq).tolist()) <= {math.floor(expected), math.floor(expected) + 1}


# -- weight initialisation ------------------------------------------------------------------------

def _init_by_hand(seed, layer, addr, mean_q, scale, wmax=255):
    ik = fmix32(fmix32(seed ^ (((layer + 1) * GOLDEN) & M32)) ^ INIT_SALT)
    w0, w1 = fmix32(ik ^ (2 * addr)), fmix32(ik ^ (2 * addr + 1))
    c = (w0 & 0xFFFF) + (w0 >> 16) + (w1 & 0xFFFF) + (w1 >> 16) - 2 * 65535
    return min(max(mean_q + ((c * scale + (1 << 15)) >> 16), 0), wmax)


def test_init_weights_by_hand():
    # tiny: mean 0.8 -> mean_q = 205; std 0.05: scale = round(0.05 * 256 * sqrt(3)) = round(22.17)
    # = 22. Seed 7, layer 0, shape (4, 2, 3, 3): addresses 0..71 in C order.
    cfg = tiny()
    q = Formats.from_config(cfg).init_weights(cfg, 0, (4, 2, 3, 3))
    assert q.shape == (4, 2, 3, 3) and q.dtype == np.int64
    assert q.ravel().tolist() == [_init_by_hand(7, 0, a, 205, 22) for a in range(72)]


def test_init_weights_statistics_and_bounds():
    # |c| <= 2*65535, so q - 205 lies in [(-131070*22 + 32768) >> 16, (131070*22 + 32768) >> 16]
    # = [-44, 44]: q in [161, 249].
    cfg = tiny()
    f = Formats.from_config(cfg)
    q = f.init_weights(cfg, 0, (100, 8, 5, 5)).astype(np.float64)
    assert q.min() >= 161 and q.max() <= 249
    assert abs(q.mean() - 0.8 * 256) < 0.5               # 20000 weights: sem ~0.09 LSB
    assert abs(q.std() - 0.05 * 256) < 0.5               # 12.8 LSB (12.7 after rounding scale)


def test_init_weights_deterministic_per_seed_and_layer():
    cfg = tiny()
    f = Formats.from_config(cfg)
    a = f.init_weights(cfg, 0, (6, 4, 3, 3))
    assert np.array_equal(a, f.init_weights(cfg, 0, (6, 4, 3, 3)))
    assert not np.array_equal(a, f.init_weights(cfg, 1, (6, 4, 3, 3)))
    other = tiny(seed=8)
    assert not np.array_equal(a, f.init_weights(other, 0, (6, 4, 3, 3)))


def test_init_weights_degenerate():
    # std 0 -> scale 0 -> every weight is mean_q; mean 1.0 -> 256, clamped to 255.
    cfg = tiny(**{"stdp.init_std": 0.0})
    f = Formats.from_config(cfg)
    assert (f.init_weights(cfg, 0, (3, 2, 3, 3)) == 205).all()
    cfg = tiny(**{"stdp.init_std": 0.0, "stdp.init_mean": 1.0})
    assert (f.init_weights(cfg, 0, (3, 2, 3, 3)) == 255).all()


def test_convergence_by_hand():
    # w = 0.5, 0, 255/256: w(1-w) = 0.25, 0, 255/65536; mean over 3.
    c = F8.convergence(np.array([128, 0, 255]))
    assert c == pytest.approx((0.25 + 255 / 65536) / 3, rel=1e-12)
    assert F8.convergence(np.array([], dtype=np.int64)) == 0.0
