"""Small pieces the hardware blocks share."""
from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2


def small_memory(platform) -> dict:
    """Attributes of a memory of a few words: LUT RAM (Yosys's memory_libmap reads ram_style),
    where its cost model would give it a whole block RAM. None on iCE40, which has no LUT RAM:
    there the attribute would leave synthesis no mapping at all."""
    from amaranth.vendor import LatticeICE40Platform
    return {} if isinstance(platform, LatticeICE40Platform) else {"ram_style": "distributed"}


def bits(n: int) -> int:
    """Width of an unsigned field holding 0 .. n."""
    return max(1, ceil_log2(n + 1))


def const_mul(x, c: int):
    """x * c for a constant c >= 0, as shifts and adds: synthesis would otherwise put a constant
    product in a DSP block, whose delay is most of a 75 MHz cycle."""
    terms = [x << i for i in range(c.bit_length()) if (c >> i) & 1]
    return sum(terms[1:], terms[0]) if terms else Const(0, 1)


def registered(m: Module, prefix: str, fields: dict) -> dict:
    """Each value of ``fields`` registered (signal ``prefix + key``, the value's shape): a
    pipeline stage of named fields."""
    out = {}
    for key, value in fields.items():
        out[key] = reg = Signal(Value.cast(value).shape(), name=f"{prefix}{key}")
        m.d.sync += reg.eq(value)
    return out


def mux_tree(sel, words):
    """``words[sel]`` as a tree of 2:1 multiplexers, one level per bit of ``sel`` (a selector
    past the end reads the last word). For a lane count that is not a power of two, synth_ecp5
    maps this far better than an ``Array`` index: MNIST's pruning checks (hw/prune.py, 10
    lanes) took 175 + 308 LUT4s with the index and take 149 + 279 (Xilinx 7: 115 + 185 LUT6s,
    now 116 + 174)."""
    level = 0
    while len(words) > 1:
        words = [Mux(sel[level], words[i + 1], words[i]) if i + 1 < len(words) else words[i]
                 for i in range(0, len(words), 2)]
        level += 1
    return words[0]


def lowest_bit(m: Module, word, name: str) -> Signal:
    """Index of the lowest set bit of ``word`` (0 when empty): a find-first-set unit."""
    idx = Signal(bits(max(1, len(word) - 1)), name=name)
    for i in reversed(range(len(word))):
        with m.If(word[i]):
            m.d.comb += idx.eq(i)
    return idx


def at_most_one_bit(word):
    """Whether ``word`` has at most one bit set, as a tree of (any, several) pairs: the same
    as ``word & (word - 1) == 0`` without its carry chain (log2 of the width deep)."""
    nodes = [(word[i], Const(0, 1)) for i in range(len(word))]
    while len(nodes) > 1:
        pairs = []
        for i in range(0, len(nodes) - 1, 2):
            (a1, s1), (a2, s2) = nodes[i], nodes[i + 1]
            pairs.append((a1 | a2, s1 | s2 | (a1 & a2)))
        nodes = pairs + ([nodes[-1]] if len(nodes) % 2 else [])
    return ~nodes[0][1]


def quotient(m: Module, value, divisor: int, q_max: int, name: str):
    """(value div divisor, value mod divisor) for value < (q_max + 1) divisor, by constant
    comparisons and a find-first-set: q is the lowest j with value < (j + 1) divisor."""
    if q_max == 0:
        return Const(0, 1), value
    below = Signal(q_max + 1, name=f"{name}_below")
    m.d.comb += below.eq(Cat(*(value < (j + 1) * divisor for j in range(q_max)), Const(1, 1)))
    q = lowest_bit(m, below, name)
    rem = Signal(range(divisor), name=f"{name}_rem")
    m.d.comb += rem.eq(value - Array(Const(j * divisor) for j in range(q_max + 1))[q])
    return q, rem


class LowestSetBit(wiring.Component):
    """``lowest_bit`` as a block of its own: the find-first-set of a skip walk (the engine's
    lanes over mask words and over an event's live rows, the STDP unit over the live-row
    bitmap), so that synthesis that keeps the hierarchy counts it (boards/resources.py:
    ``skip_logic``). A dense core would walk with a counter instead."""
    def __init__(self, width: int):
        super().__init__({"word": In(width), "index": Out(bits(max(1, width - 1)))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.index.eq(lowest_bit(m, self.word, "lowest"))
        return m


def skip_walk_bit(m: Module, word, name: str):
    """The index of the lowest set bit of ``word`` from a ``LowestSetBit`` submodule ``name``."""
    m.submodules[name] = ffs = LowestSetBit(len(word))
    m.d.comb += ffs.word.eq(word)
    return ffs.index


def skip_walk(m: Module, word, name: str):
    """One step of a skip walk over ``word``: (the index of its lowest set bit, from a
    ``LowestSetBit`` submodule ``name``; the word without that bit, the walk's next word). The
    walk visits exactly the set bits, lowest first (sim/formal.py proves it)."""
    return skip_walk_bit(m, word, name), word & (word - 1)


def busy_and_cycles(m: Module, fsm, busy: Signal, cycle: Signal) -> None:
    """``busy`` outside the FSM's IDLE state; ``cycle`` counts the busy cycles (the trace stamp).

    ``busy`` is a plain expression, not an FSM-driven comb block: Icarus leaves an ``always @*``
    whose inputs never change at X (amaranth-lang/amaranth#1629).
    """
    m.d.comb += busy.eq(~fsm.ongoing("IDLE"))
    with m.If(busy):
        m.d.sync += cycle.eq(cycle + 1)


def synapse_port(lay) -> wiring.Signature:
    """Access to one layer's synapse memories (weights, mask words, row summaries), as the block
    that borrows them sees it: it drives the addresses and write strobes, the lender returns the
    read data one cycle after the address (read ports transparent to the writes, so a
    read-modify-write of one word in back-to-back cycles sees its own update). Weights, masks
    and row summaries (each lane's own) are read in all P lanes at one address; writes name
    their lanes (``*_we``, one bit a lane).

    The integrate engine lends its memories through it while idle (``In``); the STDP unit
    borrows them (``Out``), in the core and in its stand-alone harness (hw/synapses.py)."""
    P, G, rows, kk = lay.lanes, lay.groups, lay.rows, lay.kernel ** 2
    wa, ma, ca, wb = bits(rows * G - 1), bits(rows - 1), bits(lay.channels - 1), lay.weight_bits
    return wiring.Signature({
        "w_addr": Out(wa), "w_data": In(data.ArrayLayout(wb, P)),
        "w_we": Out(P), "w_waddr": Out(wa), "w_wdata": Out(wb),
        "m_addr": Out(ma), "m_data": In(data.ArrayLayout(G, P)),
        "m_we": Out(P), "m_waddr": Out(ma), "m_wdata": Out(G),
        "ra_addr": Out(ca), "ra_data": In(data.ArrayLayout(kk, P)),
        "ra_we": Out(P), "ra_waddr": Out(ca), "ra_wdata": Out(kk),
    })


def lend_synapses(m: Module, port, lend, w_rd, w_wp, m_rd, m_wp, ra_rd, ra_wp):
    """The lender's side of ``synapse_port``: while ``lend`` is high the port's addresses drive
    the memories' read ports (``w_rd``, ``m_rd``, ``ra_rd``: one per lane); the port's write
    strobes always take the write ports (the borrower writes only while it holds them). Returns
    the read addresses the ports take otherwise, signals the caller drives: ``{"w": [one a
    lane], "m": [one a lane], "ra": [one a lane]}``."""
    own = {}
    for key, ports, addr in (("w", w_rd, port.w_addr), ("m", m_rd, port.m_addr),
                             ("ra", ra_rd, port.ra_addr)):
        own[key] = [Signal.like(addr, name=f"own_{key}_addr{l}") for l in range(len(ports))]
        for rd, mine in zip(ports, own[key]):
            m.d.comb += rd.addr.eq(Mux(lend, addr, mine))
    for l, (w, mk, ra) in enumerate(zip(w_rd, m_rd, ra_rd)):
        m.d.comb += [port.w_data[l].eq(w.data), port.m_data[l].eq(mk.data),
                     port.ra_data[l].eq(ra.data)]
    for we, addr, wdata, ports in ((port.w_we, port.w_waddr, port.w_wdata, w_wp),
                                   (port.m_we, port.m_waddr, port.m_wdata, m_wp),
                                   (port.ra_we, port.ra_waddr, port.ra_wdata, ra_wp)):
        for l, wp in enumerate(ports):
            with m.If(we[l]):
                m.d.comb += [wp.addr.eq(addr), wp.data.eq(wdata), wp.en.eq(1)]
    return own
