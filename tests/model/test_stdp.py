"""The compiled STDP loop (model/stdp.py) against the documented rule it compiles: the fixed-point
``Formats.update`` (and ``Formats.stdp``) and the float twin's ``FloatFormats.update``, applied to
the winners' kernels with NumPy, synapse addresses and LTP/LTD decided as the module says."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from conftest import tiny
from model import stdp
from model.fixedpoint import Formats
from model.floatmode import FloatFormats


def reference(arith, cfg, layer, n, weights, pruned, winners, post, src, k):
    """Each winner's kernel, one after the other: LTP where t_pre <= t_post, the rule of the
    arithmetic, pruned synapses untouched; returns (weights, updates)."""
    w = weights.copy()
    f_n = w.shape[0]
    fan = w[0].size
    done = 0
    for (f, y, x), t_post in zip(winners, post):
        live = ~pruned[f].ravel()
        ltp = (src[:, y:y + k, x:x + k] <= t_post).ravel()
        addr = f * fan + np.arange(fan)
        flat = w[f].ravel()
        flat[live] = arith.update(cfg, layer, n, flat[live], ltp[live], addr[live])
        w[f] = flat.reshape(w[f].shape)
        done += int(live.sum())
    assert f_n == weights.shape[0]
    return w, done


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), mode=st.sampled_from(["fixed", "float"]),
       stochastic=st.booleans(), share=st.floats(0, 0.9))
def test_compiled_loop_is_the_documented_rule(seed, n, mode, stochastic, share):
    cfg = tiny(**{"formats.rounding": "stochastic" if stochastic else "floor"})
    layer, k, F, C, S = 0, 3, 4, 2, 6
    rs = np.random.default_rng(seed)
    fixed = Formats.from_config(cfg, layer)
    arith = fixed if mode == "fixed" else FloatFormats(fixed)
    weights = rs.integers(0, 256, (F, C, k, k)).astype(np.int64)
    if mode == "float":
        weights = weights / 256.0
    pruned = rs.random((F, C, k, k)) < share
    src = rs.integers(0, cfg.input.time_steps + 1, (C, S + k - 1, S + k - 1)).astype(np.int64)
    maps = rs.permutation(F)[:rs.integers(1, F + 1)]
    winners = np.array([(f, rs.integers(0, S), rs.integers(0, S)) for f in maps], dtype=np.int64)
    post = rs.integers(0, cfg.input.time_steps, len(winners)).astype(np.int64)
    want, want_done = reference(arith, cfg, layer, n, weights, pruned, winners, post, src, k)
    got = weights.copy()
    done = stdp.apply(arith, cfg, layer, n, got, pruned, winners, post, src, k)
    assert done == want_done
    if mode == "fixed":
        assert np.array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.array_equal(got[pruned], weights[pruned])       # pruned synapses never move
