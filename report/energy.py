"""Energy estimate of one image: counted operations times per-operation energies.

Per-operation energies (``ENERGY_PJ``) are from M. Horowitz, "Computing's energy problem (and
what we can do about it)", ISSCC 2014, 45 nm CMOS at 0.9 V:

* integer add: 8 bit 0.03 pJ, 32 bit 0.1 pJ; integer multiply: 8 bit 0.2 pJ, 32 bit 3.1 pJ;
* SRAM read of a 64-bit word from an 8 KB array: 10 pJ. Every lane memory of the default
  network is at most about 8 KB (conv2's weights: 750 rows x 10 groups x 8 bit = 7.5 KB per
  lane), so memory accesses are priced per bit at 10 / 64 pJ (first-order scaling with the word
  width: our assumption), and a write as a read (Horowitz gives reads only: our assumption).

Operations on potentials (18 bit in the default config) are priced as 32-bit adds, a comparison
as an add of its width (a comparator is a subtractor). Static power, clocking and control are not
counted: this is the dynamic energy of the datapath and its memories, for comparing dense with
pruned, not an absolute figure for a chip.

What is counted, per pass (the pass results of ``cycles.image``):

* integrate engine: per input event one event-word read and one row-summary read (k^2 bits); per
  row visited one mask word (G bits) in each lane; per synaptic operation (``PassResult.ops``) a
  weight read, a potential read, an add, a threshold compare and a potential write, and the
  read and write of its valid-bitmap word (32 bits); per fire a potential read, the fire-potential
  and fire-time writes and its fire valid-bitmap word read and written; the clear phase writes
  the two valid bitmaps (ceil(G npos / 32) words of 32 bits per lane each, hw/integrate.py).
* outgoing unit: each fire reads and writes a word of its lane's fired-position bitmap (32
  bits); phase A reads and clears every lane's bitmap words and, at each fired position, reads
  every lane's fire-time and fire-potential words (G per lane) with two compares each and
  writes one survivor (map, t); phase B reads the S^2 survivors of each window holding a fired
  position and writes "no spike" back (counted for every cell read); each event costs a link
  write, a link read (links of ceil(log2(max events + 1)) bits) and an event-memory write.
* winner unit: each fire (potential and address) is written into its lane's buffer; each busy
  cycle reads one entry per lane and compares it with the k winner registers and the running
  best: k + 1 potential-width compares per lane. On a layer with pointwise inhibition the
  learning step runs the outgoing unit's phase A as above instead, and the unit's entries are
  the survivors (potential, map, time, row and column).
* STDP unit: per walk a winner read and NW live-row words of 32 bits; per weight update a weight
  read, a pre-spike-time read, the hash (two 32-bit multiplies: MurmurHash3's fmix32), the rule
  (q (2^W - q) an 8-bit multiply, times the rate a 32-bit multiply, the rounding add and
  q +- dq as 32-bit adds), the prune compare (8 bit) and the weight write; a prune writes a mask
  word.
"""
from __future__ import annotations

from collections import Counter

from cycles.image import ImageCycles, LayerPasses, LearnPasses
from cycles.layout import FIRED_WORD_BITS, VALID_WORD_BITS

ENERGY_PJ = {
    "mem_bit": 10.0 / 64,   # SRAM 8 KB: a 64-bit read is 10 pJ; per bit, reads and writes
    "add32": 0.1,           # 32-bit integer add; potential-width adds and compares
    "add8": 0.03,           # 8-bit integer add; weight-width compares
    "mul8": 0.2,            # 8-bit integer multiply
    "mul32": 3.1,           # 32-bit integer multiply
}
SOURCE = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", "
          "ISSCC 2014, 45 nm CMOS, 0.9 V")


def bits(n: int) -> int:
    """Bits of an unsigned field holding 0 .. n (at least 1)."""
    return max(1, int(n).bit_length())


def count_inference(lp: LayerPasses) -> Counter:
    """Operations of one layer's inference passes: its integrate pass and its outgoing unit."""
    lay, ip = lp.layout, lp.integrate
    pb, tb = lay.potential_bits, bits(lay.time_steps)
    ev_bits = tb + bits(lay.channels - 1) + 2 * bits(lay.side_in - 1)
    c = Counter()
    c["mem_bit"] += lp.events_in * (ev_bits + lay.lanes * lay.kernel ** 2)   # + each lane's summary
    c["mem_bit"] += lp.lane_rows * lay.groups                               # a lane's mask word a row
    c["mem_bit"] += ip.ops * (lay.weight_bits + 2 * pb + 2 * VALID_WORD_BITS)
    c["add32"] += 2 * ip.ops
    c["mem_bit"] += lp.fires * (2 * pb + tb + 2 * VALID_WORD_BITS)
    c["mem_bit"] += 2 * lay.valid_words * VALID_WORD_BITS * lay.lanes         # clear: bitmaps
    if lp.outgoing is not None:
        pl, n = lp.pool, len(lp.outgoing.events)
        survivor = bits(lay.maps - 1) + tb
        link = bits(pl.max_pooled)
        ev_next = tb + bits(lay.maps - 1) + 2 * bits(pl.side - 1)
        c.update(count_inhibition(lay, lp.outgoing, lp.fires))              # phase A
        c["mem_bit"] += len(lp.outgoing.stream) * survivor                 # survivors written
        c["mem_bit"] += 2 * lp.outgoing.windows * pl.cells * survivor      # phase B
        c["mem_bit"] += n * (2 * link + ev_next)                           # lists and events
    return c


def count_inhibition(lay, out, fires: int) -> Counter:
    """The outgoing unit's phase A (``out``: its ``cycles.pool`` result; ``fires``: the pass's):
    the fired-position bitmap set by each fire (a word read and written), read and cleared;
    every lane's fire-time and fire-potential words at each fired position, two compares each."""
    tb, fired = bits(lay.time_steps), len(out.stream)
    words = lay.groups * fired * lay.lanes
    bitmap = (2 * fires + 2 * -(-lay.npos // FIRED_WORD_BITS) * lay.lanes) * FIRED_WORD_BITS
    return Counter(mem_bit=words * (tb + lay.potential_bits) + bitmap, add32=2 * words)


def count_learning(lp: LayerPasses, learn: LearnPasses) -> Counter:
    """Operations a learning step adds to the layer's integrate pass: the inhibition phase
    (layers with pointwise inhibition), winner and STDP units."""
    lay = lp.layout
    pb, tb, wb = lay.potential_bits, bits(lay.time_steps), lay.weight_bits
    c = Counter()
    if learn.inhibition is not None:                                      # survivor mode
        entry = pb + bits(lay.maps - 1) + tb + 2 * bits(lay.side_out - 1)
        c.update(count_inhibition(lay, learn.inhibition, lp.fires))
    else:
        entry = pb + bits(lay.groups * lay.npos - 1)
    c["mem_bit"] += learn.winner.entries * entry                           # winner buffers
    c["mem_bit"] += learn.winner.cycles * lay.lanes * entry
    c["add32"] += learn.winner.cycles * lay.lanes * (learn.k + 1)
    ops, walks = learn.stdp_ops, len(learn.winner.winners)
    c["mem_bit"] += walks * (bits(lay.maps - 1) + 2 * bits(lay.side_out - 1) + tb)
    c["mem_bit"] += walks * lay.map_words * 32
    c["mem_bit"] += ops * (2 * wb + tb)
    c["mul32"] += ops * 3
    c["mul8"] += ops
    c["add32"] += ops * 2
    c["add8"] += ops
    pruned = sum(1 for r in learn.stdp.trace if r[1] == "op" and r[6])
    c["mem_bit"] += pruned * lay.groups
    return c


def energy_pj(counts: Counter) -> float:
    """Dynamic energy in pJ of a set of counted operations."""
    unknown = set(counts) - set(ENERGY_PJ)
    if unknown:
        raise KeyError(f"operations {sorted(unknown)} have no energy; known: {sorted(ENERGY_PJ)}")
    return float(sum(n * ENERGY_PJ[op] for op, n in counts.items()))


def image_counts(ic: ImageCycles) -> dict:
    """Counted operations of one image: ``inference`` (all layers) and ``learning`` per layer
    (as ``ImageCycles.learning``: the layers below, the layer's own pass, winner and STDP)."""
    inf = [count_inference(lp) for lp in ic.layers]
    out = {"inference": sum(inf, Counter()), "learning": {}}
    for i, learn in ic.learn.items():
        lp = ic.layers[i]     # learning runs the layer's integrate pass, not its outgoing unit
        own = count_inference(LayerPasses(lp.layout, lp.integrate, None, None, lp.events_in))
        out["learning"][i] = sum(inf[:i], Counter()) + own + count_learning(lp, learn)
    return out
