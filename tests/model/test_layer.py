"""model/layer.py by hand: first-spike times, saturation, padding, pruning, SOP counts,
pointwise inhibition and first-spike pooling."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny
from model import config
from model import layer as L

VMAX = (1 << 14) - 1


def run(times, w, active=None, kernel=None, padding=0, T=5, threshold=10, vmax=VMAX,
        dtype=np.int64):
    times = np.asarray(times, dtype=np.int16)
    w = np.asarray(w)
    if active is None:
        active = np.ones(w.shape, dtype=bool)
    return L.integrate(times, w, np.asarray(active, bool), kernel or w.shape[-1], padding, T,
                       threshold, vmax, dtype)


# Four inputs feed one neuron: input (iy, ix) reaches output (0, 0) through weight [iy, ix]
# (kernel 2, no padding: oy = iy - ky = 0 -> ky = iy). Input times [[0, 2], [2, 3]], T = 5.
TIMES = [[[[0, 2], [2, 3]]]]
W0 = [[3, 5], [4, 9]]


@pytest.mark.parametrize("dtype, vmax", [(np.int64, VMAX), (np.float64, np.inf)])
def test_first_spike_by_hand(dtype, vmax):
    # t0: 3; t1: 3; t2: 3 + 5 + 4 = 12 >= 10 -> fires at 2 with 12; t3: 12 + 9 = 21 (keeps
    # integrating after the spike, fires no more).
    out = run(TIMES, [[W0]], threshold=10, vmax=vmax, dtype=dtype)
    assert out.times.shape == (1, 1, 1, 1)
    assert out.times.ravel().tolist() == [2]
    assert out.v_fire.ravel().tolist() == [12] and out.v_final.ravel().tolist() == [21]
    assert out.v_fire.dtype == dtype
    assert out.sop_done.tolist() == [4] and out.sop_skipped.tolist() == [0]


def test_weights_are_correlated_not_flipped():
    # Input (0, 0) meets weight [0, 0]. With [[9, 4], [5, 3]] (W0 flipped) it brings 9 at t0:
    # threshold 9 -> fires at 0. With W0 it brings 3 at t0, and 3 + 5 + 4 = 12 at t2 -> fires at 2.
    # A flipped (convolution) kernel would swap the two results.
    out = run(TIMES, [[[[9, 4], [5, 3]]]], threshold=9)
    assert out.times.ravel().tolist() == [0] and out.v_fire.ravel().tolist() == [9]
    out = run(TIMES, [[W0]], threshold=9)            # W0 gives 3 at t0: not yet
    assert out.times.ravel().tolist() == [2]


def test_fires_when_equal_to_threshold():
    out = run(TIMES, [[W0]], threshold=12)
    assert out.times.ravel().tolist() == [2] and out.v_fire.ravel().tolist() == [12]
    out = run(TIMES, [[W0]], threshold=13)           # 12 at t2, 21 at t3 -> fires at 3
    assert out.times.ravel().tolist() == [3] and out.v_fire.ravel().tolist() == [21]


def test_never_reaches_threshold():
    # Total input 21 < 22: time T = 5, v_fire 0, v_final 21.
    out = run(TIMES, [[W0]], threshold=22)
    assert out.times.ravel().tolist() == [5]
    assert out.v_fire.ravel().tolist() == [0] and out.v_final.ravel().tolist() == [21]


def test_saturation_at_vmax():
    # vmax 10: t0 3; t2 3 + 5 + 4 = 12 -> 10; t3 10 + 9 -> 10.
    out = run(TIMES, [[W0]], threshold=10, vmax=10)
    assert out.times.ravel().tolist() == [2]
    assert out.v_fire.ravel().tolist() == [10] and out.v_final.ravel().tolist() == [10]
    # A threshold above the limit is never reached, however much input arrives.
    out = run(TIMES, [[W0]], threshold=11, vmax=10)
    assert out.times.ravel().tolist() == [5] and out.v_final.ravel().tolist() == [10]


def test_pruned_synapse_and_sop_counts():
    # Map 1 weights [[10, 6], [2, 6]]: unpruned it fires at t0 with 10 (final 24); with [0, 0]
    # pruned: t2 6 + 2 = 8, t3 8 + 6 = 14 >= 10 -> fires at 3 with 14.
    # SOPs: 4 events x 1 position x 2 maps; the (0, 0) event skips map 1 -> done 7, skipped 1.
    w = [[W0], [[[10, 6], [2, 6]]]]
    out = run(TIMES, w)
    assert out.times.ravel().tolist() == [2, 0] and out.v_final.ravel().tolist() == [21, 24]
    assert (out.sop_done.tolist(), out.sop_skipped.tolist()) == ([8], [0])
    active = np.ones((2, 1, 2, 2), bool)
    active[1, 0, 0, 0] = False
    out = run(TIMES, w, active)
    assert out.times.ravel().tolist() == [2, 3]
    assert out.v_fire.ravel().tolist() == [12, 14] and out.v_final.ravel().tolist() == [21, 14]
    assert (out.sop_done.tolist(), out.sop_skipped.tolist()) == ([7], [1])


def test_padding_never_spikes():
    # One input at (0, 0), t0, kernel 3, padding 1 -> a 1x1 output reached only through the
    # centre weight (ox = 0 + 1 - kx = 0 -> kx = 1). The border weights (100) never count.
    w = np.full((1, 1, 3, 3), 100)
    w[0, 0, 1, 1] = 2
    out = run([[[[0]]]], w, padding=1, threshold=5)
    assert out.times.shape == (1, 1, 1, 1)
    assert out.times.ravel().tolist() == [5] and out.v_final.ravel().tolist() == [2]
    assert out.sop_done.tolist() == [1] and out.sop_skipped.tolist() == [0]


def test_padding_output_positions():
    # 2x2 input, kernel 3, padding 2 -> 4x4 output. A spike at input (0, 0) reaches output
    # (oy, ox) through weight [2 - oy, 2 - ox] for oy, ox in 0..2: 9 SOPs; row/col 3 get nothing.
    w = np.arange(1, 10).reshape(1, 1, 3, 3)
    times = np.full((1, 1, 2, 2), 4)
    times[0, 0, 0, 0] = 1
    out = run(times, w, padding=2, T=4, threshold=1)
    expect = np.zeros((4, 4), np.int64)
    for oy in range(3):
        for ox in range(3):
            expect[oy, ox] = w[0, 0, 2 - oy, 2 - ox]
    assert np.array_equal(out.v_final[0, 0], expect)
    assert np.array_equal(out.times[0, 0], np.where(expect > 0, 1, 4))
    assert out.sop_done.tolist() == [9]


def test_batch_images_are_independent():
    t = np.concatenate([np.asarray(TIMES), np.full((1, 1, 2, 2), 5)]).astype(np.int16)
    out = run(t, [[W0]])
    assert out.times.ravel().tolist() == [2, 5]
    assert out.v_final.ravel().tolist() == [21, 0]
    assert out.sop_done.tolist() == [4, 0]


def test_padded_helper():
    t = np.zeros((1, 2, 2, 2), np.int16)
    p = L.padded(t, 1, 7)
    assert p.shape == (1, 2, 4, 4)
    assert (p[..., 1:3, 1:3] == 0).all() and (p[..., 0, :] == 7).all() and (p[..., :, 3] == 7).all()


# -- pointwise inhibition ------------------------------------------------------------------------

def test_pointwise_inhibition_by_hand():
    T = 5
    # (1, 3 maps, 1, 4 positions)
    times = np.array([[[[2, 3, 5, 5]], [[1, 3, 5, 5]], [[1, 3, 5, 0]]]], np.int16)
    v = np.array([[[[9, 5, 0, 0]], [[4, 8, 0, 0]], [[7, 8, 0, 3]]]], np.int64)
    out = L.pointwise_inhibition(times, v, T)
    # pos 0: earliest t=1 in maps 1 and 2, larger v (7 > 4) -> map 2.
    # pos 1: all at 3, v 5/8/8 -> tie between maps 1 and 2 -> lower map 1.
    # pos 2: nobody fired. pos 3: only map 2.
    expect = np.array([[[[5, 5, 5, 5]], [[5, 3, 5, 5]], [[1, 5, 5, 0]]]])
    assert out.dtype == times.dtype
    assert np.array_equal(out, expect)


def test_pointwise_inhibition_earliest_beats_larger_potential():
    times = np.array([[[[0]], [[1]]]], np.int16)
    v = np.array([[[[1]], [[100]]]])
    assert L.pointwise_inhibition(times, v, 4).ravel().tolist() == [0, 4]


# -- pooling ---------------------------------------------------------------------------------------

A = np.array([[5, 6, 7, 8, 9],
              [6, 7, 8, 9, 4],
              [7, 8, 9, 3, 9],
              [8, 9, 9, 9, 9],
              [2, 9, 9, 9, 9]], np.int16)


def test_pool_2x2_stride_2_drops_last_row_and_column():
    # windows rows/cols {0,1}, {2,3}: min {5,6,6,7} = 5, {7,8,8,9} = 7, {7,8,8,9} = 7,
    # {9,3,9,9} = 3. Row 4 (with its 2) and column 4 (with its 4) are dropped.
    assert L.pool(A[None, None], 2, 2)[0, 0].tolist() == [[5, 7], [7, 3]]


def test_pool_3x3_stride_2_overlapping():
    # windows rows/cols {0,1,2}, {2,3,4}: (0,0) 5; (0,1) min incl. 4 and 3 -> 3;
    # (1,0) min incl. the 2 at (4,0) -> 2; (1,1) the 3 at (2,3), shared with (0,1) -> 3.
    assert L.pool(A[None, None], 3, 2)[0, 0].tolist() == [[5, 3], [2, 3]]


def test_pool_other_sizes():
    # size 1 stride 2: rows/cols 0, 2, 4.
    assert L.pool(A[None, None], 1, 2)[0, 0].tolist() == [[5, 7, 9], [7, 9, 9], [2, 9, 9]]
    # size 2 stride 1 on 3x3.
    b = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 0]], np.int16)
    assert L.pool(b[None, None], 2, 1)[0, 0].tolist() == [[1, 2], [4, 0]]
    # size 2 stride 3 on 5x5: windows {0,1} and {3,4}.
    assert L.pool(A[None, None], 2, 3)[0, 0].tolist() == [[5, 4], [2, 9]]


def test_pool_keeps_batch_and_map_axes():
    t = np.stack([A, A.T, A[::-1]])[None].repeat(2, axis=0)          # (2, 3, 5, 5)
    out = L.pool(t, 2, 2)
    assert out.shape == (2, 3, 2, 2) and out.dtype == t.dtype
    assert out[1, 1].tolist() == [[5, 7], [7, 3]]                      # A.T: transposed result
    assert out[0, 2].tolist() == [[2, 9], [6, 3]]                      # A reversed by rows


def test_zero_threshold_is_refused():
    # integrate checks the threshold only where events arrive, so it needs threshold > 0;
    # the config refuses thresholds that round to 0 weight LSBs.
    t = np.full((1, 1, 2, 2), 4, np.int16)
    with pytest.raises(ValueError, match="threshold = 0: must be > 0"):
        run(t, np.ones((1, 1, 1, 1), np.int64), T=4, threshold=0)
    with pytest.raises(config.ConfigError, match=r"layers\[0\] \(conv1\).threshold = 0.001: rounds to 0"):
        tiny(**{"layers.0.threshold": 0.001})
