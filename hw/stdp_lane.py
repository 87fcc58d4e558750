"""StdpLane: one synapse of the fixed-point STDP rule of model/fixedpoint.py, in gateware.

    num  = a * q * (2^W - q) + (word mod 2^(W + A))    a = a+ if ltp else |a-|
    dq   = num >> (W + A)
    q'   = clamp(q + dq, 0, 2^W - 1) if ltp else clamp(q - dq, 0, 2^W - 1)

``word`` is the stochastic-rounding word (hw/hash.py); with ``rounding: floor`` the lane ignores
it. Combinational: the core registers around it. The parameters come from
``model.fixedpoint.Formats``, so model and gateware share one definition of the widths.

The three steps are also functions (``weight_product``, ``rate_product``, ``apply_step``) so
the STDP unit (hw/stdp_unit.py) can put a register between each: q (2^W - q) in the cycle the
weight arrives, the rate product in the next (when the pre-synaptic time is known), the rounded
step in the third.
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from model.fixedpoint import Formats


def weight_product(m: Module, formats: Formats, q) -> Signal:
    """q (2^W - q): the first factor of ``num`` (at most 2^(2W-2))."""
    w = formats.weight_bits
    qq = Signal(unsigned(2 * w - 1), name="stdp_qq")
    m.d.comb += qq.eq(q * ((1 << w) - q))
    return qq


def rate_product(m: Module, formats: Formats, ltp, a_plus, a_minus, qq) -> Signal:
    """num without the rounding word: a q (2^W - q), a = a+ if ltp else |a-|."""
    num = Signal(unsigned(2 * formats.weight_bits + formats.rate_frac_bits), name="stdp_num")
    m.d.comb += num.eq(Mux(ltp, a_plus, a_minus) * qq)
    return num


def apply_step(m: Module, formats: Formats, q, ltp, num, word) -> Signal:
    """q' from q, ltp, num (``rate_product``) and the rounding word."""
    f = formats
    w, shift = f.weight_bits, f.stdp_shift
    total = Signal(unsigned(2 * w + f.rate_frac_bits + 1), name="stdp_total")
    if f.stochastic:
        m.d.comb += total.eq(num + word[:shift])
    else:
        m.d.comb += total.eq(num)
    dq = Signal(unsigned(total.shape().width - shift), name="stdp_dq")
    m.d.comb += dq.eq(total >> shift)
    up = Signal(unsigned(w + dq.shape().width + 1), name="stdp_up")
    m.d.comb += up.eq(q + dq)
    q_next = Signal(w, name="stdp_q_next")
    with m.If(ltp):
        m.d.comb += q_next.eq(Mux(up > f.weight_max, f.weight_max, up))
    with m.Else():
        m.d.comb += q_next.eq(Mux(dq > q, 0, q - dq))
    return q_next


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
        # q (2^W - q) <= 2^(2W-2); times a < 2^A; plus the rounding word < 2^(W+A).
        qq = weight_product(m, f, self.q)
        num = rate_product(m, f, self.ltp, self.a_plus, self.a_minus, qq)
        m.d.comb += self.q_next.eq(apply_step(m, f, self.q, self.ltp, num, self.word))
        return m
