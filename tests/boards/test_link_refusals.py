"""A refused request changes nothing (boards/link.py, boards/protocol.py), in Amaranth's simulator
on the board top's link (``simulate_link``).

Hypothesis draws good requests and damages them -- a bit flipped, two bytes changed by amounts
that cancel (which a sum of the bytes misses: the CRC does not), the frame cut short, an
unknown opcode, a field out of range -- and after each damaged frame: the error reply names the
damage, no write or start reached any core (``Watch``, every cycle), the configuration registers
and the addressed memory words are as they were, and the undamaged request then works; at the end
every host-writable memory reads back as the good requests left it. Then the cases hypothesis may
not draw: a WRITE whose checksum is wrong or that stops in its words writes no word, a WRITE
larger than the link's buffer is refused whole, and requests while a command runs are refused
BUSY without effect. Last, the host driver's timeout names the request, the bytes and the bound,
and a reply that comes after the host gave up on it is not read as the next request's; and the
CRC's software model catches every error of up to three bits in a frame of the largest size.
"""
import socket

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from boards import protocol as p
from boards.host import Board, LinkError, ReplyTimeout, encode, pack_words
from conftest import TINY
from hw import core as hc
from model import config as C
from model.fixedpoint import Formats
from test_board_link import LANES, simulate_link, start_busy_infer

CFG = C.load(TINY)
BOARD = Board(None, CFG, LANES)                 # the memory maps the requests are drawn from
MAPS = BOARD.maps
LIMITS = [p.register_limits(lay, Formats.from_config(CFG, i))
          for i, lay in zip(BOARD.layer_ids, BOARD.layouts)]
# The memories the host both writes and reads: the final read-back covers them all.
HOST_MEMORIES = [(layer, mem, lane) for layer, mm in enumerate(MAPS) for mem, spec in mm.items()
                 if spec.writable and spec.readable for lane in range(spec.lanes)]
QUIET = 60                                      # the link's timeout (cycles): a short line gap


class Watch:
    """Counts, every cycle, the writes into the cores and their starts: a refused request adds
    neither."""

    def __init__(self):
        self.writes = self.starts = 0

    def process(self, link):
        signals = [s for c in link.cores for s in (c.wr_en, c.start)]

        async def run(ctx):
            async for _, _, *values in ctx.tick().sample(*signals):
                self.writes += sum(values[0::2])
                self.starts += sum(values[1::2])
        return run

    def count(self) -> tuple[int, int]:
        return self.writes, self.starts


def registers(ctx, link) -> dict:
    return {(i, name): ctx.get(getattr(c, name)) for i, c in enumerate(link.cores)
            for name in p.REGISTERS}


def stored(layer: int, mem: int, words: list[int]) -> list[int]:
    """What a memory holds after ``words`` are written: the window end clamped to 1 .. T."""
    if mem != hc.MEM_WINDOW:
        return list(words)
    T = BOARD.layouts[layer].time_steps
    return [min(max(w, 1), T) for w in words]


def write_frame(fields: dict, words: list[int]) -> bytes:
    spec = MAPS[fields["layer"]].get(fields["mem"]) if fields["layer"] < len(MAPS) else None
    nb = spec.nbytes if spec is not None else 1
    return encode(p.OP_WRITE, pack_words([w & ((1 << 8 * nb) - 1) for w in words], nb), **fields)


def frame_of(op: int, fields: dict, words: list[int]) -> bytes:
    return write_frame(fields, words) if op == p.OP_WRITE else encode(op, **fields)


# -- the requests and their damage ---------------------------------------------------------------

@st.composite
def good_requests(draw):
    """(op, fields, words) of a request the link serves: any but RUN (which changes state)."""
    op = draw(st.sampled_from([p.OP_WRITE, p.OP_WRITE, p.OP_READ, p.OP_SET, p.OP_IDENTIFY,
                               p.OP_STATUS, p.OP_WINNERS]))
    layer = draw(st.integers(0, len(MAPS) - 1))
    if op in (p.OP_WRITE, p.OP_READ):
        mem = draw(st.sampled_from([m for m, s in MAPS[layer].items()
                                    if (s.writable if op == p.OP_WRITE else s.readable)]))
        spec = MAPS[layer][mem]
        count = draw(st.integers(1, min(8, spec.depth)))
        fields = {"layer": layer, "mem": mem, "lane": draw(st.integers(0, spec.lanes - 1)),
                  "addr": draw(st.integers(0, spec.depth - count)), "count": count}
        words = (draw(st.lists(st.integers(0, (1 << spec.width) - 1), min_size=count,
                               max_size=count)) if op == p.OP_WRITE else [])
        return op, fields, words
    if op == p.OP_SET:
        reg = draw(st.integers(0, len(p.REGISTERS) - 1))
        value = draw(st.integers(0, LIMITS[layer][p.REGISTERS[reg]]))
        return op, {"layer": layer, "reg": reg, "value": value}, []
    return op, {"layer": layer}, []


def _length_bytes(op: int) -> set[int]:
    """The frame positions that decide how long a request is (a flip there reframes it)."""
    if op != p.OP_WRITE:
        return {0}
    offsets, at = {}, 1
    for name, size in p.ARGS[op]:
        offsets[name] = range(at, at + size)
        at += size
    return {0, *offsets["layer"], *offsets["mem"], *offsets["count"]}


@st.composite
def out_of_range(draw, op: int, fields: dict, words: list[int]) -> tuple[str, bytes]:
    """One field of the request out of range, the frame otherwise whole: (error, frame)."""
    L = len(MAPS)
    options = ["command"] + (["layer"] if op != p.OP_IDENTIFY else [])
    if op in (p.OP_WRITE, p.OP_READ):
        spec = MAPS[fields["layer"]][fields["mem"]]
        options += ["mem", "lane", "count", "addr"]
        if op == p.OP_WRITE and spec.depth > spec.max_write:
            options.append("buffer")
    if op == p.OP_SET:
        options.append("reg")
        if LIMITS[fields["layer"]][p.REGISTERS[fields["reg"]]] < 0xFFFF_FFFF:
            options.append("value")
    which = draw(st.sampled_from(options))
    bad = dict(fields)
    if which == "command":                      # a RUN of a command that does not exist
        return "VALUE", encode(p.OP_RUN, layer=fields["layer"] % L, cmd=draw(st.integers(3, 255)))
    if which == "layer":
        bad["layer"] = draw(st.integers(L, 255))
        return "LAYER", frame_of(op, bad, words)
    if which == "mem":
        allowed = [m for m, s in MAPS[fields["layer"]].items()
                   if (s.writable if op == p.OP_WRITE else s.readable)]
        bad["mem"] = draw(st.integers(0, 255).filter(lambda m: m not in allowed))
        return "MEMORY", frame_of(op, bad, words)
    if which == "lane":
        bad["lane"] = draw(st.integers(spec.lanes, 255))
        return "LANE", frame_of(op, bad, words)
    if which == "count":
        bad["count"] = 0
        return "RANGE", frame_of(op, bad, [])
    if which == "addr":
        bad["addr"] = draw(st.integers(spec.depth - fields["count"] + 1, (1 << 24) - 1))
        return "RANGE", frame_of(op, bad, words)
    if which == "buffer":                       # fits the memory, not the link's write buffer
        bad.update(addr=0, count=spec.max_write + 1)
        return "RANGE", frame_of(op, bad, [0] * (spec.max_write + 1))
    if which == "reg":
        bad["reg"] = draw(st.integers(len(p.REGISTERS), 255))
        return "REGISTER", frame_of(op, bad, words)
    bad["value"] = draw(st.integers(LIMITS[fields["layer"]][p.REGISTERS[fields["reg"]]] + 1,
                                    0xFFFF_FFFF))
    return "VALUE", frame_of(op, bad, words)


@st.composite
def damaged_requests(draw):
    """(error expected, the damaged frame, the good request)."""
    op, fields, words = good = draw(good_requests())
    frame = frame_of(op, fields, words)
    damage = draw(st.sampled_from(["flip", "cancel", "cut", "opcode", "field"]))
    same_length = sorted(set(range(len(frame))) - _length_bytes(op))
    if damage == "flip":                        # the length unchanged: only the CRC tells
        at = draw(st.sampled_from(same_length))
        bad = bytearray(frame)
        bad[at] ^= 1 << draw(st.integers(0, 7))
        return "CHECKSUM", bytes(bad), good
    if damage == "cancel":                      # the bytes' sum unchanged too
        i, j = draw(st.lists(st.sampled_from(same_length), min_size=2, max_size=2, unique=True))
        d = draw(st.integers(1, 255))
        bad = bytearray(frame)
        bad[i], bad[j] = (bad[i] + d) & 0xFF, (bad[j] - d) & 0xFF
        assert sum(bad) % 256 == sum(frame) % 256
        return "CHECKSUM", bytes(bad), good
    if damage == "cut":
        return "TIMEOUT", frame[:draw(st.integers(1, len(frame) - 1))], good
    if damage == "opcode":
        unknown = draw(st.integers(0, 255).filter(lambda b: b not in p.OPCODES))
        return "OPCODE", bytes([unknown]) + frame[1:], good
    error, bad = draw(out_of_range(op, fields, words))
    return error, bad, good


# -- the bench --------------------------------------------------------------------------------------

async def read_memories(board) -> dict:
    return {(layer, mem, lane): await board.read(layer, mem, lane, MAPS[layer][mem].depth)
            for layer, mem, lane in HOST_MEMORIES}


async def refused(board, frame: bytes, error: str) -> None:
    await board.transport.write(frame)
    with pytest.raises(LinkError) as exc:
        await board.reply(frame[0], f"damaged frame {frame.hex()}")
    assert exc.value.name == error, f"{frame.hex()}: {exc.value.name}, expected {error}"


async def serve(board, ctx, link, watch, shadow, good) -> None:
    """The good request works: its reply, and what it did."""
    op, fields, words = good
    writes = watch.writes
    if op == p.OP_WRITE:
        await board.write(fields["layer"], fields["mem"], fields["lane"], words, fields["addr"])
        assert watch.writes == writes + len(words)
        key = (fields["layer"], fields["mem"], fields["lane"])
        if key in shadow:
            shadow[key][fields["addr"]:fields["addr"] + len(words)] = stored(
                fields["layer"], fields["mem"], words)
    elif op == p.OP_READ:
        got = await board.read(fields["layer"], fields["mem"], fields["lane"], fields["count"],
                               fields["addr"])
        key = (fields["layer"], fields["mem"], fields["lane"])
        if key in shadow:
            assert got == shadow[key][fields["addr"]:fields["addr"] + fields["count"]]
        assert len(got) == fields["count"]
    elif op == p.OP_SET:
        await board.set(fields["layer"], p.REGISTERS[fields["reg"]], fields["value"])
        assert ctx.get(getattr(link.cores[fields["layer"]], p.REGISTERS[fields["reg"]])) == \
            fields["value"]
    elif op == p.OP_IDENTIFY:
        await board.check()
    elif op == p.OP_STATUS:
        assert (await board.status(fields["layer"]))["busy"] == 0
    else:
        assert len(await board.winners(fields["layer"])) <= CFG.layers[fields["layer"]].winners


@pytest.mark.timeout(900)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(damaged_requests(), min_size=1, max_size=3))
def test_a_damaged_request_changes_nothing_and_the_next_one_works(tiny_cfg, cases):
    watch = Watch()

    async def bench(board, ctx, link):
        shadow = await read_memories(board)
        for error, bad, good in cases:
            before = watch.count(), registers(ctx, link)
            await refused(board, bad, error)
            assert (watch.count(), registers(ctx, link)) == before, f"{error}: {bad.hex()}"
            await serve(board, ctx, link, watch, shadow, good)
        assert await read_memories(board) == shadow
        return True

    assert simulate_link(tiny_cfg, bench, timeout=QUIET, processes=[watch.process])


def test_a_write_reaches_the_memory_whole_or_not_at_all(tiny_cfg):
    """The WRITE that fails its checksum after its words, the WRITE that stops in its words
    (TIMEOUT), the WRITE one word larger than the buffer (RANGE): no word written; the WRITE
    that fills the buffer: every word."""
    watch = Watch()
    weights = MAPS[0][hc.MEM_WEIGHTS]
    events = MAPS[0][hc.MEM_EVENTS]
    new = [(7 * i + 3) % 256 for i in range(weights.depth)]
    fields = {"layer": 0, "mem": hc.MEM_WEIGHTS, "lane": 1, "addr": 0, "count": weights.depth}

    async def bench(board, ctx, link):
        old = await board.read(0, hc.MEM_WEIGHTS, 1, weights.depth)
        assert old != new
        frame = bytearray(write_frame(fields, new))
        frame[-1] ^= 0x01                               # the checksum byte, after every word
        for damaged, error in ((bytes(frame), "CHECKSUM"), (bytes(frame[:-3]), "TIMEOUT")):
            await refused(board, damaged, error)
            assert watch.writes == 0, f"{error}: {watch.writes} words written"
            assert await board.read(0, hc.MEM_WEIGHTS, 1, weights.depth) == old, error
        full = {"layer": 0, "mem": hc.MEM_EVENTS, "lane": 0, "addr": 0}
        over = write_frame(dict(full, count=events.max_write + 1), [5] * (events.max_write + 1))
        await refused(board, over, "RANGE")
        assert watch.writes == 0, f"RANGE: {watch.writes} words written"
        await board.call(p.OP_WRITE, pack_words([5] * events.max_write, events.nbytes),
                         **dict(full, count=events.max_write))
        await board.write(0, hc.MEM_WEIGHTS, 1, new)
        return watch.writes, await board.read(0, hc.MEM_WEIGHTS, 1, weights.depth)

    writes, written = simulate_link(tiny_cfg, bench, timeout=QUIET, processes=[watch.process])
    assert writes == events.max_write + weights.depth and written == new


def test_requests_while_a_command_runs_are_refused_without_effect(tiny_cfg):
    """While an infer runs: WRITE, SET, READ, WINNERS and RUN get BUSY, and no write, register
    or second start reaches a core; STATUS and IDENTIFY are served."""
    watch = Watch()

    async def bench(board, ctx, link):
        weights = await board.read(0, hc.MEM_WEIGHTS, 0, 4)
        cycles = await start_busy_infer(board, tiny_cfg)
        loaded = watch.writes              # the image's words, written before the start
        regs = registers(ctx, link)
        busy = [(await board.status(0))["busy"]]
        for frame in (write_frame({"layer": 0, "mem": hc.MEM_WEIGHTS, "lane": 0, "addr": 0,
                                   "count": 4}, [9, 9, 9, 9]),
                      encode(p.OP_SET, layer=0, reg=0, value=3),
                      encode(p.OP_SET, layer=1, reg=1, value=3),
                      encode(p.OP_READ, layer=0, mem=hc.MEM_WEIGHTS, lane=0, addr=0, count=1),
                      encode(p.OP_WINNERS, layer=0),
                      encode(p.OP_RUN, layer=1, cmd=0)):
            await refused(board, frame, "BUSY")
        await board.check()
        busy.append((await board.status(0))["busy"])
        during = (watch.writes - loaded, watch.starts), registers(ctx, link) == regs
        await board.wait_done(cycles)
        return busy, during, weights, await board.read(0, hc.MEM_WEIGHTS, 0, 4)

    busy, during, before, after = simulate_link(tiny_cfg, bench, timeout=QUIET,
                                                processes=[watch.process])
    assert busy == [1, 1] and during == ((0, 1), True) and after == before


# -- the host driver's timeouts ---------------------------------------------------------------------

def test_a_reply_that_does_not_come_names_the_request_bytes_and_seconds(tiny_cfg):
    """A board that answers two bytes of an IDENTIFY and falls silent: ReplyTimeout naming
    IDENTIFY, 2 of 14 bytes and the transport's 0.2 s, after about that long."""
    import threading
    import time

    from boards.bridge import SocketTransport
    from boards.host import blocking
    host, board_end = socket.socketpair()

    def answer_in_part():                       # once the request is in
        board_end.recv(64)
        board_end.sendall(bytes([p.OK, p.OP_IDENTIFY]))
    try:
        board = blocking(Board(SocketTransport(host, timeout=0.2), tiny_cfg, LANES))
        threading.Thread(target=answer_in_part, daemon=True).start()
        t0 = time.monotonic()
        with pytest.raises(ReplyTimeout) as exc:
            board.identify()
        waited = time.monotonic() - t0
    finally:
        host.close()
        board_end.close()
    assert 0.2 <= waited < 5
    expected = 2 + p.IDENTIFY_BYTES + p.CRC_BYTES
    assert (exc.value.received, exc.value.expected) == (2, expected)
    message = str(exc.value)
    assert "IDENTIFY" in message and f"2 of {expected} bytes" in message
    assert "0.2 s" in message and isinstance(exc.value, TimeoutError)


def test_a_late_reply_is_not_read_as_the_next_ones(tiny_cfg):
    """A READ given up on (the transport's bound shorter than its reply takes) whose reply then
    comes: the next READ, of other words, gets its own words -- the host drops the late bytes
    before it, once the line is quiet. Without that (the drain switched off) the same bench
    reads the late reply, the first READ's words with a good CRC, as the second READ's."""
    spec = MAPS[0][hc.MEM_WEIGHTS]
    words = [(37 * i + 11) % (1 << spec.width) for i in range(8)]

    async def no_drain(settle=False):
        return 0

    async def bench(board, ctx, link):
        transport, out = board.transport, []
        patient = transport.read

        async def hasty(n, cycles=None):          # a cycle a byte: no reply is that quick
            return await patient(n, cycles=0)
        await board.write(0, hc.MEM_WEIGHTS, 0, words)
        for drops in (True, False):
            if not drops:
                transport.drain = no_drain
            transport.read = hasty
            with pytest.raises(ReplyTimeout):
                await board.read(0, hc.MEM_WEIGHTS, 0, 4)
            transport.read = patient
            out.append(await board.read(0, hc.MEM_WEIGHTS, 0, 4, addr=4))
        return out

    kept, misread = simulate_link(tiny_cfg, bench, timeout=QUIET)
    assert kept == words[4:]
    assert misread == words[:4]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_crc_catches_every_error_of_up_to_three_bits(data):
    """Frames up to the largest (a WRITE filling the buffer) with 1 to 3 bits flipped, anywhere
    in the frame or its CRC: never a matching CRC (CRC-16/X-25 keeps a Hamming distance of 4
    far beyond this length); a byte sum would miss two changes that cancel."""
    longest = 1 + sum(n for _, n in p.ARGS[p.OP_WRITE]) + p.WRITE_BUFFER_BYTES
    body = data.draw(st.binary(min_size=1, max_size=longest))
    frame = bytearray(body + p.crc(body))
    assert p.crc_matches(bytes(frame))
    bits = data.draw(st.lists(st.integers(0, 8 * len(frame) - 1), min_size=1, max_size=3,
                              unique=True))
    for b in bits:
        frame[b // 8] ^= 1 << (b % 8)
    assert not p.crc_matches(bytes(frame))
