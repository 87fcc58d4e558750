"""cocotb tests of the board top (boards/top.py) over its UART pins: the cocotb side of
``boards.cosim.run_board``.

``board_matches_model`` plays the case named by ``BOARD_CASE`` through the host driver
(boards/host.py) on the ``rx`` / ``tx`` pins (boards/transport.py ``UartPins``): identify, load
the layer, run infer and learn, read everything back, compare with the model's prediction.
``board_catches_a_wrong_expectation`` plays it against a prediction with one learned weight
changed, which must fail naming the weights. ``board_refuses_corruption`` shows the damage a line can do is caught: a data bit flipped on the
wire (CHECKSUM), a stop bit pulled low (FRAMING), and the link still answering afterwards.
"""
import json
import os

import cocotb

from boards import protocol as p
from boards.host import Board, LinkError, encode
from model import config as C
from sim import engine_driver as drv
from boards.cosim import load_case, play
from boards.transport import UartPins


async def board(dut) -> Board:
    dut.rx.value = 1                              # the idle line
    await drv.start_clock_and_reset(dut, ())
    pins = UartPins(dut, int(os.environ["BOARD_DIVISOR"]), 10)
    pins.start()
    return Board(pins, C.load(os.environ["BOARD_CONFIG"]), int(os.environ["BOARD_LANES"]))


@cocotb.test()
async def board_matches_model(dut):
    b = await board(dut)
    case, steps = load_case(os.environ["BOARD_CASE"])
    seen = await play(b, case, steps, json.loads(os.environ["BOARD_CONTEXT"]))
    assert b.transport.framing_errors == 0
    with open(os.environ["BOARD_CASE"] + ".seen.json", "w") as f:
        json.dump(seen, f)


@cocotb.test()
async def board_catches_a_wrong_expectation(dut):
    """The round trip against a prediction with one learned weight changed must fail."""
    b = await board(dut)
    case, steps = load_case(os.environ["BOARD_CASE"])
    steps[1]["state"]["weights"][2, 5] ^= 1
    try:
        await play(b, case, steps, {"expectation": "altered"})
    except AssertionError as exc:
        assert "weights" in str(exc), exc
        return
    raise AssertionError("a learned weight differing from the prediction went unnoticed")


@cocotb.test()
async def board_refuses_corruption(dut):
    b = await board(dut)
    await b.check()
    frame = bytearray(encode(p.OP_WRITE, bytes([7, 9]), layer=0, mem=1, lane=0, addr=0, count=2))
    frame[-2] ^= 0x04                             # one data bit flipped on the way
    await b.transport.write(bytes(frame))
    try:
        await b.reply(p.OP_WRITE, "WRITE with a flipped bit")
        raise AssertionError("a WRITE with a flipped bit was accepted")
    except LinkError as exc:
        assert exc.name == "CHECKSUM", exc
    # A frame whose stop bit is low: the byte is lost, the link answers FRAMING once.
    from cocotb.triggers import Timer
    bit = b.transport.bit_ns
    for level in (0, 1, 0, 1, 0, 1, 0, 1, 0, 0):
        dut.rx.value = level
        await Timer(bit, "ns")
    dut.rx.value = 1
    try:
        await b.reply(0, "a frame with a low stop bit")
        raise AssertionError("a framing error got no error reply")
    except LinkError as exc:
        assert exc.name == "FRAMING", exc
    assert (await b.identify())["digest"] == b.digest
