"""Transports that let the host driver (boards/host.py ``Board``) talk to simulated gateware:

* ``StreamTransport``: Amaranth's simulator, straight to a ``HostLink``'s byte streams (one byte
  a cycle: the protocol's tests without the UART's bit times);
* ``UartPins``: cocotb, the board top's ``rx`` pin driven bit by bit and its ``tx`` pin
  sampled in the middle of each bit, as a USB-serial adapter would.

Both take every byte the link sends as soon as it comes (a UART receiver never stalls the
sender), buffered until the driver reads it. ``read(n, cycles)`` waits for ``n`` bytes at most
``cycles`` clock cycles more than the bytes themselves take (a command's limit, sim/stall.py),
or the transport's own bound for a plain reply; past it they raise ``ReadTimeout`` (the host
driver names the request it was waiting for, boards/host.py ``ReplyTimeout``).

``drain(settle)`` drops the bytes received and not read, before a request: a reply that came
after the host gave up on it would otherwise be read as the next request's. With ``settle``
(after a timeout or a garbled reply, when the rest of a reply may still be on its way) it first
waits until the line has been quiet for ``QUIET_BYTES`` byte times. It returns the bytes dropped.
"""

QUIET_BYTES = 4         # byte times without a byte: the board has stopped sending


class ReadTimeout(TimeoutError):
    """A transport's read that did not get its bytes: ``received`` of ``expected`` bytes within
    ``waited`` (the bound, said in the transport's units: seconds, cycles or simulated time),
    ``where`` the transport (a port, the simulation)."""

    def __init__(self, received: int, expected: int, waited: str, where: str):
        self.received, self.expected, self.waited, self.where = received, expected, waited, where
        super().__init__(f"{where}: {received} of {expected} reply bytes in {waited}")


def take(received: bytearray, n: int) -> bytes:
    """The first ``n`` bytes of ``received``, removed from it."""
    data = bytes(received[:n])
    del received[:n]
    return data


class StreamTransport:
    """``link``'s ``rx`` stream fed by ``write``; its ``tx`` stream collected by ``collect``,
    which must run as an Amaranth process (``sim.add_process(transport.collect)``)."""

    def __init__(self, link, max_wait: int = 2_000_000):
        self.link, self.max_wait, self.ctx = link, max_wait, None
        self.received = bytearray()

    async def collect(self, ctx):
        ctx.set(self.link.tx.ready, 1)
        async for _, _, valid, payload in ctx.tick().sample(self.link.tx.valid, self.link.tx.payload):
            if valid:
                self.received.append(payload)

    async def write(self, data: bytes) -> None:
        ctx, rx = self.ctx, self.link.rx
        for byte in data:
            ctx.set(rx.payload, byte)
            ctx.set(rx.valid, 1)
            for _ in range(self.max_wait):
                taken = ctx.get(rx.ready)
                await ctx.tick()
                if taken:
                    break
            else:
                raise TimeoutError(f"the link did not take byte {byte:#04x} in {self.max_wait} cycles")
        ctx.set(rx.valid, 0)

    async def drain(self, settle: bool = False) -> int:
        """Drop what was received; with ``settle``, once no byte has come for ``quiet``
        cycles (at most ``max_wait``)."""
        quiet = 16 * QUIET_BYTES        # a link's reply bytes come a few cycles apart
        if settle:
            since, had = 0, len(self.received)
            for _ in range(self.max_wait):
                if len(self.received) != had:
                    since, had = 0, len(self.received)
                elif since == quiet:
                    break
                since += 1
                await self.ctx.tick()
        dropped = len(self.received)
        self.received.clear()
        return dropped

    async def read(self, n: int, cycles: int | None = None) -> bytes:
        wait = self.max_wait if cycles is None else cycles + n
        for _ in range(wait):
            if len(self.received) >= n:
                return take(self.received, n)
            await self.ctx.tick()
        raise ReadTimeout(len(self.received), n, f"{wait} cycles", "the link's tx stream")


class UartPins:
    """cocotb: the board top's UART pins (``rx`` in, ``tx`` out) at ``divisor`` clock cycles of
    ``period_ns`` a bit. ``start()`` launches the receiver of ``tx``."""

    def __init__(self, dut, divisor: int, period_ns: float, max_wait_ns: float = 50e6):
        self.dut, self.bit_ns, self.max_wait_ns = dut, divisor * period_ns, max_wait_ns
        self.period_ns = period_ns
        self.received = bytearray()
        self.framing_errors = 0

    def start(self):
        import cocotb
        from cocotb.triggers import Event
        self.dut.rx.value = 1
        self.arrived = Event()
        self.task = cocotb.start_soon(self._receive())

    async def _receive(self):
        from cocotb.triggers import FallingEdge, Timer
        while True:
            await FallingEdge(self.dut.tx)
            await Timer(self.bit_ns / 2, "ns")            # the middle of the start bit
            if self.dut.tx.value:
                continue                                # a glitch
            byte = 0
            for i in range(8):
                await Timer(self.bit_ns, "ns")
                byte |= int(self.dut.tx.value) << i
            await Timer(self.bit_ns, "ns")
            if not self.dut.tx.value:
                self.framing_errors += 1
                continue
            self.received.append(byte)
            self.arrived.set()

    async def write(self, data: bytes) -> None:
        from cocotb.triggers import Timer
        for byte in data:
            for bit in (0, *((byte >> i) & 1 for i in range(8)), 1):
                self.dut.rx.value = bit
                await Timer(self.bit_ns, "ns")

    async def drain(self, settle: bool = False) -> int:
        """Drop what was received; with ``settle``, once the ``tx`` pin has been quiet for
        ``QUIET_BYTES`` byte times (at most ``max_wait_ns``)."""
        from cocotb.triggers import SimTimeoutError, with_timeout
        from cocotb.utils import get_sim_time
        if settle:
            end = get_sim_time("ns") + self.max_wait_ns
            while get_sim_time("ns") < end:
                self.arrived.clear()
                try:
                    await with_timeout(self.arrived.wait(), QUIET_BYTES * 10 * self.bit_ns, "ns")
                except SimTimeoutError:
                    break
        dropped = len(self.received)
        self.received.clear()
        return dropped

    async def read(self, n: int, cycles: int | None = None) -> bytes:
        from cocotb.triggers import SimTimeoutError, with_timeout
        from cocotb.utils import get_sim_time
        # A plain reply: ``max_wait_ns`` for each byte; a command's: its limit for them all.
        wait = self.max_wait_ns if cycles is None else cycles * self.period_ns + n * 10 * self.bit_ns
        end = get_sim_time("ns") + wait
        while len(self.received) < n:
            self.arrived.clear()
            left = wait if cycles is None else max(1, round(end - get_sim_time("ns")))
            try:
                await with_timeout(self.arrived.wait(), left, "ns")
            except SimTimeoutError:
                raise ReadTimeout(len(self.received), n, f"{wait / 1e6:g} ms of simulated time",
                                  "the board's tx pin") from None
        return take(self.received, n)
