"""``make regress``: constrained-random differential co-simulation of the layer core.

    python -m sim.regress [--configs 100] [--seed 1] [--images 3] [--sim verilator]
    python -m sim.regress --replay SEED            # one configuration, as a failure names it

Each configuration is drawn from its own seed (``draw``), within what the generator accepts
(``EngineLayout.check``, ``PoolLayout.check``, the configuration's own ranges): maps, channels,
kernel, padding, input side, lanes, weight and potential widths, rate fraction bits, stochastic
or floor rounding, time steps, threshold, k and r, pooling, random synapses and a random
connection mask (the threshold rule's state), the pruning check and its threshold, the policy
registers (maps off, a window end). The core generated for it runs, loaded once, a sequence of
commands on ``images`` random inputs -- learn, infer, sweep, then learn and infer with maps off
and a shorter window -- and ``sim.cosim.run_core`` compares every trace event (cycle and
value), the counters and winners of every command, and every memory after the first command of
each kind and after the last (``memories="sampled"``), with the cycle models (cycles/core.py),
stopping at the first difference; the whole configuration runs as one script inside the
simulation (sim/host_script.py). A failure prints the configuration and the seed that reproduces it; the
report, ``build/reports/regress.json``, holds ``configurations``, ``events`` (trace events
compared), ``cycles``, ``mismatches`` (failed configurations, each with its seed and message),
``seconds``, ``seed`` and ``simulator``. The configurations are independent tasks on a Dask
cluster (``--workers``, ``--scheduler``: ``cluster.Runner``; ``--workers 0`` one after the
other in this process).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from cluster import Runner, add_arguments
from cluster.runner import check_arguments
from cycles.layout import EngineLayout, HardwareConfigError, PoolLayout
from cycles.learning import LearningParams
from model import rng
from model.cli import guarded, write_json
from model.fixedpoint import Formats
from sim import cosim, runner

MAX_DRAWS = 64          # draws per configuration seed before giving up on a valid one


@dataclass(frozen=True)
class Draw:
    """One configuration of the core and its stimulus parameters."""
    seed: int
    maps: int
    channels: int
    kernel: int
    padding: int
    side_in: int
    lanes: int
    weight_bits: int
    potential_bits: int
    rate_frac_bits: int
    stochastic: bool
    time_steps: int
    threshold: int            # in weight LSBs
    winners: int
    radius: int
    pool_size: int            # 0: no outgoing unit (the last layer's global pooling)
    pool_stride: int
    pruned_share: float
    check: bool
    prune_th: int
    a_plus: float
    window: int               # the shortened window of the policy steps
    maps_off: tuple           # maps disabled in the policy steps

    def layout(self) -> EngineLayout:
        return EngineLayout(self.maps, self.channels, self.kernel, self.padding, self.side_in,
                            self.time_steps, self.lanes, self.weight_bits, self.potential_bits,
                            self.channels * self.side_in ** 2).check()

    def formats(self) -> Formats:
        return Formats(self.weight_bits, self.potential_bits, self.rate_frac_bits, self.stochastic)

    def layer(self):
        lc = cosim.layer_config({"winners": self.winners, "inhibition_radius": self.radius,
                                 "pointwise_inhibition": self.pool_size > 0,
                                 "pool": {"size": self.pool_size, "stride": self.pool_stride}})
        if self.pool_size > 0:
            PoolLayout.from_config(self.layout(), lc)
        return lc


def config_seed(seed: int, index: int) -> int:
    """The seed of configuration ``index`` of a run started with ``seed``."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:4], "little")


def draw(seed: int) -> Draw:
    """A valid configuration from ``seed`` (deterministic); raises when none is found."""
    rs = np.random.default_rng(seed)
    for _ in range(MAX_DRAWS):
        kernel = int(rs.choice([1, 2, 3, 5]))
        side = int(rs.integers(max(kernel, 3), 11))
        maps = int(rs.integers(1, 13))
        wb = int(rs.integers(3, 9))
        rfb = int(rs.integers(8, min(20, 32 - wb) + 1))
        pool = bool(rs.random() < 0.6)
        padding = int(rs.integers(0, kernel // 2 + 1))
        side_out = side + 2 * padding - kernel + 1
        size = int(rs.integers(1, min(3, side_out) + 1)) if pool else 0
        channels = int(rs.integers(1, 5))
        wmax = (1 << wb) - 1
        fan_in = channels * kernel * kernel
        threshold = int(rs.integers(wmax, max(wmax + 1, wmax * fan_in // 2) + 1))
        pb = max(int(rs.integers(10, 19)), threshold.bit_length() + 1)
        T = int(rs.integers(2, 11))
        d = Draw(seed=seed, maps=maps, channels=channels, kernel=kernel, padding=padding,
                 side_in=side, lanes=int(rs.integers(1, min(maps, 6) + 1)), weight_bits=wb,
                 potential_bits=pb, rate_frac_bits=rfb, stochastic=bool(rs.random() < 0.8),
                 time_steps=T, threshold=threshold, winners=int(rs.integers(1, min(maps, 4) + 1)),
                 radius=int(rs.integers(0, 3)), pool_size=size,
                 pool_stride=int(rs.integers(1, size + 1)) if pool else 0,
                 pruned_share=float(rs.choice([0.0, 0.3, 0.6, 0.9])), check=bool(rs.random() < 0.7),
                 prune_th=int(rs.integers(0, wmax // 2 + 1)), a_plus=float(rs.uniform(0.004, 0.15)),
                 window=int(rs.integers(1, T + 1)),
                 maps_off=tuple(int(f) for f in np.flatnonzero(rs.random(maps) < 0.3)))
        try:
            d.layout()
            d.layer()
        except HardwareConfigError:
            continue
        return d
    raise RuntimeError(f"no valid configuration in {MAX_DRAWS} draws from seed {seed}")


def stimulus(d: Draw, images: int) -> dict:
    """Synapses, mask and input spike times of a configuration, from its seed."""
    rs = np.random.default_rng(d.seed ^ 0x5EED)
    shape = (d.maps, d.channels, d.kernel, d.kernel)
    wmax = (1 << d.weight_bits) - 1
    weights = rs.integers(wmax // 3, wmax + 1, shape)
    near = rs.random(shape) < 0.3                     # some weights just above the check's threshold
    weights[near] = np.minimum(d.prune_th + rs.integers(0, 3, int(near.sum())), wmax)
    active = (rs.random(shape) >= d.pruned_share) & (weights >= d.prune_th)
    times = [np.where(rs.random((d.channels, d.side_in, d.side_in)) < 0.5,
                      rs.integers(0, d.time_steps, (d.channels, d.side_in, d.side_in)), d.time_steps)
             for _ in range(images)]
    return {"weights": weights, "active": active, "times": times}


def steps(d: Draw, times: list) -> list[dict]:
    """The commands a configuration runs: per image learn, infer; a sweep; then per image learn
    and infer with maps off and the shortened window."""
    fmt = d.formats()
    ap = fmt.rate_q(d.a_plus)
    am = fmt.rate_q(0.75 * d.a_plus)
    params = lambda n: LearningParams(ap, am, rng.layer_key(d.seed, 0), n, d.check, d.prune_th)
    learn = lambda n: dict(cmd="learn", learning=params(n))
    off = dict(enabled=[f not in d.maps_off for f in range(d.maps)], window=d.window)
    out = []
    for n, x in enumerate(times):
        out += [dict(learn(n), times_in=x), dict(cmd="infer", times_in=x)]
    out.append(dict(cmd="sweep", learning=replace(params(len(times)), a_plus=0, a_minus=0),
                    times_in=times[0]))
    for n, x in enumerate(times):
        out += [dict(learn(len(times) + 1 + n), times_in=x, **off), dict(cmd="infer", times_in=x, **off)]
    return out


def run_one(d: Draw, images: int, sim: str) -> dict:
    """Co-simulate one configuration; raises AssertionError at the first difference."""
    s = stimulus(d, images)
    ctx = {"regress_seed": d.seed}
    rep = cosim.run_core(d.layout(), d.formats(), d.layer(), steps(d, s["times"]), s["weights"],
                         s["active"], d.threshold, ctx, sim=sim, tag=f"-rg{d.seed:08x}",
                         memories="sampled")
    if [x["counters"] for x in rep["seen"]] != rep["counters"]:
        raise AssertionError("counters differ: " + repr([x["counters"] for x in rep["seen"]]))
    return {"events": rep["trace_events"], "cycles": sum(rep["cycles"])}


def check_config(seed: int, images: int, sim: str) -> dict:
    """One configuration, a task: its outcome, never an exception for a mismatch."""
    d = draw(seed)
    try:
        return {"seed": seed, "config": asdict(d), "ok": True, **run_one(d, images, sim)}
    except AssertionError as exc:
        return {"seed": seed, "config": asdict(d), "ok": False, "message": str(exc)[:2000]}


def run(seeds: list[int], images: int, sim: str, progress=print, runner=None) -> dict:
    """Every configuration of ``seeds``: tasks of ``runner`` (a ``cluster.Runner``), else one
    after the other in this process."""
    start = time.perf_counter()
    rep = {"simulator": sim, "images": images, "configurations": 0, "events": 0, "cycles": 0,
           "mismatches": [], "runs": []}
    if runner is None:
        outcomes = ((i, check_config(seed, images, sim)) for i, seed in enumerate(seeds))
    else:
        tasks = {i: runner.submit(check_config, seed, images, sim, key=f"regress-{seed}")
                 for i, seed in enumerate(seeds)}
        outcomes = runner.completed(tasks, desc="configurations")
    for k, (i, got) in enumerate(outcomes, 1):
        seed, d = got["seed"], got["config"]
        if not got["ok"]:
            rep["mismatches"].append({"seed": seed, "config": d, "message": got["message"]})
            progress(f"[{k}/{len(seeds)}] seed {seed}: MISMATCH (replay: make regress SEED={seed})\n"
                     f"  configuration: {d}\n  {got['message'][:500]}")
            continue
        rep["configurations"] += 1
        rep["events"] += got["events"]
        rep["cycles"] += got["cycles"]
        rep["runs"].append({"seed": seed, "events": got["events"], "cycles": got["cycles"]})
        progress(f"[{k}/{len(seeds)}] seed {seed}: {got['events']} events, {got['cycles']} cycles, "
                 f"0 mismatches ({d['maps']} maps, {d['channels']} ch, k {d['kernel']}, side "
                 f"{d['side_in']}, P {d['lanes']}, W {d['weight_bits']}, T {d['time_steps']}, "
                 f"pool {d['pool_size']})")
    rep["runs"].sort(key=lambda r: seeds.index(r["seed"]))
    rep["seconds"] = round(time.perf_counter() - start, 1)
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.regress", description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=100, help="configurations to draw (default 100)")
    ap.add_argument("--seed", type=int, default=1, help="the run's seed (default 1)")
    ap.add_argument("--replay", type=int, default=None, metavar="SEED",
                    help="run only the configuration of this seed (as a failure prints it)")
    ap.add_argument("--images", type=int, default=3, help="random inputs per configuration")
    ap.add_argument("--sim", default=None, help="verilator (default, or $SIM) or icarus")
    ap.add_argument("--out", default="build/reports/regress.json")
    add_arguments(ap)
    args = ap.parse_args(argv)
    if args.configs < 1 or args.images < 1:
        ap.error(f"--configs {args.configs}, --images {args.images}: both must be >= 1")
    try:
        check_arguments(args.workers, args.scheduler)
    except ValueError as exc:
        ap.error(str(exc))

    def body() -> int:
        sim = runner.default_sim(args.sim)
        seeds = ([args.replay] if args.replay is not None
                 else [config_seed(args.seed, i) for i in range(args.configs)])
        with Runner.from_args(args) as tasks:
            rep = dict(run(seeds, args.images, sim, runner=tasks), seed=args.seed,
                       replay=args.replay)
        write_json(args.out, rep)
        print(f"{rep['configurations']} configurations, {rep['events']} trace events compared, "
              f"{len(rep['mismatches'])} mismatching, {rep['seconds']} s; wrote {args.out}")
        return 1 if rep["mismatches"] else 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
