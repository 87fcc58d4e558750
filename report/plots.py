"""The report's figures (PNG, matplotlib's Agg backend), drawn from report.json's data only."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def tradeoff(rep: dict, path: Path) -> str:
    """Accuracy against connectivity reduction and against the speed-ups, one point per
    (threshold, warm-up); the dense network's accuracy as a line."""
    pts = rep["sweep"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
    for ax, key, label in ((axes[0], "connectivity_reduction", "connectivity reduction (%)"),
                           (axes[1], "speedup_inference", "inference speed-up (x)"),
                           (axes[2], "speedup_learning_final", "learning speed-up, trained state (x)")):
        for warm in sorted({p["warmup"] for p in pts}):
            sel = sorted((p for p in pts if p["warmup"] == warm), key=lambda p: p["threshold"])
            xs = [p[key] * (100 if key == "connectivity_reduction" else 1) for p in sel]
            style = "o-" if key == "connectivity_reduction" else "o"    # speed-ups are not monotone
            ax.plot(xs, [100 * p["accuracy"] for p in sel], style, label=f"warm-up {warm}")
            for x, p in zip(xs, sel):
                ax.annotate(f"{p['threshold']:g}", (x, 100 * p["accuracy"]), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
        ax.axhline(100 * rep["accuracy_dense"], color="k", ls="--", lw=1, label="dense")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Pruning trade-off (labels: threshold)")
    return _save(fig, path)


def connectivity(rep: dict, path: Path) -> str:
    """Active connections per layer over the training images (all layers, in learning order)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    # The dense lines sit at 100% and would cover a pruned line that stays near it (conv2 prunes
    # late): dense thin and grey underneath, each pruned layer in its own colour on top.
    styles = {"dense": dict(color="0.6", lw=1, ls=":", zorder=1),
              "pruned": dict(lw=1.8, ls="-", marker=".", zorder=3)}
    for variant in ("dense", "pruned"):
        pts = sorted(rep["trajectory"][variant], key=lambda p: sum(p["learned_all"]))
        xs = [sum(p["learned_all"]) for p in pts]
        for i, name in enumerate(rep["connectivity_reduction"]["per_layer"]):
            ax.plot(xs, [100 * p["active"][i] / p["total"][i] for p in pts],
                    label=f"{name} ({variant})", **styles[variant])
    ax.set_xlabel("images learned (all layers, layer after layer)")
    ax.set_ylabel("active connections (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Connectivity during learning")
    return _save(fig, path)


def weights(rep: dict, path: Path) -> str:
    """Weight histograms before and after learning (pruned connections left out)."""
    h = rep["weights_histogram"]
    edges = np.array(h["edges"])
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    layers = h["layers"]
    fig, axes = plt.subplots(1, len(layers), figsize=(6 * len(layers), 4))
    for ax, (name, hs) in zip(np.atleast_1d(axes), layers.items()):
        for key, alpha in (("initial", 0.4), ("dense", 0.5), ("pruned", 0.5)):
            counts = np.array(hs[key], dtype=float)
            ax.bar(centres, counts / max(counts.sum(), 1), width=width, alpha=alpha,
                   label=f"{key} ({int(counts.sum())} weights)")
        ax.set_title(name)
        ax.set_xlabel("weight")
        ax.set_ylabel("fraction of the layer's live weights")
        ax.legend(fontsize=8)
    return _save(fig, path)


def cycles(rep: dict, path: Path) -> str:
    """Distribution of inference cycles per image, dense and pruned."""
    fig, ax = plt.subplots(figsize=(7, 4))
    per = {v: np.array(rep["cycles"][v]["inference"]["per_image"]) for v in ("dense", "pruned")}
    bins = np.linspace(min(a.min() for a in per.values()), max(a.max() for a in per.values()), 30)
    for v, a in per.items():
        ax.hist(a, bins=bins, alpha=0.6, label=f"{v}: mean {a.mean():,.0f}")
    ax.set_xlabel("inference cycles per image")
    ax.set_ylabel("test images")
    ax.legend()
    ax.set_title(f"Cycles per image ({len(per['dense'])} test images, P = {rep['lanes']} lanes)")
    return _save(fig, path)


def learning(rep: dict, path: Path) -> str:
    """The measured learning steps over training, per layer, dense and pruned: the area under
    each line is that layer's share of the headline whole-training cycles."""
    names = list(rep["connectivity_reduction"]["per_layer"])
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4))
    for i, (ax, name) in enumerate(zip(np.atleast_1d(axes), names)):
        for variant in ("dense", "pruned"):
            pts = [p for p in rep["learning_steps"][variant] if p["layer"] == i]
            total = rep["cycles"][variant]["learning_training"]["total_per_layer"][name]
            ax.plot([p["learned"] for p in pts], [p["cycles"] for p in pts], marker=".", lw=1,
                    label=f"{variant}: {len(pts)} steps measured, {total:,.0f} cycles in all")
        ax.set_title(name)
        ax.set_xlabel("images the layer has learned")
        ax.set_ylabel("cycles of the learning step")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Learning steps over training (every {rep['images']['learning_sample_every']}th "
                 "step measured)")
    return _save(fig, path)


def draw(rep: dict, out: Path) -> list[str]:
    """All figures into ``out``; returns their file names."""
    out.mkdir(parents=True, exist_ok=True)
    return [tradeoff(rep, out / "tradeoff.png"), connectivity(rep, out / "connectivity.png"),
            weights(rep, out / "weights.png"), cycles(rep, out / "cycles.png"),
            learning(rep, out / "learning.png")]


def policies(rep: dict, path: Path) -> str:
    """The policies compared: accuracy against connectivity reduction and against the inference
    speed-up, and the quantization sweep's accuracy by weight width."""
    rows = rep["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, key, label, scale in ((axes[0], "connectivity_reduction", "connectivity reduction (%)", 100),
                                  (axes[1], "speedup_inference", "inference speed-up (x)", 1)):
        for r in rows:
            ax.plot(r[key] * scale, 100 * r["accuracy"], "o")
            ax.annotate(r["policy"], (r[key] * scale, 100 * r["accuracy"]), fontsize=8,
                        textcoords="offset points", xytext=(4, 3))
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    q = [p for p in rep["quantization"] if p["accuracy"] is not None]   # None: width refused
    axes[2].plot([p["bits"] for p in q], [100 * p["accuracy"] for p in q], "o-")
    axes[2].axhline(100 * rows[0]["accuracy"], color="k", ls="--", lw=1, label="dense, full width")
    axes[2].set_xlabel("weight bits (every layer)")
    axes[2].set_ylabel("test accuracy (%)")
    axes[2].legend(fontsize=8)
    axes[2].grid(alpha=0.3)
    fig.suptitle("Pruning policies on one network")
    return _save(fig, path)
