"""A UART (8N1) as Amaranth byte streams: ``UartTx`` and ``UartRx``, ``divisor`` clock cycles a bit.

Line format: idle high, one start bit (low), 8 data bits least significant first, one stop bit
(high). Both ends count ``divisor`` cycles per bit (baud = clock / divisor; the rounding error
of an integer divisor must stay well under half a bit over the 10 bits of a frame: under 5%).

* ``UartTx``: a ``stream.Signature(8)`` sink; ``ready`` is high while the line is idle and in
  the last cycle of a stop bit, a byte is taken when ``valid & ready`` and sent over the next 10
  bit times (bytes offered back to back leave no idle time between frames).
* ``UartRx``: a ``stream.Signature(8)`` source. The ``rx`` pin is synchronised
  (``FFSynchronizer``, idle high); a falling edge starts a frame, whose bits are sampled in
  their middle (``divisor // 2`` cycles after the edge, then every ``divisor`` cycles). A start
  bit no longer low at its middle was a glitch and is ignored. A stop bit found low is a
  framing error: the byte is dropped, ``error`` is high for one cycle, and the receiver waits
  for the line to go idle (high) again. The receiver has no buffer: a byte not taken before
  the next one is complete is lost (``overrun`` high for one cycle), so put a FIFO behind it
  when the consumer may stall (boards/top.py does).
"""
from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

MIN_DIVISOR = 4


def _check_divisor(unit, divisor) -> int:
    # Fewer cycles a bit leave no room for the edge detection's one-cycle uncertainty plus a
    # clock mismatch between the two ends.
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < MIN_DIVISOR:
        unit._MustUse__silence = True          # refused, not forgotten: no "unused" warning
        raise ValueError(f"UART divisor {divisor!r}: must be an integer >= {MIN_DIVISOR} "
                         "(clock cycles per bit: clock frequency / baud rate)")
    return divisor


class UartTx(wiring.Component):
    """Byte stream in, ``tx`` pin out (high when idle)."""

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10, init=0x3FF)       # stop, 8 data, start: sent from bit 0
        left = Signal(range(11))             # bits still to send
        timer = Signal(range(self.divisor))
        # Ready while idle and in the stop bit's last cycle: bytes go out back to back.
        m.d.comb += [self.i.ready.eq((left == 0) | ((left == 1) & (timer == 0))),
                     self.tx.eq(shift[0])]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq((1 << 9) | (self.i.payload << 1)), left.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(left == 0):
            pass
        with m.Elif(timer == 0):
            m.d.sync += [shift.eq((shift >> 1) | (1 << 9)), left.eq(left - 1),
                         timer.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(wiring.Component):
    """``rx`` pin in, byte stream out; ``error`` (framing) and ``overrun`` pulse for one cycle."""

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "error": Out(1), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(d))
        bit = Signal(range(9))
        data = Signal(8)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(d // 2 - 1)
                    m.next = "START"
            with m.State("START"):                # to the middle of the start bit
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(rx):                 # high again: a glitch, not a start bit
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(d - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):                 # the middle of each data bit, then the stop bit
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(bit != 8):
                    m.d.sync += [data.eq((data >> 1) | (rx << 7)), bit.eq(bit + 1),
                                 timer.eq(d - 1)]
                with m.Elif(rx):
                    m.d.sync += [self.o.payload.eq(data), self.o.valid.eq(1)]
                    m.d.comb += self.overrun.eq(self.o.valid & ~self.o.ready)
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.error.eq(1)
                    m.next = "BREAK"
            with m.State("BREAK"):                # after a framing error: wait for the idle line
                with m.If(rx):
                    m.next = "IDLE"
        return m
