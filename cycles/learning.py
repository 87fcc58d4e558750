"""The parameters of one learning command: what the host writes into a layer core's registers
before a learn or sweep, and what the cycle models' STDP passes take.

One dataclass for the co-simulations' steps and cases, the drivers of the core's host interface
(``sim.core_driver``, ``sim.stdp_driver``, the board's link ``boards.host``) and the cycle models
(``cycles.image``), so the list of parameters is written once.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from model import rng
from model.pruning import stdp_check


@dataclass(frozen=True)
class LearningParams:
    """One learning command's registers.

    ``a_plus`` and ``a_minus`` are the STDP rates in units of 2^-A (``a_minus`` the magnitude of
    the depression rate), ``layer_key`` and ``image_n`` give the stochastic rounding its stream
    (``round_key``), ``check`` turns the pruning check on and ``prune_th`` is its threshold in
    the layer's weight LSBs. The defaults are the registers' reset values."""
    a_plus: int = 0
    a_minus: int = 0
    layer_key: int = 0
    image_n: int = 0
    check: bool = False
    prune_th: int = 0

    @classmethod
    def for_image(cls, net, layer: int, n: int) -> LearningParams:
        """Layer ``layer`` of ``net`` learning its image ``n`` (0-based): the rates of the rate
        schedule at ``n``, the config's random keys, and the pruning check past the warm-up."""
        a_plus, a_minus = net.arith.rates(net.cfg, n)
        check, threshold = stdp_check(net, layer, n)
        return cls(int(a_plus), int(a_minus), rng.layer_key(net.cfg.seed, layer), int(n),
                   bool(check), int(threshold))

    @classmethod
    def from_registers(cls, registers: dict) -> LearningParams:
        """The parameters back from ``registers()`` (a case file's copy)."""
        return cls(**{name: bool(v) if name == "check" else int(v) for name, v in registers.items()})

    @property
    def round_key(self) -> int:
        """The key of this image's random words (``model.rng.round_key``)."""
        return rng.image_key(self.layer_key, self.image_n)

    def registers(self) -> dict[str, int]:
        """Each register's name and value (``check`` as 0 or 1), in the order of the fields."""
        return {name: int(getattr(self, name)) for name in REGISTERS}

    @staticmethod
    def limits(weight_bits: int, rate_frac_bits: int) -> dict[str, int]:
        """The largest value of each register (the pruning threshold in the layer's own weight
        LSBs, the rates in units of 2^-A)."""
        rate = (1 << rate_frac_bits) - 1
        return {"a_plus": rate, "a_minus": rate, "layer_key": 0xFFFF_FFFF, "image_n": 0xFFFF_FFFF,
                "check": 1, "prune_th": (1 << weight_bits) - 1}

    def stdp_args(self) -> dict:
        """The keyword arguments of the cycle models' STDP pass (``cycles.core.core_command``)."""
        return {"a_plus": self.a_plus, "a_minus": self.a_minus, "round_key": self.round_key,
                "check": self.check, "prune_th": self.prune_th}


REGISTERS = tuple(f.name for f in fields(LearningParams))
