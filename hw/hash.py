"""Mix32: the counter hash of model/rng.py (MurmurHash3 fmix32) in gateware.

Three xor-shift stages and two multiplications by constants, modulo 2^32; combinational. The
STDP unit feeds it ``round_key ^ weight_address`` to get the stochastic-rounding word of a weight,
the same word ``model.rng.words`` gives the model (tests/test_hw_blocks.py holds them together).
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.rng import _C1, _C2


class Mix32(wiring.Component):
    i: In(32)
    o: Out(32)

    def elaborate(self, platform):
        m = Module()
        h0 = self.i ^ (self.i >> 16)
        h1 = (h0 * _C1)[:32]
        h2 = h1 ^ (h1 >> 13)
        h3 = (h2 * _C2)[:32]
        m.d.comb += self.o.eq(h3 ^ (h3 >> 16))
        return m
