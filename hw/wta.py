"""WinnerUnit: k winners-take-all with an inhibition radius, fed by the integrate engine's fires
or by the spikes that survive pointwise inhibition.

Semantics are ``model.wta.learning_winners``; ``cycles/wta.py`` predicts every cycle.
Generator parameters: ``cycles.layout.EngineLayout``, k (``cfg.layers[i].winners``), radius
(``cfg.layers[i].inhibition_radius``) and the mode, ``survivors`` (the layer's
``pointwise_inhibition``).

**Survivor mode** (layers with pointwise inhibition; ``survivor_pass``): the reference order is
fire, pointwise inhibition, then k-WTA, and whether a spike survives inhibition depends on every
map's spike at its position, earlier steps included, which the outgoing unit's inhibition phase
computes (hw/pool.py). So the unit takes no fires: in a learning command the engine runs its
pass without holds, then the outgoing unit's phase A presents each fired position's survivor
(``surv`` with ``surv_f``, ``surv_pos``, ``surv_t``, ``surv_v``: map, position, fire time and
potential), at most one a cycle, and strobes ``step_end`` when done. Survivor s goes to bank
s mod P at entry s div P (written the cycle after, as below), so a pass over S survivors reads
N = ceil(S / P) entries. The selection below then runs once, with the key (~t, potential, ~map,
~row, ~column): earliest spike first, as ``model.wta.k_winners`` on the inhibited fire times.
Per-step selection could not tell a survivor from a spike inhibited by an earlier step's spike
of another map without per-position state read P times a cycle; the phase reads every map of a
position anyway. The banks hold ceil(npos / P) entries (conv1 of the MNIST network: 79 words of
37 bits a bank instead of 2,352 words of 30 bits a lane in the per-step mode).

**Per-step mode** (layers without pointwise inhibition; ``winner_pass``), fed by the engine.

Fire side (only while ``busy`` is low; fires while busy are ignored): ``fire`` (one bit a lane),
``fire_addr`` (lane address ``g npos + pos``) and ``fire_v`` (potential at the fire time), as
the engine's ``tr_fire*`` ports present them during the drain of step ``t``; ``step_end`` with
``t`` strobes the step's end (it may carry the step's last fires, as the engine's ``tr_step``
does). Each fire is split into (g, row, column) by constant comparisons, g as it comes and the
row and column in the next cycle (a register between), and written in that next cycle at the
next free entry of its lane's candidate memory (depth G npos: every neuron of the lane fits);
the read port is transparent to that write.

Selection, after ``step_end`` when the step had fires and fewer than k winners are known: ``busy``
rises the next cycle. A pass reads entry j of every lane, one j a cycle, j = 0 .. N - 1 with
N = max over lanes of the step's fires; each word is registered as it leaves the memory (the
cycle after the read), so the compares start from a register, not from the block RAM's read
data. Stage 1 (the cycle after that): a lane's entry is a
candidate if it exists (j below the lane's count), its map has no winner yet, and no winner
lies within Chebyshev distance ``radius`` (all winner registers compared in parallel). Stage 2:
the lanes' candidates and the pass's best so far are reduced by the explicit key
(potential, ~map, ~row, ~column) -- largest wins, arrival order plays no part; every pair is
compared in parallel, so the reduction is one comparator deep whatever P. The cycle of the
last entry's stage 2 decides: the best becomes winner ``n_winners`` (``tr_winner`` pulses with
its map, row, column and time, ``tr_win_t``, which the STDP unit takes). The next pass reads
its entry 0 one cycle earlier, in the last entry's stage 1 (the read does not depend on the
decision; that entry's own stage 1, two cycles on, compares with the new winner), so a pass
costs N + 1 cycles and a selection one cycle more than its passes; a decision that ends the
selection drops the reads in flight. The step ends (``busy`` falls) after a pass without
candidate or the k-th winner, and its candidates are dropped.

``done`` is high in the cycle the selection ends (the last pass's decision), or in the
``step_end`` cycle itself when there is nothing to select (the core starts the STDP unit then).

``clear`` (while idle) starts a new image: winners, used maps, candidates and ``cycle`` return
to zero. ``cycle`` counts the busy cycles since ``clear``: it stamps the trace. Winners are read
back through ``win_idx`` -> ``win_f``, ``win_y``, ``win_x``, ``win_t`` (combinational).
"""
from functools import reduce
from operator import or_

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits, busy_and_cycles, const_mul, lowest_bit, quotient, small_memory
from cycles.layout import EngineLayout
from cycles.wta import check_winner_params


class WinnerUnit(wiring.Component):
    def __init__(self, lay: EngineLayout, k: int, radius: int, survivors: bool = False):
        try:
            self.k, self.radius = check_winner_params(k, radius)
            self.lay = lay.check()
        except ValueError:
            self._MustUse__silence = True      # refused, not forgotten: no "unused" warning
            raise
        P, G, so = lay.lanes, lay.groups, lay.side_out
        self.survivors = bool(survivors)
        self.regs = min(self.k, lay.maps)      # winners that can exist: one per map at most
        # entries a bank: every neuron of a lane (per step), or a P-th of the positions
        self.depth = -(-lay.npos // P) if self.survivors else G * lay.npos
        ab, pb, tb, cb = bits(G * lay.npos - 1), lay.potential_bits, bits(lay.time_steps), bits(so - 1)
        if self.survivors:
            feed = {"surv": In(1), "surv_f": In(bits(lay.maps - 1)),
                    "surv_pos": In(bits(lay.npos - 1)), "surv_t": In(tb), "surv_v": In(pb)}
        else:
            feed = {"fire": In(P), "fire_addr": In(data.ArrayLayout(ab, P)),
                    "fire_v": In(data.ArrayLayout(pb, P)), "t": In(tb)}
        super().__init__({
            "clear": In(1), **feed, "step_end": In(1),
            "busy": Out(1), "done": Out(1), "full": Out(1), "n_winners": Out(bits(self.k)),
            "win_idx": In(bits(self.regs - 1)), "win_f": Out(bits(lay.maps - 1)),
            "win_y": Out(cb), "win_x": Out(cb), "win_t": Out(tb),
            # trace, stamped with ``cycle`` (busy cycles since clear)
            "cycle": Out(32),
            "tr_winner": Out(1), "tr_win_f": Out(bits(lay.maps - 1)), "tr_win_y": Out(cb),
            "tr_win_x": Out(cb), "tr_win_t": Out(tb),
        })

    def elaborate(self, platform):
        m = Module()
        lay, k, r, R, surv = self.lay, self.k, self.radius, self.regs, self.survivors
        P, G, npos, so = lay.lanes, lay.groups, lay.npos, lay.side_out
        pb, cb, gb, lb = lay.potential_bits, bits(so - 1), bits(G - 1), bits(P - 1)
        ab = bits(self.depth - 1)
        fb, tb = bits(lay.maps - 1), bits(lay.time_steps)
        if surv:
            entry = data.StructLayout({"x": cb, "y": cb, "f": fb, "t": tb, "v": pb})
            # The ranking key, larger is better: (~t, v, ~f, ~y, ~x) from the top bit down,
            # which is (earliest spike, largest potential, lowest map, row, column).
            key = data.StructLayout({"xn": cb, "yn": cb, "fn": fb, "v": pb, "tn": tb})
        else:
            # the map group only where there are several (a constant field would still be stored)
            entry = data.StructLayout({"x": cb, "y": cb, **({"g": gb} if G > 1 else {}), "v": pb})
            # The ranking key, larger is better: (v, ~g, ~lane, ~y, ~x) from the top bit down,
            # which is (largest potential, lowest map f = g P + lane, lowest row, lowest column).
            key = data.StructLayout({"xn": cb, "yn": cb, "ln": lb, "gn": gb, "v": pb})

        # -- state -----------------------------------------------------------------------------
        n_won = Signal(bits(k))
        used = Signal(G * P)                       # bit f: map f has a winner
        w_valid = Signal(R)
        w_f = [Signal(fb, name=f"w_f{i}") for i in range(R)]
        w_y = [Signal(cb, name=f"w_y{i}") for i in range(R)]
        w_x = [Signal(cb, name=f"w_x{i}") for i in range(R)]
        w_t = [Signal(tb, name=f"w_t{i}") for i in range(R)]
        # Window bounds: a neighbour (y, x) of winner i has max(w_y - r, 0) <= y <= w_y + r
        # (likewise x), the bounds kept with the winner so that stage 1 compares the candidate
        # memory's read data (ECP5: 5.6 ns clock to out) with registers, no adder between.
        w_ylo = [Signal(cb, name=f"w_ylo{i}") for i in range(R)]
        w_xlo = [Signal(cb, name=f"w_xlo{i}") for i in range(R)]
        w_yhi = [Signal(bits(so - 1 + r), name=f"w_yhi{i}") for i in range(R)]
        w_xhi = [Signal(bits(so - 1 + r), name=f"w_xhi{i}") for i in range(R)]
        cur_t = Signal(tb)                         # the step being selected (per step)
        depth = Signal(ab + 1)                     # most fires in any lane this step
        j = Signal(ab + 1)                         # entry read this cycle
        run = Signal()                             # a pass is reading its entries
        issue, last = Signal(), Signal()
        s0_go, s0_last, s0_j = Signal(), Signal(), Signal(ab + 1)     # the word leaving the memory
        s1_go, s1_last, s1_j = Signal(), Signal(), Signal(ab + 1)     # the word in its register
        s2_go, s2_last = Signal(), Signal()
        s2_ok = Signal(P)
        s2_key = [Signal(key, name=f"s2_key{l}") for l in range(P)]
        best_ok, best_key = Signal(), Signal(key)
        idle = Signal()
        m.d.comb += [self.n_winners.eq(n_won), self.full.eq(n_won == k)]

        # -- input side: append to the banks' candidate memories ---------------------------------
        take = Signal(P)
        if surv:
            # Survivors round robin over the banks; registered as they come (from the outgoing
            # unit's merge), the position split into row and column and written the next cycle.
            bank = Signal(lb)
            s_take = Signal()
            m.d.comb += s_take.eq(self.surv & idle & ~self.clear)
            m.d.comb += take.eq(Cat(*(s_take & (bank == l) for l in range(P))))
            with m.If(s_take):
                m.d.sync += bank.eq(Mux(bank == P - 1, 0, bank + 1))
            s_f, s_pos = Signal(fb), Signal(bits(npos - 1))
            s_t, s_v = Signal(tb), Signal(pb)
            m.d.sync += [s_f.eq(self.surv_f), s_pos.eq(self.surv_pos), s_t.eq(self.surv_t),
                         s_v.eq(self.surv_v)]
            s_y, s_x = quotient(m, s_pos, so, so - 1, "surv_y")
        else:
            m.d.comb += take.eq(Mux(idle & ~self.clear, self.fire, 0))
        wptrs, reads = [], []
        # Per step, the fire's map group is split off as it comes (from the engine's drain,
        # across the core) and registered with the position; the position is split into row and
        # column and written in the next cycle. The counts (wptr, depth) do not wait for it, and
        # the read port is transparent to the write, so a pass starting in that cycle reads it.
        # A survivor bank is ceil(npos / P) entries (conv1 of the MNIST network: 79 x 37 bits,
        # two block RAMs on the ECP5 for 3 Kbit): in LUT RAM. Per-step memories hold G npos.
        attrs = small_memory(platform) if self.survivors else None
        for l in range(P):
            m.submodules[f"cand{l}"] = mem = memory.Memory(shape=entry, depth=self.depth, init=[],
                                                           attrs=attrs)
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,))
            wptr = Signal(ab + 1, name=f"wptr{l}")
            f_take, f_ptr = Signal(name=f"f_take{l}"), Signal.like(wptr, name=f"f_ptr{l}")
            m.d.sync += [f_take.eq(take[l]), f_ptr.eq(wptr)]
            if surv:
                m.d.comb += [wp.data.x.eq(s_x), wp.data.y.eq(s_y), wp.data.f.eq(s_f),
                             wp.data.t.eq(s_t), wp.data.v.eq(s_v)]
            else:
                f_g, f_pos = Signal(gb, name=f"f_g{l}"), Signal(bits(npos - 1), name=f"f_pos{l}")
                f_v = Signal(pb, name=f"f_v{l}")
                g, pos = quotient(m, self.fire_addr[l], npos, G - 1, f"fire_g{l}")
                m.d.sync += [f_g.eq(g), f_pos.eq(pos), f_v.eq(self.fire_v[l])]
                y, x = quotient(m, f_pos, so, so - 1, f"fire_y{l}")
                m.d.comb += [wp.data.x.eq(x), wp.data.y.eq(y), wp.data.v.eq(f_v)]
                if G > 1:
                    m.d.comb += wp.data.g.eq(f_g)
            m.d.comb += [wp.addr.eq(f_ptr), wp.en.eq(f_take), rp.addr.eq(j)]
            with m.If(take[l]):
                m.d.sync += wptr.eq(wptr + 1)
            wptrs.append(wptr)
            reads.append(rp.data)
        # Every lane grows by at most one a cycle: the deepest grows when one of its lanes fires.
        depth_next = Signal.like(depth)
        m.d.comb += depth_next.eq(depth + Cat(*(take[l] & (wptrs[l] == depth) for l in range(P))).any())
        m.d.sync += depth.eq(depth_next)

        # -- the pass: issue reads, register the words, stage 1 (allowed, key), stage 2 (reduce,
        # fold, decide) ----------------------------------------------------------------------------
        m.d.comb += last.eq(j == depth - 1)
        with m.If(issue):
            m.d.sync += [j.eq(Mux(last, 0, j + 1)), run.eq(~last)]
        m.d.sync += [s0_go.eq(issue), s0_last.eq(issue & last), s0_j.eq(j),
                     s1_go.eq(s0_go), s1_last.eq(s0_last), s1_j.eq(s0_j),
                     s2_go.eq(s1_go), s2_last.eq(s1_last)]

        for l in range(P):
            # The word is registered as it leaves the memory (ECP5: 5.6 ns clock to out), so
            # stage 1's compares start from a register.
            e = Signal(entry, name=f"word{l}")
            m.d.sync += e.eq(reads[l])
            near = Signal(R, name=f"near{l}")
            for i in range(R):
                m.d.comb += near[i].eq(w_valid[i] & (e.y >= w_ylo[i]) & (e.y <= w_yhi[i]) &
                                       (e.x >= w_xlo[i]) & (e.x <= w_xhi[i]))
            if surv:
                map_used = used.bit_select(e.f, 1)
                k_l = Cat(~e.x, ~e.y, ~e.f, e.v, ~e.t)
            else:
                e_g = e.g if G > 1 else Const(0, gb)
                map_used = Cat(*(used[g * P + l] for g in range(G))).bit_select(e_g, 1)
                k_l = Cat(~e.x, ~e.y, Const((1 << lb) - 1 - l, lb), ~e_g, e.v)
            m.d.sync += [s2_ok[l].eq(s1_go & (s1_j < wptrs[l]) & ~map_used & ~near.any()),
                         s2_key[l].eq(k_l)]

        # Reduce the lanes' candidates and the pass's best so far: every pair compared at once
        # (one comparator deep, not a tree of them), the entry that beats all others selected.
        # Entry i beats entry j > i when it ranks no lower by (ok, key); candidates' keys are
        # distinct (distinct neurons), so the order among them is the key's.
        entries = [(s2_ok[l], s2_key[l]) for l in range(P)] + [(best_ok, best_key)]
        n_ent = len(entries)
        beats = {}
        for i in range(n_ent):
            for jj in range(i + 1, n_ent):
                (a_ok, a_key), (b_ok, b_key) = entries[i], entries[jj]
                win = Signal(name=f"beats{i}_{jj}")
                m.d.comb += win.eq(Mux(a_ok, ~b_ok | (a_key.as_value() >= b_key.as_value()), ~b_ok))
                beats[i, jj] = win
        sel = Signal(n_ent)
        for i in range(n_ent):
            m.d.comb += sel[i].eq(Cat(*([beats[i, jj] for jj in range(i + 1, n_ent)]
                                        + [~beats[jj, i] for jj in range(i)]), Const(1, 1)).all())
        top_ok, top_key = Signal(), Signal(key)
        m.d.comb += [top_ok.eq(Cat(*(ok for ok, _ in entries)).any()),
                     top_key.eq(reduce(or_, (Mux(sel[i], kk.as_value(), 0)
                                             for i, (_, kk) in enumerate(entries))))]

        win_f, win_t = Signal(fb), Signal(tb)
        if surv:
            m.d.comb += [win_f.eq(~top_key.fn), win_t.eq(~top_key.tn)]
        else:
            win_g, win_l = Signal(gb), Signal(lb)
            m.d.comb += [win_g.eq(~top_key.gn), win_l.eq(~top_key.ln),
                         win_f.eq(const_mul(win_g, P) + win_l), win_t.eq(cur_t)]
        m.d.comb += [self.tr_win_f.eq(win_f), self.tr_win_y.eq(~top_key.yn),
                     self.tr_win_x.eq(~top_key.xn), self.tr_win_t.eq(win_t)]
        decide = s2_go & s2_last
        won = decide & top_ok
        more = won & (n_won + 1 < k)               # the next pass goes on
        # The next pass's entry 0 is read in the cycle before the decision (its stage 1, two
        # cycles on, sees the new winner): a pass still costs N + 1 cycles. A pass that ends
        # the selection drops the reads in flight.
        ahead = s1_go & s1_last
        m.d.comb += self.tr_winner.eq(won)
        with m.If(s2_go):
            m.d.sync += [best_ok.eq(top_ok & ~s2_last), best_key.eq(top_key)]
        with m.If(won):
            m.d.sync += [n_won.eq(n_won + 1), used.bit_select(win_f, 1).eq(1)]
            for i in range(R):
                with m.If(n_won == i):
                    m.d.sync += [w_valid[i].eq(1), w_f[i].eq(win_f), w_y[i].eq(self.tr_win_y),
                                 w_x[i].eq(self.tr_win_x), w_t[i].eq(self.tr_win_t),
                                 w_yhi[i].eq(self.tr_win_y + r), w_xhi[i].eq(self.tr_win_x + r),
                                 w_ylo[i].eq(Mux(self.tr_win_y > r, self.tr_win_y - r, 0)),
                                 w_xlo[i].eq(Mux(self.tr_win_x > r, self.tr_win_x - r, 0))]

        def end_step():
            m.d.sync += [depth.eq(0), *(w.eq(0) for w in wptrs)]
            if surv:
                m.d.sync += bank.eq(0)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                with m.If(self.clear):
                    m.d.sync += [n_won.eq(0), used.eq(0), w_valid.eq(0), self.cycle.eq(0)]
                    end_step()
                with m.Elif(self.step_end):
                    if not surv:
                        m.d.sync += cur_t.eq(self.t)
                    # Survivors end at least a cycle before step_end: the registered count
                    # holds them all (a shorter path into the core's STDP start).
                    with m.If(((depth if surv else depth_next) != 0) & (n_won != k)):
                        m.d.sync += [j.eq(0), run.eq(1)]
                        m.next = "SELECT"
                    with m.Else():
                        m.d.comb += self.done.eq(1)
                        end_step()
            with m.State("SELECT"):
                m.d.comb += issue.eq(run | ahead)
                with m.If(decide & ~more):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += [j.eq(0), run.eq(0), s0_go.eq(0), s1_go.eq(0)]
                    end_step()
                    m.next = "IDLE"
        busy_and_cycles(m, fsm, self.busy, self.cycle)
        with m.If(idle & self.clear):
            m.d.sync += self.cycle.eq(0)

        m.d.comb += [self.win_f.eq(Array(w_f)[self.win_idx]), self.win_y.eq(Array(w_y)[self.win_idx]),
                     self.win_x.eq(Array(w_x)[self.win_idx]), self.win_t.eq(Array(w_t)[self.win_idx])]
        return m
