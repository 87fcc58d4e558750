"""cocotb tests of the board top (boards/top.py) over its UART pins: the cocotb side of
``boards.cosim.run_board``.

``board_matches_model`` plays the case named by ``BOARD_CASE`` through the host driver
(boards/host.py) on the ``rx`` / ``tx`` pins (boards/transport.py ``UartPins``): identify, load
the layer, run infer and learn, read everything back, compare with the model's prediction.
``board_catches_a_wrong_expectation`` plays it against a prediction with one learned weight
changed, which must fail naming the weights. ``board_refuses_corruption`` shows the damage a
line can do is caught and changes nothing: a WRITE with a data bit flipped on the wire
(CHECKSUM) or cut off in its words (TIMEOUT) leaves the memory as it was; a stop bit pulled low
(FRAMING); the link still answering afterwards.
"""
import json
import os

import cocotb

from boards import protocol as p
from boards.host import Board, LinkError, encode
from hw import core as hc
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
    before = await b.read(0, hc.MEM_WEIGHTS, 0, 2)
    assert before[0] != 7, "the damaged WRITEs' first word must differ from the memory's"
    frame = bytearray(encode(p.OP_WRITE, bytes([7, 9]), layer=0, mem=hc.MEM_WEIGHTS, lane=0,
                             addr=0, count=2))
    frame[-2] ^= 0x04                             # one data bit flipped on the way
    for damaged, error in ((bytes(frame), "CHECKSUM"), (bytes(frame[:-2]), "TIMEOUT")):
        await b.transport.write(damaged)
        try:
            await b.reply(p.OP_WRITE, f"WRITE {damaged.hex()}")
            raise AssertionError(f"a damaged WRITE was accepted: {damaged.hex()}")
        except LinkError as exc:
            assert exc.name == error, exc
        assert await b.read(0, hc.MEM_WEIGHTS, 0, 2) == before, f"{error}: a word was written"
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
