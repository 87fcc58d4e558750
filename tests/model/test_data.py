"""model/data.py: IDX reading (plain, gzip, bad files), data.load from IDX, the mnist5k split."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from conftest import fmix32, tiny
from model import data as D


def idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file by the format's definition: 0x00 0x00, type 0x08 (ubyte), ndim, big-endian
    uint32 dims, then the bytes in C order."""
    arr = np.asarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.tobytes()


def write_idx(path, arr, gz=False):
    raw = idx_bytes(arr)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def _images(n, side=28, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, side, side), dtype=np.uint8)


# -- read_idx ----------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_images(tmp_path, gz):
    x = _images(3, side=5)
    p = write_idx(tmp_path / ("x.idx.gz" if gz else "x.idx"), x, gz)
    assert p.read_bytes()[:2] == b"\x1f\x8b" if gz else p.read_bytes()[:4] == b"\0\0\x08\x03"
    got = D.read_idx(p)
    assert got.shape == (3, 5, 5) and got.dtype == np.uint8
    assert np.array_equal(got, x)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_labels(tmp_path, gz):
    y = np.array([7, 0, 9, 3], dtype=np.uint8)
    p = write_idx(tmp_path / "y.idx", y, gz)       # gzip detected by content, not by name
    got = D.read_idx(p)
    assert got.shape == (4,) and np.array_equal(got, y)


def test_read_idx_header_is_big_endian(tmp_path):
    # 2 images of 1 x 300: dims (2, 1, 300) only read back if the dims are big-endian.
    x = np.arange(600, dtype=np.int64).astype(np.uint8).reshape(2, 1, 300)
    p = write_idx(tmp_path / "x.idx", x)
    assert p.read_bytes()[4:16] == b"\0\0\0\x02\0\0\0\x01\0\0\x01\x2c"
    assert np.array_equal(D.read_idx(p), x)


def test_missing_file_names_path(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte"
    with pytest.raises(D.DataError) as exc:
        D.read_idx(p)
    assert str(p) in str(exc.value) and "not found" in str(exc.value)


@pytest.mark.parametrize("head", [
    b"\x00\x00\x08\x02",          # ndim 2 is neither labels nor images
    b"\x00\x00\x0d\x03",          # type 0x0D (float), not unsigned byte
    b"\x01\x00\x08\x03",          # non-zero leading bytes
    b"PK\x03\x04",                # a zip file
])
def test_bad_magic(tmp_path, head):
    p = tmp_path / "bad.idx"
    p.write_bytes(head + b"\0" * 40)
    with pytest.raises(D.DataError) as exc:
        D.read_idx(p)
    msg = str(exc.value)
    assert str(p) in msg and head.hex() in msg and "00000803" in msg and "00000801" in msg


def test_empty_file(tmp_path):
    p = tmp_path / "empty.idx"
    p.write_bytes(b"")
    with pytest.raises(D.DataError, match="magic empty"):
        D.read_idx(p)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, gz):
    raw = idx_bytes(_images(4, side=6))
    raw = raw[:-10]                                    # header says 4*36 bytes, 134 left
    p = tmp_path / "x.idx"
    p.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(D.DataError) as exc:
        D.read_idx(p)
    assert "truncated" in str(exc.value) and str(p) in str(exc.value)
    assert "found 134 bytes" in str(exc.value)


def test_truncated_message_shows_header_shape(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(idx_bytes(_images(4, side=6))[:-10])
    with pytest.raises(D.DataError) as exc:
        D.read_idx(p)
    assert "header says (4, 6, 6)" in str(exc.value)


def test_truncated_dims(tmp_path):
    # Images header with only one of its three dims present (a whole number of dim words).
    p = tmp_path / "x.idx"
    p.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 5))
    with pytest.raises(D.DataError, match="truncated"):
        D.read_idx(p)


def test_truncated_inside_dim_word(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 5) + b"\x00\x00")   # 6 dim bytes
    with pytest.raises(D.DataError, match="truncated"):
        D.read_idx(p)


def test_truncated_gzip_stream(tmp_path):
    gz = gzip.compress(idx_bytes(_images(4, side=6)))
    p = tmp_path / "x.idx.gz"
    p.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(D.DataError) as exc:
        D.read_idx(p)
    assert str(p) in str(exc.value)


# -- data.load with source: idx ----------------------------------------------------------------

def _idx_set(tmp_path, train_x, train_y, test_x, test_y, gz=False):
    paths = {}
    for name, arr in (("train_images", train_x), ("train_labels", train_y),
                      ("test_images", test_x), ("test_labels", test_y)):
        paths[f"data.{name}"] = str(write_idx(tmp_path / name, arr, gz))
    return paths


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx(tmp_path, gz):
    tx, ty = _images(5, seed=1), np.array([1, 2, 3, 4, 5], np.uint8)
    ex, ey = _images(3, seed=2), np.array([9, 8, 7], np.uint8)
    cfg = tiny(**{"data.source": "idx", **_idx_set(tmp_path, tx, ty, ex, ey, gz),
                  "data.limit_train": 0, "data.limit_test": 0})
    ds = D.load(cfg)
    assert np.array_equal(ds.train_x, tx) and np.array_equal(ds.test_x, ex)
    assert ds.train_y.dtype == np.int64 and list(ds.train_y) == [1, 2, 3, 4, 5]
    assert list(ds.test_y) == [9, 8, 7]


def test_load_idx_limits(tmp_path):
    tx, ty = _images(5, seed=1), np.arange(5, dtype=np.uint8)
    ex, ey = _images(3, seed=2), np.arange(3, dtype=np.uint8)
    cfg = tiny(**{"data.source": "idx", **_idx_set(tmp_path, tx, ty, ex, ey),
                  "data.limit_train": 2, "data.limit_test": 1})
    ds = D.load(cfg)
    assert np.array_equal(ds.train_x, tx[:2]) and list(ds.train_y) == [0, 1]
    assert np.array_equal(ds.test_x, ex[:1]) and list(ds.test_y) == [0]


def test_load_idx_missing_file(tmp_path):
    tx, ty = _images(2), np.arange(2, dtype=np.uint8)
    paths = _idx_set(tmp_path, tx, ty, tx, ty)
    paths["data.test_labels"] = str(tmp_path / "t10k-labels-idx1-ubyte.gz")
    cfg = tiny(**{"data.source": "idx", **paths})
    with pytest.raises(D.DataError) as exc:
        D.load(cfg)
    assert "t10k-labels-idx1-ubyte.gz" in str(exc.value)


def test_load_idx_labels_count_mismatch(tmp_path):
    tx, ty = _images(3), np.arange(2, dtype=np.uint8)
    cfg = tiny(**{"data.source": "idx", **_idx_set(tmp_path, tx, ty, tx, np.arange(3, dtype=np.uint8))})
    with pytest.raises(D.DataError) as exc:
        D.load(cfg)
    assert "train" in str(exc.value) and "(3, 28, 28)" in str(exc.value) and "(2,)" in str(exc.value)


def test_load_idx_images_and_labels_swapped(tmp_path):
    tx, ty = _images(3), np.arange(3, dtype=np.uint8)
    paths = _idx_set(tmp_path, tx, ty, tx, ty)
    paths["data.train_images"], paths["data.train_labels"] = (paths["data.train_labels"],
                                                              paths["data.train_images"])
    with pytest.raises(D.DataError, match="do not match"):
        D.load(tiny(**{"data.source": "idx", **paths}))


@pytest.mark.parametrize("train_side, test_side", [(20, 28), (28, 20)])
def test_load_idx_image_size_disagrees_with_config(tmp_path, train_side, test_side):
    tx, ty = _images(2, side=train_side), np.arange(2, dtype=np.uint8)
    ex, ey = _images(2, side=test_side), np.arange(2, dtype=np.uint8)
    cfg = tiny(**{"data.source": "idx", **_idx_set(tmp_path, tx, ty, ex, ey)})
    with pytest.raises(D.DataError) as exc:
        D.load(cfg)
    assert "20x20" in str(exc.value) and "input.size = 28" in str(exc.value)


# -- the bundled mnist5k subset and its split --------------------------------------------------

@pytest.fixture(scope="module")
def mnist5k():
    return D._mnist5k_arrays()


def test_mnist5k_file_layout(mnist5k):
    x, y = mnist5k
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8
    # 500 per class, sorted by class (the module's documented layout of the file)
    assert np.array_equal(y, np.repeat(np.arange(10), 500))


def test_mnist5k_cache_matches_csv(tmp_path, mnist5k):
    # Parsing the CSV into a fresh cache gives the same arrays as the cache in build/.
    cache = tmp_path / "c" / "mnist5k.npz"
    x, y = D._mnist5k_arrays(cache)
    assert cache.is_file()
    assert np.array_equal(x, mnist5k[0]) and np.array_equal(y, mnist5k[1])
    x2, y2 = D._mnist5k_arrays(cache)          # now from the new cache
    assert np.array_equal(x2, x) and np.array_equal(y2, y)


def test_mnist5k_split(mnist5k):
    x, y = mnist5k
    # Split row indices instead of images: every output image is then its row number.
    rows = D.split_mnist5k(np.arange(len(y)), y)
    train, test = rows.train_x, rows.test_x
    assert len(train) == 4000 and len(test) == 1000
    assert np.array_equal(np.bincount(rows.train_y, minlength=10), [400] * 10)
    assert np.array_equal(np.bincount(rows.test_y, minlength=10), [100] * 10)
    assert not set(train.tolist()) & set(test.tolist())
    assert np.array_equal(y[train], rows.train_y) and np.array_equal(y[test], rows.test_y)
    # Class c is rows 500c .. 500c+499. train: the first 400 rows of each class, test: the last
    # 100, each ordered by fmix32(row ^ 0x0DA7A5E7) (ties, which a bijection cannot have, by row).
    first = [r for c in range(10) for r in range(500 * c, 500 * c + 400)]
    last = [r for c in range(10) for r in range(500 * c + 400, 500 * c + 500)]
    assert train.tolist() == sorted(first, key=lambda r: (fmix32(r ^ 0x0DA7A5E7), r))
    assert test.tolist() == sorted(last, key=lambda r: (fmix32(r ^ 0x0DA7A5E7), r))
    # the hash order interleaves the classes
    assert len(set(rows.train_y[:30].tolist())) >= 6
    assert len(set(rows.test_y[:30].tolist())) >= 6


def test_load_mnist5k_deterministic(mnist5k):
    x, y = mnist5k
    cfg = tiny(**{"data.limit_train": 0, "data.limit_test": 0})
    a, b = D.load(cfg), D.load(cfg)
    rows = D.split_mnist5k(np.arange(len(y)), y)
    assert np.array_equal(a.train_x, x[rows.train_x]) and np.array_equal(a.test_x, x[rows.test_x])
    assert np.array_equal(a.train_y, b.train_y) and np.array_equal(a.train_x, b.train_x)
    assert a.train_y.dtype == np.int64


def test_load_mnist5k_limits(tiny_cfg, mnist5k):
    ds = D.load(tiny_cfg)                       # tiny: limit_train 200, limit_test 100
    full = D.load(tiny(**{"data.limit_train": 0, "data.limit_test": 0}))
    assert len(ds.train_y) == 200 and len(ds.test_y) == 100
    assert np.array_equal(ds.train_x, full.train_x[:200])
    assert np.array_equal(ds.test_x, full.test_x[:100])
    assert np.array_equal(ds.test_y, full.test_y[:100])
    assert len(np.unique(ds.test_y)) == 10      # the limited test set still holds every digit


def test_load_mnist5k_size_disagrees_with_config():
    cfg = tiny(**{"input.size": 14, "input.downsample": 1})
    with pytest.raises(D.DataError) as exc:
        D.load(cfg)
    assert "28x28" in str(exc.value) and "input.size = 14" in str(exc.value)
