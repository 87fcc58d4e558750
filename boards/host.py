"""The host side of the board link (boards/protocol.py): one driver for a real board over a
serial port and for the simulated board top under cocotb.

    board = blocking(Board(SerialTransport("/dev/ttyUSB1", 115200), cfg, lanes=4))
    board.check()                                   # refuses a bitstream built for another config
    board.load_synapses(0, weights, active)
    board.load_image(0, times_in, threshold, learn=False)
    board.run(0, "infer", expected_cycles)     # from the cycle model (cycles.core)
    board.winners(0), board.status(0), board.read_state(0, n_out)

``Board``'s methods are coroutines over a transport with ``async write(bytes)`` and
``async read(n, cycles=None) -> bytes`` and ``async drain(settle) -> int`` (boards/transport.py:
every request first drops stale bytes, and after a reply given up on waits for the line to go
quiet: a late reply is never read as the next one's) (``cycles``: core clock cycles the reply may take on top
of its bytes' own time; a command's reply is awaited for ``sim.stall.cycle_limit`` of the cycles
the cycle model predicts, and a board that does not answer by then raises StallError, a
TimeoutError naming the command, the cycles waited and those expected). Under cocotb the
transport really waits (boards/transport.py drives the ``rx`` pin and samples ``tx``);
``SerialTransport`` blocks in pyserial and never suspends, so ``blocking(board)`` runs each
coroutine to its end in one step (``run_sync``). A refused request raises ``LinkError`` naming
the error (``protocol.ERRORS``: the request changed nothing); a garbled reply ``ReplyError``; a
reply that does not come within the transport's bound ``ReplyTimeout``, naming the request,
the reply bytes expected and received, and the bound (seconds on a serial port).

``python -m boards.host identify --port /dev/ttyUSB1 --config configs/tiny.yaml`` (or
``run-image``; ``--sim`` instead of ``--port``: the simulated board top): see ``parser``.
"""
import argparse
import sys
import time

import numpy as np

from boards import protocol as p
from cycles.learning import LearningParams
from hw import core as hc
from model.fixedpoint import Formats
from sim import core_driver as cd
from boards.transport import QUIET_BYTES, ReadTimeout
from sim.stall import StallError, cycle_limit

MAX_WORDS = 4096       # words per READ request: a lost byte costs one request, not a layer


class LinkError(RuntimeError):
    """The board refused a request: ``code``, ``name`` (protocol.ERRORS), ``request``."""

    def __init__(self, code: int, request: str):
        self.code, self.name, self.request = code, p.error_name(code), request
        meaning = p.ERRORS.get(code, ("", "not a code of this protocol version"))[1]
        super().__init__(f"board refused {request}: {self.name} ({meaning})")


class ReplyTimeout(TimeoutError):
    """No complete reply to ``request`` in time: ``received`` of ``expected`` bytes (``more``:
    the reply's length was not known yet, it is at least that), the transport's bound
    ``waited``."""

    def __init__(self, request: str, received: int, expected: int, more: bool, late: ReadTimeout):
        self.request, self.received, self.expected = request, received, expected
        self.waited, self.where = late.waited, late.where
        size = f"at least {expected}" if more else str(expected)
        super().__init__(f"no reply to {request} from {late.where}: {received} of {size} bytes "
                         f"in {late.waited} (the board is not answering: wrong port or baud "
                         "rate, no bitstream loaded, or the request lost on the line)")


class ReplyError(RuntimeError):
    """A reply that is not what the protocol says (bad CRC, wrong opcode, bad identity)."""


class BitstreamMismatch(RuntimeError):
    """The board's bitstream was built for another network, lane count or protocol."""


def encode(op: int, payload: bytes = b"", **fields) -> bytes:
    """A request frame: opcode, its fields (protocol.ARGS), ``payload``, CRC."""
    names = {n for n, _ in p.ARGS[op]}
    if set(fields) != names:
        raise ValueError(f"{p.OPCODES[op]} takes the fields {sorted(names)}, not {sorted(fields)}")
    frame = bytes([op]) + b"".join(int(fields[n]).to_bytes(size, "little") for n, size in p.ARGS[op])
    frame += payload
    return frame + p.crc(frame)


def pack_words(words, nbytes: int) -> bytes:
    return b"".join(int(w).to_bytes(nbytes, "little") for w in words)


def unpack_words(data: bytes, nbytes: int) -> list[int]:
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]


def unpack_fields(data: bytes, fields) -> dict[str, int]:
    out, offset = {}, 0
    for name, size in fields:
        out[name] = int.from_bytes(data[offset:offset + size], "little")
        offset += size
    return out


def run_sync(coro):
    """Run a coroutine whose awaits never suspend (a blocking transport) to its result."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("the transport suspended: use an event loop (cocotb), not run_sync")


class blocking:
    """``board``'s coroutine methods as plain calls (for blocking transports)."""

    def __init__(self, board):
        self.board = board

    def __getattr__(self, name):
        attr = getattr(self.board, name)
        if not callable(attr):
            return attr
        return lambda *a, **k: run_sync(attr(*a, **k))


class Board:
    """The board's link for the network of ``cfg`` on cores of ``lanes`` lanes."""

    def __init__(self, transport, cfg, lanes: int, layers=None):
        """``layers``: the network layers the bitstream holds (default all); the ``layer``
        arguments below are positions in that list."""
        self.transport, self.cfg, self.lanes = transport, cfg, lanes
        self.layer_ids, self.layouts, layer_cfgs = p.built_layers(cfg, lanes, layers)
        # The first built layer's formats, as the link's digest (boards/link.py) takes them; the
        # other layers' weight widths are in their layouts.
        self.formats = Formats.from_config(cfg, self.layer_ids[0])
        self.maps = [p.memory_map(lay, lc) for lay, lc in zip(self.layouts, layer_cfgs)]
        self.digest = p.digest(self.layouts, self.formats, layer_cfgs)
        self._running = None                  # the RUN request whose reply is awaited
        self._unsettled = False               # a reply given up on may still be arriving

    # -- one request, one reply ----------------------------------------------------------------
    async def request(self, op: int, payload: bytes = b"", **fields) -> None:
        """Send a request, after dropping any stale bytes (a late reply to a request given up
        on would be read as this one's); while a command runs, its reply is not stale."""
        if self._running is None:
            await self.transport.drain(settle=self._unsettled)
            self._unsettled = False
        await self.transport.write(encode(op, payload, **fields))

    async def reply(self, op: int, what: str, body: int | None = 0, head: bytes | None = None
                    ) -> bytes:
        """Read the reply to ``op``: its body of ``body`` bytes (None: WINNERS' counted body),
        after its two head bytes (``head`` if already read); raises LinkError for an error
        reply, ReplyTimeout when the transport's bound passes first."""
        seen = bytearray(head or b"")

        async def read(n: int, length: int, more: bool = False) -> bytes:
            """``n`` more bytes of a reply ``length`` bytes long (at least, if ``more``)."""
            try:
                data = await self.transport.read(n)
            except ReadTimeout as late:
                self._unsettled = True
                raise ReplyTimeout(what, len(seen) + late.received, length, more, late) from None
            seen.extend(data)
            return data
        framing = 2 + p.CRC_BYTES                # status, opcode, CRC
        head = await read(2, framing, more=True) if head is None else head
        status, echoed = head
        if echoed != op and status == p.OK:
            self._unsettled = True
            raise ReplyError(f"reply to {what} names opcode {echoed}, expected {op}")
        data = b""
        if status == p.OK:
            if body is None:
                data = await read(1, framing + 1, more=True)
                data += await read(8 * data[0], framing + 1 + 8 * data[0])
            else:
                data = await read(body, framing + body)
        tail = await read(p.CRC_BYTES, framing + len(data))
        if not p.crc_matches(head + data + tail):
            self._unsettled = True            # its length may have been misread
            raise ReplyError(f"reply to {what}: CRC wrong ({(head + data + tail).hex()})")
        if status != p.OK:
            raise LinkError(status, what)
        return data

    async def call(self, op: int, payload: bytes = b"", body: int | None = 0, **fields) -> bytes:
        what = f"{p.OPCODES[op]} " + " ".join(f"{k}={v}" for k, v in fields.items())
        await self.request(op, payload, **fields)
        return await self.reply(op, what.strip(), body)

    # -- identity --------------------------------------------------------------------------------
    async def identify(self) -> dict:
        data = await self.call(p.OP_IDENTIFY, body=p.IDENTIFY_BYTES, layer=0)
        n = len(p.MAGIC)
        return {"magic": data[:n], "version": data[n], "layers": data[n + 1],
                "digest": int.from_bytes(data[n + 2:n + 6], "little")}

    async def check(self) -> dict:
        """Identify the bitstream and refuse one built for another config, lanes or protocol."""
        ident = await self.identify()
        want = {"magic": p.MAGIC, "version": p.VERSION, "layers": len(self.layouts),
                "digest": self.digest}
        wrong = [f"{k} {ident[k]!r} (expected {want[k]!r})" for k in want if ident[k] != want[k]]
        if wrong:
            raise BitstreamMismatch("the board's bitstream does not match the config and lanes "
                                    f"given ({self.lanes} lanes): " + ", ".join(wrong))
        return ident

    # -- memories ----------------------------------------------------------------------------------
    def _spec(self, layer: int, mem: int) -> p.MemSpec:
        if not 0 <= layer < len(self.maps):
            raise ValueError(f"layer {layer}: this network has layers 0 .. {len(self.maps) - 1}")
        if mem not in self.maps[layer]:
            raise ValueError(f"memory {mem}: layer {layer} has {sorted(self.maps[layer])}")
        return self.maps[layer][mem]

    async def write(self, layer: int, mem: int, lane: int, words, addr: int = 0) -> None:
        spec = self._spec(layer, mem)
        words = list(words)
        for start in range(0, len(words), spec.max_write):      # what the link's buffer holds
            chunk = words[start:start + spec.max_write]
            await self.call(p.OP_WRITE, pack_words(chunk, spec.nbytes), layer=layer, mem=mem,
                            lane=lane, addr=addr + start, count=len(chunk))

    async def read(self, layer: int, mem: int, lane: int, count: int, addr: int = 0) -> list[int]:
        nb = self._spec(layer, mem).nbytes
        out = []
        for start in range(0, count, MAX_WORDS):
            n = min(MAX_WORDS, count - start)
            out += unpack_words(await self.call(p.OP_READ, body=n * nb, layer=layer, mem=mem,
                                                lane=lane, addr=addr + start, count=n), nb)
        return out

    async def read_lanes(self, layer: int, mem: int) -> np.ndarray:
        spec = self._spec(layer, mem)
        return np.array([await self.read(layer, mem, lane, spec.depth)
                         for lane in range(spec.lanes)], dtype=np.int64)

    # -- configuration and commands ------------------------------------------------------------------
    async def set(self, layer: int, name: str, value: int) -> None:
        if name not in p.REGISTERS:
            raise ValueError(f"register {name!r}: one of {', '.join(p.REGISTERS)}")
        await self.call(p.OP_SET, layer=layer, reg=p.REGISTERS.index(name), value=int(value))

    async def start(self, layer: int, cmd: str) -> None:
        """Start a command without waiting (``wait_done`` reads its reply)."""
        if cmd not in p.CMDS:
            raise ValueError(f"command {cmd!r}: one of {', '.join(p.CMDS)}")
        self._running = f"RUN layer={layer} cmd={cmd}"
        await self.request(p.OP_RUN, layer=layer, cmd=p.CMDS[cmd])

    async def wait_done(self, expected: int) -> None:
        """The reply of the command started, which the cycle model predicts ``expected`` cycles
        for (``cycles.core.core_command``): awaited for ``sim.stall.cycle_limit`` of
        them, then StallError."""
        if self._running is None:
            raise RuntimeError("wait_done: no command was started (start first)")
        what, self._running = self._running, None
        limit = cycle_limit(expected)
        try:
            head = await self.transport.read(2, cycles=limit)
        except TimeoutError as exc:
            self._unsettled = True
            raise StallError(what, limit, expected, {"transport": str(exc)}) from None
        await self.reply(p.OP_RUN, what, head=head)

    async def run(self, layer: int, cmd: str, expected: int) -> dict:
        """Run a command to its end (``expected``: its cycles by the cycle model, which bound
        the wait); returns the layer's status (counters, winners, cycles)."""
        await self.start(layer, cmd)
        await self.wait_done(expected)
        return await self.status(layer)

    async def status(self, layer: int) -> dict:
        size = sum(n for _, n in p.STATUS_FIELDS)
        return unpack_fields(await self.call(p.OP_STATUS, body=size, layer=layer), p.STATUS_FIELDS)

    async def winners(self, layer: int) -> list[tuple[int, int, int, int]]:
        data = await self.call(p.OP_WINNERS, body=None, layer=layer)
        names = [n for n, _ in p.WINNER_FIELDS]
        return [tuple(unpack_fields(data[1 + 8 * i:9 + 8 * i], p.WINNER_FIELDS)[n] for n in names)
                for i in range(data[0])]

    # -- a layer's data, laid out as the co-simulation's (sim/core_driver.py) ------------------------
    async def load_synapses(self, layer: int, weights, active) -> None:
        for mem, lane, words in cd.synapse_words(self.layouts[layer], weights, active):
            await self.write(layer, mem, lane, words)

    async def load_image(self, layer: int, times_in, threshold: int, learn: bool) -> None:
        writes, n_events = cd.image_words(self.layouts[layer], times_in, learn)
        for mem, lane, words in writes:
            if words:
                await self.write(layer, mem, lane, words)
        await self.set(layer, "n_events", n_events)
        await self.set(layer, "threshold", threshold)

    async def load_policy(self, layer: int, enabled=None, window: int | None = None) -> None:
        """The map enables (default: all on) and the window end (default: T)."""
        for mem, lane, words in cd.policy_words(self.layouts[layer], enabled, window):
            await self.write(layer, mem, lane, words)

    async def set_learning(self, layer: int, learning: LearningParams) -> None:
        """The learning registers of the layer's next learn or sweep command."""
        for name, v in learning.registers().items():
            await self.set(layer, name, v)

    async def read_state(self, layer: int, n_out: int | None = None) -> dict:
        """What ``sim.core_driver.read_state`` reads, through the link (``expected_state`` and
        ``state_divergence`` compare it with the model)."""
        lay = self.layouts[layer]
        out = {name: await self.read_lanes(layer, mem) for name, mem in (
            ("potentials", hc.MEM_POTENTIALS), ("fire", hc.MEM_FIRE), ("v_fire", hc.MEM_VFIRE),
            ("weights", hc.MEM_WEIGHTS), ("masks", hc.MEM_MASKS), ("row_any", hc.MEM_ROW_ANY))}
        out["map_rows"] = np.array(await self.read(layer, hc.MEM_MAP_ROWS, 0,
                                                   lay.maps * lay.map_words))
        out["winners"] = await self.winners(layer)
        if n_out is not None:
            out["out_events"] = await self.read(layer, hc.MEM_OUT_EVENTS, 0, n_out) if n_out else []
        return out


# -- a real board -----------------------------------------------------------------------------------

class SerialTransport:
    """A serial port (pyserial) as a transport; ``timeout``: seconds a reply may take;
    ``clock_hz``: the core clock, which turns a command's cycle limit into seconds (on top of
    ``timeout``; the default is the slowest board's clock, so the wait is never too short)."""

    def __init__(self, port: str, baud: int, timeout: float = 5.0, clock_hz: float = 12e6):
        import serial
        try:
            self.ser = serial.Serial(port, baud, timeout=timeout)
        except (serial.SerialException, ValueError) as exc:
            raise OSError(f"cannot open serial port {port!r} at {baud} baud: {exc}") from exc
        self.port, self.timeout, self.clock_hz, self.baud = port, timeout, clock_hz, baud
        self.ser.reset_input_buffer()          # a reply left over from an interrupted session

    async def drain(self, settle: bool = False) -> int:
        """Drop what the port has received (boards/transport.py); with ``settle``, also what
        comes until the line has been quiet for ``QUIET_BYTES`` byte times (at most
        ``timeout``)."""
        dropped = self.ser.in_waiting
        self.ser.reset_input_buffer()
        if settle:
            self.ser.timeout = max(QUIET_BYTES * 10 / self.baud, 0.01)   # OS latency: >= 10 ms
            end = time.monotonic() + self.timeout
            while time.monotonic() < end:
                data = self.ser.read(4096)
                if not data:
                    break
                dropped += len(data)
        return dropped

    async def write(self, data: bytes) -> None:
        self.ser.write(data)

    async def read(self, n: int, cycles: int | None = None) -> bytes:
        wait = self.timeout + (cycles or 0) / self.clock_hz
        self.ser.timeout = wait
        data = self.ser.read(n)
        if len(data) < n:
            raise ReadTimeout(len(data), n, f"{wait:g} s", self.port)
        return data

    def close(self) -> None:
        self.ser.close()


USAGE_EXAMPLES = """examples:
  python -m boards.host identify --port /dev/ttyUSB1 --config configs/tiny.yaml
  python -m boards.host run-image --port /dev/ttyUSB1 --config configs/tiny.yaml --image 3
  python -m boards.host identify --sim --config configs/tiny.yaml --lanes 4   (no board: the
      simulated board top under cocotb, boards/bridge.py)

Lanes and layers: read from the board's identify reply (the bitstream's digest of the config's
layouts) unless given; --sim builds the simulated top with --lanes (default: the config's
core.lanes, at most a layer's maps) and --layers (default all)."""


def _options(parser, top: bool) -> None:
    """The options every subcommand takes, before or after its name (``top``: on the main
    parser; a subcommand's copies default to 'not given' so that they do not undo those)."""
    keep = {} if top else {"default": argparse.SUPPRESS}
    where = parser.add_mutually_exclusive_group(required=False)
    where.add_argument("--port", help="the board's serial port: /dev/ttyUSB0 for a ULX3S, "
                       "/dev/ttyUSB1 for an Arty (the second of its two); `ls /dev/ttyUSB*` "
                       "before and after plugging it in", **({} if top else keep))
    where.add_argument("--sim", action="store_true", help="talk to the simulated board top "
                       "instead (cocotb on its UART pins; no board needed)",
                       **({"default": False} if top else keep))
    parser.add_argument("--config", help="the config the bitstream was built for",
                        **({} if top else keep))
    parser.add_argument("--baud", type=int, help="the link's baud rate (default 115200, as "
                        "boards/top.py builds it)", **({"default": 115_200} if top else keep))
    parser.add_argument("--lanes", type=int, help="lanes per core of the bitstream (default: "
                        "read from the board's identify reply; --sim: the config's core.lanes)",
                        **({} if top else keep))
    parser.add_argument("--layers", help="the layers the bitstream holds (names or indices, "
                        "comma-separated; default: read from the identify reply; --sim: all)",
                        **({} if top else keep))
    parser.add_argument("--timeout", type=float, help="seconds a reply may take (default 5; "
                        "--sim: 120)", **({} if top else keep))
    parser.add_argument("--mhz", type=float, help="the core clock of the bitstream (MHz): a "
                        "command's reply is awaited for twice its predicted cycles plus a margin "
                        "at this clock, on top of --timeout (default 12, the slowest board's, "
                        "never too short)", **({"default": 12.0} if top else keep))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m boards.host", epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Talk to a board running the SNN core's bitstream (boards/protocol.py over "
                    "its UART), or to the simulated board top (--sim).")
    _options(ap, top=True)
    sub = ap.add_subparsers(dest="action", required=True, metavar="{identify,run-image}")
    ident = sub.add_parser("identify", help="print the bitstream's identity, lanes and layers, "
                           "and check that they match the config",
                           description="Print the bitstream's identity (protocol version, "
                           "layers, digest), the lanes and layers it was built for, and check "
                           "them against --config.")
    ri = sub.add_parser("run-image", help="load the first layer, run inference on one test "
                        "image, compare with the model",
                        description="Load the network's first layer (weights, masks, map "
                        "enables, window), one encoded test image, run inference and compare "
                        "counters, cycles, output events and memories with the model's "
                        "prediction. Exit 0 when they match, 1 when they differ.")
    for sp in (ident, ri):
        _options(sp, top=False)
    ri.add_argument("--checkpoint", help="trained weights (.npz of model.train); default: the "
                                         "model's initial weights")
    ri.add_argument("--image", type=int, default=0, help="index in the test set (default 0)")
    return ap


def find_layout(transport, cfg, lanes: int | None, layers: list[int] | None):
    """(lanes, layers) of the bitstream on the board: each given one as given, the others the
    candidates whose digest is the one the board's identify reply names."""
    from itertools import combinations
    ident = run_sync(Board(transport, cfg, 1).identify())
    sets = [layers] if layers is not None else [
        list(c) for k in range(len(cfg.layers), 0, -1)
        for c in combinations(range(len(cfg.layers)), k)]
    for held in sets:
        most = max(cfg.layers[i].maps for i in held)
        for n in ([lanes] if lanes is not None else range(1, most + 1)):
            if Board(transport, cfg, n, held).digest == ident["digest"]:
                return n, held
    raise BitstreamMismatch(
        f"the board's bitstream (digest {ident['digest']:08x}) was not built for this config "
        f"with {'lanes ' + str(lanes) if lanes is not None else 'any lane count'} and "
        f"{'layers ' + str(layers) if layers is not None else 'any set of its layers'}: "
        "build it with `make bitstream CONFIG=...` or give the config it was built for")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if not args.config:
        parser().error("--config is required (the config the bitstream was built for)")
    if not args.sim and not args.port:
        parser().error("say where the board is: --port /dev/ttyUSB1 (a board) or --sim "
                       "(the simulated board top)")

    from model import config as C
    from model.cli import guarded

    def talk(transport, cfg, lanes, layers) -> int:
        board = blocking(Board(transport, cfg, lanes, layers))
        ident = board.check()
        names = ", ".join(cfg.layers[i].name for i in board.layer_ids)
        print(f"bitstream: {ident['magic'].decode()} v{ident['version']}, layers {names}, "
              f"{lanes} lanes, digest {ident['digest']:08x} (matches {args.config})")
        if args.action == "run-image":
            return run_image(board, cfg, args)
        return 0

    def body() -> int:
        cfg = C.load(args.config)
        layers = None if args.layers is None else p.select_layers(cfg, args.layers)
        if args.sim:
            from boards.bridge import SimulatedBoard
            lanes = cfg.core_lanes(args.lanes)
            with SimulatedBoard(args.config, lanes, layers=layers,
                                timeout=args.timeout or 120) as transport:
                return talk(transport, cfg, lanes, layers)
        transport = SerialTransport(args.port, args.baud, args.timeout or 5.0, args.mhz * 1e6)
        try:
            if args.lanes is None or args.layers is None:
                lanes, layers = find_layout(transport, cfg, args.lanes, layers)
            else:
                lanes = args.lanes
            return talk(transport, cfg, lanes, layers)
        finally:
            transport.close()
    try:
        return guarded(body)
    except (OSError, TimeoutError, LinkError, ReplyError, BitstreamMismatch, ValueError,
            RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_image(board, cfg, args) -> int:
    from model import data
    from boards.cosim import divergences, predict_command
    from model.network import Network
    if board.layer_ids[0] != 0:
        raise ValueError(f"run-image runs the network's first layer; this bitstream holds layers "
                         f"{board.layer_ids}")
    net = Network(cfg)
    if args.checkpoint:
        from model.train import config_digest, load_checkpoint
        load_checkpoint(args.checkpoint, net, config_digest(cfg, "fixed"))
    ds = data.load(cfg)
    if not 0 <= args.image < len(ds.test_x):
        raise ValueError(f"--image {args.image}: the test set has images 0 .. {len(ds.test_x) - 1}")
    times = net.encode(ds.test_x[args.image:args.image + 1])[0]
    step = predict_command("infer", board.layouts[0], net.ariths[0], cfg.layers[0], times,
                           net.weights[0], ~net.pruned[0], net.thresholds[0],
                           enabled=net.channel_on[0], window=net.window)
    board.load_synapses(0, net.weights[0], ~net.pruned[0])
    board.load_policy(0, net.channel_on[0], net.window)
    board.load_image(0, times, net.thresholds[0], learn=False)
    status = board.run(0, "infer", step["cycles"])
    print("status:", {k: v for k, v in status.items()})
    n_out = status["n_out"] if cfg.layers[0].pool.size > 0 else None
    seen = board.read_state(0, n_out)
    bad = divergences(status, seen, step, {"image": args.image,
                                           "port": "simulated" if args.sim else args.port})
    print(f"output events: {n_out}, cycles: {status['cycle']} (model {step['cycles']})")
    print("matches the model" if not bad else "DIFFERS from the model:\n  " + "\n  ".join(bad))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
