"""IntegrateEngine: input spike events -> potentials -> first spikes, on P lanes, pruning skipped.

The datapath and sequencer of hw/README.md; ``cycles/integrate.py`` predicts its every cycle and
``model/layer.py`` its every value. Generator parameters: ``cycles.integrate.EngineLayout``.

Per lane l (maps f = g P + l): weight memory (row G + g), mask memory (one G-bit word per row),
row-summary memory (one k^2-bit word per channel: bit ky k + kx set when the lane's mask word of
row (c, ky, kx) is not empty), potential / fire-time / fire-potential memories (g npos + pos)
and a crossing bitmap. Each lane walks its own rows of an event: the rows its summary marks,
lowest kernel offset first, back to back with its own row pointer, so a row where the lane has
no live map costs the lane nothing and a lane never waits for another within an event; the
lanes meet at the event's end. One accumulation is issued per lane per cycle: the lane picks
the lowest set bit of its mask word (find-first-set), so pruned connections are never visited;
a row costs the lane max(1, live maps) cycles and the event its busiest lane's cycles. Reads
are synchronous: an op reads weight and potential in its issue cycle, registers
them as they arrive in the next, and writes the saturated sum in the cycle after (Y); the op
just before it writes after its read, so its sum is forwarded when the address is the same,
and the read port is transparent to the writes of the ops before that. A threshold crossing is
tested in Y, on the registered old potential and the sum, and sets the neuron's bit in the
lane's crossing bitmap in that cycle (for the step's last op: STEP_END, whose depth of the drain
counts it), and its 32-bit word's bit in a register of the words holding one (``dirty``).

The drain, after each step, writes the fire time and the potential of every neuron that crossed
during the step: each lane walks its crossing bitmap in ascending address order (find-first-set
over ``dirty``, then over the word), one neuron a cycle with no cycle between words, zeroing
each word as it reads it; the lanes end together, the drain taking max over lanes of crossings
+ 3 cycles. The bitmap is ceil(G npos / 32) words in LUT RAM where a FIFO of addresses would
take G npos words of block RAM (every neuron of a lane may cross in one step).

No memory is cleared between passes. Each lane has two valid bitmaps (32 words a bitmap word):
one bit per potential word, set by the op that writes it, and one per fire-time / fire-potential
word, set by the drain. CLEAR zeroes only the bitmaps (ceil(G npos / 32) cycles); every read
takes the bit with the word, and a word whose bit is clear reads as potential 0, fire time T
("never"), fire potential 0. The bitmaps are read-modify-written like the potentials (read in
the issue cycle through a port transparent to the write of the next), so back-to-back writes
into one bitmap word keep each other's bits.

Events are read ahead: the event memory is addressed with the next event's index as soon as
the current event's first rows issue, and the lanes' row-summary memories with that event's
channel the cycle after, so two cycles later the next event's live rows in every lane are known
and the current event's last op cycle issues each lane's first row with no cycle between them.
Otherwise FETCH issues them: one cycle after an event of one op cycle or at the start of a
step; an event without live rows in any lane costs one FETCH cycle and the event after it waits
one more.

Host side (only while ``busy`` is low): ``wr_*`` writes the event list, the weight, mask and
row-summary memories (the last three a lane's, ``wr_lane``), the map enables (``MEM_MAP_ON``, hw/channel_enable.py: a disabled map's
bits are cleared from the mask words as they are read, so it takes no lane operation) and the
window end (``MEM_WINDOW``, hw/window.py: the pass ends after step t_end - 1; both registers
are read back on ``map_on`` and ``t_end``); ``rd_*`` reads a lane's potential, fire time and fire potential one cycle
after the address is given; ``rd_fire_lanes`` / ``rd_vfire_lanes`` give every lane's fire time
and fire potential at ``rd_addr`` with the same latency (the outgoing unit's ports, hw/pool.py).
``syn`` lends the synapse memories while idle (``hw.common.synapse_port``: the STDP unit's access
in the core). ``start`` runs one pass; ``done`` pulses in its last cycle. With ``step_wait``
(learning), each step's drain is followed by HOLD, one cycle and then as long as ``hold`` is
high: the winner unit selects the step's winners while the lanes wait.
"""
from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.channel_enable import WORD_BITS as ENABLE_WORD_BITS
from hw.channel_enable import ChannelEnables
from hw.common import (bits, busy_and_cycles, const_mul, lend_synapses, skip_walk, skip_walk_bit,
                       small_memory, synapse_port)
from hw.window import WindowEnd
from cycles.layout import VALID_WORD_BITS, EngineLayout

MEM_EVENTS, MEM_WEIGHTS, MEM_MASKS, MEM_ROW_ANY, MEM_MAP_ON, MEM_WINDOW = range(6)

# Deliberate faults, for the tests that prove the co-simulation catches them. Never used otherwise.
FAULTS = {
    "ignore_pruning": "lanes walk every row of an event and every map of a row, pruned or not",
    "threshold_strict": "a neuron fires when its potential exceeds the threshold, not reaches it",
    "fire_time_late": "fire times are written to memory one time step late (the trace is right)",
    "stale_potentials": "the potential valid bit is ignored: a word not written this pass keeps "
                        "its value from the last pass",
    "stale_fire_times": "the fire valid bit is ignored: fire times and fire potentials not written "
                        "this pass read as left by the last pass",
    "ignore_enables": "lanes walk the maps of a row whatever the map enables say",
    "stalled_sequencer": "the sequencer never sees the next event ready (its enable removed): "
                         "no pass ever finishes",
}
# The faults that make a pass never finish: the bounded waits' tests (tests/sim/test_stall.py), not
# the comparison's.
STALLS = frozenset({"stalled_sequencer"})


def one_hot(word, index):
    """Bit ``index`` alone, as wide as ``word`` (a bitmap word's bit to set or clear)."""
    return Const(1, len(word)) << index


def event_layout(lay: EngineLayout) -> data.StructLayout:
    return data.StructLayout({"t": bits(lay.time_steps), "c": bits(lay.channels - 1),
                              "y": bits(lay.side_in - 1), "x": bits(lay.side_in - 1)})


def pack_event(lay: EngineLayout, t: int, c: int, y: int, x: int) -> int:
    """The word the host writes for one event (fields from the least significant bit)."""
    layout = event_layout(lay)
    word = 0
    for name, value in (("t", t), ("c", c), ("y", y), ("x", x)):
        field = layout[name]
        word |= value << field.offset
    return word


class IntegrateEngine(wiring.Component):
    def __init__(self, lay: EngineLayout, faults: frozenset[str] = frozenset()):
        try:
            unknown = set(faults) - set(FAULTS)
            if unknown:
                raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(FAULTS)}")
            self.lay, self.faults = lay.check(), frozenset(faults)
        except ValueError:
            self._MustUse__silence = True      # refused, not forgotten: no "unused" warning
            raise
        P, G = lay.lanes, lay.groups
        self.addr_w = bits(max(lay.rows * G, G * lay.npos, lay.max_events, lay.channels) - 1)
        tb, pb, ab = bits(lay.time_steps), lay.potential_bits, bits(G * lay.npos - 1)
        self.data_w = max(lay.weight_bits, G, lay.kernel ** 2, event_layout(lay).size,
                          min(lay.maps, ENABLE_WORD_BITS), tb)
        super().__init__({
            "start": In(1), "busy": Out(1), "done": Out(1),
            "threshold": In(pb), "n_events": In(bits(lay.max_events)),
            "wr_en": In(1), "wr_mem": In(3), "wr_lane": In(bits(P - 1)),
            "wr_addr": In(self.addr_w), "wr_data": In(self.data_w),
            "rd_lane": In(bits(P - 1)), "rd_addr": In(ab),
            "rd_pot": Out(pb), "rd_fire": Out(tb), "rd_vfire": Out(pb),
            "map_on": Out(lay.maps), "t_end": Out(tb),       # the policy registers, read back
            # every lane's fire time and potential at rd_addr (the outgoing unit's reads)
            "rd_fire_lanes": Out(data.ArrayLayout(tb, P)),
            "rd_vfire_lanes": Out(data.ArrayLayout(pb, P)),
            # the synapse memories, lent while idle (the STDP unit in the core)
            "syn": In(synapse_port(lay)),
            # learning: after each step's drain, wait while ``hold`` is high (the winner unit)
            "step_wait": In(1), "hold": In(1),
            # trace, stamped with ``cycle`` (0 = first cycle after start)
            "cycle": Out(32), "ops": Out(32), "op_cycles": Out(32),
            # a row's first op cycle in lane l: tr_row[l], its row tr_row_index[l] (the lanes
            # walk their own rows of event tr_event)
            "tr_row": Out(P), "tr_event": Out(bits(lay.max_events)),
            "tr_row_index": Out(data.ArrayLayout(bits(lay.rows - 1), P)),
            "tr_fire": Out(P), "tr_fire_addr": Out(data.ArrayLayout(ab, P)),
            "tr_fire_v": Out(data.ArrayLayout(pb, P)),
            "tr_step": Out(1), "tr_t": Out(tb), "tr_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        lay = self.lay
        P, G, npos, k, T = lay.lanes, lay.groups, lay.npos, lay.kernel, lay.time_steps
        so, pad = lay.side_out, lay.padding
        vmax = (1 << lay.potential_bits) - 1
        tb, pb, ab = bits(T), lay.potential_bits, bits(G * npos - 1)
        ev_lay = event_layout(lay)
        VW, vsh = VALID_WORD_BITS, VALID_WORD_BITS.bit_length() - 1
        # The crossing bitmap's words: 32 bits, or one word of the next power of two above
        # G npos on a smaller lane (fewer bits for the drain's walk; the count of words, and
        # every cycle, is the same either way).
        CW = min(VW, 1 << (G * npos - 1).bit_length())
        csh = CW.bit_length() - 1

        # -- memories ---------------------------------------------------------------------------
        def mem(name, width, depth, attrs=None):
            m.submodules[name] = mm = memory.Memory(shape=unsigned(width), depth=depth, init=[],
                                                    attrs=attrs)
            return mm

        events = mem("events", ev_lay.size, lay.max_events)
        ev_rd = events.read_port()
        host_writes = {MEM_EVENTS: events.write_port()}
        lanes = []
        for l in range(P):
            w = mem(f"weights{l}", lay.weight_bits, lay.rows * G)
            mk = mem(f"masks{l}", G, lay.rows)
            ra = mem(f"row_any{l}", k * k, lay.channels)      # the lane's row summaries
            pot = mem(f"pot{l}", pb, G * npos)
            fire = mem(f"fire{l}", tb, G * npos)
            vfire = mem(f"vfire{l}", pb, G * npos)
            # The valid bitmaps and the step's crossings are a few words: in LUT RAM, not a
            # block each (memory_libmap would take a block, its cost model counting the read
            # multiplexers of LUT RAM).
            pot_valid = mem(f"pot_valid{l}", VW, lay.valid_words, small_memory(platform))
            fire_valid = mem(f"fire_valid{l}", VW, lay.valid_words, small_memory(platform))
            crossed = mem(f"crossed{l}", CW, lay.valid_words, small_memory(platform))
            pot_wp, pv_wp, fv_wp = pot.write_port(), pot_valid.write_port(), fire_valid.write_port()
            cx_wp = crossed.write_port()
            w_wp, m_wp, ra_wp = w.write_port(), mk.write_port(), ra.write_port()
            lanes.append(dict(
                w_wp=w_wp, w_rd=w.read_port(transparent_for=(w_wp,)),
                m_wp=m_wp, m_rd=mk.read_port(transparent_for=(m_wp,)),
                ra_wp=ra_wp, ra_rd=ra.read_port(transparent_for=(ra_wp,)),
                pot_wp=pot_wp, pot_rd=pot.read_port(transparent_for=(pot_wp,)),
                pv_wp=pv_wp, pv_rd=pot_valid.read_port(transparent_for=(pv_wp,)),
                fv_wp=fv_wp, fv_rd=fire_valid.read_port(transparent_for=(fv_wp,)),
                pot_addr=Signal(ab, name=f"pot_addr{l}"), fv_addr=Signal(ab, name=f"fv_addr{l}"),
                pv_bit=Signal(vsh, name=f"pv_bit{l}"), fv_bit=Signal(vsh, name=f"fv_bit{l}"),
                pot_now=Signal(pb, name=f"pot_now{l}"), fire_now=Signal(tb, name=f"fire_now{l}"),
                vfire_now=Signal(pb, name=f"vfire_now{l}"),
                fire_wp=fire.write_port(), fire_rd=fire.read_port(),
                vfire_wp=vfire.write_port(), vfire_rd=vfire.read_port(),
                cx_wp=cx_wp, cx_rd=crossed.read_port(transparent_for=(cx_wp,)),
                dirty=Signal(lay.valid_words, name=f"dirty{l}"),
                head=Signal(ab, name=f"head{l}"),
                rem=Signal(G, name=f"rem{l}"), n_cross=Signal(ab + 1, name=f"n_cross{l}"),
                x_valid=Signal(name=f"x_valid{l}"), x_addr=Signal(ab, name=f"x_addr{l}"),
                d1_valid=Signal(name=f"d1_valid{l}"), d2_valid=Signal(name=f"d2_valid{l}"),
                d2_addr=Signal(ab, name=f"d2_addr{l}")))

        # -- host access ----------------------------------------------------------------------------
        for sel, wp in host_writes.items():
            m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data),
                         wp.en.eq(self.wr_en & (self.wr_mem == sel))]
        for l, ln in enumerate(lanes):
            mine = self.wr_en & (self.wr_lane == l)
            for wp, sel in ((ln["w_wp"], MEM_WEIGHTS), (ln["m_wp"], MEM_MASKS),
                            (ln["ra_wp"], MEM_ROW_ANY)):
                m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data),
                             wp.en.eq(mine & (self.wr_mem == sel))]
            m.d.comb += [ln["fire_rd"].addr.eq(self.rd_addr), ln["vfire_rd"].addr.eq(self.rd_addr),
                         self.rd_fire_lanes[l].eq(ln["fire_now"]),
                         self.rd_vfire_lanes[l].eq(ln["vfire_now"])]
        rd_lane = Signal.like(self.rd_lane)
        m.d.sync += rd_lane.eq(self.rd_lane)
        # The policy registers: map enables (applied to the mask words below), window end.
        m.submodules.channel_enables = enables = ChannelEnables(lay)
        m.submodules.window_end = window = WindowEnd(lay)
        for blk, sel in ((enables, MEM_MAP_ON), (window, MEM_WINDOW)):
            m.d.comb += [blk.we.eq(self.wr_en & (self.wr_mem == sel)), blk.data.eq(self.wr_data)]
        m.d.comb += [enables.addr.eq(self.wr_addr), self.map_on.eq(enables.enabled),
                     self.t_end.eq(window.t_end)]
        own = lend_synapses(m, self.syn, ~self.busy,
                            *([ln[key] for ln in lanes] for key in ("w_rd", "w_wp", "m_rd", "m_wp",
                                                                     "ra_rd", "ra_wp")))
        m.d.comb += [
            self.rd_pot.eq(Array(ln["pot_now"] for ln in lanes)[rd_lane]),
            self.rd_fire.eq(Array(ln["fire_now"] for ln in lanes)[rd_lane]),
            self.rd_vfire.eq(Array(ln["vfire_now"] for ln in lanes)[rd_lane]),
        ]

        # -- sequencer state --------------------------------------------------------------------------
        t = Signal(tb)
        e = Signal(bits(lay.max_events))    # the next event: read ahead while the rows run
        e_next = Signal.like(e)
        cur_e = Signal.like(e)              # the event being processed
        ev = Signal(ev_lay)                 # the event being processed (registered)
        counter = Signal(ab + 2)            # CLEAR bitmap address, DRAIN cycle
        depth = Signal(ab + 1)              # DRAIN: most crossings in any lane this step
        clearing, in_rows, draining = Signal(), Signal(), Signal()
        take, skip = Signal(), Signal()     # event e's first rows issued / event e has no live row
        final = Signal()                    # HOLD: the step just drained was the window's last
        m.d.comb += window.t.eq(t)
        m.d.comb += [self.tr_event.eq(cur_e), self.tr_t.eq(t)]

        # Prefetch: event e is read (address e_next) in the cycle e advances, its row summary the
        # cycle after; both read ports keep their address, so from the second cycle on (age 2)
        # the next event, its live rows inside the output and whether it ends the step are known.
        age = Signal(range(3))
        nxt = Signal(ev_lay)
        m.d.comb += [e_next.eq(Mux(take | skip, e + 1, e)), ev_rd.addr.eq(e_next),
                     nxt.eq(ev_rd.data), *(a.eq(nxt.c) for a in own["ra"])]
        m.d.sync += e.eq(e_next)
        with m.If(take | skip):
            m.d.sync += age.eq(1)
        with m.Elif(age != 2):
            m.d.sync += age.eq(age + 1)
        # The read data is registered as it comes (valid from age 1 on), and what the next
        # event's fields decide is computed from that register at age 2, not from the block
        # RAM's output (ECP5: 5.8 ns clock to out): its offsets inside the output, its time,
        # its output position base (y + pad) so + (x + pad) -- the row of offset (ky, kx) lands
        # on base - (ky so + kx). Only the offsets' table lookups (which ky keep the row
        # inside for this y, which kx for this x) are registered from the read data itself:
        # compared at age 2 they were a carry chain ahead of the issue logic.
        ready, step_end = Signal(), Signal()
        nxt_q = Signal(ev_lay)
        m.d.sync += nxt_q.eq(nxt)
        inside, nxt_t = Signal(k * k), Signal(tb)
        nxt_base = Signal(bits((so + 2 * pad) * so))
        keep = Array(Const(sum(1 << o for o in range(k) if 0 <= v + pad - o < so), k)
                     for v in range(lay.side_in))
        keep_y, keep_x = Signal(k), Signal(k)
        m.d.sync += [keep_y.eq(keep[nxt.y]), keep_x.eq(keep[nxt.x])]
        m.d.comb += inside.eq(Cat(keep_y[o // k] & keep_x[o % k] for o in range(k * k)))
        y_base = Array(Const((y + pad) * so + pad, len(nxt_base)) for y in range(lay.side_in))
        m.d.comb += [nxt_t.eq(nxt_q.t), nxt_base.eq(y_base[nxt_q.y] + nxt_q.x)]
        # the stalled_sequencer fault: the next event is never ready, so no pass finishes
        m.d.comb += [ready.eq(age == 2 if "stalled_sequencer" not in self.faults else 0),
                     step_end.eq((e == self.n_events) | (nxt_t != t))]
        ev_base = Signal.like(nxt_base)
        with m.If(take):
            m.d.sync += [ev.eq(nxt_q), cur_e.eq(e), ev_base.eq(nxt_base)]

        # Each lane walks its own rows of the event: its pending offsets, lowest first, issued
        # back to back; the lanes meet at the event's end (``last``), where each lane with live
        # rows in the next event issues its first (``take``). A lane's candidate row is chosen
        # by its ``pending`` alone (from the next event when it has none pending): the mask
        # word's read address does not wait for the lanes' decision, from the mask words just
        # read, that the rows are done (a block RAM -> logic -> block RAM address loop). When
        # the lane issues nothing, the address is unused.
        pos_off = Array(Const(o // k * so + o % k, bits(k * so)) for o in range(k * k))
        for l, ln in enumerate(lanes):
            ln["pend_n"] = pend_n = Signal(k * k, name=f"pend_n{l}")   # next event's live rows
            ln["pending"] = pending = Signal(k * k, name=f"pending{l}")  # rows not issued yet
            ln["issue"] = Signal(name=f"issue{l}")
            ln["first"] = Signal(name=f"first{l}")   # first op cycle of a row: mask from memory
            ln["row"] = Signal(bits(lay.rows - 1), name=f"row{l}")
            ln["pos"] = Signal(bits(npos - 1), name=f"pos{l}")
            ln["row_w"] = Signal(bits(lay.rows * G - 1), name=f"row_w{l}")   # row G: first word
            from_next, pend = Signal(name=f"from_next{l}"), Signal(k * k, name=f"pend{l}")
            summary = (Const((1 << k * k) - 1, k * k) if "ignore_pruning" in self.faults
                       else ln["ra_rd"].data)
            m.d.comb += [pend_n.eq(summary & inside), from_next.eq(pending == 0),
                         pend.eq(Mux(from_next, pend_n, pending))]
            offs = skip_walk_bit(m, pend, f"skip_offsets{l}")
            row_next = Signal.like(ln["row"], name=f"row_next{l}")
            pos_next = Signal.like(ln["pos"], name=f"pos_next{l}")
            m.d.comb += [row_next.eq(const_mul(Mux(from_next, nxt_q.c, ev.c), k * k) + offs),
                         own["m"][l].eq(row_next),
                         pos_next.eq(Mux(from_next, nxt_base, ev_base) - pos_off[offs])]
            m.d.sync += ln["first"].eq(ln["issue"])
            with m.If(ln["issue"]):
                m.d.sync += [ln["row"].eq(row_next), ln["pos"].eq(pos_next),
                             ln["row_w"].eq(const_mul(row_next, G)),
                             pending.eq(pend & ~(Const(1, k * k) << offs))]
            m.d.comb += [self.tr_row[l].eq(in_rows & ln["first"]), self.tr_row_index[l].eq(ln["row"])]
        has_rows = Signal()                 # the next event has live rows in some lane
        m.d.comb += has_rows.eq(Cat(*(ln["pend_n"] != 0 for ln in lanes)).any())

        # Per lane: issue stage (lowest bit of the mask word), exec stage (saturating add,
        # write back, threshold crossing into the bitmap), drain stages, memory port owners.
        lane_done, valids = [], []
        for l, ln in enumerate(lanes):
            m.d.comb += enables.masks[l].eq(ln["m_rd"].data)
        for l, ln in enumerate(lanes):
            word = Signal(G, name=f"word{l}")
            mask_word = ln["m_rd"].data if "ignore_enables" in self.faults else enables.gated[l]
            if "ignore_pruning" in self.faults:
                mask_word = Const(sum(1 << g for g in range(G) if g * P + l < lay.maps), G)
            m.d.comb += word.eq(Mux(ln["first"], mask_word, ln["rem"]))
            g, rest = skip_walk(m, word, f"skip_lane{l}")
            valid = Signal(name=f"valid{l}")
            op_addr = Signal(ab, name=f"op_addr{l}")
            rem_next = Signal(G, name=f"rem_next{l}")
            g_base = Array(Const(i * npos, ab) for i in range(G))
            m.d.comb += [valid.eq(in_rows & (word != 0)), op_addr.eq(g_base[g] + ln["pos"]),
                         rem_next.eq(rest),
                         own["w"][l].eq(ln["row_w"] + g)]
            # The lane's row ends in this cycle: it issues its next pending row, or it is done
            # with the event (and idles, its word empty, until the lanes meet).
            row_end = rem_next == 0
            m.d.comb += ln["issue"].eq((in_rows & row_end & (ln["pending"] != 0)) |
                                       (take & (ln["pend_n"] != 0)))
            lane_done.append(row_end & (ln["pending"] == 0))
            valids.append(valid)
            with m.If(in_rows):
                m.d.sync += ln["rem"].eq(rem_next)
            m.d.sync += [ln["x_valid"].eq(valid), ln["x_addr"].eq(op_addr)]

            # The words as this pass sees them: a clear valid bit means "not written this pass".
            # The bitmaps are addressed with the words' addresses (registered for the bit select).
            pv_rd, fv_rd = ln["pv_rd"], ln["fv_rd"]
            m.d.comb += [pv_rd.addr.eq(ln["pot_addr"] >> vsh), fv_rd.addr.eq(ln["fv_addr"] >> vsh)]
            m.d.sync += [ln["pv_bit"].eq(ln["pot_addr"][:vsh]), ln["fv_bit"].eq(ln["fv_addr"][:vsh])]
            pot_ok, fire_ok = Signal(name=f"pot_ok{l}"), Signal(name=f"fire_ok{l}")
            m.d.comb += [pot_ok.eq(1 if "stale_potentials" in self.faults
                                   else pv_rd.data.bit_select(ln["pv_bit"], 1)),
                         fire_ok.eq(1 if "stale_fire_times" in self.faults
                                    else fv_rd.data.bit_select(ln["fv_bit"], 1))]
            m.d.comb += [ln["pot_now"].eq(Mux(pot_ok, ln["pot_rd"].data, 0)),
                         ln["fire_now"].eq(Mux(fire_ok, ln["fire_rd"].data, T)),
                         ln["vfire_now"].eq(Mux(fire_ok, ln["vfire_rd"].data, 0))]

            # The read word and the weight are registered as they leave their memories (ECP5:
            # 5.8 ns clock to out), and the saturated sum is written in the cycle after (Y), with
            # the threshold test. The op just before, in Y as this one leaves its memory, writes
            # after this one's read: its sum is forwarded when the address is the same (ops two
            # apart meet at the read port's transparency). A clear valid bit reads as 0.
            w_now = Signal(max(pb, lay.weight_bits), name=f"w_now{l}")
            w_rd = ln["w_rd"].data
            m.d.comb += w_now.eq(Mux(w_rd > vmax, vmax, w_rd) if lay.weight_bits > pb else w_rd)
            y_valid, y_addr = Signal(name=f"y_valid{l}"), Signal(ab, name=f"y_addr{l}")
            y_pot, y_w = Signal(pb, name=f"y_pot{l}"), Signal.like(w_now, name=f"y_w{l}")
            y_sum, sat = Signal(pb + 1, name=f"y_sum{l}"), Signal(pb, name=f"sat{l}")
            forward = Signal(name=f"forward{l}")
            m.d.comb += [y_sum.eq(y_pot + y_w), sat.eq(Mux(y_sum[pb], vmax, y_sum[:pb])),
                         forward.eq(y_valid & (y_addr == ln["x_addr"]))]
            m.d.sync += [y_valid.eq(ln["x_valid"]), y_addr.eq(ln["x_addr"]), y_w.eq(w_now),
                         y_pot.eq(Mux(forward, sat, ln["pot_now"]))]
            # The threshold test, on the old potential and the sum (sat >= threshold is
            # sum >= threshold: the threshold is at most vmax); the crossing sets its bit in the
            # lane's crossing bitmap in Y (read-modify-write: the word was read in X through a
            # port transparent to the write of the op ahead) and its word's bit in ``dirty``
            # (STEP_END for the step's last op: ``most_next`` counts it there).
            cr = Signal(name=f"cr{l}")
            reached = (sat > self.threshold) if "threshold_strict" in self.faults else (y_sum >= self.threshold)
            m.d.comb += cr.eq(y_valid & (y_pot < self.threshold) & reached)
            ln["cr"] = cr
            cx_wp, cx_rd, dirty = ln["cx_wp"], ln["cx_rd"], ln["dirty"]
            with m.If(cr):
                m.d.sync += [ln["n_cross"].eq(ln["n_cross"] + 1),
                             dirty.eq(dirty | one_hot(dirty, y_addr >> csh))]

            # The drain walks the crossing bitmap in ascending address order: the lowest dirty
            # word is read (``pick``) when the word being walked gives its last bit, so the
            # next word's bits follow with no cycle between; a word is zeroed in the cycle its
            # bits arrive, and the bitmap is empty again when the drain ends. Each emitted
            # address is registered into ``head`` (the drain's addresses come from a register,
            # not from the walk's find-first-set): the lane's i-th crossing is in ``head`` at
            # DRAIN cycle i + 2 and written (d2) at i + 3.
            walk_w = Signal(bits(lay.valid_words - 1), name=f"walk_w{l}")   # the word walked
            walk_rest = Signal(CW, name=f"walk_rest{l}")     # its bits not emitted yet
            loaded = Signal(name=f"loaded{l}")               # its bits are on cx_rd.data
            word_now = Signal(CW, name=f"walk_word{l}")
            pick_w = skip_walk_bit(m, dirty, f"drain_word{l}")
            m.d.comb += word_now.eq(Mux(loaded, cx_rd.data, walk_rest))
            bit, rest = skip_walk(m, word_now, f"drain_bit{l}")
            emit, pick = Signal(name=f"emit{l}"), Signal(name=f"pick{l}")
            # (never past the drain's depth: a walk bounded by the count it ends with, should a
            # neuron cross twice in a step, the threshold changed under a running pass)
            m.d.comb += [emit.eq(draining & (word_now != 0) & (counter <= depth)),
                         pick.eq(draining & (rest == 0) & (dirty != 0)),
                         cx_rd.addr.eq(Mux(draining, pick_w, ln["x_addr"] >> csh))]
            with m.If(draining):
                m.d.sync += [loaded.eq(pick), walk_rest.eq(rest)]
            with m.If(pick):
                m.d.sync += [walk_w.eq(pick_w),
                             dirty.eq(dirty & ~one_hot(dirty, pick_w))]
            with m.If(emit):
                m.d.sync += ln["head"].eq(Cat(bit[:csh], walk_w)[:ab])
            with m.If(clearing):
                m.d.comb += [cx_wp.addr.eq(counter), cx_wp.data.eq(0), cx_wp.en.eq(1)]
            with m.Elif(draining):
                m.d.comb += [cx_wp.addr.eq(walk_w), cx_wp.data.eq(0), cx_wp.en.eq(loaded)]
            with m.Else():
                m.d.comb += [cx_wp.addr.eq(y_addr >> csh),
                             cx_wp.data.eq(cx_rd.data | one_hot(cx_rd.data, y_addr[:csh])),
                             cx_wp.en.eq(cr)]

            m.d.sync += [ln["d1_valid"].eq(emit),
                         ln["d2_valid"].eq(ln["d1_valid"]), ln["d2_addr"].eq(ln["head"])]
            m.d.comb += [self.tr_fire[l].eq(ln["d2_valid"]), self.tr_fire_addr[l].eq(ln["d2_addr"]),
                         self.tr_fire_v[l].eq(ln["pot_now"])]

            m.d.comb += [ln["pot_addr"].eq(Mux(in_rows, op_addr,
                                               Mux(draining, ln["head"], self.rd_addr))),
                         ln["pot_rd"].addr.eq(ln["pot_addr"]),
                         # the drain reads the fire bitmap in d1 and sets the bit in d2
                         ln["fv_addr"].eq(Mux(draining, ln["head"], self.rd_addr))]
            m.d.comb += [ln["pot_wp"].addr.eq(y_addr), ln["pot_wp"].data.eq(sat),
                         ln["pot_wp"].en.eq(y_valid),
                         ln["fire_wp"].addr.eq(ln["d2_addr"]),
                         ln["fire_wp"].data.eq(t + 1 if "fire_time_late" in self.faults else t),
                         ln["fire_wp"].en.eq(ln["d2_valid"]),
                         ln["vfire_wp"].addr.eq(ln["d2_addr"]),
                         ln["vfire_wp"].data.eq(ln["pot_now"]),
                         ln["vfire_wp"].en.eq(ln["d2_valid"])]
            pv_wp, fv_wp = ln["pv_wp"], ln["fv_wp"]
            with m.If(clearing):
                m.d.comb += [pv_wp.addr.eq(counter), pv_wp.data.eq(0), pv_wp.en.eq(1),
                             fv_wp.addr.eq(counter), fv_wp.data.eq(0), fv_wp.en.eq(1)]
            with m.Else():
                m.d.comb += [pv_wp.addr.eq(ln["x_addr"] >> vsh),
                             pv_wp.data.eq(pv_rd.data | one_hot(pv_rd.data, ln["x_addr"][:vsh])),
                             pv_wp.en.eq(ln["x_valid"]),
                             fv_wp.addr.eq(ln["d2_addr"] >> vsh),
                             fv_wp.data.eq(fv_rd.data | one_hot(fv_rd.data, ln["d2_addr"][:vsh])),
                             fv_wp.en.eq(ln["d2_valid"])]
        last = Cat(*lane_done).all()        # every lane's rows of the event are done
        # Most crossings in any lane this step, kept as they are found: each lane grows by
        # at most one a cycle, so the deepest grows when one of its lanes does.
        most, most_next = Signal.like(depth), Signal.like(depth)
        m.d.comb += most_next.eq(most + Cat(*(ln["cr"] & (ln["n_cross"] == most) for ln in lanes)).any())
        m.d.sync += most.eq(most_next)

        # -- the sequencer ------------------------------------------------------------------------------
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.cycle.eq(0), self.ops.eq(0), self.op_cycles.eq(0),
                                 counter.eq(0), t.eq(0), age.eq(1)]
                    m.d.sync += [most.eq(0), *(ln["n_cross"].eq(0) for ln in lanes),
                                 *(ln["dirty"].eq(0) for ln in lanes)]
                    m.d.comb += e_next.eq(0)        # event 0 is read in the start cycle
                    m.next = "CLEAR"
            with m.State("CLEAR"):
                m.d.comb += clearing.eq(1)
                m.d.sync += counter.eq(counter + 1)
                with m.If(counter == lay.valid_words - 1):
                    m.d.sync += counter.eq(0)
                    m.next = "FETCH"
            with m.State("FETCH"):             # wait for the next event; skip it if it has no row
                with m.If(ready & step_end):
                    m.next = "STEP_END"
                with m.Elif(ready & ~has_rows):
                    m.d.comb += skip.eq(1)
                with m.Elif(ready):
                    m.d.comb += take.eq(1)
                    m.next = "ROWS"
            with m.State("STEP_END"):          # the last op's crossing is counted (most_next)
                m.d.sync += [counter.eq(0), depth.eq(most_next)]
                m.next = "DRAIN"
            with m.State("ROWS"):
                m.d.comb += in_rows.eq(1)
                m.d.sync += [self.op_cycles.eq(self.op_cycles + 1),
                             self.ops.eq(self.ops + sum(valids))]
                with m.If(last):
                    with m.If(ready & ~step_end & has_rows):
                        m.d.comb += take.eq(1)      # the next event, no gap
                    with m.Else():
                        m.next = "FETCH"
            with m.State("DRAIN"):
                m.d.comb += draining.eq(1)
                m.d.sync += counter.eq(counter + 1)
                with m.If(counter == depth + 2):
                    m.d.comb += self.tr_step.eq(1)
                    m.d.sync += [t.eq(t + 1), counter.eq(0)]
                    m.d.sync += [most.eq(0), *(ln["n_cross"].eq(0) for ln in lanes)]
                    m.d.sync += final.eq(window.last)
                    with m.If(self.step_wait):
                        m.next = "HOLD"
                    with m.Elif(window.last):
                        m.next = "DONE"
                    with m.Else():
                        m.next = "FETCH"
            with m.State("HOLD"):               # at least one cycle: ``hold`` rises in it
                with m.If(~self.hold):
                    with m.If(final):
                        m.next = "DONE"
                    with m.Else():
                        m.next = "FETCH"
            with m.State("DONE"):
                m.d.comb += [self.done.eq(1), self.tr_done.eq(1)]
                m.next = "IDLE"
        busy_and_cycles(m, fsm, self.busy, self.cycle)
        return m
