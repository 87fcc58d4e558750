"""Drives the STDP unit through its ports (the same buses as sim/engine_driver.py)."""
from __future__ import annotations

import numpy as np

from hw.stdp_unit import MEM_MAP_ROWS, MEM_TIMES
from hw.synapses import MEM_MASKS, MEM_ROW_ANY, MEM_WEIGHTS
from cycles.layout import EngineLayout
from cycles.learning import LearningParams
from sim.engine_driver import start, trace_until_done, write_words


async def load(bus, lay: EngineLayout, weights, active, times_in):
    masks = lay.lane_masks(active)
    images = [(MEM_MAP_ROWS, 0, lay.map_rows(active)), (MEM_TIMES, 0, times_in.reshape(-1))]
    lw, summaries = lay.lane_weights(weights), lay.lane_rows(masks)
    for lane in range(lay.lanes):
        images += [(MEM_WEIGHTS, lane, lw[lane]), (MEM_MASKS, lane, masks[lane]),
                   (MEM_ROW_ANY, lane, summaries[lane])]
    for mem, lane, words in images:
        await write_words(bus, mem, lane, words)


async def run(bus, winners, learning: LearningParams, all_maps: bool, expected: int,
              context: dict | None = None):
    """One pass of the STDP unit on ``winners`` (or every map, ``all_maps``); returns its trace.
    ``expected``: the pass's cycles by the cycle model (``cycles.stdp_unit.stdp_pass``), which
    bound the wait."""
    for i, (f, y, x, t) in enumerate(winners):
        for name, v in (("win_we", 1), ("win_idx", i), ("win_f", f), ("win_y", y), ("win_x", x),
                        ("win_t", t)):
            bus.set(name, v)
        await bus.tick()
    bus.set("win_we", 0)
    for name, v in (("n_winners", len(winners)), *learning.registers().items(),
                    ("all_maps", int(all_maps))):
        bus.set(name, v)
    trace = []

    def record(cycle):
        if bus.get("tr_op"):
            trace.append((cycle, "op", bus.get("tr_map"), bus.get("tr_row"), bus.get("tr_q"),
                          bus.get("tr_q_next"), bool(bus.get("tr_pruned"))))
        if bus.get("tr_done"):
            trace.append((cycle, "done"))

    await start(bus)
    await trace_until_done(bus, record, "STDP pass" + (" (sweep)" if all_maps else ""), expected,
                           context)
    await bus.tick()
    return trace


async def read_back(bus, lay: EngineLayout) -> dict[str, np.ndarray]:
    """Lane weights and masks, row summaries and live-row words, as the host reads them."""
    out = {"weights": np.zeros((lay.lanes, lay.rows * lay.groups), dtype=np.int64),
           "masks": np.zeros((lay.lanes, lay.rows), dtype=np.int64),
           "row_any": np.zeros((lay.lanes, lay.channels), dtype=np.int64),
           "map_rows": np.zeros(lay.maps * lay.map_words, dtype=np.int64)}
    for lane in range(lay.lanes):
        bus.set("rd_lane", lane)
        for a in range(lay.rows * lay.groups):
            bus.set("rd_addr", a)
            await bus.read_tick()
            out["weights"][lane, a] = bus.get("rd_weight")
            if a < lay.rows:
                out["masks"][lane, a] = bus.get("rd_mask")
            if a < lay.channels:
                out["row_any"][lane, a] = bus.get("rd_row_any")
            if lane == 0 and a < len(out["map_rows"]):
                out["map_rows"][a] = bus.get("rd_map_rows")
    for a in range(lay.rows * lay.groups, len(out["map_rows"])):   # words past the weights
        bus.set("rd_addr", a)
        await bus.read_tick()
        out["map_rows"][a] = bus.get("rd_map_rows")
    return out
