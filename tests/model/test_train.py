"""Training, checkpoints and resume; the experiment and benchmark entry points in quick mode."""
from __future__ import annotations

import json

import numpy as np
import pytest

from model import config, data
from report import bench_model as bench, train as experiment
from model.train import CheckpointError, Trainer

# Trains the tiny network, several times over in the resume tests.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def tiny():
    cfg = config.load("configs/tiny.yaml")
    # Short layers, frequent checkpoints, pruning from image 10 on.
    return config.replace(cfg, **{"layers.0.learning.max_images": 40,
                                  "layers.1.learning.max_images": 40,
                                  "pruning.warmup": 10, "pruning.threshold": 0.6, "stdp.double_every": 5,
                                  "training.checkpoint_every": 7})


@pytest.fixture(scope="module")
def images(tiny):
    return data.load(tiny).train_x[:30]


def _same_state(a, b):
    sa, sb = a.state(), b.state()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


@pytest.mark.parametrize("stop_after", [1, 13, 40, 41, 67])   # mid-layer, at the layer boundary, layer 2
def test_resume_equals_uninterrupted(tiny, images, tmp_path, stop_after):
    whole, _ = Trainer(tiny, None, progress_bar=False).run(images)
    ckpt = tmp_path / "run.npz"
    part, _ = Trainer(tiny, ckpt, progress_bar=False).run(images, stop_after=stop_after)
    assert sum(part.learned) == stop_after
    resumed, progress = Trainer(tiny, ckpt, progress_bar=False).run(images)
    assert progress["finished"] == [True, True]
    _same_state(whole, resumed)
    assert sum(p.sum() for p in whole.pruned) > 0, "the run must prune, or the test shows little"


def test_checkpoint_is_atomic_and_tied_to_its_config(tiny, images, tmp_path):
    ckpt = tmp_path / "run.npz"
    Trainer(tiny, ckpt, progress_bar=False).run(images, stop_after=5)
    assert ckpt.is_file() and not list(tmp_path.glob("*.tmp"))
    other = config.replace(tiny, **{"seed": tiny.seed + 1})
    with pytest.raises(CheckpointError, match="different config"):
        Trainer(other, ckpt, progress_bar=False).run(images)


def test_finished_checkpoint_is_reused(tiny, images, tmp_path):
    ckpt = tmp_path / "run.npz"
    first, _ = Trainer(tiny, ckpt, progress_bar=False).run(images)
    again, _ = Trainer(tiny, ckpt, progress_bar=False).run(images)
    _same_state(first, again)
    assert again.counters.get("learn", "images").tolist() == [40, 40]


def test_convergence_stops_a_layer(tiny, images):
    cfg = config.replace(tiny, **{"layers.0.learning.convergence": 0.25,   # C <= 0.25 always
                                  "layers.0.learning.check_every": 4})
    net, progress = Trainer(cfg, None, progress_bar=False).run(images)
    assert net.learned[0] == 4 and progress["stopped_by"][0] == "convergence"
    assert net.learned[1] == 40 and progress["stopped_by"][1] == "max_images"


def test_float_mode_learns_differently_from_the_same_start(tiny, images):
    fixed, _ = Trainer(tiny, None, "fixed", progress_bar=False).run(images[:10])
    flt, _ = Trainer(tiny, None, "float", progress_bar=False).run(images[:10])
    assert flt.weights[0].dtype == np.float64
    w_fixed = fixed.weights[0] / 256.0
    assert not np.array_equal(w_fixed, flt.weights[0])
    # Same rule, same start: the two stay close (stochastic rounding is unbiased).
    assert np.abs(w_fixed - flt.weights[0]).mean() < 0.05


def test_experiment_quick_report(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "CHECKPOINTS", tmp_path / "ckpt")
    out = tmp_path / "train.json"
    assert experiment.main(["--config", "configs/tiny.yaml", "--quick", "--out", str(out),
                            "--no-progress"]) == 0
    rep = json.loads(out.read_text())
    for key in ("accuracy_dense", "accuracy_pruned", "connectivity_reduction",
                "sop_reduction_learning", "sop_reduction_inference", "images", "config", "seed"):
        assert key in rep, key
    assert 0 <= rep["accuracy_dense"] <= 1 and 0 <= rep["accuracy_pruned"] <= 1
    assert set(rep["connectivity_reduction"]["per_layer"]) == {"conv1", "conv2"}
    pruned = rep["variants"]["pruned"]
    dense = rep["variants"]["dense"]
    assert dense["active_connections"] == dense["connections"]
    assert rep["connectivity_reduction"]["total"] == pytest.approx(
        1 - sum(pruned["active_connections"]) / sum(pruned["connections"]))
    assert rep["connectivity_reduction"]["total"] > 0
    # Pruned synapses are skipped, not done: the skipped counter carries them.
    assert sum(pruned["counters"]["infer"]["sop_skipped"]) > 0
    assert sum(dense["counters"]["infer"]["sop_skipped"]) == 0
    assert rep["seed"] == rep["config"]["seed"] == 7


def test_experiment_refuses_a_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(open("configs/tiny.yaml").read().replace("weight_bits: 8", "weight_bits: 40"))
    assert experiment.main(["--config", str(bad), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "formats.weight_bits = 40" in err and "16" in err
    assert not (tmp_path / "x.json").exists()


def test_bench_quick_writes_its_fields(tmp_path):
    out = tmp_path / "bench.json"
    assert bench.main(["--config", "configs/tiny.yaml", "--quick", "--images", "4", "--repeats", "2",
                       "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    for key in ("ms_per_image_learn_conv1", "ms_per_image_learn_conv2", "ms_per_image_infer"):
        assert rep[key] > 0 and len(rep["samples_ms_per_image"][key.removeprefix("ms_per_image_")]) == 2
