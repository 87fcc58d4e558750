"""PruneCheck: the pruning rule of the STDP unit, as a block of its own so that synthesis that
keeps the hierarchy counts its logic (boards/resources.py: ``pruning_overhead``).

In the exec cycle of an STDP op (hw/stdp_unit.py) it decides whether the new weight prunes the
connection (``check`` or ``sweep`` set, and ``q_next < threshold``) and gives the words the unit
writes back when it does: the lane's mask word without bit ``g``, the map's live-row word
without bit ``row_bit``, the lane's row summary of the channel without bit ``ky k + kx``, and
``row_dead``, set when the lane keeps no live connection in the row (its mask word as
rewritten is empty), so the lane's summary bit goes with the lane's last connection of the row.
"""
from amaranth import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits, mux_tree
from cycles.layout import EngineLayout

# Deliberate faults, for the test that proves the formal check catches them (sim/formal.py,
# tests/sim/test_formal.py). Never used otherwise.
FAULTS = {
    "prune_at_threshold": "a weight equal to the threshold is pruned too (q_next <= threshold)",
}


class PruneCheck(wiring.Component):
    def __init__(self, lay: EngineLayout, faults: frozenset[str] = frozenset()):
        unknown = set(faults) - set(FAULTS)
        if unknown:
            self._MustUse__silence = True      # refused, not forgotten: no "unused" warning
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(FAULTS)}")
        self.lay, self.faults = lay, frozenset(faults)
        P, G, k = lay.lanes, lay.groups, lay.kernel
        super().__init__({
            "valid": In(1), "check": In(1), "sweep": In(1),
            "q_next": In(lay.weight_bits), "threshold": In(lay.weight_bits),
            "lane": In(bits(P - 1)), "g": In(bits(G - 1)),
            "masks": In(data.ArrayLayout(G, P)),        # every lane's mask word of the row
            "row_word": In(32), "row_bit": In(5),       # the map's live-row word, the row's bit
            "row_any": In(data.ArrayLayout(k * k, P)),   # every lane's row summary of the channel
            "ky": In(bits(k - 1)), "kx": In(bits(k - 1)),
            "prune": Out(1), "mask": Out(G), "row_word_next": Out(32),
            "row_any_next": Out(k * k), "row_dead": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        P, G, k = self.lay.lanes, self.lay.groups, self.lay.kernel
        # One-hot decodes of the bit positions rather than shifts, and no ky k + kx product
        # (which synth_ecp5 put in a DSP block): each cleared bit is then a small AND. A kernel
        # of fewer than 32 rows has one live-row word per map and row_bit < rows: the bits
        # above pass through.
        row_hot = Signal(32)
        off_hot = Signal(k * k)
        m.d.comb += [row_hot.eq(Cat(self.row_bit == i for i in range(min(32, self.lay.rows)))),
                     off_hot.eq(Cat((self.ky == o // k) & (self.kx == o % k) for o in range(k * k)))]
        # The row is dead in the lane when the lane's word as rewritten is empty.
        below = ((self.q_next <= self.threshold) if "prune_at_threshold" in self.faults
                 else (self.q_next < self.threshold))
        mask_word, summary = Signal(G), Signal(k * k)
        m.d.comb += [mask_word.eq(mux_tree(self.lane, [self.masks[l] for l in range(P)])),
                     summary.eq(mux_tree(self.lane, [self.row_any[l] for l in range(P)]))]
        m.d.comb += [
            self.prune.eq(self.valid & (self.check | self.sweep) & below),
            self.mask.eq(mask_word & ~Cat(self.g == j for j in range(G))),
            self.row_dead.eq(self.mask == 0),
            self.row_word_next.eq(self.row_word & ~row_hot),
            self.row_any_next.eq(summary & ~off_hot),
        ]
        return m
