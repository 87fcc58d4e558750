"""A learning command's parameters (cycles/learning.py): derived from the model as the learning
loop does, and exactly the layer core's learning registers."""
from amaranth.hdl import Shape
from amaranth.lib import wiring

from cycles.learning import REGISTERS, LearningParams
from cycles.layout import EngineLayout
from hw.core import LayerCore
from model import rng
from model.pruning import stdp_check


def test_for_image_follows_the_schedule_keys_and_check(tiny_net):
    cfg, net, _ = tiny_net
    for layer in range(len(cfg.layers)):
        for n in (0, 1, 299, 5000):
            lp = LearningParams.for_image(net, layer, n)
            a_plus, a_minus = net.arith.rates(cfg, n)
            check, threshold = stdp_check(net, layer, n)
            assert (lp.a_plus, lp.a_minus, lp.check, lp.prune_th) == (a_plus, a_minus, check, threshold)
            assert lp.layer_key == rng.layer_key(cfg.seed, layer) and lp.image_n == n
            assert lp.round_key == rng.round_key(cfg.seed, layer, n)
            assert lp.stdp_args() == dict(a_plus=a_plus, a_minus=a_minus, check=check,
                                          prune_th=threshold,
                                          round_key=rng.round_key(cfg.seed, layer, n))


def test_defaults_are_the_cycle_models_defaults():
    # an inference step carries no parameters: the cycle model's keyword defaults
    assert LearningParams().stdp_args() == dict(a_plus=0, a_minus=0, round_key=0, check=False,
                                                prune_th=0)
    lp = LearningParams(3, 2, 0xFFFF_FFFF, 7, check=True, prune_th=9)
    assert lp.registers() == dict(a_plus=3, a_minus=2, layer_key=0xFFFF_FFFF, image_n=7, check=1,
                                  prune_th=9)
    back = LearningParams.from_registers(lp.registers())
    assert back == lp and back.check is True


def test_registers_are_the_layer_cores_learning_inputs(tiny_net):
    cfg, net, times = tiny_net
    lay = EngineLayout.for_input(cfg, 0, 4, times[0])
    members = LayerCore(lay, net.ariths[0], cfg.layers[0]).signature.members
    limits = LearningParams.limits(lay.weight_bits, net.ariths[0].rate_frac_bits)
    assert list(limits) == list(REGISTERS)
    for name in REGISTERS:
        port = members[name]
        assert port.flow == wiring.In, name
        width = Shape.cast(port.shape).width
        assert limits[name] == (1 << width) - 1, name      # the port holds the limit
