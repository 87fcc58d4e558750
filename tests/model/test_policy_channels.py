"""Channel-activity pruning with regrowth (model/pruning/channel_activity.py)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import layer_input, tiny
from model import config as C, data, layer as L, network, wta
from report import train as experiment
from model.pruning.channel_activity import ChannelActivityPruning, disabled_count, update_mask
from model.train import Trainer

# Trains the tiny network, several times over in the resume tests.
pytestmark = pytest.mark.timeout(900)

POLICY = {"pruning.policy": "channel_activity", "pruning.warmup": 5,
          "pruning.channel_activity": {"sparsity": 0.5, "update_every": 5, "regrow": True}}


def test_disabled_count_rounds_down():
    # floor(sparsity * maps): never more than the target share, at least one map stays on.
    assert disabled_count(0.5, 4) == 2 and disabled_count(0.5, 6) == 3
    assert disabled_count(0.3, 6) == 1          # 1.8
    assert disabled_count(0.2, 4) == 0          # 0.8: the small layer keeps all its maps
    assert disabled_count(0.99, 4) == 3         # 3.96: one map stays on


# A constructed record: six maps, 4 and 5 disabled since an earlier update, target 3 disabled.
# Importance (enabled 0..3): spikes / 10 and potential / 400, averaged:
#   map 0: (1 + 1) / 2 = 1, map 1: (0.2 + 0.25) / 2 = 0.225, map 2: (0.6 + 0.25) / 2 = 0.425,
#   map 3: (0 + 0.5) / 2 = 0.25.
# Pruning step: one more map to disable, the weakest: map 1 (0.225).
# Growth (drive / 50, the best enabled drive): map 4: 30 / 50 = 0.6, map 5: 12 / 50 = 0.24.
# Swaps: strongest growth (map 4, 0.6) against the weakest remaining enabled (map 3, 0.25): it
# regrows and map 3 goes off; next, map 5 (0.24) against map 2 (0.425): no, stop. Map 5 would
# have beaten map 1 (0.225), but that one was just pruned and is not an enabled map any more.
SPIKES = np.array([10, 2, 6, 0, 0, 0], float)
POTENTIAL = np.array([400, 100, 100, 200, 0, 0], float)
DRIVE = np.array([50, 10, 20, 5, 30, 12], float)


def test_ranking_with_one_regrowth():
    on = np.array([1, 1, 1, 1, 0, 0], bool)
    disabled, regrown = update_mask(on, SPIKES, POTENTIAL, DRIVE, n_off=3, regrow=True)
    assert disabled.tolist() == [1, 3] and regrown.tolist() == [4]
    assert on.tolist() == [True, False, True, False, True, False]
    assert (~on).sum() == 3                      # a swap keeps the sparsity


def test_ranking_without_regrowth():
    on = np.array([1, 1, 1, 1, 0, 0], bool)
    disabled, regrown = update_mask(on, SPIKES, POTENTIAL, DRIVE, n_off=3, regrow=False)
    assert disabled.tolist() == [1] and regrown.size == 0
    assert on.tolist() == [True, False, True, True, False, False]


def test_ties_disable_the_lower_map():
    on = np.ones(4, bool)
    update_mask(on, np.array([5, 1, 1, 5.]), np.array([5, 1, 1, 5.]), np.zeros(4), 1, True)
    assert on.tolist() == [True, False, True, True]


def test_drive_is_the_potential_at_the_winners_fire_time(tiny_net):
    """A winner's drive for every map is that map's potential at the winner's position after the
    winner's fire step: the same layer run on a window ending there (all maps enabled)."""
    _, net, enc = tiny_net
    cfg = tiny(**POLICY)
    policy = ChannelActivityPruning(cfg, net.arith)
    lc = cfg.layers[0]
    x = enc[3:4]
    out = net.run_layer(0, x, None)
    winners = wta.k_winners(out.times[0], out.v_fire[0], lc.winners,
                                    lc.inhibition_radius, net.T)
    assert len(winners) == 2
    expected = np.zeros(4)
    for f, y, xx in winners:
        t = out.times[0, f, y, xx]
        early = L.integrate(x, net.weights[0], net.active(0), lc.kernel, lc.padding, net.T,
                            net.thresholds[0], net.arith.potential_max, net.arith.dtype,
                            window=int(t) + 1)
        expected += early.v_final[0, :, y, xx]
        assert early.v_final[0, f, y, xx] == out.v_fire[0, f, y, xx]   # its own: v at firing
    policy.record(net, 0, out, winners, x)
    np.testing.assert_array_equal(policy.drive[0], expected)
    np.testing.assert_array_equal(policy.spikes[0], (out.times[0] < net.T).sum(axis=(1, 2)))
    np.testing.assert_array_equal(policy.potential[0], out.v_final[0].sum(axis=(1, 2)))


def test_disabled_map_never_fires_nor_learns_and_counts_as_skipped(tiny_encoded):
    cfg = tiny(**{"pruning.enabled": False})
    full, off = network.Network(cfg), network.Network(cfg)
    off.channel_on[0][1] = False
    frozen = off.weights[0][1].copy()
    x = tiny_encoded[:12]
    a, b = full.run_layer(0, x, None), off.run_layer(0, x, None)
    assert (b.times[:, 1] == off.T).all() and (b.v_final[:, 1] == 0).all()
    assert (a.times[:, 1] < off.T).any(), "map 1 fires when enabled, or the test shows little"
    # Nothing is pruned: every event reaches all 4 maps when enabled, and map 1's share is skipped.
    assert (a.sop_skipped == 0).all() and (a.sop_done % 4 == 0).all()
    np.testing.assert_array_equal(b.sop_skipped, a.sop_done // 4)
    np.testing.assert_array_equal(b.sop_done, a.sop_done - a.sop_done // 4)
    for j in range(len(x)):
        winners = off.learn(0, x[j:j + 1])
        assert 1 not in winners[:, 0]
    np.testing.assert_array_equal(off.weights[0][1], frozen)
    assert off.counters.get("learn", "sop_skipped")[0] == b.sop_skipped.sum()
    assert off.active_connections()[0] == 3 * 18 and off.convergence(0) < full.convergence(0)


def test_policy_in_learning_switches_maps_off(tiny_encoded):
    cfg = tiny(**POLICY)
    net = network.Network(cfg)
    x = layer_input(net, 0, tiny_encoded[:10])
    pruned_now = []
    for j in range(10):
        net.learn(0, x[j:j + 1])
        pruned_now.append(int(net.counters.get("learn", "pruned_now")[0]))
    # The first update after image 5 (= warmup) disables floor(0.5 * 4) = 2 maps of 18 weights.
    assert pruned_now[3] == 0 and pruned_now[4] == 36
    assert (~net.channel_on[0]).sum() == 2 and net.pruning.updates.tolist() == [2, 0]
    assert not net.pruning.spikes[0].any()          # reset by the update after image 10


@pytest.fixture(scope="module")
def resume_case():
    cfg = tiny(**POLICY, **{"layers.0.learning.max_images": 30,
                            "layers.1.learning.max_images": 30, "training.checkpoint_every": 7})
    return cfg, data.load(cfg).train_x[:30]


@pytest.fixture(scope="module")
def whole(resume_case):
    cfg, images = resume_case
    return Trainer(cfg, None, progress_bar=False).run(images)[0]


@pytest.mark.parametrize("stop_after", [13, 38])     # mid-layer, between mask updates
def test_resume_mid_layer_is_bit_identical(resume_case, whole, tmp_path, stop_after):
    cfg, images = resume_case
    ckpt = tmp_path / "run.npz"
    Trainer(cfg, ckpt, progress_bar=False).run(images, stop_after=stop_after)
    resumed, _ = Trainer(cfg, ckpt, progress_bar=False).run(images)
    sa, sb = whole.state(), resumed.state()
    assert sa.keys() == sb.keys() and any(k.startswith("policy.drive") for k in sa)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    report = whole.pruning.after_training(whole, None)
    assert report["maps_disabled"] == [2, 3]
    assert sum(report["regrow_events"]) > 0, "a regrowth must happen, or the test shows little"


@pytest.mark.parametrize("changes, key", [
    ({"pruning.channel_activity": {"sparsity": 1.0}}, "pruning.channel_activity.sparsity"),
    ({"pruning.channel_activity": {"sparsity": 0.5, "update_every": 0}},
     "pruning.channel_activity.update_every"),
    ({"pruning.channel_activity": {"sparsity": 0.5, "regrow": "yes"}},
     "pruning.channel_activity.regrow"),
    ({"pruning.channel_activity": {"sparsity": 0.5, "regrowth": True}},
     "pruning.channel_activity.regrowth"),
    ({"pruning.channel_activity": None}, "pruning.channel_activity"),
])
def test_config_errors(changes, key):
    with pytest.raises(C.ConfigError, match=key.replace(".", r"\.")):
        tiny(**{"pruning.policy": "channel_activity"}, **changes)


def test_experiment_variant_reports_the_maps(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "CHECKPOINTS", tmp_path)
    cfg = tiny(**POLICY, **{"layers.0.learning.max_images": 20, "layers.1.learning.max_images": 20})
    full = data.load(cfg)
    ds = data.Dataset(full.train_x[:30], full.train_y[:30], full.test_x[:20], full.test_y[:20])
    v = experiment.run_variant(cfg, ds, "pruned", "t", progress_bar=False)
    chose = v["policy"]
    assert chose["maps_disabled"] == [2, 3] and chose["mask_updates"] == [4, 4]
    assert [len(m) for m in chose["disabled_maps"]] == [2, 3]
    # Disabled maps' kernels: conv1 2 of 4 maps (18 weights each), conv2 3 of 6 (36 each).
    assert v["active_connections"] == [72 - 36, 216 - 108] and v["connections"] == [72, 216]
