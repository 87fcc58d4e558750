"""Resource report: what each block of the layer cores costs on an FPGA, and what pruning costs.

    python -m boards.resources --config configs/mnist.yaml --lanes 10 \\
        [--out build/reports/resources-mnist.json] [--record-baseline] [--weight-bits 4]

The report goes to ``build/reports/resources-<config>.json`` (the config file's stem), so one
config's report never overwrites another's. A report is reused, without any synthesis, while the
design, the tool and the options are unchanged (``boards/synth_cache.py``; ``--no-cache``
synthesizes anyway): ``make bitstream``, which runs ``make resources`` first, pays for the
synthesis once.

Every layer core of the config (``hw.core.LayerCore`` on ``cycles.core.network_layouts``)
is converted to RTLIL and synthesized by Yosys for two families, ``ecp5`` (``synth_ecp5``) and
``xc7`` (``synth_xilinx -family xc7``, out of context: no I/O buffers, no clock buffer), each
twice: keeping the hierarchy (each Amaranth block is a module, so its cells can be counted) and
flattened, as a real build runs (optimisation across the blocks' boundaries, so its totals are
lower). Memories are inferred as a real build would: block RAM where Yosys's cost model picks it,
else distributed RAM (Amaranth's Xray template passes ``-nobram``; this flow does not). The runs
are independent tasks, run on a local Dask cluster (``--workers N``, default the machine's cores;
0: one after the other in this process) or a running one (``--scheduler``): cluster/runner.py.

Cell categories (``CELLS``): ``luts`` (ECP5 LUT4; Xilinx LUT1-6 and INV, which becomes a LUT1),
``ffs``, ``carry`` (CCU2C, CARRY4), ``wide_mux`` (PFUMX / L6MUX21, MUXF7 / MUXF8: the slice
multiplexers that join LUTs), ``bram`` (DP16KD; RAMB18E1 + RAMB36E1, and ``ramb18``, ``ramb36``,
``bram36_equiv`` = RAMB36 + RAMB18 / 2), ``dsp`` (MULT18X18D / ALU54B, DSP48E1), ``lutram``
(TRELLIS_DPR16X4; RAM32M, RAM64M, RAMnnXm: cells, not LUTs), ``srl`` (SRL16E, SRLC32E); any other
cell type is counted under ``other`` by name.

``resources.json`` fields:

* ``tool``: ``name``, ``version`` (``yosys -V``), ``banner``; ``config``, ``config_digest`` (of
  the parsed config), ``lanes``, ``families``; ``weight_bits``: each layer's weight width (its
  own, or every layer's with ``--weight-bits B``: the cores generated for B-bit weights, as
  model/quantize.py quantizes them; such a run is not compared with the baseline); ``flows``: the synthesis command of each family
  and mode; ``cells``: the category of each cell type.
* ``layers.<name>``: ``layout`` (the core's generator parameters), ``memory_bits`` (below) and
  ``families.<family>``:

  * ``blocks.<block>``: ``kind`` (the Amaranth class), ``module`` (the Yosys module), ``own``
    (its own cells) and ``total`` (with its sub-blocks), per category. ``core`` is the layer
    core (its total is the core's); ``core.engine``, ``core.winners``, ``core.stdp``,
    ``core.outgoing`` its blocks, ``core.stdp.prune_check`` the pruning check
    (``hw.prune.PruneCheck``), ``core.engine.skip_*`` and ``core.stdp.skip_rows`` the skip walks'
    find-first-set units (``hw.common.LowestSetBit``), ``core.engine.channel_enables`` the map
    enables and their gate on the mask words (``hw.channel_enable.ChannelEnables``),
    ``core.engine.window_end`` the window end (``hw.window.WindowEnd``).
  * ``flat``: the flattened build's totals per category (absent with ``--no-flat``).
  * ``core``, ``pruning_check``, ``skip_logic``, ``channel_enables``, ``window_end``: ``luts``
    and ``ffs`` of the core, of the pruning check blocks, of the find-first-set units, of the
    map enables and of the window end (hierarchical synthesis).
  * ``pruning_overhead`` = (LUTs + FFs of the pruning check) / (LUTs + FFs of the core);
    ``skip_logic_share`` the same for the find-first-set units: an upper bound of what skipping
    pruned connections costs, since a dense core would walk with counters in their place;
    ``channel_enable_overhead`` and ``window_overhead`` the same for the structured and
    temporal policies' registers (DSTP, SCA, Chowdhury et al. 2021).
  * ``seconds``: wall time of each synthesis run.
* ``network.<family>``: the layers' sums: ``core``, ``pruning_check``, ``skip_logic``,
  ``channel_enables``, ``window_end`` (LUTs and FFs), ``totals`` (the cores' every category,
  hierarchical) and ``flat`` (flattened), and the four shares of the whole network;
  ``network.memory_bits``.
* ``memory_bits``: bits of the pruning state from the layout -- ``masks`` (rows x G bits a lane,
  P lanes), ``row_summaries`` (channels x k^2 a lane, P lanes), ``live_rows`` (maps x ceil(rows / 32) x 32) --,
  ``pruning_state`` their sum, ``all`` the bits of every memory of the core, ``pruning_share``.
* ``pruning_overhead``, ``skip_logic_share``, ``channel_enable_overhead``, ``window_overhead``:
  per family, of the network (the first is what the report reads);
  ``pruning_overhead_target``: 1%.
* ``baseline``: ``path``, ``status`` (``compared``, ``missing``, ``recorded``, ``not compared
  (--weight-bits)``) and
  ``differences`` (``compare``); ``seconds``: the whole run; ``cache``: ``hit`` (the report
  reused from ``build/resources/<config>-p<P>/report-cache/<key>.json``), ``key`` and
  ``synthesis_seconds`` (what the synthesis took when it ran).

Baselines (``boards/baselines/yosys-<version>/<config>.json``, ``--record-baseline``): the report
of one config and tool version, compared by ``compare`` block by block and category by category
with a tolerance, so a change that grows (or shrinks) the logic is noticed (tests/boards/test_resources.py).
"""
import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Fragment

from boards import registry, synth_cache, tools
from cluster import Runner, add_arguments
from cluster.runner import check_arguments
from hw.channel_enable import ChannelEnables
from hw.common import LowestSetBit
from hw.core import LayerCore
from hw.prune import PruneCheck
from hw.window import WindowEnd
from model import config as C
from cycles.core import network_layouts
from model.fixedpoint import Formats
from model.quantize import quantized_config
from cycles.layout import EngineLayout

FAMILIES = ("ecp5", "xc7")
MODES = ("hierarchical", "flat")
FLOWS = {
    "ecp5": {"hierarchical": "synth_ecp5 -noflatten", "flat": "synth_ecp5"},
    "xc7": {"hierarchical": "synth_xilinx -family xc7 -noiopad -noclkbuf",
            "flat": "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf"},
}
CELLS = {
    "ecp5": {"LUT4": "luts", "TRELLIS_FF": "ffs", "CCU2C": "carry", "PFUMX": "wide_mux",
             "L6MUX21": "wide_mux", "DP16KD": "bram", "MULT18X18D": "dsp", "ALU54B": "dsp",
             "TRELLIS_DPR16X4": "lutram"},
    "xc7": {**{f"LUT{i}": "luts" for i in range(1, 7)}, "INV": "luts",
            **{ff: "ffs" for ff in ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")},
            "CARRY4": "carry", "MUXF7": "wide_mux", "MUXF8": "wide_mux",
            "RAMB18E1": "bram", "RAMB36E1": "bram", "DSP48E1": "dsp",
            **{ram: "lutram" for ram in ("RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D",
                                         "RAM256X1S", "RAM32X1S", "RAM64X1S", "RAM128X1S")},
            "SRL16E": "srl", "SRLC32E": "srl"},
}
IGNORED = {"$scopeinfo"}                  # Yosys's record of the flattened hierarchy, no logic
PRUNING_TARGET = 0.01
ROOT = Path(__file__).resolve().parents[1]
BASELINES = ROOT / "boards" / "baselines"
REL_TOLERANCE, ABS_SLACK = 0.05, 4        # a figure may move by 5% or by 4 cells


def shown_path(path: Path | str) -> str:
    """``path`` as a report writes it: relative to the repository when inside it, so that a
    report names no folder of the machine it ran on."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


class BaselineMissing(FileNotFoundError):
    """No baseline for this tool version and config; the message says how to record one."""


# -- synthesis -----------------------------------------------------------------------------------

def synth_script(family: str, mode: str, top: str, il: str, stat: str) -> str:
    """The Yosys script of one run, ending with the cell counts as JSON in ``stat``.

    ``splitnets`` before LUT mapping: with the hierarchy kept, abc9 reintegrating a module of
    Amaranth's RTLIL asserts on a wire name it creates twice (YosysHQ/yosys#4349, #4451);
    splitting the multi-bit wires first is the workaround named there. It changes no logic."""
    synth = f"{FLOWS[family][mode]} -top {top}"
    return (f"read_rtlil {il}; {synth} -run :map_luts; splitnets; {synth} -run map_luts:; "
            f"tee -q -o {stat} stat -json")


def cell_type(name: str) -> str:
    """A cell type without Yosys's parameter and abc9 decorations ($paramod$...\\CCU2C -> CCU2C)."""
    if name.startswith("$paramod"):
        name = name.rsplit("\\", 1)[-1]
    return name.removesuffix("_$abc9_byp")


def categorise(cells: dict, family: str) -> dict:
    """Cell counts by type -> counts by category (``other``: unknown types by name)."""
    out, other = Counter({cat: 0 for cat in ("luts", "ffs", "carry", "wide_mux", "bram", "dsp",
                                              "lutram")}), Counter()
    for typ, n in cells.items():
        typ = cell_type(typ)
        if typ in IGNORED:
            continue
        cat = CELLS[family].get(typ)
        if cat is None:
            other[typ] += n
        else:
            out[cat] += n
    if family == "xc7":
        out["ramb18"] = sum(n for t, n in cells.items() if cell_type(t) == "RAMB18E1")
        out["ramb36"] = sum(n for t, n in cells.items() if cell_type(t) == "RAMB36E1")
        out["bram36_equiv"] = out["ramb36"] + out["ramb18"] / 2
    res = dict(out)
    if other:
        res["other"] = dict(sorted(other.items()))
    return res


def modules(stat: dict) -> dict:
    """``stat -json``'s cells by type per module; a sub-module instance is a cell whose type is
    the module's name (without the leading backslash of the module's own entry)."""
    return {name.lstrip("\\"): m["num_cells_by_type"] for name, m in stat["modules"].items()}


def module_cells(stat: dict) -> tuple[dict, dict]:
    """Per module, its own cells by type and all cells by type including its sub-modules'
    (times their instance count)."""
    mods = modules(stat)
    own = {name: {t: n for t, n in cells.items() if t.lstrip("\\") not in mods}
           for name, cells in mods.items()}
    total: dict[str, Counter] = {}

    def add_up(name):
        if name not in total:
            acc = Counter(own[name])
            for t, n in mods[name].items():
                if t.lstrip("\\") in mods:
                    for t2, n2 in add_up(t.lstrip("\\")).items():
                        acc[t2] += n * n2
            total[name] = acc
        return total[name]

    for name in mods:
        add_up(name)
    return own, {name: dict(c) for name, c in total.items()}


def instances(stat: dict, top: str) -> Counter:
    """How many times each module is instantiated under ``top`` (``top`` itself: once)."""
    mods = modules(stat)
    count = Counter()

    def visit(name, n):
        count[name] += n
        for t, k in mods[name].items():
            if t.lstrip("\\") in mods:
                visit(t.lstrip("\\"), n * k)

    visit(top, 1)
    return count


# -- the design: blocks and memories -------------------------------------------------------------

def design_blocks(core, top: str) -> tuple[dict, int]:
    """The core's Amaranth blocks, ``{block: (Yosys module, kind)}`` (``core``, ``core.engine``,
    ...), and the bits of all its memories (``boards.registry.memories``), from one elaboration
    of the design."""
    blocks = {}

    def walk(frag, path):
        if registry.is_memory(frag):
            return
        origins = list(frag.origins or ())
        kind = type(origins[0]).__name__ if origins else "Fragment"
        blocks[".".join(("core",) + path)] = (".".join((top,) + path), kind)
        for sub, name, _ in frag.subfragments:
            walk(sub, path + (name,))

    frag = Fragment.get(core, None)
    walk(frag, ())
    return blocks, sum(depth * width for _, depth, width in registry.memories(frag))


def pruning_memory_bits(lay: EngineLayout) -> dict:
    """Bits of the pruning state (mask words, row summaries, live-row bitmap), from the layout."""
    masks = lay.rows * lay.groups * lay.lanes
    row_summaries = lay.lanes * lay.channels * lay.kernel ** 2        # one per lane
    live_rows = lay.maps * -(-lay.rows // 32) * 32
    return {"masks": masks, "row_summaries": row_summaries, "live_rows": live_rows,
            "pruning_state": masks + row_summaries + live_rows}


def luts_ffs(cats: dict) -> dict:
    return {"luts": cats["luts"], "ffs": cats["ffs"]}


def share(part: dict, whole: dict) -> float:
    return (part["luts"] + part["ffs"]) / (whole["luts"] + whole["ffs"])


KINDS = {"pruning_check": PruneCheck, "skip_logic": LowestSetBit,
         "channel_enables": ChannelEnables, "window_end": WindowEnd}
# The find-first-set units that skip pruned connections are named ``skip_*`` (the engine's lane
# and row-offset walks, the STDP unit's live-row walk); others (the drain's and the outgoing
# unit's walks over what fired) are not pruning's cost.
NAMED = {"skip_logic": "skip_"}
# Each kind's share of the core's LUTs + FFs, under this name.
SHARES = {"pruning_check": "pruning_overhead", "skip_logic": "skip_logic_share",
          "channel_enables": "channel_enable_overhead", "window_end": "window_overhead"}


def tally(stat: dict, family: str, blocks: dict, kinds: dict) -> dict:
    """One hierarchical run's figures: every block's cells, and the pruning check's and the
    find-first-set units' LUTs and FFs against the core's. ``kinds``: block kind -> class."""
    own, total = module_cells(stat)
    copies = instances(stat, blocks["core"][0])
    out = {"blocks": {}}
    for block, (module, kind) in blocks.items():
        if module not in total:          # a block Yosys found empty and removed
            own[module] = total[module] = {}
        out["blocks"][block] = {"kind": kind, "module": module,
                                "own": categorise(own[module], family),
                                "total": categorise(total[module], family)}
    out["core"] = luts_ffs(out["blocks"]["core"]["total"])
    for key, cls in kinds.items():
        part = Counter()
        for block, b in out["blocks"].items():
            if b["kind"] == cls.__name__ and \
                    block.rsplit(".", 1)[-1].startswith(NAMED.get(key, "")):
                part.update({c: copies[b["module"]] * n for c, n in luts_ffs(b["total"]).items()})
        out[key] = {"luts": part["luts"], "ffs": part["ffs"]}
    out.update({name: share(out[key], out["core"]) for key, name in SHARES.items() if key in kinds})
    return out


def config_digest(cfg) -> str:
    return hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def synthesize(family: str, mode: str, top: str, il: str, work: str) -> tuple[dict, float]:
    """One synthesis run, a task: Yosys on ``work/il`` (a folder the workers share: the
    checkout's build/); its ``stat -json`` cell counts and wall time."""
    stat = f"{Path(il).stem}-{family}-{mode}.json"
    start = time.time()
    tools.run(tools.command(), synth_script(family, mode, top, il, stat), Path(work), stat[:-5] + ".log")
    return json.loads((Path(work) / stat).read_text()), time.time() - start


def measure(config: str, lanes: int | None = None, families=FAMILIES, flat: bool = True,
            jobs: int = 2, work: Path = Path("build/resources"), progress=print,
            weight_bits: int | None = None, runner: Runner | None = None,
            cache: bool = True) -> dict:
    """Synthesize every layer core of ``config`` and return the report (fields: module doc);
    ``weight_bits``: build every layer's core for that weight width instead of its own;
    ``cache``: reuse the report of an identical earlier run (``boards.synth_cache``). The
    synthesis runs are tasks of ``runner``, else of a local Dask cluster of ``jobs`` worker
    processes (0: one after the other in this process)."""
    t0 = time.time()
    cmd = tools.command()
    version, banner = tools.version(cmd)
    cfg = C.load(config)
    lanes = cfg.core_lanes(lanes)
    if weight_bits is not None:
        cfg = quantized_config(cfg, weight_bits)
    work = Path(work) / (f"{Path(config).stem}-p{lanes}"
                         + (f"-w{weight_bits}" if weight_bits is not None else ""))
    work.mkdir(parents=True, exist_ok=True)
    layers, runs = {}, []
    for i, lay in enumerate(network_layouts(cfg, lanes)):
        name = cfg.layers[i].name
        top = f"core_{name}"
        formats = Formats.from_config(cfg, i)             # the layer's own weight width
        blocks, all_bits = design_blocks(LayerCore(lay, formats, cfg.layers[i]), top)
        il = work / f"{name}.il"
        il.write_text(rtlil.convert(LayerCore(lay, formats, cfg.layers[i]), name=top))
        mem = pruning_memory_bits(lay)
        mem.update({"all": all_bits, "pruning_share": mem["pruning_state"] / all_bits})
        layers[name] = {"layout": {**asdict(lay), "groups": lay.groups, "rows": lay.rows},
                        "memory_bits": mem, "families": {f: {} for f in families},
                        "_blocks": blocks}
        for family in families:
            for mode in MODES if flat else MODES[:1]:
                runs.append((name, family, mode, top, il, il.stat().st_size))
    runs.sort(key=lambda r: (-r[5], r[1]))       # the largest first: shortest total wall time
    digest = synth_cache.key(
        {"banner": banner, "config": str(config), "config_digest": config_digest(cfg),
         "lanes": lanes, "families": list(families), "flat": flat, "weight_bits": weight_bits,
         "scripts": [synth_script(f, m, top, il.name, f"{n}-{f}-{m}.json")
                     for n, f, m, top, il, _ in runs]},
        [il for *_, il, _ in runs] + [Path(__file__)])
    cached = synth_cache.load(work, digest) if cache else None
    if cached is not None:
        progress(f"resources: {config} (P = {lanes}) unchanged since the synthesis of "
                 f"{work / synth_cache.FOLDER / digest}.json: reused")
        cached["cache"] = {"hit": True, "key": digest, "synthesis_seconds": cached["seconds"]}
        cached["seconds"] = round(time.time() - t0, 1)
        return cached
    with (nullcontext(runner) if runner else Runner(workers=jobs, progress=False,
                                                    dashboard_address=None, say=progress)) as run:
        where = "in this process" if run.serial else "as Dask tasks"
        progress(f"resources: {len(runs)} synthesis runs of {config} (P = {lanes}) {where}, "
                 f"yosys {version}")
        tasks = {(name, family, mode): run.submit(synthesize, family, mode, top, il.name, str(work),
                                                  key=f"yosys-{name}-{family}-{mode}")
                 for name, family, mode, top, il, _ in runs}
        results = {}
        for k, ((name, family, mode), (stat, secs)) in enumerate(
                run.completed(tasks, desc="synthesis"), 1):
            results[name, family, mode] = (stat, secs)
            progress(f"[{k}/{len(runs)}] {name} {family} {mode}: {secs:.1f} s")

    for name, layer in layers.items():
        blocks = layer.pop("_blocks")
        for family in families:
            stat, secs = results[name, family, "hierarchical"]
            fam = tally(stat, family, blocks, KINDS)
            fam["seconds"] = {"hierarchical": round(secs, 1)}
            if flat:
                fstat, fsecs = results[name, family, "flat"]
                _, ftotal = module_cells(fstat)
                fam["flat"] = categorise(ftotal[blocks["core"][0]], family)
                fam["seconds"]["flat"] = round(fsecs, 1)
            layer["families"][family] = fam
    network = network_sums(layers, families)
    report = {"tool": {"name": Path(cmd[0]).name, "version": version, "banner": banner},
              "config": str(config), "config_digest": config_digest(cfg), "lanes": lanes,
              "weight_bits": [cfg.weight_bits(i) for i in range(len(cfg.layers))],
              "families": list(families), "flows": {f: FLOWS[f] for f in families},
              "cells": {f: CELLS[f] for f in families},
              "layers": layers, "network": network,
              **{name: {f: network[f][name] for f in families} for name in SHARES.values()},
              "pruning_overhead_target": PRUNING_TARGET, "seconds": round(time.time() - t0, 1)}
    synth_cache.store(work, digest, report)
    return dict(report, cache={"hit": False, "key": digest, "synthesis_seconds": report["seconds"]})


def network_sums(layers: dict, families) -> dict:
    """The layers' figures summed per family, and the network's shares."""
    out = {}
    for family in families:
        fams = [layer["families"][family] for layer in layers.values()]
        net = {}
        for key in ("core", *SHARES):
            net[key] = {c: sum(f[key][c] for f in fams) for c in ("luts", "ffs")}
        for key, get in (("totals", lambda f: f["blocks"]["core"]["total"]),
                         ("flat", lambda f: f.get("flat"))):
            if all(get(f) is not None for f in fams):
                net[key] = {c: sum(get(f)[c] for f in fams)
                            for c, v in get(fams[0]).items() if c != "other"}
        net.update({name: share(net[key], net["core"]) for key, name in SHARES.items()})
        out[family] = net
    mems = [layer["memory_bits"] for layer in layers.values()]
    bits = {k: sum(m[k] for m in mems) for k in ("masks", "row_summaries", "live_rows",
                                                  "pruning_state", "all")}
    out["memory_bits"] = {**bits, "pruning_share": bits["pruning_state"] / bits["all"]}
    return out


# -- baselines -----------------------------------------------------------------------------------

def report_path(config: str, reports: Path = Path("build/reports")) -> Path:
    """Where a config's resource report goes: ``<reports>/resources-<config stem>.json``."""
    return Path(reports) / f"resources-{Path(config).stem}.json"


def baseline_path(version: str, config: str, root: Path = BASELINES) -> Path:
    return Path(root) / f"yosys-{version}" / f"{Path(config).stem}.json"


def load_baseline(version: str, config: str, lanes: int, root: Path = BASELINES) -> dict:
    path = baseline_path(version, config, root)
    if not path.is_file():
        raise BaselineMissing(
            f"no resource baseline for yosys {version} and {config}: {shown_path(path)} does not "
            f"exist. "
            f"Record one with `python -m boards.resources --config {config} --lanes {lanes} "
            f"--record-baseline` (and commit it)")
    return json.loads(path.read_text())


def figures(report: dict) -> dict:
    """Every comparable figure: (layer, family, block, category) -> count. ``flat`` is the
    flattened build's totals; ``other`` cell types count as ``other:<type>``."""
    out = {}
    for name, layer in report["layers"].items():
        for family, fam in layer["families"].items():
            sources = {block: b["total"] for block, b in fam["blocks"].items()}
            if "flat" in fam:
                sources["flat"] = fam["flat"]
            for block, cats in sources.items():
                for cat, n in cats.items():
                    if cat == "other":
                        out.update({(name, family, block, f"other:{t}"): m for t, m in n.items()})
                    else:
                        out[name, family, block, cat] = n
    return out


def compare(measured: dict, baseline: dict, rel: float = REL_TOLERANCE,
            slack: float = ABS_SLACK) -> list[str]:
    """The figures that moved beyond the tolerance (``rel`` of the baseline or ``slack`` cells,
    whichever is larger), one line each naming layer, family, block, category, baseline and
    measured value. Figures only one side has are listed too, except the flattened totals and
    families the measurement skipped (``--no-flat``, ``--families``)."""
    if measured["lanes"] != baseline["lanes"]:
        return [f"the baseline was recorded with --lanes {baseline['lanes']}, this run has "
                f"{measured['lanes']}: not comparable"]
    diffs = []
    for name, layer in baseline["layers"].items():
        got = measured["layers"].get(name)
        if got is None:
            diffs.append(f"{name}: in the baseline, not in this design")
        elif got["layout"] != layer["layout"]:
            diffs.append(f"{name}: layout differs (baseline {layer['layout']}, measured "
                         f"{got['layout']}): record a new baseline")
    if diffs:
        return diffs
    m, b = figures(measured), figures(baseline)
    for key in sorted(set(m) | set(b)):
        name, family, block, cat = key
        skipped = (family not in measured["families"]
                   or (block == "flat" and "flat" not in measured["layers"][name]["families"][family]))
        if key not in m and skipped:
            continue
        was, now = b.get(key, 0), m.get(key, 0)
        if abs(now - was) > max(rel * was, slack):
            pct = f"{(now - was) / was:+.1%}" if was else "new"
            diffs.append(f"{name} {family} {block} {cat}: baseline {was}, measured {now} "
                         f"({'grew' if now > was else 'shrank'} {pct}; tolerance {rel:.0%} or "
                         f"{slack:g} cells)")
    return diffs


def for_baseline(report: dict) -> dict:
    """The report without what changes from run to run (wall times, the comparison)."""
    out = json.loads(json.dumps(report))
    out.pop("seconds", None)
    out.pop("baseline", None)
    for layer in out["layers"].values():
        for fam in layer["families"].values():
            fam.pop("seconds", None)
    return out


# -- command line --------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m boards.resources", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--lanes", type=int, default=None,
                    help="lanes per core (default: the config's core.lanes)")
    ap.add_argument("--out", default=None,
                    help="default build/reports/resources-<config>.json (the config file's stem)")
    ap.add_argument("--no-cache", action="store_true",
                    help="synthesize even when an identical earlier run's report is cached")
    ap.add_argument("--families", default=",".join(FAMILIES), help="comma-separated: ecp5, xc7")
    ap.add_argument("--no-flat", action="store_true", help="skip the flattened builds")
    ap.add_argument("--work", default="build/resources", help="RTLIL, logs and Yosys statistics")
    ap.add_argument("--baselines", default=None, help="default boards/baselines of the repository")
    ap.add_argument("--record-baseline", action="store_true",
                    help="write this run as the baseline of this tool version and config")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when the baseline is missing or a figure moved beyond tolerance")
    ap.add_argument("--weight-bits", type=int, default=None, metavar="B",
                    help="build every layer's core for B-bit weights (2..16; not compared with "
                         "or recorded as the baseline, which is of the config as written)")
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        check_arguments(args.workers, args.scheduler)
    except ValueError as exc:
        ap.error(str(exc))
    if args.weight_bits is not None and args.record_baseline:
        ap.error(f"--weight-bits {args.weight_bits} with --record-baseline: a baseline is of the "
                 "config as written; record it without --weight-bits")
    families = tuple(f for f in args.families.split(",") if f)
    unknown = set(families) - set(FAMILIES)
    if unknown:
        ap.error(f"--families: unknown {sorted(unknown)}; known: {list(FAMILIES)}")
    try:
        say = lambda s: print(s, file=sys.stderr, flush=True)
        with Runner.from_args(args, say=say) as runner:
            rep = measure(args.config, args.lanes, families, not args.no_flat, work=Path(args.work),
                          progress=say, weight_bits=args.weight_bits, runner=runner,
                          cache=not args.no_cache)
    except (tools.ToolMissing, C.ConfigError, RuntimeError) as exc:     # RuntimeError: a run failed
        print(f"error: {exc}", file=sys.stderr)
        return 2
    version = rep["tool"]["version"]
    path = baseline_path(version, args.config, args.baselines or BASELINES)
    failed = False
    if args.record_baseline:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(for_baseline(rep), indent=1) + "\n")
        rep["baseline"] = {"path": shown_path(path), "status": "recorded", "differences": []}
    elif args.weight_bits is not None:
        rep["baseline"] = {"path": shown_path(path), "status": "not compared (--weight-bits)",
                           "differences": []}
    else:
        try:
            diffs = compare(rep, load_baseline(version, args.config, args.lanes, args.baselines or BASELINES))
            rep["baseline"] = {"path": shown_path(path), "status": "compared", "differences": diffs}
            failed = bool(diffs)
        except BaselineMissing as exc:
            print(f"note: {exc}", file=sys.stderr)
            rep["baseline"] = {"path": shown_path(path), "status": "missing", "differences": []}
            failed = True
    out = Path(args.out or report_path(args.config))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, indent=2) + "\n")
    print(summary(rep))
    for d in rep["baseline"]["differences"]:
        print(f"  differs from {path}: {d}")
    return 1 if failed and args.strict else 0


def summary(rep: dict) -> str:
    cache = rep.get("cache", {})
    lines = [f"{rep['config']} (P = {rep['lanes']}, weight bits {rep.get('weight_bits', '?')}), "
             f"yosys {rep['tool']['version']}, {rep['seconds']} s"
             + (f" (synthesis reused: design, tool and options unchanged; it took "
                f"{cache['synthesis_seconds']} s)" if cache.get("hit") else "")]
    for name, layer in rep["layers"].items():
        for family, fam in layer["families"].items():
            t = fam["blocks"]["core"]["total"]
            flat = fam.get("flat")
            lines.append(f"  {name} {family}: core LUT {t['luts']} FF {t['ffs']} carry {t['carry']} "
                         f"BRAM {t['bram']} DSP {t['dsp']} lutram {t['lutram']}"
                         + (f" (flattened: LUT {flat['luts']} FF {flat['ffs']} BRAM {flat['bram']}"
                            f" DSP {flat['dsp']})" if flat else "")
                         + f"; pruning check {fam['pruning_overhead']:.2%}, skip logic "
                         f"{fam['skip_logic_share']:.2%}, channel enables "
                         f"{fam['channel_enable_overhead']:.2%}, window end {fam['window_overhead']:.2%}")
    for family in rep["families"]:
        net = rep["network"][family]
        lines.append(f"  network {family}: pruning overhead {net['pruning_overhead']:.2%} "
                     f"(target <= {rep['pruning_overhead_target']:.0%}), skip logic "
                     f"{net['skip_logic_share']:.2%}, channel enables "
                     f"{net['channel_enable_overhead']:.2%}, window end {net['window_overhead']:.2%}")
    mem = rep["network"]["memory_bits"]
    lines.append(f"  pruning state {mem['pruning_state']} of {mem['all']} memory bits "
                 f"({mem['pruning_share']:.2%})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
