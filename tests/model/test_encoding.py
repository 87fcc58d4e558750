"""model/encoding.py: image checks, the Q8 DoG, rank-order latency coding."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny
from model import encoding as E


def _cfg_dog3(threshold=30):
    # 28x28, no downsampling, DoG kernel 3 (sigma 1 / 2), T = 8.
    return tiny(**{"input.downsample": 1, "input.dog.kernel": 3, "input.dog.threshold": threshold})


# -- check_images / bad input ------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(27, 28), (28, 27), (2, 28, 14), (1, 1, 28, 28), (28 * 28,)])
def test_wrong_shape_names_expected_shape(tiny_cfg, shape):
    img = np.zeros(shape, dtype=np.uint8)
    for fn in (E.check_images, E.encode):
        with pytest.raises(ValueError) as exc:
            fn(tiny_cfg, img)
        msg = str(exc.value)
        # the shape given (a single 2-D image is reported with its batch axis of 1 added)
        assert str(shape if len(shape) != 2 else (1, *shape)) in msg
        assert "(28, 28)" in msg and "(N, 28, 28)" in msg and "input.size = 28" in msg


@pytest.mark.parametrize("lo, hi", [(-1, 10), (0, 256)])
def test_out_of_range_values(tiny_cfg, lo, hi):
    img = np.zeros((28, 28), dtype=np.int64)
    img[0, 0], img[0, 1] = lo, hi
    with pytest.raises(ValueError) as exc:
        E.check_images(tiny_cfg, img)
    assert f"{lo}..{hi}" in str(exc.value) and "0..255" in str(exc.value)


def test_single_image_and_int_dtype_accepted(tiny_cfg):
    img = (np.arange(28 * 28) % 256).reshape(28, 28)        # int64, values 0..255
    out = E.check_images(tiny_cfg, img)
    assert out.shape == (1, 28, 28) and out.dtype == np.uint8
    assert np.array_equal(out[0], img)
    assert np.array_equal(E.encode(tiny_cfg, img), E.encode(tiny_cfg, img.astype(np.uint8)[None]))


# -- DoG kernel ----------------------------------------------------------------------------------

def test_dog_kernel_3x3_by_hand():
    # sigma_c = 1, sigma_s = 2, d2 in {0 (centre), 1 (edge), 2 (corner)}:
    #   k(d2) = exp(-d2/2) - exp(-d2/8)/4: centre 0.75, edge 0.3859065, corner 0.1731792
    #   mean = (0.75 + 4*0.3859065 + 4*0.1731792)/9 = 0.3318159
    #   minus mean: 0.4181841, 0.0540906, -0.1586367; / 0.4181841 -> 1, 0.129346, -0.379348
    #   * 256, rounded: 256, 33, -97
    k = E.dog_kernel(3, 1.0, 2.0)
    assert k.dtype == np.int64
    assert k.tolist() == [[-97, 33, -97], [33, 256, 33], [-97, 33, -97]]


@pytest.mark.parametrize("size, sc, ss", [(5, 1.0, 2.0), (7, 1.0, 2.0), (7, 0.8, 3.0)])
def test_dog_kernel_shape(size, sc, ss):
    k = E.dog_kernel(size, sc, ss)
    assert k.shape == (size, size)
    assert k[size // 2, size // 2] == 256 == k.max()          # peak scaled to 1.0 in Q8
    assert np.array_equal(k, k.T) and np.array_equal(k, k[::-1]) and np.array_equal(k, k[:, ::-1])
    assert abs(int(k.sum())) <= size * size // 2               # zero mean up to rounding


# -- DoG responses -------------------------------------------------------------------------------

def test_dog_single_pixel_by_hand():
    # Kernel [[-97,33,-97],[33,256,33],[-97,33,-97]], pixel 200 at (10,10), threshold 30*256=7680:
    #   R(10,10) = 200*256 = 51200 -> on channel; edges 200*33 = 6600 < 7680 -> nothing;
    #   corners 200*(-97) = -19400 -> off channel 19400 at (9,9), (9,11), (11,9), (11,11).
    cfg = _cfg_dog3()
    img = np.zeros((28, 28), np.uint8)
    img[10, 10] = 200
    r = E.dog_responses(cfg, img)
    assert r.shape == (1, 2, 28, 28) and r.dtype == np.int64
    on = np.zeros((28, 28), np.int64)
    on[10, 10] = 51200
    off = np.zeros((28, 28), np.int64)
    for y, x in ((9, 9), (9, 11), (11, 9), (11, 11)):
        off[y, x] = 19400
    assert np.array_equal(r[0, 0], on) and np.array_equal(r[0, 1], off)

    # Latency, T = 8: 5 values ranked 51200 (on), then the four 19400 ties in flat index order,
    # rank i at time i*8//5 = 0, 1, 3, 4, 6; the rest never spike (8).
    t = E.encode(cfg, img)
    exp = np.full((1, 2, 28, 28), 8, np.int16)
    exp[0, 0, 10, 10] = 0
    exp[0, 1, 9, 9], exp[0, 1, 9, 11], exp[0, 1, 11, 9], exp[0, 1, 11, 11] = 1, 3, 4, 6
    assert t.dtype == np.int16 and np.array_equal(t, exp)


def test_dog_zero_padding_at_corner():
    # Pixel 200 at (0,0): only the corner neighbour (1,1) is inside the image.
    cfg = _cfg_dog3()
    img = np.zeros((28, 28), np.uint8)
    img[0, 0] = 200
    r = E.dog_responses(cfg, img)[0]
    assert r[0, 0, 0] == 51200 and r[1, 1, 1] == 19400
    assert np.count_nonzero(r) == 2


def test_dog_threshold_cut():
    # The same pixel with threshold 200: 200*256 = 51200 -> the centre (51200) still passes
    # (>=), the corners (19400) do not. Threshold 201 removes the centre too.
    img = np.zeros((28, 28), np.uint8)
    img[10, 10] = 200
    r = E.dog_responses(_cfg_dog3(200), img)[0]
    assert r[0, 10, 10] == 51200 and np.count_nonzero(r) == 1
    assert np.count_nonzero(E.dog_responses(_cfg_dog3(201), img)) == 0
    assert (E.encode(_cfg_dog3(201), img) == 8).all()


def test_downsample_is_floor_block_mean():
    # tiny (downsample 2) on a 28x28 image equals no downsampling on its 14x14 block means,
    # floor((a+b+c+d)/4) per 2x2 block, computed here with plain Python.
    img = np.random.default_rng(3).integers(0, 256, (28, 28)).astype(np.uint8)
    small = np.zeros((14, 14), np.uint8)
    for y in range(14):
        for x in range(14):
            s = sum(int(img[2 * y + dy, 2 * x + dx]) for dy in (0, 1) for dx in (0, 1))
            small[y, x] = s // 4
    cfg14 = tiny(**{"input.size": 14, "input.downsample": 1})
    assert np.array_equal(E.dog_responses(tiny(), img), E.dog_responses(cfg14, small))
    assert np.array_equal(E.encode(tiny(), img), E.encode(cfg14, small))


def test_blank_image_never_spikes(tiny_cfg):
    t = E.encode(tiny_cfg, np.zeros((3, 28, 28), np.uint8))
    assert t.shape == (3, 2, 14, 14) and (t == tiny_cfg.input.time_steps).all()


# -- latency -------------------------------------------------------------------------------------

def test_latency_by_hand():
    # values [5, 0, 3, 3, 9], T = 4: active (>0) ranked 9 (idx 4), 5 (idx 0), 3 (idx 2), 3 (idx 3)
    # (tie by index); rank i -> i*4//4 = i; the zero never spikes (4).
    t = E.latency(np.array([[5, 0, 3, 3, 9]]), 4)
    assert t.dtype == np.int16 and t.tolist() == [[1, 4, 2, 3, 0]]


def test_latency_equal_bins():
    # 10 values, T = 4: rank i -> i*4//10 = 0,0,0,1,1,2,2,2,3,3 (descending values 10..1).
    vals = np.arange(1, 11)[None]
    assert E.latency(vals, 4).tolist() == [[3, 3, 2, 2, 2, 1, 1, 0, 0, 0]]


def test_latency_channel_major_ties_and_batch():
    # Two images (N, 2, 1, 2); image 0: all equal -> flat order on(0), on(1), off(0), off(1)
    # at 0*8//4, 1*8//4, ... = 0, 2, 4, 6. Image 1: nothing active -> all 8.
    v = np.array([[[[7, 7]], [[7, 7]]], [[[0, 0]], [[0, 0]]]])
    t = E.latency(v, 8)
    assert t.shape == (2, 2, 1, 2)
    assert t[0].ravel().tolist() == [0, 2, 4, 6] and (t[1] == 8).all()
