"""The report reads right: an accuracy loss is worded as a loss, and the connectivity plot's
pruned lines are drawn above the dense ones that would hide them."""
from pathlib import Path

from report import markdown, plots


def test_a_one_point_loss_reads_as_lower_never_as_a_plus():
    assert markdown.accuracy_change(1.0) == "1.00 pp lower than dense"
    assert markdown.accuracy_change(-0.1) == "0.10 pp higher than dense"
    assert markdown.accuracy_change(0.001) == "equal to dense (0.00 pp)"
    target = {"target": ">= 93% connectivity", "measured": 0.93, "accuracy_loss_pp": 1.0}
    text = markdown._target_value(target)
    assert "1.00 pp lower than dense" in text and "+" not in text


def test_connectivity_plot_draws_pruned_lines_above_dense(monkeypatch, tmp_path):
    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or Path(path).name)
    point = lambda n, active: {"learned_all": [n, 0], "active": active, "total": [100, 100]}
    rep = {"connectivity_reduction": {"per_layer": {"conv1": 0.5, "conv2": 0.02}},
           "trajectory": {"dense": [point(0, [100, 100]), point(10, [100, 100])],
                          "pruned": [point(0, [100, 100]), point(10, [50, 98])]}}
    plots.connectivity(rep, tmp_path / "c.png")
    lines = {ln.get_label(): ln for ln in figs[0].axes[0].lines}
    assert set(lines) == {f"{n} ({v})" for n in ("conv1", "conv2") for v in ("dense", "pruned")}
    dense = max(lines[f"{n} (dense)"].get_zorder() for n in ("conv1", "conv2"))
    assert all(lines[f"{n} (pruned)"].get_zorder() > dense for n in ("conv1", "conv2"))
    # each pruned layer in a colour of its own, not the dense lines' grey
    colours = {lines[f"{n} (pruned)"].get_color() for n in ("conv1", "conv2")}
    assert len(colours) == 2 and lines["conv1 (dense)"].get_color() not in colours
