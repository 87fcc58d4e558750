"""report.md: the tables and figures of report.json, every number taken from it."""
from __future__ import annotations


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _x(x) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def _n(x) -> str:
    return f"{x:,.0f}"


def accuracy_change(loss_pp: float) -> str:
    """An accuracy loss in percentage points (dense minus pruned) in words, so that its sign
    cannot be read the wrong way: "1.00 pp lower than dense", "0.10 pp higher than dense"."""
    if round(loss_pp, 2) == 0:
        return "equal to dense (0.00 pp)"
    return f"{abs(loss_pp):.2f} pp {'lower' if loss_pp > 0 else 'higher'} than dense"


def _table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _overhead(rep: dict) -> str:
    res = rep["resources"]
    if res["status"] != "present":
        return f"missing ({res['why']})"
    o = res.get("pruning_overhead")
    if isinstance(o, (int, float)):
        return _pct(o)
    if isinstance(o, dict) and o and all(isinstance(v, (int, float)) for v in o.values()):
        # boards/resources.py: per FPGA family, the network's cores (LUTs + FFs)
        return ", ".join(f"{family} {_pct(v)}" for family, v in o.items()) + " (LUTs + FFs)"
    return f"see `{res['path']}`" if o is None else f"`{o}`"


def _loss_se(seeds: dict) -> str:
    """The mean accuracy loss over training seeds with its standard error, in words."""
    se = "" if seeds["loss_se"] is None else f", s.e. {100 * seeds['loss_se']:.2f} pp"
    return f"{accuracy_change(100 * seeds['accuracy_loss'])} (mean of {seeds['seeds']} seed(s){se})"


def learning_speedup(rep: dict) -> str:
    """The headline learning speed-up with its sampling standard error, if any."""
    se = rep["speedup_learning_se"]
    return _x(rep["speedup_learning"]) + (f" (s.e. {se:.2f}x)" if se else "")


def demonstration(rep: dict) -> str:
    """Quick mode's warning: its figures show the mechanism, not the network's results."""
    return ("**Demonstration only:** quick mode trains on a few hundred images with a fast "
            "schedule and an early pruning start (`model.train.quick_config`), so that pruning "
            "visibly happens within minutes; its accuracies, speed-ups and savings are not the "
            "network's results, which `make report` measures." if rep["quick"] else "")


def headline(rep: dict) -> str:
    p = rep["paper"]
    seeds, every = rep["accuracy_over_seeds"], rep["images"]["learning_sample_every"]
    se = rep["accuracy_se"]
    counted = "every step counted" if every == 1 else f"every {every}th step counted"
    rows = [
        ["learning speed-up", _x(p["speedup_learning"]), learning_speedup(rep),
         "learning cycles of the whole training, the dense run trained on the same schedule and "
         f"images over the pruned run ({counted}); per step over training "
         f"{_x(rep['speedup_learning_per_step'])}, trained network {_x(rep['speedup_learning_final'])}"],
        ["inference speed-up", _x(p["speedup_inference"]), _x(rep["speedup_inference"]),
         f"mean over {rep['images']['cycle_sample']} test images"],
        ["connectivity reduction", _pct(p["connectivity_reduction"]),
         _pct(rep["connectivity_reduction"]["total"]), "all layers"],
        ["learning energy saving", _pct(p["energy_saving_learning"]), _pct(rep["energy_saving_learning"]),
         "whole training; counted operations x Horowitz 45 nm energies"],
        ["inference energy saving", _pct(p["energy_saving_inference"]),
         _pct(rep["energy_saving_inference"]), "same"],
        ["pruning logic overhead", _pct(p["pruning_overhead"]) + " (power, FPGA)", _overhead(rep),
         "from build/reports/resources-<config>.json"],
        ["accuracy of the pruned network", "no loss", _loss_se(seeds),
         f"seed {rep['config']['seed']}: dense {_pct(rep['accuracy_dense'])}, pruned "
         f"{_pct(rep['accuracy_pruned'])} (s.e. {100 * se['dense']:.2f} / {100 * se['pruned']:.2f} pp "
         f"on {rep['images']['test']} test images)"],
    ]
    return _table(["quantity", "Nguyen et al. 2021 (paper)", "this project (measured)", "how"], rows)


def render(rep: dict, figures: list[str]) -> str:
    names = list(rep["connectivity_reduction"]["per_layer"])
    cyc, en, sop = rep["cycles"], rep["energy"], rep["synaptic_operations"]
    d, p = cyc["dense"], cyc["pruned"]
    mode = "quick mode (`make report QUICK=1`)" if rep["quick"] else "`make report`"
    out = [
        "# Connection pruning during on-chip STDP learning: measured report",
        "",
        f"Written by {mode} (`python -m report`, report/pipeline.py) in {rep['seconds']} s; every "
        "number below is read from `report.json` of the same run. Network: the config's "
        f"{len(names)} layers ({', '.join(names)}), {rep['images']['train']} training and "
        f"{rep['images']['test']} test images of the configured data, P = {rep['lanes']} lanes. "
        "Cycles come from `cycles.image.image_cycles` (the blocks' cycle models composed), energy "
        "from `report.energy` (counted operations times per-operation energies).",
        "",
        *([demonstration(rep), ""] if rep["quick"] else []),
        "## Connection Pruning for Deep SNNs with On-Chip Learning (Nguyen et al. 2021): its headline figures and ours",
        "",
        headline(rep),
        "",
        "## Accuracy and connectivity",
        "",
        _table(["", "dense", "pruned"],
               [["test accuracy (SVM readout)", _pct(rep["accuracy_dense"]), _pct(rep["accuracy_pruned"])],
                ["its standard error (binomial, test set)", _pct(rep["accuracy_se"]["dense"]),
                 _pct(rep["accuracy_se"]["pruned"])],
                ["images learned per layer", rep["images"]["learned"]["dense"],
                 rep["images"]["learned"]["pruned"]]]),
        "",
        "Over training seeds (initial weights and stochastic rounding; the loss is dense minus "
        "pruned):",
        "",
        _table(["seed", "dense", "pruned", "accuracy loss", "connectivity reduction", "images learned, pruned"],
               [[r["seed"], _pct(r["accuracy_dense"]), _pct(r["accuracy_pruned"]),
                 f"{100 * r['accuracy_loss']:+.2f} pp", _pct(r["connectivity_reduction"]),
                 r["learned"]["pruned"]] for r in rep["accuracy_over_seeds"]["rows"]]
               + [["mean", _pct(rep["accuracy_over_seeds"]["accuracy_dense"]),
                   _pct(rep["accuracy_over_seeds"]["accuracy_pruned"]), _loss_se(rep["accuracy_over_seeds"]),
                   _pct(rep["accuracy_over_seeds"]["connectivity_reduction"]), ""]]),
        "",
        _table(["layer", "connectivity reduction"],
               [[n, _pct(v)] for n, v in rep["connectivity_reduction"]["per_layer"].items()]
               + [["total", _pct(rep["connectivity_reduction"]["total"])]]),
        "",
        "## Cycles",
        "",
        f"Inference: mean over {rep['images']['cycle_sample']} test images (integrate engine, plus "
        "the outgoing unit of layers that pool). Learning: one learning step of a layer (the "
        "layers below, its integrate pass, the winner unit -- after the inhibition phase on "
        "layers with pointwise inhibition, with "
        f"{rep['step_handshake_cycles']} handshake cycle(s) per time step on the others --, the "
        "STDP unit). 'Whole training' sums the learning steps of every layer over the whole run "
        f"({_steps_text(rep)}); 'per step, over training' is that sum over the steps, "
        "'trained' one step of the final network on the test sample.",
        "",
        _table(["cycles (per image unless whole training)", "dense", "pruned", "speed-up"],
               [[f"inference, {n}", _n(d["inference"]["per_layer"][n]), _n(p["inference"]["per_layer"][n]),
                 _x(d["inference"]["per_layer"][n] / p["inference"]["per_layer"][n])] for n in names]
               + [["inference, all layers", _n(d["inference"]["mean"]), _n(p["inference"]["mean"]),
                   _x(rep["speedup_inference"])]]
               + [[f"learning {n}, whole training ({d['learning_training']['images'][n]} / "
                   f"{p['learning_training']['images'][n]} steps)",
                   _n(d["learning_training"]["total_per_layer"][n]),
                   _n(p["learning_training"]["total_per_layer"][n]),
                   _x(d["learning_training"]["total_per_layer"][n] / p["learning_training"]["total_per_layer"][n])]
                  for n in names]
               + [["**learning, whole training (headline)**", _n(d["learning_training"]["total"]),
                   _n(p["learning_training"]["total"]), learning_speedup(rep)]]
               + [[f"learning {n}, per step, over training", _n(d["learning_training"]["per_layer"][n]),
                   _n(p["learning_training"]["per_layer"][n]),
                   _x(d["learning_training"]["per_layer"][n] / p["learning_training"]["per_layer"][n])]
                  for n in names]
               + [["learning, every layer once, per step over training", _n(d["learning_training"]["all_layers"]),
                   _n(p["learning_training"]["all_layers"]), _x(rep["speedup_learning_per_step"])],
                  ["learning, every layer once, trained", _n(d["learning_final"]["all_layers"]),
                   _n(p["learning_final"]["all_layers"]), _x(rep["speedup_learning_final"])]]),
        "",
        "Where the cycles go (means per image): lane op cycles are the rows' accumulation "
        "cycles (max over lanes of the live connections of a row); the integrate engine's other "
        "cycles are its clear phase, event fetch and drain; the outgoing unit is inhibition, "
        "pooling and the next layer's events; the winner unit's cycles include the handshake or "
        "the inhibition phase that feeds it.",
        "",
        _table(["layer", "lane op cycles", "other integrate cycles", "outgoing unit", "winner unit (learning)",
                "STDP unit (learning)"],
               [[f"{n} {v}", _n(cyc[v]["inference"]["phases_per_layer"][n]["lane_op_cycles"]),
                 _n(cyc[v]["inference"]["phases_per_layer"][n]["integrate_other"]),
                 _n(cyc[v]["inference"]["phases_per_layer"][n]["outgoing_unit"]),
                 _n(cyc[v]["learning_final"]["winner_unit_per_layer"][n]),
                 _n(cyc[v]["learning_final"]["stdp_unit_per_layer"][n])]
                for n in names for v in ("dense", "pruned")]),
        "",
        f"Pruning divides the synaptic operations of an inference by {_x(rep['sop_ratio_inference'])} "
        f"but its cycles by {_x(rep['speedup_inference'])}: the difference is the cycles that do not "
        "scale with live connections (above).",
        "",
        "## Energy",
        "",
        _table(["energy (nJ)", "dense", "pruned", "saving"],
               [["inference, per image", f"{en['dense']['inference'] / 1e3:.1f}",
                 f"{en['pruned']['inference'] / 1e3:.1f}", _pct(rep["energy_saving_inference"])],
                ["learning, whole training", f"{en['dense']['learning_training']['total'] / 1e3:,.0f}",
                 f"{en['pruned']['learning_training']['total'] / 1e3:,.0f}", _pct(rep["energy_saving_learning"])],
                ["learning, every layer once, trained", f"{en['dense']['learning_final'] / 1e3:.1f}",
                 f"{en['pruned']['learning_final'] / 1e3:.1f}", _pct(rep["energy_saving_learning_final"])]]),
        "",
        f"Per-operation energies ({rep['energy_model']['source']}); {rep['energy_model']['what']}:",
        "",
        _table(["operation", "pJ"], [[k, f"{v:.4g}"] for k, v in rep["energy_model"]["pj_per_op"].items()]),
        "",
        "## Synaptic operations",
        "",
        _table(["", "dense", "pruned"],
               [[f"learning, whole training, {n}", _n(sop["dense"]["learning_total"][n]),
                 _n(sop["pruned"]["learning_total"][n])] for n in names]
               + [[f"inference per image, {n}", _n(sop["dense"]["inference_per_image"][n]),
                   _n(sop["pruned"]["inference_per_image"][n])] for n in names]),
        "",
        "## Co-simulation (RTL against the cycle model)",
        "",
        cosim_text(rep),
        "",
        "## Resource overhead of the pruning logic",
        "",
        resources_text(rep),
        "",
        f"## Sweep: pruning threshold and warm-up ({rep['sweep_images']} test images for the speed-ups)",
        "",
        _table(["threshold", "warm-up", "accuracy", "connectivity reduction", "inference speed-up",
                "learning speed-up (trained)"],
               [[f"{s['threshold']:g}" + (" (default)" if s.get("default") else ""), s["warmup"],
                 _pct(s["accuracy"]), _pct(s["connectivity_reduction"]), _x(s["speedup_inference"]),
                 _x(s["speedup_learning_final"])] for s in rep["sweep"]]),
        "",
        "## Targets",
        "",
        _table(["", "target", "measured", "met"],
               [[name.replace("_", " "), t["target"], _target_value(t), _met(t["met"])]
                for name, t in rep["targets"].items()]),
        "",
        "## Figures",
        "",
    ]
    out += [f"![{f}]({f})" for f in figures]
    return "\n".join(out) + "\n"


def _met(v) -> str:
    return "not measured" if v is None else ("yes" if v else "no")


def _target_value(t: dict) -> str:
    if "effect_shown" in t:          # quick mode's: its time and the effect it shows
        speedups = ", ".join(f"{k.removeprefix('speedup_').replace('_', ' ')} {_x(v)}"
                             for k, v in t["speedups"].items())
        return (f"{t['seconds']} s; connectivity reduction {_pct(t['connectivity_reduction'])}; "
                f"speed-ups {speedups}" + (f" ({t['note']})" if t.get("note") else ""))
    if "seconds" in t:
        return f"{t['seconds']} s" + (f" ({t['note']})" if t.get("note") else "")
    if "point" in t:
        s = t["point"]
        return "no point within the accuracy bound" if s is None else (
            f"{_pct(s['connectivity_reduction'])} at threshold {s['threshold']:g}, warm-up {s['warmup']}")
    m = t["measured"]
    text = _pct(m) if "connectivity" in t["target"] or "%" in t["target"] else _x(m)
    if "accuracy_loss_pp" in t:
        text += f", pruned accuracy {accuracy_change(t['accuracy_loss_pp'])}"
    return text


def cosim_text(rep: dict) -> str:
    c = rep["cosim"]
    if c["status"] != "run":
        return f"Not run: {c['status']}."
    text = (f"{c['images']} test image(s), {cosim_scope(c)}, under {c['simulator']}: "
            f"{c['passes']}; {_n(c['trace_events_compared'])} trace events compared; "
            f"**{c['mismatches']} mismatch(es)**, counting the RTL's trace and memory divergences and "
            "the cycle figures where the RTL-checked counts differ from `cycles.image`.")
    if c.get("first_divergence"):
        text += f"\n\nFirst divergence: `{c['first_divergence']}`"
    for dis in c.get("cycle_disagreements", []):
        text += f"\n\n* {dis}"
    return text


def cosim_scope(c: dict) -> str:
    """What the co-simulation ran: its layers and variants, and whether that is all of them."""
    scope = f"{' and '.join(c['layers'])}, {' and '.join(c['variants'])}"
    return scope if c["every_layer_and_variant"] else f"{scope} only (not every layer and variant)"


def resources_text(rep: dict) -> str:
    r = rep["resources"]
    if r["status"] != "present":
        return f"Missing: {r['why']}; no figure is reported in its place."
    return f"From `{r['path']}`: pruning overhead {_overhead(rep)}."


def _steps_text(rep: dict) -> str:
    every = rep["images"]["learning_sample_every"]
    if every == 1:
        return "every learning step counted with `cycles.image`"
    return (f"every {every}th learning step counted with `cycles.image` on its own image and "
            "state, standing for the steps up to the next; the speed-up's s.e. is that sampling's")


def summary(rep: dict) -> str:
    demo = "DEMONSTRATION (quick mode: a few hundred images, fast schedule; not the network's results): " \
        if rep["quick"] else ""
    cosim_of = f" ({cosim_scope(rep['cosim'])})" if rep["cosim"]["status"] == "run" else ""
    return (f"{demo}accuracy dense {_pct(rep['accuracy_dense'])}, pruned {_pct(rep['accuracy_pruned'])}; "
            f"accuracy loss {_loss_se(rep['accuracy_over_seeds'])}; "
            f"connectivity reduction {_pct(rep['connectivity_reduction']['total'])}; speed-up "
            f"learning {learning_speedup(rep)} (whole training against dense on the same schedule; "
            f"per step {_x(rep['speedup_learning_per_step'])}, trained network "
            f"{_x(rep['speedup_learning_final'])}), inference {_x(rep['speedup_inference'])}; "
            f"energy saving learning {_pct(rep['energy_saving_learning'])}, inference "
            f"{_pct(rep['energy_saving_inference'])}; co-simulation{cosim_of} "
            f"{rep['cosim_images_checked']} image(s), {rep['cosim_mismatches']} mismatch(es); "
            f"{rep['seconds']} s")


def _overhead_cell(hw: dict) -> str:
    o = hw.get("extra_logic")
    if o is None:
        return hw.get("note", "n/a")
    if isinstance(o, dict):
        return ", ".join(f"{k} {_pct(v)}" for k, v in o.items() if isinstance(v, (int, float)))
    return _pct(o)


def policies(rep: dict, figure: str) -> str:
    """policies.md: the comparison of the pruning policies, every number from policies.json."""
    rows = rep["rows"]
    mode = "quick mode (`make compare QUICK=1`)" if rep["quick"] else "`make compare`"
    table = _table(
        ["policy", "accuracy", "connectivity reduction", "maps", "window",
         "learning SOPs saved", "inference SOPs / image", "inference speed-up",
         "learning speed-up", "inference energy saved", "learning energy saved", "extra logic"],
        [[r["policy"], _pct(r["accuracy"]), _pct(r["connectivity_reduction"]),
          "/".join(str(m) for m in r["maps"]), r["window"], _pct(r["sop_reduction_learning"]),
          _n(r["sop_inference"]), _x(r["speedup_inference"]), _x(r["speedup_learning"]),
          _pct(r["energy_saving_inference"]), _pct(r["energy_saving_learning"]),
          _overhead_cell(r["hardware"])] for r in rows])
    b = rep["best"]
    eq_c, eq_a = b["accuracy_at_equal_connectivity"], b["speedup_at_equal_accuracy"]
    quant = _table(["weight bits", "accuracy"],
                   [[q["bits"], _pct(q["accuracy"])] for q in rep["quantization"]])
    return "\n".join([
        "# Pruning policies compared on one network and one core",
        "",
        f"Written by {mode} (`python -m report.policies`, report/policies.py) in {rep['seconds']} s; "
        f"{rep['images']['train']} training and {rep['images']['test']} test images; cycles and "
        f"energy are means over {rep['images']['cycle_sample']} test images on P = {rep['lanes']} "
        "lanes (`cycles.image`, `report.energy`). Learning speed-up and energy: one learning step "
        "of every layer in the trained state; learning SOPs: the whole training run.",
        "",
        table,
        "",
        f"![policies]({figure})",
        "",
        "## Which policy wins",
        "",
        f"- Best accuracy at equal connectivity (within {100 * eq_c['tolerance']:g} pp of the threshold "
        f"rule's {_pct(eq_c['connectivity_reduction'])}): **{eq_c['policy']}** "
        f"({_pct(eq_c['accuracy'])}); candidates: "
        + ", ".join(f"{k} {_pct(v)}" for k, v in eq_c["candidates"].items()),
        f"- Best inference speed-up at equal accuracy (within {100 * eq_a['tolerance']:g} pp of dense "
        f"{_pct(eq_a['dense_accuracy'])}): **{eq_a['inference']['policy']}** "
        f"({_x(eq_a['inference']['speedup_inference'])}); candidates: "
        + ", ".join(f"{k} {_x(v)}" for k, v in eq_a["inference"]["candidates"].items()),
        f"- Best learning speed-up at equal accuracy: **{eq_a['learning']['policy']}** "
        f"({_x(eq_a['learning']['speedup_learning'])}); candidates: "
        + ", ".join(f"{k} {_x(v)}" for k, v in eq_a["learning"]["candidates"].items()),
        "",
        "## Weight quantization (the threshold-pruned network, every layer at the same width)",
        "",
        quant,
        "",
    ])


def policies_summary(rep: dict) -> str:
    lines = [f"{r['policy']:>17}: accuracy {_pct(r['accuracy'])}, connectivity reduction "
             f"{_pct(r['connectivity_reduction'])}, inference {_x(r['speedup_inference'])}, "
             f"learning {_x(r['speedup_learning'])}" for r in rep["rows"]]
    lines.append("quantization: " + ", ".join(f"{q['bits']} bits {_pct(q['accuracy'])}"
                                              for q in rep["quantization"]))
    return "\n".join(lines)
