"""The board link: the UART (boards/uart.py), the protocol's framing and error replies
(boards/link.py, boards/protocol.py) through the host driver (boards/host.py), a layer's round
trip against the model in Amaranth's simulator, and the board top's round trip over its UART
pins in Verilator (boards/cocotb_top.py)."""
import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from boards import protocol as p
from boards.host import Board, LinkError, ReplyError, encode
from boards.top import BoardTop
from boards.uart import UartRx, UartTx
from conftest import TINY, core_case
from hw import core as hc
from boards.cosim import predict
from boards.transport import StreamTransport

# -- the UART --------------------------------------------------------------------------------------


def uart_loop(divisor, data, rx_wave=None, cycles=None):
    """``data`` through UartTx into UartRx (the tx pin wired to the rx pin), the sender never
    waiting; or, with ``rx_wave`` (a list of pin levels, one a cycle), that wave into UartRx.
    Returns (bytes received, framing errors, the tx pin's level each cycle)."""
    m = Module()
    m.submodules.tx = tx = UartTx(divisor)
    m.submodules.rx = rx = UartRx(divisor)
    if rx_wave is None:
        m.d.comb += rx.rx.eq(tx.tx)
    got, errors, line = [], [], []
    cycles = cycles or (len(data) + 2) * 10 * divisor

    async def sender(ctx):
        for byte in data:
            ctx.set(tx.i.payload, byte)
            ctx.set(tx.i.valid, 1)
            await ctx.tick().until(tx.i.ready)
        ctx.set(tx.i.valid, 0)

    async def receiver(ctx):
        ctx.set(rx.o.ready, 1)
        for i in range(cycles):
            if rx_wave is not None:
                ctx.set(rx.rx, rx_wave[i] if i < len(rx_wave) else 1)
            line.append(ctx.get(tx.tx))
            if ctx.get(rx.o.valid):
                got.append(ctx.get(rx.o.payload))
            if ctx.get(rx.error):
                errors.append(i)
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run()
    return got, errors, line


def frame(byte, divisor, stop=1):
    return [level for bit in (0, *((byte >> i) & 1 for i in range(8)), stop) for level in [bit] * divisor]


@pytest.mark.parametrize("divisor", [4, 5, 7, 16])
def test_uart_round_trip_back_to_back(divisor):
    data = [0x00, 0xFF, 0x55, 0xA5, 0x01, 0x80] + random.Random(divisor).sample(range(256), 10)
    got, errors, line = uart_loop(divisor, data)
    assert got == data and not errors
    # On the wire: idle high, then the frames back to back, each bit held ``divisor`` cycles.
    start = line.index(0)
    wave = [level for byte in data for level in frame(byte, divisor)]
    assert line[start:start + len(wave)] == wave


@pytest.mark.parametrize("divisor", [4, 7])
def test_uart_framing_error_and_glitch(divisor):
    """A low stop bit drops its byte and raises ``error`` once; a low glitch shorter than half
    a bit is no start bit; the next good frame is received."""
    wave = ([1] * 5 + frame(0x3C, divisor, stop=0) + [0] * divisor + [1] * 3 * divisor
            + [0] * (divisor // 2 - 1) + [1] * 3 * divisor + frame(0xC3, divisor) + [1] * divisor)
    got, errors, _ = uart_loop(divisor, [], rx_wave=wave, cycles=len(wave) + 4)
    assert got == [0xC3]
    assert len(errors) == 1


def test_uart_divisor_checked():
    from boards.top import divisor_for
    with pytest.raises(ValueError, match="divisor 3.*>= 4"):
        UartTx(3)
    assert divisor_for(25e6, 115_200) == 217                  # 0.01% off
    with pytest.raises(ValueError, match="baud 3000000 at a 10 MHz clock: divisor 3"):
        divisor_for(10e6, 3_000_000)
    with pytest.raises(ValueError, match="baud 2200000 .* 9.1% error"):
        divisor_for(12e6, 2_200_000)                          # 5 cycles a bit: 2.4 MBd


# -- the link in Amaranth's simulator -------------------------------------------------------------

LANES = 4


def simulate_link(cfg, bench, timeout=60, processes=()):
    """Run ``bench(board, ctx)`` against the HostLink of ``cfg``'s board top (its byte streams,
    no UART), with ``processes`` (each made from the link) running beside it; returns the
    bench's result."""
    top = BoardTop(cfg, LANES, divisor=4, timeout=timeout)
    top._MustUse__silence = True          # only its link is simulated
    for unit in (top.uart_rx, top.uart_tx):
        unit._MustUse__silence = True
    transport = StreamTransport(top.link)
    board = Board(transport, cfg, LANES)
    out = {}

    async def testbench(ctx):
        transport.ctx = ctx
        out["result"] = await bench(board, ctx, top.link)

    sim = Simulator(top.link)
    sim.add_clock(1e-8)
    sim.add_process(transport.collect)
    for make in processes:
        sim.add_process(make(top.link))
    sim.add_testbench(testbench)
    sim.run()
    return out["result"]


def test_link_identifies_writes_reads_and_sets(tiny_cfg):
    async def bench(board, ctx, link):
        ident = await board.check()
        words = {}
        for mem, spec in board.maps[0].items():   # every memory both ways, from an offset
            if spec.writable and spec.readable and spec.depth > 1:
                lane = spec.lanes - 1
                data = [random.Random(mem).getrandbits(spec.width) for _ in range(spec.depth - 1)]
                await board.write(0, mem, lane, data, addr=1)
                words[spec.name] = (data, await board.read(0, mem, lane, spec.depth - 1, addr=1))
        for r, name in enumerate(p.REGISTERS):
            await board.set(1, name, min(r + 1, p.register_limits(board.layouts[1], board.formats)[name]))
        regs = {name: ctx.get(getattr(link.cores[1], name)) for name in p.REGISTERS}
        # the policy registers (one word each here), written and read back; a window end of 0
        # is clamped to 1
        policy = []
        for layer, enabled, window in ((0, [False, True, True, False], 5), (1, [True] * 6, 0)):
            await board.load_policy(layer, enabled, window)
            policy.append((await board.read(layer, hc.MEM_MAP_ON, 0, 1),
                           await board.read(layer, hc.MEM_WINDOW, 0, 1)))
        return ident, words, regs, await board.status(0), policy

    ident, words, regs, status, policy = simulate_link(tiny_cfg, bench)
    assert policy == [([0b0110], [5]), ([0b111111], [1])]
    assert ident["layers"] == 2 and ident["magic"] == p.MAGIC
    assert set(words) == {"weights", "masks", "row_any", "map_rows"}
    for name, (sent, back) in words.items():
        assert back == sent, name
    assert regs == {name: min(r + 1, 1) if name == "check" else r + 1
                    for r, name in enumerate(p.REGISTERS)}
    assert status["busy"] == 0 and status["cycle"] == 0


BAD_REQUESTS = [
    ("LAYER", lambda: encode(p.OP_STATUS, layer=2)),
    ("LAYER", lambda: encode(p.OP_WRITE, b"\1\2", layer=9, mem=0, lane=0, addr=0, count=2)),
    ("MEMORY", lambda: encode(p.OP_WRITE, b"\1\2", layer=0, mem=hc.MEM_FIRE, lane=0, addr=0, count=2)),
    ("MEMORY", lambda: encode(p.OP_READ, layer=0, mem=hc.MEM_EVENTS, lane=0, addr=0, count=1)),
    ("MEMORY", lambda: encode(p.OP_READ, layer=1, mem=hc.MEM_OUT_EVENTS, lane=0, addr=0, count=1)),
    ("MEMORY", lambda: encode(p.OP_READ, layer=0, mem=12, lane=0, addr=0, count=1)),
    ("LANE", lambda: encode(p.OP_READ, layer=0, mem=hc.MEM_WEIGHTS, lane=LANES, addr=0, count=1)),
    ("LANE", lambda: encode(p.OP_WRITE, b"\1\0\0\0", layer=0, mem=hc.MEM_MAP_ROWS, lane=1, addr=0, count=1)),
    ("RANGE", lambda: encode(p.OP_READ, layer=0, mem=hc.MEM_MASKS, lane=0, addr=17, count=2)),
    ("RANGE", lambda: encode(p.OP_READ, layer=0, mem=hc.MEM_MASKS, lane=0, addr=0, count=0)),
    ("REGISTER", lambda: encode(p.OP_SET, layer=0, reg=len(p.REGISTERS), value=0)),
    ("VALUE", lambda: encode(p.OP_SET, layer=0, reg=p.REGISTERS.index("check"), value=2)),
    ("VALUE", lambda: encode(p.OP_RUN, layer=0, cmd=3)),
    ("CHECKSUM", lambda: encode(p.OP_IDENTIFY, layer=0)[:-1] + b"\0"),
    ("OPCODE", lambda: bytes([0x7F, 1, 2, 3])),
    ("TIMEOUT", lambda: encode(p.OP_READ, layer=0, mem=hc.MEM_MASKS, lane=0, addr=0, count=1)[:5]),
]


def test_link_error_replies(tiny_cfg):
    """Each bad request gets one error reply naming its error, and the link serves the next
    request; a request while a command runs gets BUSY, STATUS is still served."""
    async def bench(board, ctx, link):
        seen = []
        for _, make in BAD_REQUESTS:
            frame_bytes = make()
            op = frame_bytes[0]
            await board.transport.write(frame_bytes)
            try:
                await board.reply(op, p.OPCODES.get(op, "?"), body=0)
                seen.append("OK")
            except LinkError as exc:
                seen.append(exc.name)
            assert (await board.identify())["layers"] == 2
        cycles = await start_busy_infer(board, tiny_cfg)
        busy = (await board.status(0))["busy"]
        with pytest.raises(LinkError, match="BUSY"):
            await board.write(0, hc.MEM_WEIGHTS, 0, [1, 2])
        await board.wait_done(idle := cycles)
        return seen, busy, await board.status(0), idle

    seen, busy, after, idle = simulate_link(tiny_cfg, bench)
    assert seen == [name for name, _ in BAD_REQUESTS]
    assert busy == 1 and after["busy"] == 0 and after["cycle"] == idle > 0


async def start_busy_infer(board, cfg) -> int:
    """Start layer 0's infer on an input where every neuron spikes at step 0 and every
    connection is pruned (the memories as reset): each event costs the engine its fetch, so the
    command runs long enough for requests sent after it to find it busy. Returns the cycle
    model's cycles for it."""
    import numpy as np

    from boards.cosim import predict_command
    lay = board.layouts[0]
    shape = (lay.maps, lay.channels, lay.kernel, lay.kernel)
    times = np.zeros((lay.channels, lay.side_in, lay.side_in), int)
    await board.load_image(0, times, 1, learn=False)
    await board.start(0, "infer")
    return predict_command("infer", lay, board.formats, cfg.layers[0], times, np.zeros(shape, int),
                           np.zeros(shape, bool), 1)["cycles"]


def test_host_refuses_garbled_reply_and_other_bitstream(tiny_cfg):
    from boards.host import BitstreamMismatch
    from model import config as C

    class Garble:
        def __init__(self, inner):
            self.inner = inner

        async def drain(self, settle=False):
            return await self.inner.drain(settle)

        async def write(self, data):
            await self.inner.write(data)

        async def read(self, n):
            data = bytearray(await self.inner.read(n))
            data[0] ^= 0x10 if n == p.IDENTIFY_BYTES else 0     # a body byte flipped
            return bytes(data)

    async def bench(board, ctx, link):
        other = Board(board.transport, C.replace(tiny_cfg, **{"layers.0.winners": 3}), LANES)
        with pytest.raises(BitstreamMismatch, match="digest"):
            await other.check()
        garbled = Board(Garble(board.transport), tiny_cfg, LANES)
        with pytest.raises(ReplyError, match="CRC wrong"):
            await garbled.identify()
        return True

    assert simulate_link(tiny_cfg, bench)


# -- the board top over its UART pins in Verilator -------------------------------------------------

DIVISOR = 4


@pytest.fixture(scope="module")
def board_case(tiny_net):
    """Layer 0 of the tiny network (pooling, output events) with synapses that fire, learn and
    prune, and the model's prediction of infer and learn on one image."""
    c = core_case(tiny_net, 0, LANES, image=0, seed=3, prune=0.3)
    steps = predict(c["lay"], c["net"].arith, c["lc"], c)
    assert steps[1]["counters"]["prunes"] > 0 and steps[1]["counters"]["stdp_ops"] > 0
    assert steps[0]["state"]["out_events"], "the case must send events to the next layer"
    return c, steps


@pytest.mark.timeout(1800)          # builds the board top in Verilator
def test_board_top_round_trip_matches_model(board_case):
    """Identify, layer 0's weights and one encoded image loaded over the UART pins, infer and
    learn run, winners, counters, output events, potentials and changed weights read back equal
    to the model's; the same round trip against a prediction with one learned weight changed
    fails naming it; damaged frames refused (boards/cocotb_top.py)."""
    from boards.cosim import run_board
    c, steps = board_case
    res = run_board(TINY, LANES, DIVISOR, c, steps, {"test": "round trip"})
    assert res.passed == ["board_matches_model", "board_catches_a_wrong_expectation",
                          "board_refuses_corruption"]


# -- the host driver on a blocking transport, and its CLI -----------------------------------------

def test_blocking_driver_and_cli_errors(tiny_cfg, capsys):
    """The coroutines run to their end in one step on a transport that never suspends (as
    pyserial's); the CLI names a port it cannot open."""
    from boards.host import blocking, main

    class Canned:
        def __init__(self, reply):
            self.reply, self.sent = bytearray(reply), b""

        async def drain(self, settle=False):
            return 0

        async def write(self, data):
            self.sent += data

        async def read(self, n):
            data, self.reply[:n] = bytes(self.reply[:n]), b""
            return data

    probe = Board(None, tiny_cfg, LANES)
    body = p.MAGIC + bytes([p.VERSION, 2]) + probe.digest.to_bytes(4, "little")
    head = bytes([p.OK, p.OP_IDENTIFY]) + body
    transport = Canned(head + p.crc(head))
    ident = blocking(Board(transport, tiny_cfg, LANES)).check()
    assert ident["digest"] == probe.digest and transport.sent == encode(p.OP_IDENTIFY, layer=0)

    assert main(["--port", "/dev/no-such-tty", "--config", str(TINY), "identify"]) == 2
    err = capsys.readouterr().err
    assert "/dev/no-such-tty" in err and "cannot open serial port" in err


@pytest.mark.parametrize("platform", ["ulx3s.ULX3S_85F_Platform", "icebreaker.ICEBreakerPlatform"])
def test_board_top_takes_the_platform_uart(tiny_cfg, platform):
    """On a board the top asks the platform for its UART and LED (io buffers, no deprecated
    pin requests) and nothing else: the clock domain is the caller's."""
    import importlib
    import warnings

    from amaranth.hdl import Fragment
    module, name = platform.rsplit(".", 1)
    plat = getattr(importlib.import_module(f"amaranth_boards.{module}"), name)()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        Fragment.get(BoardTop(tiny_cfg, LANES, divisor=4), plat)
    assert sorted(plat._requested) == [("led", 0), ("uart", 0)]
