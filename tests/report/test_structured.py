"""The maps-off study (report/structured.py) on the tiny network: one dense network per seed,
the layer's kept share falling with the share of maps switched off."""
from __future__ import annotations

import pytest

from conftest import TINY
from model import config as C
from report import structured

pytestmark = pytest.mark.timeout(900)


def test_maps_off_rows_and_summary(tmp_path, monkeypatch):
    from report import train
    monkeypatch.setattr(train, "CHECKPOINTS", tmp_path)
    rep = structured.measure(C.load(TINY), "tiny", 0, [0.0, 0.5], [1], quick=False,
                             progress=lambda s: None)
    assert [(r["maps_off"], r["seed"]) for r in rep["rows"]] == [(0.0, 1), (0.5, 1)]
    off, on = rep["summary"][1], rep["summary"][0]
    # the dense network does not depend on the pruning settings: trained once, read out alike
    assert off["accuracy_dense"] == on["accuracy_dense"]
    assert len([p for p in tmp_path.iterdir() if "-dense-" in p.name]) == 1
    # half the maps off: the layer keeps at most about half what the threshold rule alone keeps
    assert off["kept"] < on["kept"] * 0.5 + 0.05
    assert on["loss_vs_threshold_only"] == 0.0
    assert off["loss_vs_threshold_only"] == pytest.approx(on["accuracy_pruned"] - off["accuracy_pruned"])
    assert "maps_off" in structured.table(rep)


def test_bad_arguments_refused(capsys):
    for argv, message in ((["--shares", "0,1"], "--shares '0,1'"),
                          (["--shares", "a"], "--shares 'a'"),
                          (["--seeds", "0"], "--seeds '0'")):
        with pytest.raises(SystemExit):
            structured.main(argv)
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="--layer 5"):
        structured.measure(C.load(TINY), "tiny", 5, [0.0], [1], quick=False)
