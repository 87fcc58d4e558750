"""StdpUnit: the winners' kernels learn, pruned connections are skipped, the pruning rule applied.

For each winner (map f, row y, column x, fire time t_post) the unit walks the live connections of
kernel f, one per cycle, with a find-first-set over 32-row words of a per-map live-row bitmap
(``map_rows``): a pruned connection costs no op cycle, only its share of one word scan per 32
rows. Each op reads the weight (lane f mod P, word row G + f div P), the input spike time at
(c, y + ky - pad, x + kx - pad) (outside the input: never, so LTD), and hashes its random word
``mix32(round_key ^ (f * rows + row))`` (``round_key = mix32(layer_key ^ n)``, model/rng.py); it
writes the weight from the rule of ``hw.stdp_lane`` five cycles after its issue. The op is a
pipeline of six one-cycle stages, I (issue: the row found, the weight and the row's (c, ky, kx)
read), A (the weight selected, the input time's address, hash stage 1), B (q (2^W - q), the
input time: ltp and the rate, hash stage 2), C (the rate product, hash stage 3), D (the new
weight for either carry of the rounding word, the carry picking one; the read-modify-write words
read) and E (exec: the pruning check, the writes, the trace); a new op issues every cycle. With ``check`` set, a weight that falls below ``prune_th`` is pruned: its lane mask
bit, its ``map_rows`` bit and, if it was the row's last live connection, its ``row_any`` bit are
cleared (read-modify-write: read in D, written in E, through read ports transparent to the
writes, so an op sees the writes of the op just before it). After the last walk two FLUSH
cycles let the last op reach E before DONE.

``all_maps`` runs the same walk over every map instead of the winners: with zero rates the
weights stay as they are (the rounding word is below one LSB) and the unit is the pruning sweep
that ends the warm-up. ``model/schedule.py`` (``stdp_pass``) predicts every cycle.

Memory layout: the integrate engine's (weights, masks, row_any) -- in the core borrowed from
the engine through ``syn`` (``borrowed=True``, ``hw.common.synapse_port``), on its own held in
``hw.synapses.SynapseMemories`` behind the host ports -- plus the unit's own ``map_rows`` (word
f NW + row div 32, bit row mod 32; NW = ceil(rows / 32)) and ``times`` (the layer's input spike
times, c S S + y S + x).
"""
from amaranth import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.hash import Mix32
from hw.common import bits, busy_and_cycles, const_mul, skip_walk_bit, synapse_port
from hw.prune import PruneCheck
from hw.stdp_lane import rate_product, select_step, step_candidates, weight_product
from hw.synapses import SynapseMemories
from model.fixedpoint import Formats
from model.schedule import EngineLayout

MEM_MAP_ROWS, MEM_TIMES = 3, 4          # after hw.synapses' weights, masks, row summaries


class StdpUnit(wiring.Component):
    def __init__(self, lay: EngineLayout, formats: Formats, max_winners: int, borrowed: bool = False):
        self.lay, self.formats, self.max_winners = lay.check().check_formats(formats), formats, max_winners
        self.borrowed = borrowed
        G, rows = lay.groups, lay.rows
        self.nw = -(-rows // 32)
        depth = max(rows * G, lay.maps * self.nw, lay.channels * lay.side_in ** 2)
        self.addr_w = bits(depth - 1)
        self.data_w = max(32, lay.weight_bits, G, lay.kernel ** 2)
        tb, wb, ab = bits(lay.time_steps), lay.weight_bits, formats.rate_frac_bits
        # Synapse memories: borrowed from the integrate engine (the core), or owned (hw/synapses.py)
        # with the host's ports to them.
        synapses = {"syn": Out(synapse_port(lay))} if borrowed else {
            "rd_weight": Out(wb), "rd_mask": Out(G), "rd_row_any": Out(lay.kernel ** 2)}
        super().__init__({**synapses,
            "start": In(1), "all_maps": In(1), "busy": Out(1), "done": Out(1),
            "n_winners": In(bits(max_winners)),
            "win_we": In(1), "win_idx": In(bits(max(1, max_winners - 1))),
            "win_f": In(bits(lay.maps - 1)), "win_y": In(bits(lay.side_out - 1)),
            "win_x": In(bits(lay.side_out - 1)), "win_t": In(tb),
            "a_plus": In(ab), "a_minus": In(ab), "layer_key": In(32), "image_n": In(32),
            "check": In(1), "prune_th": In(wb),
            "wr_en": In(1), "wr_mem": In(3), "wr_lane": In(bits(lay.lanes - 1)),
            "wr_addr": In(self.addr_w), "wr_data": In(self.data_w),
            "rd_lane": In(bits(lay.lanes - 1)), "rd_addr": In(self.addr_w),
            "rd_map_rows": Out(32),
            "cycle": Out(32),
            "tr_op": Out(1), "tr_map": Out(bits(lay.maps - 1)), "tr_row": Out(bits(rows - 1)),
            "tr_q": Out(wb), "tr_q_next": Out(wb), "tr_pruned": Out(1), "tr_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        lay, fmt, nw = self.lay, self.formats, self.nw
        P, G, rows, k, T = lay.lanes, lay.groups, lay.rows, lay.kernel, lay.time_steps
        S, pad = lay.side_in, lay.padding
        tb, wb = bits(T), lay.weight_bits

        def mem(name, width, depth, init=()):
            m.submodules[name] = mm = memory.Memory(shape=unsigned(width), depth=depth, init=init)
            return mm

        # Row decomposition table: row -> (c, ky, kx, toff), toff = c S S + (ky - pad) S + (kx - pad)
        # (two's complement): the input time of (c, y + ky - pad, x + kx - pad) is at y S + x + toff.
        cb, kb = bits(lay.channels - 1), bits(k - 1)
        ob = bits(lay.channels * S * S + pad * (S + 1)) + 1

        def row_word(r):
            c, ky, kx = r // (k * k), r // k % k, r % k
            toff = (c * S * S + (ky - pad) * S + (kx - pad)) & ((1 << ob) - 1)
            return c | (ky << cb) | (kx << (cb + kb)) | (toff << (cb + 2 * kb))
        rowtab = mem("rowtab", cb + 2 * kb + ob, rows, init=[row_word(r) for r in range(rows)])
        map_rows, times = mem("map_rows", 32, lay.maps * nw), mem("times", tb, lay.channels * S * S)
        mr_wp = map_rows.write_port()
        mr_scan = map_rows.read_port()
        mr_rmw = map_rows.read_port(transparent_for=(mr_wp,))
        mr_host = map_rows.read_port()
        t_wp, t_rd, tab_rd = times.write_port(), times.read_port(), rowtab.read_port()
        if self.borrowed:
            syn = self.syn
        else:
            m.submodules.synapses = own = SynapseMemories(lay, self.addr_w, self.data_w, 3)
            syn = synapse_port(lay).create(path=("syn",))
            wiring.connect(m, syn, own.syn)
            for name in ("wr_en", "wr_mem", "wr_lane", "wr_addr", "wr_data", "rd_lane", "rd_addr"):
                m.d.comb += getattr(own, name).eq(getattr(self, name))
            for name in ("rd_weight", "rd_mask", "rd_row_any"):
                m.d.comb += getattr(self, name).eq(getattr(own, name))

        # -- host access ----------------------------------------------------------------------
        host_wr = self.wr_en          # only while busy is low (the host's side of the contract)
        for sel, wp in ((MEM_MAP_ROWS, mr_wp), (MEM_TIMES, t_wp)):
            with m.If(host_wr & (self.wr_mem == sel)):
                m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data), wp.en.eq(1)]
        m.d.comb += [mr_host.addr.eq(self.rd_addr), self.rd_map_rows.eq(mr_host.data)]

        # -- winners register file --------------------------------------------------------------
        win_lay = data.StructLayout({"f": len(self.win_f), "y": len(self.win_y),
                                     "x": len(self.win_x), "t": tb})
        winners = Array(Signal(win_lay, name=f"winner{i}") for i in range(self.max_winners))
        with m.If(self.win_we):
            m.d.sync += [winners[self.win_idx].f.eq(self.win_f), winners[self.win_idx].y.eq(self.win_y),
                         winners[self.win_idx].x.eq(self.win_x), winners[self.win_idx].t.eq(self.win_t)]

        # -- sequencer -------------------------------------------------------------------------------
        # round_key = mix32(layer_key ^ n): the key hash's three stages take the key of the start
        # cycle through W_LOAD and the first W_SCAN, then hold it (``key_settle``) for the pass;
        # the first op's stage A uses it in cycle 2.
        m.submodules.key_hash = key_hash = Mix32(stages=3)
        m.submodules.word_hash = word_hash = Mix32(stages=3)
        round_key, key_settle = Signal(32), Signal(2)
        m.d.comb += [key_hash.i.eq(self.layer_key ^ self.image_n), round_key.eq(key_hash.o),
                     key_hash.en.eq(~self.busy | (key_settle != 0))]
        with m.If(key_settle != 0):
            m.d.sync += key_settle.eq(key_settle - 1)
        j = Signal(bits(max(self.max_winners, lay.maps)))
        cur = Signal(win_lay)
        f_base = Signal(bits(lay.maps * rows))      # cur.f * rows: the walk's hash base
        cur_base = Signal(bits(S * S))              # cur.y S + cur.x: the walk's input time base
        wi = Signal(bits(nw))
        rem = Signal(32)
        first = Signal()
        issue = Signal()
        issue_row = Signal(bits(rows - 1))

        # An op runs through six stages, one cycle each (``model.schedule.STDP_EXEC``):
        #   I  issue: the walk finds the row; the weight and the row's (c, ky, kx) are read;
        #   A  the weight arrives (lane select); the input time's address; hash stage 1;
        #   B  q (2^W - q); the input time arrives: ltp and the rate; hash stage 2;
        #   C  the rate product; hash stage 3;
        #   D  the new weight: the two candidates (rounding carry 0 or 1) and the carry of the
        #      hashed word picking one; the read-modify-write words are read;
        #   E  exec: the pruning check, the writes, the trace.
        # The read-modify-write words (mask words, row summary, live-row word) are read in D, one
        # cycle before E writes them, through read ports transparent to the writes: every op sees
        # the writes of the ops before it. The weight is read in I and written in E: each
        # (map, row) has one op a pass (winners have distinct maps), so no op reads a weight an
        # op in flight will write.
        lane_of = Signal(bits(P - 1))
        g_of = Signal(bits(G - 1))
        m.d.comb += [lane_of.eq(cur.f % P), g_of.eq(cur.f // P),
                     syn.w_addr.eq(const_mul(issue_row, G) + g_of), tab_rd.addr.eq(issue_row)]

        a_valid, a_row, a_f = Signal(), Signal.like(issue_row), Signal.like(cur.f)
        a_lane, a_g, a_y, a_x, a_t = (Signal.like(lane_of), Signal.like(g_of), Signal.like(cur.y),
                                      Signal.like(cur.x), Signal(tb))
        m.d.sync += [a_valid.eq(issue), a_row.eq(issue_row), a_f.eq(cur.f), a_lane.eq(lane_of),
                     a_g.eq(g_of), a_y.eq(cur.y), a_x.eq(cur.x), a_t.eq(cur.t)]
        row_c, row_ky, row_kx, row_toff = Signal(cb), Signal(kb), Signal(kb), Signal(signed(ob))
        m.d.comb += [row_c.eq(tab_rd.data[:cb]), row_ky.eq(tab_rd.data[cb:cb + kb]),
                     row_kx.eq(tab_rd.data[cb + kb:cb + 2 * kb]), row_toff.eq(tab_rd.data[cb + 2 * kb:])]
        py = Signal(range(-k, S + k + 1))
        px = Signal(range(-k, S + k + 1))
        m.d.comb += [py.eq(a_y + row_ky - pad), px.eq(a_x + row_kx - pad)]
        outside = (py < 0) | (py >= S) | (px < 0) | (px >= S)
        a_q = Signal(wb)
        # f_base, cur_base are the walk's: the next W_LOAD is two cycles or more after its last issue.
        m.d.comb += [t_rd.addr.eq(cur_base + row_toff),
                     a_q.eq(Array(syn.w_data)[a_lane]),
                     word_hash.i.eq(round_key ^ (f_base + a_row))]

        b_valid, b_outside = Signal(), Signal()
        b_lane, b_g = Signal.like(lane_of), Signal.like(g_of)
        b_row, b_f, b_t = Signal.like(issue_row), Signal.like(cur.f), Signal(tb)
        b_c, b_ky, b_kx = Signal(cb), Signal(kb), Signal(kb)
        b_q = Signal(wb)
        m.d.sync += [b_valid.eq(a_valid), b_outside.eq(outside), b_lane.eq(a_lane), b_g.eq(a_g),
                     b_row.eq(a_row), b_f.eq(a_f), b_t.eq(a_t),
                     b_c.eq(row_c), b_ky.eq(row_ky), b_kx.eq(row_kx), b_q.eq(a_q)]
        b_qq = weight_product(m, fmt, b_q)
        b_ltp = Signal()
        m.d.comb += b_ltp.eq(Mux(b_outside, T, t_rd.data) <= b_t)

        a_plus, a_minus = Signal.like(self.a_plus), Signal.like(self.a_minus)
        m.d.comb += [a_plus.eq(Mux(self.all_maps, 0, self.a_plus)),
                     a_minus.eq(Mux(self.all_maps, 0, self.a_minus))]

        c_valid = Signal()
        c_lane, c_g = Signal.like(lane_of), Signal.like(g_of)
        c_row, c_f = Signal.like(issue_row), Signal.like(cur.f)
        c_c, c_ky, c_kx = Signal(cb), Signal(kb), Signal(kb)
        c_q, c_qq, c_ltp, c_rate = Signal(wb), Signal.like(b_qq), Signal(), Signal.like(a_plus)
        m.d.sync += [c_valid.eq(b_valid), c_lane.eq(b_lane), c_g.eq(b_g), c_row.eq(b_row),
                     c_f.eq(b_f), c_c.eq(b_c), c_ky.eq(b_ky), c_kx.eq(b_kx),
                     c_q.eq(b_q), c_qq.eq(b_qq), c_ltp.eq(b_ltp),
                     c_rate.eq(Mux(b_ltp, a_plus, a_minus))]
        c_num = rate_product(m, fmt, c_rate, c_qq)

        d_valid = Signal()
        d_lane, d_g = Signal.like(lane_of), Signal.like(g_of)
        d_row, d_f = Signal.like(issue_row), Signal.like(cur.f)
        d_c, d_ky, d_kx = Signal(cb), Signal(kb), Signal(kb)
        d_q, d_ltp, d_num = Signal(wb), Signal(), Signal.like(c_num)
        m.d.sync += [d_valid.eq(c_valid), d_lane.eq(c_lane), d_g.eq(c_g), d_row.eq(c_row),
                     d_f.eq(c_f), d_c.eq(c_c), d_ky.eq(c_ky), d_kx.eq(c_kx),
                     d_q.eq(c_q), d_ltp.eq(c_ltp), d_num.eq(c_num)]
        m.d.comb += [syn.ra_addr.eq(d_c), mr_rmw.addr.eq(const_mul(d_f, nw) + (d_row >> 5)),
                     syn.m_addr.eq(d_row)]
        d_lo, d_q_next0, d_q_next1 = step_candidates(m, fmt, d_q, d_ltp, d_num)
        d_q_next = select_step(m, fmt, d_lo, word_hash.o, d_q_next0, d_q_next1)

        x_valid = Signal()
        x_lane, x_g = Signal.like(lane_of), Signal.like(g_of)
        x_row, x_f = Signal.like(issue_row), Signal.like(cur.f)
        x_c, x_ky, x_kx = Signal(cb), Signal(kb), Signal(kb)
        q, q_next = Signal(wb), Signal(wb)
        m.d.sync += [x_valid.eq(d_valid), x_lane.eq(d_lane), x_g.eq(d_g),
                     x_row.eq(d_row), x_f.eq(d_f),
                     x_c.eq(d_c), x_ky.eq(d_ky), x_kx.eq(d_kx),
                     q.eq(d_q), q_next.eq(d_q_next)]

        # The pruning rule and the pruning state's new words (hw/prune.py).
        m.submodules.prune_check = pc = PruneCheck(lay)
        prune = pc.prune
        m.d.comb += [pc.valid.eq(x_valid), pc.check.eq(self.check), pc.sweep.eq(self.all_maps),
                     pc.q_next.eq(q_next), pc.threshold.eq(self.prune_th),
                     pc.lane.eq(x_lane), pc.g.eq(x_g), pc.masks.eq(syn.m_data),
                     pc.row_word.eq(mr_rmw.data), pc.row_bit.eq(x_row[:5]),
                     pc.row_any.eq(syn.ra_data), pc.ky.eq(x_ky), pc.kx.eq(x_kx)]
        lane_bit = Signal(P)
        m.d.comb += [lane_bit.eq(Const(1, P) << x_lane),
                     syn.w_waddr.eq(x_row * G + x_g), syn.w_wdata.eq(q_next),
                     syn.m_waddr.eq(x_row), syn.m_wdata.eq(pc.mask),
                     syn.ra_waddr.eq(x_c), syn.ra_wdata.eq(pc.row_any_next)]
        with m.If(x_valid):
            m.d.comb += syn.w_we.eq(lane_bit)
            with m.If(prune):
                m.d.comb += [syn.m_we.eq(lane_bit), mr_wp.addr.eq(x_f * nw + (x_row >> 5)),
                             mr_wp.data.eq(pc.row_word_next), mr_wp.en.eq(1),
                             syn.ra_we.eq(pc.row_dead)]
        m.d.comb += [self.tr_op.eq(x_valid), self.tr_map.eq(x_f), self.tr_row.eq(x_row),
                     self.tr_q.eq(q), self.tr_q_next.eq(q_next), self.tr_pruned.eq(prune)]

        # The walk: W_LOAD (a winner, or the next map), W_SCAN (one op or one word per cycle).
        word = Signal(32)
        m.d.comb += word.eq(Mux(first, mr_scan.data, rem))
        bit = skip_walk_bit(m, word, "skip_rows")
        m.d.comb += issue_row.eq((wi << 5) | bit)
        load_f = Mux(self.all_maps, j, winners[j].f)
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.cycle.eq(0), j.eq(0), key_settle.eq(2)]
                    m.next = "W_LOAD"
            with m.State("W_LOAD"):
                with m.If(Mux(self.all_maps, j == lay.maps, j == self.n_winners)):
                    m.next = "FLUSH"
                with m.Else():
                    m.d.sync += [cur.eq(winners[j]), cur.f.eq(load_f), f_base.eq(const_mul(load_f, rows)),
                                 cur_base.eq(const_mul(winners[j].y, S) + winners[j].x),
                                 wi.eq(0), first.eq(1)]
                    m.d.comb += mr_scan.addr.eq(const_mul(load_f, nw))
                    m.next = "W_SCAN"
            with m.State("W_SCAN"):
                m.d.sync += first.eq(0)
                with m.If(word == 0):
                    with m.If(wi == nw - 1):
                        m.d.sync += j.eq(j + 1)
                        m.next = "W_LOAD"
                    with m.Else():
                        m.d.sync += [wi.eq(wi + 1), first.eq(1)]
                        m.d.comb += mr_scan.addr.eq(const_mul(cur.f, nw) + wi + 1)
                with m.Else():
                    m.d.comb += issue.eq(1)
                    m.d.sync += rem.eq(word & (word - 1))
            with m.State("FLUSH"):           # the last op's exec is at the latest in DONE
                m.next = "FLUSH2"
            with m.State("FLUSH2"):
                m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += [self.done.eq(1), self.tr_done.eq(1)]
                m.next = "IDLE"
        busy_and_cycles(m, fsm, self.busy, self.cycle)
        return m
