"""The host link's protocol: every constant and size that the gateware (boards/link.py) and the
host driver (boards/host.py) share, defined once here.

Framing (all multi-byte fields little-endian):

    request: opcode, layer, the opcode's fields (ARGS), [WRITE: the words], CRC
    reply:   status, opcode, [status OK: the opcode's reply body], CRC

The CRC is CRC-16/X-25 (``CRC``: ``amaranth.lib.crc``'s catalogue entry; polynomial 0x1021,
bits least significant first as the UART sends them) of all the frame's bytes before it, two
bytes, little-endian (``crc``). The gateware computes it with the same parameters
(``CRC.create()``) and checks a request by the residue its two CRC bytes leave. It detects every
error of up to three bits and every burst of up to 16 bits in a frame of the largest size (a
sum of the bytes misses any pair of changes that cancel, such as +1 in one byte and -1 in
another). Every
request names a layer (IDENTIFY ignores it). A reply's status is ``OK`` (0) or an error code
(ERRORS); an error reply has no body. Requests are answered one at a time, in order.

Opcodes (request fields after ``layer``; reply body when OK):

==============  ====================================  ===========================================
0x01 IDENTIFY   --                                    "TTFS", version (u8), layers (u8),
                                                      digest (u32, ``digest``)
0x02 WRITE      mem (u8), lane (u8), addr (u24),      --
                count (u24), then count words
0x03 READ       mem, lane, addr, count as WRITE       count words
0x04 SET        reg (u8, REGISTERS), value (u32)      --
0x05 RUN        cmd (u8: 0 infer, 1 learn, 2 sweep)   -- (sent when the command is done)
0x06 STATUS     --                                    STATUS_FIELDS: the core's busy, winners,
                                                      output events, cycle, COUNTERS (u32 each)
0x07 WINNERS    --                                    n (u8), then n times f, y, x, t (u16 each)
==============  ====================================  ===========================================

Words: each memory's words are ``ceil(width / 8)`` bytes, little-endian, its width, depth and
lanes given by ``memory_map`` from the layer's layout (hw/core.py ``MEM_*`` codes; per-lane
memories take ``lane`` < lanes, the others lane 0; events and spike times are write-only, the
neuron memories and the output events read-only; the policy registers -- the map enables,
``MEM_MAP_ON``, 32 maps a word, and the window end, ``MEM_WINDOW``, one word -- are written and
read as memories too, and keep their values across commands). SET registers hold the core's
configuration inputs across commands. A RUN is answered when the core's command is done; until
then only IDENTIFY and STATUS are served, any other request gets ``BUSY``.

A refused request changes nothing. Every check -- the fields' ranges, BUSY, the CRC -- is
made before anything is written: SET and RUN act after the CRC bytes, and WRITE's words are
held in the link's write buffer (``WRITE_BUFFER_BYTES``, one block RAM) as they arrive and
copied into the memory only after the CRC has checked out. So a WRITE carries at most
``MemSpec.max_write`` words (``WRITE_BUFFER_BYTES`` // word bytes; more is ``RANGE``), and a
WRITE that is corrupted, cut short or refused leaves the memory as it was.

Errors are checked in this order: CHECKSUM, LAYER, BUSY, then MEMORY / LANE / RANGE (WRITE,
READ), REGISTER / VALUE (SET), VALUE (RUN). What cannot be framed -- an unknown opcode, a WRITE
to a missing layer or memory (its words' size is unknown), a UART framing error or overrun (a
byte lost) -- makes the link drop bytes until the line has been quiet for its timeout, then
reply ``OPCODE`` / ``LAYER`` / ``MEMORY`` / ``FRAMING``; a request cut short is answered
``TIMEOUT`` after the same quiet time. Every request gets exactly one reply.
"""
import dataclasses
import hashlib
import json
from dataclasses import dataclass

from amaranth.lib.crc import catalog

from hw import core as hc
from hw.channel_enable import WORD_BITS as ENABLE_WORD_BITS
from hw.channel_enable import enable_words
from hw.common import bits
from hw.integrate import event_layout
from cycles.core import COUNTERS, network_layouts
from cycles.layout import PoolLayout
from cycles.layout import EngineLayout
from cycles.learning import REGISTERS as LEARNING_REGISTERS, LearningParams

MAGIC = b"TTFS"
VERSION = 4          # 2: the policy registers (MEM_MAP_ON, MEM_WINDOW); 3: WRITE buffered;
                     # 4: CRC-16 in place of the 8-bit checksum
WRITE_BUFFER_BYTES = 512     # a WRITE's payload, held until its checksum: one iCE40 / ECP5 block RAM

OP_IDENTIFY, OP_WRITE, OP_READ, OP_SET, OP_RUN, OP_STATUS, OP_WINNERS = range(1, 8)
OPCODES = {OP_IDENTIFY: "IDENTIFY", OP_WRITE: "WRITE", OP_READ: "READ", OP_SET: "SET",
           OP_RUN: "RUN", OP_STATUS: "STATUS", OP_WINNERS: "WINNERS"}

# The fields after the opcode, (name, bytes), in order.
_MEM_ARGS = (("layer", 1), ("mem", 1), ("lane", 1), ("addr", 3), ("count", 3))
ARGS = {OP_IDENTIFY: (("layer", 1),), OP_WRITE: _MEM_ARGS, OP_READ: _MEM_ARGS,
        OP_SET: (("layer", 1), ("reg", 1), ("value", 4)), OP_RUN: (("layer", 1), ("cmd", 1)),
        OP_STATUS: (("layer", 1),), OP_WINNERS: (("layer", 1),)}
MAX_ARG_BYTES = max(sum(n for _, n in a) for a in ARGS.values())
SERVED_WHILE_BUSY = (OP_IDENTIFY, OP_STATUS)

# The core's configuration inputs, SET's register ids in this order.
REGISTERS = ("threshold", "n_events", *LEARNING_REGISTERS)
CMDS = {"infer": hc.CMD_INFER, "learn": hc.CMD_LEARN, "sweep": hc.CMD_SWEEP}

OK = 0
ERRORS = {
    1: ("OPCODE", "unknown opcode"),
    2: ("LAYER", "no such layer in this bitstream"),
    3: ("MEMORY", "no such memory, or not readable / writable this way on this layer"),
    4: ("LANE", "lane out of range (per-lane memories: 0 .. lanes - 1, the others: 0)"),
    5: ("RANGE", "count 0, addr + count past the memory's depth, or a WRITE of more words than "
                 "the link's write buffer holds (MemSpec.max_write)"),
    6: ("BUSY", "a command is running: only IDENTIFY and STATUS are served"),
    7: ("REGISTER", "no such register"),
    8: ("VALUE", "value out of range for the register, or unknown command"),
    9: ("CHECKSUM", "the request's CRC-16 (its last two bytes) does not match its bytes"),
    10: ("TIMEOUT", "the request stopped before its end (line quiet for the link's timeout)"),
    11: ("FRAMING", "a byte was lost on the UART: framing error (stop bit low: baud rate, noise) "
                    "or receive overrun"),
}
ERR = {name: code for code, (name, _) in ERRORS.items()}

STATUS_FIELDS = (("busy", 1), ("n_winners", 1), ("n_out", 4), ("cycle", 4),
                 *((name, 4) for name in COUNTERS))
WINNER_FIELDS = (("f", 2), ("y", 2), ("x", 2), ("t", 2))
IDENTIFY_BYTES = len(MAGIC) + 1 + 1 + 4


CRC = catalog.CRC16_IBM_SDLC(data_width=8)     # CRC-16/X-25, a byte at a time
CRC_BYTES = 2


def crc(frame: bytes) -> bytes:
    """The CRC bytes that end a frame whose other bytes are ``frame`` (little-endian)."""
    return CRC.compute(frame).to_bytes(CRC_BYTES, "little")


def crc_matches(frame: bytes) -> bool:
    """Whether the last ``CRC_BYTES`` of ``frame`` are the CRC of the bytes before them."""
    return len(frame) > CRC_BYTES and crc(frame[:-CRC_BYTES]) == frame[-CRC_BYTES:]


def word_bytes(width: int) -> int:
    return -(-width // 8)


@dataclass(frozen=True)
class MemSpec:
    """One of a layer core's memories as the link serves it."""
    name: str
    width: int          # bits of a word (ceil(width / 8) bytes on the wire)
    depth: int          # words per lane
    lanes: int          # P for per-lane memories, else 1
    writable: bool
    readable: bool

    @property
    def nbytes(self) -> int:
        return word_bytes(self.width)

    @property
    def max_write(self) -> int:
        """The most words one WRITE carries: what the link's write buffer holds."""
        return WRITE_BUFFER_BYTES // self.nbytes


def memory_map(lay: EngineLayout, lc) -> dict[int, MemSpec]:
    """The memories of the layer core of ``lay`` (hw/core.py ``MEM_*``) that the link serves,
    sized from the layout. OUT_EVENTS exists only on layers with pooling."""
    P, G, T = lay.lanes, lay.groups, lay.time_steps
    n = G * lay.npos
    out = {hc.MEM_EVENTS: MemSpec("events", event_layout(lay).size, lay.max_events, 1, True, False),
           hc.MEM_WEIGHTS: MemSpec("weights", lay.weight_bits, lay.rows * G, P, True, True),
           hc.MEM_MASKS: MemSpec("masks", G, lay.rows, P, True, True),
           hc.MEM_ROW_ANY: MemSpec("row_any", lay.kernel ** 2, lay.channels, P, True, True),
           hc.MEM_MAP_ROWS: MemSpec("map_rows", 32, lay.maps * lay.map_words, 1, True, True),
           hc.MEM_TIMES: MemSpec("times", bits(T), lay.channels * lay.side_in ** 2, 1, True, False),
           hc.MEM_POTENTIALS: MemSpec("potentials", lay.potential_bits, n, P, False, True),
           hc.MEM_FIRE: MemSpec("fire", bits(T), n, P, False, True),
           hc.MEM_VFIRE: MemSpec("v_fire", lay.potential_bits, n, P, False, True),
           hc.MEM_MAP_ON: MemSpec("map_on", min(lay.maps, ENABLE_WORD_BITS), enable_words(lay.maps),
                                  1, True, True),
           hc.MEM_WINDOW: MemSpec("window", bits(T), 1, 1, True, True)}
    if lc.pool.size > 0:
        pl = PoolLayout.from_config(lay, lc)
        out[hc.MEM_OUT_EVENTS] = MemSpec("out_events", event_layout(pl.next_format()).size,
                                         pl.max_events, 1, False, True)
    return out


def register_limits(lay: EngineLayout, formats) -> dict[str, int]:
    """The largest value SET accepts for each register of a layer."""
    return {"threshold": (1 << lay.potential_bits) - 1, "n_events": lay.max_events,
            **LearningParams.limits(lay.weight_bits, formats.rate_frac_bits)}


def select_layers(cfg, spec: str | None) -> list[int]:
    """``spec``: comma-separated layer names or indices; None or 'all': every layer."""
    names = [lc.name for lc in cfg.layers]
    if spec in (None, "", "all"):
        return list(range(len(names)))
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item in names:
            out.append(names.index(item))
        elif item.isdigit() and int(item) < len(names):
            out.append(int(item))
        else:
            raise ValueError(f"layers: {item!r} is not a layer of this config; allowed: "
                             f"{', '.join(names)} or 0..{len(names) - 1}, comma-separated, or 'all'")
    return sorted(set(out))


def built_layers(cfg, lanes: int | None, layers=None) -> tuple[list[int], list[EngineLayout], list]:
    """The network layers a bitstream holds (``layers``: their indices, default all), their
    layouts and configs; a request's ``layer`` field is the position in this list."""
    ids = list(range(len(cfg.layers))) if layers is None else sorted(set(layers))
    if not ids or not all(0 <= i < len(cfg.layers) for i in ids):
        raise ValueError(f"layers {layers}: choose among 0 .. {len(cfg.layers) - 1}")
    every = network_layouts(cfg, lanes)
    return ids, [every[i] for i in ids], [cfg.layers[i] for i in ids]


def hardware_description(layouts, formats, layers) -> dict:
    """What a bitstream's cores are built for: the digest's input."""
    return {"version": VERSION, "formats": dataclasses.asdict(formats),
            "layouts": [dataclasses.asdict(lay) for lay in layouts],
            "layers": [{"name": lc.name, "winners": lc.winners, "inhibition_radius": lc.inhibition_radius,
                        "pointwise_inhibition": lc.pointwise_inhibition,
                        "pool": [lc.pool.size, lc.pool.stride]} for lc in layers]}


def digest(layouts, formats, layers) -> int:
    """32 bits of the SHA-256 of ``hardware_description``: the host refuses a bitstream whose
    digest differs from the one of the config and lanes it was asked to use."""
    text = json.dumps(hardware_description(layouts, formats, layers), sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def error_name(code: int) -> str:
    return ERRORS.get(code, (f"unknown error {code}", ""))[0]
