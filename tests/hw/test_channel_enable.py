"""The map enables (hw/channel_enable.py) on their own: the register written by the host, and
each lane's mask words gated by the enables of the maps that lane holds (map f = g * P + l:
lane l, group g), on layouts whose maps fill the lanes and layouts whose last group is part
empty. Enable patterns are drawn at random, so a lane reading another map's enable shows."""
import random

import pytest
from amaranth.sim import Simulator

from cycles.core import network_layouts
from hw.channel_enable import ChannelEnables, WORD_BITS


def expected_gated(masks, enabled, F, P, G):
    return [sum(((masks[l] >> g) & 1 & (enabled >> (g * P + l)) & 1) << g
                for g in range(G) if g * P + l < F) for l in range(P)]


@pytest.mark.parametrize("layer, lanes", [(0, 4), (1, 4), (0, 3), (1, 5)])
def test_each_lane_gated_by_its_own_maps(tiny_cfg, layer, lanes):
    lay = network_layouts(tiny_cfg, lanes)[layer]
    F, P, G = lay.maps, lay.lanes, lay.groups
    assert F <= WORD_BITS
    dut = ChannelEnables(lay)
    rng = random.Random(f"{layer}:{lanes}")
    cases = [(rng.getrandbits(F), [rng.getrandbits(G) for _ in range(P)]) for _ in range(24)]
    cases += [(((1 << F) - 1) ^ (1 << f), [(1 << G) - 1] * P) for f in range(F)]  # one map off
    seen = []

    async def bench(ctx):
        seen.append(("reset", ctx.get(dut.enabled)))
        for enabled, masks in cases:
            ctx.set(dut.we, 1)
            ctx.set(dut.addr, 0)
            ctx.set(dut.data, enabled)
            await ctx.tick()
            ctx.set(dut.we, 0)
            for l in range(P):
                ctx.set(dut.masks[l], masks[l])
            seen.append((ctx.get(dut.enabled), [ctx.get(dut.gated[l]) for l in range(P)]))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen[0] == ("reset", (1 << F) - 1)            # every map on until the host writes
    for (enabled, masks), (register, gated) in zip(cases, seen[1:]):
        assert register == enabled
        assert gated == expected_gated(masks, enabled, F, P, G), (bin(enabled), masks)
