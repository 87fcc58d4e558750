"""cocotb test of the STDP unit against the model's schedule (the cocotb side).

``sim.cosim.run_stdp`` writes the case named by ``STDP_CASE``: layout, formats, synapses, the
layer's input spike times, the pass's arguments and the predicted trace and synapses. This test
loads it through the host ports, runs the pass, and compares the trace, then the lane weights
and masks, the row summaries and the live-row words, stopping at the first divergence.
"""
import os

import cocotb
import numpy as np

from sim import engine_driver as drv, stdp_driver as sdrv
from sim.compare import first_memory_divergence, first_trace_divergence
from sim.cosim import load_stdp_case


@cocotb.test()
async def stdp_unit_matches_schedule(dut):
    case = load_stdp_case(os.environ["STDP_CASE"])
    lay, a = case["layout"], case["args"]
    bus = await drv.start_clock_and_reset(dut, ("start", "wr_en", "win_we", "rd_lane", "rd_addr"))
    await sdrv.load(bus, lay, case["weights"], case["active"], case["times_in"])
    trace = await sdrv.run(bus, [tuple(w) for w in a["winners"]], a["learning"], a["all_maps"],
                           case["cycles"], case["context"])
    div = first_trace_divergence(case["trace"], trace, case["context"])
    assert div is None, str(div)
    got = await sdrv.read_back(bus, lay)
    masks = lay.lane_masks(case["pred_active"])
    for name, ref in (("weights", lay.lane_weights(case["pred_weights"])), ("masks", masks),
                      ("row_any", lay.lane_rows(masks)), ("map_rows", lay.map_rows(case["pred_active"]))):
        div = first_memory_divergence(name, np.atleast_2d(ref), np.atleast_2d(got[name]), case["context"])
        assert div is None, str(div)
