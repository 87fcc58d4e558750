"""make report: the cycle totals and the energy arithmetic by hand, and the pipeline end to end
in quick mode on the default network (a couple of images counted)."""
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny
from model import config as C
from cycles import image as cycles
from model import data, rng
from report import energy, train as experiment
from cycles.core import core_command
from model.network import Network
from cycles.pool import outgoing_pass
from cycles.layout import EngineLayout
from cycles.integrate import integrate_pass
from cycles.stdp_unit import stdp_pass
from cycles.wta import fire_stream, winner_pass
from report import markdown, measure, pipeline


def _one_layer_net(**changes):
    """The tiny network's conv1 alone (4 maps, 3x3, padding 1, 2 channels), no pooling."""
    d = tiny(**changes).to_dict()
    d["layers"] = d["layers"][:1]
    d["layers"][0].update(pool={"size": 0, "stride": 0}, pointwise_inhibition=False)
    return Network(C.parse(d))


def _spikes(points, T=8, side=3):
    x = np.full((2, side, side), T, dtype=np.int64)
    for t, c, y, xx in points:
        x[c, y, xx] = t
    return x


def test_a_pruned_row_costs_no_cycle_and_a_dense_row_one():
    """One spike in the centre of a 3x3 input reaches 9 rows (kernel offsets); with 4 maps on
    4 lanes each row is one op cycle. Pruning every map of one row saves exactly that cycle,
    pruning every connection saves the 9 cycles and all 36 operations, less the one FETCH
    cycle in which the engine skips an event without a live row (hw/integrate.py)."""
    net = _one_layer_net()
    x = _spikes([(0, 0, 1, 1)])
    dense = cycles.image_cycles(net, x, lanes=4)
    assert dense.layers[0].integrate.ops == 36 and dense.layers[0].rows == 9
    net.pruned[0][:, 0, 1, 1] = True                 # row (c 0, ky 1, kx 1) of every map
    one = cycles.image_cycles(net, x, lanes=4)
    assert dense.inference() - one.inference() == 1 and one.layers[0].integrate.ops == 32
    net.pruned[0][:] = True
    none = cycles.image_cycles(net, x, lanes=4)
    assert dense.inference() - none.inference() == 9 - 1 and none.layers[0].integrate.ops == 0
    assert none.layers[0].integrate.skipped == 1


def test_map_enables_and_window_in_the_cycle_count_by_hand():
    """The network's map enables and window reach the cycle count (``image_cycles`` reads
    ``net.channel_on`` and ``net.window``). One spike at t = 0 in the centre (9 rows, 36
    operations on 4 maps over 4 lanes, as above) and one at t = 5 in a corner. Maps 1 and 2
    off: 18 operations fewer at t = 0, no cycle fewer (one map per lane: each row still takes
    its one op cycle). Every map off: no operation, but the rows are still visited (the row
    summaries are not gated), one empty op cycle each. A window of 5 steps: the spike at t = 5
    never arrives, and the three steps after it (FETCH, STEP_END and a three-cycle drain each
    when empty) are not run."""
    net = _one_layer_net()
    x = _spikes([(0, 0, 1, 1), (5, 1, 0, 0)])
    dense = cycles.image_cycles(net, x, lanes=4).layers[0]
    late = dense.integrate.ops - 36                  # the corner spike's operations
    assert late > 0
    net.channel_on[0][[1, 2]] = False
    half = cycles.image_cycles(net, x, lanes=4).layers[0]
    assert half.integrate.ops == 18 + late // 2 and half.cycles == dense.cycles
    net.channel_on[0][:] = False
    off = cycles.image_cycles(net, x, lanes=4).layers[0]
    assert off.integrate.ops == 0 and off.rows == dense.rows and off.cycles == dense.cycles
    assert not any(r[1] == "fire" for r in off.integrate.trace)
    net.channel_on[0][:] = True
    net.window = 5
    short = cycles.image_cycles(net, x, lanes=4).layers[0]
    assert short.integrate.ops == 36 and short.rows == 9
    assert dense.cycles - short.cycles == (dense.rows - 9) + 3 * 5 + 1   # + the late spike's FETCH


def test_learning_step_adds_winner_handshake_and_stdp_cycles_by_hand():
    """Spikes in every position of a 5x5 input at t = 0 make every neuron fire; the k = 2
    winners (the second outside the first's inhibition radius 1) each
    walk their 18 live rows (2 channels x 3 x 3) in one 32-row word: 1 + 1 + 18 cycles per walk,
    5 more to end the pass (the W_LOAD that finds the list done, three FLUSH cycles, DONE)."""
    net = _one_layer_net(**{"layers.0.threshold": 1.0})
    x = _spikes([(0, c, y, xx) for c in range(2) for y in range(5) for xx in range(5)], side=5)
    ic = cycles.image_cycles(net, x, lanes=4, learn=(0,))
    lp, ln = ic.layers[0], ic.learn[0]
    assert len(ln.winner.winners) == 2
    assert ln.stdp.cycles == 2 * (1 + 1 + 18) + 5
    assert ln.handshake == cycles.STEP_HANDSHAKE_CYCLES * 8
    assert ic.learning(0) == lp.integrate.cycles + ln.winner.cycles + ln.handshake + ln.stdp.cycles


def test_learning_step_after_inhibition_by_hand():
    """With pointwise inhibition (and pooling) the same 5x5 case learns in the reference order:
    the engine's pass without holds, the outgoing unit's inhibition phase over the 25 fired
    positions (one cycle addressing the bitmap's word, G = 1 cycle a position, A_FLUSH = 4 and
    DONE: 31 cycles on 4 lanes), the winner unit over the 25 survivors (one a position, all at t = 0) in
    4 banks, N = 7: two passes of N + 1 cycles, the second finding the k-th winner, and two
    cycles more (the candidate word registered as it leaves its memory); then the STDP unit as above."""
    from model.wta import learning_winners
    net = Network(tiny(**{"layers.0.threshold": 1.0}))      # conv1: inhibition, pooling 2
    assert net.cfg.layers[0].pointwise_inhibition
    x = _spikes([(0, c, y, xx) for c in range(2) for y in range(5) for xx in range(5)], side=5)
    ic = cycles.image_cycles(net, x, lanes=4, learn=(0,), upto=1)
    lp, ln = ic.layers[0], ic.learn[0]
    assert ln.inhibition_cycles == 1 + 25 + 4 + 1 and ln.handshake == 0
    assert len(ln.winner.winners) == 2 and ln.winner.cycles == 2 * (7 + 1) + 2
    assert ln.stdp.cycles == 2 * (1 + 1 + 18) + 5
    assert ic.learning(0) == lp.integrate.cycles + 31 + 18 + ln.stdp.cycles
    out = net.run_layer(0, x[None], None)
    assert (out.times[0] == 0).all(), "every neuron fires at t = 0"
    expect = learning_winners(net.cfg.layers[0], out.times[0], out.v_fire[0], net.T)
    assert [w[:3] for w in ln.winner.winners] == [tuple(int(v) for v in w) for w in expect]
    # Energy (report/energy.py; 14-bit potentials, 4-bit times, maps 0..3: 2 bits, rows and
    # columns 0..4: 3 bits): the 100 fires set bits of the one 32-bit bitmap word of their
    # lane (read and written), phase A reads and clears it in the 4 lanes, then reads 4 lanes x
    # 25 words of 4 + 14 bits with two compares each (no survivor written: a learning
    # command); the unit writes 25 entries of 14 + 2 + 4 + 3
    # + 3 = 26 bits and reads one a bank each of its 18 busy cycles, k + 1 = 3 compares each;
    # the STDP unit (no pruning check before the warm-up) as in report/energy.py.
    assert ln.stdp_ops == 36 and ln.winner.entries == 25
    stdp = Counter(mem_bit=2 * (2 + 2 * 3 + 4) + 2 * 1 * 32 + 36 * (2 * 8 + 4), mul32=36 * 3,
                   mul8=36, add32=36 * 2, add8=36)
    assert energy.count_learning(lp, ln) == stdp + Counter(
        mem_bit=2 * 100 * 32 + 2 * 4 * 32 + 100 * (4 + 14) + 25 * 26 + 18 * 4 * 26,
        add32=2 * 100 + 18 * 4 * 3)


def test_image_cycles_composes_the_block_models(tiny_net):
    """Two layers: inference = integrate + outgoing of conv1 + integrate of conv2; learning of
    conv2 = conv1's inference + conv2's pass + winner + handshake + STDP."""
    cfg, net, times = tiny_net
    x = times[3]
    ic = cycles.image_cycles(net, x, lanes=3, learn=(1,))
    lay0 = EngineLayout.for_input(cfg, 0, 3, x)
    p0 = integrate_pass(lay0, x, net.weights[0], ~net.pruned[0], net.thresholds[0])
    o0 = outgoing_pass(lay0, cfg.layers[0], p0.fire, p0.v_fire)
    x1 = net.outgoing(0, net.run_layer(0, x[None], None))[0]
    lay1 = EngineLayout.for_input(cfg, 1, 3, x1)
    p1 = integrate_pass(lay1, x1, net.weights[1], ~net.pruned[1], net.thresholds[1])
    assert ic.inference() == p0.cycles + o0.cycles + p1.cycles
    w = winner_pass(lay1, cfg.layers[1].winners, cfg.layers[1].inhibition_radius,
                    fire_stream(lay1, p1.trace))
    a_p, a_m = net.arith.rates(cfg, net.learned[1])
    s = stdp_pass(lay1, net.arith, net.weights[1], ~net.pruned[1], x1, w.winners, a_p, a_m,
                  rng.round_key(cfg.seed, 1, net.learned[1]), False, net.pruning.threshold)
    assert ic.learning(1) == (p0.cycles + o0.cycles + p1.cycles + w.cycles
                              + cycles.STEP_HANDSHAKE_CYCLES * cfg.input.time_steps + s.cycles)
    with pytest.raises(ValueError, match="learn"):
        cycles.image_cycles(net, x, learn=(1,), upto=1)


def test_image_cycles_are_the_layer_cores_commands(tiny_net):
    """cycles.image counts what cycles.core predicts for the core's commands (which the
    co-simulation holds the RTL to): inference per layer, and a learning command."""
    cfg, net, times = tiny_net
    x = times[5]
    ic = cycles.image_cycles(net, x, lanes=4, learn=(0, 1))
    for i, lp in enumerate(ic.layers):
        xi = x if i == 0 else cycles.events_to_times(ic.layers[0].outgoing.events, cfg.layers[0].maps,
                                                     ic.layers[0].pool.side, lp.layout.time_steps)
        args = (lp.layout, net.arith, cfg.layers[i], xi, net.weights[i], ~net.pruned[i],
                net.thresholds[i])
        assert lp.cycles == core_command("infer", *args).cycles
        n = net.learned[i]
        a_p, a_m = net.arith.rates(cfg, n)
        learn = core_command("learn", *args, a_plus=a_p, a_minus=a_m, prune_th=net.pruning.threshold,
                             round_key=rng.round_key(cfg.seed, i, n),
                             check=cfg.pruning.enabled and n + 1 > cfg.pruning.warmup)
        assert learn.counters["cyc_winners"] > 0
        assert ic.learning(i) - sum(ic.inference_per_layer()[:i]) == learn.cycles


def test_energy_arithmetic_by_hand():
    # 64 memory bits are one 8 KB SRAM read (10 pJ); 10 32-bit adds 1 pJ; 2 32-bit multiplies 6.2 pJ
    assert energy.energy_pj(Counter(mem_bit=64, add32=10, mul32=2)) == pytest.approx(17.2)
    with pytest.raises(KeyError, match="div"):
        energy.energy_pj(Counter(div=1))


def test_inference_counts_by_hand():
    """One spike, 9 rows, 36 operations, no fire, tiny formats (8-bit weights, 14-bit potentials,
    T = 8: 4-bit times); 4 lanes, 1 group, 9 positions."""
    net = _one_layer_net()
    ic = cycles.image_cycles(net, _spikes([(0, 0, 1, 1)]), lanes=4)
    c = energy.count_inference(ic.layers[0])
    ev_bits = 4 + 1 + 2 * 2                         # t, c (0..1), y and x (0..2)
    mem = (1 * (ev_bits + 4 * 9)                      # event word and each lane's row summary
           + 9 * 4 * 1                                # mask words: 9 rows in each of 4 lanes
           + 36 * (8 + 2 * 14 + 2 * 32)               # weight, potential and its valid word
           + 2 * 1 * 32 * 4)                          # clear: two 32-bit bitmap words a lane
    assert c == Counter(mem_bit=mem, add32=72)


def test_whole_training_sums_the_measured_steps_by_hand():
    """Steps measured every 10th of 25: steps 0, 10, 20 stand for 10, 10 and 5 steps; measured
    every step the sum is exact and has no sampling error."""
    steps = [{"layer": 0, "learned": n, "cycles": v} for n, v in ((0, 100), (10, 50), (20, 40))]
    w = measure.whole_training(steps, "cycles", 0, 25, 10)
    assert (w["total"], w["mean"], w["steps"], w["sampled"]) == (1700, 68, 25, 3)
    # successive differences -50, -10: variance (2500 + 100) / (2 * 2), 1 in 10 sampled
    assert w["se"] == pytest.approx(10 * math.sqrt(3 * 650 * 0.9))
    every = [{"layer": 1, "learned": n, "cycles": v} for n, v in enumerate((7, 9, 8))]
    assert measure.whole_training(every, "cycles", 1, 3, 1) == {
        "total": 24, "se": 0.0, "steps": 3, "sampled": 3, "mean": 8}
    with pytest.raises(ValueError, match="layer 0: measured steps .* every 10-th of its 35 steps"):
        measure.whole_training(steps, "cycles", 0, 35, 10)      # step 30 was not measured


def test_sampled_steps_are_the_training_steps(tiny_cfg, tmp_path):
    """The trainer measures the steps it takes: step n of layer i on image n of the training
    set, in the state before it; measuring every step gives the same networks."""
    ds = data.load(C.replace(tiny_cfg, **{"data.limit_train": 12}))
    cfg = C.replace(tiny_cfg, **{"layers.0.learning.max_images": 6, "layers.1.learning.max_images": 4})
    tr = measure.TrajectoryTrainer(cfg, tmp_path / "a.npz", 2, lanes=4, progress_bar=False)
    net, _ = tr.run(ds.train_x)
    steps = tr.sampled_steps()
    assert [(p["layer"], p["learned"]) for p in steps] == [(0, 0), (0, 2), (0, 4), (1, 0), (1, 2)]
    fresh = Network(cfg)
    x = fresh.encode(ds.train_x[:1])[0]
    assert steps[0]["cycles"] == cycles.image_cycles(fresh, x, 4, learn=(0,), upto=1).learning(0)
    every = measure.TrajectoryTrainer(cfg, tmp_path / "b.npz", 1, lanes=4, progress_bar=False)
    net1, _ = every.run(ds.train_x)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, net1.weights))
    by_step = {(p["layer"], p["learned"]): p["cycles"] for p in every.sampled_steps()}
    assert all(by_step[p["layer"], p["learned"]] == p["cycles"] for p in steps)
    assert len(by_step) == 6 + 4


def test_cosim_disagreement_counts_as_mismatch(tiny_cfg):
    # cycles.image per image: inference per layer, and learning of each layer (layers below
    # included); the co-simulation's commands: every inference, the first image's learning.
    rec = {"inference_cycles_per_layer": [[10, 20], [12, 20]], "learning_cycles": [[15, 15], [37, 41]]}
    steps = lambda l0, l1: [{"command": "infer", "image": 0, "cycles": l0[0]},
                            {"command": "infer", "image": 1, "cycles": l0[1]},
                            {"command": "learn", "image": 0, "cycles": l1}]
    res = {"simulator": "verilator", "trace_events_compared": 99, "mismatches": 0,
           "layers": ["conv1", "conv2"], "variants": ["dense"],
           "steps": {"dense": {"conv1": steps((10, 12), 15), "conv2": steps((20, 20), 27)}}}
    ok = pipeline.compare_cosim(tiny_cfg, res, {"dense": rec}, 2)
    assert ok["mismatches"] == 0 and ok["images"] == 2
    assert not ok["every_layer_and_variant"] and "conv1 and conv2" in ok["passes"]
    res["steps"]["dense"]["conv2"][2]["cycles"] = 28
    bad = pipeline.compare_cosim(tiny_cfg, res, {"dense": rec}, 2)
    assert bad["mismatches"] == 1 and bad["cycle_disagreements"][0]["command"] == "learning"
    res["steps"]["dense"]["conv2"][2]["cycles"] = 27
    res["steps"]["dense"]["conv1"][1]["cycles"] = 13
    bad = pipeline.compare_cosim(tiny_cfg, res, {"dense": rec}, 2)
    assert bad["cycle_disagreements"] == [{"variant": "dense", "layer": "conv1", "command": "inference",
                                           "image": 1, "rtl_checked": 13, "model_cycles": 12}]
    # a co-simulation of conv1 alone (quick mode's) is held to conv1's figures only, and says so
    del res["steps"]["dense"]["conv2"]
    one = pipeline.compare_cosim(tiny_cfg, dict(res, layers=["conv1"]), {"dense": rec}, 2)
    assert one["mismatches"] == 1 and one["layers"] == ["conv1"]
    assert "only (not every layer and variant)" in markdown.cosim_scope(one)
    both = dict(res, layers=["conv1", "conv2"], variants=["dense", "pruned"])
    assert markdown.cosim_scope(dict(both, every_layer_and_variant=True)) == "conv1 and conv2, dense and pruned"


def test_resources_missing_or_extracted(tmp_path, monkeypatch):
    missing = pipeline.resources(path=tmp_path / "none.json")
    assert missing["status"] == "missing" and "pruning_overhead" not in missing
    assert "none.json` does not exist" in missing["why"]
    f = tmp_path / "resources.json"
    f.write_text(json.dumps({"config": "configs/tiny.yaml", "lanes": 4,
                             "ecp5": {"luts": 1000, "pruning_overhead": 0.031}}))
    assert pipeline.resources(path=f)["pruning_overhead"] == 0.031
    assert pipeline.resources("tiny", 4, path=f)["pruning_overhead"] == 0.031
    # Another config's or lane count's figures are not used: the config's baseline is, newest
    # Yosys version first (0.10 after 0.9), else nothing.
    base = tmp_path / "baselines"
    monkeypatch.setattr(pipeline, "BASELINES", base)
    other = pipeline.resources("mnist", 10, path=f)
    assert other["status"] == "missing" and "another config" in other["why"]
    for version, share in (("0.9", 0.02), ("0.10", 0.01)):
        (base / f"yosys-{version}").mkdir(parents=True)
        (base / f"yosys-{version}" / "mnist.json").write_text(json.dumps(
            {"config": "configs/mnist.yaml", "lanes": 10, "pruning_overhead": share}))
    got = pipeline.resources("mnist", 10, path=f)
    assert got["pruning_overhead"] == 0.01 and got["path"] == str(base / "yosys-0.10" / "mnist.json")
    assert pipeline.resources("mnist", 4, path=f)["status"] == "missing"


def test_quick_target_judges_time_only_on_a_fresh_run_of_quick_options():
    opts = pipeline.Options.quick_mode()
    rep = {"seconds": 170.0, "connectivity_reduction": {"total": 0.6}, "cache_hits": [],
           "trained": ["dense", "pruned"], **{k: 1.2 for k in pipeline.SPEEDUPS}}
    assert pipeline.quick_target(rep, opts)["met"] is True
    assert pipeline.quick_target(dict(rep, seconds=181.0), opts)["met"] is False
    assert pipeline.quick_target(dict(rep, speedup_inference=1.0), opts)["met"] is False
    assert pipeline.quick_target(dict(rep, connectivity_reduction={"total": 0.49}), opts)["met"] is False
    assert pipeline.quick_target(dict(rep, cache_hits=["sample-dense"]), opts)["met"] is None
    assert pipeline.quick_target(rep, pipeline.Options.quick_mode(test_images=2))["met"] is None
    assert "170.0 s; connectivity reduction 60.00%; speed-ups learning 1.20x" in \
        markdown._target_value(pipeline.quick_target(rep, opts))


def test_options_errors_name_the_option():
    with pytest.raises(ValueError, match="sweep_images = 5: must be <= test_images = 2"):
        pipeline.Options(test_images=2, sweep_images=5).check()
    with pytest.raises(ValueError, match="cosim_layers = 0: must be >= 1"):
        pipeline.Options(cosim_layers=0, cosim_images=0).check()
    with pytest.raises(ValueError, match=r"cosim_variants = \['sparse'\]: must be one or both of"):
        pipeline.Options(cosim_variants=("sparse",), cosim_images=0).check()
    with pytest.raises(C.ConfigError, match="cosim_layers = 3: the config has 2 layers"):
        pipeline.prepare(C.load("configs/tiny.yaml"), pipeline.Options(cosim_layers=3, cosim_images=0),
                         Path("unused"))


@pytest.mark.timeout(900)
def test_quick_report_end_to_end(tmp_path, monkeypatch):
    """make report QUICK=1's pipeline on the default network (fewer images counted, no
    co-simulation): it prunes at least half the connections and every speed-up is above 1."""
    monkeypatch.setattr(experiment, "CHECKPOINTS", tmp_path / "ckpt")
    monkeypatch.setattr(pipeline, "RESOURCES", tmp_path / "resources.json")
    monkeypatch.setattr(pipeline, "BASELINES", tmp_path / "baselines")   # no committed figures
    out = tmp_path / "reports"
    argv = ["--config", "configs/mnist.yaml", "--quick", "--test-images", "2", "--sweep-images", "1",
            "--thresholds", "0.2", "--warmups", "--cosim-images", "0", "--no-progress", "--seeds", "2",
            # every 331st learning step counted (3 or 4 a layer, fewer than quick mode's 97th):
            # the whole-training sum over the measured steps is checked below for any stride
            "--sample-every", "331", "--workers", "0", "--out", str(out)]  # in this process: it sees the patches
    assert pipeline.main(argv) == 0
    rep = json.loads((out / "report.json").read_text())
    for key in ("accuracy_dense", "accuracy_pruned", "connectivity_reduction", "speedup_learning",
                "speedup_inference", "energy_saving_learning", "energy_saving_inference",
                "cosim_images_checked", "cosim_mismatches"):
        assert key in rep, key
    cyc = rep["cycles"]
    assert len(cyc["dense"]["inference"]["per_image"]) == 2
    assert rep["speedup_inference"] == cyc["dense"]["inference"]["mean"] / cyc["pruned"]["inference"]["mean"]
    # the headline: the whole training's learning cycles, the measured steps summed
    lt = {v: cyc[v]["learning_training"] for v in ("dense", "pruned")}
    assert rep["speedup_learning"] == lt["dense"]["total"] / lt["pruned"]["total"]
    for v in ("dense", "pruned"):
        assert lt[v]["images"] == dict(zip(("conv1", "conv2"), rep["images"]["learned"][v]))
        every = rep["images"]["learning_sample_every"]
        assert lt[v]["total"] == sum(p["cycles"] * min(every, lt[v]["images"][("conv1", "conv2")[p["layer"]]]
                                                           - p["learned"])
                                     for p in rep["learning_steps"][v])
    assert rep["speedup_learning_per_step"] == lt["dense"]["all_layers"] / lt["pruned"]["all_layers"]
    # the accuracy loss over two training seeds: the config's and the next
    seeds = rep["accuracy_over_seeds"]
    assert [r["seed"] for r in seeds["rows"]] == [1, 2] and seeds["seeds"] == 2
    assert seeds["rows"][0]["accuracy_pruned"] == rep["accuracy_pruned"]
    losses = [r["accuracy_dense"] - r["accuracy_pruned"] for r in seeds["rows"]]
    assert seeds["accuracy_loss"] == pytest.approx(sum(losses) / 2)
    assert seeds["loss_se"] == pytest.approx(abs(losses[0] - losses[1]) / 2)
    # quick mode shows the effect: at least half the connections pruned, faster in every measure
    assert 0.5 <= rep["connectivity_reduction"]["total"] < 1
    for key in ("speedup_learning", "speedup_learning_per_step", "speedup_learning_final",
                "speedup_inference"):
        assert rep[key] > 1, (key, rep[key])
    assert rep["trained"] == ["dense", "pruned"] and rep["cosim_images_checked"] == 0
    # its own target: the effect shown; the time not judged (not quick mode's own options)
    quick = rep["targets"]["quick_demonstration"]
    assert quick["effect_shown"] is True and quick["met"] is None and "not a fresh run" in quick["note"]
    assert list(rep["targets"]) == ["quick_demonstration"]
    assert rep["resources"]["status"] == "missing"
    assert {p["threshold"] for p in rep["sweep"]} == {0.1, 0.2}
    # the pruned trajectory starts dense and ends at the final connectivity
    pts = sorted(rep["trajectory"]["pruned"], key=lambda p: sum(p["learned_all"]))
    assert pts[0]["active"] == pts[0]["total"]
    assert 1 - sum(pts[-1]["active"]) / sum(pts[-1]["total"]) == rep["connectivity_reduction"]["total"]
    md = (out / "report.md").read_text()
    assert "2.83x" in md and f"{rep['speedup_inference']:.2f}x" in md and "missing" in md
    assert "Demonstration only" in md
    for png in ("tradeoff.png", "connectivity.png", "weights.png", "cycles.png", "learning.png"):
        assert (out / png).stat().st_size > 10_000, png
        assert f"]({png})" in md
    # run again: every step comes from the cache or the checkpoints, with the same figures
    assert pipeline.main(argv) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["trained"] == [] and "sample-dense" in again["cache_hits"]
    assert again["speedup_learning"] == rep["speedup_learning"]
