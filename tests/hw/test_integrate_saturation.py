"""The integrate engine's potentials saturate at their largest value (hw/integrate.py ``vmax``)
as the model's do: a layer of narrow potentials, every weight at its largest, every input
spiking at step 0, the threshold at the largest potential, so sums run past 2^bits - 1."""
import dataclasses

import numpy as np

from cycles.integrate import integrate_pass
from cycles.layout import EngineLayout
from conftest import random_synapses
from test_integrate import _divergences, _simulate

POTENTIAL_BITS = 10


def test_potentials_saturate_at_their_largest_value(tiny_net):
    cfg, net, _ = tiny_net
    lanes = 4
    x = np.zeros((1, 2, 14, 14), dtype=np.int64)           # every DoG input spikes at step 0
    lay = dataclasses.replace(EngineLayout.for_input(cfg, 0, lanes, x),
                              potential_bits=POTENTIAL_BITS)
    weights, active = random_synapses(net, 0, 1, 0.0)
    weights = np.full_like(weights, (1 << lay.weight_bits) - 1)
    vmax = (1 << POTENTIAL_BITS) - 1
    pred = integrate_pass(lay, x[0], weights, active, vmax)
    # the premise: a neuron's inputs sum past vmax, which only saturation turns into a spike
    assert lay.channels * lay.kernel ** 2 * int(weights.max()) > vmax
    assert (pred.fire < lay.time_steps).any() and (pred.v_fire == vmax).any()
    seen = _simulate(lay, x[0], weights, active, vmax)
    assert _divergences(pred, seen, dict(case="saturation", potential_bits=POTENTIAL_BITS)) == []
