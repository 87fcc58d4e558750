"""The trace capture (sim/capture.py): packing, and the buffer hardware under Amaranth's simulator."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from conftest import layer_input
from hw.integrate import IntegrateEngine
from cycles.layout import EngineLayout
from cycles.integrate import integrate_pass
from cycles.trace import trace_order
from sim import engine_driver as drv
from sim.capture import TraceCapture, TraceCheck, chunks, rom_depth


def _case(tiny_net, lanes=2, image=0):
    cfg, net, times = tiny_net
    x = layer_input(net, 0, times[image:image + 1])[0]
    lay = EngineLayout.for_input(cfg, 0, lanes, x[None])
    active = np.random.default_rng(image).random(net.shapes[0]) >= 0.3
    pred = integrate_pass(lay, x, net.weights[0], active, net.thresholds[0])
    return lay, x, net.weights[0], active, net.thresholds[0], pred


def test_pack_then_unpack_gives_the_trace_back(tiny_net):
    lay, *_, pred = _case(tiny_net)
    fmt = drv.EngineTrace(lay)
    words = fmt.pack(pred.trace)
    assert len(words) == len({r[0] for r in pred.trace})          # one word per traced cycle
    assert sorted(fmt.unpack(words), key=trace_order) == sorted(pred.trace, key=trace_order)
    # A record that cannot be a trace field is refused, not silently truncated.
    with pytest.raises(AssertionError, match="does not fit"):
        fmt.pack([(0, "row", 0, 1 << 20, 0)])
    with pytest.raises(AssertionError, match="does not fit"):          # no such lane
        fmt.pack([(0, "row", lay.lanes, 0, 0)])
    # Rows of one cycle belong to one event: the lanes meet at each event's end.
    with pytest.raises(ValueError, match="rows of two events in cycle 0"):
        fmt.pack([(0, "row", 0, 1, 0), (0, "row", 1, 2, 0)])


def _simulate(top, lay, stimulus, bench):
    """Amaranth's simulator: a clock on ``top.clk``, reset, the engine loaded with ``stimulus``
    (input times, weights, mask, threshold), then ``bench(ctx, bus)``."""
    async def clock(ctx):
        while True:
            ctx.set(top.clk, 0)
            await ctx.delay(5e-9)
            ctx.set(top.clk, 1)
            await ctx.delay(5e-9)

    async def testbench(ctx):
        bus = drv.AmaranthBus(ctx, top)
        ctx.set(top.rst, 1)
        await ctx.tick()
        ctx.set(top.rst, 0)
        await drv.load(bus, lay, *stimulus)
        await bench(ctx, bus)

    sim = Simulator(top)
    sim.add_process(clock)
    sim.add_testbench(testbench)
    sim.run()


def test_capture_buffer_holds_every_record_in_order(tiny_net):
    """Each time the buffer fills (cap_flip toggles) it holds the next ``depth`` predicted
    words; at the end of the pass (cap_last) the partial buffer holds the rest."""
    lay, x, weights, active, threshold, pred = _case(tiny_net, lanes=3, image=4)
    fmt, depth = drv.EngineTrace(lay), 8
    top = TraceCapture(IntegrateEngine(lay), fmt, depth=depth)
    want = chunks(fmt.pack(pred.trace), depth, fmt.width)
    seen = []

    async def bench(ctx, bus):
        flip, last = ctx.get(top.cap_flip), ctx.get(top.cap_last)
        await drv.start(bus)
        for _ in range(pred.cycles + 10):
            await ctx.tick()
            if ctx.get(top.cap_flip) != flip:
                flip ^= 1
                seen.append(ctx.get(top.cap_words))
            if ctx.get(top.cap_last) != last:
                n = ctx.get(top.cap_count)
                if n:
                    seen.append(ctx.get(top.cap_words) & ((1 << (n * fmt.width)) - 1))
                return

    _simulate(top, lay, (x, weights, active, threshold), bench)
    assert len(want) > 3
    assert seen == want


def _run_check(top, lay, x, weights, active, threshold, cycles, base=0):
    """Load, start a pass at ROM word ``base``; the check ports when the last record is in."""
    out = {}

    async def bench(ctx, bus):
        last = ctx.get(top.cap_last)
        ctx.set(top.chk_base, base)
        await drv.start(bus)
        for _ in range(cycles + 10):
            await ctx.tick()
            if ctx.get(top.cap_last) != last:
                break
        out.update({name: ctx.get(getattr(top, name)) for name in
                    ("cap_last", "cap_fail", "cap_seen", "cap_seen_at", "cap_index")})
        out["ended"] = ctx.get(top.cap_last) != last

    _simulate(top, lay, (x, weights, active, threshold), bench)
    return out


def test_check_compares_every_record_with_the_rom(tiny_net):
    """The in-simulation comparison (TraceCheck): the predicted words from ``chk_base`` pass;
    one changed word fails at that word, holding the record the block made."""
    lay, x, weights, active, threshold, pred = _case(tiny_net, lanes=3, image=4)
    fmt = drv.EngineTrace(lay)
    words = fmt.pack(pred.trace)
    junk = [12345, 678]                         # another pass's words before this one's
    top = TraceCheck(IntegrateEngine(lay), fmt, junk + words, rom_depth(len(junk + words)))
    out = _run_check(top, lay, x, weights, active, threshold, pred.cycles, base=len(junk))
    assert out["ended"] and not out["cap_fail"]
    assert out["cap_index"] == len(junk) + len(words)

    k = len(words) // 2
    # The expected trace gains or loses a step end; a record one cycle late.
    for change in (1 << fmt.offsets()["tr_step"][0], 1 << fmt.offsets()["cycle"][0]):
        bad = list(words)
        bad[k] ^= change
        top = TraceCheck(IntegrateEngine(lay), fmt, junk + bad, rom_depth(len(junk + bad)))
        out = _run_check(top, lay, x, weights, active, threshold, pred.cycles, base=len(junk))
        assert out["cap_fail"]
        assert out["cap_seen_at"] == len(junk) + k and out["cap_seen"] == words[k]
