"""StdpLane: one synapse of the fixed-point STDP rule of model/fixedpoint.py, in gateware.

    num  = a * q * (2^W - q) + (word mod 2^(W + A))    a = a+ if ltp else |a-|
    dq   = num >> (W + A)
    q'   = clamp(q + dq, 0, 2^W - 1) if ltp else clamp(q - dq, 0, 2^W - 1)

``word`` is the stochastic-rounding word (hw/hash.py); with ``rounding: floor`` the lane ignores
it. Combinational: the core registers around it. The parameters come from
``model.fixedpoint.Formats``, so model and gateware share one definition of the widths.

The steps are also functions (``weight_product``, ``rate_product``, ``step_candidates``,
``select_step``; ``apply_step`` = the last two) so the STDP unit (hw/stdp_unit.py) can put
registers between them: q (2^W - q), the rate product, the two candidate weights (the rounding
word's carry into bit W + A being 0 or 1) with the carry and the choice.
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


def rate_product(m: Module, formats: Formats, rate, qq) -> Signal:
    """num without the rounding word: a q (2^W - q), a = a+ if ltp else |a-| (``rate``)."""
    num = Signal(unsigned(2 * formats.weight_bits + formats.rate_frac_bits), name="stdp_num")
    m.d.comb += num.eq(rate * qq)
    return num


def step_candidates(m: Module, formats: Formats, q, ltp, num):
    """The rounded step without the rounding word: dq = (num + r) >> (W + A) is hi + carry with
    hi = num >> (W + A) and carry = (lo + r >= 2^(W + A)), lo = num mod 2^(W + A), r the word's
    low W + A bits. Returns (lo, q' if carry is 0, q' if carry is 1)."""
    f = formats
    w, shift = f.weight_bits, f.stdp_shift
    lo = Signal(shift, name="stdp_lo")
    hi = Signal(unsigned(max(1, len(num) - shift)), name="stdp_hi")
    m.d.comb += [lo.eq(num[:shift]), hi.eq(num[shift:])]
    out = []
    for carry in (0, 1):
        dq = Signal(unsigned(len(hi) + 1), name=f"stdp_dq{carry}")
        up = Signal(unsigned(w + len(dq) + 1), name=f"stdp_up{carry}")
        q_next = Signal(w, name=f"stdp_q_next{carry}")
        m.d.comb += [dq.eq(hi + carry), up.eq(q + dq)]
        with m.If(ltp):
            m.d.comb += q_next.eq(Mux(up > f.weight_max, f.weight_max, up))
        with m.Else():
            m.d.comb += q_next.eq(Mux(dq > q, 0, q - dq))
        out.append(q_next)
    return lo, out[0], out[1]


def select_step(m: Module, formats: Formats, lo, word, q_next0, q_next1) -> Signal:
    """q' from ``step_candidates``' outputs and the rounding word (``rounding: floor``: no carry)."""
    q_next = Signal(formats.weight_bits, name="stdp_q_next")
    if formats.stochastic:
        shift = formats.stdp_shift
        carry = Signal(name="stdp_carry")
        m.d.comb += carry.eq((lo + word[:shift])[shift])
        m.d.comb += q_next.eq(Mux(carry, q_next1, q_next0))
    else:
        m.d.comb += q_next.eq(q_next0)
    return q_next


def apply_step(m: Module, formats: Formats, q, ltp, num, word) -> Signal:
    """q' from q, ltp, num (``rate_product``) and the rounding word."""
    lo, q_next0, q_next1 = step_candidates(m, formats, q, ltp, num)
    return select_step(m, formats, lo, word, q_next0, q_next1)


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
        num = rate_product(m, f, Mux(self.ltp, self.a_plus, self.a_minus), qq)
        m.d.comb += self.q_next.eq(apply_step(m, f, self.q, self.ltp, num, self.word))
        return m
