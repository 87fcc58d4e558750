"""``make bench`` (the layer core): checked co-simulation speed of the layer core.

    python -m sim.bench_core [--configs 3] [--images 10] [--repeat 3] [--out build/reports/bench_core.json]

The first ``configs`` configurations of a ``make regress`` run (sim/regress.py, run seed
``--seed``, default 1, make regress's default), each co-simulated ``repeat`` times on the same build exactly as the regress run checks it:
the synapses and every image loaded through the host interface, every command's trace compared
event by event and cycle by cycle, its counters and winners, and its memories read back and
compared after the first command of each kind and the last (``--memories each``: after every
command). ``checked_cycles_per_second``: the commands' cycles (the cycle models' count, equal to
the RTL's) per wall-clock second of that whole loop inside the simulation (loading, commands,
comparisons; not the build or the simulator's start); ``checked_cycles_per_cpu_second``: the
same per CPU second of the simulator process (one thread: on a shared machine the wall-clock
figure falls with the load, this one does not). Each is the median over the repeats of the
configurations' total; ``runs`` has every repeat.
"""
from __future__ import annotations

import argparse
import statistics
import sys

from model.cli import guarded, write_json
from sim import cosim, regress, runner


def measure(d: regress.Draw, images: int, sim: str, memories: str = "sampled") -> dict:
    """One co-simulation of configuration ``d``: its cycles, events and the loop's seconds."""
    s = regress.stimulus(d, images)
    rep = cosim.run_core(d.layout(), d.formats(), d.layer(), regress.steps(d, s["times"]),
                         s["weights"], s["active"], d.threshold, {"regress_seed": d.seed},
                         sim=sim, tag=f"-rg{d.seed:08x}", memories=memories)
    return {"cycles": sum(rep["cycles"]), "events": rep["trace_events"],
            "seconds": rep["seconds"], "cpu_seconds": rep["cpu_seconds"]}


def run(configs: int, images: int, repeat: int, sim: str, seed: int = 1,
        memories: str = "sampled") -> dict:
    draws = [regress.draw(regress.config_seed(seed, i)) for i in range(configs)]
    for d in draws:                       # the builds, not timed
        measure(d, 1, sim, memories)
    runs = [[measure(d, images, sim, memories) for d in draws] for _ in range(repeat)]
    cycles = sum(r["cycles"] for r in runs[0])
    return {"simulator": sim, "memories": memories, "seeds": [d.seed for d in draws], "images": images,
            "repeat": repeat, "cycles": cycles, "events": sum(r["events"] for r in runs[0]),
            "checked_cycles_per_second": statistics.median(
                cycles / sum(r["seconds"] for r in rs) for rs in runs),
            "checked_cycles_per_cpu_second": statistics.median(
                cycles / sum(r["cpu_seconds"] for r in rs) for rs in runs),
            "runs": runs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.bench_core", description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=3, help="configurations (default 3)")
    ap.add_argument("--images", type=int, default=10, help="random inputs each (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, for the median (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="make regress's run seed (default 1)")
    ap.add_argument("--memories", choices=("sampled", "each"), default="sampled",
                    help="memories read back after the first command of each kind and the "
                         "last (make regress's choice, default), or after every command")
    ap.add_argument("--sim", default=None, help="verilator (default, or $SIM) or icarus")
    ap.add_argument("--out", default="build/reports/bench_core.json")
    args = ap.parse_args(argv)
    for name in ("configs", "images", "repeat"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} {getattr(args, name)}: must be >= 1")

    def body() -> int:
        sim = runner.require(args.sim)
        rep = run(args.configs, args.images, args.repeat, sim, args.seed, args.memories)
        write_json(args.out, rep)
        print(f"{rep['cycles']} cycles, {rep['events']} trace events checked a run: "
              f"{rep['checked_cycles_per_second']:.4g} checked cycles/s, "
              f"{rep['checked_cycles_per_cpu_second']:.4g} per CPU second; wrote {args.out}")
        return 0

    return guarded(body, errors=(runner.UnknownSimulator, runner.ToolMissing))


if __name__ == "__main__":
    sys.exit(main())
