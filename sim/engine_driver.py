"""Drives the integrate engine through its ports: load, run, collect the trace, read memories.

The same coroutines serve Amaranth's simulator (``AmaranthBus``) and cocotb (``CocotbBus``):
a bus only sets and gets ports by name (whole ports, as integers) and waits for a clock edge.
"""
from __future__ import annotations

import numpy as np

from amaranth import Cat, Mux

from hw.common import bits
from hw.channel_enable import WORD_BITS as ENABLE_WORD_BITS
from hw.channel_enable import enable_words
from hw.integrate import (MEM_EVENTS, MEM_MAP_ON, MEM_MASKS, MEM_ROW_ANY, MEM_WEIGHTS, MEM_WINDOW,
                          pack_event)
from cycles.layout import EngineLayout
from cycles.integrate import policy_registers
from sim.capture import TraceFormat
from sim.stall import StallError, cycle_limit


class EngineTrace(TraceFormat):
    """The integrate engine's trace ports as records (row, fire, step, done; cycles/integrate.py)."""

    def __init__(self, lay: EngineLayout):
        self.lay = lay
        self.ab, self.pb = bits(lay.groups * lay.npos - 1), lay.potential_bits
        self.rb = bits(lay.rows - 1)
        P = lay.lanes
        super().__init__([("cycle", 32), ("tr_row", P), ("tr_event", bits(lay.max_events)),
                          ("tr_row_index", P * self.rb), ("tr_fire", P),
                          ("tr_fire_addr", P * self.ab), ("tr_fire_v", P * self.pb),
                          ("tr_step", 1), ("tr_t", bits(lay.time_steps)), ("tr_done", 1)])

    def gated(self, e):
        lanes = range(self.lay.lanes)

        def when(flag, value):
            return Mux(flag, value, 0)
        return {"tr_row": e.tr_row, "tr_event": when(e.tr_row.any(), e.tr_event),
                "tr_row_index": Cat(*(when(e.tr_row[l], e.tr_row_index[l]) for l in lanes)),
                "tr_fire": e.tr_fire,
                "tr_fire_addr": Cat(*(when(e.tr_fire[l], e.tr_fire_addr[l]) for l in lanes)),
                "tr_fire_v": Cat(*(when(e.tr_fire[l], e.tr_fire_v[l]) for l in lanes)),
                "tr_step": e.tr_step, "tr_t": when(e.tr_step | e.tr_fire.any(), e.tr_t),
                "tr_done": e.tr_done}

    def valid(self, e):
        return e.tr_row.any() | e.tr_fire.any() | e.tr_step | e.tr_done

    def records(self, cycle, get):
        out = []
        rows = get("tr_row")
        if rows:
            event, index = get("tr_event"), get("tr_row_index")
            for lane in range(self.lay.lanes):
                if rows >> lane & 1:
                    out.append((cycle, "row", lane, event, index >> (lane * self.rb) & ((1 << self.rb) - 1)))
        fires = get("tr_fire")
        if fires:
            ab, pb = self.ab, self.pb
            addrs, values, t = get("tr_fire_addr"), get("tr_fire_v"), get("tr_t")
            for lane in range(self.lay.lanes):
                if fires >> lane & 1:
                    out.append((cycle, "fire", lane, addrs >> (lane * ab) & ((1 << ab) - 1), t,
                                values >> (lane * pb) & ((1 << pb) - 1)))
        if get("tr_step"):
            out.append((cycle, "step", get("tr_t")))
        if get("tr_done"):
            out.append((cycle, "done"))
        return out

    def fields_of(self, records):
        v = {}
        for r in records:
            if r[1] == "row":
                lane, event, row = r[2:]
                if v.get("tr_row") and v["tr_event"] != event:
                    raise ValueError(f"rows of two events in cycle {r[0]}: the lanes walk one "
                                     "event at a time")
                v["tr_row"] = v.get("tr_row", 0) | 1 << lane
                v["tr_event"] = event
                v["tr_row_index"] = v.get("tr_row_index", 0) | row << (lane * self.rb)
            elif r[1] == "fire":
                lane, addr, t, pot = r[2:]
                v["tr_fire"] = v.get("tr_fire", 0) | 1 << lane
                v["tr_fire_addr"] = v.get("tr_fire_addr", 0) | addr << (lane * self.ab)
                v["tr_fire_v"] = v.get("tr_fire_v", 0) | pot << (lane * self.pb)
                v["tr_t"] = t
            elif r[1] == "step":
                v.update(tr_step=1, tr_t=r[2])
            elif r[1] == "done":
                v["tr_done"] = 1
            else:
                raise ValueError(f"not an integrate-engine trace record: {r}")
        return v


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

    async def read_tick(self):
        """After setting a read address: until the data is on the output ports."""
        await self.ctx.tick()

    async def wait_high(self, name, limit: int) -> bool:
        """Until the port ``name`` is high, at most ``limit`` cycles; whether it rose."""
        for _ in range(limit):
            if self.get(name):
                return True
            await self.tick()
        return bool(self.get(name))


class CocotbBus:
    """``input_latency``: cycles between setting an input and the block seeing it (1 behind
    ``sim.capture.TraceCapture``'s input registers)."""

    def __init__(self, dut, clock, input_latency: int = 0, period_ns: int = 10):
        self.dut, self.clock, self.input_latency = dut, clock, input_latency
        self.period_ns = period_ns

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

    async def read_tick(self):
        for _ in range(1 + self.input_latency):
            await self.tick()

    async def wait_high(self, name, limit: int) -> bool:
        """Until the port ``name`` is high, at most ``limit`` cycles; whether it rose. The
        simulator runs on its own until the port rises or the time is up: no Python per cycle."""
        from cocotb.triggers import FallingEdge, First, RisingEdge, Timer
        if not self.get(name):
            timeout = Timer(limit * self.period_ns, "ns")
            if await First(RisingEdge(getattr(self.dut, name)), timeout) is timeout:
                return False
            await FallingEdge(self.clock)
        return True


# The integrate engine's synapse-port write strobes (hw.common.synapse_port): held low when the
# engine runs on its own, so no simulator starts them undefined.
LENT_STROBES = ("syn__w_we", "syn__m_we", "syn__ra_we")


async def start_clock_and_reset(dut, idle_inputs, input_latency: int = 0):
    """cocotb: a 100 MHz clock, two cycles of reset, the given inputs low; returns a CocotbBus.

    A top built with ``sim.runner.run(clock=...)`` makes its own clock (``SIM_CLOCK_NS`` set):
    the simulator then runs edges without any callback. Otherwise the clock runs in the
    simulator's C++ layer (cocotb's GPI clock): no Python per edge, but a VPI callback."""
    import os

    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge
    if not os.environ.get("SIM_CLOCK_NS"):
        Clock(dut.clk, 10, unit="ns", impl="gpi").start()
    dut.rst.value = 1
    for name in idle_inputs:
        getattr(dut, name).value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    return CocotbBus(dut, dut.clk, input_latency)


async def write_words(bus, mem: int, lane: int, words) -> None:
    """``words`` into memory ``mem`` of ``lane`` from address 0, one a cycle (the host write
    port every block shares: ``wr_en``, ``wr_mem``, ``wr_lane``, ``wr_addr``, ``wr_data``)."""
    for a, word in enumerate(words):
        for name, v in (("wr_en", 1), ("wr_mem", mem), ("wr_lane", lane), ("wr_addr", a),
                        ("wr_data", int(word))):
            bus.set(name, v)
        await bus.tick()
    bus.set("wr_en", 0)


def policy_words(lay: EngineLayout, enabled=None, window: int | None = None,
                 codes=(MEM_MAP_ON, MEM_WINDOW)) -> list:
    """(memory, lane, words) of the engine's policy registers, at the memory ``codes`` of the
    map enables and the window end: the enables (F,) (default all on; ``Network.channel_on``)
    in 32-map words, the window end (default T; ``Network.window``)."""
    enabled, window = policy_registers(lay, enabled, window)
    flags = np.zeros(enable_words(lay.maps) * ENABLE_WORD_BITS, dtype=np.int64)
    flags[:lay.maps] = enabled
    words = (flags.reshape(-1, ENABLE_WORD_BITS) << np.arange(ENABLE_WORD_BITS)).sum(axis=1)
    return [(codes[0], 0, [int(w) for w in words]), (codes[1], 0, [window])]


async def load_policy(bus, lay: EngineLayout, enabled=None, window: int | None = None,
                      codes=(MEM_MAP_ON, MEM_WINDOW)) -> None:
    """The map enables and the window end (``policy_words``)."""
    for mem, lane, words in policy_words(lay, enabled, window, codes):
        await write_words(bus, mem, lane, words)


async def load_synapses(bus, lay: EngineLayout, weights, active):
    """Weights, mask words and row summaries: once per network (or after pruning changes)."""
    lw, lm = lay.lane_weights(weights), lay.lane_masks(active)
    summaries = lay.lane_rows(lm)
    for lane in range(lay.lanes):
        await write_words(bus, MEM_ROW_ANY, lane, summaries[lane])
        await write_words(bus, MEM_WEIGHTS, lane, lw[lane])
        await write_words(bus, MEM_MASKS, lane, lm[lane])


async def load_events(bus, lay: EngineLayout, times_in, threshold):
    """One image's input spike events, sorted by time, and the threshold."""
    events = lay.events(times_in)
    await write_words(bus, MEM_EVENTS, 0, [pack_event(lay, *ev) for ev in events])
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


async def trace_until_done(bus, record, command: str, expected: int,
                           context: dict | None = None) -> int:
    """Call ``record(cycle)`` every cycle until ``tr_done``; returns the last cycle stamp.
    ``command`` (what was started) has ``expected`` cycles by the cycle model: past
    ``sim.stall.cycle_limit`` of them, StallError."""
    limit = cycle_limit(expected)
    for _ in range(limit):
        cycle = bus.get("cycle")
        record(cycle)
        if bus.get("tr_done"):
            return cycle
        await bus.tick()
    raise StallError(command, limit, expected, context)


async def run(bus, lay: EngineLayout, expected: int, context: dict | None = None):
    """Start a pass and record its trace until ``done``; returns (trace, counters). ``expected``:
    the pass's cycles by the cycle model (``cycles.integrate.integrate_pass``), which bound the
    wait."""
    fmt, trace = EngineTrace(lay), []
    await start(bus)
    cycle = await trace_until_done(bus, lambda c: trace.extend(fmt.records(c, bus.get)),
                                   "integrate pass", expected, context)
    counters = {"cycles": cycle + 1, "ops": bus.get("ops"), "op_cycles": bus.get("op_cycles")}
    await bus.tick()
    return trace, counters


async def run_captured(bus, lay: EngineLayout, expected: list[tuple], context: dict,
                       words: list[int] | None = None, base: int = 0):
    """cocotb, on a ``TraceCapture``- or ``TraceCheck``-wrapped engine: start a pass and compare
    its trace with ``expected`` (packed as ``words`` if given; on a ``TraceCheck`` the words are
    in its ROM from word ``base``) as the simulation runs (sim/capture.py); returns (records
    compared, counters)."""
    from sim.capture import check_pass
    if hasattr(bus.dut, "chk_base"):
        bus.set("chk_base", base)
    await start(bus)
    n, last_cycle = await check_pass(bus.dut, EngineTrace(lay), expected, context, words,
                                     command="integrate pass")
    await bus.tick()
    counters = {"cycles": last_cycle + 1, "ops": bus.get("ops"), "op_cycles": bus.get("op_cycles")}
    return n, counters


async def run_unchecked(bus, expected: int, context: dict | None = None):
    """Start a pass and wait for ``done`` without looking at the trace (the raw speed), at most
    ``sim.stall.cycle_limit(expected)`` cycles."""
    await start(bus)
    if not await bus.wait_high("done", cycle_limit(expected)):
        raise StallError("integrate pass (unchecked)", cycle_limit(expected), expected, context)
    counters = {"cycles": bus.get("cycle") + 1, "ops": bus.get("ops"), "op_cycles": bus.get("op_cycles")}
    await bus.tick()
    return counters


async def read_each(bus, addr: str, n: int, ports: tuple[str, ...]) -> list[list[int]]:
    """``ports`` at addresses 0 .. n - 1 of the read port addressed by the input ``addr``."""
    out = []
    for i in range(n):
        bus.set(addr, i)
        await bus.read_tick()
        out.append([bus.get(p) for p in ports])
    return out


async def read_memories(bus, lay: EngineLayout) -> dict[str, np.ndarray]:
    """Every lane's potentials, fire times and fire potentials, through the read port."""
    lanes = []
    for lane in range(lay.lanes):
        bus.set("rd_lane", lane)
        lanes.append(await read_each(bus, "rd_addr", lay.groups * lay.npos,
                                     ("rd_pot", "rd_fire", "rd_vfire")))
    words = np.array(lanes, dtype=np.int64)           # (lanes, words, 3)
    return {k: words[:, :, i] for i, k in enumerate(("potentials", "fire", "v_fire"))}


async def read_fire_lanes(bus, lay: EngineLayout) -> dict[str, np.ndarray]:
    """Every lane's fire times and fire potentials through the all-lane ports ``rd_fire_lanes``
    and ``rd_vfire_lanes`` (the outgoing unit's view), as (lanes, words) arrays."""
    tb, pb = bits(lay.time_steps), lay.potential_bits
    words = await read_each(bus, "rd_addr", lay.groups * lay.npos, ("rd_fire_lanes", "rd_vfire_lanes"))
    return {name: np.array([[w[i] >> (lane * width) & ((1 << width) - 1) for w in words]
                            for lane in range(lay.lanes)], dtype=np.int64)
            for i, (name, width) in enumerate((("fire", tb), ("v_fire", pb)))}
