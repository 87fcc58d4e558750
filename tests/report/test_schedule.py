"""The schedule sweep (report/schedule.py) on the tiny network: every schedule and seed trained
dense and pruned on that schedule, the summary the mean of its rows."""
from __future__ import annotations

import math

import pytest

from conftest import TINY
from model import config as C
from report import schedule

pytestmark = pytest.mark.timeout(900)


def test_sweep_rows_and_summary(tmp_path, monkeypatch):
    from report import train
    monkeypatch.setattr(train, "CHECKPOINTS", tmp_path)
    rep = schedule.measure(C.load(TINY), "tiny", [20, 4], [1, 2], quick=False, progress=lambda s: None)
    assert [(r["double_every"], r["seed"]) for r in rep["rows"]] == [(20, 1), (20, 2), (4, 1), (4, 2)]
    for s in rep["summary"]:
        rows = [r for r in rep["rows"] if r["double_every"] == s["double_every"]]
        losses = [r["accuracy_dense"] - r["accuracy_pruned"] for r in rows]
        assert s["accuracy_loss"] == pytest.approx(sum(losses) / 2)
        assert s["loss_se"] == pytest.approx(abs(losses[0] - losses[1]) / 2)
        assert s["accuracy_se"] == pytest.approx(math.sqrt(s["accuracy_pruned"] * (1 - s["accuracy_pruned"])
                                                           / rep["test_images"]))
    # the seeds train different networks, the schedules different amounts of pruning
    assert rep["rows"][0]["accuracy_pruned"] != rep["rows"][1]["accuracy_pruned"] or \
        rep["rows"][0]["connectivity_reduction"] != rep["rows"][1]["connectivity_reduction"]
    fast, slow = rep["summary"][1], rep["summary"][0]
    assert fast["connectivity_reduction"] > slow["connectivity_reduction"]


def test_bad_lists_refused(capsys):
    with pytest.raises(SystemExit):
        schedule.main(["--double-every", "100,x"])
    assert "--double-every '100,x'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        schedule.main(["--seeds", "0"])
