"""StdpLane: one synapse of the fixed-point STDP rule of model/fixedpoint.py, in gateware.

    num  = a * q * (2^W - q) + (word mod 2^(W + A))    a = a+ if ltp else |a-|
    dq   = num >> (W + A)
    q'   = clamp(q + dq, 0, 2^W - 1) if ltp else clamp(q - dq, 0, 2^W - 1)

``word`` is the stochastic-rounding word (hw/hash.py); with ``rounding: floor`` the lane ignores
it. Combinational: the core registers around it. The parameters come from
``model.fixedpoint.Formats``, so model and gateware share one definition of the widths.
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.fixedpoint import Formats


class StdpLane(wiring.Component):
    def __init__(self, formats: Formats):
        self.formats = formats
        w, a = formats.weight_bits, formats.rate_frac_bits
        super().__init__({
            "q": In(w),            # current weight
            "ltp": In(1),          # pre no later than post
            "a_plus": In(a),       # a+ in units of 2^-A (< 1)
            "a_minus": In(a),      # |a-| in units of 2^-A
            "word": In(32),        # random word for stochastic rounding
            "q_next": Out(w),
        })

    def elaborate(self, platform):
        m = Module()
        f = self.formats
        w, shift = f.weight_bits, f.stdp_shift
        rate = Mux(self.ltp, self.a_plus, self.a_minus)
        # q (2^W - q) <= 2^(2W-2); times a < 2^A; plus the rounding word < 2^(W+A).
        num = Signal(unsigned(2 * w + f.rate_frac_bits))
        m.d.comb += num.eq(rate * self.q * ((1 << w) - self.q))
        total = Signal(unsigned(2 * w + f.rate_frac_bits + 1))
        if f.stochastic:
            m.d.comb += total.eq(num + self.word[:shift])
        else:
            m.d.comb += total.eq(num)
        dq = Signal(unsigned(total.shape().width - shift))
        m.d.comb += dq.eq(total >> shift)
        up = Signal(unsigned(w + dq.shape().width + 1))
        m.d.comb += up.eq(self.q + dq)
        with m.If(self.ltp):
            m.d.comb += self.q_next.eq(Mux(up > f.weight_max, f.weight_max, up))
        with m.Else():
            m.d.comb += self.q_next.eq(Mux(dq > self.q, 0, self.q - dq))
        return m
