# amaranth: UnusedElaboratable=no
"""Per-layer weight widths and post-training quantization (model/quantize.py).

(The first line silences Amaranth's unused-elaboratable warning: a test builds a core that its
constructor refuses, which is never elaborated.)"""
import numpy as np
import pytest

from conftest import tiny
from model import config as C
from model import quantize as Q
from model.data import Dataset
from model.fixedpoint import Formats
from model.network import Network
from cycles.layout import EngineLayout


# -- the rounding, by hand ----------------------------------------------------------------------

@pytest.mark.parametrize("to_bits, pairs", [
    # 8 -> 4: (q + 8) >> 4, clipped to 15
    (4, [(0, 0), (7, 0), (8, 1), (23, 1), (24, 2), (128, 8), (247, 15), (248, 15), (255, 15)]),
    # 8 -> 2: (q + 32) >> 6, clipped to 3
    (2, [(0, 0), (31, 0), (32, 1), (95, 1), (96, 2), (159, 2), (160, 3), (255, 3)]),
])
def test_requantize_hand_checked(to_bits, pairs):
    q, want = np.array(pairs).T
    assert Q.requantize(q, 8, to_bits).tolist() == want.tolist()


def test_widening_is_lossless_and_round_trips():
    q4 = np.arange(16)
    q8 = Q.requantize(q4, 4, 8)
    assert q8.tolist() == (q4 * 16).tolist()
    assert Q.requantize(q8, 8, 4).tolist() == q4.tolist()


# -- per-layer widths in the config ------------------------------------------------------------

def test_per_layer_widths_validate_and_reach_the_arithmetic_and_layout():
    cfg = tiny(**{"layers.0.weight_bits": 4, "layers.1.weight_bits": 6})
    assert [cfg.weight_bits(i) for i in range(2)] == [4, 6]
    assert tiny().weight_bits(1) == 8                     # default: formats.weight_bits
    assert Formats.from_config(cfg, 0).weight_max == 15
    assert Formats.from_config(cfg).weight_bits == 8
    assert EngineLayout.from_config(cfg, 1, 2, side_in=7, channels=4).weight_bits == 6
    net = Network(cfg)
    assert net.weights[0].max() <= 15 and net.weights[1].max() <= 63
    # thresholds 3.0 and 4.0 in each layer's LSBs; the pruning threshold 0.1 too
    assert net.thresholds == [48, 256]
    assert net.prune_thresholds == [round(0.1 * 16), round(0.1 * 64)]


@pytest.mark.parametrize("changes, words", [
    ({"layers.0.weight_bits": 1}, ["layers[0].weight_bits = 1", "greater than or equal to 2"]),
    ({"layers.1.weight_bits": 17}, ["layers[1].weight_bits = 17", "less than or equal to 16"]),
    ({"layers.0.weight_bits": 2, "layers.0.threshold": 0.1},
     ["layers[0] (conv1).threshold = 0.1", "rounds to 0 weight LSBs",
      "layers[0] (conv1).weight_bits = 2"]),
    ({"layers.1.weight_bits": 16, "formats.potential_bits": 16},
     ["layers[1] (conv2).threshold = 4.0", "262144 weight LSBs", "65535"]),
    ({"layers.0.weight_bits": 16, "formats.rate_frac_bits": 18},
     ["layers[0] (conv1).weight_bits + formats.rate_frac_bits = 34", "<= 32"]),
    ({"layers.0.weight_bits": 2, "pruning.threshold": 0.9},
     ["pruning.threshold = 0.9", "4 weight LSBs", "layers[0] (conv1).weight_bits = 2",
      "largest weight 3"]),
])
def test_bad_width_is_a_clear_error(changes, words):
    with pytest.raises(C.ConfigError) as exc:
        tiny(**changes)
    for w in words:
        assert w in str(exc.value)


def test_explicit_width_equal_to_the_default_changes_nothing(tiny_encoded):
    """A layer that names formats.weight_bits learns and infers bit-identically to one that
    inherits it; a 4-bit layer learns on 4 bits (its weights move and stay in range)."""
    nets = [Network(tiny()), Network(tiny(**{"layers.0.weight_bits": 8}))]
    # rates large enough that 4-bit weights move within a few images (a stochastic LSB each)
    narrow = Network(tiny(**{"layers.0.weight_bits": 4, "stdp.a_plus": 0.1, "stdp.a_minus": -0.08}))
    w4 = narrow.weights[0].copy()
    for x in tiny_encoded[:6]:
        for net in (*nets, narrow):
            net.learn(0, x[None])
    assert np.array_equal(nets[0].weights[0], nets[1].weights[0])
    assert np.array_equal(nets[0].pruned[0], nets[1].pruned[0])
    assert not np.array_equal(w4, narrow.weights[0]) and narrow.weights[0].max() <= 15


# -- quantizing a network ------------------------------------------------------------------------

def _trained_like(cfg, seed=3):
    """A network with spread weights, a pruning mask and a disabled map, as after training."""
    net = Network(cfg)
    rs = np.random.default_rng(seed)
    for i, s in enumerate(net.shapes):
        net.weights[i] = rs.integers(0, 256, s)
        net.pruned[i] = rs.random(s) < 0.3
    net.channel_on[1][2] = False
    net.learned = [200, 150]
    return net


def test_quantize_keeps_state_and_re_expresses_the_threshold():
    net = _trained_like(tiny(**{"layers.0.threshold": 3.1}))
    q = Q.quantize(net, [4, None])
    assert [q.cfg.weight_bits(i) for i in range(2)] == [4, 8]
    assert np.array_equal(q.weights[0], np.minimum((net.weights[0] + 8) >> 4, 15))
    assert np.array_equal(q.weights[1], net.weights[1])
    # 3.1 weight units: 794 LSBs at 8 bits (793.6), 50 at 4 bits (49.6), 12 at 2 bits (12.4)
    assert (net.thresholds[0], q.thresholds[0], Q.quantize(net, 2).thresholds[0]) == (794, 50, 12)
    assert q.thresholds[1] == net.thresholds[1]
    for i in range(2):
        assert np.array_equal(q.pruned[i], net.pruned[i])
        assert np.array_equal(q.channel_on[i], net.channel_on[i])
    assert q.learned == net.learned and q.window == net.window
    assert net.cfg.weight_bits(0) == 8               # the original is untouched


def test_quantize_to_the_same_width_is_the_same_network(tiny_encoded):
    net = _trained_like(tiny())
    q = Q.quantize(net, 8)
    x = tiny_encoded[:4]
    for i in range(2):
        assert np.array_equal(q.weights[i], net.weights[i])
    a, b = net.run_layer(0, x, None), q.run_layer(0, x, None)
    assert np.array_equal(a.times, b.times) and np.array_equal(a.v_final, b.v_final)


def test_quantize_refuses_float_and_wrong_lengths():
    with pytest.raises(ValueError, match="mode = 'float'"):
        Q.quantize(Network(tiny(), "float"), 4)
    with pytest.raises(ValueError, match="one width per layer"):
        Q.quantize(Network(tiny()), [4])


def test_sweep_reports_one_accuracy_per_width(tiny_data):
    ds = Dataset(tiny_data.train_x[:40], tiny_data.train_y[:40],
                 tiny_data.test_x[:20], tiny_data.test_y[:20])
    net = _trained_like(tiny())
    rows = Q.quantization_sweep(net, ds, bits=(2, 4, 8), per_layer=True)
    assert [(r["layer"], r["bits"]) for r in rows] == [
        (layer, b) for layer in ("all", "conv1", "conv2") for b in (2, 4, 8)]
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    # at the trained width the quantized network is the network: same accuracy
    acc = {(r["layer"], r["bits"]): r["accuracy"] for r in rows}
    assert acc["all", 8] == Q.readout_accuracy(net, ds) == acc["conv1", 8] == acc["conv2", 8]


def test_sweep_reports_a_refused_width_as_none(tiny_data):
    """conv1's threshold 0.1 is below one LSB of 2 bits (0.4 LSB): that width has no accuracy."""
    ds = Dataset(tiny_data.train_x[:20], tiny_data.train_y[:20],
                 tiny_data.test_x[:10], tiny_data.test_y[:10])
    net = _trained_like(tiny(**{"layers.0.threshold": 0.1}))
    rows = Q.quantization_sweep(net, ds, bits=(2, 4))
    assert rows[0]["accuracy"] is None and rows[1]["accuracy"] is not None


# -- the hardware generator at a layer's width ---------------------------------------------------

def test_core_is_generated_at_the_layer_width():
    """The weight memories, the STDP trace and the pruning threshold port follow the layer's
    width; the memory bits of the core shrink by exactly the weight memories' (8 - 4) bits."""
    from boards import resources as R
    from hw.core import LayerCore
    from cycles.core import network_layouts
    from cycles.layout import HardwareConfigError
    bits = {}
    for b in (8, 4):
        cfg = Q.quantized_config(tiny(), b)
        lay = network_layouts(cfg, 4)[0]
        core = LayerCore(lay, Formats.from_config(cfg, 0), cfg.layers[0])
        assert len(core.tr_q) == len(core.prune_th) == len(core.engine.syn.w_data[0]) == b
        bits[b] = R.design_blocks(core, "top")[1]
    assert bits[8] - bits[4] == lay.rows * lay.groups * lay.lanes * 4
    with pytest.raises(HardwareConfigError, match="formats.weight_bits = 8.*weight_bits = 4"):
        LayerCore(lay, Formats.from_config(tiny(), 0), cfg.layers[0])


def test_resources_weight_bits_is_not_a_baseline(capsys):
    from boards import resources as R
    with pytest.raises(SystemExit):
        R.main(["--config", "configs/tiny.yaml", "--weight-bits", "4", "--record-baseline"])
    assert "--weight-bits 4 with --record-baseline" in capsys.readouterr().err
