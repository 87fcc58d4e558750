"""cocotb test of the integrate engine against the model's schedule (the cocotb side).

``sim.cosim.run_engine`` writes the case named by the environment variable ``ENGINE_CASE``: the
layout, synapses, threshold, and per pass the input spike times with the predicted trace,
counters and memories. This test loads the synapses once through the host ports, then per pass
the events; it runs the pass and compares its trace as the design's trace capture fills
(sim/capture.py), reads the lane memories back and compares them (every pass, or the last with
``memories: last``), and fails at the first divergence. What it saw (counters, trace lengths) goes next to the case for the caller.
"""
import json
import os
import time

import cocotb

from sim import engine_driver as drv
from sim.capture import INPUT_LATENCY
from sim.compare import first_memory_divergence
from sim.cosim import MEMORIES, load_case


@cocotb.test()
async def engine_matches_schedule(dut):
    case = load_case(os.environ["ENGINE_CASE"])
    lay = case["layout"]
    bus = await drv.start_clock_and_reset(dut, ("start", "wr_en", "rd_lane", "rd_addr", "chk_base",
                                                "step_wait", *drv.LENT_STROBES),
                                          input_latency=INPUT_LATENCY)
    await drv.load_synapses(bus, lay, case["weights"], case["active"])
    seen = []
    timing = os.environ.get("ENGINE_TIMING") == "1"
    base = 0                # the passes' words follow each other in the design's ROM (sim/cosim.py)
    for i, expected in enumerate(case["passes"]):
        await drv.load_events(bus, lay, case["times_in"][i], case["threshold"])
        words = drv.EngineTrace(lay).pack(expected["trace"])    # the prediction, as captured
        # Wall time, and this process's CPU time (the simulator and cocotb run in it, one
        # thread): the second does not count the time other processes take the CPU away.
        start, cpu = time.perf_counter(), time.process_time()
        n, counters = await drv.run_captured(bus, lay, expected["trace"], expected["context"],
                                             words, base)
        base += len(words)
        checked, checked_cpu = time.perf_counter() - start, time.process_time() - cpu
        seen.append({"counters": counters, "trace_events": n})
        if timing:   # the same pass again, the trace not looked at: the raw simulation speed
            start, cpu = time.perf_counter(), time.process_time()
            raw = await drv.run_unchecked(bus, expected["counters"]["cycles"], expected["context"])
            seen[-1].update(checked_seconds=checked, raw_seconds=time.perf_counter() - start,
                            checked_cpu_seconds=checked_cpu,
                            raw_cpu_seconds=time.process_time() - cpu, raw_counters=raw)
        problems = []
        if case["memories"] == "each" or i == len(case["passes"]) - 1:
            got = await drv.read_memories(bus, lay)
            problems += [first_memory_divergence(m, case[m][i], got[m], expected["context"])
                         for m in MEMORIES]
        problems = [p for p in problems if p is not None]
        assert not problems, str(problems[0])
        assert counters == expected["counters"], \
            f"counters: expected {expected['counters']}, seen {counters} [{expected['context']}]"
    with open(os.environ["ENGINE_CASE"] + ".seen.json", "w") as f:
        json.dump(seen, f)
