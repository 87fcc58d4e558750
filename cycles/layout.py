"""The generator's parameter objects: the sizes of a layer on the core, shared by the hardware
(hw/) and the cycle models (cycles/), with the constants of the pipelines they both follow.

``EngineLayout``: one layer on the integrate engine (and the winner and STDP units), lane l owns
maps f = g P + l; a row is a kernel position ``(c k + ky) k + kx``; lane memories are addressed
``row G + g`` (weights), ``row`` (mask word, bit g) and ``g npos + pos`` (potentials, fire times,
potentials at fire). ``PoolLayout``: the outgoing unit's (pointwise inhibition, pooling).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.config import Config

MAX_ADDRESS_BITS = 20        # deepest memory the generator accepts: 2^20 words per lane
MAX_LANES = 64
STDP_EXEC = 6                # STDP unit: an op's exec (write, trace) cycle after its issue
VALID_WORD_BITS = 32         # potential / fire-time words marked per valid-bitmap word
FIRED_WORD_BITS = 32         # positions per word of the outgoing unit's fired-position bitmap


# Inhibition's cycles after the walk's last: the position's last read issued from its register,
# the lanes' words registered, the tree over the lanes, the survivor written.
A_FLUSH = 4
# Pooling's cycles after the last window's reads: the last survivor registered, the window
# latched, its representatives' slots (S2 of them, counted with the window), the last insert.
B_FLUSH = 3


class HardwareConfigError(ValueError):
    """A layer the core cannot hold; the message says which limit and by how much."""



@dataclass(frozen=True)
class EngineLayout:
    """Sizes of one layer on the integrate engine (generator parameters of hw/integrate.py)."""
    maps: int            # F
    channels: int        # C
    kernel: int          # k
    padding: int
    side_in: int         # input side S
    time_steps: int      # T
    lanes: int           # P
    weight_bits: int
    potential_bits: int
    max_events: int

    @property
    def side_out(self) -> int:
        return self.side_in + 2 * self.padding - self.kernel + 1

    @property
    def npos(self) -> int:
        return self.side_out ** 2

    @property
    def groups(self) -> int:
        return -(-self.maps // self.lanes)

    @property
    def rows(self) -> int:
        return self.channels * self.kernel ** 2

    @property
    def valid_words(self) -> int:
        """Words of each lane's valid bitmaps: the cycles of the CLEAR phase."""
        return -(-self.groups * self.npos // VALID_WORD_BITS)

    def check(self) -> "EngineLayout":
        """Refuse what the hardware cannot hold, naming the limit."""
        if not 1 <= self.lanes <= min(MAX_LANES, self.maps):
            raise HardwareConfigError(f"lanes = {self.lanes}: must be 1 .. min({MAX_LANES}, maps = "
                                      f"{self.maps})")
        for name, depth in (("weight", self.rows * self.groups), ("potential", self.groups * self.npos),
                            ("event", self.max_events)):
            if depth > 1 << MAX_ADDRESS_BITS:
                raise HardwareConfigError(
                    f"the {name} memory needs {depth} words per lane, more than the "
                    f"{1 << MAX_ADDRESS_BITS} a {MAX_ADDRESS_BITS}-bit address reaches; "
                    "use more lanes or a smaller layer")
        if self.potential_bits > 32 or self.weight_bits > 16:
            raise HardwareConfigError(f"potential_bits = {self.potential_bits}, weight_bits = "
                                      f"{self.weight_bits}: the datapath holds at most 32 and 16")
        return self

    def check_formats(self, formats) -> "EngineLayout":
        """Refuse STDP formats of another weight width than the layout's (the layer's own)."""
        if formats.weight_bits != self.weight_bits:
            raise HardwareConfigError(
                f"formats.weight_bits = {formats.weight_bits}, but the layer's layout has "
                f"weight_bits = {self.weight_bits}: build its formats with "
                "Formats.from_config(cfg, layer)")
        return self

    @classmethod
    def from_config(cls, cfg: Config, layer: int, lanes: int, side_in: int, channels: int,
                    max_events: int | None = None) -> "EngineLayout":
        lc = cfg.layers[layer]
        return cls(lc.maps, channels, lc.kernel, lc.padding, side_in, cfg.input.time_steps, lanes,
                   cfg.weight_bits(layer), cfg.formats.potential_bits,
                   max_events or input_events(cfg, layer, side_in, channels))

    @classmethod
    def for_input(cls, cfg: Config, layer: int, lanes: int, times_in: np.ndarray) -> "EngineLayout":
        """The layout of layer ``layer`` for inputs shaped like ``times_in`` ((B,) C, S, S)."""
        return cls.from_config(cfg, layer, lanes, side_in=times_in.shape[-1],
                               channels=times_in.shape[-3])

    # -- memory images: the model's arrays in the lanes' layout --------------------------------
    def lane_weights(self, weights: np.ndarray) -> np.ndarray:
        """(F, C, k, k) -> (P, rows * G): word row G + g of lane l is weight (g P + l, row)."""
        w = np.zeros((self.groups * self.lanes, self.rows), dtype=np.int64)
        w[:self.maps] = weights.reshape(self.maps, self.rows)
        return w.reshape(self.groups, self.lanes, self.rows).transpose(1, 2, 0).reshape(self.lanes, -1)

    def lane_masks(self, active: np.ndarray) -> np.ndarray:
        """(F, C, k, k) live connections -> (P, rows) mask words, bit g for map g P + l."""
        a = np.zeros((self.groups * self.lanes, self.rows), dtype=np.int64)
        a[:self.maps] = active.reshape(self.maps, self.rows)
        a = a.reshape(self.groups, self.lanes, self.rows)
        return (a << np.arange(self.groups)[:, None, None]).sum(axis=0)

    def row_any(self, masks: np.ndarray) -> np.ndarray:
        """(C,) words of k*k bits: bit (ky k + kx) set when row (c, ky, kx) has a live connection."""
        return np.bitwise_or.reduce(self.lane_rows(masks), axis=0)

    def lane_rows(self, masks: np.ndarray) -> np.ndarray:
        """(P, rows) mask words -> (P, C) row summaries of k*k bits: bit (ky k + kx) of lane l's
        word c set when lane l's mask word of row (c, ky, kx) is not empty (the rows the lane
        walks)."""
        live = (masks != 0).reshape(self.lanes, self.channels, self.kernel ** 2)
        return (live.astype(np.int64) << np.arange(self.kernel ** 2)).sum(axis=2)

    @property
    def map_words(self) -> int:
        """32-row words per map in the STDP unit's live-row bitmap."""
        return -(-self.rows // 32)

    def map_rows(self, active: np.ndarray) -> np.ndarray:
        """(F, C, k, k) live connections -> (F * NW,) words: bit row mod 32 of word f NW + row div 32."""
        a = np.zeros((self.maps, self.map_words * 32), dtype=np.int64)
        a[:, :self.rows] = active.reshape(self.maps, self.rows)
        a = a.reshape(self.maps, self.map_words, 32)
        return (a << np.arange(32)).sum(axis=2).reshape(-1)

    def events(self, times: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Input spike times (C, S, S) -> the event list (t, c, y, x), by time, then (c, y, x);
        refused when there are more than the event memory holds (``max_events``)."""
        t, c, y, x = times.ravel(), *np.unravel_index(np.arange(times.size), times.shape)
        live = t < self.time_steps
        if live.sum() > self.max_events:
            raise HardwareConfigError(
                f"{int(live.sum())} input spikes, more than the {self.max_events} the layer's event "
                "memory holds (max_events, the most a pass can get: cycles.layout.input_events); "
                "the input breaks that bound")
        order = np.argsort(t[live], kind="stable")
        return [tuple(int(v) for v in e) for e in
                np.stack([t[live], c[live], y[live], x[live]], axis=1)[order]]

    def to_lanes(self, nchw: np.ndarray, fill) -> np.ndarray:
        """(F, So, So) model array -> (P, G npos) lane memories (maps past F read as ``fill``)."""
        a = np.full((self.groups * self.lanes, self.npos), fill, dtype=np.int64)
        a[:self.maps] = nchw.reshape(self.maps, self.npos)
        return a.reshape(self.groups, self.lanes, self.npos).transpose(1, 0, 2).reshape(self.lanes, -1)


def input_events(cfg: Config, layer: int, side_in: int, channels: int) -> int:
    """The most input events one pass of ``layer`` can get (the depth of its event memory), for
    an input of ``channels`` x ``side_in``^2 neurons, each spiking at most once (TTFS).

    * Layer 0: every input neuron may spike, C side^2. (The DoG encoder spikes a pixel on or
      off, never both, but the engine takes any spike-time input: tests drive every input.)
    * After a layer with pointwise inhibition, at most one spike per position survives; its
      pooling turns a window's survivors (at most s^2, of distinct maps or not) into at most
      one event per map: min(C, s^2) per window of the pooled side (``PoolLayout.max_pooled``).
      Without pooling, one per position: side^2.
    * Otherwise every input neuron may spike: C side^2.
    """
    prev = cfg.layers[layer - 1] if layer > 0 else None
    if prev is not None and prev.pointwise_inhibition:
        per_position = min(channels, prev.pool.size ** 2) if prev.pool.size > 0 else 1
        return per_position * side_in ** 2
    return channels * side_in ** 2


@dataclass(frozen=True)
class PoolLayout:
    """Generator parameters of the outgoing unit: the layer's engine layout and its pooling."""
    lay: EngineLayout
    size: int               # s
    stride: int
    inhibition: bool        # pointwise inhibition before pooling

    @classmethod
    def from_config(cls, lay: EngineLayout, lc) -> "PoolLayout":
        """``lc``: the layer's config (``pointwise_inhibition``, ``pool.size``, ``pool.stride``)."""
        return cls(lay, lc.pool.size, lc.pool.stride, bool(lc.pointwise_inhibition)).check()

    @property
    def side(self) -> int:
        """Sp: side of the pooled output (the next layer's input side)."""
        return (self.lay.side_out - self.size) // self.stride + 1

    @property
    def windows(self) -> int:
        return self.side ** 2

    @property
    def cells(self) -> int:
        return self.size ** 2

    @property
    def buckets(self) -> int:
        return self.lay.time_steps * self.lay.maps

    @property
    def fired_words(self) -> int:
        """Words of the outgoing unit's fired-position bitmap (each lane's copy)."""
        return -(-self.lay.npos // FIRED_WORD_BITS)

    @property
    def max_pooled(self) -> int:
        """Most events one pass can produce: per window, one per distinct surviving map."""
        return self.windows * min(self.lay.maps, self.cells)

    @property
    def max_events(self) -> int:
        """Depth of the next layer's event memory: the most events a pass can produce
        (``max_pooled``; ``input_events`` of the next layer)."""
        return self.max_pooled

    def next_format(self) -> EngineLayout:
        """The next layer's event format: only channels (= maps), side_in (= Sp) and time_steps
        matter to ``hw.integrate.event_layout`` / ``pack_event`` and ``EngineLayout.events``."""
        lay = self.lay
        return EngineLayout(lay.maps, lay.maps, 1, 0, self.side, lay.time_steps, 1,
                            lay.weight_bits, lay.potential_bits, self.max_events)

    def check(self) -> "PoolLayout":
        """Refuse what the unit cannot do, naming the parameter and what is allowed."""
        self.lay.check()
        if self.size == 0:
            raise HardwareConfigError(
                "pool.size = 0 (global pooling): this is the last layer, whose readout pools the "
                "final potentials; it has no outgoing unit (allowed: pool.size >= 1)")
        if self.stride < 1:
            raise HardwareConfigError(f"pool.stride = {self.stride}: must be >= 1")
        if self.size > self.lay.side_out:
            raise HardwareConfigError(f"pool.size = {self.size}: larger than the "
                                      f"{self.lay.side_out}x{self.lay.side_out} output")
        if not self.inhibition:
            raise HardwareConfigError(
                "pointwise_inhibition = false: the outgoing unit keeps one survivor per position, "
                "so it needs pointwise_inhibition = true (pooling without inhibition is not built)")
        for name, depth in (("survivor", self.lay.npos), ("bucket head", self.buckets),
                            ("pooled event", self.max_pooled)):
            if depth > 1 << MAX_ADDRESS_BITS:
                raise HardwareConfigError(
                    f"the {name} memory needs {depth} words, more than the "
                    f"{1 << MAX_ADDRESS_BITS} a {MAX_ADDRESS_BITS}-bit address reaches")
        return self
