"""OutgoingUnit: pointwise inhibition and first-spike pooling, writing the next layer's event list.

Reads the integrate engine's fire-time and fire-potential lane memories (lane l = f mod P, word
(f div P) npos + pos) through P synchronous read ports sharing one address (``rd_addr`` in cycle
c, ``rd_fire`` / ``rd_vfire`` in cycle c + 1), and writes the events of
``EngineLayout.events(pool(pointwise_inhibition(times)))`` -- by time, then (channel, y, x) -- to
the next layer's event memory at addresses 0, 1, ... (``ev_we``, ``ev_addr``, ``ev_data`` =
``hw.integrate.pack_event(next_layout, t, c, y, x)``); ``n_events`` holds the count after ``done``.
``cycles/pool.py`` (``outgoing_pass``) predicts every cycle; generator parameters:
``cycles.pool.PoolLayout`` (the layer's EngineLayout, pool size s and stride, inhibition).

Phases (N = G npos, W = Sp^2 windows, S2 = s^2, T time steps):

* A, inhibition, N + 3 cycles: for each position, the G words of all P lanes, one group per
  cycle, registered as they arrive; a tree over the lanes' registers picks the group's best
  (earliest t, then largest potential, then lowest lane) into a register, and the next cycle merges it into the position's running best
  (a later group wins only when strictly better, so ties keep the lower map). After the last
  group the survivor (map, t) is written to the survivor memory (npos words; t = T: none).
* B, pooling, (W + 1) S2 + 3 cycles: windows in descending raster order, one survivor read per
  cycle, registered as it arrives. As cell j arrives it becomes its map's representative unless an earlier cell of the
  same map is no later, and it demotes an earlier representative it beats: at the window's end
  exactly one cell per surviving map is marked, with the map's earliest time. The window is then
  latched and, in slot j of the next window's reads, representative j is prepended to the linked
  list of bucket (t, map): the head memory (T F words) is read in the slot, and the next cycle
  writes the chain word (link = old head, last = bucket was empty, y', x') at index i and the
  head. A bitmap of T F flops marks the non-empty buckets. Prepending in descending window order
  leaves each list in ascending (y', x') order. The head read port is transparent to the head
  write (back-to-back inserts into one bucket).
* Walk, T + T_ne + NB + n cycles (T_ne steps with events, NB non-empty buckets, n events): per
  step t a find-first-set over the bitmap's word t picks the buckets in map order; per bucket one
  cycle reads its head, then one cycle per event reads the next chain word and writes the event.
* DONE, one cycle (``done`` high).

Total: (G npos + 3) + ((W + 1) S2 + 3) + (T + T_ne + NB + n) + 1 cycles (``cycle`` counts them,
0 = the first cycle after ``start``). Conv1 of configs/mnist.yaml on P = 10 lanes: 2355 + 791 +
(15 + T_ne + NB + n) + 1, inhibition dominating; it is bound by the engine memories' read ports
and could be merged with the engine's clear phase.

Refused at generation (``cycles.integrate.HardwareConfigError``): pool size 0 (the last layer has no
outgoing unit) and pooling without pointwise inhibition.
"""
from amaranth import Array, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits, busy_and_cycles, lowest_bit
from hw.integrate import event_layout
from cycles.layout import B_FLUSH, PoolLayout
from cycles.layout import EngineLayout


def _better(a, b):
    """Candidate a = (t, v, ...) strictly better than b: earlier, or as early with more potential."""
    return (a[0] < b[0]) | ((a[0] == b[0]) & (a[1] > b[1]))


def _best(m, cands):
    """Balanced tree over candidates in index order; the higher one wins only when strictly better.
    Every node is a named signal, so the netlist stays linear in the number of lanes."""
    level = 0
    while len(cands) > 1:
        nxt = []
        for i in range(0, len(cands) - 1, 2):
            lo, hi = cands[i], cands[i + 1]
            take = _better(hi, lo)
            node = tuple(Signal(len(h), name=f"best{level}_{i // 2}_{k}") for k, h in enumerate(hi))
            m.d.comb += [n.eq(Mux(take, h, o)) for n, h, o in zip(node, hi, lo)]
            nxt.append(node)
        if len(cands) % 2:
            nxt.append(cands[-1])
        cands, level = nxt, level + 1
    return cands[0]


class OutgoingUnit(wiring.Component):
    def __init__(self, lay: EngineLayout, lc):
        """``lc``: the layer's config (``pointwise_inhibition``, ``pool.size``, ``pool.stride``)."""
        try:
            self.pl = pl = PoolLayout.from_config(lay, lc)
        except ValueError:
            self._MustUse__silence = True      # refused, not forgotten: no "unused" warning
            raise
        self.lay = lay
        self.ev_lay = event_layout(pl.next_format())
        tb, P = bits(lay.time_steps), lay.lanes
        super().__init__({
            "start": In(1), "busy": Out(1), "done": Out(1), "cycle": Out(32),
            "rd_addr": Out(bits(lay.groups * lay.npos - 1)),
            "rd_fire": In(data.ArrayLayout(tb, P)),
            "rd_vfire": In(data.ArrayLayout(lay.potential_bits, P)),
            "ev_we": Out(1), "ev_addr": Out(bits(pl.max_events - 1)), "ev_data": Out(self.ev_lay.size),
            "n_events": Out(bits(pl.max_events)),
        })

    def elaborate(self, platform):
        m = Module()
        pl, lay = self.pl, self.lay
        P, G, npos, F, T = lay.lanes, lay.groups, lay.npos, lay.maps, lay.time_steps
        so, s, st, sp = lay.side_out, pl.size, pl.stride, pl.side
        S2, NB, NMAX = pl.cells, pl.buckets, pl.max_pooled
        tb, pb, mb, cb, ib = bits(T), lay.potential_bits, bits(F - 1), bits(sp - 1), bits(NMAX - 1)

        surv_lay = data.StructLayout({"t": tb, "m": mb})
        chain_lay = data.StructLayout({"link": ib, "last": 1, "y": cb, "x": cb})
        m.submodules.surv = surv = memory.Memory(shape=surv_lay, depth=npos, init=[])
        m.submodules.heads = heads = memory.Memory(shape=unsigned(ib), depth=NB, init=[])
        m.submodules.chain = chain = memory.Memory(shape=chain_lay, depth=NMAX, init=[])
        surv_wp, surv_rd = surv.write_port(), surv.read_port()
        head_wp = heads.write_port()
        head_rd = heads.read_port(transparent_for=(head_wp,))
        chain_wp, chain_rd = chain.write_port(), chain.read_port()

        in_a, in_b, walking = Signal(), Signal(), Signal()
        cnt = Signal(bits(S2 + 2))                  # flush counters

        # -- A: inhibition -----------------------------------------------------------------------
        a_pos, a_g = Signal(bits(npos - 1)), Signal(bits(G - 1))
        m.d.comb += self.rd_addr.eq(a_g * npos + a_pos)
        a1_valid, a1_g, a1_pos = Signal(), Signal.like(a_g), Signal.like(a_pos)
        m.d.sync += [a1_valid.eq(in_a), a1_g.eq(a_g), a1_pos.eq(a_pos)]
        # The lanes' words are registered as they arrive (r), the tree runs on the registers.
        r_valid, r_g, r_pos = Signal(), Signal.like(a_g), Signal.like(a_pos)
        m.d.sync += [r_valid.eq(a1_valid), r_g.eq(a1_g), r_pos.eq(a1_pos)]
        cands = []
        for l in range(P):
            t_l = self.rd_fire[l]
            if (G - 1) * P + l >= F:                # lane l has no map in the last group
                t_l = Mux(a1_g == G - 1, T, t_l)
            r_t, r_v = Signal(tb, name=f"r_t{l}"), Signal(pb, name=f"r_v{l}")
            m.d.sync += [r_t.eq(t_l), r_v.eq(self.rd_vfire[l])]
            cands.append((r_t, r_v, Const(l, bits(P - 1))))
        gt, gv, gl = _best(m, cands)
        a2_valid, a2_g, a2_pos = Signal(), Signal.like(a_g), Signal.like(a_pos)
        a2_t, a2_v, a2_l = Signal(tb), Signal(pb), Signal(bits(P - 1))
        m.d.sync += [a2_valid.eq(r_valid), a2_g.eq(r_g), a2_pos.eq(r_pos),
                     a2_t.eq(gt), a2_v.eq(gv), a2_l.eq(gl)]
        best_t, best_v, best_m = Signal(tb), Signal(pb), Signal(mb)
        first = a2_g == 0
        prev = (Mux(first, T, best_t), Mux(first, 0, best_v), Mux(first, 0, best_m))
        take = _better((a2_t, a2_v), prev)
        mt, mv, mm = Signal(tb), Signal(pb), Signal(mb)
        m.d.comb += [mt.eq(Mux(take, a2_t, prev[0])), mv.eq(Mux(take, a2_v, prev[1])),
                     mm.eq(Mux(take, a2_g * P + a2_l, prev[2]))]
        with m.If(a2_valid):
            m.d.sync += [best_t.eq(mt), best_v.eq(mv), best_m.eq(mm)]
        m.d.comb += [surv_wp.addr.eq(a2_pos), surv_wp.data.t.eq(mt), surv_wp.data.m.eq(mm),
                     surv_wp.en.eq(a2_valid & (a2_g == G - 1))]

        # -- B: pooling --------------------------------------------------------------------------
        wy, wx, dy, dx = Signal(cb), Signal(cb), Signal(bits(s - 1)), Signal(bits(s - 1))
        m.d.comb += surv_rd.addr.eq((wy * st + dy) * so + wx * st + dx)
        # The survivor is registered as it arrives (b1: its read data, ECP5 5.8 ns after the
        # clock) and compared with the window's cells from the register (b2).
        b1_valid, b1_j, b1_wy, b1_wx = Signal(), Signal(bits(S2 - 1)), Signal(cb), Signal(cb)
        m.d.sync += [b1_valid.eq(in_b), b1_j.eq(dy * s + dx), b1_wy.eq(wy), b1_wx.eq(wx)]
        b2_valid, b2_j, b2_wy, b2_wx = Signal(), Signal.like(b1_j), Signal(cb), Signal(cb)
        dm, dt = Signal(mb), Signal(tb)
        m.d.sync += [b2_valid.eq(b1_valid), b2_j.eq(b1_j), b2_wy.eq(b1_wy), b2_wx.eq(b1_wx),
                     dm.eq(surv_rd.data.m), dt.eq(surv_rd.data.t)]
        fm = [Signal(mb, name=f"fill_m{k}") for k in range(S2)]
        ft = [Signal(tb, name=f"fill_t{k}") for k in range(S2)]
        frep = Signal(S2)
        dval = dt < T
        same = [(k < b2_j) & (ft[k] < T) & (fm[k] == dm) for k in range(S2)]
        beaten = Signal()
        m.d.comb += beaten.eq(_any([same[k] & (ft[k] <= dt) for k in range(S2)]))
        n_rep = Signal(S2)
        for k in range(S2):
            m.d.comb += n_rep[k].eq(Mux(b2_j == k, dval & ~beaten,
                                        frep[k] & ~(dval & same[k] & (dt < ft[k]))))
        em = [Signal(mb, name=f"emit_m{k}") for k in range(S2)]
        et = [Signal(tb, name=f"emit_t{k}") for k in range(S2)]
        erep, ewy, ewx = Signal(S2), Signal(cb), Signal(cb)
        slot, emitting = Signal(bits(S2 - 1)), Signal()
        with m.If(b2_valid):
            m.d.sync += frep.eq(n_rep)
            for k in range(S2):
                with m.If(b2_j == k):
                    m.d.sync += [fm[k].eq(dm), ft[k].eq(dt)]
        latch = b2_valid & (b2_j == S2 - 1)
        with m.If(latch):
            m.d.sync += [erep.eq(n_rep), ewy.eq(b2_wy), ewx.eq(b2_wx), slot.eq(0), emitting.eq(1)]
            for k in range(S2):
                m.d.sync += [em[k].eq(Mux(b2_j == k, dm, fm[k])), et[k].eq(Mux(b2_j == k, dt, ft[k]))]
        with m.Elif(emitting):
            m.d.sync += slot.eq(slot + 1)
            with m.If(slot == S2 - 1):
                m.d.sync += emitting.eq(0)

        # Insert: head read in the slot, chain and head writes in the next cycle.
        nonempty = Signal(NB)
        ins = emitting & erep.bit_select(slot, 1)
        bucket = Signal(bits(NB - 1))
        m.d.comb += bucket.eq(Array(et)[slot] * F + Array(em)[slot])
        c_valid, c_b, c_y, c_x = Signal(), Signal.like(bucket), Signal(cb), Signal(cb)
        i = Signal(bits(NMAX))
        m.d.sync += [c_valid.eq(ins), c_b.eq(bucket), c_y.eq(ewy), c_x.eq(ewx)]
        m.d.comb += [chain_wp.addr.eq(i), chain_wp.data.link.eq(head_rd.data),
                     chain_wp.data.last.eq(~nonempty.bit_select(c_b, 1)),
                     chain_wp.data.y.eq(c_y), chain_wp.data.x.eq(c_x), chain_wp.en.eq(c_valid),
                     head_wp.addr.eq(c_b), head_wp.data.eq(i), head_wp.en.eq(c_valid)]
        with m.If(c_valid):
            m.d.sync += [i.eq(i + 1), nonempty.eq(nonempty | (Const(1, NB) << c_b))]

        # -- walk ----------------------------------------------------------------------------------
        wt, wc, rem, fresh = Signal(bits(T - 1)), Signal(mb), Signal(F), Signal()
        cur = Signal(F)
        m.d.comb += cur.eq(Mux(fresh, nonempty.word_select(wt, F), rem))
        c_next = lowest_bit(m, cur, "walk_map")
        m.d.comb += head_rd.addr.eq(Mux(walking, wt * F + c_next, bucket))
        n = Signal(bits(pl.max_events))
        link = chain_rd.data
        ev = Signal(self.ev_lay)
        m.d.comb += [ev.t.eq(wt), ev.c.eq(wc), ev.y.eq(link.y), ev.x.eq(link.x),
                     self.ev_data.eq(ev.as_value()), self.ev_addr.eq(n), self.n_events.eq(n)]

        def next_bucket():
            m.d.sync += [wc.eq(c_next), rem.eq(cur & (cur - 1)), fresh.eq(0)]
            m.next = "W_HEAD"

        # -- sequencer ------------------------------------------------------------------------------
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.cycle.eq(0), a_pos.eq(0), a_g.eq(0), nonempty.eq(0),
                                 i.eq(0), n.eq(0), wy.eq(sp - 1), wx.eq(sp - 1), dy.eq(0),
                                 dx.eq(0), cnt.eq(0), wt.eq(0), fresh.eq(1)]
                    m.next = "A"
            with m.State("A"):
                m.d.comb += in_a.eq(1)
                m.d.sync += a_g.eq(a_g + 1)
                with m.If(a_g == G - 1):
                    m.d.sync += [a_g.eq(0), a_pos.eq(a_pos + 1)]
                    with m.If(a_pos == npos - 1):
                        m.next = "A_FLUSH"
            with m.State("A_FLUSH"):                # the last survivor is written in cycle 3
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == 2):
                    m.d.sync += cnt.eq(0)
                    m.next = "B"
            with m.State("B"):
                m.d.comb += in_b.eq(1)
                m.d.sync += dx.eq(dx + 1)
                with m.If(dx == s - 1):
                    m.d.sync += [dx.eq(0), dy.eq(dy + 1)]
                    with m.If(dy == s - 1):
                        m.d.sync += [dy.eq(0), wx.eq(wx - 1)]
                        with m.If(wx == 0):
                            m.d.sync += [wx.eq(sp - 1), wy.eq(wy - 1)]
                            with m.If(wy == 0):
                                m.next = "B_FLUSH"
            with m.State("B_FLUSH"):                # last window's slots, then its last commit
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == S2 + B_FLUSH - 1):
                    m.next = "W_NEXT"
            with m.State("W_NEXT"):
                m.d.comb += walking.eq(1)
                with m.If(cur != 0):
                    next_bucket()
                with m.Elif(wt == T - 1):
                    m.next = "DONE"
                with m.Else():
                    m.d.sync += [wt.eq(wt + 1), fresh.eq(1)]
            with m.State("W_HEAD"):
                m.d.comb += [walking.eq(1), chain_rd.addr.eq(head_rd.data)]
                m.next = "W_CHAIN"
            with m.State("W_CHAIN"):
                m.d.comb += [walking.eq(1), self.ev_we.eq(1), chain_rd.addr.eq(link.link)]
                m.d.sync += n.eq(n + 1)
                with m.If(link.last):
                    with m.If(cur != 0):
                        next_bucket()
                    with m.Else():
                        m.next = "W_NEXT"
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                m.next = "IDLE"
        busy_and_cycles(m, fsm, self.busy, self.cycle)
        return m


def _any(terms):
    out = terms[0]
    for term in terms[1:]:
        out = out | term
    return out
