"""Cycles of one image on the core, inference and learning, composed from the blocks' cycle models.

``image_cycles`` is the one place where cycles per image are counted; the reports (report/) and
the tests use nothing else. It composes, and never re-derives, the blocks' exact cycle models:

* inference, per layer i: the integrate engine's pass (``cycles.integrate.integrate_pass``, with
  the network's map enables ``channel_on[i]`` and window ``window``) and,
  when the layer pools (``pool.size > 0``), the outgoing unit's pass
  (``cycles.pool.outgoing_pass``), which writes the next layer's events; the last layer
  has no outgoing unit (the readout pools its final potentials).
* learning of layer i on one image: the inference passes of the layers below i, layer i's
  integrate pass, then (``cycles.core.learn_phases``) the winner unit and the STDP
  unit's pass (``cycles.stdp_unit.stdp_pass``) on the winners. With pointwise inhibition the
  winners are chosen among the spikes it leaves: the outgoing unit's inhibition phase
  (``cycles.pool.inhibition_pass``) streams them to the winner unit, which selects once
  (``cycles.wta.survivor_pass``). Without it the unit selects step by step from the
  pass's fire stream (``cycles.wta.winner_pass``; the engine stalls while the unit is
  busy after each step's drain, so its busy cycles add up) plus ``STEP_HANDSHAKE_CYCLES`` per
  time step.

The next layer's input is the outgoing unit's event list (each event (t, c, y, x) is the spike
time of input (c, y, x)); ``outgoing_pass`` checks those events against the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .core import HOLD_CYCLES, learn_phases
from .integrate import PassResult, integrate_pass
from .layout import EngineLayout, PoolLayout
from .learning import LearningParams
from .pool import OutgoingResult, outgoing_pass
from .stdp_unit import StdpResult
from .wta import WinnerResult

# The engine's handshake with the winner unit at each step end of a learning pass: its HOLD
# state's cycles beyond the unit's busy ones (cycles/core.py, whose learning phases
# _learn_step takes as they are).
STEP_HANDSHAKE_CYCLES = HOLD_CYCLES


@dataclass
class LayerPasses:
    """One layer's inference passes on one image."""
    layout: EngineLayout
    integrate: PassResult
    outgoing: OutgoingResult | None     # None: the last layer (global pooling, no outgoing unit)
    pool: PoolLayout | None             # the outgoing unit's layout (None with ``outgoing``)
    events_in: int                      # input events the engine read

    @property
    def cycles(self) -> int:
        return self.integrate.cycles + (self.outgoing.cycles if self.outgoing else 0)

    @property
    def rows(self) -> int:
        """Rows the engine visited: (event, row) pairs that some lane walked."""
        return len({r[3:5] for r in self.integrate.trace if r[1] == "row"})

    @property
    def lane_rows(self) -> int:
        """Row walks summed over the lanes (one ``row`` trace record each): mask words read."""
        return sum(1 for r in self.integrate.trace if r[1] == "row")

    @property
    def fires(self) -> int:
        return sum(1 for r in self.integrate.trace if r[1] == "fire")


@dataclass
class LearnPasses:
    """The passes a learning step adds to layer i's integrate pass."""
    winner: WinnerResult
    stdp: StdpResult
    handshake: int
    k: int             # the winner unit's registers (the layer's ``winners``)
    # the outgoing unit's inhibition phase (layers with pointwise inhibition), else None
    inhibition: OutgoingResult | None = None

    @property
    def inhibition_cycles(self) -> int:
        return self.inhibition.cycles if self.inhibition is not None else 0

    @property
    def cycles(self) -> int:
        return self.inhibition_cycles + self.winner.cycles + self.handshake + self.stdp.cycles

    @property
    def stdp_ops(self) -> int:
        return sum(1 for r in self.stdp.trace if r[1] == "op")


@dataclass
class ImageCycles:
    layers: list[LayerPasses]
    learn: dict[int, LearnPasses] = field(default_factory=dict)

    def inference(self) -> int:
        """Cycles to infer the image through every layer."""
        return sum(lp.cycles for lp in self.layers)

    def inference_per_layer(self) -> list[int]:
        return [lp.cycles for lp in self.layers]

    def learning(self, i: int) -> int:
        """Cycles of one learning step of layer i: the layers below, its own pass, k-WTA, STDP."""
        return (sum(lp.cycles for lp in self.layers[:i]) + self.layers[i].integrate.cycles
                + self.learn[i].cycles)


def events_to_times(events, channels: int, side: int, T: int) -> np.ndarray:
    """The outgoing unit's event list -> (C, S, S) spike times (T: no spike)."""
    times = np.full((channels, side, side), T, dtype=np.int64)
    for t, c, y, x in events:
        times[c, y, x] = t
    return times


def image_cycles(net, times_in: np.ndarray, lanes: int | None = None,
                 learn: tuple[int, ...] = (), upto: int | None = None) -> ImageCycles:
    """Predict the core on one encoded image ``times_in`` (C, S, S) for a ``model.network.Network``
    on cores of ``lanes`` lanes (default: the config's ``core.lanes``).

    Runs the inference passes of layers 0 .. ``upto`` - 1 (default: all) and, for each layer in
    ``learn``, the winner and STDP passes of a learning step, as the layer's next learning image
    (image count ``net.learned[i]``: its rates, random stream and pruning check). The network is
    not changed.
    """
    cfg = net.cfg
    upto = len(cfg.layers) if upto is None else upto
    if any(not 0 <= i < upto for i in learn):
        raise ValueError(f"learn = {learn}: layers must be in 0 .. {upto - 1} (upto = {upto})")
    result = ImageCycles([])
    x = np.asarray(times_in, dtype=np.int64)
    for i in range(upto):
        lc = cfg.layers[i]
        lay = EngineLayout.for_input(cfg, i, cfg.lanes(i, lanes), x)
        # The mask memory holds ~pruned; the map enables and the window are registers.
        ip = integrate_pass(lay, x, net.weights[i], ~net.pruned[i], net.thresholds[i],
                            net.channel_on[i], net.window)
        out = pl = None
        if lc.pool.size > 0 and i < len(cfg.layers) - 1:
            out, pl = outgoing_pass(lay, lc, ip.fire, ip.v_fire), PoolLayout.from_config(lay, lc)
        result.layers.append(LayerPasses(lay, ip, out, pl, len(lay.events(x))))
        if i in learn:
            result.learn[i] = _learn_step(net, i, lay, x, ip)
        if i + 1 < upto:
            if out is None:
                raise ValueError(f"layer {lc.name} has no outgoing unit (pool.size = 0) but is "
                                 "not the last layer: the core cannot feed the next layer")
            x = events_to_times(out.events, lc.maps, pl.side, lay.time_steps)
    return result


def _learn_step(net, i: int, lay: EngineLayout, x: np.ndarray, ip: PassResult) -> LearnPasses:
    lc = net.cfg.layers[i]
    lp = LearningParams.for_image(net, i, net.learned[i])
    ph = learn_phases(lay, net.ariths[i], lc, ip, x, net.weights[i], ~net.pruned[i], lp.a_plus,
                      lp.a_minus, lp.round_key, lp.check, lp.prune_th)
    return LearnPasses(ph.winner, ph.stdp, ph.handshake, lc.winners, ph.inhibition)
