"""Small pieces the hardware blocks share."""
from amaranth import Module, Signal
from amaranth.utils import ceil_log2


def bits(n: int) -> int:
    """Width of an unsigned field holding 0 .. n."""
    return max(1, ceil_log2(n + 1))


def lowest_bit(m: Module, word, name: str) -> Signal:
    """Index of the lowest set bit of ``word`` (0 when empty): a find-first-set unit."""
    idx = Signal(bits(max(1, len(word) - 1)), name=name)
    for i in reversed(range(len(word))):
        with m.If(word[i]):
            m.d.comb += idx.eq(i)
    return idx


def busy_and_cycles(m: Module, fsm, busy: Signal, cycle: Signal) -> None:
    """``busy`` outside the FSM's IDLE state; ``cycle`` counts the busy cycles (the trace stamp).

    ``busy`` is a plain expression, not an FSM-driven comb block: Icarus leaves an ``always @*``
    whose inputs never change at X (amaranth-lang/amaranth#1629).
    """
    m.d.comb += busy.eq(~fsm.ongoing("IDLE"))
    with m.If(busy):
        m.d.sync += cycle.eq(cycle + 1)
