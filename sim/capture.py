"""Trace capture: the block's trace records buffered in the simulated design, read in bursts.

Reading the trace ports from Python every cycle caps a checked co-simulation at about 10 k cycles
a second: each read is a round trip through the simulator's VPI. ``TraceCapture`` wraps a block
for simulation only (it is test-bench hardware, never synthesized with the core): it has the
block's ports plus a buffer of ``depth`` records. Every cycle in which the block's trace is valid,
the record (the cycle stamp and every trace field, each field zeroed when its event is absent)
goes into the next buffer slot; when the last slot is filled ``cap_flip`` toggles, and when the
pass's final record (``tr_done``) is written ``cap_last`` toggles. The cocotb side sleeps until
one of them toggles and then reads the whole buffer as one wide value (``cap_words``, slot 0 in
the least significant bits): one VPI read per ``depth`` records.

The expected trace is packed into the same words before the pass starts (``TraceFormat.pack``),
so checking a full buffer is one comparison of two integers; only when they differ are the
records unpacked and handed to ``sim.compare.first_trace_divergence``, which names the first
differing record, its cycle and the context. The records are the same tuples the model predicts
(``cycles/integrate.py``), so the per-cycle driver (``TraceFormat.records``, Amaranth's simulator)
and the burst reader share one decoding.

``TraceCheck`` goes one step further (the integrate engine uses it): the expected words are in a
ROM of the simulated design, read from a file at time zero, and the design compares every
record as it is made; cocotb wakes only when a record differs (it then reads that one record)
or when the pass's last record is in. With the clock generated inside the simulation
(``sim.runner.run(clock=...)``), a checked pass costs no Python and no VPI per cycle.
"""

from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from amaranth import (Cat, ClockDomain, ClockSignal, Instance, Module, Mux, ResetSignal, Signal,
                      unsigned)
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits


@dataclass
class TraceFormat:
    """A block's trace fields (port name, width), packed from the least significant bit.

    Subclasses say which field belongs to which event (``gated``, ``valid``), how field values
    become trace records (``records``) and back (``fields_of``).
    """
    fields: list[tuple[str, int]]

    @property
    def width(self) -> int:
        return sum(w for _, w in self.fields)

    def offsets(self) -> dict[str, tuple[int, int]]:
        out, at = {}, 0
        for name, w in self.fields:
            out[name] = (at, w)
            at += w
        return out

    # -- hardware side ----------------------------------------------------------------------------
    def gated(self, ports) -> dict[str, object]:
        """Each field as the capture stores it: zero when its event is absent this cycle."""
        raise NotImplementedError

    def valid(self, ports):
        raise NotImplementedError

    # -- software side ----------------------------------------------------------------------------
    def records(self, cycle: int, get) -> list[tuple]:
        """The trace records of one cycle, from ``get(field) -> int``."""
        raise NotImplementedError

    def fields_of(self, records: list[tuple]) -> dict[str, int]:
        """The field values of one cycle's records (the inverse of ``records``)."""
        raise NotImplementedError

    def pack_cycle(self, values: dict[str, int]) -> int:
        word = 0
        for name, (at, w) in self.offsets().items():
            v = values.get(name, 0)
            assert 0 <= v < 1 << w, f"trace field {name} = {v} does not fit {w} bits"
            word |= v << at
        return word

    def pack(self, trace: list[tuple]) -> list[int]:
        """The expected trace as capture words, one per cycle that has records."""
        ordered = sorted(trace, key=lambda r: r[0])
        return [self.pack_cycle(dict(self.fields_of(list(recs)), cycle=cycle))
                for cycle, recs in groupby(ordered, key=lambda r: r[0])]

    def unpack(self, words: list[int]) -> list[tuple]:
        offs = self.offsets()
        out = []
        for word in words:
            def get(name, word=word):
                at, w = offs[name]
                return word >> at & ((1 << w) - 1)
            out += self.records(get("cycle"), get)
        return out


INPUT_LATENCY = 1     # cycles from a TraceCapture input to the block's port


def _wrap(m: Module, outer: wiring.Component, block: wiring.Component) -> None:
    """``block`` inside ``outer``: the design's clock domain, the reset and every input of the
    block through a register, the outputs straight through."""
    # The reset through a register: Amaranth computes every register's next value
    # combinationally from the reset, and a reset straight from a top-level input would make
    # Verilator evaluate all of that at every evaluation.
    m.domains.sync = ClockDomain("sync")
    m.domains.port = ClockDomain("port", reset_less=True)
    rst = Signal(init=1)
    m.d.comb += [ClockSignal("sync").eq(outer.clk), ClockSignal("port").eq(outer.clk),
                 ResetSignal("sync").eq(rst)]
    m.d.port += rst.eq(outer.rst)
    m.submodules.block = block
    ports = {path: value for path, _, value in outer.signature.flatten(outer)}
    for path, member, inner in block.signature.flatten(block):   # ports of sub-interfaces too
        o = ports[path]
        if member.flow == Out:
            m.d.comb += o.eq(inner)
        else:                                # INPUT_LATENCY; not reset: a write right
            m.d.port += inner.eq(o)          # after reset counts


def _record(fmt: TraceFormat, block):
    gated = fmt.gated(block)
    record = Cat(*(gated[name] if name != "cycle" else block.cycle for name, _ in fmt.fields))
    assert len(record) == fmt.width
    return record


def _members(block: wiring.Component, extra: dict) -> dict:
    members = dict(block.signature.members)
    clash = set(extra) & set(members)
    if clash:
        raise ValueError(f"the block already has ports {sorted(clash)}")
    members.update(extra, clk=In(1), rst=In(1))
    return members


class TraceCapture(wiring.Component):
    """``block`` with its ports, plus ``cap_words`` / ``cap_count`` / ``cap_flip`` / ``cap_last``:
    its trace records since ``start``, ``depth`` at a time (module docstring).

    The block's inputs pass through a register: every input reaches the block ``INPUT_LATENCY``
    cycle later (the drivers wait for it: ``CocotbBus(input_latency=...)``). Verilator evaluates
    all logic fed combinationally by top-level inputs at every evaluation, several times a
    cycle; behind a register that logic runs only when the registers change, which makes the
    simulation several times faster. The block's own timing, relative to its ``start``, is
    unchanged.
    """

    def __init__(self, block: wiring.Component, fmt: TraceFormat, depth: int = 64,
                 start: str = "start", last: str = "tr_done"):
        self.block, self.fmt, self.depth, self._start, self._last = block, fmt, depth, start, last
        super().__init__(wiring.Signature(_members(block, dict(
            cap_words=Out(depth * fmt.width), cap_count=Out(bits(depth)), cap_flip=Out(1),
            cap_last=Out(1)))))

    def elaborate(self, platform):
        m = Module()
        block = self.block
        _wrap(m, self, block)
        record = _record(self.fmt, block)
        slots = [Signal(self.fmt.width, name=f"slot{i}") for i in range(self.depth)]
        count = self.cap_count
        with m.If(getattr(block, self._start)):
            m.d.sync += count.eq(0)
        with m.Elif(self.fmt.valid(block)):
            for i, slot in enumerate(slots):     # one enable per slot: no wide shift per record
                with m.If(count == i):
                    m.d.sync += slot.eq(record)
            with m.If(count == self.depth - 1):
                m.d.sync += [count.eq(0), self.cap_flip.eq(~self.cap_flip)]
            with m.Else():
                m.d.sync += count.eq(count + 1)
            with m.If(getattr(block, self._last)):
                m.d.sync += self.cap_last.eq(~self.cap_last)
        m.d.comb += self.cap_words.eq(Cat(*slots))
        return m


TRACE_ROM_VERILOG = """\
// The expected trace of sim.capture.TraceCheck: words read from a hex file at time 0.
module trace_rom #(parameter WIDTH = 1, parameter DEPTH = 1, parameter ABITS = 1,
                   parameter FILE = "") (input [ABITS-1:0] addr, output [WIDTH-1:0] data);
  reg [WIDTH-1:0] mem [0:DEPTH-1];
  initial $readmemh(FILE, mem);
  assign data = mem[addr];
endmodule
"""


def rom_reader(rom: Path | str | list[int], width: int, depth: int, addr, data):
    """A ROM of ``depth`` words of ``width`` bits whose word ``addr`` is on ``data`` in the same
    cycle: the Verilog module ``trace_rom`` reading the ``$readmemh`` file ``rom`` at time zero
    (new words need no new build), or, for Amaranth's simulator, a memory holding the list
    ``rom``. Add it as a submodule."""
    if isinstance(rom, (str, Path)):
        return Instance("trace_rom", p_WIDTH=width, p_DEPTH=depth, p_ABITS=len(addr),
                        p_FILE=str(Path(rom).resolve()), i_addr=addr, o_data=data)
    if len(rom) > depth:
        raise ValueError(f"{len(rom)} words do not fit a ROM of {depth}")
    m = Module()
    m.submodules.words = words = memory.Memory(shape=unsigned(width), depth=depth, init=list(rom))
    rd = words.read_port(domain="comb")
    m.d.comb += [rd.addr.eq(addr), data.eq(rd.data)]
    return m


def rom_depth(n_words: int, least: int = 1024) -> int:
    """The ROM depth for ``n_words`` expected words: a power of two (at least ``least``, one
    more than the words), so that the build changes only when a case outgrows it."""
    return max(least, 1 << n_words.bit_length())


def write_rom(path: Path | str, words: list[int]) -> Path:
    """The expected words as ``$readmemh`` reads them (one hex word a line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w:x}\n" for w in words))
    return path


class TraceCheck(wiring.Component):
    """``block`` with its ports, compared with its expected trace inside the simulation.

    The expected trace is a ROM of capture words (``TraceFormat.pack``, every pass one after the
    other); ``rom`` is the path of a ``$readmemh`` file (the ROM is then the Verilog module
    ``trace_rom``, source ``TRACE_ROM_VERILOG``: the expected trace changes without rebuilding
    the simulator) or a list of words (an Amaranth memory, for Amaranth's simulator). At
    ``start`` the comparison starts at the word ``chk_base`` (an input, registered like the
    block's); every cycle with a record compares it with the next word. Ports besides the
    block's: ``cap_fail`` rises at the first record that differs (until the next ``start``),
    which ``cap_seen`` then holds, its word index in ``cap_seen_at``; ``cap_index`` is the next
    word to compare; ``cap_last`` toggles when the pass's final record (``last``) is compared.
    The cocotb side (``check_pass``) sleeps until ``cap_fail`` or ``cap_last`` changes: two VPI
    wake-ups a pass instead of one per clock edge or per buffer.
    """

    def __init__(self, block: wiring.Component, fmt: TraceFormat, rom: Path | str | list[int],
                 depth: int, start: str = "start", last: str = "tr_done"):
        self.block, self.fmt, self.rom, self.depth = block, fmt, rom, depth
        self._start, self._last = start, last
        if not isinstance(rom, (str, Path)) and len(rom) > depth:
            raise ValueError(f"{len(rom)} expected words do not fit a ROM of {depth}")
        super().__init__(wiring.Signature(_members(block, dict(
            chk_base=In(range(depth)), cap_index=Out(range(depth + 1)), cap_fail=Out(1),
            cap_seen=Out(fmt.width), cap_seen_at=Out(range(depth + 1)), cap_last=Out(1)))))

    def elaborate(self, platform):
        m = Module()
        block, w = self.block, self.fmt.width
        _wrap(m, self, block)
        base = Signal.like(self.chk_base)
        m.d.port += base.eq(self.chk_base)
        record, expected, index = _record(self.fmt, block), Signal(w), self.cap_index
        m.submodules.rom = rom_reader(self.rom, w, self.depth, index, expected)
        with m.If(getattr(block, self._start)):
            m.d.sync += [index.eq(base), self.cap_fail.eq(0)]
        with m.Elif(self.fmt.valid(block)):
            m.d.sync += index.eq(index + 1)
            with m.If(~self.cap_fail & (record != expected)):
                m.d.sync += [self.cap_fail.eq(1), self.cap_seen.eq(record),
                             self.cap_seen_at.eq(index)]
            with m.If(getattr(block, self._last)):
                m.d.sync += self.cap_last.eq(~self.cap_last)
        return m


def chunks(words: list[int], depth: int, width: int) -> list[int]:
    """Capture words grouped as the buffer holds them: ``depth`` per chunk, slot 0 lowest."""
    out = []
    for i in range(0, len(words), depth):
        value = 0
        for j, w in enumerate(words[i:i + depth]):
            value |= w << (j * width)
        out.append(value)
    return out


def expected_cycles(fmt: TraceFormat, words: list[int]) -> int:
    """The cycles of a pass whose expected trace is ``words``: it ends with its last record."""
    at, w = fmt.offsets()["cycle"]
    return (words[-1] >> at & ((1 << w) - 1)) + 1 if words else 0


class _Deadline:
    """cocotb: the simulated time left of ``limit`` cycles of ``period_ns`` from now."""

    def __init__(self, limit: int, period_ns: int):
        from cocotb.utils import get_sim_time
        self.period_ns, self.start = period_ns, get_sim_time("ns")
        self.end = self.start + limit * period_ns

    def timer(self):
        from cocotb.triggers import Timer
        from cocotb.utils import get_sim_time
        return Timer(max(self.period_ns, round(self.end - get_sim_time("ns"))), "ns")

    def cycles(self) -> int:
        from cocotb.utils import get_sim_time
        return int((get_sim_time("ns") - self.start) // self.period_ns)


def place_in_waves(d, fmt: TraceFormat, word: int, period_ns: float,
                   now_ns: float | None = None) -> None:
    """Stamp the divergence ``d`` with the simulation time of its cycle, for the waves.

    Called at the clock edge that stored ``word`` (a capture slot, or ``TraceCheck``'s differing
    word): the record was on the block's ports during the cycle before that edge, which began
    one period earlier. The block's ``cycle`` counts every cycle of a command, so any other
    cycle of the same command lies a whole number of periods away."""
    if now_ns is None:                  # (``now_ns``: that edge's time, taken by cocotb)
        from cocotb.utils import get_sim_time
        now_ns = get_sim_time("ns")
    at, w = fmt.offsets()["cycle"]
    stamp = word >> at & ((1 << w) - 1)
    d.sim_time_ns = now_ns - period_ns * (1 + stamp - d.cycle)


async def check_pass(dut, fmt: TraceFormat, expected: list[tuple], context: dict,
                     words: list[int] | None = None, period_ns: int = 10,
                     command: str = "pass") -> tuple[int, int]:
    """cocotb: compare the captured trace of the pass just started with ``expected``.

    Call right after starting the pass; ``words`` is ``fmt.pack(expected)`` when the caller
    packed it beforehand (as part of the prediction). On a ``TraceCheck`` top the words are
    already in its ROM, from the word ``chk_base`` set before the start. Returns the number of records compared
    and the cycle stamp of the last one (seen equal to the expected, bit for bit); raises
    AssertionError at the first divergence (its cycle, expected and seen records, context), and
    ``sim.stall.StallError`` naming ``command`` when the pass has not ended within
    ``sim.stall.cycle_limit`` of the expected trace's cycles.
    """
    from cocotb.triggers import First, ReadOnly

    from sim.compare import first_trace_divergence
    from sim.stall import StallError, cycle_limit
    words = fmt.pack(expected) if words is None else words
    cycles = expected_cycles(fmt, words)
    deadline = _Deadline(cycle_limit(cycles), period_ns)
    if hasattr(dut, "cap_fail"):
        return await _check_in_sim(dut, fmt, expected, context, words, deadline, command)
    depth, width = len(dut.cap_words) // fmt.width, fmt.width
    want = chunks(words, depth, width)
    flip, last = int(dut.cap_flip.value), int(dut.cap_last.value)
    k = 0

    def compare(seen: int, n: int):
        exp = want[k] if k < len(want) else 0
        n_exp = min(depth, max(0, len(words) - k * depth))
        mask = (1 << (n * width)) - 1
        if n == n_exp and (seen & mask) == exp:
            return
        slots = [seen >> (j * width) & ((1 << width) - 1) for j in range(n)]
        got = fmt.unpack(slots)
        ref = fmt.unpack(words[k * depth:k * depth + n_exp])
        d = first_trace_divergence(ref, got, context)
        if d is not None and slots:            # the newest slot was written at this clock edge
            place_in_waves(d, fmt, slots[-1], period_ns)
        raise AssertionError(str(d) if d else
                             f"trace chunk {k} differs but its records compare equal [{context}]")

    while True:
        timeout = deadline.timer()
        if await First(dut.cap_flip.value_change, dut.cap_last.value_change, timeout) is timeout:
            raise StallError(command, deadline.cycles(), cycles,
                             dict(context, records_seen=k * depth))
        await ReadOnly()
        if int(dut.cap_flip.value) != flip:
            flip ^= 1
            compare(int(dut.cap_words.value), depth)
            k += 1
        if int(dut.cap_last.value) != last:
            n = int(dut.cap_count.value)
            compare(int(dut.cap_words.value), n)     # (also fails if the pass ended early or late)
            at, w = fmt.offsets()["cycle"]                  # the pass ends with a record: done
            return len(expected), words[-1] >> at & ((1 << w) - 1)


def trace_word_divergence(fmt: TraceFormat, words: list[int], i: int, seen: int, context: dict):
    """The divergence of a ``TraceCheck`` whose word ``i`` of ``words`` differed, ``seen``
    instead, or None if their records compare equal."""
    from sim.compare import first_trace_divergence
    # The records of the words before it are the expected ones (they compared equal).
    d = first_trace_divergence(fmt.unpack(words[:i + 1]), fmt.unpack(words[:i] + [seen]), context)
    if d is not None:        # one word is compared, not the rest of the trace
        d.expected, d.seen = (f"no further record in cycle {d.cycle}"
                              if r == "end of trace" else r for r in (d.expected, d.seen))
    return d


async def _check_in_sim(dut, fmt: TraceFormat, expected: list[tuple], context: dict,
                        words: list[int], deadline: _Deadline, command: str) -> tuple[int, int]:
    """``check_pass`` on a ``TraceCheck`` top: sleep until the design reports a difference or the
    pass's last record, then read one word (the differing one) or the word count."""
    from cocotb.triggers import First, ReadOnly

    from sim.stall import StallError
    last = int(dut.cap_last.value)
    base = int(dut.chk_base.value)
    while True:
        timeout = deadline.timer()
        if await First(dut.cap_fail.value_change, dut.cap_last.value_change, timeout) is timeout:
            raise StallError(command, deadline.cycles(), expected_cycles(fmt, words),
                             dict(context, records_seen=int(dut.cap_index.value) - base))
        await ReadOnly()
        if int(dut.cap_fail.value):
            i = int(dut.cap_seen_at.value) - base
            seen = int(dut.cap_seen.value)
            d = trace_word_divergence(fmt, words, i, seen, context)
            if d is not None:
                place_in_waves(d, fmt, seen, deadline.period_ns)   # cap_fail rose at this edge
            raise AssertionError(str(d) if d else f"trace word {i} differs but its records "
                                 f"compare equal [{context}]")
        if int(dut.cap_last.value) != last:
            n = int(dut.cap_index.value) - base
            if n != len(words):      # (cannot be without a differing word first: belt and braces)
                raise AssertionError(f"the pass ended after {n} trace words, expected "
                                     f"{len(words)} [{context}]")
            at, w = fmt.offsets()["cycle"]
            return len(expected), words[-1] >> at & ((1 << w) - 1)
