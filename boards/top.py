"""BoardTop: the layer cores of a whole network behind a UART host link, for a board or a
simulation.

    top = BoardTop(cfg, lanes=4, divisor=divisor_for(clk_hz=25e6, baud=115_200))

Contents: one ``LayerCore`` per layer of the config (or of the ``layers`` chosen; ``boards.protocol.
built_layers``),
a ``HostLink`` (boards/link.py, protocol in boards/protocol.py) driving them, a UART receiver
with a 16-byte FIFO behind it (the link does not take bytes while it sends a reply) and a UART
transmitter (boards/uart.py).

Contract with whoever puts it on a board (the bitstream flow):

* clock: everything runs in the default ``sync`` domain, which the caller provides (the
  board's oscillator, or a PLL in a wrapper module); ``divisor`` = sync clock cycles per UART
  bit, so the caller computes it from the frequency it made (``divisor_for``). No clock or reset
  generation happens here.
* pins, with a platform: ``platform.request("uart", 0, dir="-")`` (its ``rx`` and ``tx``
  through ``io.Buffer``s); ``led`` 0, when the platform has it, lights while a command runs.
* without a platform (simulation, Verilog export): the ports ``rx`` (in, idle high), ``tx``
  (out) and ``busy`` (out), plus the ``clk`` and ``rst`` of the ``sync`` domain.
"""
from amaranth import Module
from amaranth.build import ResourceError
from amaranth.lib import io, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from boards.link import HostLink
from boards.protocol import built_layers
from boards.uart import UartRx, UartTx
from hw.core import LayerCore
from model.fixedpoint import Formats

RX_FIFO_DEPTH = 16
TIMEOUT_BYTES = 256      # quiet byte times that end a request cut short (USB gaps are shorter)
MAX_BAUD_ERROR = 0.02


def divisor_for(clk_hz: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clk_hz``; refuses a rate the clock cannot make
    within 2% (a UART frame tolerates about 5% between both ends)."""
    divisor = round(clk_hz / baud)
    error = abs(clk_hz / divisor / baud - 1) if divisor else 1.0
    if divisor < 4 or error > MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud} at a {clk_hz / 1e6:g} MHz clock: divisor {divisor} gives "
                         f"{error:.1%} error; need >= 4 cycles a bit and at most "
                         f"{MAX_BAUD_ERROR:.0%} error (choose a lower baud rate)")
    return divisor


class BoardTop(wiring.Component):
    """``cfg``: the network's config; ``lanes``: lanes per core (fewer on layers with fewer
    maps); ``divisor``: sync clock cycles per UART bit; ``timeout``: quiet cycles that end a
    request cut short (default ``TIMEOUT_BYTES`` byte times); ``layers``: the indices of the
    layers to hold (default all; a network too large for one FPGA is split across bitstreams and
    the host moves the events between them)."""

    def __init__(self, cfg, lanes: int, divisor: int, timeout: int | None = None, layers=None):
        self.cfg, self.lanes, self.divisor = cfg, lanes, divisor
        self.layer_ids, self.layouts, layer_cfgs = built_layers(cfg, lanes, layers)
        # The layer's weight width; each read source registered (a read crosses the die from
        # a lane's memories into the link: two cycles).
        self.cores = [LayerCore(lay, Formats.from_config(cfg, i), lc, read_register=True)
                      for i, lay, lc in zip(self.layer_ids, self.layouts, layer_cfgs)]
        self.uart_rx, self.uart_tx = UartRx(divisor), UartTx(divisor)
        self.link = HostLink(self.cores, timeout or TIMEOUT_BYTES * 10 * divisor)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = urx = self.uart_rx
        m.submodules.uart_tx = utx = self.uart_tx
        m.submodules.link = link = self.link
        m.submodules.rx_fifo = fifo = SyncFIFOBuffered(width=8, depth=RX_FIFO_DEPTH)
        m.d.comb += [fifo.w_data.eq(urx.o.payload), fifo.w_en.eq(urx.o.valid),
                     urx.o.ready.eq(fifo.w_rdy),
                     link.rx.payload.eq(fifo.r_data), link.rx.valid.eq(fifo.r_rdy),
                     fifo.r_en.eq(link.rx.ready),
                     link.rx_error.eq(urx.error | urx.overrun)]
        wiring.connect(m, link.tx, utx.i)

        if platform is None:
            m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.busy.eq(link.busy)]
            return m
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.d.comb += [urx.rx.eq(rx_buf.i), tx_buf.o.eq(utx.tx)]
        try:
            led = platform.request("led", 0, dir="-")
        except ResourceError:
            return m                          # no LED: nothing to show
        m.submodules.led_buf = led_buf = io.Buffer("o", led)
        m.d.comb += led_buf.o.eq(link.busy)
        return m
