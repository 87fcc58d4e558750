"""The event memories' depth (cycles.layout.input_events): the real bound on a pass's input
events, met by the encoder and the outgoing unit, and refused when an input breaks it."""
import numpy as np
import pytest

from conftest import layer_input
from cycles.core import network_layouts
from cycles.layout import EngineLayout, HardwareConfigError, PoolLayout
from model import config as C


def test_default_network_event_memories_hold_one_event_per_position():
    cfg = C.load("configs/mnist.yaml")
    conv1, conv2 = network_layouts(cfg)
    assert conv1.max_events == 2 * 28 * 28              # each input neuron spikes at most once
    assert conv2.max_events == 14 * 14 * 4              # not 30 x 14^2: one survivor per position
    assert PoolLayout.from_config(conv1, cfg.layers[0]).max_events == conv2.max_events


def test_the_encoder_and_the_outgoing_unit_stay_within_the_bound(tiny_cfg, tiny_net):
    cfg, net, times = tiny_net
    T = cfg.input.time_steps
    assert ((times < T).sum(axis=1) <= 1).all()        # a pixel spikes on or off, never both
    for layer in range(len(cfg.layers)):
        x = layer_input(net, layer, times)
        lay = EngineLayout.for_input(cfg, layer, 2, x)
        assert lay == network_layouts(cfg, 2)[layer]
        counts = [len(lay.events(xi)) for xi in x]   # every image: refused if over the bound
        assert max(counts) <= lay.max_events and max(counts) > 0


def test_more_events_than_the_memory_holds_are_refused():
    conv1, conv2 = network_layouts(C.load("configs/mnist.yaml"))
    every = np.zeros((conv2.channels, conv2.side_in, conv2.side_in), dtype=np.int64)  # all maps
    assert len(conv2.events(every[:4])) == conv2.max_events     # the bound itself is taken
    with pytest.raises(HardwareConfigError,
                       match=rf"{every.size} input spikes, more than the "
                             rf"{conv2.max_events} the layer's event memory holds"):
        conv2.events(every)
    # conv1 takes every input neuron spiking: any spike-time input, not only the encoder's
    assert len(conv1.events(np.zeros((2, 28, 28), dtype=np.int64))) == conv1.max_events
