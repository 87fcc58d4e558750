"""report/policies.py: the comparison of the pruning policies (make compare)."""
import pytest

from report import markdown
from report.policies import Options, best, with_ratios


def _row(policy, accuracy, reduction, cyc_inf, cyc_lrn, sop_lrn=1000, e_inf=10.0, e_lrn=20.0):
    return {"policy": policy, "accuracy": accuracy, "connectivity_reduction": reduction,
            "cycles_inference": cyc_inf, "cycles_learning": cyc_lrn, "sop_learning": sop_lrn,
            "energy_inference_pj": e_inf, "energy_learning_pj": e_lrn, "maps": [4, 6],
            "window": 8, "sop_inference": 100.0}


ROWS = [_row("dense", 0.950, 0.0, 1000, 4000),
        _row("threshold", 0.944, 0.90, 500, 2000, sop_lrn=600, e_inf=4.0, e_lrn=10.0),
        _row("lamp", 0.947, 0.915, 450, 2500),
        _row("temporal_window", 0.946, 0.0, 400, 3000),
        _row("channel_activity", 0.930, 0.30, 300, 1000),
        _row("pca_channels", 0.949, 0.50, 800, 3900)]
RESOURCES = {"status": "present", "path": "r.json",       # as report.pipeline.resources gives it
             "content": {"pruning_overhead": {"ecp5": 0.0138, "xc7": 0.0121}}}


def test_ratios_and_winners_by_hand():
    rows = with_ratios([dict(r) for r in ROWS], RESOURCES)
    t = rows[1]
    assert rows[0]["speedup_inference"] == 1.0 and t["speedup_inference"] == 2.0
    assert t["speedup_learning"] == 2.0 and t["sop_reduction_learning"] == pytest.approx(0.4)
    assert t["energy_saving_inference"] == pytest.approx(0.6)
    assert t["energy_saving_learning"] == pytest.approx(0.5)
    assert t["hardware"]["extra_logic"] == RESOURCES["content"]["pruning_overhead"]
    assert t["hardware"]["source"] == "r.json"
    assert rows[2]["hardware"]["extra_logic"] is None           # lamp: reuses the mask logic
    assert "not measured" in rows[3]["hardware"]["note"]         # no window_overhead key
    b = best(rows, Options())
    # Equal connectivity: |r - 0.90| <= 0.02 keeps threshold (0.944) and lamp (0.947).
    eq = b["accuracy_at_equal_connectivity"]
    assert set(eq["candidates"]) == {"threshold", "lamp"} and eq["policy"] == "lamp"
    # Equal accuracy: within 0.5 pp of 0.950 keeps threshold (0.944 is 0.6 pp down: out), lamp,
    # temporal_window and pca_channels; channel_activity (0.930) is out.
    inf = b["speedup_at_equal_accuracy"]["inference"]
    assert set(inf["candidates"]) == {"lamp", "temporal_window", "pca_channels"}
    assert inf["policy"] == "temporal_window" and inf["speedup_inference"] == 2.5
    lrn = b["speedup_at_equal_accuracy"]["learning"]
    assert lrn["policy"] == "lamp" and lrn["speedup_learning"] == 1.6


def test_markdown_names_every_policy_and_width():
    rows = with_ratios([dict(r) for r in ROWS], RESOURCES)
    rep = {"rows": rows, "best": best(rows, Options()), "quick": True, "seconds": 1.0,
           "images": {"train": 10, "test": 5, "cycle_sample": 2}, "lanes": 4,
           "quantization": [{"bits": 2, "accuracy": 0.5}, {"bits": 8, "accuracy": 0.94}]}
    text = markdown.policies(rep, "policies.png")
    for r in ROWS:
        assert f"| {r['policy']} |" in text
    assert "**lamp** (94.70%)" in text and "**temporal_window** (2.50x)" in text
    assert "| 2 | 50.00% |" in text and "ecp5 1.38%" in text


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="bits"):
        Options(bits=(1, 8)).check()
    with pytest.raises(ValueError, match="channel_sparsity"):
        Options(channel_sparsity=1.0).check()


@pytest.mark.timeout(1800)          # trains every policy and co-simulates
def test_compare_quick_on_tiny(tmp_path, monkeypatch):
    """make compare QUICK=1's pipeline on the tiny network, every policy trained from scratch."""
    from model import config as C
    from report import train as experiment
    from report.policies import compare
    monkeypatch.setattr(experiment, "CHECKPOINTS", tmp_path / "ckpt")
    cfg = C.load("configs/tiny.yaml")
    opts = Options.quick_mode(test_images=2, bits=(2, 8), progress=False)
    rep = compare(cfg, "tiny", opts, tmp_path)
    rows = {r["policy"]: r for r in rep["rows"]}
    assert list(rows) == ["dense", "threshold", "lamp", "temporal_window", "channel_activity",
                          "pca_channels"]
    d = rows["dense"]
    assert d["connectivity_reduction"] == 0 and d["speedup_inference"] == 1.0
    # LAMP cuts to the threshold rule's connectivity (its target), to the connection.
    assert rows["lamp"]["connectivity_reduction"] == pytest.approx(
        rows["threshold"]["connectivity_reduction"], abs=1e-3)
    # Channel activity at sparsity 0.3: floor(0.3 * 4) = 1 of conv1's maps (2 x 3 x 3 weights
    # each) and floor(0.3 * 6) = 1 of conv2's (4 x 3 x 3) off: 54 of 288 connections.
    assert rows["channel_activity"]["connectivity_reduction"] == pytest.approx(54 / 288)
    assert rows["channel_activity"]["sop_inference"] < d["sop_inference"]
    # The window: no longer than T, and a shorter one costs fewer inference cycles.
    w = rows["temporal_window"]
    assert 1 <= w["window"] <= cfg.input.time_steps
    if w["window"] < cfg.input.time_steps:
        assert w["cycles_inference"] < d["cycles_inference"]
    pca = rows["pca_channels"]
    assert all(1 <= m <= lc.maps for m, lc in zip(pca["maps"], cfg.layers))
    assert [q["bits"] for q in rep["quantization"]] == [2, 8]
    assert all(q["accuracy"] is None or 0 <= q["accuracy"] <= 1 for q in rep["quantization"])
    # Rerun: every step comes from the cache.
    again = compare(cfg, "tiny", opts, tmp_path)
    assert len(again["cache_hits"]) == 7 and again["rows"] == rep["rows"]
