"""YAML configuration: schema, validation and the one error type bad configs raise.

Every key of a config file is declared here with its type and allowed range. Loading a file
that has a wrong key, a wrong type or an out-of-range value raises ``ConfigError`` whose
message names the key, the value given and what is allowed, before anything runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says which key and why."""


class _Section(BaseModel):
    # strict: "15" is not an int; extra=forbid: a misspelt key is an error, not a default.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DoG(_Section):
    kernel: int = Field(ge=3, le=15)
    sigma_center: float = Field(gt=0, le=10)
    sigma_surround: float = Field(gt=0, le=10)
    threshold: int = Field(ge=0, le=10_000)

    @model_validator(mode="after")
    def _order(self):
        if not self.kernel % 2:
            raise ValueError(f"dog.kernel = {self.kernel}: must be odd")
        if self.sigma_surround <= self.sigma_center:
            raise ValueError(
                f"dog.sigma_surround = {self.sigma_surround}: must be larger than "
                f"sigma_center = {self.sigma_center}")
        return self


class Input(_Section):
    size: int = Field(ge=4, le=1024)
    downsample: int = Field(default=1, ge=1, le=8)
    time_steps: int = Field(ge=2, le=255)
    dog: DoG

    @property
    def grid(self) -> int:
        """Side of the encoded spike grid after downsampling."""
        return self.size // self.downsample

    @model_validator(mode="after")
    def _divides(self):
        if self.size % self.downsample:
            raise ValueError(
                f"input.downsample = {self.downsample}: must divide input.size = {self.size}")
        return self


class Formats(_Section):
    weight_bits: int = Field(ge=2, le=16)
    potential_bits: int = Field(ge=4, le=32)
    rate_frac_bits: int = Field(ge=4, le=20)
    rounding: Literal["stochastic", "floor"]

    @model_validator(mode="after")
    def _fits(self):
        if self.weight_bits + self.rate_frac_bits > 32:
            raise ValueError(
                f"formats.weight_bits + formats.rate_frac_bits = "
                f"{self.weight_bits + self.rate_frac_bits}: must be <= 32 "
                "(the stochastic-rounding word is one 32-bit hash)")
        return self


class Pool(_Section):
    size: int = Field(ge=0, le=8)     # 0 = global max pooling of final potentials
    stride: int = Field(ge=0, le=8)

    @property
    def is_global(self) -> bool:
        return self.size == 0

    @model_validator(mode="after")
    def _consistent(self):
        if (self.size == 0) != (self.stride == 0):
            raise ValueError(
                f"pool = {{size: {self.size}, stride: {self.stride}}}: "
                "size and stride are both 0 (global) or both >= 1")
        return self


class Learning(_Section):
    max_images: int = Field(ge=0, le=10_000_000)
    convergence: float = Field(ge=0, le=0.25)   # C = mean(w(1-w)) <= 0.25
    check_every: int = Field(ge=1, le=1_000_000)


class LayerPruning(_Section):
    """A layer's own values for the threshold rule, overriding the pruning section's (None: the
    section's). Only the threshold rule reads them; the other policies act on whole layers or
    across layers with the section's values."""
    threshold: float | None = Field(default=None, ge=0, lt=1)   # in units of weight 1.0
    warmup: int | None = Field(default=None, ge=0, le=10_000_000)
    # Share of the layer's maps the threshold rule disables for good at the end of its warm-up,
    # the least active first (model/pruning/threshold.py); 0: none.
    maps_off: float = Field(default=0.0, ge=0, lt=1)


class Layer(_Section):
    name: str = Field(min_length=1, max_length=32)
    maps: int = Field(ge=1, le=4096)
    kernel: int = Field(ge=1, le=15)
    padding: int = Field(ge=0, le=7)
    threshold: float = Field(gt=0, le=1e6)
    winners: int = Field(ge=1, le=256)
    inhibition_radius: int = Field(ge=0, le=64)
    pointwise_inhibition: bool
    pool: Pool
    learning: Learning
    # This layer's weight width; None: formats.weight_bits. The range is that of formats; the
    # per-layer checks (STDP word, threshold) are in Config._network, which knows the formats.
    weight_bits: int | None = Field(default=None, ge=2, le=16)
    pruning: LayerPruning = Field(default_factory=LayerPruning)


class STDP(_Section):
    a_plus: float = Field(gt=0, lt=1)
    a_minus: float = Field(lt=0, gt=-1)
    a_plus_max: float = Field(gt=0, lt=1)
    double_every: int = Field(ge=1, le=10_000_000)
    init_mean: float = Field(ge=0, le=1)
    init_std: float = Field(ge=0, le=0.5)

    @model_validator(mode="after")
    def _max(self):
        if self.a_plus_max < self.a_plus:
            raise ValueError(f"stdp.a_plus_max = {self.a_plus_max}: must be >= a_plus = {self.a_plus}")
        return self


class Lamp(_Section):
    """DSTP spatial: LAMP scores ranked across layers, pruned in rounds (model/pruning/lamp.py)."""
    target: float = Field(gt=0, lt=1)                  # share of all connections pruned at the end
    fraction: float = Field(default=0.25, gt=0, lt=1)  # share of the surviving ones cut per round
    retrain_images: int = Field(default=100, ge=0, le=10_000_000)  # STDP images per layer after a round


class TemporalWindow(_Section):
    """DSTP and Chowdhury et al. 2021, temporal: the inference window (model/pruning/temporal_window.py)."""
    divergence: float = Field(default=0.01, gt=0, lt=1)   # bound on the normalised divergence
    reduce_every: int = Field(default=0, ge=0, le=10_000_000)  # training: one step shorter every N images (0: off)
    min_steps: int = Field(default=1, ge=1, le=255)      # the training window's floor
    images: int = Field(default=1000, ge=10, le=10_000_000)  # training images the curve is scored on
    max_iter: int = Field(default=1000, ge=10, le=1_000_000)  # SVM iterations per fit of the curve
    folds: int = Field(default=2, ge=2, le=20)          # cross-validation folds of the held-out divergence


class ChannelActivity(_Section):
    """SCA (Li et al. 2024): maps ranked by spiking activity, pruned and regrown (model/pruning/channel_activity.py)."""
    sparsity: float = Field(gt=0, lt=1)                 # share of all maps disabled
    update_every: int = Field(default=50, ge=1, le=10_000_000)  # images between mask updates
    regrow: bool = True


class PCAChannels(_Section):
    """Chowdhury et al. 2021, structured: maps per layer from PCA of potentials (model/pruning/pca_channels.py)."""
    variance: float = Field(default=0.99, gt=0, le=1)   # cumulative explained variance kept
    images: int = Field(default=200, ge=2, le=1_000_000)  # images whose potentials are analysed


# The policies with a parameter section of their own, under pruning.<policy>.
POLICY_SECTIONS = ("lamp", "temporal_window", "channel_activity", "pca_channels")


class Pruning(_Section):
    enabled: bool
    policy: Literal["threshold", "lamp", "temporal_window", "channel_activity", "pca_channels"]
    threshold: float = Field(ge=0, lt=1)   # in units of weight 1.0
    warmup: int = Field(ge=0, le=10_000_000)
    lamp: Lamp | None = None
    temporal_window: TemporalWindow | None = None
    channel_activity: ChannelActivity | None = None
    pca_channels: PCAChannels | None = None

    @model_validator(mode="after")
    def _section(self):
        if self.policy in POLICY_SECTIONS and getattr(self, self.policy) is None:
            raise ValueError(f"pruning.policy = '{self.policy}' needs its parameters under "
                             f"pruning.{self.policy}")
        return self


class Readout(_Section):
    svm_c: float = Field(gt=0, le=1e6)
    pool_grid: int = Field(default=1, ge=1, le=8)   # 1: global max pooling of each map


class Data(_Section):
    source: Literal["mnist5k", "idx"]
    train_images: str | None = None
    train_labels: str | None = None
    test_images: str | None = None
    test_labels: str | None = None
    limit_train: int = Field(default=0, ge=0)
    limit_test: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _paths(self):
        if self.source == "idx":
            missing = [k for k in ("train_images", "train_labels", "test_images", "test_labels")
                       if getattr(self, k) is None]
            if missing:
                raise ValueError(f"data.source = 'idx' needs paths for: {', '.join(missing)}")
        return self


class Training(_Section):
    checkpoint_every: int = Field(ge=1, le=10_000_000)


class Core(_Section):
    """How the network is laid out on the hardware; nothing here changes what it learns."""
    lanes: int = Field(default=10, ge=1, le=64)   # P: lanes per layer core (a layer gets min(P, maps))


class Config(_Section):
    seed: int = Field(ge=0, le=2**32 - 1)
    input: Input
    formats: Formats
    layers: list[Layer] = Field(min_length=1, max_length=8)
    stdp: STDP
    pruning: Pruning
    readout: Readout
    data: Data
    training: Training
    core: Core = Field(default_factory=Core)

    @model_validator(mode="after")
    def _network(self):
        side = self.input.grid
        for i, layer in enumerate(self.layers):
            where = f"layers[{i}] ({layer.name})"
            out = side + 2 * layer.padding - layer.kernel + 1
            if out < 1:
                raise ValueError(f"{where}: kernel {layer.kernel} with padding {layer.padding} "
                                 f"does not fit a {side}x{side} input")
            wb = self.weight_bits(i)
            key = f"{where}.weight_bits" if layer.weight_bits is not None else "formats.weight_bits"
            if wb + self.formats.rate_frac_bits > 32:
                raise ValueError(
                    f"{key} + formats.rate_frac_bits = {wb + self.formats.rate_frac_bits} for "
                    f"{where}: must be <= 32 (the stochastic-rounding word is one 32-bit hash)")
            # Threshold must be reachable by a potential of potential_bits (in the layer's LSBs).
            th = round(layer.threshold * 2 ** wb)
            vmax = 2 ** self.formats.potential_bits - 1
            if th < 1:
                raise ValueError(
                    f"{where}.threshold = {layer.threshold}: rounds to {th} weight LSBs of "
                    f"{key} = {wb}; it must be at least one LSB, 2^-{wb}")
            if th > vmax:
                raise ValueError(
                    f"{where}.threshold = {layer.threshold}: is {th} weight LSBs of {key} = {wb}, "
                    f"more than the largest potential 2^{self.formats.potential_bits}-1 = {vmax}; "
                    "raise formats.potential_bits or lower the threshold")
            prune_th = self.prune_threshold(i)
            prune_key = (f"{where}.pruning.threshold" if layer.pruning.threshold is not None
                         else "pruning.threshold")
            prune_q = round(prune_th * 2 ** wb)
            if prune_q > 2 ** wb - 1:
                raise ValueError(
                    f"{prune_key} = {prune_th}: is {prune_q} weight LSBs of "
                    f"{key} = {wb} for {where}, above the largest weight {2 ** wb - 1}; lower it "
                    "or widen the layer's weights")
            if layer.pool.is_global:
                if i != len(self.layers) - 1:
                    raise ValueError(f"{where}.pool: global pooling is only allowed on the last layer")
                side = 1
            else:
                if layer.pool.size > out:
                    raise ValueError(f"{where}.pool.size = {layer.pool.size}: larger than the "
                                     f"{out}x{out} output")
                side = (out - layer.pool.size) // layer.pool.stride + 1
        if self.readout.pool_grid > out:
            raise ValueError(f"readout.pool_grid = {self.readout.pool_grid}: larger than the last "
                             f"layer's {out}x{out} maps")
        if not self.layers[-1].pool.is_global:
            raise ValueError("layers[-1].pool: the last layer must use global pooling "
                             "(size 0, stride 0): its pooled potentials are the readout features")
        tw = self.pruning.temporal_window
        if tw is not None and tw.min_steps > self.input.time_steps:
            raise ValueError(f"pruning.temporal_window.min_steps = {tw.min_steps}: must be at "
                             f"most input.time_steps = {self.input.time_steps}")
        return self

    def weight_bits(self, layer: int) -> int:
        """Layer ``layer``'s weight width: its own ``weight_bits``, else ``formats.weight_bits``."""
        own = self.layers[layer].weight_bits
        return self.formats.weight_bits if own is None else own

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def learning_dict(self) -> dict[str, Any]:
        """What decides the learned network: everything but the hardware layout (``core``), and
        with pruning disabled everything but the pruning settings (the section's and the layers')."""
        if self.pruning.enabled:
            return self.model_dump(mode="json", exclude={"core"})
        return self.model_dump(mode="json", exclude={"core": True, "pruning": True,
                                                     "layers": {"__all__": {"pruning"}}})

    def prune_threshold(self, layer: int) -> float:
        """The threshold rule's threshold for layer ``layer`` (units of weight 1.0): the layer's
        ``pruning.threshold`` if it sets one, else the pruning section's."""
        own = self.layers[layer].pruning.threshold
        return self.pruning.threshold if own is None else own

    def prune_warmup(self, layer: int) -> int:
        """Images layer ``layer`` learns before the threshold rule prunes it: the layer's
        ``pruning.warmup`` if it sets one, else the pruning section's."""
        own = self.layers[layer].pruning.warmup
        return self.pruning.warmup if own is None else own

    def core_lanes(self, given: int | None = None) -> int:
        """Lanes per core: ``given`` (a command's ``--lanes``) or, when None, ``core.lanes``."""
        return self.core.lanes if given is None else given

    def lanes(self, layer: int, given: int | None = None) -> int:
        """Lanes of layer ``layer``'s core (``core_lanes(given)``), at most one a map."""
        return min(self.core_lanes(given), self.layers[layer].maps)


def _allowed_keys(loc: tuple) -> list[str]:
    """Field names of the section that ``loc`` (a pydantic error location) points into."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            break
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
        if model is None:
            return []
    return sorted(model.model_fields) if model is not None else []


def _describe(err: dict) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc))
        return f"unknown key '{key}' (allowed here: {allowed})"
    if err["type"] == "missing":
        return f"missing key '{key}'"
    value = err.get("input")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "value_error" or not key:
        return f"{key + ': ' if key else ''}{msg}"
    return f"{key} = {value!r}: {msg}"


def parse(data: Any, source: str = "<config>") -> Config:
    """Validate a parsed YAML document; raise ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e) for e in exc.errors()]
        raise ConfigError(f"{source}: invalid config:\n  " + "\n  ".join(lines)) from None


def load(path: str | Path) -> Config:
    """Load and validate a YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from None
    return parse(data, str(path))


def replace(cfg: Config, **changes: Any) -> Config:
    """A copy of ``cfg`` with dotted keys changed (``{"pruning.enabled": False}``), re-validated."""
    data = cfg.to_dict()
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse(data, "<replaced config>")
