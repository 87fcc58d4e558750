"""The lane-scheme study (report/lane_schemes.py): its row scheme is the engine's own count, and
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
            rec = ls.image_schemes(net, x)          # asserts the row scheme is integrate_pass's
            c = rec["cycles"]
            for o in ls.OUTGOING_SCHEMES:
                assert c["ideal"][o] <= c["step"][o] <= c["event"][o] <= c["row"][o]
            for s in ls.LANE_SCHEMES:
                assert c[s]["fired"] <= c[s]["scan"]
            assert rec["lane_cycles"]["ideal"] >= rec["ops"]


def test_dense_full_lanes_cost_the_same_in_every_scheme(tiny_encoded):
    """Every lane busy on every row (4 maps on 4 lanes, nothing pruned): packing saves nothing."""
    net = Network(tiny(**{"core.lanes": 2, "layers.1.maps": 4}))
    rec = ls.image_schemes(net, tiny_encoded[0])
    assert len({rec["cycles"][s]["scan"] for s in ls.LANE_SCHEMES}) == 1
