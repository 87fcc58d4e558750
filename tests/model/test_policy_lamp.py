"""LAMP pruning (model/pruning/lamp.py): scores, the global cut, the rounds, resume, config."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny
from model import config as C, data
from report import train as experiment
from model.network import Network
from model.pruning.lamp import global_cut, lamp_scores, round_size
from model.train import Trainer

# Trains the tiny network, several times over in the resume tests.
pytestmark = pytest.mark.timeout(900)


def lamp_cfg(**changes):
    return tiny(**{"pruning.policy": "lamp", "pruning.lamp": {"target": 0.5, "fraction": 0.25,
                                                               "retrain_images": 10}, **changes})


def test_scores_by_hand():
    # Ascending 1, 2, 3, 4; squares 1, 4, 9, 16; tails (sum of squares at or above):
    # 1 -> 1+4+9+16 = 30, 2 -> 29, 3 -> 25, 4 -> 16.
    s = lamp_scores(np.array([4, 3, 2, 1]), np.ones(4, dtype=bool))
    np.testing.assert_allclose(s, [16 / 16, 9 / 25, 4 / 29, 1 / 30])
    # Weight 3 pruned: it scores 0 and leaves the others' tails: 1 -> 21, 2 -> 20, 4 -> 16.
    s = lamp_scores(np.array([4, 3, 2, 1]), np.array([True, False, True, True]))
    np.testing.assert_allclose(s, [1, 0, 4 / 20, 1 / 21])


def test_ties_ranked_by_address():
    # [2, 2, 1]: sorted (weight, address) = 1@2, 2@0, 2@1; tails 9, 8, 4:
    # the later address of the tie is the larger one and alone scores 1.
    s = lamp_scores(np.array([2, 2, 1]), np.ones(3, dtype=bool))
    np.testing.assert_allclose(s, [4 / 8, 4 / 4, 1 / 9])


def test_global_cut_follows_scores_not_magnitudes():
    a = np.array([4, 3, 2, 1])          # scores 1, .36, .138, .0333 (above)
    b = np.array([60, 50, 10])          # tails 6200, 6100, 3600: scores 1, .410, .0161
    live = [np.ones(4, dtype=bool), np.ones(3, dtype=bool)]
    cut = global_cut([a, b], live, 3)
    # Lowest three: b's 10 (.0161), a's 1 (.0333), a's 2 (.138); a global magnitude cut would
    # take a's 1, 2, 3 and none of b.
    assert cut[0].tolist() == [False, False, True, True]
    assert cut[1].tolist() == [False, False, True]
    # Cutting all but two keeps exactly each layer's largest weight (score 1).
    cut = global_cut([a, b], live, 5)
    assert cut[0].tolist() == [False, True, True, True] and cut[1].tolist() == [False, True, True]


def test_round_sizes_reach_the_target_exactly():
    # 100 connections, target 50: 25 (of 100), 19 (18.75 of 75, half up), then 6 (14 of 56
    # capped at the 6 left), then nothing.
    sizes, pruned = [], 0
    while (n := round_size(100, pruned, 0.5, 0.25)):
        sizes.append(n)
        pruned += n
    assert sizes == [25, 19, 6]
    assert round_size(100, 0, 0.001, 0.25) == 0          # 0.1 rounds to 0: nothing to prune
    assert round_size(100, 99, 0.999, 0.25) == 1         # at least one per round


def test_network_rounds_keep_each_layers_largest_weight():
    net = Network(lamp_cfg(**{"pruning.lamp.target": 0.99}))
    tops = [np.flatnonzero(w.ravel() == w.max())[-1] for w in net.weights]   # last of the ties
    cuts = []
    while (cut := net.pruning.next_round(net)) is not None:
        cuts.append(sum(cut))
    total = sum(net.total_connections())                   # 72 + 216 = 288
    assert total == 288 and sum(p.sum() for p in net.pruned) == round(0.99 * 288) == 285
    assert cuts[:2] == [72, 54] and cuts[-1] >= 1            # 288/4, 216/4, ...
    for p, top in zip(net.pruned, tops):
        assert not p.ravel()[top]


@pytest.fixture(scope="module")
def images():
    return data.load(lamp_cfg()).train_x[:30]


def _short(**changes):
    return lamp_cfg(**{"layers.0.learning.max_images": 20, "layers.1.learning.max_images": 20,
                       "stdp.double_every": 5, "training.checkpoint_every": 7, **changes})


@pytest.mark.parametrize("stop_after", [40, 45, 55, 60, 93])   # in rounds 1, 1, 1/2, 2, 3
def test_resume_in_the_rounds_equals_uninterrupted(images, tmp_path, stop_after):
    cfg = _short()
    whole, wp = Trainer(cfg, None, progress_bar=False).run(images)
    ckpt = tmp_path / "run.npz"
    part, _ = Trainer(cfg, ckpt, progress_bar=False).run(images, stop_after=stop_after)
    resumed, rp = Trainer(cfg, ckpt, progress_bar=False).run(images)
    # 144 of 288: rounds of 72, 54, 18, each followed by 10 images per layer.
    assert [sum(r["pruned"]) for r in wp["rounds"]] == [72, 54, 18]
    assert rp["rounds"] == wp["rounds"] and whole.learned == [50, 50]
    sa, sb = whole.state(), resumed.state()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    # What a round pruned is frozen through the later retraining.
    for i in range(2):
        np.testing.assert_array_equal(whole.weights[i][part.pruned[i]], part.weights[i][part.pruned[i]])


@pytest.mark.parametrize("changes, message", [
    ({"pruning.lamp": None}, "pruning.policy = 'lamp' needs its parameters under pruning.lamp"),
    ({"pruning.lamp.target": 1.0}, "pruning.lamp.target = 1.0: Input should be less than 1"),
    ({"pruning.lamp.fraction": 0.0}, "pruning.lamp.fraction = 0.0: Input should be greater than 0"),
    ({"pruning.lamp.retrain_images": -1}, "pruning.lamp.retrain_images = -1"),
    ({"pruning.lamp.rounds": 3}, "unknown key 'pruning.lamp.rounds' (allowed here: fraction, "
                                 "retrain_images, target)"),
])
def test_config_errors(changes, message):
    with pytest.raises(C.ConfigError) as exc:
        lamp_cfg(**changes)
    assert message in str(exc.value)


def test_experiment_reports_the_rounds(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "CHECKPOINTS", tmp_path)
    cfg = _short(**{"data.limit_train": 40, "data.limit_test": 30})
    rep = experiment.run_variant(cfg, data.load(cfg), "pruned", "t", progress_bar=False)
    rec = rep["policy"]
    assert rec["name"] == "lamp" and rec["window"] == 8 and rec["rounds"] == 3
    assert [sum(r) for r in rec["pruned_per_round"]] == [72, 54, 18]
    per_layer = np.sum(rec["pruned_per_round"], axis=0)
    assert rec["pruned_share"] == pytest.approx((per_layer / [72, 216]).tolist())
    assert [a / t for a, t in zip(rep["active_connections"], rep["connections"])] == \
        pytest.approx([1 - s for s in rec["pruned_share"]])
