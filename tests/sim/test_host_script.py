"""The host script played inside the simulation (sim/host_script.py), in Amaranth's simulator
on a small layer core of make regress: a learn and an infer step as sim.cosim.run_core scripts
them play to their end with nothing differing, and each kind of comparison has teeth -- a
memory word, a counter, a winner and the output event count predicted wrong stop the script at
that word and are named; a command that runs past its limit is a stall naming the command."""
from dataclasses import replace

import pytest
from amaranth.sim import Simulator

from cycles.core import core_command
from cycles.integrate import policy_registers
from hw.core import LayerCore
from sim import core_driver as cd
from sim import regress
from sim.capture import rom_depth
from sim.cosim import stdp_args
from sim.host_script import HostScript, Script
from sim.stall import cycle_limit

SEED = regress.config_seed(2, 0)         # pooled, learns and fires: every comparison is made


def steps_and_predictions(changed=None):
    """The first learn and infer of the configuration of ``SEED``, each with its prediction;
    ``changed(i, pred)`` may alter step i's prediction (a wrong expectation)."""
    d = regress.draw(SEED)
    s = regress.stimulus(d, 1)
    lay, fmt, lc = d.layout(), d.formats(), d.layer()
    w, a, out = s["weights"], s["active"], []
    for i, st in enumerate(regress.steps(d, s["times"])[:2]):
        en, win = policy_registers(lay, st.get("enabled"), st.get("window"))
        pred = core_command(st["cmd"], lay, fmt, lc, st["times_in"], w, a, d.threshold,
                            **stdp_args(st), enabled=en, window=win)
        if pred.weights is not None:
            w, a = pred.weights, pred.active
        out.append((st, changed(i, pred) if changed else pred, en, win))
    return d, s, out


def play(changed=None, faults=frozenset()):
    """Script and play the two steps; returns (script, the design's report)."""
    d, s, steps = steps_and_predictions(changed)
    lay, lc = d.layout(), d.layer()
    core = LayerCore(lay, d.formats(), lc, faults)
    script = Script(core)
    script.part({"loading": "synapses"})
    for mem, lane, words in cd.synapse_words(lay, s["weights"], s["active"]):
        script.write(mem, lane, words)
    for i, (st, pred, en, win) in enumerate(steps):
        cd.script_step(script, {"step": i}, lay, lc, st, pred, d.threshold, en, win)
    script.end()
    dut = HostScript(core, script.words, rom_depth(len(script.words)))
    limit = len(script.words) + sum(p.cycles for _, p, _, _ in steps) * 3 + 3000
    seen = {}

    async def bench(ctx):
        ctx.set(dut.scr_go, 1)
        await ctx.tick()
        ctx.set(dut.scr_go, 0)
        for _ in range(limit):
            if ctx.get(dut.scr_done) or ctx.get(dut.scr_fail):
                break
            await ctx.tick()
        seen.update({n: ctx.get(getattr(dut, n)) for n in ("scr_done", "scr_fail",
                                                            "scr_fail_at", "scr_seen")})

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return script, seen


def failure(changed=None, faults=frozenset()):
    script, seen = play(changed, faults)
    assert seen["scr_fail"] and not seen["scr_done"], seen
    return script.explain(seen["scr_fail_at"], seen["scr_seen"], cd.MEMORY_NAMES)


@pytest.fixture(scope="module")
def good():
    return play()


def test_the_steps_play_to_their_end_with_nothing_differing(good):
    script, seen = good
    assert seen["scr_done"] == 1 and seen["scr_fail"] == 0
    kinds = {script.fmt.unpack(w)["kind"] for w in script.words}
    assert kinds == set(range(7)), "every kind of word is played"


def test_a_wrong_memory_word_is_named_with_lane_and_address():
    def changed(i, pred):
        if i == 1:
            pred.engine.potentials[0, 3] += 1
        return pred
    message = failure(changed)
    assert message.startswith("first divergence in potentials at word 3")
    assert "lane=0, address=3" in message and "step=1" in message


def test_a_wrong_counter_winner_or_event_count_is_named():
    def counter(i, pred):
        return replace(pred, counters=dict(pred.counters, ops=pred.counters["ops"] + 1)) \
            if i == 1 else pred
    assert failure(counter).startswith("ops: expected")

    def winner(i, pred):
        if i == 0:
            f, y, x, t = pred.winners[0]
            return replace(pred, winners=[(f, y, x ^ 1, t), *pred.winners[1:]])
        return pred
    assert failure(winner).startswith("first divergence in winners at word 0")

    def events(i, pred):
        return replace(pred, events=list(pred.events) + [pred.events[0]]) if i == 1 else pred
    assert failure(events).startswith("n_out: expected")


def test_a_command_past_its_limit_is_a_stall():
    """A core whose engine never finishes (the sequencer's enable removed): the learn step
    stops the script at its limit, named."""
    _, _, steps = steps_and_predictions()
    message = failure(faults=frozenset({"stalled_sequencer"}))
    limit = cycle_limit(steps[0][1].cycles)
    assert message.startswith(f"layer core learn: not done after {limit} cycles")
    assert f"the cycle model expects {steps[0][1].cycles}" in message and "'step': 0" in message
