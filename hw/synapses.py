"""SynapseMemories: one layer's weights, mask words and row summaries (each lane's own) for a
borrower without an integrate engine, i.e. the STDP unit tested on its own.

In the core the integrate engine owns these memories and lends them to the STDP unit while idle
(``hw.common.synapse_port``); this block lends them the same way, always, and adds the host's
write and read ports (the same codes and timing as the engine's: a read one cycle after its
address).
"""
from amaranth import Array, Const, Module, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits, lend_synapses, synapse_port
from cycles.layout import EngineLayout

MEM_WEIGHTS, MEM_MASKS, MEM_ROW_ANY = range(3)


class SynapseMemories(wiring.Component):
    def __init__(self, lay: EngineLayout, addr_w: int, data_w: int, mem_w: int):
        self.lay = lay
        P, G = lay.lanes, lay.groups
        super().__init__({
            "syn": In(synapse_port(lay)),
            "wr_en": In(1), "wr_mem": In(mem_w), "wr_lane": In(bits(P - 1)),
            "wr_addr": In(addr_w), "wr_data": In(data_w),
            "rd_lane": In(bits(P - 1)), "rd_addr": In(addr_w),
            "rd_weight": Out(lay.weight_bits), "rd_mask": Out(G), "rd_row_any": Out(lay.kernel ** 2),
        })

    def elaborate(self, platform):
        m = Module()
        lay = self.lay
        P, G, rows = lay.lanes, lay.groups, lay.rows

        def mem(name, width, depth):
            m.submodules[name] = mm = memory.Memory(shape=unsigned(width), depth=depth, init=[])
            return mm

        weights = [mem(f"weights{l}", lay.weight_bits, rows * G) for l in range(P)]
        masks = [mem(f"masks{l}", G, rows) for l in range(P)]
        row_any = [mem(f"row_any{l}", lay.kernel ** 2, lay.channels) for l in range(P)]
        w_wp = [w.write_port() for w in weights]
        m_wp = [mk.write_port() for mk in masks]
        ra_wp = [ra.write_port() for ra in row_any]
        for (sel, ports) in ((MEM_WEIGHTS, w_wp), (MEM_MASKS, m_wp), (MEM_ROW_ANY, ra_wp)):
            for l, wp in enumerate(ports):
                m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data),
                             wp.en.eq(self.wr_en & (self.wr_mem == sel) & (self.wr_lane == l))]
        lent = []
        for memories, wps in ((weights, w_wp), (masks, m_wp), (row_any, ra_wp)):
            lent += [[mm.read_port(transparent_for=(wp,)) for mm, wp in zip(memories, wps)], wps]
        own = lend_synapses(m, self.syn, Const(1), *lent)
        m.d.comb += [a.eq(0) for addrs in own.values() for a in addrs]

        rd_lane = Signal.like(self.rd_lane)
        m.d.sync += rd_lane.eq(self.rd_lane)
        w_host = [w.read_port() for w in weights]
        m_host = [mk.read_port() for mk in masks]
        ra_host = [ra.read_port() for ra in row_any]
        m.d.comb += [self.rd_row_any.eq(Array(p.data for p in ra_host)[rd_lane]),
                     self.rd_weight.eq(Array(p.data for p in w_host)[rd_lane]),
                     self.rd_mask.eq(Array(p.data for p in m_host)[rd_lane])]
        for p in w_host + m_host + ra_host:
            m.d.comb += p.addr.eq(self.rd_addr)
        return m
