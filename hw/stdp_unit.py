"""StdpUnit: the winners' kernels learn, pruned connections are skipped, the pruning rule applied.

For each winner (map f, row y, column x, fire time t_post) the unit walks the live connections of
kernel f, one per cycle, with a find-first-set over 32-row words of a per-map live-row bitmap
(``map_rows``): a pruned connection costs no op cycle, only its share of one word scan per 32
rows. Each op reads the weight (lane f mod P, word row G + f div P), the input spike time at
(c, y + ky - pad, x + kx - pad) (outside the input: never, so LTD), and hashes its random word
``mix32(round_key ^ (f * rows + row))`` (``round_key = mix32(layer_key ^ n)``, model/rng.py); it
writes the weight from the rule of ``hw.stdp_lane`` six cycles after its issue. The op is a
pipeline of seven one-cycle stages, I (issue: the row found, the weight and the row's (c, ky, kx)
read), A (the weight selected, the input time's address, the hash input), B (q (2^W - q), the
input time: ltp and the rate, hash stage 1), C (the rate product, hash stage 2), D (the new
weight for either carry of the rounding word, hash stage 3), E (the hashed word's carry picks
one; the read-modify-write words read) and X (exec: the pruning check, the writes, the trace);
a new op issues every cycle. With ``check`` set, a weight that falls below ``prune_th`` is
pruned: its lane mask bit, its ``map_rows`` bit and, if it was the lane's last live connection
of the row, the bit of the lane's row summary (``row_any``) are cleared (read-modify-write: read
in E, written in X, through read ports transparent to the writes, so an op sees the writes of
the op just before it). After the last walk three FLUSH cycles let the last op reach X before
DONE.

``all_maps`` runs the same walk over every map instead of the winners: with zero rates the
weights stay as they are (the rounding word is below one LSB) and the unit is the pruning sweep
that ends the warm-up. ``cycles/integrate.py`` (``stdp_pass``) predicts every cycle.

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
from hw.common import bits, busy_and_cycles, const_mul, registered, skip_walk_bit, synapse_port
from hw.prune import PruneCheck
from hw.stdp_lane import rate_product, select_step, step_candidates, weight_product
from hw.synapses import SynapseMemories
from model.fixedpoint import Formats
from cycles.layout import STDP_EXEC, EngineLayout

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
        tb = bits(T)

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
        # One read port serves the walk's scan and the host, which reads only while the unit is
        # idle (its address unless the walk drives one); a second, the pruning's read-modify-write.
        mr_scan = map_rows.read_port()
        mr_rmw = map_rows.read_port(transparent_for=(mr_wp,))
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
        m.d.comb += [mr_scan.addr.eq(self.rd_addr), self.rd_map_rows.eq(mr_scan.data)]

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

        # An op runs through seven stages, one cycle each (``cycles.layout.STDP_EXEC``):
        #   I  issue: the walk finds the row; the weight and the row's (c, ky, kx) are read;
        #   A  the weight arrives (lane select); the input time's address; the hash input
        #      round_key ^ (f rows + row), registered;
        #   B  q (2^W - q); the input time arrives: ltp and the rate; hash stage 1 (multipliers);
        #   C  the rate product; hash stage 2 (sum, xor-shift);
        #   D  the two candidate weights (rounding carry 0 or 1); hash stage 3 (multipliers);
        #   E  the hashed word (sum, xor-shift) and its carry pick the candidate; the
        #      read-modify-write words are read;
        #   X  exec: the pruning check, the writes, the trace.
        # Every multiplier has a register behind it and nothing but an xor-shift or a register
        # ahead of it (hw/hash.py: on the ECP5 the route to a multiplier is most of a cycle).
        # The read-modify-write words (mask words, row summary, live-row word) are read in E, one
        # cycle before X writes them, through read ports transparent to the writes: every op sees
        # the writes of the ops before it. The weight is read in I and written in X: each
        # (map, row) has one op a pass (winners have distinct maps), so no op reads a weight an
        # op in flight will write.
        lane_of = Signal(bits(P - 1))
        g_of = Signal(bits(G - 1))
        m.d.comb += [lane_of.eq(cur.f % P), g_of.eq(cur.f // P),
                     syn.w_addr.eq(const_mul(issue_row, G) + g_of), tab_rd.addr.eq(issue_row)]
        a = registered(m, "a_", dict(valid=issue, row=issue_row, f=cur.f, lane=lane_of, g=g_of,
                            y=cur.y, x=cur.x, t=cur.t))
        row_c, row_ky, row_kx, row_toff = Signal(cb), Signal(kb), Signal(kb), Signal(signed(ob))
        m.d.comb += [row_c.eq(tab_rd.data[:cb]), row_ky.eq(tab_rd.data[cb:cb + kb]),
                     row_kx.eq(tab_rd.data[cb + kb:cb + 2 * kb]), row_toff.eq(tab_rd.data[cb + 2 * kb:])]
        py = Signal(range(-k, S + k + 1))
        px = Signal(range(-k, S + k + 1))
        m.d.comb += [py.eq(a["y"] + row_ky - pad), px.eq(a["x"] + row_kx - pad)]
        outside = (py < 0) | (py >= S) | (px < 0) | (px >= S)
        # f_base, cur_base are the walk's: the next W_LOAD is two cycles or more after its last issue.
        m.d.comb += t_rd.addr.eq(cur_base + row_toff)
        shared = ("valid", "lane", "g", "row", "f")
        b = registered(m, "b_", {**{n: a[n] for n in (*shared, "t")}, "outside": outside,
                        "c": row_c, "ky": row_ky, "kx": row_kx,
                        "q": Array(syn.w_data)[a["lane"]],
                        "hash_in": round_key ^ (f_base + a["row"])})
        m.d.comb += word_hash.i.eq(b["hash_in"])
        b_qq = weight_product(m, fmt, b["q"])
        b_ltp = Signal()
        m.d.comb += b_ltp.eq(Mux(b["outside"], T, t_rd.data) <= b["t"])

        a_plus, a_minus = Signal.like(self.a_plus), Signal.like(self.a_minus)
        m.d.comb += [a_plus.eq(Mux(self.all_maps, 0, self.a_plus)),
                     a_minus.eq(Mux(self.all_maps, 0, self.a_minus))]
        shared += ("c", "ky", "kx", "q")
        c = registered(m, "c_", {**{n: b[n] for n in shared}, "qq": b_qq, "ltp": b_ltp,
                        "rate": Mux(b_ltp, a_plus, a_minus)})
        c_num = rate_product(m, fmt, c["rate"], c["qq"])
        d = registered(m, "d_", {**{n: c[n] for n in shared}, "ltp": c["ltp"], "num": c_num})
        d_lo, d_q_next0, d_q_next1 = step_candidates(m, fmt, d["q"], d["ltp"], d["num"])
        e = registered(m, "e_", {**{n: d[n] for n in shared}, "lo": d_lo, "q_next0": d_q_next0,
                        "q_next1": d_q_next1})
        m.d.comb += [syn.ra_addr.eq(e["c"]), mr_rmw.addr.eq(const_mul(e["f"], nw) + (e["row"] >> 5)),
                     syn.m_addr.eq(e["row"])]
        e_q_next = select_step(m, fmt, e["lo"], word_hash.o, e["q_next0"], e["q_next1"])
        x = registered(m, "x_", {**{n: e[n] for n in shared}, "q_next": e_q_next})

        # The pruning rule and the pruning state's new words (hw/prune.py).
        m.submodules.prune_check = pc = PruneCheck(lay)
        prune = pc.prune
        m.d.comb += [pc.valid.eq(x["valid"]), pc.check.eq(self.check), pc.sweep.eq(self.all_maps),
                     pc.q_next.eq(x["q_next"]), pc.threshold.eq(self.prune_th),
                     pc.lane.eq(x["lane"]), pc.g.eq(x["g"]), pc.masks.eq(syn.m_data),
                     pc.row_word.eq(mr_rmw.data), pc.row_bit.eq(x["row"][:5]),
                     pc.row_any.eq(syn.ra_data), pc.ky.eq(x["ky"]), pc.kx.eq(x["kx"])]
        lane_bit = Signal(P)
        m.d.comb += [lane_bit.eq(Const(1, P) << x["lane"]),
                     syn.w_waddr.eq(x["row"] * G + x["g"]), syn.w_wdata.eq(x["q_next"]),
                     syn.m_waddr.eq(x["row"]), syn.m_wdata.eq(pc.mask),
                     syn.ra_waddr.eq(x["c"]), syn.ra_wdata.eq(pc.row_any_next)]
        with m.If(x["valid"]):
            m.d.comb += syn.w_we.eq(lane_bit)
            with m.If(prune):
                m.d.comb += [syn.m_we.eq(lane_bit), mr_wp.addr.eq(x["f"] * nw + (x["row"] >> 5)),
                             mr_wp.data.eq(pc.row_word_next), mr_wp.en.eq(1),
                             syn.ra_we.eq(Mux(pc.row_dead, lane_bit, 0))]
        m.d.comb += [self.tr_op.eq(x["valid"]), self.tr_map.eq(x["f"]), self.tr_row.eq(x["row"]),
                     self.tr_q.eq(x["q"]), self.tr_q_next.eq(x["q_next"]), self.tr_pruned.eq(prune)]

        # The walk: W_LOAD (a winner, or the next map), W_SCAN (one op or one word per cycle).
        word = Signal(32)
        flush = Signal(range(STDP_EXEC))      # FLUSH's cycles: STDP_EXEC - 3, the pipeline empties
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
                    m.d.sync += flush.eq(0)
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
                m.d.sync += flush.eq(flush + 1)
                with m.If(flush == STDP_EXEC - 4):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += [self.done.eq(1), self.tr_done.eq(1)]
                m.next = "IDLE"
        busy_and_cycles(m, fsm, self.busy, self.cycle)
        return m
