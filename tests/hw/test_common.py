"""hw/common.py's small circuits against their software definitions, over every input."""
import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from hw.common import at_most_one_bit


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 9])
def test_at_most_one_bit_is_the_carry_chain_test(width):
    """The tree equals ``w & (w - 1) == 0`` on every word of the width."""
    m = Module()
    word, out = Signal(width), Signal()
    m.d.comb += out.eq(at_most_one_bit(word))
    seen = {}

    async def bench(ctx):
        for w in range(1 << width):
            ctx.set(word, w)
            seen[w] = ctx.get(out)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {w: int(w & (w - 1) == 0) for w in range(1 << width)}
