"""Mix32: the counter hash of model/rng.py (MurmurHash3 fmix32) in gateware.

Three xor-shift stages and two multiplications by constants, modulo 2^32. Combinational by
default (``stages=0``). With ``stages=3`` it is a pipeline of three registers, ``o`` the hash of
the ``i`` of three cycles before. A product x C mod 2^32 with 16-bit halves is
xl Cl + ((xl Ch + xh Cl) mod 2^16) 2^16; its three partial products are registered as they
leave the multipliers, and added up after the register, so no stage has an adder behind a
multiplier (ECP5 at 75 MHz: a 16-bit carry chain after a MULT18X18D did not fit):

1. h0 = i ^ (i >> 16); the three partial products of h0 C1, registered;
2. their sum h1 (a three-operand 16-bit addition), h2 = h1 ^ (h1 >> 13); the same for h2 C2,
   registered;
3. their sum h3, o = h3 ^ (h3 >> 16), registered.

The stages advance while ``en`` is high (its default; the combinational hash ignores it). The
STDP unit feeds it ``round_key ^ weight_address`` to get the stochastic-rounding word of a
weight, the same word ``model.rng.words`` gives the model (tests/test_hw_blocks.py holds them together).
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.rng import _C1, _C2


class Mix32(wiring.Component):
    def __init__(self, stages: int = 0):
        if stages not in (0, 3):
            raise ValueError(f"stages = {stages}: Mix32 is combinational (0) or a 3-stage pipeline")
        self.stages = stages
        super().__init__({"i": In(32), "o": Out(32), "en": In(1, init=1)})

    def elaborate(self, platform):
        m = Module()

        def stage_when_en(statements):
            if self.stages:
                with m.If(self.en):
                    m.d.sync += statements
            else:
                m.d.comb += statements

        def products(x, c, name):
            """x c mod 2^32 from the partial products: low (32 bits) and the two cross products
            (16 bits each), registered; the upper half summed after the register."""
            lo = Signal(32, name=f"{name}_lo")
            xa, xb = Signal(16, name=f"{name}_xa"), Signal(16, name=f"{name}_xb")
            stage_when_en([lo.eq(x[:16] * (c & 0xFFFF)),
                           xa.eq((x[:16] * (c >> 16))[:16]), xb.eq((x[16:] * (c & 0xFFFF))[:16])])
            total = Signal(32, name=f"{name}_sum")
            m.d.comb += total.eq(Cat(lo[:16], (lo[16:] + xa + xb)[:16]))
            return total

        h0, h2 = Signal(32), Signal(32)
        m.d.comb += h0.eq(self.i ^ (self.i >> 16))
        h1 = products(h0, _C1, "p1")
        m.d.comb += h2.eq(h1 ^ (h1 >> 13))
        h3 = products(h2, _C2, "p2")
        stage_when_en([self.o.eq(h3 ^ (h3 >> 16))])
        return m
