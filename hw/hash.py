"""Mix32: the counter hash of model/rng.py (MurmurHash3 fmix32) in gateware.

Three xor-shift stages and two multiplications by constants, modulo 2^32. Combinational by
default (``stages=0``). With ``stages=3`` it is a pipeline of three registers, ``o`` (from the
last register, through logic) the hash of the ``i`` of three cycles before. A product x C mod
2^32 with 16-bit halves is xl Cl + ((xl Ch + xh Cl) mod 2^16) 2^16; its three partial products
are registered as they leave the multipliers and added up after the register. Each multiplier
has a register on its output and only an xor-shift before it, because ECP5's multipliers sit in
a few rows of the die: the route to and from one takes most of a 75 MHz cycle, so no adder fits
on either side of it:

1. h0 = i ^ (i >> 16); the three partial products of h0 C1, registered;
2. their sum h1 (a three-operand 16-bit addition), h2 = h1 ^ (h1 >> 13), registered;
3. the three partial products of h2 C2, registered;
   then (after the last register, combinational) their sum h3 and o = h3 ^ (h3 >> 16).

The stages advance while ``en`` is high (its default; the combinational hash ignores it). The
STDP unit feeds it ``round_key ^ weight_address`` to get the stochastic-rounding word of a
weight, the same word ``model.rng.words`` gives the model (tests/hw/test_hw_blocks.py holds them together).
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

        def stage(value, name):
            """``value`` registered while ``en`` is high (pipelined), or as it is."""
            reg = Signal(len(value), name=name)
            if self.stages:
                with m.If(self.en):
                    m.d.sync += reg.eq(value)
            else:
                m.d.comb += reg.eq(value)
            return reg

        def product(x, c, name):
            """x c mod 2^32 from the partial products: low (32 bits) and the two cross products
            (16 bits each), each a stage; the upper half summed after them."""
            lo = stage(x[:16] * (c & 0xFFFF), f"{name}_lo")
            xa = stage((x[:16] * (c >> 16))[:16], f"{name}_xa")
            xb = stage((x[16:] * (c & 0xFFFF))[:16], f"{name}_xb")
            return Cat(lo[:16], (lo[16:] + xa + xb)[:16])

        h0 = self.i ^ (self.i >> 16)
        h1 = product(h0, _C1, "p1")
        h2 = stage(h1 ^ (h1 >> 13), "h2")
        h3 = product(h2, _C2, "p2")
        m.d.comb += self.o.eq(h3 ^ (h3 >> 16))
        return m
