"""cocotb test of the integrate engine against the model's schedule (the cocotb side).

The pytest side (``tests/test_cosim_integrate.py`` or ``sim/cosim.py``) writes one case to the
file named by the environment variable ``ENGINE_CASE`` (``sim.cosim.save_case``): the layout,
the input spike times, weights, live mask, threshold, the predicted trace and memories and a
context (config, layer, seed, image). This test loads the case into the RTL through the host
ports, runs one pass, records the trace, reads every lane memory back, and fails at the first
divergence; the seen trace and counters are written next to the case for the caller.
"""
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from sim import engine_driver as drv
from sim.compare import first_memory_divergence, first_trace_divergence
from sim.cosim import load_case


@cocotb.test()
async def engine_matches_schedule(dut):
    case = load_case(os.environ["ENGINE_CASE"])
    lay = case["layout"]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for name in ("start", "wr_en", "rd_lane", "rd_addr"):
        getattr(dut, name).value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    bus = drv.CocotbBus(dut, dut.clk)
    await drv.load(bus, lay, case["times_in"], case["weights"], case["active"], case["threshold"])
    trace, counters = await drv.run(bus, lay)
    memories = await drv.read_memories(bus, lay)
    with open(os.environ["ENGINE_CASE"] + ".seen.json", "w") as f:
        json.dump({"trace": trace, "counters": counters}, f)
    problems = [first_trace_divergence(case["trace"], trace, case["context"])]
    problems += [first_memory_divergence(name, case["memories"][name], memories[name], case["context"])
                 for name in ("potentials", "fire", "v_fire")]
    problems = [p for p in problems if p is not None]
    assert not problems, str(problems[0])
    expected = case["counters"]
    assert counters == expected, f"counters: expected {expected}, seen {counters}"
