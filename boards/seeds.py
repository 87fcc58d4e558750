"""``make seeds BOARD=ulx3s SEEDS=n``: one netlist placed and routed with n nextpnr seeds, and
the spread of its maximum frequencies.

    python -m boards.seeds --board ulx3s --config configs/tiny.yaml --lanes 4 --seeds 4 \\
        [--mhz 75] [--layers ...] [--out build/boards] [--report build/reports/seeds.json] \\
        [--workers N | --scheduler tcp://host:8786]

A timing figure from one place-and-route run depends on nextpnr's seed. This command runs the
checks and synthesis of ``make bitstream`` (``boards.bitstream.check_design`` and the same
Amaranth build plan) once, into ``<out>/<board>-seeds/``, then nextpnr's command from that plan
with ``--seed 1`` .. ``--seed n``, each a task (cluster/runner.py: a local Dask cluster by
default) in its own folder ``seed-<k>/`` (no bitstream is packed). A seed's result is written to
``seed-<k>/result.json`` before the task returns, keyed by the netlist and the command, so a
rerun reuses every finished seed, and synthesis is skipped when its inputs are unchanged.
ECP5 and iCE40 boards (the YoWASP flows).

``seeds.json`` fields: ``board``, ``device``, ``config``, ``layers``, ``lanes``,
``requested_mhz``, ``netlist`` (path and digest), ``command`` (nextpnr's, without the seed);
``seeds``: per seed its ``fmax_mhz`` and ``pass`` per clock (nextpnr's final report), ``seconds``
and ``reused``; ``clocks``: per clock, ``min``, ``median`` and ``max`` of the seeds' Fmax and
how many seeds ``met`` the requested frequency; ``seconds``.
"""
import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from boards import registry, tools
from boards.bitstream import NAME, check_design, design_arguments, parse_nextpnr_log
from boards.registry import BoardError
from cluster import Runner, add_arguments
from cluster.runner import check_arguments
from model.cli import write_json

SYNTH_TIMEOUT = 4 * 3600       # seconds: the largest netlists take tens of minutes
PNR_TIMEOUT = 4 * 3600
INPUTS = (f"{NAME}.il", f"{NAME}.ys", f"{NAME}.lpf", f"{NAME}.pcf")   # what synthesis reads


def plan_commands(folder: Path) -> list[list[str]]:
    """The flow's commands from Amaranth's build plan (``build_<name>.json``: tool names first)."""
    return json.loads((folder / f"build_{NAME}.json").read_text())["commands"]


def digest(folder: Path, names) -> str:
    h = hashlib.sha256()
    for name in names:
        if (folder / name).is_file():
            h.update(name.encode() + (folder / name).read_bytes())
    return h.hexdigest()[:16]


def synthesize(folder: Path, command: list[str], env: dict) -> str:
    """Run the plan's yosys command in ``folder`` unless its netlist is of the same inputs;
    returns the netlist's digest."""
    stamp, netlist = folder / "netlist.inputs", folder / f"{NAME}.json"
    inputs = digest(folder, INPUTS)
    if netlist.is_file() and stamp.is_file() and stamp.read_text() == inputs:
        print(f"synthesis: {netlist} is of the same inputs, reused", flush=True)
    else:
        print(f"synthesis: {' '.join(command)}", flush=True)
        start = time.monotonic()
        proc = subprocess.run([env[tools.env_var(command[0])], *command[1:]], cwd=folder, env=env,
                              timeout=SYNTH_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"synthesis failed (exit {proc.returncode}); see {folder / (NAME + '.rpt')}")
        stamp.write_text(inputs)
        print(f"synthesis: {time.monotonic() - start:.0f} s", flush=True)
    return digest(folder, [f"{NAME}.json"])


def place_and_route(folder: str, command: list[str], seed: int, key: str) -> dict:
    """One seed, a task: nextpnr (``command``, the plan's, plus ``--seed``) on the netlist in
    ``folder`` (the checkout's build/, shared by the workers), in ``folder/seed-<seed>/``; its
    result written atomically to ``result.json`` there (reused when ``key`` matches)."""
    src, work = Path(folder), Path(folder) / f"seed-{seed}"
    result = work / "result.json"
    if result.is_file():
        cached = json.loads(result.read_text())
        if cached.get("key") == key:
            return {**cached, "reused": True}
    work.mkdir(parents=True, exist_ok=True)
    for name in (f"{NAME}.json", f"{NAME}.lpf", f"{NAME}.pcf"):
        if (src / name).is_file():       # YoWASP's tools see only the folder they run in
            shutil.copyfile(src / name, work / name)
    tool = tools.find(command[0])
    if tool is None:
        raise tools.ToolMissing(f"{tools.name(command[0])} not found on this worker")
    start = time.monotonic()
    proc = subprocess.run([tool, *command[1:], "--seed", str(seed)], cwd=work,
                          capture_output=True, text=True, timeout=PNR_TIMEOUT)
    log = work / f"{NAME}.tim"
    if proc.returncode != 0:
        raise RuntimeError(f"nextpnr --seed {seed} failed (exit {proc.returncode}), log {log}: "
                           f"{proc.stderr.strip()[-500:]}")
    parsed = parse_nextpnr_log(log.read_text())
    out = {"seed": seed, "key": key, "seconds": round(time.monotonic() - start, 1),
           "fmax_mhz": {c: v["fmax_mhz"] for c, v in parsed["clocks"].items()},
           "pass": {c: v["pass"] for c, v in parsed["clocks"].items()},
           "target_mhz": {c: v["target_mhz"] for c, v in parsed["clocks"].items()}}
    for copy in (f"{NAME}.json", f"{NAME}.config"):     # netlist copy, placed design: not kept
        (work / copy).unlink(missing_ok=True)
    write_json(result, out)
    return {**out, "reused": False}


def spread(results: list[dict]) -> dict:
    """Per clock: min, median and max Fmax over the seeds, and how many met the target."""
    clocks = sorted({c for r in results for c in r["fmax_mhz"]})
    return {c: {"min": min(f := [r["fmax_mhz"][c] for r in results if c in r["fmax_mhz"]]),
                "median": statistics.median(f), "max": max(f),
                "met": sum(bool(r["pass"].get(c)) for r in results), "seeds": len(f)}
            for c in clocks}


def run(args) -> int:
    t0 = time.monotonic()
    board = registry.board(args.board)
    if board.family not in ("ecp5", "ice40"):
        raise BoardError(f"seeds: {board.name} is a {board.family} board; the seed sweep runs "
                         "the YoWASP place and route (ECP5, iCE40 boards)")
    design = check_design(args)
    if args.check_only:
        return 0
    folder = design.extract(Path(args.out) / f"{design.board.name}-seeds")
    synth, pnr, *_ = plan_commands(folder)
    netlist = synthesize(folder, synth, design.env)
    key = hashlib.sha256(json.dumps([netlist, pnr]).encode()).hexdigest()[:16]
    with Runner.from_args(args) as runner:
        tasks = {k: runner.submit(place_and_route, str(folder), pnr, k, key, key=f"nextpnr-seed-{k}")
                 for k in range(1, args.seeds + 1)}
        results = []
        for k, res in runner.completed(tasks, desc="seeds"):
            results.append(res)
            print(f"seed {k}: " + ", ".join(f"{c} {f:.2f} MHz ({'PASS' if res['pass'][c] else 'FAIL'})"
                                           for c, f in res["fmax_mhz"].items())
                  + (" (reused)" if res["reused"] else f" ({res['seconds']} s)"), flush=True)
    results.sort(key=lambda r: r["seed"])
    report = {"board": design.board.name, "device": design.board.device, "config": str(args.config),
              "layers": [design.cfg.layers[i].name for i in design.layers], "lanes": design.lanes,
              "requested_mhz": design.mhz,
              "netlist": {"path": str(folder / f"{NAME}.json"), "digest": netlist},
              "command": pnr, "seeds": [{k: v for k, v in r.items() if k != "key"} for r in results],
              "clocks": spread(results), "seconds": round(time.monotonic() - t0, 1)}
    out = Path(args.report)
    write_json(out, report)
    for c, s in report["clocks"].items():
        print(f"{c}: Fmax over {s['seeds']} seeds min {s['min']:.2f}, median {s['median']:.2f}, "
              f"max {s['max']:.2f} MHz; {s['met']} met {design.mhz} MHz")
    print(f"wrote {out}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m boards.seeds", description=__doc__.split("\n")[0])
    design_arguments(ap)
    ap.add_argument("--seeds", type=int, default=4, help="nextpnr seeds 1 .. n")
    ap.add_argument("--out", default="build/boards")
    ap.add_argument("--report", default="build/reports/seeds.json")
    ap.add_argument("--check-only", action="store_true",
                    help="run the checks (board, config, layers, tools, fit) and stop")
    add_arguments(ap)
    args = ap.parse_args(argv)
    args.synth_only = False
    try:
        check_arguments(args.workers, args.scheduler)
        if args.seeds < 1:
            raise ValueError(f"--seeds {args.seeds}: must be >= 1")
        return run(args)
    except (BoardError, ValueError, tools.ToolMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
