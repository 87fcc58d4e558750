"""Maps per layer from PCA of the potentials (model/pruning/pca_channels.py)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny
from model import config as C, data, network
from report import train as experiment
from model.pruning.pca_channels import layer_samples, pca_count, pca_rebuild
from model.train import Trainer

# Trains the tiny network, several times over in the resume tests.
pytestmark = pytest.mark.timeout(900)


def _mixed(sources: int, columns: int = 10, rows: int = 500, noise: float = 1e-4, seed: int = 0):
    """``sources`` independent unit signals mixed into ``columns`` columns by orthonormal
    directions (each source then explains about 1 / sources of the variance), plus tiny noise."""
    rs = np.random.default_rng(seed)
    directions = np.linalg.qr(rs.standard_normal((columns, sources)))[0].T
    s = rs.standard_normal((rows, sources))
    return s @ directions + noise * rs.standard_normal((rows, columns))


@pytest.mark.parametrize("sources", [1, 3, 6])
def test_count_of_mixed_sources(sources):
    assert pca_count(_mixed(sources), 0.99) == sources
    assert pca_count(_mixed(sources), 0.999999) == sources


def test_variance_edges():
    exact = _mixed(3, noise=0)
    assert pca_count(exact, 1.0) == 3                  # rank 3: 1.0 reached up to rounding
    assert pca_count(_mixed(3), 1.0) == 10             # the noise fills every direction
    assert pca_count(_mixed(3), 1e-9) == 1
    assert pca_count(np.full((5, 4), 7.0), 0.99) == 1  # no variance: one map is kept
    # One column carrying all the variance.
    one = np.zeros((6, 4))
    one[:, 2] = np.arange(6)
    assert pca_count(one, 1.0) == 1


@pytest.mark.parametrize("variance", [0.0, -0.1, 1.01])
def test_variance_out_of_range(variance):
    with pytest.raises(ValueError, match="variance"):
        pca_count(_mixed(3), variance)


def test_samples_need_rows():
    with pytest.raises(ValueError, match="2 rows"):
        pca_count(np.ones((1, 4)), 0.9)


def _count_by_eigenvalues(samples, variance):
    """Independent count: eigenvalues of the covariance, largest first."""
    ev = np.sort(np.linalg.eigvalsh(np.cov(samples, rowvar=False)))[::-1]
    return int(np.searchsorted(np.cumsum(ev) / ev.sum(), variance - 1e-9) + 1)


def test_rebuild_on_tiny(tmp_path):
    cfg = tiny(**{"pruning.policy": "pca_channels",
                  "pruning.pca_channels": {"variance": 0.9, "images": 6},
                  "layers.0.learning.max_images": 8, "layers.1.learning.max_images": 8})
    x = data.load(cfg).train_x[:8]
    rebuilt, record = pca_rebuild(cfg, x, tmp_path, "t", progress_bar=False)
    counts = [r["maps_after"] for r in record["layers"]]
    assert [lc.maps for lc in rebuilt.layers] == counts
    assert [r["maps_before"] for r in record["layers"]] == [4, 6]
    assert all(1 <= c for c in counts) and counts[0] < 4, "conv1's maps are correlated at 0.9"
    C.parse(rebuilt.to_dict())                          # a valid config ...
    network.Network(rebuilt)                 # ... that builds: conv2 has counts[0] inputs
    # Layer 0's count, independently, from the first round's checkpointed network.
    round0 = C.replace(cfg, **{"layers.1.learning.max_images": 0})
    net, _ = Trainer(round0, record["layers"][0]["checkpoint"], progress_bar=False).run(x)
    samples = layer_samples(net, 0, net.encode(x[:6]))
    assert samples.shape == (6 * 14 * 14, 4) and record["layers"][0]["samples"] == len(samples)
    assert counts[0] == _count_by_eigenvalues(samples, 0.9)
    # The rounds' checkpoints are reused: the same answer again.
    assert pca_rebuild(cfg, x, tmp_path, "t", progress_bar=False) == (rebuilt, record)


@pytest.mark.parametrize("section, key", [
    ({"variance": 0.0}, "pruning.pca_channels.variance"),
    ({"variance": 1.5}, "pruning.pca_channels.variance"),
    ({"images": 1}, "pruning.pca_channels.images"),
    ({"components": 3}, "pruning.pca_channels.components"),
])
def test_config_errors(section, key):
    with pytest.raises(C.ConfigError, match=key.replace(".", r"\.")):
        tiny(**{"pruning.policy": "pca_channels", "pruning.pca_channels": section})


def test_experiment_variant_is_the_rebuilt_network(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "CHECKPOINTS", tmp_path)
    cfg = tiny(**{"pruning.policy": "pca_channels",
                  "pruning.pca_channels": {"variance": 0.99, "images": 10},
                  "layers.0.learning.max_images": 20, "layers.1.learning.max_images": 20})
    full = data.load(cfg)
    ds = data.Dataset(full.train_x[:30], full.train_y[:30], full.test_x[:20], full.test_y[:20])
    v = experiment.run_variant(cfg, ds, "pruned", "t", progress_bar=False)
    m0, m1 = (r["maps_after"] for r in v["policy"]["layers"])
    assert (m0, m1) != (4, 6), "some maps must go, or the test shows little"
    # Connections of the rebuilt network (3x3 kernels, 2 input channels into conv1) against the
    # original's; nothing else is pruned.
    assert v["active_connections"] == [m0 * 2 * 9, m1 * m0 * 9]
    assert v["connections"] == [72, 216]
