"""The layer core's host driven from a script inside the simulation: no Python per cycle or step.

Driving a core from cocotb costs a trip through the simulator's VPI for every host write, every
word read back and every register, and a wake-up of Python per command: with the small
commands of random configurations that took nearly all of a checked co-simulation's time.
``HostScript`` wraps the layer core (hw/core.py) for simulation only and plays a script, one
word a cycle (``ScriptFormat``; built with ``Script``):

* WRITE a word into a memory (the host write port: ``wr_en``, ``wr_mem``, ``wr_lane``,
  ``wr_addr``, ``wr_data``);
* READ a word (``rd_mem``, ``rd_lane``, ``rd_addr``) and compare it with the expected word when
  it is on ``rd_data``, ``read_latency`` cycles later;
* SET one of the core's configuration registers (``REGISTERS``: threshold, event count, the
  learning registers), held by the script's player;
* RUN a command: ``start`` with ``cmd`` for a cycle, then wait for ``done`` at most the word's
  cycle limit (``sim.stall.cycle_limit`` of the cycle model's cycles; past it the script stops
  with a stall);
* PORT: compare an output (``PORTS``: the performance counters, the output event count, the
  winner count) with the expected value; WINNER: compare winner ``idx`` (``win_idx`` ->
  ``win_f``, ``win_y``, ``win_x``, ``win_t``) with the expected one;
* END.

Pulsing ``scr_go`` plays the script from word ``scr_base``; ``scr_done`` toggles when its END has
passed through the read pipeline. The first comparison that fails (or a stall) raises
``scr_fail``, keeps the word's index (``scr_fail_at``) and what was seen (``scr_seen``: the word
read, the output, the winner, or the cycles waited), and stops the script. ``Script.explain``
turns that into the message of a ``sim.compare.Divergence`` or a ``sim.stall.StallError`` in the
Python that built the script: the simulator's process needs none of the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from cycles.core import COUNTERS
from cycles.learning import REGISTERS as LEARNING_REGISTERS
from sim.capture import rom_reader

END, WRITE, READ, SET, RUN, PORT, WINNER = range(7)
IDLE = 7                # the kind seen while no script runs
KIND_BITS = 3
HOST_PORTS = ("wr_en", "wr_mem", "wr_lane", "wr_addr", "wr_data", "rd_mem", "rd_lane", "rd_addr",
              "start", "cmd", "win_idx")
REGISTERS = ("threshold", "n_events", *LEARNING_REGISTERS)
PORTS = (*COUNTERS, "n_out", "n_winners")
WINNER_FIELDS = ("win_f", "win_y", "win_x", "win_t")


@dataclass(frozen=True)
class ScriptFormat:
    """A script word: kind, memory (RUN: the command), lane, address (SET: the register, PORT:
    the output, WINNER: its index), data (the word written or expected, SET's value, RUN's
    cycle limit), least significant first."""
    mem_w: int
    lane_w: int
    addr_w: int
    data_w: int

    @classmethod
    def of(cls, block) -> ScriptFormat:
        return cls(len(block.wr_mem), len(block.wr_lane), block.addr_w,
                   max(32, len(block.wr_data), len(block.rd_data),
                       sum(len(getattr(block, n)) for n in WINNER_FIELDS)))

    @property
    def fields(self) -> tuple[tuple[str, int], ...]:
        return (("kind", KIND_BITS), ("mem", self.mem_w), ("lane", self.lane_w),
                ("addr", max(self.addr_w, (max(len(REGISTERS), len(PORTS)) - 1).bit_length())),
                ("data", self.data_w))

    @property
    def width(self) -> int:
        return sum(w for _, w in self.fields)

    def word(self, kind: int, mem: int = 0, lane: int = 0, addr: int = 0, data: int = 0) -> int:
        out, at = 0, 0
        for (name, w), v in zip(self.fields, (kind, mem, lane, addr, data)):
            if not 0 <= int(v) < 1 << w:
                raise ValueError(f"script word: {name} {v} does not fit {w} bits")
            out |= int(v) << at
            at += w
        return out

    def unpack(self, word: int) -> dict[str, int]:
        out, at = {}, 0
        for name, w in self.fields:
            out[name] = word >> at & ((1 << w) - 1)
            at += w
        return out

    def slices(self, word: Signal) -> dict:
        out, at = {}, 0
        for name, w in self.fields:
            out[name] = word[at:at + w]
            at += w
        return out


class HostScript(wiring.Component):
    """``block`` (a LayerCore) with its ports, plus ``scr_base``, ``scr_go`` (in),
    ``scr_done``, ``scr_fail``, ``scr_fail_at``, ``scr_seen`` (out): its host played from the
    script ``rom`` (a ``$readmemh`` file or a list of words, ``sim.capture.rom_reader``) of
    ``depth`` words. The block's host inputs (``HOST_PORTS``, ``REGISTERS``) come from the
    script only."""

    def __init__(self, block: wiring.Component, rom: Path | str | list[int], depth: int):
        self.block, self.rom, self.depth = block, rom, depth
        self.fmt = ScriptFormat.of(block)
        members = dict(block.signature.members)
        members.update(scr_base=In(range(depth)), scr_go=In(1), scr_done=Out(1), scr_fail=Out(1),
                       scr_fail_at=Out(range(depth)), scr_seen=Out(self.fmt.data_w))
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = block = self.block
        driven = set(HOST_PORTS) | set(REGISTERS)
        for name, member in block.signature.members.items():
            if member.flow == Out:
                m.d.comb += getattr(self, name).eq(getattr(block, name))
            elif name not in driven:
                m.d.comb += getattr(block, name).eq(getattr(self, name))

        word, index = Signal(self.fmt.width), Signal(range(self.depth))
        running, waiting = Signal(), Signal()
        waited = Signal(self.fmt.data_w)
        m.submodules.script = rom_reader(self.rom, self.fmt.width, self.depth, index, word)
        f = self.fmt.slices(word)
        kind = Signal(KIND_BITS)
        m.d.comb += kind.eq(Mux(running, f["kind"], IDLE))
        regs = {name: Signal.like(getattr(block, name), name=f"scr_{name}") for name in REGISTERS}
        m.d.comb += [getattr(block, name).eq(r) for name, r in regs.items()]
        m.d.comb += [block.wr_en.eq(kind == WRITE), block.wr_data.eq(f["data"]),
                     *(getattr(block, f"{port}_{name}").eq(f[name])
                       for port in ("wr", "rd") for name in ("mem", "lane", "addr")),
                     block.cmd.eq(f["mem"]), block.start.eq((kind == RUN) & ~waiting),
                     block.win_idx.eq(f["addr"])]

        # What is compared now (PORT, WINNER) and what comes back from a READ later.
        now_seen = Signal(self.fmt.data_w)
        with m.Switch(f["addr"]):
            for i, name in enumerate(PORTS):
                with m.Case(i):
                    with m.If(kind == PORT):
                        m.d.comb += now_seen.eq(getattr(block, name))
        with m.If(kind == WINNER):
            m.d.comb += now_seen.eq(Cat(*(getattr(block, n) for n in WINNER_FIELDS)))
        now_bad = ((kind == PORT) | (kind == WINNER)) & (now_seen != f["data"])
        stage = Cat(kind == READ, kind == END, f["data"], index)
        for i in range(block.read_latency):   # a READ's word is on rd_data this much later
            nxt = Signal(len(stage), name=f"scr_stage{i}")
            m.d.sync += nxt.eq(stage)
            stage = nxt
        valid, end = stage[0], stage[1]
        expected, at = stage[2:2 + self.fmt.data_w], stage[2 + self.fmt.data_w:]
        read_bad = valid & (block.rd_data != expected)
        stall = waiting & ~block.done & (waited == f["data"])

        with m.If(self.scr_go):
            m.d.sync += [index.eq(self.scr_base), running.eq(1), self.scr_fail.eq(0),
                         waiting.eq(0)]
        with m.Elif(running & ~self.scr_fail):
            with m.Switch(kind):
                with m.Case(SET):
                    with m.Switch(f["addr"]):
                        for i, r in enumerate(regs.values()):
                            with m.Case(i):
                                m.d.sync += r.eq(f["data"])
                with m.Case(RUN):
                    m.d.sync += [waiting.eq(1), waited.eq(waited + 1)]
                    with m.If(~waiting):
                        m.d.sync += waited.eq(0)
                    with m.Elif(block.done):
                        m.d.sync += waiting.eq(0)
                with m.Case(END):
                    m.d.sync += running.eq(0)
            with m.If((kind != RUN) | (waiting & block.done)):
                m.d.sync += index.eq(index + 1)
        with m.If(end):
            m.d.sync += self.scr_done.eq(~self.scr_done)
        with m.If(~self.scr_fail):                   # the first difference stops the script
            with m.If(read_bad):
                m.d.sync += [self.scr_fail.eq(1), self.scr_fail_at.eq(at),
                             self.scr_seen.eq(block.rd_data), running.eq(0)]
            with m.Elif(now_bad | stall):
                m.d.sync += [self.scr_fail.eq(1), self.scr_fail_at.eq(index),
                             self.scr_seen.eq(Mux(stall, waited, now_seen)), running.eq(0)]
        return m


class Script:
    """A script's words for ``HostScript`` around ``block``, and the context of each part (the
    step and command a word belongs to) to name a difference with."""

    def __init__(self, block):
        self.block, self.fmt = block, ScriptFormat.of(block)
        self.words: list[int] = []
        self._parts: list[tuple[int, dict]] = []
        self.runs: dict[int, tuple[str, int]] = {}      # RUN's index: command, expected cycles

    def part(self, context: dict) -> int:
        """What follows belongs to ``context``; returns the index of its first word."""
        self._parts.append((len(self.words), dict(context)))
        return len(self.words)

    def context_at(self, i: int) -> dict:
        return next(c for start, c in reversed(self._parts) if start <= i)

    def _add(self, *args):
        self.words.append(self.fmt.word(*args))

    def write(self, mem: int, lane: int, words) -> None:
        for a, w in enumerate(words):
            self._add(WRITE, mem, lane, a, int(w))

    def read(self, mem: int, lane: int, expected) -> None:
        for a, w in enumerate(expected):
            self._add(READ, mem, lane, a, int(w))

    def set(self, name: str, value: int) -> None:
        self._add(SET, 0, 0, REGISTERS.index(name), int(value))

    def run(self, cmd: int, name: str, cycles: int) -> None:
        from sim.stall import cycle_limit
        self.runs[len(self.words)] = (name, cycles)
        self._add(RUN, cmd, 0, 0, cycle_limit(cycles))

    def port(self, name: str, value: int) -> None:
        self._add(PORT, 0, 0, PORTS.index(name), int(value))

    def winner(self, idx: int, f: int, y: int, x: int, t: int) -> None:
        value, at = 0, 0
        for v, n in zip((f, y, x, t), WINNER_FIELDS):
            value |= int(v) << at
            at += len(getattr(self.block, n))
        self._add(WINNER, 0, 0, idx, value)

    def end(self) -> None:
        self._add(END)

    def explain(self, at: int, seen: int, memory_names: dict[int, str]) -> str:
        """The message of the failure ``HostScript`` reported at word ``at``, seeing ``seen``."""
        from sim.compare import Divergence
        from sim.stall import StallError
        w, ctx = self.fmt.unpack(self.words[at]), self.context_at(at)
        if w["kind"] == RUN:
            name, cycles = self.runs[at]
            return str(StallError(name, seen, cycles, ctx))
        if w["kind"] == PORT:
            name = PORTS[w["addr"]]
            return f"{name}: expected {w['data']}, seen {seen} [{ctx}]"
        if w["kind"] == WINNER:
            def fields(v):
                out = []
                for n in WINNER_FIELDS:
                    width = len(getattr(self.block, n))
                    out.append(v & ((1 << width) - 1))
                    v >>= width
                return tuple(out)
            return str(Divergence("winners", w["addr"], None, fields(w["data"]), fields(seen), ctx))
        name = memory_names.get(w["mem"], f"memory {w['mem']}")
        return str(Divergence(name, w["addr"], None, w["data"], seen,
                              dict(ctx, lane=w["lane"], address=w["addr"])))
