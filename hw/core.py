"""LayerCore: one layer of the network on P lanes -- the integrate engine, the winner unit, the
STDP unit and the outgoing unit around one set of memories, behind one host interface.

Blocks and who owns what:

* ``IntegrateEngine`` (hw/integrate.py) owns the event list, the synapse memories (weights, mask
  words, row summaries) and the neuron memories (potentials, fire times, fire potentials). It
  lends the synapse memories to the STDP unit while idle (``hw.common.synapse_port``) and its
  fire memories to the outgoing unit (``rd_fire_lanes``, ``rd_vfire_lanes`` at ``rd_addr``).
* ``WinnerUnit`` (hw/wta.py) picks the k winners of a learning command. On a layer with
  pointwise inhibition (survivor mode) it takes the spikes inhibition leaves, which the outgoing
  unit's inhibition phase streams to it after the engine's pass (the reference order: fire,
  inhibit, then k-WTA); on a layer without, it listens to the engine's fires and the engine
  holds after each step's drain while the unit selects (``step_wait``, ``hold``). Each winner
  goes straight into the STDP unit's winner registers, with its time.
* ``StdpUnit`` (hw/stdp_unit.py) borrows the synapse memories and owns the live-row bitmap and
  the input spike times.
* ``OutgoingUnit`` (hw/pool.py, layers with pooling) writes the next layer's event list into
  the core's output event memory, which the host (or the next layer's core) reads.

Commands (``cmd`` with ``start``, while ``busy`` is low), each ending with ``done`` high for one
cycle:

* ``CMD_INFER``: the engine's pass, then the outgoing unit's (if the layer has one);
* ``CMD_LEARN``: with pointwise inhibition, the engine's pass, the outgoing unit's inhibition
  phase (``inhibit_only``; trace ``inhibited``), the winner unit's selection over the survivors,
  then the STDP unit on the winners; without, the engine's pass with the winner unit, then the
  STDP unit;
* ``CMD_SWEEP``: the STDP unit over every map with zero rates (the end of the warm-up).

The phases follow each other without a gap: a block starts in the cycle its predecessor is
done, so a command's cycles are the sum of its blocks' (``cycles/core.py``). ``cycle``
counts the command's cycles (0 = the first after ``start``) and stamps the trace; the counters
(``cyc_*`` per phase, ``ops`` / ``op_cycles`` of the lanes, ``stdp_ops``, ``prunes``) restart
with every command.

Host memory access (while ``busy`` is low): ``wr_*`` writes, ``rd_*`` reads with the data one
cycle after the address (two with ``read_register``, ``read_latency``); the codes are ``MEM_*`` below (the first four are the engine's own).
``MEM_MAP_ON`` and ``MEM_WINDOW`` are the engine's policy registers, kept across commands: the
map enables (word j: maps 32 j .. 32 j + 31; reset: all on) and the window end t_end (one word,
1 .. T; reset: T), hw/channel_enable.py and hw/window.py.
"""
from amaranth import Array, Module, Mux, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from hw import integrate as eng
from hw.channel_enable import WORD_BITS as ENABLE_WORD_BITS
from hw.channel_enable import enable_words
from hw.common import bits, busy_and_cycles, registered
from hw.integrate import IntegrateEngine
from hw.pool import OutgoingUnit
from hw.stdp_unit import MEM_MAP_ROWS as STDP_MAP_ROWS
from hw.stdp_unit import MEM_TIMES as STDP_TIMES
from hw.stdp_unit import StdpUnit
from hw.wta import WinnerUnit
from cycles.core import COUNTERS
from model.fixedpoint import Formats
from cycles.layout import EngineLayout, PoolLayout
from cycles.pool import check_inhibition

CMD_INFER, CMD_LEARN, CMD_SWEEP = range(3)

MEM_EVENTS, MEM_WEIGHTS, MEM_MASKS, MEM_ROW_ANY = (eng.MEM_EVENTS, eng.MEM_WEIGHTS,
                                                   eng.MEM_MASKS, eng.MEM_ROW_ANY)
MEM_MAP_ROWS, MEM_TIMES, MEM_OUT_EVENTS, MEM_POTENTIALS, MEM_FIRE, MEM_VFIRE = range(4, 10)
# The policy registers (the engine's): map enables in 32-map words, the window end t_end.
MEM_MAP_ON, MEM_WINDOW = 10, 11
WRITABLE = (MEM_EVENTS, MEM_WEIGHTS, MEM_MASKS, MEM_ROW_ANY, MEM_MAP_ROWS, MEM_TIMES, MEM_MAP_ON,
            MEM_WINDOW)



class LayerCore(wiring.Component):
    def __init__(self, lay: EngineLayout, formats: Formats, lc, faults=frozenset(),
                 read_register: bool = False):
        # read_register: each read source registered before the choice of memory, so a read
        # takes two cycles (``read_latency``); the board top sets it, its reads crossing the die
        # from a lane's memories to the host link.
        self.read_register = read_register
        self.read_latency = 2 if read_register else 1
        """``lc``: the layer's config (winners, inhibition radius, pooling); ``formats``: the
        layer's (``Formats.from_config(cfg, layer)``), of the layout's weight width."""
        try:
            lay.check_formats(formats)
            # Winners after pointwise inhibition: its phase is the outgoing unit's.
            self.after_inhibition = check_inhibition(lc)
        except ValueError:
            self._MustUse__silence = True      # refused, not forgotten: no "unused" warning
            raise
        self.engine = IntegrateEngine(lay, faults)
        self.lay, self.formats, self.lc = lay, formats, lc
        self.winners = WinnerUnit(lay, lc.winners, lc.inhibition_radius, self.after_inhibition)
        self.stdp = StdpUnit(lay, formats, lc.winners, borrowed=True)
        self.outgoing = OutgoingUnit(lay, lc) if lc.pool.size > 0 else None
        P, G, npos = lay.lanes, lay.groups, lay.npos
        e, s, w = self.engine, self.stdp, self.winners
        self.max_out = PoolLayout.from_config(lay, lc).max_events if self.outgoing else 1
        self.out_w = self.outgoing.ev_lay.size if self.outgoing else 1
        self.addr_w = max(e.addr_w, s.addr_w, bits(self.max_out - 1), bits(G * npos - 1))
        self.data_w = max(e.data_w, s.data_w)
        tb, pb, wb = bits(lay.time_steps), lay.potential_bits, lay.weight_bits
        fb, cb, rb = bits(lay.maps - 1), bits(lay.side_out - 1), bits(lay.rows - 1)
        self.rd_w = max(32, wb, G, lay.kernel ** 2, self.out_w, pb, tb)
        super().__init__({
            "start": In(1), "cmd": In(2), "busy": Out(1), "done": Out(1),
            # configuration, held by the host across commands
            "threshold": In(pb), "n_events": In(bits(lay.max_events)),
            "a_plus": In(formats.rate_frac_bits), "a_minus": In(formats.rate_frac_bits),
            "layer_key": In(32), "image_n": In(32), "check": In(1), "prune_th": In(wb),
            # memories
            "wr_en": In(1), "wr_mem": In(4), "wr_lane": In(bits(P - 1)),
            "wr_addr": In(self.addr_w), "wr_data": In(self.data_w),
            "rd_mem": In(4), "rd_lane": In(bits(P - 1)), "rd_addr": In(self.addr_w),
            "rd_data": Out(self.rd_w),
            # results
            "n_winners": Out(bits(lc.winners)), "win_idx": In(len(w.win_idx)),
            "win_f": Out(fb), "win_y": Out(cb), "win_x": Out(cb), "win_t": Out(tb),
            "n_out": Out(bits(self.max_out)),
            # counters
            "cycle": Out(32), **{name: Out(32) for name in COUNTERS},
            # the trace, stamped with ``cycle`` (sim.core_driver.CoreTrace)
            "tr_row": Out(P), "tr_event": Out(len(e.tr_event)),
            "tr_row_index": Out(e.tr_row_index.shape()),
            "tr_fire": Out(P), "tr_fire_addr": Out(e.tr_fire_addr.shape()),
            "tr_fire_v": Out(e.tr_fire_v.shape()), "tr_step": Out(1), "tr_t": Out(tb),
            "tr_integrated": Out(1), "tr_inhibited": Out(1),
            "tr_winner": Out(1), "tr_win_f": Out(fb), "tr_win_y": Out(cb), "tr_win_x": Out(cb),
            "tr_op": Out(1), "tr_map": Out(fb), "tr_op_row": Out(rb), "tr_q": Out(wb),
            "tr_q_next": Out(wb), "tr_pruned": Out(1), "tr_learned": Out(1),
            "tr_ev": Out(1), "tr_ev_data": Out(self.out_w), "tr_pooled": Out(1),
            "tr_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = e = self.engine
        m.submodules.winners = w = self.winners
        m.submodules.stdp = s = self.stdp
        o = self.outgoing
        if o is not None:
            m.submodules.outgoing = o

        learn, sweep = Signal(), Signal()       # the running command
        go_engine, go_stdp, go_out = Signal(), Signal(), Signal()

        # -- engine and winner unit -------------------------------------------------------------
        # The winner unit clears one cycle after the engine starts, from a register: it is idle
        # then (idle cycles never count) and the engine's first fire is cycles away, so nothing
        # changes but the path from the command decode into the unit's fire side (hw/README.md,
        # Timing).
        clear_winners = Signal()
        m.d.sync += clear_winners.eq(go_engine)
        m.d.comb += [e.start.eq(go_engine), e.threshold.eq(self.threshold),
                     e.n_events.eq(self.n_events), w.clear.eq(clear_winners)]
        if self.after_inhibition:
            # The engine never holds; the outgoing unit's survivors feed the unit.
            m.d.comb += [w.surv.eq(learn & o.surv), w.surv_f.eq(o.surv_f),
                         w.surv_pos.eq(o.surv_pos), w.surv_t.eq(o.surv_t),
                         w.surv_v.eq(o.surv_v), w.step_end.eq(learn & o.done)]
        else:
            m.d.comb += [e.step_wait.eq(learn), e.hold.eq(w.busy),
                         w.fire.eq(Mux(learn, e.tr_fire, 0)), w.fire_addr.eq(e.tr_fire_addr),
                         w.fire_v.eq(e.tr_fire_v), w.step_end.eq(learn & e.tr_step),
                         w.t.eq(e.tr_t)]

        # -- STDP unit: winners as they are found, the engine's synapse memories ----------------
        m.d.comb += [s.start.eq(go_stdp), s.all_maps.eq(sweep), s.n_winners.eq(w.n_winners),
                     s.win_we.eq(w.tr_winner), s.win_idx.eq(w.n_winners),
                     s.win_f.eq(w.tr_win_f), s.win_y.eq(w.tr_win_y), s.win_x.eq(w.tr_win_x),
                     s.win_t.eq(w.tr_win_t)]
        for name in ("a_plus", "a_minus", "layer_key", "image_n", "check", "prune_th"):
            m.d.comb += getattr(s, name).eq(getattr(self, name))
        # The engine lends its memories while idle: to the STDP unit while it runs, to the
        # host's reads otherwise. Write strobes come from the STDP unit only (zero when idle).
        for name, member in e.syn.signature.members.items():
            inner, outer = getattr(e.syn, name), getattr(s.syn, name)
            if member.flow == In:                # the borrower drives it
                if name.endswith("_addr"):
                    outer = Mux(s.busy, outer, self.rd_addr)
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)

        # -- outgoing unit and the next layer's events -------------------------------------------
        out_data = 0
        if o is not None:
            m.submodules.out_events = out_mem = memory.Memory(
                shape=unsigned(self.out_w), depth=self.max_out, init=[])
            out_wp, out_rd = out_mem.write_port(), out_mem.read_port()
            out_data = out_rd.data
            m.d.comb += [out_rd.addr.eq(self.rd_addr), o.start.eq(go_out), o.inhibit_only.eq(learn),
                         o.fire.eq(e.tr_fire), o.fire_addr.eq(e.tr_fire_addr),
                         o.rd_fire.eq(e.rd_fire_lanes),
                         o.rd_vfire.eq(e.rd_vfire_lanes),
                         e.rd_addr.eq(Mux(o.busy, o.rd_addr, self.rd_addr)),
                         out_wp.addr.eq(o.ev_addr), out_wp.data.eq(o.ev_data), out_wp.en.eq(o.ev_we),
                         self.n_out.eq(o.n_events)]
        else:
            m.d.comb += e.rd_addr.eq(self.rd_addr)

        # -- host writes and reads ------------------------------------------------------------------
        to_engine = (self.wr_mem < MEM_MAP_ROWS) | (self.wr_mem >= MEM_MAP_ON)
        policy = {MEM_MAP_ON: eng.MEM_MAP_ON, MEM_WINDOW: eng.MEM_WINDOW}
        e_mem = Signal.like(e.wr_mem)
        m.d.comb += e_mem.eq(self.wr_mem)
        with m.Switch(self.wr_mem):
            for code, inner in policy.items():
                with m.Case(code):
                    m.d.comb += e_mem.eq(inner)
        m.d.comb += [e.wr_en.eq(self.wr_en & to_engine), e.wr_mem.eq(e_mem),
                     s.wr_en.eq(self.wr_en & ~to_engine),
                     s.wr_mem.eq(Mux(self.wr_mem == MEM_TIMES, STDP_TIMES, STDP_MAP_ROWS))]
        for name in ("wr_lane", "wr_addr", "wr_data"):
            m.d.comb += [getattr(e, name).eq(getattr(self, name)), getattr(s, name).eq(getattr(self, name))]
        m.d.comb += [e.rd_lane.eq(self.rd_lane), s.rd_addr.eq(self.rd_addr)]
        rd_mem, rd_lane = Signal.like(self.rd_mem), Signal.like(self.rd_lane)
        rd_word = Signal(bits(enable_words(self.lay.maps) - 1))
        m.d.sync += [rd_mem.eq(self.rd_mem), rd_lane.eq(self.rd_lane), rd_word.eq(self.rd_addr)]
        on_words = Array(e.map_on[j * ENABLE_WORD_BITS:(j + 1) * ENABLE_WORD_BITS]
                         for j in range(enable_words(self.lay.maps)))
        sources = {MEM_WEIGHTS: Array(e.syn.w_data)[rd_lane], MEM_MASKS: Array(e.syn.m_data)[rd_lane],
                   MEM_ROW_ANY: Array(e.syn.ra_data)[rd_lane], MEM_MAP_ROWS: s.rd_map_rows,
                   MEM_OUT_EVENTS: out_data, MEM_POTENTIALS: e.rd_pot, MEM_FIRE: e.rd_fire,
                   MEM_VFIRE: e.rd_vfire, MEM_MAP_ON: on_words[rd_word], MEM_WINDOW: e.t_end}
        if self.read_register:
            sources = registered(m, "rd_source", sources)
            rd_mem_q = Signal.like(rd_mem)
            m.d.sync += rd_mem_q.eq(rd_mem)
            rd_mem = rd_mem_q
        with m.Switch(rd_mem):
            for code, value in sources.items():
                with m.Case(code):
                    m.d.comb += self.rd_data.eq(value)
        m.d.comb += [self.n_winners.eq(w.n_winners), w.win_idx.eq(self.win_idx),
                     self.win_f.eq(w.win_f), self.win_y.eq(w.win_y), self.win_x.eq(w.win_x),
                     self.win_t.eq(w.win_t)]

        # -- the trace ------------------------------------------------------------------------------
        for name in ("tr_row", "tr_event", "tr_row_index", "tr_fire", "tr_fire_addr", "tr_fire_v",
                     "tr_step", "tr_t"):
            m.d.comb += getattr(self, name).eq(getattr(e, name))
        m.d.comb += [self.tr_integrated.eq(e.done),
                     self.tr_winner.eq(w.tr_winner), self.tr_win_f.eq(w.tr_win_f),
                     self.tr_win_y.eq(w.tr_win_y), self.tr_win_x.eq(w.tr_win_x),
                     self.tr_op.eq(s.tr_op), self.tr_map.eq(s.tr_map), self.tr_op_row.eq(s.tr_row),
                     self.tr_q.eq(s.tr_q), self.tr_q_next.eq(s.tr_q_next),
                     self.tr_pruned.eq(s.tr_pruned), self.tr_learned.eq(s.done),
                     self.tr_done.eq(self.done)]
        if o is not None:
            m.d.comb += [self.tr_ev.eq(o.ev_we), self.tr_ev_data.eq(o.ev_data),
                         self.tr_pooled.eq(o.done & ~learn), self.tr_inhibited.eq(o.done & learn)]

        # -- counters ---------------------------------------------------------------------------------
        counted = {"cyc_integrate": e.busy, "cyc_winners": w.busy, "cyc_stdp": s.busy,
                   "cyc_outgoing": o.busy if o is not None else 0,
                   "stdp_ops": s.tr_op, "prunes": s.tr_pruned}
        with m.If(self.start & ~self.busy):
            m.d.sync += [getattr(self, name).eq(0) for name in counted]
        with m.Else():
            for name, inc in counted.items():
                m.d.sync += getattr(self, name).eq(getattr(self, name) + inc)
        m.d.comb += [self.ops.eq(Mux(sweep, 0, e.ops)),              # no pass in a sweep
                     self.op_cycles.eq(Mux(sweep, 0, e.op_cycles))]

        # -- the sequencer ------------------------------------------------------------------------------
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.cycle.eq(0), learn.eq(self.cmd == CMD_LEARN),
                                 sweep.eq(self.cmd == CMD_SWEEP)]
                    with m.If(self.cmd == CMD_SWEEP):
                        m.next = "STDP"
                    with m.Else():
                        m.next = "ENGINE"
            with m.State("ENGINE"):
                with m.If(e.done):
                    with m.If(learn):
                        m.next = "INHIBIT" if self.after_inhibition else "STDP"
                    with m.Else():
                        m.next = "OUTGOING" if o is not None else "IDLE"
            if self.after_inhibition:
                with m.State("INHIBIT"):            # the outgoing unit's phase A, survivors out
                    with m.If(o.done):
                        m.next = "WINNERS"
                        with m.If(w.done):          # nothing to select
                            m.next = "STDP"
                with m.State("WINNERS"):
                    with m.If(w.done):
                        m.next = "STDP"
            with m.State("STDP"):
                with m.If(s.done):
                    m.next = "IDLE"
            if o is not None:
                with m.State("OUTGOING"):
                    with m.If(o.done):
                        m.next = "IDLE"
        # Each phase starts in the cycle the previous one is done; the last one ends the command.
        in_engine = fsm.ongoing("ENGINE")
        idle_start = fsm.ongoing("IDLE") & self.start
        if self.after_inhibition:
            winners_done = (fsm.ongoing("INHIBIT") & o.done & w.done) | (fsm.ongoing("WINNERS") & w.done)
            m.d.comb += go_out.eq(in_engine & e.done)
        else:
            winners_done = in_engine & e.done & learn
            m.d.comb += go_out.eq(in_engine & e.done & ~learn)
        m.d.comb += [go_engine.eq(idle_start & (self.cmd != CMD_SWEEP)),
                     go_stdp.eq(winners_done | (idle_start & (self.cmd == CMD_SWEEP))),
                     self.done.eq((fsm.ongoing("STDP") & s.done) |
                                  ((fsm.ongoing("OUTGOING") & o.done) if o is not None
                                   else (in_engine & e.done & ~learn)))]
        busy_and_cycles(m, fsm, self.busy, self.cycle)
        return m
