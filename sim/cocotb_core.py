"""cocotb test of the layer core against cycles/core.py (the cocotb side of
``sim.cosim.run_core``).

The case named by ``CORE_CASE`` holds the layout, the synapses, and per step a command, its
image, its learning parameters, its policy registers (map enables, window end) and its
prediction: trace (and its capture words), counters and
memories. The test loads the synapses once through the host interface, then per step the image
(events, and the spike times the STDP unit reads), runs the command comparing its trace as the
capture fills, and compares the counters and every predicted memory; it fails at the first
divergence. What it saw goes next to the case, with each step's wall and CPU seconds (the
step's loading, command and comparisons; the synapses' loading counts to step 0: sim/bench_core.py).
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

CMD = {"infer": hc.CMD_INFER, "learn": hc.CMD_LEARN, "sweep": hc.CMD_SWEEP}


@cocotb.test()
async def core_matches_schedule(dut):
    case = load_core_case(os.environ["CORE_CASE"])
    lay, lc = case["layout"], case["layer"]
    fmt = cd.CoreTrace(lay, case["formats"], lc)
    bus = await drv.start_clock_and_reset(dut, ("start", "wr_en", "rd_mem", "rd_lane", "rd_addr",
                                                "win_idx"), input_latency=INPUT_LATENCY)
    clock = time.perf_counter(), time.process_time()
    await cd.load_synapses(bus, lay, case["weights"], case["active"])
    seen = []
    for i, st in enumerate(case["steps"]):
        ctx = st["context"]
        await cd.load_image(bus, lay, case["times"][i], case["threshold"], learn=st["cmd"] != "infer")
        await cd.load_policy(bus, lay, st["policy"]["enabled"], st["policy"]["window"])
        cd.set_learning(bus, LearningParams.from_registers(st["learning"]))
        await bus.tick()                     # the inputs reach the core (INPUT_LATENCY)
        _, counters = await cd.run_command(bus, fmt, CMD[st["cmd"]], st["cycles"], st["trace"], ctx,
                                           st["words"])
        assert counters == st["counters"], \
            f"counters: expected {st['counters']}, seen {counters} [{ctx}]"
        n_out = bus.get("n_out") if lc.pool.size > 0 else None
        d = cd.state_divergence(st["state"], await cd.read_state(bus, lay, n_out), ctx)
        assert d is None, str(d)
        now = time.perf_counter(), time.process_time()
        seen.append({"counters": counters, "trace_events": len(st["trace"]),
                     "seconds": now[0] - clock[0], "cpu_seconds": now[1] - clock[1]})
        clock = now
    with open(os.environ["CORE_CASE"] + ".seen.json", "w") as f:
        json.dump(seen, f)
