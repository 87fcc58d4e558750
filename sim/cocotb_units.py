"""cocotb tests of the winner unit and the outgoing unit against their cycle models (the cocotb
side of ``sim.unit_harness.run_winner`` / ``run_outgoing``).

The case named by the environment variable ``UNIT_CASE`` holds the trace format
(``sim.capture.EventTrace.spec``), the expected trace (the model's, on the harness's clock) and the expected final results; the
stimulus is baked into the harness (sim/unit_harness.py). Each test resets, pulses ``start``,
compares the trace as the design's trace capture fills (``sim.capture.check_pass``: fails at the
first divergence), then reads the final results from the output ports. What it saw goes next to
the case (``.seen.json``).
"""
import json
import os
from pathlib import Path

import cocotb

from sim import engine_driver as drv
from sim.capture import INPUT_LATENCY, EventTrace, check_pass


def _case():
    path = Path(os.environ["UNIT_CASE"])
    case = json.loads(path.read_text())
    case["trace"] = [tuple(r) for r in case["trace"]]
    return path, case


def _save(path: Path, seen: dict):
    path.with_suffix(".seen.json").write_text(json.dumps(seen))


async def _start_and_check(dut, case, idle_inputs):
    bus = await drv.start_clock_and_reset(dut, idle_inputs, input_latency=INPUT_LATENCY)
    await bus.tick()
    await drv.start(bus)
    n, last_cycle = await check_pass(dut, EventTrace(**case["format"]), case["trace"],
                                     case["context"], max_cycles=1_000_000)
    await bus.tick()
    return bus, n, last_cycle


@cocotb.test()
async def winner_matches_model(dut):
    path, case = _case()
    ctx = case["context"]
    bus, n, last_cycle = await _start_and_check(dut, case, ("start", "win_idx"))
    winners = await drv.read_each(bus, "win_idx", bus.get("n_winners"),
                               ("win_f", "win_y", "win_x", "win_t"))
    seen = {"records": n, "last_cycle": last_cycle, "winners": winners, "full": bus.get("full"),
            "busy_cycles": bus.get("busy_cycles")}
    _save(path, seen)
    assert winners == [list(w) for w in case["winners"]], \
        f"winners: expected {case['winners']}, seen {winners} [{ctx}]"
    assert seen["full"] == case["full"], f"full: expected {case['full']}, seen {seen['full']} [{ctx}]"
    assert seen["busy_cycles"] == case["busy_cycles"], \
        f"busy cycles: expected {case['busy_cycles']}, seen {seen['busy_cycles']} [{ctx}]"


@cocotb.test()
async def outgoing_matches_model(dut):
    path, case = _case()
    ctx = case["context"]
    bus, n, last_cycle = await _start_and_check(dut, case, ("start", "ev_rd_addr"))
    n_events = bus.get("n_events")
    words = [w for w, in await drv.read_each(bus, "ev_rd_addr", n_events, ("ev_rd_data",))]
    seen = {"records": n, "last_cycle": last_cycle, "n_events": n_events, "words": words}
    _save(path, seen)
    assert n_events == len(case["words"]), \
        f"n_events: expected {len(case['words'])}, seen {n_events} [{ctx}]"
    assert words == case["words"], f"event memory: expected {case['words']}, seen {words} [{ctx}]"
    assert last_cycle + 1 == case["cycles"], \
        f"cycles: expected {case['cycles']}, seen {last_cycle + 1} [{ctx}]"
