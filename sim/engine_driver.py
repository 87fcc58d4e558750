"""Drives the integrate engine through its ports: load, run, collect the trace, read memories.

The same coroutines serve Amaranth's simulator (``AmaranthBus``) and cocotb (``CocotbBus``):
a bus only sets and gets ports by name (whole ports, as integers) and waits for a clock edge.
"""
from __future__ import annotations

import numpy as np

from hw.common import bits
from hw.integrate import MEM_EVENTS, MEM_MASKS, MEM_ROW_ANY, MEM_WEIGHTS, pack_event
from model.schedule import EngineLayout


class AmaranthBus:
    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut

    def set(self, name, value):
        self.ctx.set(getattr(self.dut, name), int(value))

    def get(self, name) -> int:
        port = getattr(self.dut, name)
        return int(self.ctx.get(port.as_value() if hasattr(port, "as_value") else port))

    async def tick(self):
        await self.ctx.tick()

    async def wait_high(self, name):
        while not self.get(name):
            await self.tick()


class CocotbBus:
    def __init__(self, dut, clock):
        self.dut, self.clock = dut, clock

    def set(self, name, value):
        getattr(self.dut, name).value = int(value)

    def get(self, name) -> int:
        value = getattr(self.dut, name).value
        if not value.is_resolvable:
            raise ValueError(f"port {name} is {value} (undefined bits) at {self.dut._path}")
        return int(value)

    async def tick(self):
        # Outputs are read and inputs written between edges, as Amaranth's testbenches do.
        from cocotb.triggers import FallingEdge
        await FallingEdge(self.clock)

    async def wait_high(self, name):
        # The simulator runs on its own until the port rises: no Python per cycle.
        from cocotb.triggers import FallingEdge, RisingEdge
        if not self.get(name):
            await RisingEdge(getattr(self.dut, name))
            await FallingEdge(self.clock)


async def start_clock_and_reset(dut, idle_inputs):
    """cocotb: a 100 MHz clock, two cycles of reset, the given inputs low; returns a CocotbBus."""
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for name in idle_inputs:
        getattr(dut, name).value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    return CocotbBus(dut, dut.clk)


async def _write(bus, mem, lane, addr, value):
    for name, v in (("wr_en", 1), ("wr_mem", mem), ("wr_lane", lane), ("wr_addr", addr),
                    ("wr_data", value)):
        bus.set(name, v)
    await bus.tick()


async def load_synapses(bus, lay: EngineLayout, weights, active):
    """Weights, mask words and row summaries: once per network (or after pruning changes)."""
    lw, lm = lay.lane_weights(weights), lay.lane_masks(active)
    ra = lay.row_any(lm)
    for c, word in enumerate(ra):
        await _write(bus, MEM_ROW_ANY, 0, c, word)
    for lane in range(lay.lanes):
        for a, w in enumerate(lw[lane]):
            await _write(bus, MEM_WEIGHTS, lane, a, w)
        for a, word in enumerate(lm[lane]):
            await _write(bus, MEM_MASKS, lane, a, word)
    bus.set("wr_en", 0)


async def load_events(bus, lay: EngineLayout, times_in, threshold):
    """One image's input spike events, sorted by time, and the threshold."""
    events = lay.events(times_in)
    for i, ev in enumerate(events):
        await _write(bus, MEM_EVENTS, 0, i, pack_event(lay, *ev))
    bus.set("wr_en", 0)
    bus.set("n_events", len(events))
    bus.set("threshold", threshold)


async def load(bus, lay: EngineLayout, times_in, weights, active, threshold):
    await load_synapses(bus, lay, weights, active)
    await load_events(bus, lay, times_in, threshold)


async def start(bus):
    """Pulse ``start`` for one cycle."""
    bus.set("start", 1)
    await bus.tick()
    bus.set("start", 0)


async def trace_until_done(bus, record, max_cycles: int = 10_000_000) -> int:
    """Call ``record(cycle)`` every cycle until ``tr_done``; returns the last cycle stamp."""
    for _ in range(max_cycles):
        cycle = bus.get("cycle")
        record(cycle)
        if bus.get("tr_done"):
            return cycle
        await bus.tick()
    raise TimeoutError(f"no done after {max_cycles} cycles")


async def run(bus, lay: EngineLayout, max_cycles: int = 10_000_000):
    """Start a pass and record its trace until ``done``; returns (trace, counters)."""
    ab, pb = bits(lay.groups * lay.npos - 1), lay.potential_bits
    trace = []

    def record(cycle):
        if bus.get("tr_row"):
            trace.append((cycle, "row", bus.get("tr_event"), bus.get("tr_row_index")))
        fires = bus.get("tr_fire")
        if fires:
            addrs, values, t = bus.get("tr_fire_addr"), bus.get("tr_fire_v"), bus.get("tr_t")
            for lane in range(lay.lanes):
                if fires >> lane & 1:
                    trace.append((cycle, "fire", lane, addrs >> (lane * ab) & ((1 << ab) - 1), t,
                                  values >> (lane * pb) & ((1 << pb) - 1)))
        if bus.get("tr_step"):
            trace.append((cycle, "step", bus.get("tr_t")))
        if bus.get("tr_done"):
            trace.append((cycle, "done"))

    await start(bus)
    cycle = await trace_until_done(bus, record, max_cycles)
    counters = {"cycles": cycle + 1, "ops": bus.get("ops"), "op_cycles": bus.get("op_cycles")}
    await bus.tick()
    return trace, counters


async def run_unchecked(bus):
    """Start a pass and wait for ``done`` without looking at the trace (the raw speed)."""
    await start(bus)
    await bus.wait_high("done")
    counters = {"cycles": bus.get("cycle") + 1, "ops": bus.get("ops"), "op_cycles": bus.get("op_cycles")}
    await bus.tick()
    return counters


async def read_memories(bus, lay: EngineLayout) -> dict[str, np.ndarray]:
    """Every lane's potentials, fire times and fire potentials, through the read port."""
    words = lay.groups * lay.npos
    out = {k: np.zeros((lay.lanes, words), dtype=np.int64) for k in ("potentials", "fire", "v_fire")}
    for lane in range(lay.lanes):
        bus.set("rd_lane", lane)
        for a in range(words):
            bus.set("rd_addr", a)
            await bus.tick()
            out["potentials"][lane, a] = bus.get("rd_pot")
            out["fire"][lane, a] = bus.get("rd_fire")
            out["v_fire"][lane, a] = bus.get("rd_vfire")
    return out
