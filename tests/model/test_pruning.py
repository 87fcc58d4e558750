"""Threshold pruning (model/pruning.py) on its own and inside Network learning.

The schedule check replicates the hardware's pruning: nothing during the warm-up, one sweep of
the whole weight memory when the warm-up completes, then only the kernels of the maps that won
(the words the STDP unit writes) after each image. It must give the model's mask image by image.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import layer_input, tiny
from model import config as C, network
from model.fixedpoint import Formats
from model.floatmode import FloatFormats
from model.pruning.threshold import ThresholdPruning

# Fast-moving learning and a pruning threshold near the initial mean (0.8) so that pruning
# happens within a few dozen images: threshold round(0.78 * 256) = round(199.68) = 200 LSBs.
PRUNE_CHANGES = {"pruning.threshold": 0.78, "pruning.warmup": 5,
                 "stdp.a_plus": 0.05, "stdp.a_minus": -0.04}
TH_Q = 200
WARMUP = 5


def test_threshold_in_lsbs():
    cfg = tiny(**PRUNE_CHANGES)
    assert ThresholdPruning(cfg, Formats.from_config(cfg)).threshold == TH_Q
    assert ThresholdPruning(cfg, FloatFormats.from_config(cfg)).threshold == 0.78
    assert ThresholdPruning(tiny(), Formats.from_config(tiny())).threshold == 26   # round(25.6)


def test_after_update_by_hand():
    cfg = tiny(**{"pruning.threshold": 0.1, "pruning.warmup": 3})     # 26 LSBs
    p = ThresholdPruning(cfg, Formats.from_config(cfg))
    w = np.array([[0, 25, 26], [27, 3, 200]])
    pruned = np.zeros(w.shape, bool)
    # learned 1, 2 < warmup 3: nothing, even though 0, 25 and 3 are below 26.
    assert p.after_update(1, w, pruned) == 0 and p.after_update(2, w, pruned) == 0
    assert not pruned.any()
    # learned 3: the warm-up is complete; strictly below 26: 0, 25, 3.
    assert p.after_update(3, w, pruned) == 3
    assert pruned.tolist() == [[True, True, False], [False, True, False]]
    # Again: nothing new is counted; a weight that rose above the threshold stays pruned.
    w2 = w.copy()
    w2[0, 0] = 255
    w2[0, 2] = 25
    assert p.after_update(4, w2, pruned) == 1
    assert pruned.tolist() == [[True, True, True], [False, True, False]]


def test_after_update_disabled():
    cfg = tiny(**{"pruning.enabled": False, "pruning.warmup": 0})
    p = ThresholdPruning(cfg, Formats.from_config(cfg))
    pruned = np.zeros(3, bool)
    assert p.after_update(100, np.array([0, 1, 2]), pruned) == 0 and not pruned.any()


def _learn_layers(net, enc, n_images):
    """Yield (layer, image index, winners, mask before, weights before) while learning."""
    for i in range(len(net.shapes)):
        times = layer_input(net, i, enc[:n_images])
        for j in range(n_images):
            before_mask, before_w = net.pruned[i].copy(), net.weights[i].copy()
            winners = net.learn(i, times[j:j + 1])
            yield i, j, winners, before_mask, before_w


def test_model_sweep_equals_hardware_schedule(tiny_encoded):
    cfg = tiny(**PRUNE_CHANGES)
    net = network.Network(cfg)
    hw = [np.zeros(s, bool) for s in net.shapes]
    grew_after_sweep = [0, 0]
    for i, j, winners, before_mask, _ in _learn_layers(net, tiny_encoded, 30):
        learned = j + 1
        w = net.weights[i]
        if learned == WARMUP:
            hw[i] |= w < TH_Q                                  # one full sweep
        elif learned > WARMUP:
            for f in set(winners[:, 0].tolist()):              # the kernels STDP wrote
                hw[i][f] |= w[f] < TH_Q
            grew_after_sweep[i] += int(net.pruned[i].sum() - before_mask.sum())
        assert np.array_equal(net.pruned[i], hw[i]), (i, j)
        # the pruned_now counter adds up the newly pruned connections
        assert net.counters.get("learn", "pruned_now")[i] == hw[i].sum()
    # Not vacuous: the sweep pruned something, and so did later images' STDP.
    assert all(h.any() for h in hw) and all(g > 0 for g in grew_after_sweep)


def test_nothing_pruned_during_warmup(tiny_encoded):
    cfg = tiny(**PRUNE_CHANGES)
    net = network.Network(cfg)
    assert (net.weights[0] < TH_Q).any()           # candidates exist from the start
    times = tiny_encoded
    for j in range(WARMUP - 1):
        net.learn(0, times[j:j + 1])
        assert not net.pruned[0].any()
    net.learn(0, times[WARMUP - 1:WARMUP])
    assert np.array_equal(net.pruned[0], net.weights[0] < TH_Q)


def test_pruned_weights_frozen_and_stdp_counters(tiny_encoded):
    cfg = tiny(**PRUNE_CHANGES)
    net = network.Network(cfg)
    frozen = [{} for _ in net.shapes]
    touched_pruned = 0
    done0 = net.counters.get("learn", "stdp_done").copy()
    skip0 = net.counters.get("learn", "stdp_skipped").copy()
    for i, j, winners, before_mask, before_w in _learn_layers(net, tiny_encoded, 30):
        fan_in = int(np.prod(net.shapes[i][1:]))
        # every weight pruned before this image kept its value through it
        assert np.array_equal(net.weights[i][before_mask], before_w[before_mask]), (i, j)
        # STDP counters: each winner's kernel is fan_in synapses, pruned ones are skipped
        skipped = int(sum(before_mask[f].sum() for f in winners[:, 0]))
        touched_pruned += skipped
        done = net.counters.get("learn", "stdp_done")[i] - done0[i]
        skip = net.counters.get("learn", "stdp_skipped")[i] - skip0[i]
        assert (done, skip) == (len(winners) * fan_in - skipped, skipped)
        done0[i] += done
        skip0[i] += skip
        # the value at pruning time is the one every later image must keep
        for idx in zip(*np.nonzero(net.pruned[i] & ~before_mask)):
            frozen[i][idx] = net.weights[i][idx]
        for idx, v in frozen[i].items():
            assert net.weights[i][idx] == v
    assert touched_pruned > 0          # winners did have pruned synapses to skip


def test_pruning_disabled_never_prunes(tiny_encoded):
    cfg = tiny(**{**PRUNE_CHANGES, "pruning.enabled": False})
    net = network.Network(cfg)
    for _ in _learn_layers(net, tiny_encoded, 12):
        pass
    assert not any(p.any() for p in net.pruned)
    assert (net.weights[0] < TH_Q).any()
    assert net.counters.get("learn", "pruned_now").tolist() == [0, 0]


@pytest.mark.parametrize("layer", [0, 1])
def test_learning_changes_only_winners_kernels(tiny_encoded, layer):
    cfg = tiny(**PRUNE_CHANGES)
    net = network.Network(cfg)
    for i, j, winners, _, before_w in _learn_layers(net, tiny_encoded, 8):
        if i != layer:
            continue
        others = np.setdiff1d(np.arange(net.shapes[i][0]), winners[:, 0])
        assert np.array_equal(net.weights[i][others], before_w[others])
        assert net.learned[i] == j + 1


# -- per-layer threshold and warm-up ---------------------------------------------------------------

def test_layer_overrides_threshold_and_warmup():
    """A layer's own pruning entry wins over the section's; the other layer keeps the section's."""
    cfg = tiny(**{"pruning.threshold": 0.1, "pruning.warmup": 3,
                  "layers.1.pruning.threshold": 0.5, "layers.1.pruning.warmup": 7})
    assert [cfg.prune_threshold(i) for i in range(2)] == [0.1, 0.5]
    assert [cfg.prune_warmup(i) for i in range(2)] == [3, 7]
    net = network.Network(cfg)
    assert net.prune_thresholds == [round(0.1 * 256), round(0.5 * 256)]
    p = net.pruning
    w = np.array([10, 100, 200], dtype=np.int64)
    pruned = np.zeros(3, dtype=bool)
    # layer 1: its own warm-up (7), not the section's 3, and its own threshold (128 LSBs)
    assert p.after_update(6, w, pruned, net.prune_thresholds[1], p.warmups[1]) == 0
    assert p.after_update(7, w, pruned, net.prune_thresholds[1], p.warmups[1]) == 2
    assert pruned.tolist() == [True, True, False]
    from model.pruning import stdp_check
    # the STDP unit checks its writes from the image after the one that completes the warm-up
    assert stdp_check(net, 0, 3) == (True, 26) and stdp_check(net, 0, 2) == (False, 26)
    assert stdp_check(net, 1, 7) == (True, 128) and stdp_check(net, 1, 6) == (False, 128)


def test_layer_override_validated():
    with pytest.raises(C.ConfigError, match=r"layers\[0\]\.pruning\.threshold = 1\.5"):
        tiny(**{"layers.0.pruning.threshold": 1.5})
    with pytest.raises(C.ConfigError, match=r"layers\[1\]\.pruning\.warmup = -2"):
        tiny(**{"layers.1.pruning.warmup": -2})
    with pytest.raises(C.ConfigError, match=r"unknown key 'layers\[0\]\.pruning\.treshold'"):
        tiny(**{"layers.0.pruning.treshold": 0.2})


# -- whole maps off at the end of the warm-up --------------------------------------------------------

def test_maps_off_disables_least_active_maps_at_warmup_end(tiny_encoded):
    """layers[0].pruning.maps_off: after the warm-up's last image, floor(share x maps) maps with
    the lowest importance over the warm-up go off for good; the count returned is the live
    connections lost; the threshold rule runs as without the option."""
    from model.pruning.channel_activity import importance
    cfg = tiny(**{**PRUNE_CHANGES, "layers.0.pruning.maps_off": 0.5})
    net, plain = network.Network(cfg), network.Network(tiny(**PRUNE_CHANGES))
    maps = net.shapes[0][0]
    n_off = maps // 2
    spikes, potential = np.zeros(maps), np.zeros(maps)
    for j in range(WARMUP):
        out = net.run_layer(0, tiny_encoded[j:j + 1], None)
        spikes += (out.times[0] < net.T).sum(axis=(1, 2))
        potential += out.v_final[0].sum(axis=(1, 2))
        live = int(net.active(0).sum())
        net.learn(0, tiny_encoded[j:j + 1])
        plain.learn(0, tiny_encoded[j:j + 1])
        lost = net.counters.get("learn", "pruned_now")[0]
        if j < WARMUP - 1:
            assert net.channel_on[0].all() and lost == 0
    score = importance(spikes, potential, np.ones(maps, dtype=bool))
    expect = np.sort(np.argsort(score, kind="stable")[:n_off])
    assert np.flatnonzero(~net.channel_on[0]).tolist() == expect.tolist()
    assert len(set(np.round(score, 12))) > 1            # the ranking had something to tell apart
    assert net.counters.get("learn", "pruned_now")[0] == live - int(net.active(0).sum())
    # the threshold rule itself is unchanged: the same mask as without the option
    assert np.array_equal(net.pruned[0], plain.pruned[0])
    # off for good: later images do not bring a map back, and a disabled map no longer learns
    frozen = net.weights[0][~net.channel_on[0]].copy()
    for j in range(WARMUP, WARMUP + 6):
        net.learn(0, tiny_encoded[j:j + 1])
    assert (~net.channel_on[0]).sum() == n_off
    assert np.array_equal(net.weights[0][~net.channel_on[0]], frozen)


def test_maps_off_state_resumes():
    """The warm-up's activity is in the policy's state, so a checkpoint resumes it."""
    cfg = tiny(**{"layers.0.pruning.maps_off": 0.5})
    a, b = network.Network(cfg), network.Network(cfg)
    a.pruning.spikes[0][:] = np.arange(len(a.pruning.spikes[0])) * 3 % 5
    a.pruning.potential[0][:] = 7.5
    b.load_state(a.state())
    assert np.array_equal(b.pruning.spikes[0], a.pruning.spikes[0])
    assert np.array_equal(b.pruning.potential[0], a.pruning.potential[0])


def test_maps_off_validated():
    with pytest.raises(C.ConfigError, match=r"layers\[0\]\.pruning\.maps_off = 1"):
        tiny(**{"layers.0.pruning.maps_off": 1.0})
    with pytest.raises(C.ConfigError, match=r"layers\[1\]\.pruning\.maps_off = -0\.1"):
        tiny(**{"layers.1.pruning.maps_off": -0.1})


def test_dense_checkpoint_ignores_pruning_settings():
    """With pruning disabled nothing of the pruning settings decides the network: a sweep of
    them shares the dense checkpoint; with pruning enabled they change it."""
    from model.train import config_digest
    dense = tiny(**{"pruning.enabled": False})
    other = C.replace(dense, **{"pruning.threshold": 0.3, "layers.0.pruning.maps_off": 0.5})
    assert config_digest(other, "fixed") == config_digest(dense, "fixed")
    on = C.replace(dense, **{"pruning.enabled": True})
    assert config_digest(C.replace(on, **{"pruning.threshold": 0.3}), "fixed") != config_digest(on, "fixed")
