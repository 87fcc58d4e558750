"""cocotb test of the layer core against cycles/core.py (the cocotb side of
``sim.cosim.run_core``).

The case named by ``CORE_CASE`` holds the layout, the host script (sim/host_script.py: the
synapses' writes, per step its image's and policy registers' writes and the read-back of every
memory its command changes, each word compared with the model's) and per step a command, its
learning parameters and its prediction: trace (its words in the design's trace ROM from
``trace_at``), counters, winners and memories. The test plays the synapses' script, then per
step the loading script, sets the registers, runs the command with its trace compared inside
the simulation as it is made (``sim.capture.TraceCheck``), compares the counters, the output
event count and the winners, and plays the read-back script; it fails at the first
divergence. What it saw goes next to the case, with each step's wall and CPU seconds (the
step's loading, command and comparisons; the synapses' loading counts to step 0:
sim/bench_core.py).
"""
import json
import os
import time

import cocotb

from cycles.learning import LearningParams
from hw import core as hc
from sim import core_driver as cd
from sim import engine_driver as drv
from sim.capture import INPUT_LATENCY
from sim.cosim import load_core_case
from sim.host_script import ScriptFormat, play

CMD = {"infer": hc.CMD_INFER, "learn": hc.CMD_LEARN, "sweep": hc.CMD_SWEEP}


@cocotb.test()
async def core_matches_schedule(dut):
    case = load_core_case(os.environ["CORE_CASE"])
    lay, lc = case["layout"], case["layer"]
    fmt = cd.CoreTrace(lay, case["formats"], lc)
    sfmt = ScriptFormat(len(dut.wr_mem), len(dut.wr_lane), len(dut.wr_addr),
                        max(len(dut.wr_data), len(dut.rd_data)))
    script = case["script"]
    bus = await drv.start_clock_and_reset(dut, ("start", "wr_en", "rd_mem", "rd_lane", "rd_addr",
                                                "win_idx", "chk_base", "scr_go", "scr_base"),
                                          input_latency=INPUT_LATENCY)
    clock = time.perf_counter(), time.process_time()
    await play(bus, sfmt, script, 0, cd.MEMORY_NAMES, {"loading": "synapses"})
    seen = []
    for st in case["steps"]:
        ctx = st["context"]
        await play(bus, sfmt, script, st["load_at"], cd.MEMORY_NAMES, ctx)
        bus.set("n_events", st["n_events"])
        bus.set("threshold", case["threshold"])
        cd.set_learning(bus, LearningParams.from_registers(st["learning"]))
        bus.set("chk_base", st["trace_at"])
        await bus.tick()                     # the inputs reach the core (INPUT_LATENCY)
        _, counters = await cd.run_command(bus, fmt, CMD[st["cmd"]], st["cycles"], st["trace"], ctx,
                                           st["words"])
        assert counters == st["counters"], \
            f"counters: expected {st['counters']}, seen {counters} [{ctx}]"
        state = st["state"]
        if "out_events" in state:
            n_out = bus.get("n_out")
            assert n_out == len(state["out_events"]), \
                f"output events: expected {len(state['out_events'])}, seen {n_out} [{ctx}]"
        if "winners" in state:
            winners = await cd.read_winners(bus)
            d = cd.state_divergence({"winners": state["winners"]}, {"winners": winners}, ctx)
            assert d is None, str(d)
        await play(bus, sfmt, script, st["check_at"], cd.MEMORY_NAMES, ctx)
        now = time.perf_counter(), time.process_time()
        seen.append({"counters": counters, "trace_events": len(st["trace"]),
                     "seconds": now[0] - clock[0], "cpu_seconds": now[1] - clock[1]})
        clock = now
    with open(os.environ["CORE_CASE"] + ".seen.json", "w") as f:
        json.dump(seen, f)
