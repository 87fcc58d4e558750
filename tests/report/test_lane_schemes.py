"""The lane-scheme study (report/lane_schemes.py): its event scheme is the engine's own count, and
the schemes are ordered as their definitions say."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny
from model.network import Network
from report import lane_schemes as ls


@pytest.fixture(scope="module")
def nets(tiny_encoded):
    dense = Network(tiny(**{"core.lanes": 3}))
    pruned = Network(tiny(**{"core.lanes": 3}))
    rs = np.random.default_rng(5)
    for i, p in enumerate(pruned.pruned):
        p |= rs.random(p.shape) < 0.6
    return dense, pruned


def test_schemes_are_ordered(nets, tiny_encoded):
    for net in nets:
        for x in tiny_encoded[:4]:
            rec = ls.image_schemes(net, x)          # asserts the event scheme is integrate_pass's
            c = rec["cycles"]
            for o in ls.OUTGOING_SCHEMES:
                assert c["ideal"][o] <= c["step"][o] <= c["event"][o] <= c["row"][o]
                assert c["ideal"][o] <= c["free"][o] <= c["step"][o]
                assert c["ideal"][o] <= c["free_balanced"][o] <= c["step_balanced"][o]
                assert c["ideal"][o] <= c["position"][o]
            for s in ls.LANE_SCHEMES:
                assert c[s]["fired"] <= c[s]["scan"]
            assert rec["lane_cycles"]["ideal"] >= rec["ops"]


def test_dense_full_lanes_cost_the_same_in_every_scheme(tiny_encoded):
    """Every lane busy on every row (4 maps on 2 lanes, nothing pruned): packing the maps' work
    saves nothing (the position scheme shares it out differently)."""
    net = Network(tiny(**{"core.lanes": 2, "layers.1.maps": 4}))
    rec = ls.image_schemes(net, tiny_encoded[0])
    assert len({rec["cycles"][s]["scan"] for s in ls.LANE_SCHEMES if s != "position"}) == 1


def test_balanced_maps_fill_every_slot_once():
    from cycles.layout import EngineLayout
    lay = EngineLayout(maps=7, channels=2, kernel=3, padding=1, side_in=6, time_steps=8, lanes=3,
                       weight_bits=8, potential_bits=14, max_events=72)
    live = np.zeros((7, 2, 3, 3), dtype=bool)
    for f, n in enumerate([18, 1, 2, 17, 3, 16, 4]):
        live.reshape(7, -1)[f, :n] = True
    order = ls.balanced_maps(lay, live)
    assert sorted(order[order >= 0].tolist()) == list(range(7)) and (order < 0).sum() == 2
    loads = [live.reshape(7, -1)[order[l::3][order[l::3] >= 0]].sum() for l in range(3)]
    assert max(loads) - min(loads) <= 4          # 18+1+2, 17+3+... against 16+4: within a map


@pytest.mark.parametrize("lanes, ab", [(10, (2, 5)), (4, (2, 2)), (7, (1, 7)), (12, (3, 4)), (1, (1, 1))])
def test_interleave(lanes, ab):
    assert ls.interleave(lanes) == ab
