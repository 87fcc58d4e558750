"""hw/prune.py (PruneCheck) against the pruning rule written out in Python, over random inputs
that include every corner the lane's row summary depends on (this lane's word the row's last
live one in the lane, another lane's word live or not), for a kernel of fewer than 32 rows (one
live-row word per map) and one of more, and for 10 lanes (the MNIST default: the lane select is
a multiplexer tree that is not full)."""
import dataclasses
import random

import pytest
from amaranth.sim import Simulator

from hw.prune import PruneCheck
from cycles.layout import EngineLayout

LAY = EngineLayout(maps=7, channels=2, kernel=3, padding=1, side_in=5, time_steps=4, lanes=3,
                   weight_bits=8, potential_bits=10, max_events=50)     # P = 3, G = 3


def rule(lay, valid, check, sweep, q_next, threshold, lane, g, masks, row_word, row_bit, row_any,
         ky, kx):
    """What the STDP unit writes back when an op prunes (hw/prune.py's docstring)."""
    mask = masks[lane] & ~(1 << g)
    return {"prune": int(bool(valid and (check or sweep) and q_next < threshold)),
            "mask": mask,
            "row_dead": int(mask == 0),           # the lane's last live connection of the row
            "row_word_next": row_word & ~(1 << row_bit),
            "row_any_next": row_any[lane] & ~(1 << (ky * lay.kernel + kx))}


@pytest.mark.parametrize("lay", [LAY, dataclasses.replace(LAY, channels=4),
                                 dataclasses.replace(LAY, maps=30, lanes=10)],
                         ids=["18rows", "36rows", "10lanes"])
def test_prune_check_follows_the_rule(lay):
    dut = PruneCheck(lay)
    rnd = random.Random(3)
    G, k = lay.groups, lay.kernel
    cases = []
    for _ in range(400):
        sparse = rnd.random() < 0.6          # mostly one live bit or none: the summary's corners
        masks = [(1 << rnd.randrange(G)) if sparse and rnd.random() < 0.3 else
                 (0 if sparse else rnd.randrange(1 << G)) for _ in range(lay.lanes)]
        cases.append(dict(valid=rnd.randrange(2), check=rnd.randrange(2), sweep=rnd.randrange(2),
                          q_next=rnd.randrange(256), threshold=rnd.randrange(256),
                          lane=rnd.randrange(lay.lanes), g=rnd.randrange(G), masks=masks,
                          # row_bit = row mod 32 with row < rows (hw/stdp_unit.py)
                          row_word=rnd.getrandbits(32), row_bit=rnd.randrange(min(32, lay.rows)),
                          row_any=[rnd.randrange(1 << k * k) for _ in range(lay.lanes)],
                          ky=rnd.randrange(k), kx=rnd.randrange(k)))
    seen = []

    async def bench(ctx):
        for c in cases:
            for name, v in c.items():
                if name in ("masks", "row_any"):
                    for l, word in enumerate(v):
                        ctx.set(getattr(dut, name)[l], word)
                else:
                    ctx.set(getattr(dut, name), v)
            seen.append({name: ctx.get(getattr(dut, name)) for name in
                         ("prune", "mask", "row_dead", "row_word_next", "row_any_next")})

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    dead = 0
    for c, got in zip(cases, seen):
        assert got == rule(lay, **c), c
        dead += got["row_dead"]
    assert 0 < dead < len(cases)          # both outcomes of the row summary were exercised
