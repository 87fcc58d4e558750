"""Block RAM per FPGA family: what Yosys's ``memory_libmap`` maps each memory of a design to.

    python -m boards.blocks --config configs/mnist.yaml [--lanes 10] [--layers conv2]

Every ``lib.memory`` array of the elaborated design (``MemorySpec``: width, depth, its read and
write ports, their transparency, its ``ram_style`` attribute) is priced the way Yosys 0.70's
``memory_libmap`` prices it (passes/memory/memory_libmap.cc), against the RAM cells the family's
synthesis script offers it (``FAMILIES``, from the ``.txt`` libraries ``synth_ecp5``,
``synth_xilinx -family xc7`` and ``synth_ice40`` pass: ``+/lattice/brams_16kd.txt``,
``lutrams_trellis.txt``; ``+/xilinx/brams_xc4v.txt`` with ``HAS_SIZE_36``, ``lutrams_xc5v.txt``;
``+/ice40/brams.txt``):

* each candidate cell and assignment of the memory's ports to the cell's ports; read ports that
  do not fit the cell's free ports replicate the whole array (``repl_port``);
* for every base width of the cell (16Kx1 .. 512x36): the blocks for the address range
  (``mult_a``) and the data bits, the word padded to the cell's byte (9 bits) -- yosys fills a
  block's data bits with several address ranges when the word is narrower (``repl_d``);
* cost = cell cost x blocks + 0.5 per read multiplexer input bit + 0.5 per write-enable decode
  + 2 per emulated feature (transparency, read-before-write, an extra read port);
* the cheapest wins; soft logic (flip-flops) costs one per bit and wins when cheaper.

A read port shares the write port's address only when it is the same signal; a memory whose
written data has constant bits (which Yosys drops) is counted at its full width: the design
stores no such bits. ``count(design, family)`` is what the fit check (boards/bitstream.py)
compares with the board's blocks before any long step; ``synthesized`` runs Yosys up to its
memory mapping for the same count, and ``--synthesize`` compares the two per memory (every
memory of the tiny and the default network agrees: tests/boards/test_blocks.py,
docs/network-core.md).
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

from amaranth.hdl import Fragment, Shape
from amaranth.hdl._mem import MemoryInstance

# memory_libmap's weights (FACTOR_MUX, FACTOR_DEMUX, FACTOR_EMU) and its soft-logic cost per bit
FACTOR_MUX, FACTOR_DEMUX, FACTOR_EMU = 0.5, 0.5, 2
LOGIC_COST_RAM, LOGIC_COST_ROM = 1.0, 1.0 / 16


@dataclass(frozen=True)
class MemorySpec:
    """One memory array as synthesis sees it."""
    name: str
    width: int
    depth: int
    # per read port: the index of the write port whose address it shares (None: its own)
    # and whether it is transparent to the write ports (sees a write of the same cycle)
    reads: tuple[tuple[int | None, bool], ...]
    writes: int
    style: str = ""             # ram_style attribute: "", "block", "distributed", "logic"

    @property
    def bits(self) -> int:
        return self.width * self.depth


# -- the families' RAM cells (Yosys's memory libraries, reduced to what the core's memories use:
#    one clock, whole-word write enables) ------------------------------------------------------

@dataclass(frozen=True)
class Port:
    """A port group of a RAM cell: ``count`` ports of one kind."""
    kind: str                   # "sw" write, "sr" sync read, "ar" async read, "srsw", "arsw"
    count: int = 1
    widths: tuple[int, int] | None = None   # (min, max) index into the cell's widths; None: all
    rdwr: tuple[str, ...] = ()  # srsw: a read sharing the write port may see "old" / "new" data
    wrtrans_old: bool = False   # write port: another read port of the cell sees the old data


@dataclass(frozen=True)
class Cell:
    """One RAM cell (one option of a library ``ram`` definition)."""
    name: str                   # the primitive synthesis leaves (what the device counts)
    kind: str                   # "block" | "distributed"
    abits: int
    widths: tuple[int, ...]     # data widths, each doubling the last's depth-halving
    cost: float
    ports: tuple[Port, ...]
    byte: int = 0               # write-enable granule (0: the whole word)
    widthscale: float = 0       # the part of ``cost`` scaled by the data bits used
    prune_rom: bool = False     # never for a memory without write ports


DP16KD_PORTS = (Port("srsw", 2, rdwr=("new", "old")),)
ECP5 = (
    Cell("TRELLIS_DPR16X4", "distributed", 4, (4,), 4, (Port("sw"), Port("ar")), prune_rom=True),
    Cell("DP16KD", "block", 14, (1, 2, 4, 9, 18), 128, DP16KD_PORTS, byte=9),
    # pseudo-dual-port: the write port is 36 wide, reads 1 .. 36
    Cell("DP16KD", "block", 14, (1, 2, 4, 9, 18, 36), 128,
         (Port("sr"), Port("sw", widths=(5, 5))), byte=9),
)
_TDP = dict(rdwr=("new", "old"), wrtrans_old=True)
XC7 = (
    # LUT RAM (lutrams_xc5v.txt): the dual-, simple-dual- and quad-port options (the single-port
    # one needs the read at the write address); the primitive each becomes (lutrams_xc5v_map.v)
    *(Cell(prim, "distributed", ab, (w,), 8, (Port("arsw"), Port("ar")), widthscale=8,
           prune_rom=True) for ab, w, prim in ((5, 4, "RAM32M"), (6, 2, "RAM64X1D"),
                                                (7, 1, "RAM128X1D"))),
    *(Cell(prim, "distributed", ab, (w,), 8, (Port("sw"), Port("ar")), widthscale=7,
           prune_rom=True) for ab, w, prim in ((5, 6, "RAM32M"), (6, 3, "RAM64M"))),
    *(Cell(prim, "distributed", ab, (w,), 7, (Port("arsw"), Port("ar", 3)), widthscale=7,
           prune_rom=True) for ab, w, prim in ((5, 2, "RAM32M"), (6, 1, "RAM64M"))),
    # block RAM (brams_xc4v.txt, HAS_SIZE_36): true dual port as RAMB18E1 / RAMB36E1, and simple
    # dual port up to 36 / 72 bits wide
    Cell("RAMB18E1", "block", 14, (1, 2, 4, 9, 18), 129, (Port("srsw", 2, **_TDP),), byte=9),
    Cell("RAMB36E1", "block", 15, (1, 2, 4, 9, 18, 36), 257, (Port("srsw", 2, **_TDP),), byte=9),
    Cell("RAMB18E1", "block", 14, (1, 2, 4, 9, 18, 36), 129,
         (Port("sw", wrtrans_old=True), Port("sr")), byte=9),
    Cell("RAMB36E1", "block", 15, (1, 2, 4, 9, 18, 36, 72), 257,
         (Port("sw", wrtrans_old=True), Port("sr")), byte=9),
)
# iCE40 (brams.txt): 4 Kbit blocks, no LUT RAM; without byte enables the write port is at most
# 8 bits wide, with them (HAS_BE) 16
ICE40 = (
    Cell("SB_RAM40_4K", "block", 11, (2, 4, 8, 16), 64, (Port("sw", widths=(0, 2)), Port("sr"))),
    Cell("SB_RAM40_4K", "block", 11, (2, 4, 8, 16), 64, (Port("sw", widths=(3, 3)), Port("sr")),
         byte=1),
)
FAMILIES = {"ecp5": ECP5, "xc7": XC7, "ice40": ICE40}
FAMILY_NAMES = {"ecp5": "ECP5", "xc7": "Xilinx 7-series", "ice40": "iCE40"}
# What a family's block RAM counts in: ECP5 DP16KD; Xilinx 7 RAMB18 halves (RAMB36 = 2).
UNITS = {"ecp5": {"DP16KD": 1}, "xc7": {"RAMB18E1": 1, "RAMB36E1": 2},
         "ice40": {"SB_RAM40_4K": 1}}
UNIT_NAME = {"ecp5": "DP16KD", "xc7": "RAMB18", "ice40": "SB_RAM40_4K"}


@dataclass
class Mapping:
    """What one memory becomes: ``cells`` of ``cell`` (None: flip-flops), at ``cost`` (the
    cells memory_libmap emits; its LUT RAM techmap may split one further, a 64 x 2 dual-port
    cell into two RAM64X1D)."""
    memory: MemorySpec
    cell: str | None
    kind: str                    # "block" | "distributed" | "logic"
    cells: int
    cost: float
    geometry: str = ""           # e.g. "2048x9"

    def blocks(self, family: str) -> int:
        """Block RAM units of the family (DP16KD; RAMB18 halves)."""
        return self.cells * UNITS[family].get(self.cell, 0) if self.kind == "block" else 0


# -- memory_libmap's choice ------------------------------------------------------------------------

def _assignments(mem: MemorySpec, cell: Cell):
    """Every way to put the memory's ports on the cell's: (write groups, read placements) where a
    read placement is ("shared", write index, rdwr) or ("own", group index)."""
    writable = [g for g, p in enumerate(cell.ports) if p.kind in ("sw", "srsw", "arsw")]
    for wgroups in product(writable, repeat=mem.writes):
        used = {g: wgroups.count(g) for g in set(wgroups)}
        if any(n > cell.ports[g].count for g, n in used.items()):
            continue
        choices = []
        for share, _ in mem.reads:
            opts = [("own", g) for g, p in enumerate(cell.ports)
                    if p.kind in ("sr", "ar", "srsw", "arsw") and cell.ports[g].count > used.get(g, 0)]
            if share is not None and share < mem.writes:
                wport = cell.ports[wgroups[share]]
                if wport.kind == "srsw":
                    opts += [("shared", share, m) for m in wport.rdwr]
                elif wport.kind == "arsw":
                    opts.append(("shared", share, "async"))
            choices.append(opts)
        for reads in product(*choices):
            shared = [r[1] for r in reads if r[0] == "shared"]
            if len(shared) == len(set(shared)):
                yield wgroups, reads


def _emulation(mem: MemorySpec, cell: Cell, wgroups, reads, read_first: bool) -> int | None:
    """memory_libmap's emulation score of one port assignment, None when it cannot work."""
    score = 3 * mem.writes if read_first else 0
    for (share, transparent), place in zip(mem.reads, reads):
        transparent = transparent or read_first
        if place[0] == "shared":
            mode = place[2]
            if mode == "old" and transparent or mode == "async" and transparent:
                score += 3
            elif mode == "new" and not transparent:
                return None
            continue
        score += 1                                  # a read port of its own
        async_read = cell.ports[place[1]].kind in ("ar", "arsw")
        for w in range(mem.writes):
            if async_read:
                score += 3 if transparent else 0
            elif transparent:
                score += 3                          # no cell writes through to another port
            elif not cell.ports[wgroups[w]].wrtrans_old:
                return None
    return score


def _repl_port(cell: Cell, wgroups, reads) -> int:
    repl = 1
    for g, p in enumerate(cell.ports):
        space = p.count - wgroups.count(g)
        own = sum(1 for r in reads if r[0] == "own" and r[1] == g)
        if own:
            repl = max(repl, -(-own // space))
    return repl


def _geometry(mem: MemorySpec, cell: Cell, wgroups, reads, repl_port: int):
    """The cheapest base width of the cell: (cost, data replicas, base width), or None."""
    top = len(cell.widths) - 1
    byte_log2 = (max((i for i, w in enumerate(cell.widths) if cell.byte >= w), default=0)
                 if cell.byte else top)
    used = [cell.ports[g] for g in wgroups] + [cell.ports[r[1]] for r in reads if r[0] == "own"]
    wr_min = [cell.ports[g].widths[0] for g in wgroups if cell.ports[g].widths]
    best = None
    for base in range(len(cell.widths)):
        unit = min([base] + [p.widths[1] for p in used if p.widths])
        if unit != base and best is not None:
            break
        if any(base < lo and base < byte_log2 for lo in wr_min):
            continue
        unit_width = cell.widths[unit]
        granule = cell.byte if cell.byte and cell.byte <= unit_width else unit_width
        if not mem.writes:
            granule = 1
        padded = -(-mem.width // granule) * granule
        mult_a = -(-mem.depth // (1 << (cell.abits - base)))
        repl = -(-(mult_a * padded) // unit_width)
        cost = (cell.cost - cell.widthscale) * repl * repl_port
        cost += cell.widthscale * mult_a * mem.width / unit_width * repl_port
        cost += (mult_a - 1) * mem.width * len(mem.reads) * FACTOR_MUX
        cost += (mult_a * mem.writes if mult_a != 1 else 0) * FACTOR_DEMUX
        if best is None or cost < int(best[0]):        # memory_libmap keeps the best as an int
            best = (cost, repl, cell.widths[base])
    return best


def map_memory(mem: MemorySpec, family: str) -> Mapping:
    """What ``memory_libmap`` makes of ``mem`` on ``family`` (module doc)."""
    kinds = {"": None, "auto": None, "block": "block", "block_ram": "block", "ebr": "block",
             "distributed": "distributed", "logic": "logic", "registers": "logic"}
    if mem.style.lower() not in kinds:
        raise ValueError(f"memory {mem.name}: ram_style {mem.style!r} is not one of "
                         f"{', '.join(repr(k) for k in kinds if k)}")
    want = kinds[mem.style.lower()]
    if want == "distributed" and not any(c.kind == want for c in FAMILIES[family]):
        want = None         # the design asks for LUT RAM only where there is some (hw.common)
    logic_cost = mem.bits * (LOGIC_COST_RAM if mem.writes else LOGIC_COST_ROM)
    best = Mapping(mem, None, "logic", 0, int(logic_cost)) if want in (None, "logic") else None
    if want == "logic":
        return best
    for cell in FAMILIES[family]:
        if want and cell.kind != want or cell.prune_rom and not mem.writes:
            continue
        read_first_ok = mem.writes > 0
        for wgroups, reads in _assignments(mem, cell):
            variants = [False] + ([True] if read_first_ok and
                                  all(r[0] == "own" for r in reads) else [])
            for read_first in variants:
                emu = _emulation(mem, cell, wgroups, reads, read_first)
                if emu is None:
                    continue
                repl_port = _repl_port(cell, wgroups, reads)
                geo = _geometry(mem, cell, wgroups, reads, repl_port)
                if geo is None:
                    continue
                cost = geo[0] + emu * FACTOR_EMU
                if best is None or cost < int(best.cost):
                    depth = 1 << (cell.abits - cell.widths.index(geo[2]))
                    best = Mapping(mem, cell.name, cell.kind, geo[1] * repl_port, cost,
                                   f"{depth}x{geo[2]}")
    if best is None:
        raise ValueError(f"memory {mem.name}: no {family} cell takes it as ram_style {mem.style!r}")
    return best


# -- the design's memories ------------------------------------------------------------------------

def memories(design) -> list[MemorySpec]:
    """Every memory array of ``design`` (an elaboratable or an elaborated fragment)."""
    found = []

    def walk(frag, path):
        for sub, name, _ in frag.subfragments:
            where = f"{path}.{name}" if path else str(name)
            if isinstance(sub, MemoryInstance):
                found.append(spec(sub, where))
            else:
                walk(sub, where)
    walk(design if isinstance(design, Fragment) else Fragment.get(design, None), "")
    return found


def spec(inst: MemoryInstance, name: str) -> MemorySpec:
    """A memory instance's ``MemorySpec``: a read port shares a write port's address when it
    is the same signal (Yosys merges them into one read-write port)."""
    writes = inst._write_ports
    reads = []
    for rp in inst._read_ports:
        share = next((i for i, wp in enumerate(writes) if wp._addr is rp._addr), None)
        reads.append((share, bool(rp._transparent_for)))
    style = next((str(inst._attrs[k]) for k in ("ram_style", "ramstyle", "syn_ramstyle")
                  if k in inst._attrs), "")
    return MemorySpec(name, Shape.cast(inst._data.shape).width, inst._data.depth, tuple(reads),
                      len(writes), style)


@dataclass
class Count:
    """A design's block RAM on one family."""
    family: str
    mappings: list[Mapping] = field(default_factory=list)

    @property
    def blocks(self) -> int:
        return sum(m.blocks(self.family) for m in self.mappings)

    @property
    def unit(self) -> str:
        return UNIT_NAME[self.family]

    def largest(self, n: int = 5) -> list[tuple[str, int]]:
        """The ``n`` memories taking the most blocks: (name, blocks). A memory a block keeps once
        per lane (names that differ only in a trailing number: ``engine.pot0`` ..
        ``engine.pot9``) counts as one entry named ``engine.pot{0..9}`` with the blocks of all
        its copies: what a smaller design would have to shrink."""
        groups: dict[str, list] = {}
        for m in self.mappings:
            stem, num = re.fullmatch(r"(.*?)(\d*)", m.memory.name).groups()
            groups.setdefault(stem if num else m.memory.name, []).append(
                (int(num) if num else None, m.blocks(self.family)))
        ranked = []
        for stem, copies in groups.items():
            nums = sorted(c for c, _ in copies if c is not None)
            name = (f"{stem}{{{nums[0]}..{nums[-1]}}}" if len(copies) > 1 and
                    nums == list(range(nums[0], nums[0] + len(copies))) else None)
            if name is None:        # one memory, or numbers that are not a run of copies
                ranked += [(f"{stem}{c}" if c is not None else stem, b) for c, b in copies]
            else:
                ranked.append((name, sum(b for _, b in copies)))
        ranked.sort(key=lambda nb: -nb[1])
        return [(name, b) for name, b in ranked[:n] if b]

    def by_kind(self) -> dict:
        return {k: sum(m.cells for m in self.mappings if m.kind == k)
                for k in ("block", "distributed", "logic")}


def count(design, family: str) -> Count:
    """The block RAM ``design`` takes on ``family`` (``FAMILIES``)."""
    if family not in FAMILIES:
        raise ValueError(f"family {family!r}: block counts exist for {', '.join(FAMILIES)}")
    return Count(family, [map_memory(m, family) for m in
                          (design if isinstance(design, list) else memories(design))])


# -- what synthesis makes of them: Yosys up to its memory mapping ----------------------------------

SYNTH_TO_MEMORY_MAP = {
    "ecp5": "synth_ecp5 -top {top} -run begin:map_ffram",
    "xc7": "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf -top {top} -run begin:map_ffram",
    "ice40": "synth_ice40 -top {top} -run begin:map_ffram",
}


def synthesized(design, family: str, work: Path, name: str = "top") -> dict[str, int]:
    """Block RAM units per memory of ``design`` after Yosys's flat synthesis of ``family`` up
    to its memory mapping (a minute or two for a layer of the default network): the blocks
    ``count`` predicts. ``work``: where the RTLIL, the log and the cell lists go."""
    from amaranth.back import rtlil
    from boards import registry, tools
    work.mkdir(parents=True, exist_ok=True)
    il = work / f"{name}.il"
    # elaborated for the family's platform where that changes its memories (hw.common.small_memory)
    platform = next(b for b in registry.BOARDS.values() if b.family == family).load_platform()()
    il.write_text(rtlil.convert(design, name="top", platform=platform))
    lists = {cell: f"{name}-{family}-{cell}.txt" for cell in UNITS[family]}
    script = "; ".join([f"read_rtlil {il.name}", SYNTH_TO_MEMORY_MAP[family].format(top="top")]
                       + [f"tee -q -o {out} select -list t:{cell}" for cell, out in lists.items()])
    tools.run(tools.command(), script, work, f"{name}-{family}.log")
    found: dict[str, int] = {}
    for cell, out in lists.items():
        for line in (work / out).read_text().split():
            # memory_libmap names a memory's cells <memory>.<port copy>.<data copy>
            mem = re.sub(r"(\$\d+)?\.\d+\.\d+$", "", line.split("/", 1)[-1])
            found[mem] = found.get(mem, 0) + UNITS[family][cell]
    return found


def main(argv=None) -> int:
    from cycles.core import network_layouts
    from hw.core import LayerCore
    from model import config as C
    from model.fixedpoint import Formats
    from boards.protocol import select_layers

    ap = argparse.ArgumentParser(prog="python -m boards.blocks", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--lanes", type=int, default=None)
    ap.add_argument("--layers", default=None)
    ap.add_argument("--families", default="ecp5,xc7", help=f"comma-separated: {', '.join(FAMILIES)}")
    ap.add_argument("--memories", action="store_true", help="list every memory's mapping")
    ap.add_argument("--synthesize", action="store_true",
                    help="also run Yosys up to its memory mapping and compare (minutes a layer)")
    ap.add_argument("--work", default="build/blocks", help="--synthesize: RTLIL, logs, cell lists")
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        ap.error(f"--families: unknown {unknown}; known: {', '.join(FAMILIES)}")
    cfg = C.load(args.config)
    lays = network_layouts(cfg, cfg.core_lanes(args.lanes))
    total = {f: [0, 0] for f in families}
    for i in select_layers(cfg, args.layers):
        name = cfg.layers[i].name
        core = LayerCore(lays[i], Formats.from_config(cfg, i), cfg.layers[i])
        frag = Fragment.get(core, None)
        for family in families:
            c = count(frag, family)
            total[family][0] += c.blocks
            line = (f"{name} {family}: {c.blocks} {c.unit} predicted, "
                    f"{c.by_kind()['distributed']} LUT RAM cells")
            synth = None
            if args.synthesize:
                synth = synthesized(core, family, Path(args.work), name)
                total[family][1] += sum(synth.values())
                line += f"; synthesis {sum(synth.values())} {c.unit}"
            print(line + "; largest " + ", ".join(f"{n} {b}" for n, b in c.largest()), flush=True)
            for m in c.mappings if args.memories else ():
                got = "" if synth is None else f", synthesis {synth.get(m.memory.name, 0)}"
                print(f"    {m.memory.name}: {m.memory.depth}x{m.memory.width} "
                      f"R{len(m.memory.reads)} W{m.memory.writes} -> {m.cells} "
                      f"{m.cell or 'flip-flop words'} {m.geometry} ({m.blocks(family)} {c.unit}{got})")
    print("network: " + ", ".join(
        f"{f} {p} {UNIT_NAME[f]}" + (f" (synthesis {s})" if args.synthesize else "")
        for f, (p, s) in total.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
