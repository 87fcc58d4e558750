"""Self-contained simulation harnesses for the winner unit (hw/wta.py) and the outgoing unit
(hw/pool.py), with their trace formats, for co-simulation under cocotb (sim/cocotb_units.py).

Each harness is test-bench hardware (never synthesized with the core): its stimulus is baked in
as memory ``init`` from one case, so a run needs only ``start``; it has ``start`` / ``done`` /
``cycle`` and trace ports, so ``sim.capture.TraceCapture(harness, fmt, last="done")`` buffers
its trace.

* ``OutgoingHarness``: the unit with the P lanes' fire-time and fire-potential memories (the
  integrate engine's, initialised from lane images, read at ``rd_addr``) and the event memory it
  writes (read back through ``ev_rd_addr`` -> ``ev_rd_data``, combinational). ``cycle`` is the
  unit's own stamp (0 = first cycle after ``start``), as ``model.pool_schedule.outgoing_pass``
  stamps; the trace is ``ev_we`` with the written event's fields, and ``done``.
* ``WinnerHarness``: the unit fed by a ROM of beats (``stream_beats``: per step ``gap`` empty
  beats, the engine integrating, then the step's beats; lanes without a fire carry junk), one
  beat a cycle while the unit is not busy (as the engine waits for ``busy`` to fall). ``start``
  clears the unit and plays the ROM from beat 0; ``done`` pulses in the first cycle after the
  last beat in which the unit is idle. ``cycle`` counts the cycles since ``start`` (0 = the
  first cycle after it, which presents beat 0); the unit's own stamp (busy cycles) is
  ``busy_cycles``. ``winner_trace`` converts the model's stamps (busy cycles since ``clear``)
  to that clock, which checks the unit's busy time after every step as well.
"""
import numpy as np
from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits
from hw.pool import OutgoingUnit
from hw.wta import WinnerUnit
from model.schedule import EngineLayout
from sim.capture import EventTrace


# -- the outgoing unit ------------------------------------------------------------------------------

class OutgoingHarness(wiring.Component):
    def __init__(self, lay: EngineLayout, lc, fire_lanes, vfire_lanes):
        self.unit = OutgoingUnit(lay, lc)
        self.lay, self.pl, self.ev_lay = lay, self.unit.pl, self.unit.ev_lay
        self.fire = np.asarray(fire_lanes, dtype=np.int64)
        self.vfire = np.asarray(vfire_lanes, dtype=np.int64)
        assert self.fire.shape == self.vfire.shape == (lay.lanes, lay.groups * lay.npos)
        ev = self.ev_lay
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1), "cycle": Out(32),
            "ev_we": Out(1), "ev_t": Out(ev["t"].width), "ev_c": Out(ev["c"].width),
            "ev_y": Out(ev["y"].width), "ev_x": Out(ev["x"].width),
            "n_events": Out(bits(self.pl.max_events)),
            "ev_rd_addr": In(bits(self.pl.max_events - 1)), "ev_rd_data": Out(ev.size),
        })

    def elaborate(self, platform):
        m = Module()
        lay, unit = self.lay, self.unit
        m.submodules.unit = unit
        m.d.comb += [unit.start.eq(self.start), self.done.eq(unit.done), self.busy.eq(unit.busy),
                     self.cycle.eq(unit.cycle), self.n_events.eq(unit.n_events),
                     self.ev_we.eq(unit.ev_we)]
        for name in ("t", "c", "y", "x"):
            f = self.ev_lay[name]
            m.d.comb += getattr(self, f"ev_{name}").eq(unit.ev_data[f.offset:f.offset + f.width])
        m.submodules.events = events = memory.Memory(shape=unsigned(self.ev_lay.size),
                                                     depth=self.pl.max_events, init=[])
        wp, rp = events.write_port(), events.read_port(domain="comb")
        m.d.comb += [wp.addr.eq(unit.ev_addr), wp.data.eq(unit.ev_data), wp.en.eq(unit.ev_we),
                     rp.addr.eq(self.ev_rd_addr), self.ev_rd_data.eq(rp.data)]
        for l in range(lay.lanes):
            for name, image, width, port in (("fire", self.fire, bits(lay.time_steps), unit.rd_fire),
                                             ("vfire", self.vfire, lay.potential_bits, unit.rd_vfire)):
                m.submodules[f"{name}{l}"] = mem = memory.Memory(
                    shape=unsigned(width), depth=lay.groups * lay.npos,
                    init=[int(v) for v in image[l]])
                rd = mem.read_port()
                m.d.comb += [rd.addr.eq(unit.rd_addr), port[l].eq(rd.data)]
        return m


class BeatFormat:
    """One ROM word: per lane fire bit, address, potential; then step_end and t."""

    def __init__(self, lay: EngineLayout):
        self.lay = lay
        self.ab = bits(lay.groups * lay.npos - 1)
        self.pb, self.tb, P = lay.potential_bits, bits(lay.time_steps), lay.lanes
        self.fields = [("fire", P), ("addr", P * self.ab), ("v", P * self.pb), ("step_end", 1),
                       ("t", self.tb)]
        self.width = sum(w for _, w in self.fields)

    def offsets(self):
        out, at = {}, 0
        for name, w in self.fields:
            out[name] = (at, w)
            at += w
        return out

    def pack(self, beat, step_end: bool, t: int, junk) -> int:
        """``beat[lane]``: (address, potential) or None (that lane carries junk)."""
        lay, fire, addr, v = self.lay, 0, 0, 0
        for lane, b in enumerate(beat):
            if b is None:
                b = (int(junk.integers(lay.groups * lay.npos)),
                     int(junk.integers(1 << lay.potential_bits)))
            else:
                fire |= 1 << lane
            addr |= int(b[0]) << (lane * self.ab)
            v |= int(b[1]) << (lane * self.pb)
        word = 0
        for name, value in (("fire", fire), ("addr", addr), ("v", v), ("step_end", int(step_end)),
                            ("t", t)):
            at, w = self.offsets()[name]
            assert 0 <= value < 1 << w
            word |= value << at
        return word


def stream_beats(lay: EngineLayout, stream, gap: int = 2, seed: int = 0) -> list[int]:
    """The ROM words of a stream (``model.wta_schedule.StepFires`` list)."""
    fmt, junk, words = BeatFormat(lay), np.random.default_rng(seed), []
    idle = [None] * lay.lanes
    for step in stream:
        words += [fmt.pack(idle, False, step.t, junk) for _ in range(gap)]
        words += [fmt.pack(b, i == len(step.beats) - 1, step.t, junk)
                  for i, b in enumerate(step.beats)]
    return words


def winner_trace(stream, pred, gap: int = 2) -> list[tuple]:
    """The model's trace (``winner_pass``: stamps in busy cycles since clear) on the harness's
    clock (cycles since ``start``), with the final ``done``. Each step's winners fall in its
    busy window; the next step's beats start when that window ends."""
    assert len(pred.busy) == len(stream)
    out, wall, before, i = [], 0, 0, 0
    for step, busy in zip(stream, pred.busy):
        wall += gap + len(step.beats)              # the first cycle after step_end
        while i < len(pred.trace) and pred.trace[i][0] < before + busy:
            rec = pred.trace[i]
            assert rec[0] >= before, f"winner {rec} before its step's busy window"
            out.append((wall + rec[0] - before, *rec[1:]))
            i += 1
        wall += busy
        before += busy
    assert i == len(pred.trace) and before == pred.cycles
    out.append((wall, "done"))
    return out


class WinnerHarness(wiring.Component):
    def __init__(self, lay: EngineLayout, k: int, radius: int, beats: list[int]):
        self.unit = WinnerUnit(lay, k, radius)
        self.lay, self.beats, self.fmt = lay, list(beats), BeatFormat(lay)
        assert self.beats, "an empty stream"
        u = self.unit
        super().__init__({
            "start": In(1), "done": Out(1), "cycle": Out(32), "busy_cycles": Out(32),
            "busy": Out(1),
            "tr_winner": Out(1), "tr_win_f": Out(len(u.tr_win_f)), "tr_win_y": Out(len(u.tr_win_y)),
            "tr_win_x": Out(len(u.tr_win_x)),
            "n_winners": Out(len(u.n_winners)), "full": Out(1),
            "win_idx": In(len(u.win_idx)), "win_f": Out(len(u.win_f)), "win_y": Out(len(u.win_y)),
            "win_x": Out(len(u.win_x)), "win_t": Out(len(u.win_t)),
        })

    def elaborate(self, platform):
        m = Module()
        unit, fmt, n = self.unit, self.fmt, len(self.beats)
        m.submodules.unit = unit
        m.submodules.rom = rom = memory.Memory(shape=unsigned(fmt.width), depth=n, init=self.beats)
        rd = rom.read_port(domain="comb")
        p = Signal(range(n + 1))
        running = Signal()
        m.d.comb += rd.addr.eq(p)

        play = Signal()
        m.d.comb += play.eq(running & (p < n) & ~unit.busy)
        off = fmt.offsets()

        def field(name):
            at, w = off[name]
            return rd.data[at:at + w]
        m.d.comb += [unit.clear.eq(self.start),
                     unit.fire.eq(Mux(play, field("fire"), 0)),
                     unit.fire_addr.eq(field("addr")), unit.fire_v.eq(field("v")),
                     unit.step_end.eq(play & field("step_end")[0]), unit.t.eq(field("t"))]
        with m.If(play):
            m.d.sync += p.eq(p + 1)
        m.d.comb += self.done.eq(running & (p == n) & ~unit.busy)
        with m.If(self.start):
            m.d.sync += [p.eq(0), running.eq(1), self.cycle.eq(0)]
        with m.Elif(running):
            m.d.sync += self.cycle.eq(self.cycle + 1)
            with m.If(self.done):
                m.d.sync += running.eq(0)
        m.d.comb += [self.busy_cycles.eq(unit.cycle), self.busy.eq(unit.busy),
                     self.tr_winner.eq(unit.tr_winner), self.tr_win_f.eq(unit.tr_win_f),
                     self.tr_win_y.eq(unit.tr_win_y), self.tr_win_x.eq(unit.tr_win_x),
                     self.n_winners.eq(unit.n_winners), self.full.eq(unit.full),
                     unit.win_idx.eq(self.win_idx), self.win_f.eq(unit.win_f),
                     self.win_y.eq(unit.win_y), self.win_x.eq(unit.win_x),
                     self.win_t.eq(unit.win_t)]
        return m


# -- co-simulation: predict, write the case, run the cocotb test (sim/cocotb_units.py) ---------------

def outgoing_format(harness: OutgoingHarness) -> EventTrace:
    """``(cycle, "event", t, c, y, x)`` as the unit writes each event, and ``(cycle, "done")``."""
    return EventTrace("event", "ev_we", [(f"ev_{n}", harness.ev_lay[n].width) for n in "tcyx"])


def winner_format(harness: WinnerHarness) -> EventTrace:
    """``(cycle, "winner", f, y, x)`` as the unit picks each winner, and ``(cycle, "done")``."""
    return EventTrace("winner", "tr_winner",
                      [(n, len(getattr(harness, n))) for n in ("tr_win_f", "tr_win_y", "tr_win_x")])


def _cosim(harness, fmt: EventTrace, toplevel: str, testcase: str, tag: str, sim: str,
           waves: bool | None, case: dict) -> dict:
    """Write the case (with the trace format), run the cocotb test on the captured harness and
    return what it saw."""
    import json

    from sim import runner
    from sim.capture import TraceCapture
    path = runner.BUILD / "cases" / f"{tag}-{sim}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(case, format=fmt.spec)))
    runner.run(TraceCapture(harness, fmt, last=fmt.done), toplevel, "sim.cocotb_units", sim=sim,
               waves=waves, build_dir=runner.BUILD / f"{tag}-{sim}", testcase=testcase,
               extra_env={"UNIT_CASE": str(path), "COCOTB_LOG_LEVEL": "WARNING"})
    return json.loads(path.with_suffix(".seen.json").read_text())


def run_winner(lay: EngineLayout, k: int, radius: int, stream, context: dict, tag: str,
               sim: str | None = None, gap: int = 2, seed: int = 0, alter=None,
               waves: bool | None = None) -> dict:
    """Co-simulate the winner unit on ``stream`` (one image); ``alter(expected_trace)`` may
    change the expected trace before it is written (to show that a difference is caught)."""
    from model.wta_schedule import winner_pass
    from sim import runner
    sim = runner.default_sim(sim)
    pred = winner_pass(lay, k, radius, stream)
    trace = winner_trace(stream, pred, gap)
    if alter is not None:
        trace = alter(list(trace))
    harness = WinnerHarness(lay, k, radius, stream_beats(lay, stream, gap, seed))
    seen = _cosim(harness, winner_format(harness), "unit_wta", "winner_matches_model", tag,
                  sim, waves, {"trace": trace, "winners": pred.winners,
                               "full": int(len(pred.winners) == k), "busy_cycles": pred.cycles,
                               "context": dict(context, simulator=sim)})
    return {"simulator": sim, "trace": trace, "winners": pred.winners, "seen": seen}


def run_outgoing(lay: EngineLayout, lc, fire_lanes, vfire_lanes, context: dict, tag: str,
                 sim: str | None = None, alter=None, waves: bool | None = None) -> dict:
    """Co-simulate one pass of the outgoing unit on lane images (``alter`` as ``run_winner``)."""
    from hw.integrate import pack_event
    from model.pool_schedule import outgoing_pass
    from sim import runner
    sim = runner.default_sim(sim)
    pred = outgoing_pass(lay, lc, fire_lanes, vfire_lanes)
    trace = list(pred.trace) if alter is None else alter(list(pred.trace))
    harness = OutgoingHarness(lay, lc, fire_lanes, vfire_lanes)
    next_lay = harness.pl.next_format()
    seen = _cosim(harness, outgoing_format(harness), "unit_pool", "outgoing_matches_model", tag, sim,
                  waves, {"trace": trace, "words": [pack_event(next_lay, *e) for e in pred.events],
                          "cycles": pred.cycles, "context": dict(context, simulator=sim)})
    return {"simulator": sim, "trace": trace, "events": pred.events, "seen": seen}
