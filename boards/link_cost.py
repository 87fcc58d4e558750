"""What the host link costs on an FPGA: the board top (boards/top.py) synthesized for the ECP5 (the
ULX3S's family) with its hierarchy kept, the cells of the link's own blocks against the whole top.

    python -m boards.link_cost --config configs/tiny.yaml [--lanes 4] \\
        [--out build/reports/link-cost-tiny.json]

Blocks counted (cells by ``boards.resources`` category): ``link`` (its own: the request
parser, checks, reply and the write buffer, boards/link.py), ``uart_rx``, ``uart_tx``,
``rx_fifo``; ``link_total`` is their sum, ``top`` the whole board top with its layer cores, and
``link_share`` the link's LUTs + FFs over the top's. One Yosys run (``synth_ecp5 -noflatten``,
as ``boards.resources`` runs it): about a minute for the tiny network.
"""
import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from amaranth.back import rtlil

from boards import resources as r
from boards import tools
from boards.top import BoardTop, divisor_for
from cycles.layout import HardwareConfigError
from model import config as C
from model.cli import guarded, write_json

LINK_BLOCKS = ("link", "uart_rx", "uart_tx", "rx_fifo")
FAMILY = "ecp5"
CLOCK_HZ, BAUD = 25e6, 115_200              # the ULX3S's oscillator and the host's default rate


def measure(config: str, lanes: int | None, work: Path) -> dict:
    cfg = C.load(config)
    lanes = cfg.core_lanes(lanes)
    work = Path(work) / f"{Path(config).stem}-p{lanes}"
    work.mkdir(parents=True, exist_ok=True)
    il = work / "board_top.il"
    il.write_text(rtlil.convert(BoardTop(cfg, lanes, divisor_for(CLOCK_HZ, BAUD)), name="top"))
    stat, secs = r.synthesize(FAMILY, "hierarchical", "top", il.name, str(work))
    own, total = r.module_cells(stat)
    blocks = {}
    for block in LINK_BLOCKS:
        module = f"top.{block}"
        if module not in own:
            raise RuntimeError(f"{module} is not a module of the synthesized top; it has "
                               f"{', '.join(sorted(own))}")
        # the link's own cells (its sub-blocks are the cores); the others' with their sub-blocks
        blocks[block] = r.categorise((own if block == "link" else total)[module], FAMILY)
    link_total = Counter()
    for cats in blocks.values():
        link_total.update({k: v for k, v in cats.items() if isinstance(v, int)})
    top = r.categorise(total["top"], FAMILY)
    return {"config": str(config), "lanes": lanes, "family": FAMILY,
            "flow": r.FLOWS[FAMILY]["hierarchical"], "yosys": tools.version(tools.command())[0],
            "blocks": blocks, "link_total": dict(link_total), "top": top,
            "link_share": r.share(r.luts_ffs(link_total), r.luts_ffs(top)),
            "seconds": round(secs, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m boards.link_cost", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--lanes", type=int, default=None, help="lanes per core (default: the "
                    "config's core.lanes)")
    ap.add_argument("--out", default=None, help="default build/reports/link-cost-<config>.json")
    ap.add_argument("--work", default="build/link_cost", help="RTLIL, logs and Yosys statistics")
    args = ap.parse_args(argv)
    return guarded(lambda: report(args), (HardwareConfigError, ValueError))


def report(args) -> int:
    t0 = time.time()
    rep = measure(args.config, args.lanes, Path(args.work))
    out = args.out or f"build/reports/link-cost-{Path(args.config).stem}.json"
    write_json(out, rep)
    lt, top = rep["link_total"], rep["top"]
    print(f"host link on {FAMILY} ({args.config}, P = {rep['lanes']}): {lt['luts']} LUTs, "
          f"{lt['ffs']} FFs, {lt['bram']} block RAM of the top's {top['luts']} LUTs, {top['ffs']} "
          f"FFs, {top['bram']} block RAMs ({rep['link_share']:.1%} of LUTs + FFs); "
          f"{time.time() - t0:.0f} s; wrote {out}")
    print(json.dumps(rep["blocks"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
