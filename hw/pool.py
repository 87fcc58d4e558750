"""OutgoingUnit: pointwise inhibition and first-spike pooling, writing the next layer's event list.

Reads the integrate engine's fire-time and fire-potential lane memories (lane l = f mod P, word
(f div P) npos + pos) through P synchronous read ports sharing one address (``rd_addr`` in cycle
c, ``rd_fire`` / ``rd_vfire`` in cycle c + 1), and writes the events of
``EngineLayout.events(pool(pointwise_inhibition(times)))`` -- by time, then (channel, y, x) -- to
the next layer's event memory at addresses 0, 1, ... (``ev_we``, ``ev_addr``, ``ev_data`` =
``hw.integrate.pack_event(next_layout, t, c, y, x)``); ``n_events`` holds the count after ``done``.
``cycles/pool.py`` (``outgoing_pass``) predicts every cycle; generator parameters:
``cycles.pool.PoolLayout`` (the layer's EngineLayout, pool size s and stride, inhibition).

It reads only what fired. The engine's fires (``fire``, ``fire_addr``: lane l's address
g npos + pos, as its trace gives them) set bit pos of a fired-position bitmap during the pass:
each lane has its own copy (NW = ceil(npos / 32) words of 32 positions, read-modify-written:
the word read in the fire's cycle, written back with the bit in the next, through a read port
transparent to the write), so all lanes' fires of a cycle are kept. Phase A reads the copies
at one word and ORs them, and zeroes the word as it arrives: the bitmap costs no clear cycle.

Phases (n_f fired positions, m_w of them in word w; W_s windows holding a fired position;
S2 = s^2, T time steps):

* A, inhibition, L + A_FLUSH cycles (A_FLUSH = 4), L = 1 + sum over words of (G m_w, or 1
  for an empty word): one cycle addresses word 0; the word, as it arrives or what is left of it,
  gives its lowest fired position (a find-first-set), read one group a cycle, the read
  registered and issued the next cycle (positions ascending); a word's last cycle addresses the
  next word. The G words of all P lanes of a position are registered as they arrive; a tree
  over the lanes' registers picks the group's best (earliest t, then largest potential, then
  lowest lane) into a register, and the next cycle merges it into the position's running best
  (a later group wins only when strictly better, so ties keep the lower map). After the last
  group the survivor (map, t) is written to the survivor memory (npos words). As a position's
  first read is registered, the windows covering it are marked (one flop per window).
* B, pooling, (W_s + 1) S2 + 3 cycles, none when W_s = 0: the marked windows in descending
  raster order (a find-first-set over the marked rows, then over the row's windows), one
  survivor read per cycle, registered as it arrives. The survivor memory reads "no spike"
  (t = T) at every unfired position: it is initialised so, phase A writes only fired positions
  (and only in inference), and a cell read for the last time (no later window covers it) gets
  t = T back in its read cycle. As cell j arrives it becomes its map's representative unless an
  earlier cell of the same map is no later, and it demotes an earlier representative it beats:
  at the window's end exactly one cell per surviving map is marked, with the map's earliest
  time. The window is then latched and, in slot j of the next window's reads, representative j
  is prepended to the linked list of bucket (t, map): the head memory (T F words) is read in the
  slot, and the next cycle writes the chain word (link = old head, last = bucket was empty,
  y', x') at index i and the head. A bitmap of T F flops marks the non-empty buckets.
  Prepending in descending window order leaves each list in ascending (y', x') order. The head
  read port is transparent to the head write (back-to-back inserts into one bucket).
* Walk, T + T_ne + NB + n cycles (T_ne steps with events, NB non-empty buckets, n events): per
  step t a find-first-set over the bitmap's word t picks the buckets in map order; per bucket one
  cycle reads its head, then one cycle per event reads the next chain word and writes the event.
* DONE, one cycle (``done`` high).

With ``inhibit_only`` high at ``start`` (a learning command, hw/core.py) the unit runs phase A
and then DONE, L + A_FLUSH + 1 cycles, and writes neither survivor nor event. In every pass each
fired position's survivor is presented on ``surv`` (map ``surv_f``, position ``surv_pos``,
time ``surv_t``, potential ``surv_v``) in the cycle it is merged, in ascending position order:
the winner unit's input in survivor mode (hw/wta.py), which picks the k winners among the spikes
pointwise inhibition leaves (``cycles.pool.inhibition_pass``).

Total: (L + 4) + ((W_s + 1) S2 + 3, or 0) + (T + T_ne + NB + n) + 1 cycles (``cycle`` counts
them, 0 = the first cycle after ``start``). Conv1 of configs/mnist.yaml on P = 10 lanes, G = 3,
25 bitmap words: about 220 fired positions and 70 marked windows of the 784 and 196 an image,
so A about 670 cycles (G npos + 3 = 2,355 reading every neuron) and B about 283 (791).

Refused at generation (``cycles.integrate.HardwareConfigError``): pool size 0 (the last layer has no
outgoing unit) and pooling without pointwise inhibition.
"""
from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.common import at_most_one_bit, bits, busy_and_cycles, lowest_bit, mux_tree, quotient, registered
from hw.integrate import event_layout
from cycles.layout import A_FLUSH, B_FLUSH, FIRED_WORD_BITS, PoolLayout
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
            "start": In(1), "inhibit_only": In(1), "busy": Out(1), "done": Out(1),
            "cycle": Out(32),
            "surv": Out(1), "surv_f": Out(bits(lay.maps - 1)), "surv_pos": Out(bits(lay.npos - 1)),
            "surv_t": Out(tb), "surv_v": Out(lay.potential_bits),
            # the engine's fires (lane address g npos + pos), which set the fired-position bitmap
            "fire": In(P), "fire_addr": In(data.ArrayLayout(bits(lay.groups * lay.npos - 1), P)),
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
        # At rest every survivor word a window reads holds "no spike" (t = T): phase A writes
        # the fired positions only, and pooling puts t = T back as it reads a cell the last time.
        m.submodules.surv = surv = memory.Memory(shape=surv_lay, depth=npos,
                                                 init=[{"t": T, "m": 0}] * npos)
        m.submodules.heads = heads = memory.Memory(shape=unsigned(ib), depth=NB, init=[])
        m.submodules.chain = chain = memory.Memory(shape=chain_lay, depth=NMAX, init=[])
        surv_wp, surv_rd = surv.write_port(), surv.read_port()
        head_wp = heads.write_port()
        head_rd = heads.read_port(transparent_for=(head_wp,))
        chain_wp, chain_rd = chain.write_port(), chain.read_port()

        in_a, in_b, walking = Signal(), Signal(), Signal()   # in_a: a read issued (registered)
        inhibit_only = Signal()                     # this pass: phase A, then DONE
        cnt = Signal(bits(S2 + B_FLUSH))            # flush counters

        # -- the fired-position bitmap -----------------------------------------------------------
        # One copy per lane (NW words of W positions), so that every lane's fire sets its bit in
        # the cycle it comes: the word is read in the fire's cycle and written back with the bit
        # in the next (the read port is transparent to the write: back-to-back fires into one
        # word keep each other's bits). Phase A reads every copy at one word, ORs them, and zeroes
        # the word as it arrives: the bitmap is clear again when the phase ends, at no cost.
        W, NW, sh = FIRED_WORD_BITS, pl.fired_words, FIRED_WORD_BITS.bit_length() - 1
        fw, fw_addr, fresh_w, clear_w = Signal(bits(NW - 1)), Signal(bits(NW - 1)), Signal(), Signal()
        copies = []
        for l in range(P):
            m.submodules[f"fired{l}"] = mem = memory.Memory(shape=unsigned(W), depth=NW, init=[])
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,))
            _, pos = quotient(m, self.fire_addr[l], npos, G - 1, f"fired_g{l}")
            set_l = registered(m, f"fired_set{l}_", {"en": self.fire[l], "word": pos >> sh,
                                                     "bit": pos[:sh]})
            hot = Cat(*(set_l["bit"] == i for i in range(W)))
            m.d.comb += [rp.addr.eq(Mux(self.busy, fw_addr, pos >> sh)),
                         wp.addr.eq(Mux(set_l["en"], set_l["word"], fw)),
                         wp.data.eq(Mux(set_l["en"], rp.data | hot, 0)),
                         wp.en.eq(set_l["en"] | clear_w)]
            copies.append(rp.data)
        fired_word = Signal(W)
        m.d.comb += fired_word.eq(_any(copies))

        # -- A: inhibition over the fired positions --------------------------------------------
        # The walk: the word as it arrives (fresh) or what is left of it; one group a cycle of
        # its lowest position, the position dropped after its last group. The read is registered
        # (a_pos, a_g, in_a) and issued the next cycle.
        word, w_left, wg = Signal(W), Signal(W), Signal(bits(G - 1))
        m.d.comb += word.eq(Mux(fresh_w, fired_word, w_left))
        # Find-first-sets over activity, not over pruned connections: inline, so that the
        # resource report's skip-walk units stay the pruning's (boards/resources.py).
        low, rest = lowest_bit(m, word, "fired_walk"), word & (word - 1)
        last_g = wg == G - 1
        # (the word's last position: at most one bit, tested without the subtraction's carry
        # chain, which sat on the path from the bitmap's LUT RAM to the state's enable)
        word_done = (word == 0) | (last_g & at_most_one_bit(word))
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
        surv_we = a2_valid & (a2_g == G - 1)
        m.d.comb += [self.surv.eq(surv_we & (mt != T)), self.surv_f.eq(mm),
                     self.surv_pos.eq(a2_pos), self.surv_t.eq(mt), self.surv_v.eq(mv)]

        wy, wx, dy, dx = Signal(cb), Signal(cb), Signal(bits(s - 1)), Signal(bits(s - 1))
        # The windows holding a fired position (pooling reads only these), marked as the
        # position's first read is registered: row r of windows in wrow[r], bit wx.
        wrow = [Signal(sp, name=f"win_row{r}") for r in range(sp)]
        ay, ax = quotient(m, a1_pos, so, so - 1, "fired_y")
        cov_x = Cat(*((ax >= c * st) & (ax <= c * st + s - 1) for c in range(sp)))
        with m.If(a1_valid & (a1_g == 0)):
            for r in range(sp):
                with m.If((ay >= r * st) & (ay <= r * st + s - 1)):
                    m.d.sync += wrow[r].eq(wrow[r] | cov_x)
        # The next window in descending raster order: the last marked row, its last window.
        rows_any = Cat(*(row.any() for row in wrow))
        win_y_low = lowest_bit(m, _reversed(rows_any), "win_row_walk")
        win_y_next = Signal(cb)
        m.d.comb += win_y_next.eq(sp - 1 - win_y_low)
        win_row_next = Signal(sp)
        m.d.comb += win_row_next.eq(mux_tree(win_y_next, wrow))
        win_x_low = lowest_bit(m, _reversed(win_row_next), "win_col_walk")
        win_x_next = Signal(cb)
        m.d.comb += win_x_next.eq(sp - 1 - win_x_low)

        def next_window():
            """Read the next marked window from its first cell, and unmark it."""
            m.d.sync += [wy.eq(win_y_next), wx.eq(win_x_next), dy.eq(0), dx.eq(0)]
            for r in range(sp):
                with m.If(win_y_next == r):
                    m.d.sync += wrow[r].eq(wrow[r] & ~Cat(*(win_x_next == c for c in range(sp))))

        # -- B: pooling --------------------------------------------------------------------------
        b_addr = Signal(bits(npos - 1))
        m.d.comb += [b_addr.eq((wy * st + dy) * so + wx * st + dx), surv_rd.addr.eq(b_addr)]
        # The window's cells are read in order; a cell no later (smaller) window covers is read
        # for the last time, and gets t = T back in the same cycle (the read sees the old word).
        last_read = 1
        if st < s:
            last_read = (((wy == 0) | (dy >= s - st)) & ((wx == 0) | (dx >= s - st)))
        b_clear = Signal()
        m.d.comb += b_clear.eq(in_b & last_read)
        m.d.comb += [surv_wp.addr.eq(Mux(in_b, b_addr, a2_pos)),
                     surv_wp.data.t.eq(Mux(in_b, T, mt)), surv_wp.data.m.eq(Mux(in_b, 0, mm)),
                     surv_wp.en.eq(b_clear | (surv_we & ~inhibit_only))]
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
                    m.d.sync += [self.cycle.eq(0), wg.eq(0), fw.eq(0), nonempty.eq(0),
                                 inhibit_only.eq(self.inhibit_only),
                                 i.eq(0), n.eq(0), cnt.eq(0), wt.eq(0), fresh.eq(1),
                                 *(row.eq(0) for row in wrow)]
                    m.next = "A_FETCH"
            with m.State("A_FETCH"):                # bitmap word 0 addressed
                m.d.sync += fresh_w.eq(1)
                m.next = "A"
            with m.State("A"):
                m.d.comb += clear_w.eq(fresh_w)
                m.d.sync += [in_a.eq(word != 0), a_pos.eq(Cat(low, fw)), a_g.eq(wg),
                             w_left.eq(Mux(last_g, rest, word)), fresh_w.eq(0)]
                with m.If(word != 0):
                    m.d.sync += wg.eq(Mux(last_g, 0, wg + 1))
                with m.If(word_done):
                    with m.If(fw == NW - 1):
                        m.next = "A_FLUSH"
                    with m.Else():
                        m.d.comb += fw_addr.eq(fw + 1)
                        m.d.sync += [fw.eq(fw + 1), fresh_w.eq(1)]
            with m.State("A_FLUSH"):                # the last survivor is written in its last cycle
                m.d.sync += [in_a.eq(0), cnt.eq(cnt + 1)]
                with m.If(cnt == A_FLUSH - 1):
                    m.d.sync += cnt.eq(0)
                    with m.If(inhibit_only):
                        m.next = "DONE"
                    with m.Elif(rows_any != 0):
                        next_window()
                        m.next = "B"
                    with m.Else():
                        m.next = "W_NEXT"
            with m.State("B"):
                m.d.comb += in_b.eq(1)
                m.d.sync += dx.eq(dx + 1)
                with m.If(dx == s - 1):
                    m.d.sync += [dx.eq(0), dy.eq(dy + 1)]
                    with m.If(dy == s - 1):
                        with m.If(rows_any != 0):
                            next_window()
                        with m.Else():
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


def _reversed(value):
    """The bits of ``value`` in reverse order: a find-first-set over it finds the highest."""
    return Cat(*(value[i] for i in reversed(range(len(value)))))
