"""cocotb: the simulated board top's UART pins on a TCP socket (the cocotb side of
``boards.bridge``), so that the host driver's CLI (``python -m boards.host --sim``) talks to
the simulated board as it would to a serial port.

Bytes from the socket go out on the ``rx`` pin bit by bit; bytes the ``tx`` pin sends go back
on the socket (boards/transport.py ``UartPins``). The simulation ends when the host closes the
socket, or after ``BRIDGE_IDLE_S`` seconds without a byte from it.
"""
import os
import socket
import time

import cocotb
from cocotb.triggers import Timer

from sim import engine_driver as drv
from boards.transport import UartPins, take


@cocotb.test()
async def board_on_a_socket(dut):
    dut.rx.value = 1                              # the idle line
    await drv.start_clock_and_reset(dut, ())
    pins = UartPins(dut, int(os.environ["BOARD_DIVISOR"]), 10)
    pins.start()
    idle_s = float(os.environ.get("BRIDGE_IDLE_S", "600"))
    conn = socket.create_connection(("127.0.0.1", int(os.environ["BRIDGE_PORT"])), timeout=30)
    conn.setblocking(False)
    heard = time.monotonic()
    try:
        while True:
            if pins.received:
                conn.sendall(take(pins.received, len(pins.received)))
            try:
                data = conn.recv(4096)
            except BlockingIOError:
                data = None
            if data == b"":                        # the host closed the link: done
                return
            if data:
                heard = time.monotonic()
                await pins.write(data)
                continue
            if time.monotonic() - heard > idle_s:
                raise AssertionError(f"no byte from the host in {idle_s:g} s")
            await Timer(20 * pins.bit_ns, "ns")     # a reply's first bytes come back meanwhile
    finally:
        conn.close()
