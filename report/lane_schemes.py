"""How the lanes could share the work of a pass: today's core against the schemes a network core
could use, counted with the cycle models on a trained network.

    python -m report.lane_schemes --config configs/mnist.yaml [--images 40] \\
        --out build/reports/lane_schemes.json

Trains (or reuses the checkpoints of) the config's dense and pruned variants as ``make train``
does, then counts, per test image, the cycles of an inference through every layer under each
scheme. Every scheme keeps today's lane ownership (lane l holds maps g P + l, their potentials and
weights) and today's per-event and per-step costs (prefetch waits, step ends, drains, the CLEAR of
the valid bitmaps: ``integrate_pass``'s cycles minus its op cycles); they differ only in how the
lanes' live operations are put into cycles:

* ``row``: the engine before its lanes walked their own rows: all lanes on one row at a time; a
  row costs its busiest lane's live connections, and at least one cycle;
* ``event``: the engine (``cycles.integrate.integrate_pass``, checked against it here): all
  lanes on one event at a time, each lane walking the live connections of the event's rows back
  to back: an event costs its busiest lane's live connections over its rows;
* ``step``: each lane walks the step's events on its own, the lanes meeting only at the step's
  end: a step costs its busiest lane's live connections;
* ``step_balanced``: ``step`` with the maps given to the lanes so that every lane holds about as
  many live connections (``balanced_maps``: largest first, each to the lane with the fewest so
  far, G maps a lane at most), which the host can choose once the network is pruned;
* ``free``: each lane walks the whole pass on its own, never waiting for the others (a lane's
  neurons depend on its own operations only; the fires it drains carry their step, so whoever
  reads them later can order them): a pass costs its busiest lane's live connections;
* ``free_balanced``: ``free`` with ``balanced_maps``;
* ``position``: lanes own output positions instead of maps (lane (y mod a) b + (x mod b),
  a b = P, a <= b as close as they come), every lane holding every weight, free-running: a row
  goes to the lane of the position it reaches, with all its maps' live connections; a pass
  costs its busiest lane's. It costs P copies of the weights: affordable for a small first
  layer (conv1's are 12 Kbit), not for conv2;
* ``ideal``: a step's live connections spread evenly, ceil(ops / P): no scheme does better with
  P lanes.

and how the outgoing unit reads the neurons (layers with pooling):

* ``scan``: inhibition reads every neuron, pooling every window (the unit before its
  fired-position bitmap, ``scan_outgoing_cycles``);
* ``fired``: the unit's own (``cycles.pool.outgoing_pass``): inhibition walks only the positions
  where a neuron fired (a bitmap set as they fire), pooling reads only the windows holding one;
  the event walk is the same.

Fields: ``images``, ``lanes``, per variant (``dense``, ``pruned``) the mean cycles per image of
every (lane scheme, outgoing scheme) pair as ``cycles[scheme][outgoing]``, the lane utilisation
of each lane scheme (``utilisation``: lane operations over lane cycles), per layer
(``layers[name]``) the mean op cycles of each lane scheme, the fixed cycles (``fixed``: prefetch
waits, step ends, drains, CLEAR), ``outgoing[scheme]`` and the lane operations ``ops``; and
``speedup[scheme][outgoing]``: dense ``row``/``scan`` (the core before it walked fired positions and
lanes their own rows; dense, ``event`` costs the same) over pruned under that pair;
``plan``: the network core's choice per layer (``position`` for a layer whose weights fit
``REPLICATE_BITS``, ``free_balanced`` otherwise, fired-only outgoing) with its ``speedup`` and its
dense cycles against today's (``dense_against_today``), and each variant's ``plan`` cycles.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from cycles.image import events_to_times
from cycles.integrate import integrate_pass
from cycles.layout import B_FLUSH, EngineLayout, PoolLayout
from cycles.pool import outgoing_pass
from model import config as C
from model import data
from model.cli import guarded, write_json
from report.train import train_network

# A layer whose weights fit this many bits is copied into every lane (the ``position`` scheme);
# a larger one is split over the lanes by map (``free_balanced``): the ``plan`` of the report.
REPLICATE_BITS = 16 * 1024

LANE_SCHEMES = ("row", "event", "step", "step_balanced", "free", "free_balanced", "position",
                "ideal")
OUTGOING_SCHEMES = ("scan", "fired")


def _popcounts(lay: EngineLayout, live: np.ndarray) -> np.ndarray:
    """(P, rows) live connections of each lane's mask word."""
    words = lay.lane_masks(live)
    return np.vectorize(lambda w: bin(int(w)).count("1"), otypes=[np.int64])(words)


def balanced_maps(lay: EngineLayout, live: np.ndarray) -> np.ndarray:
    """A map order for the lanes (slot g P + l gets map order[g P + l]) that evens out the lanes'
    live connections: the maps by live connections, largest first, each to the lane with the
    fewest so far that still has a free slot."""
    count = live.reshape(lay.maps, -1).sum(axis=1)
    load, slots = np.zeros(lay.lanes, dtype=np.int64), [[] for _ in range(lay.lanes)]
    for f in np.argsort(-count, kind="stable"):
        lane = min((l for l in range(lay.lanes) if len(slots[l]) < lay.groups), key=lambda l: load[l])
        slots[lane].append(int(f))
        load[lane] += count[f]
    order = np.full(lay.groups * lay.lanes, -1, dtype=np.int64)
    for lane, maps in enumerate(slots):
        for g, f in enumerate(maps):
            order[g * lay.lanes + lane] = f
    return order


def _step_cycles(pc: np.ndarray, steps_rows: list) -> int:
    """Sum over steps of the busiest lane's live connections, ``steps_rows`` the rows of each step."""
    return sum(int(pc[:, rows].sum(axis=1).max()) if rows else 0 for rows in steps_rows)


def op_cycles(lay: EngineLayout, times_in: np.ndarray, live: np.ndarray, window: int) -> dict:
    """Each lane scheme's op cycles of one pass (module docstring), and its lane operations."""
    pc = _popcounts(lay, live)                               # (P, rows)
    k, so, pad = lay.kernel, lay.side_out, lay.padding
    ra = pc.sum(axis=0) > 0                                  # the row summaries: a live row
    per_step = {s: 0 for s in LANE_SCHEMES}
    ops = 0
    events = [e for e in lay.events(times_in) if e[0] < window]
    steps_rows = [[] for _ in range(window)]
    for t in range(window):
        lane_ops = np.zeros(lay.lanes, dtype=np.int64)
        for _, c, y, x in (e for e in events if e[0] == t):
            rows = [(c * k + ky) * k + kx for ky in range(k) for kx in range(k)
                    if 0 <= y + pad - ky < so and 0 <= x + pad - kx < so and ra[(c * k + ky) * k + kx]]
            if not rows:
                continue
            w = pc[:, rows]                                  # (P, rows of the event)
            per_step["row"] += int(np.maximum(w.max(axis=0), 1).sum())
            per_step["event"] += int(max(w.sum(axis=1).max(), 1))
            lane_ops += w.sum(axis=1)
            steps_rows[t] += rows
        per_step["step"] += int(lane_ops.max())
        per_step["ideal"] += int(-(-lane_ops.sum() // lay.lanes))
        ops += int(lane_ops.sum())
    order = balanced_maps(lay, live)
    padded = np.zeros((lay.groups * lay.lanes, *live.shape[1:]), dtype=bool)
    padded[order >= 0] = live[order[order >= 0]]
    # slots past F hold no map: a layout of G P maps with those slots empty
    wide = dataclasses.replace(lay, maps=lay.groups * lay.lanes)
    bal = _popcounts(wide, padded)
    per_step["step_balanced"] = _step_cycles(bal, steps_rows)
    every = [r for rows in steps_rows for r in rows]
    per_step["free"] = _step_cycles(pc, [every])
    per_step["free_balanced"] = _step_cycles(bal, [every])
    per_step["position"] = _position_cycles(lay, pc.sum(axis=0), events, ra)
    return {"cycles": per_step, "ops": ops}


def interleave(lanes: int) -> tuple[int, int]:
    """(a, b), a b = lanes, a <= b as close as they come: the position lanes' 2-D interleave."""
    a = max(d for d in range(1, int(lanes ** 0.5) + 1) if lanes % d == 0)
    return a, lanes // a


def _position_cycles(lay: EngineLayout, row_ops: np.ndarray, events, ra) -> int:
    """The ``position`` scheme's pass: the busiest lane's live connections, a row's going to the
    lane of the output position it reaches."""
    a, b = interleave(lay.lanes)
    k, so, pad = lay.kernel, lay.side_out, lay.padding
    load = np.zeros(lay.lanes, dtype=np.int64)
    for _, c, y, x in events:
        for ky in range(k):
            for kx in range(k):
                oy, ox, row = y + pad - ky, x + pad - kx, (c * k + ky) * k + kx
                if 0 <= oy < so and 0 <= ox < so and ra[row]:
                    load[(oy % a) * b + ox % b] += row_ops[row]
    return int(load.max())


def scan_outgoing_cycles(pl: PoolLayout, out) -> int:
    """The outgoing unit reading every neuron (the unit before the fired-position bitmap):
    inhibition G npos + 3 cycles, pooling every window, (W + 1) S2 + B_FLUSH; the event walk
    and DONE as the unit's (``out``, a ``cycles.pool.outgoing_pass``)."""
    lay = pl.lay
    walk = out.cycles - out.phases["walk"]
    return (lay.groups * lay.npos + 3) + ((pl.windows + 1) * pl.cells + B_FLUSH) + walk


def image_schemes(net, x: np.ndarray) -> dict:
    """Cycles of one image's inference through every layer under every pair of schemes."""
    cfg = net.cfg
    total = {s: {o: 0 for o in OUTGOING_SCHEMES} for s in LANE_SCHEMES}
    ops, lane_cycles, layers = 0, dict.fromkeys(LANE_SCHEMES, 0), {}
    for i, lc in enumerate(cfg.layers):
        lay = EngineLayout.for_input(cfg, i, cfg.lanes(i), x)
        live = ~net.pruned[i] & net.channel_on[i][:, None, None, None]
        ip = integrate_pass(lay, x, net.weights[i], ~net.pruned[i], net.thresholds[i],
                            net.channel_on[i], net.window)
        sch = op_cycles(lay, x, live, net.window)
        assert sch["cycles"]["event"] == ip.op_cycles and sch["ops"] == ip.ops, "event scheme drifted"
        fixed = ip.cycles - ip.op_cycles
        out = None
        if lc.pool.size > 0 and i < len(cfg.layers) - 1:
            out = outgoing_pass(lay, lc, ip.fire, ip.v_fire)
            pl = PoolLayout.from_config(lay, lc)
            outgoing = {"scan": scan_outgoing_cycles(pl, out), "fired": out.cycles}
        else:
            outgoing = dict.fromkeys(OUTGOING_SCHEMES, 0)
        copied = lay.maps * lay.rows * lay.weight_bits <= REPLICATE_BITS
        layers[lc.name] = {"fixed": fixed, "outgoing": outgoing, "ops": sch["ops"], **sch["cycles"],
                           "plan": fixed + sch["cycles"]["position" if copied else "free_balanced"]
                           + outgoing["fired"], "plan_scheme": "position" if copied else "free_balanced"}
        for s in LANE_SCHEMES:
            lane_cycles[s] += sch["cycles"][s] * lay.lanes
            for o in OUTGOING_SCHEMES:
                total[s][o] += fixed + sch["cycles"][s] + outgoing[o]
        ops += sch["ops"]
        if out is not None:
            x = events_to_times(out.events, lc.maps, pl.side, lay.time_steps)
    return {"cycles": total, "ops": ops, "lane_cycles": lane_cycles, "layers": layers}


def measure(net, images: np.ndarray) -> dict:
    recs = [image_schemes(net, x) for x in net.encode(images)]
    mean = lambda f: float(np.mean([f(r) for r in recs]))
    return {
        "cycles": {s: {o: mean(lambda r: r["cycles"][s][o]) for o in OUTGOING_SCHEMES}
                   for s in LANE_SCHEMES},
        "utilisation": {s: float(sum(r["ops"] for r in recs) / max(1, sum(r["lane_cycles"][s] for r in recs)))
                        for s in LANE_SCHEMES},
        "ops": mean(lambda r: r["ops"]),
        "layers": {name: {key: (recs[0]["layers"][name][key] if key == "plan_scheme" else
                                mean(lambda r: r["layers"][name][key]) if key != "outgoing" else
                                {o: mean(lambda r: r["layers"][name]["outgoing"][o]) for o in OUTGOING_SCHEMES})
                          for key in recs[0]["layers"][name]}
                   for name in recs[0]["layers"]},
        "plan": mean(lambda r: sum(lay["plan"] for lay in r["layers"].values())),
    }


def run(cfg: C.Config, tag: str, images: int) -> dict:
    start = time.perf_counter()
    ds = data.load(cfg)
    rep = {"images": images, "lanes": cfg.core.lanes, "config": cfg.to_dict(), "variants": {}}
    for name, enabled in (("dense", False), ("pruned", True)):
        vcfg = C.replace(cfg, **{"pruning.enabled": enabled})
        net, _, _ = train_network(vcfg, ds, name, tag)
        rep["variants"][name] = measure(net, ds.test_x[:images])
    today = rep["variants"]["dense"]["cycles"]["row"]["scan"]
    pruned = rep["variants"]["pruned"]["cycles"]
    rep["speedup"] = {s: {o: today / pruned[s][o] for o in OUTGOING_SCHEMES} for s in LANE_SCHEMES}
    rep["plan"] = {"speedup": today / rep["variants"]["pruned"]["plan"],
                   "dense_against_today": rep["variants"]["dense"]["plan"] / today,
                   "schemes": {n: lay["plan_scheme"] for n, lay in rep["variants"]["pruned"]["layers"].items()}}
    rep["dense_against_today"] = {s: {o: rep["variants"]["dense"]["cycles"][s][o] / today
                                      for o in OUTGOING_SCHEMES} for s in LANE_SCHEMES}
    rep["seconds"] = round(time.perf_counter() - start, 1)
    return rep


def summary(rep: dict) -> str:
    lines = [f"{'lanes':>6} {'outgoing':>8} {'dense':>9} {'pruned':>9} {'speed-up':>8} {'util. dense/pruned':>18}"]
    for s in LANE_SCHEMES:
        for o in OUTGOING_SCHEMES:
            d, p = (rep["variants"][v]["cycles"][s][o] for v in ("dense", "pruned"))
            u = "/".join(f"{rep['variants'][v]['utilisation'][s]:.2f}" for v in ("dense", "pruned"))
            lines.append(f"{s:>6} {o:>8} {d:>9.0f} {p:>9.0f} {rep['speedup'][s][o]:>7.2f}x {u:>18}")
    plan = rep["plan"]
    lines.append(f"plan ({', '.join(f'{n} {s}' for n, s in plan['schemes'].items())}, fired outgoing): "
                 f"dense {rep['variants']['dense']['plan']:.0f}, pruned {rep['variants']['pruned']['plan']:.0f}, "
                 f"speed-up {plan['speedup']:.2f}x")
    for name, lay in rep["variants"]["pruned"]["layers"].items():
        lines.append(f"pruned {name}: ops {lay['ops']:.0f}, fixed {lay['fixed']:.0f}, outgoing "
                     + ", ".join(f"{o} {lay['outgoing'][o]:.0f}" for o in OUTGOING_SCHEMES) + "; op cycles "
                     + ", ".join(f"{s} {lay[s]:.0f}" for s in LANE_SCHEMES))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m report.lane_schemes", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/mnist.yaml")
    ap.add_argument("--images", type=int, default=40, help="test images counted (default 40)")
    ap.add_argument("--out", default="build/reports/lane_schemes.json")
    args = ap.parse_args(argv)
    if args.images < 1:
        ap.error(f"--images {args.images}: must be >= 1")

    def body() -> int:
        rep = run(C.load(args.config), Path(args.config).stem, args.images)
        write_json(args.out, rep)
        print(summary(rep))
        print(f"wrote {args.out}")
        return 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
