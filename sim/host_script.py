"""The layer core's host interface played from a script inside the simulation.

Loading a core one host write a cycle from cocotb, and reading every memory back one word at a
time, costs a trip through the simulator's VPI per cycle: it took most of a checked
co-simulation's time. ``HostScript`` wraps a block that has the layer core's host ports (the
write port ``wr_en``, ``wr_mem``, ``wr_lane``, ``wr_addr``, ``wr_data``; the read port
``rd_mem``, ``rd_lane``, ``rd_addr`` -> ``rd_data``, ``read_latency`` cycles later) for
simulation only. Its script is a ROM of words (``ScriptFormat``): WRITE a word to a memory,
READ a word and compare it with the expected one, END. Pulsing ``scr_go`` plays the script from
the word ``scr_base``, one word a cycle, the host ports taken from the script meanwhile; when
its END has passed through the read pipeline ``scr_done`` toggles. The first read that differs
raises ``scr_fail`` (until the next ``scr_go``) and keeps its word index (``scr_fail_at``) and
the word read (``scr_seen``). The cocotb side (``play``) sleeps until ``scr_done`` toggles and
names the memory, lane, address, expected and seen word of a difference
(``sim.compare.Divergence``). The same memories and words as before are written and compared:
only who walks the addresses has changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sim.capture import rom_reader

END, WRITE, READ = range(3)
KIND_BITS = 2
HOST_PORTS = ("wr_en", "wr_mem", "wr_lane", "wr_addr", "wr_data", "rd_mem", "rd_lane", "rd_addr")


@dataclass(frozen=True)
class ScriptFormat:
    """A script word: kind (END, WRITE, READ), memory, lane, address, data (the word written,
    or the word a READ expects), least significant first."""
    mem_w: int
    lane_w: int
    addr_w: int
    data_w: int

    @classmethod
    def of(cls, block) -> ScriptFormat:
        return cls(len(block.wr_mem), len(block.wr_lane), block.addr_w,
                   max(len(block.wr_data), len(block.rd_data)))

    @property
    def fields(self) -> tuple[tuple[str, int], ...]:
        return (("kind", KIND_BITS), ("mem", self.mem_w), ("lane", self.lane_w),
                ("addr", self.addr_w), ("data", self.data_w))

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

    def writes(self, mem: int, lane: int, words) -> list[int]:
        """WRITE ``words`` into memory ``mem`` of ``lane`` from address 0."""
        return [self.word(WRITE, mem, lane, a, w) for a, w in enumerate(words)]

    def reads(self, mem: int, lane: int, expected) -> list[int]:
        """READ memory ``mem`` of ``lane`` from address 0, each word compared with ``expected``."""
        return [self.word(READ, mem, lane, a, w) for a, w in enumerate(expected)]


class HostScript(wiring.Component):
    """``block`` with its ports, plus ``scr_base``, ``scr_go`` (in), ``scr_done``, ``scr_fail``,
    ``scr_fail_at``, ``scr_seen`` (out): its host ports played from the script ``rom`` (a
    ``$readmemh`` file or a list of words, ``sim.capture.rom_reader``) of ``depth`` words."""

    def __init__(self, block: wiring.Component, rom: Path | str | list[int], depth: int):
        self.block, self.rom, self.depth = block, rom, depth
        self.fmt = ScriptFormat.of(block)
        members = dict(block.signature.members)
        members.update(scr_base=In(range(depth)), scr_go=In(1), scr_done=Out(1), scr_fail=Out(1),
                       scr_fail_at=Out(range(depth)), scr_seen=Out(len(block.rd_data)))
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = block = self.block
        for name, member in block.signature.members.items():
            if member.flow == Out:
                m.d.comb += getattr(self, name).eq(getattr(block, name))
            elif name not in HOST_PORTS:
                m.d.comb += getattr(block, name).eq(getattr(self, name))

        word, index, running = Signal(self.fmt.width), Signal(range(self.depth)), Signal()
        m.submodules.script = rom_reader(self.rom, self.fmt.width, self.depth, index, word)
        f = self.fmt.slices(word)
        with m.If(running):
            m.d.comb += [block.wr_en.eq(f["kind"] == WRITE),
                         *(getattr(block, f"{port}_{name}").eq(f[name])
                           for port in ("wr", "rd") for name in ("mem", "lane", "addr")),
                         block.wr_data.eq(f["data"])]
        with m.Else():
            m.d.comb += [getattr(block, name).eq(getattr(self, name)) for name in HOST_PORTS]

        with m.If(self.scr_go):
            m.d.sync += [index.eq(self.scr_base), running.eq(1), self.scr_fail.eq(0)]
        with m.Elif(running):
            m.d.sync += index.eq(index + 1)
            with m.If(f["kind"] == END):
                m.d.sync += running.eq(0)

        # A READ's word is on rd_data read_latency cycles after its address: its expected word,
        # index and the END mark travel down a pipeline of that length beside it.
        stage = Cat(running & (f["kind"] == READ), running & (f["kind"] == END), f["data"], index)
        for i in range(block.read_latency):
            nxt = Signal(len(stage), name=f"scr_stage{i}")
            m.d.sync += nxt.eq(stage)
            stage = nxt
        valid, end = stage[0], stage[1]
        expected = stage[2:2 + self.fmt.data_w]
        at = stage[2 + self.fmt.data_w:]
        with m.If(valid & ~self.scr_fail & (block.rd_data != expected)):
            m.d.sync += [self.scr_fail.eq(1), self.scr_fail_at.eq(at),
                         self.scr_seen.eq(block.rd_data)]
        with m.If(end):
            m.d.sync += self.scr_done.eq(~self.scr_done)
        return m


async def play(bus, fmt: ScriptFormat, script: list[int], base: int, names: dict[int, str],
               context: dict, period_ns: int = 10) -> None:
    """cocotb: play the script from word ``base`` (to its END) and wait for it; raises
    AssertionError naming the first read that differs (``names``: memory codes to names),
    StallError if the script has not ended within ``sim.stall.cycle_limit`` of its length."""
    from cocotb.triggers import First, ReadOnly, Timer

    from sim.compare import Divergence
    from sim.stall import StallError, cycle_limit
    dut = bus.dut
    end = script.index(fmt.word(END), base)
    bus.set("scr_base", base)
    bus.set("scr_go", 1)
    await bus.tick()
    bus.set("scr_go", 0)
    expected = end - base + 1 + bus.input_latency + 2
    timeout = Timer(cycle_limit(expected) * period_ns, "ns")
    if await First(dut.scr_done.value_change, timeout) is timeout:
        raise StallError("host script", cycle_limit(expected), expected, context)
    await ReadOnly()
    failed = bool(int(dut.scr_fail.value))
    if failed:
        w = fmt.unpack(script[int(dut.scr_fail_at.value)])
        d = Divergence(names.get(w["mem"], f"memory {w['mem']}"), w["addr"], None, w["data"],
                       int(dut.scr_seen.value), dict(context, lane=w["lane"], address=w["addr"]))
    await bus.tick()                          # out of the read-only phase
    if failed:
        raise AssertionError(str(d))
