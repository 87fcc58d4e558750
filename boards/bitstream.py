"""``make bitstream BOARD=...``: the board top (layer cores + UART host link) through yosys and
nextpnr to a bitstream, with the timing and utilisation reports.

    python -m boards.bitstream --board ulx3s --config configs/tiny.yaml [--layers conv2]
                               [--lanes 10] [--mhz 75] [--out build/boards]

Checked before any long step, each a clear error with exit status 2: the board name, the config
(validated on load), the layer selection, the lanes, the PLL setting, the tools, and whether the
selected layers' memories fit the board's block RAM (the blocks synthesis will map them to,
boards/blocks.py, against the board's in boards/registry.py).

* ECP5 (ULX3S) and iCE40 (iCEBreaker): Amaranth's Trellis / IceStorm flow with the YoWASP tools
  from PyPI (installed with the project): yosys, nextpnr, ecppack / icepack.
* Xilinx 7-series (Arty A7): Amaranth's Xray flow, except that synthesis keeps block RAM (the
  template's ``-nobram`` would put the weight memories in LUTs, which neither fits nor is what a
  real build does). Yosys (YoWASP) runs everywhere and writes the utilisation report; place and
  route and packing need the openXC7 tools (``nextpnr-xilinx``, ``fasm2frames``,
  ``xc7frames2bit`` and the chip database), which are on neither PyPI nor Debian: where they are
  missing the flow stops after synthesis, names them, and exits with status 3.

Writes ``<out>/<board>/`` (Amaranth's build files, ``ttfs_core.bit``/``.bin``, ``ttfs_core.tim``
nextpnr's log) and ``<out>/<board>/summary.json``: board, config, layers, lanes, requested MHz,
``fmax_mhz`` per clock from nextpnr's final report, ``timing_met``, the device utilisation
nextpnr reports, yosys' cell counts, the predicted block RAM of each core (``bram_blocks``, in
``bram_unit``: DP16KD, RAMB18 halves, SB_RAM40_4K), the cores' memory bits and how memories were
mapped.
A design that misses the requested clock still gets its bitstream and report, and exit status 4.
``--synth-only`` (7-series) stops after synthesis on purpose, with status 0; ``--check-only``
runs the checks and stops.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from boards import blocks, registry, tools
from boards.protocol import select_layers
from boards.registry import BoardError

NAME = "ttfs_core"
FLOW_TOOLS = {"ecp5": ("yosys", "nextpnr-ecp5", "ecppack"),
              "ice40": ("yosys", "nextpnr-ice40", "icepack"), "xc7": ("yosys",)}
OPENXC7 = ("nextpnr-xilinx", "fasm2frames", "xc7frames2bit")
OPENXC7_HELP = ("install the openXC7 toolchain (https://github.com/openXC7/toolchain-installer: "
                "nextpnr-xilinx, prjxray's fasm2frames and xc7frames2bit, and the xc7a35t chip "
                "database at $CHIPDB_DIR/xc7a35t.bin)")


def tool_env(board) -> dict:
    """Environment naming each tool of the board's flow for Amaranth's ``invoke_tool``
    (boards/tools.py: ``$<TOOL>`` or the YoWASP build); ToolMissing names the missing ones."""
    env, missing = dict(os.environ), []
    for tool in FLOW_TOOLS[board.family]:
        path = tools.find(tool)
        if path is None:
            missing.append(f"{tool} ({tools.name(tool)})")
        else:
            env[tools.env_var(tool)] = path
    if missing:
        raise tools.ToolMissing(
            f"missing tools for {board.name}: {', '.join(missing)}; they come from PyPI with the "
            "project: run 'make bitstream' (it installs them) or 'pip install -e .' in this "
            "environment")
    return env


def missing_openxc7() -> list[str]:
    """The openXC7 tools and chip database the 7-series place and route needs and lacks."""
    missing = [t for t in OPENXC7 if tools.find(t, default=t) is None]
    chipdb = Path(os.environ.get("CHIPDB_DIR", "/usr/share/nextpnr/xilinx-chipdb")) / "xc7a35t.bin"
    if not chipdb.exists():
        missing.append(f"chip database {chipdb}")
    return missing


def limit_checks(board) -> list[str]:
    """Yosys commands that fail synthesis when the netlist needs more of a cell than the device
    has, so that a design too large stops before place and route (``select -assert-max``)."""
    return [f"select -assert-max {n} {sel}" for sel, n in board.limits]


_TOO_MANY = re.compile(r"Assertion failed: selection contains (\d+) elements, more than the "
                       r"maximum number (\d+)")


def too_large(log: str, board) -> str | None:
    """The limit a failed synthesis broke, in words (None: it broke none)."""
    m = _TOO_MANY.search(log)
    if m is None:
        return None
    n, limit = int(m[1]), int(m[2])
    cells = next((sel for sel, k in board.limits if k == limit), "cells")
    return (f"after synthesis the design needs {n} {cells.replace('t:', '')} and the "
            f"{board.device} has {limit}: use fewer layers or lanes, or a smaller config")


def platform_for(board, synth_only: bool):
    """The board's amaranth-boards platform; for 7-series with block RAM kept in synthesis (and
    a yosys utilisation report), stopping after synthesis when ``synth_only``."""
    base = board.load_platform()
    if board.family != "xc7":
        return base()
    synth, *rest = base._xray_command_templates
    assert "-nobram" in synth, "Amaranth's Xray synthesis command changed; review platform_for"
    checks = "".join(f"{c}; " for c in limit_checks(board))
    synth = synth.replace("-nobram ", "").replace(
        '{{invoke_tool("yosys")}}', '{{invoke_tool("yosys")}} -q -l {{name}}.rpt').replace(
        "write_json {{name}}.json",
        "tee -q -o {{name}}.stat.json stat -json; " + checks + "write_json {{name}}.json")

    class XrayWithBlockRam(base):
        _xray_command_templates = [synth] + ([] if synth_only else rest)
    return XrayWithBlockRam(toolchain="Xray")


_FMAX = re.compile(r"Max frequency for clock '([^']+)': ([0-9.]+) MHz \((PASS|FAIL) at ([0-9.]+) MHz\)")
_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", re.M)


def parse_nextpnr_log(text: str) -> dict:
    """The final (post-route) maximum frequency per clock and the device utilisation."""
    fmax = {}
    for clock, mhz, verdict, target in _FMAX.findall(text):
        fmax[clock] = {"fmax_mhz": float(mhz), "target_mhz": float(target), "pass": verdict == "PASS"}
    util = {name: {"used": int(u), "available": int(a)}
            for name, u, a, _ in _UTIL.findall(text) if int(u)}
    return {"clocks": fmax, "utilisation": util}


def check_fit(board, cores: dict) -> dict:
    """The block RAM the selected cores take on the board's family (boards/blocks.py: what
    synthesis maps each memory to) against the board's; raises, naming the family, the blocks
    needed and available and the memories that take the most, when they do not fit.
    ``cores``: layer name -> LayerCore."""
    counts = {name: blocks.count(core, board.family) for name, core in cores.items()}
    used = {name: c.blocks for name, c in counts.items()}
    total, unit = sum(used.values()), blocks.UNIT_NAME[board.family]
    if total > board.bram_blocks:
        per = ", ".join(f"{n} {b}" for n, b in used.items())
        largest = sorted(((b, f"{layer}.{mem}") for layer, c in counts.items()
                          for mem, b in c.largest()), reverse=True)[:5]
        fits = [n for n, b in used.items() if b <= board.bram_blocks]
        advice = (f". Build fewer layers (--layers / LAYERS=, each of these fits alone: "
                  f"{', '.join(fits)}) or a smaller config (configs/tiny.yaml)" if fits else
                  ", and no single layer fits: use a smaller config (configs/tiny.yaml)")
        raise BoardError(
            f"the selected layers need {total} {unit} blocks of {blocks.FAMILY_NAMES[board.family]} "
            f"block RAM ({per}); the {board.name}'s {board.device} has {board.bram_blocks}. "
            f"Largest memories: {', '.join(f'{m} {b}' for b, m in largest)}{advice}")
    bits = {name: sum(m.memory.bits for m in c.mappings) for name, c in counts.items()}
    return {"bram_blocks": used, "bram_blocks_total": total, "bram_blocks_available":
            board.bram_blocks, "bram_unit": unit, "memory_bits": bits,
            "memory_bits_total": sum(bits.values())}


@dataclass
class Design:
    """A checked build request: what ``build`` and ``boards.seeds`` synthesize."""
    board: registry.Board
    cfg: object
    layers: list
    lanes: int
    mhz: float
    divisor: int
    fit: dict
    env: dict
    synth_only: bool
    lacking: list

    def extract(self, out: Path) -> Path:
        """The board top's Amaranth build plan (the flow's scripts and netlist inputs) in ``out``."""
        from boards.clocks import Clocked
        from boards.top import BoardTop
        clocked = Clocked(BoardTop(self.cfg, self.lanes, self.divisor, layers=self.layers),
                          self.board, self.mhz)
        out.mkdir(parents=True, exist_ok=True)
        opts = {}
        if self.board.family in ("ecp5", "ice40"):
            # Keep going when the clock is missed: the report says so and the exit status is 4.
            opts["nextpnr_opts"] = "--timing-allow-fail"
            opts["script_after_synth"] = "\n".join([f"tee -q -o {NAME}.stat.json stat -json",
                                                    *limit_checks(self.board)])
        plan = platform_for(self.board, self.synth_only).build(
            clocked, name=NAME, build_dir=str(out), do_build=False, **opts)
        plan.extract(str(out))
        return out


def check_design(args) -> Design:
    """The checks every board command runs before any long step (module doc), and its line."""
    from model import config as C
    from cycles.core import network_layouts
    from boards.clocks import pll_for
    from boards.top import divisor_for
    from hw.core import LayerCore
    from model.fixedpoint import Formats

    board = registry.board(args.board)
    cfg = C.load(args.config)
    layers = select_layers(cfg, args.layers)
    mhz = args.mhz or board.core_mhz
    if args.synth_only and board.family != "xc7":
        raise BoardError(f"--synth-only is for the 7-series flow (arty_a7); {board.name} builds "
                         "end to end with the YoWASP tools")
    env = tool_env(board)
    lacking = missing_openxc7() if board.family == "xc7" and not args.synth_only else []
    synth_only = args.synth_only or bool(lacking)
    if lacking:
        print(f"note: {', '.join(lacking)} not found: the {board.name} flow will stop after "
              "synthesis (the utilisation report), then exit with status 3", file=sys.stderr)
    lanes = cfg.core_lanes(args.lanes)
    lays = network_layouts(cfg, lanes)    # refuses a layout the core cannot hold
    fit = check_fit(board, {cfg.layers[i].name: LayerCore(lays[i], Formats.from_config(cfg, i),
                                                          cfg.layers[i]) for i in layers})
    divisor = divisor_for(mhz * 1e6, board.baud)
    pll_for(board, mhz)
    print(f"{board.name}: {', '.join(cfg.layers[i].name for i in layers)} of {args.config}, "
          f"{lanes} lanes, core at {mhz} MHz, UART {board.baud} baud (divisor {divisor}); "
          f"block RAM {fit['bram_blocks_total']} of {board.bram_blocks} {fit['bram_unit']} "
          "(predicted, boards/blocks.py)",
          flush=True)
    return Design(board, cfg, layers, lanes, mhz, divisor, fit, env, synth_only, lacking)


def build(args) -> int:
    t0 = time.monotonic()
    d = check_design(args)
    if args.check_only:
        return 0
    board, cfg, layers, lanes, mhz, divisor, fit, env = (d.board, d.cfg, d.layers, d.lanes, d.mhz,
                                                         d.divisor, d.fit, d.env)
    lacking = d.lacking
    out = d.extract(Path(args.out) / board.name)
    proc = subprocess.run(["sh", f"build_{NAME}.sh"], cwd=out, env=env)
    summary = {"board": board.name, "device": board.device, "config": str(args.config),
               "layers": [cfg.layers[i].name for i in layers], "lanes": lanes,
               "requested_mhz": mhz, "uart_baud": board.baud, "uart_divisor": divisor, **fit,
               "memory_mapping": ("block RAM inferred by yosys (synth_xilinx without -nobram)"
                                  if board.family == "xc7" else
                                  f"inferred by yosys' synth_{board.family} ({board.bram_block} "
                                  "block RAM, distributed RAM for small arrays)")}
    stat = out / f"{NAME}.stat.json"
    if stat.exists():
        top_cells = json.loads(stat.read_text())["design"]
        summary["yosys_cells"] = top_cells.get("num_cells_by_type", {})
    tim = out / f"{NAME}.tim"
    if tim.exists():
        summary.update(parse_nextpnr_log(tim.read_text()))
    bit = next((p for p in (out / f"{NAME}.bit", out / f"{NAME}.bin") if p.exists()), None)
    summary["bitstream"] = str(bit) if bit and proc.returncode == 0 else None
    summary["seconds"] = round(time.monotonic() - t0, 1)
    clocks = summary.get("clocks", {})
    summary["timing_met"] = bool(clocks) and all(c["pass"] for c in clocks.values())
    rpt = out / f"{NAME}.rpt"
    reason = too_large(rpt.read_text(errors="replace"), board) if rpt.exists() else None
    if proc.returncode != 0 and reason:
        summary["error"] = reason
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if proc.returncode != 0 and reason:
        print(f"error: {board.name}: {reason}", file=sys.stderr)
        return 2
    if proc.returncode != 0:
        print(f"error: the {board.name} build failed (exit {proc.returncode}); see {out}",
              file=sys.stderr)
        return 1
    if args.synth_only:
        print(f"synthesis done, utilisation in {stat}")
        return 0
    if lacking:
        print(f"synthesis done, utilisation in {stat}; stopped before place and route: "
              f"missing {', '.join(lacking)}: {OPENXC7_HELP}", file=sys.stderr)
        return 3
    for clock, c in clocks.items():
        print(f"{clock}: {c['fmax_mhz']:.2f} MHz ({'PASS' if c['pass'] else 'FAIL'} at "
              f"{c['target_mhz']:.2f} MHz)")
    print(f"bitstream {summary['bitstream']}, summary {out / 'summary.json'} "
          f"({summary['seconds']} s)")
    return 0 if summary["timing_met"] else 4


def design_arguments(ap: argparse.ArgumentParser) -> None:
    """The options that name a board top: board, config, layers, lanes, core clock (make
    bitstream and make seeds build the same design from them)."""
    ap.add_argument("--board", required=True, help=f"one of {', '.join(sorted(registry.BOARDS))}")
    ap.add_argument("--config", default="configs/tiny.yaml")
    ap.add_argument("--layers", default=None, help="comma-separated layer names or indices (default all)")
    ap.add_argument("--lanes", type=int, default=None,
                    help="lanes per core (default: the config's core.lanes)")
    ap.add_argument("--mhz", type=float, default=None, help="core clock (default: the board's)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m boards.bitstream", description=__doc__.split("\n")[0])
    design_arguments(ap)
    ap.add_argument("--out", default="build/boards")
    ap.add_argument("--synth-only", action="store_true",
                    help="7-series: stop after synthesis and its utilisation report, exit 0")
    ap.add_argument("--check-only", action="store_true",
                    help="run the checks (board, config, layers, tools, fit) and stop")
    args = ap.parse_args(argv)
    try:
        return build(args)
    except (BoardError, ValueError, tools.ToolMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
