"""ChannelEnables: the per-map enable register and the gate that applies it to the lanes' mask
words, a block of its own so that synthesis that keeps the hierarchy counts it
(boards/resources.py: ``channel_enable_overhead``).

Structured pruning (SCA and Chowdhury et al. 2021, ``model.network.Network.channel_on``) switches whole maps
off: a disabled map takes no lane operation, so it never fires, wins or learns. The mask memory
is left as it is, so enabling the map again restores it exactly. The register holds one bit per
map (reset: every map on), written by the host in 32-map words (word j: maps 32 j .. 32 j + 31,
bit f mod 32); the gate ANDs lane l's mask word (bit g: map g P + l) with the enables of its
maps, where the integrate engine reads the word (hw/integrate.py), in inference and learning.
The row summaries are not gated: a row whose live maps are all disabled is still visited, for
one empty op cycle (``cycles.integrate.integrate_pass`` predicts it).
"""
from amaranth import Cat, Const, Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits
from cycles.layout import EngineLayout

WORD_BITS = 32          # maps per host word


def enable_words(maps: int) -> int:
    """Host words of the register of a layer of ``maps`` maps."""
    return -(-maps // WORD_BITS)


class ChannelEnables(wiring.Component):
    def __init__(self, lay: EngineLayout):
        self.lay = lay
        P, G = lay.lanes, lay.groups
        super().__init__({
            "we": In(1), "addr": In(bits(enable_words(lay.maps) - 1)), "data": In(WORD_BITS),
            "enabled": Out(lay.maps, init=(1 << lay.maps) - 1),      # the register (read-back)
            "masks": In(data.ArrayLayout(G, P)),                    # the lanes' words as read
            "gated": Out(data.ArrayLayout(G, P)),                   # ... of the enabled maps
        })

    def elaborate(self, platform):
        m = Module()
        F, P, G = self.lay.maps, self.lay.lanes, self.lay.groups
        on = self.enabled
        with m.If(self.we):
            with m.Switch(self.addr):
                for j in range(enable_words(F)):
                    with m.Case(j):
                        lo, hi = j * WORD_BITS, min(F, (j + 1) * WORD_BITS)
                        m.d.sync += on[lo:hi].eq(self.data[:hi - lo])
        for l in range(P):
            lane_on = Cat(on[g * P + l] if g * P + l < F else Const(0, 1) for g in range(G))
            m.d.comb += self.gated[l].eq(self.masks[l] & lane_on)
        return m
