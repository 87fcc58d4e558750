"""The STDP unit at the layer's border: a winner on the first or last row or column has window
positions in the padding, which hold no input spike (the model pads with T). Every input spikes
at step 0 here, so a padding position taken for an input -- in either direction, rows or
columns -- would potentiate where the model depresses."""
import numpy as np

from cycles.layout import EngineLayout
from test_stdp_unit import _assert_same, _case, _simulate


def test_windows_past_the_border_hold_no_input(tiny_net):
    cfg = tiny_net[0]
    c = _case(tiny_net, 0, 3, 0, 7, prune_q=0)
    c["x"] = np.zeros_like(c["x"])                       # every input at step 0
    c["lay"] = lay = EngineLayout.for_input(cfg, 0, 3, c["x"][None])
    last, mid = lay.side_out - 1, lay.side_out // 2
    assert lay.padding > 0 and lay.maps >= 4
    # one winner per map, each on another edge: top, bottom, left, right
    c["winners"] = [(0, 0, mid, 1), (1, last, mid, 1), (2, mid, 0, 1), (3, mid, last, 1)]
    pred, seen = _simulate(c)
    _assert_same(lay, pred, seen)
    assert not np.array_equal(pred.weights, c["weights"]), "the winners must learn"
