"""The temporal window (model/pruning/temporal_window.py): the choice, the training schedule,
windowed features, resume, the experiment's record, config errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import tiny
from model import config as C, data, readout
from report import train as experiment
from model.network import Network
from model.pruning import temporal_window
from model.pruning.temporal_window import (choose_window, cross_entropy, held_out_divergence,
                                           training_window)
from model.train import Trainer

# Trains the tiny network, several times over in the resume tests.
pytestmark = pytest.mark.timeout(900)


def window_cfg(**changes):
    return tiny(**{"pruning.policy": "temporal_window",
                   "pruning.temporal_window": {"divergence": 0.01, "reduce_every": 5,
                                               "min_steps": 3}, **changes})


def test_choose_window_by_hand():
    # min 0.1, max 2.0, span 1.9: normalised t=3 (0.5) -> 0.4/1.9 = 0.21, t=4 (0.104) ->
    # 0.004/1.9 = 0.0021 <= 0.01, so 4; with a bound of 0.001 only t=5 and 6 (0) qualify.
    curve = [2.0, 1.0, 0.5, 0.104, 0.1, 0.1]
    assert choose_window(curve, 0.01) == 4
    assert choose_window(curve, 0.001) == 5
    assert choose_window(curve, 0.25) == 3
    assert choose_window([1.0, 0.0, 1.0], 0.01) == 2      # not the last: the smallest that qualifies
    assert choose_window([0.7, 0.7, 0.7], 0.01) == 1      # flat: normalises to 0 everywhere
    with pytest.raises(ValueError, match="one value per window"):
        choose_window([], 0.01)


def test_divergence_by_hand():
    # softmax(0, ln 3) = (1/4, 3/4): label 7 (second class) costs -ln(3/4), label 3 -ln(1/4).
    d = np.array([[0.0, math.log(3)], [0.0, math.log(3)]])
    assert cross_entropy(d, np.array([3, 7]), np.array([7, 3])) == pytest.approx(
        -(math.log(3 / 4) + math.log(1 / 4)) / 2)
    # Two classes: one decision value d for the second class, p = sigmoid(d) = 3/4 at d = ln 3.
    assert cross_entropy(np.array([math.log(3)]), np.array([3, 7]), np.array([7])) == pytest.approx(
        -math.log(3 / 4))


def test_training_window_schedule():
    # T = 8, one step shorter every 5 images, floor 3.
    got = [training_window(8, n, 5, 3) for n in range(0, 40, 5)]
    assert got == [8, 7, 6, 5, 4, 3, 3, 3]
    assert training_window(8, 4, 5, 3) == 8 and training_window(8, 9, 5, 3) == 7
    assert training_window(8, 1000, 0, 3) == 8             # reduce_every 0: off


def test_windowed_features_equal_late_spikes_removed(tiny_data):
    cfg = window_cfg()
    images, T = tiny_data.train_x[:8], cfg.input.time_steps
    full = Network(cfg).features(images, phase=None)
    for t in (2, 4, 6):
        windowed = Network(cfg)
        windowed.window = t
        cut = Network(cfg)
        encoded = cut.encode(images)
        cut.encode = lambda x, e=encoded: np.where(e >= t, T, e).astype(e.dtype)
        np.testing.assert_array_equal(windowed.features(images, phase=None),
                                      cut.features(images, phase=None))
        assert not np.array_equal(windowed.features(images, phase=None), full), t


def _short(**changes):
    return window_cfg(**{"layers.0.learning.max_images": 10, "layers.1.learning.max_images": 10,
                         "stdp.double_every": 5, "training.checkpoint_every": 3, **changes})


@pytest.fixture(scope="module")
def images():
    return data.load(_short()).train_x[:12]


@pytest.mark.parametrize("stop_after", [7, 13, 17])   # layer 0; layer 1 at window 6, at 5
def test_training_shrinks_the_window_and_resumes(images, tmp_path, stop_after):
    cfg = _short()
    whole, _ = Trainer(cfg, None, progress_bar=False).run(images)
    assert whole.window == 8 - 20 // 5 == 4
    ckpt = tmp_path / "run.npz"
    part, _ = Trainer(cfg, ckpt, progress_bar=False).run(images, stop_after=stop_after)
    assert part.window == 8 - stop_after // 5
    resumed, _ = Trainer(cfg, ckpt, progress_bar=False).run(images)
    # The counters include layer 0's operations while layer 1 learned: they match only if the
    # uninterrupted run re-ran layer 0 when the window shrank, as the resumed run does.
    sa, sb = whole.state(), resumed.state()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


def test_experiment_chooses_and_keeps_the_window(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "CHECKPOINTS", tmp_path)
    cfg = _short(**{"data.limit_train": 60, "data.limit_test": 30})
    ds = data.load(cfg)
    rec = experiment.run_variant(cfg, ds, "pruned", "t", progress_bar=False)["policy"]
    assert rec["name"] == "temporal_window" and rec["trained_window"] == 4
    assert len(rec["divergence"]) == 4
    assert rec["window"] == choose_window(rec["divergence"], 0.01) <= 4
    # The choice is saved with the network: a second run reads it back instead of choosing.
    monkeypatch.setattr(temporal_window, "select_window", None)
    again = experiment.run_variant(cfg, ds, "pruned", "t", progress_bar=False)["policy"]
    assert again == rec


def test_held_out_divergence_scores_unseen_images():
    # Noise features, 4 classes: an SVM fitted on the same 40 images separates them (its own
    # cross-entropy is low) but says nothing about images it was not fitted on, whose
    # cross-entropy is at least chance's ln 4. Features that carry the label score low held out.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    noise = rng.normal(size=(40, 60))
    cfg = window_cfg()
    fitted = readout.fit(cfg, noise, labels, max_iter=200)
    assert cross_entropy(fitted.decision_function(noise), fitted.classes_, labels) < 0.5 * math.log(4)
    assert held_out_divergence(cfg, noise, labels, folds=2, max_iter=200) > math.log(4)
    signal = np.eye(4)[labels] + 0.1 * rng.normal(size=(40, 4))
    assert held_out_divergence(cfg, signal, labels, folds=2, max_iter=200) < 0.5
    # Out-of-fold by hand: stratified 2 folds in order are images 0-4 of each class, then 5-9.
    first = np.tile(np.arange(10) < 5, 4)
    d = np.empty((40, 4))
    for test in (first, ~first):
        d[test] = readout.fit(cfg, signal[~test], labels[~test], max_iter=200).decision_function(signal[test])
    assert held_out_divergence(cfg, signal, labels, folds=2, max_iter=200) == pytest.approx(
        cross_entropy(d, np.arange(4), labels))


def test_selection_scores_a_subsample(monkeypatch):
    # The curve sees only the first `images` training images; the choice follows the curve.
    net = Network(window_cfg(**{"pruning.temporal_window.images": 12,
                                "pruning.temporal_window.max_iter": 50}))
    x, y = np.zeros((30, 1)), np.arange(30)
    seen = {}

    def curve(net_, images, labels, upto):
        seen.update(rows=len(images), labels=list(labels), upto=upto)
        return np.array([5.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])

    monkeypatch.setattr(temporal_window, "divergence_curve", curve)
    rec = temporal_window.select_window(net, x, y)
    assert seen == {"rows": 12, "labels": list(range(12)), "upto": 8}
    assert rec["window"] == net.window == 3 and rec["trained_window"] == 8


def test_config_errors():
    with pytest.raises(C.ConfigError, match=r"pruning.temporal_window.min_steps = 9: must be at "
                                            r"most input.time_steps = 8"):
        Network(window_cfg(**{"pruning.temporal_window.min_steps": 9}))
    with pytest.raises(C.ConfigError, match=r"pruning.temporal_window.reduce_every = -1"):
        window_cfg(**{"pruning.temporal_window.reduce_every": -1})
    with pytest.raises(C.ConfigError, match=r"pruning.temporal_window.divergence = 0.0"):
        window_cfg(**{"pruning.temporal_window.divergence": 0.0})
    with pytest.raises(C.ConfigError, match=r"pruning.temporal_window.images = 5"):
        window_cfg(**{"pruning.temporal_window.images": 5})
    with pytest.raises(C.ConfigError, match=r"pruning.temporal_window.max_iter = 0"):
        window_cfg(**{"pruning.temporal_window.max_iter": 0})
    with pytest.raises(C.ConfigError, match=r"pruning.temporal_window.folds = 1"):
        window_cfg(**{"pruning.temporal_window.folds": 1})
    with pytest.raises(C.ConfigError, match="needs its parameters under pruning.temporal_window"):
        window_cfg(**{"pruning.temporal_window": None})
