"""Input coding: integer DoG filtering and intensity-to-latency (rank-order) coding.

Spike-time convention, used everywhere in the model: an array of spike times holds, per
neuron, its time step ``0 .. T-1``, or ``T`` (``NO_SPIKE = T``) if it never fires.

1. Optional block mean: ``downsample`` x ``downsample`` blocks averaged with floor division.
2. DoG: the on-centre kernel ``g(sigma_c) - g(sigma_s)`` (g a normalised 2-D Gaussian), made
   zero-mean and scaled to a peak of 1 (as SpykeTorch does), then quantised to Q8:
   ``k_q = round(256 k)``. The response ``R = sum(img * k_q)`` (zero padding, same size) is an
   exact integer. On channel: ``R``, off channel: ``-R``; a value below ``threshold * 256``
   never spikes.
3. Latency: the n surviving values of both channels are ranked in decreasing order (ties by
   flat index, channel-major), and the value of rank i spikes at time ``i * T // n``: the
   strongest contrast fires first, and the time bins hold equal numbers of spikes.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .config import Config

Q = 8   # fraction bits of the quantised DoG kernel


def dog_kernel(size: int, sigma_c: float, sigma_s: float) -> np.ndarray:
    """The integer (Q8) on-centre DoG kernel."""
    r = np.arange(size) - size // 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    k = (np.exp(-d2 / (2 * sigma_c**2)) / sigma_c**2 - np.exp(-d2 / (2 * sigma_s**2)) / sigma_s**2)
    k = k - k.mean()
    k = k / k.max()
    return np.round(k * (1 << Q)).astype(np.int64)


def check_images(cfg: Config, images) -> np.ndarray:
    """Images as a (N, size, size) uint8 array of intensities 0..255 (one (size, size) image is a
    batch of one), or a ValueError saying what was given and what is allowed.

    Integer arrays and whole-valued float arrays in 0..255 are accepted. A float image scaled to
    0..1 is refused: its DoG contrasts would all fall below the threshold and it would give
    all-zero features without a word.
    """
    given = np.asarray(images)
    side = cfg.input.size
    allowed = (f"({side}, {side}) for one image or (N, {side}, {side}) for N images "
               f"(input.size = {side})")
    if given.ndim not in (2, 3) or given.shape[-2:] != (side, side):
        raise ValueError(f"image shape {given.shape}: expected {allowed}")
    images = given[None] if given.ndim == 2 else given
    if given.dtype == np.uint8:
        return images
    if given.dtype == np.bool_ or not (np.issubdtype(given.dtype, np.integer)
                                       or np.issubdtype(given.dtype, np.floating)):
        raise ValueError(f"image dtype {given.dtype}: expected intensities 0..255 as uint8 "
                         "(or any integer or whole-valued float array)")
    if not images.size:
        return images.astype(np.uint8)
    lo, hi = images.min(), images.max()
    if np.issubdtype(given.dtype, np.floating):
        if not np.isfinite(images).all():
            raise ValueError("image values include NaN or infinity: expected intensities 0..255")
        whole = bool((images == np.round(images)).all())
        if hi <= 1 and lo >= 0 and hi > 0:
            raise ValueError(f"{given.dtype} image with values in {lo:g}..{hi:g}: this looks "
                             "scaled to 0..1, and the model expects intensities 0..255 (uint8; "
                             "e.g. (images * 255).round().astype(np.uint8))")
        if not whole:
            raise ValueError(f"{given.dtype} image with values that are not whole numbers "
                             f"({lo:g}..{hi:g}): expected intensities 0..255 (uint8, or "
                             "whole-valued floats)")
    if lo < 0 or hi > 255:
        raise ValueError(f"image values span {lo:g}..{hi:g}: expected 0..255")
    return images.astype(np.uint8)


def dog_responses(cfg: Config, images: np.ndarray) -> np.ndarray:
    """(N, 2, g, g) int64: on- and off-centre DoG values (Q8), zero below the threshold."""
    images = check_images(cfg, images).astype(np.int64)
    inp, dog = cfg.input, cfg.input.dog
    f = inp.downsample
    if f > 1:
        n, s = images.shape[0], inp.grid
        images = images.reshape(n, s, f, s, f).sum(axis=(2, 4)) // (f * f)
    k = dog_kernel(dog.kernel, dog.sigma_center, dog.sigma_surround)
    p = dog.kernel // 2
    padded = np.pad(images, ((0, 0), (p, p), (p, p)))
    resp = np.einsum("nyxij,ij->nyx", sliding_window_view(padded, k.shape, axis=(1, 2)), k)
    both = np.stack([resp, -resp], axis=1)
    return np.where(both >= dog.threshold << Q, both, 0)


def latency(values: np.ndarray, time_steps: int) -> np.ndarray:
    """Rank-order latency code of non-negative values (N, ...) -> spike times (int16)."""
    n_img = values.shape[0]
    flat = values.reshape(n_img, -1)
    times = np.full(flat.shape, time_steps, dtype=np.int16)
    for i in range(n_img):
        active = np.flatnonzero(flat[i] > 0)
        if active.size == 0:
            continue
        order = active[np.argsort(-flat[i, active], kind="stable")]
        times[i, order] = (np.arange(order.size) * time_steps // order.size).astype(np.int16)
    return times.reshape(values.shape)


def encode(cfg: Config, images: np.ndarray) -> np.ndarray:
    """Images -> input spike times (N, 2, g, g), int16, NO_SPIKE = T."""
    return latency(dog_responses(cfg, images), cfg.input.time_steps)
