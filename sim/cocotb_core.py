"""cocotb test of the layer core against cycles/core.py (the cocotb side of
``sim.cosim.run_core``).

The design is the core in a ``sim.host_script.HostScript`` (the host's script: loading,
registers, commands, and the comparisons of counters, winners and memories) in a
``sim.capture.TraceCheck`` (every trace record compared as it is made), both with their words in
ROMs: the test only resets the design, starts the script and sleeps until it ends, a comparison
fails or the case's cycle limit passes, then writes what the design reports next to the case
(the parent names the difference). It imports nothing of the model: the simulator's process
starts in a fraction of a second.
"""
import json
import os
import time

import cocotb
from cocotb.triggers import FallingEdge, First, ReadOnly, Timer
from cocotb.utils import get_sim_time

REPORTED = ("scr_fail", "scr_fail_at", "scr_seen", "cap_fail", "cap_seen", "cap_seen_at",
            "cap_index")


@cocotb.test()
async def core_runs_its_script(dut):
    path = os.environ["CORE_CASE"]
    with open(path) as f:
        case = json.load(f)
    for name in case["inputs"]:
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)                # the reset through the wrapper's register
    start = time.perf_counter(), time.process_time()
    dut.scr_go.value = 1
    await FallingEdge(dut.clk)
    dut.scr_go.value = 0
    timeout = Timer(case["limit"] * case["period_ns"], "ns")
    woke = await First(dut.scr_done.value_change, dut.scr_fail.value_change,
                       dut.cap_fail.value_change, timeout)
    await ReadOnly()
    seen = {name: int(getattr(dut, name).value) for name in REPORTED}
    seen.update(timed_out=woke is timeout, limit=case["limit"], sim_time_ns=get_sim_time("ns"),
                seconds=time.perf_counter() - start[0], cpu_seconds=time.process_time() - start[1])
    with open(path + ".seen.json", "w") as f:
        json.dump(seen, f)
