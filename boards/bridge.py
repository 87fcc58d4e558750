"""The simulated board top behind a socket: ``python -m boards.host --sim`` without a board.

    with SimulatedBoard("configs/tiny.yaml", lanes=4) as transport:
        board = blocking(Board(transport, cfg, 4))
        board.check()

``SimulatedBoard`` builds the board top of the config (boards/top.py, the same gateware as the
bitstream, through sim/runner.py, Verilator by default) and runs it in a thread under cocotb,
whose test (boards/cocotb_bridge.py) drives the UART pins with the bytes of a TCP connection
on the loopback address and sends back what the ``tx`` pin says. The transport it yields is a
blocking socket with the same ``write``/``read`` as the serial port's (boards/host.py), so host
software is developed and tested without a board. The UART runs at ``divisor`` clock cycles a
bit (4: the fastest the receiver takes), not at a real baud rate: the simulation is the slow part.
"""
import socket
import threading
import time
from pathlib import Path

from boards.transport import QUIET_BYTES, ReadTimeout

DIVISOR = 4


# Simulated core cycles a second, a floor: Verilator runs the board top at hundreds of
# thousands; a wait sized with this floor is never too short.
MIN_SIM_HZ = 10_000


class SocketTransport:
    """A connected socket as the host driver's transport; ``timeout``: seconds a reply may take."""

    def __init__(self, conn: socket.socket, timeout: float):
        self.conn, self.timeout = conn, timeout
        conn.settimeout(timeout)

    async def write(self, data: bytes) -> None:
        self.conn.sendall(data)

    async def drain(self, settle: bool = False) -> int:
        """Drop what has arrived (boards/transport.py); with ``settle``, also what comes until
        nothing has for ``QUIET_BYTES`` byte times of the simulated UART's slowest rate (at
        most ``timeout``)."""
        quiet = QUIET_BYTES * 10 * DIVISOR / MIN_SIM_HZ if settle else 0.0
        end, dropped = time.monotonic() + self.timeout, 0
        try:
            while True:
                self.conn.settimeout(quiet)           # 0: what is there, without waiting
                try:
                    chunk = self.conn.recv(4096)
                except (BlockingIOError, socket.timeout):
                    break
                if not chunk:
                    break
                dropped += len(chunk)
                if time.monotonic() > end:
                    break
        finally:
            self.conn.settimeout(self.timeout)
        return dropped

    async def read(self, n: int, cycles: int | None = None) -> bytes:
        """``n`` reply bytes; ``cycles``: core cycles the reply may take on top of ``timeout``,
        at the slowest rate a simulation runs (``MIN_SIM_HZ``), as the serial transport waits
        for them at the board's clock."""
        wait = self.timeout + (cycles or 0) / MIN_SIM_HZ
        self.conn.settimeout(wait)
        data = b""
        while len(data) < n:
            try:
                chunk = self.conn.recv(n - len(data))
            except socket.timeout:
                chunk = None
            if not chunk:
                raise ReadTimeout(len(data), n, f"{wait:g} s", "the simulated board")
            data += chunk
        return data

    def close(self) -> None:
        self.conn.close()


class SimulatedBoard:
    """Context manager: the simulated board top running, yielding a ``SocketTransport``.

    ``start_timeout``: seconds for the build and the simulation's start (a fresh Verilator build
    of the tiny network's top takes a minute or two); ``timeout``: seconds a reply may take."""

    def __init__(self, config: str | Path, lanes: int, layers: list[int] | None = None,
                 sim: str | None = None, divisor: int = DIVISOR, start_timeout: float = 900,
                 timeout: float = 120):
        self.config, self.lanes, self.layers, self.divisor = str(config), lanes, layers, divisor
        self.sim, self.start_timeout, self.timeout = sim, start_timeout, timeout
        self.error: BaseException | None = None

    def _simulate(self, port: int) -> None:
        from boards.top import BoardTop
        from model import config as C
        from sim import runner
        try:
            held = "" if self.layers is None else "-l" + "".join(map(str, self.layers))
            name = f"board-{Path(self.config).stem}-p{self.lanes}{held}-d{self.divisor}-{self.sim}"
            top = BoardTop(C.load(self.config), self.lanes, self.divisor, layers=self.layers)
            runner.run(top, "board",
                       "boards.cocotb_bridge", sim=self.sim, clock=("clk", 10),
                       build_dir=runner.BUILD / name,
                       extra_env={"BRIDGE_PORT": str(port), "BOARD_DIVISOR": str(self.divisor),
                                  "COCOTB_LOG_LEVEL": "WARNING"})
        except BaseException as exc:          # reported by __exit__ / a failed connection
            self.error = exc

    def __enter__(self) -> SocketTransport:
        from sim import runner
        self.sim = runner.require(self.sim)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(1.0)
        self.thread = threading.Thread(target=self._simulate, args=(self.server.getsockname()[1],),
                                       daemon=True)
        self.thread.start()
        waited = 0.0
        while True:                           # the build, then the simulation connects
            try:
                conn, _ = self.server.accept()
                break
            except socket.timeout:
                waited += 1.0
                if self.error is not None or not self.thread.is_alive():
                    raise RuntimeError(f"the simulated board did not start: {self.error}")
                if waited > self.start_timeout:
                    raise TimeoutError(f"the simulated board did not connect in "
                                       f"{self.start_timeout:g} s")
        self.transport = SocketTransport(conn, self.timeout)
        return self.transport

    def __exit__(self, *exc) -> None:
        self.transport.close()                # the cocotb test ends when the host hangs up
        self.server.close()
        self.thread.join(timeout=60)
        if exc[0] is None and self.error is not None:
            raise RuntimeError(f"the simulated board failed: {self.error}")
