"""Config loading and validation: every bad config gives a ConfigError naming key and reason."""
from __future__ import annotations

import pytest
import yaml

from conftest import MNIST, TINY
from model import config as C


def _tiny_dict():
    return C.load(TINY).to_dict()


def _tiny_dict_with(path, value) -> dict:
    """The tiny config as a dict, with the key at ``path`` (a tuple of keys and indices) set."""
    d = _tiny_dict()
    node = d
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return d


def _error(data) -> str:
    with pytest.raises(C.ConfigError) as exc:
        C.parse(data, "test.yaml")
    return str(exc.value)


def _write(tmp_path, data):
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


# -- the shipped configs -----------------------------------------------------------------------

def test_shipped_configs_load():
    tiny, mnist = C.load(TINY), C.load(MNIST)
    assert tiny.input.grid == 14            # 28 / downsample 2
    assert mnist.input.grid == 28           # downsample 1
    assert [l.maps for l in tiny.layers] == [4, 6]
    assert [l.maps for l in mnist.layers] == [30, 100]
    assert tiny.layers[-1].pool.is_global and not tiny.layers[0].pool.is_global


def test_load_round_trip_through_yaml(tmp_path):
    cfg = C.load(TINY)
    again = C.load(_write(tmp_path, cfg.to_dict()))
    assert again == cfg


def test_downsample_defaults_to_one(tmp_path):
    d = _tiny_dict()
    d["input"].pop("downsample")
    d["input"]["size"] = 14
    cfg = C.parse(d)
    assert cfg.input.downsample == 1 and cfg.input.grid == 14


def test_replace_changes_dotted_keys_and_revalidates():
    cfg = C.load(TINY)
    new = C.replace(cfg, **{"layers.0.maps": 3, "pruning.enabled": False, "seed": 99})
    assert (new.layers[0].maps, new.pruning.enabled, new.seed) == (3, False, 99)
    assert cfg.layers[0].maps == 4 and cfg.seed == 7          # the original is untouched
    with pytest.raises(C.ConfigError, match=r"formats\.weight_bits = 40"):
        C.replace(cfg, **{"formats.weight_bits": 40})


# -- file-level errors -------------------------------------------------------------------------

def test_malformed_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("seed: 1\ninput: {size: 28, time_steps: [1, 2\n")
    with pytest.raises(C.ConfigError) as exc:
        C.load(p)
    assert "malformed YAML" in str(exc.value)
    assert str(p) in str(exc.value)


def test_missing_file(tmp_path):
    p = tmp_path / "nope.yaml"
    with pytest.raises(C.ConfigError) as exc:
        C.load(p)
    assert "not found" in str(exc.value) and str(p) in str(exc.value)


def test_top_level_not_a_mapping(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(C.ConfigError, match="mapping"):
        C.load(p)


def test_config_error_is_a_value_error():
    assert issubclass(C.ConfigError, ValueError)


# -- unknown keys: the message names the key and lists the allowed ones -----------------------

@pytest.mark.parametrize("path, key, allowed", [
    ((), "colour", ["core", "data", "formats", "input", "layers", "pruning", "readout", "seed", "stdp",
                    "training"]),
    (("formats",), "weight_bitz", ["potential_bits", "rate_frac_bits", "rounding", "weight_bits"]),
    (("input", "dog"), "sigma", ["kernel", "sigma_center", "sigma_surround", "threshold"]),
    (("layers", 1), "mapz", ["inhibition_radius", "kernel", "learning", "maps", "name", "padding",
                             "pointwise_inhibition", "pool", "pruning", "threshold", "weight_bits",
                             "winners"]),
    (("layers", 0, "pool"), "sise", ["size", "stride"]),
])
def test_unknown_key(tmp_path, path, key, allowed):
    d = _tiny_dict()
    node = d
    for p in path:
        node = node[p]
    node[key] = 1
    with pytest.raises(C.ConfigError) as exc:
        C.load(_write(tmp_path, d))
    msg = str(exc.value)
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in (*path, key)).lstrip(".")
    assert f"unknown key '{dotted}'" in msg
    assert "allowed here: " + ", ".join(allowed) in msg


# -- out of range, wrong type, missing --------------------------------------------------------

@pytest.mark.parametrize("path, value, bound", [
    (("formats", "weight_bits"), 40, "less than or equal to 16"),
    (("formats", "weight_bits"), 1, "greater than or equal to 2"),
    (("formats", "potential_bits"), 33, "less than or equal to 32"),
    (("input", "time_steps"), 256, "less than or equal to 255"),
    (("stdp", "a_minus"), 0.003, "less than 0"),
    (("seed",), -1, "greater than or equal to 0"),
])
def test_out_of_range(path, value, bound):
    msg = _error(_tiny_dict_with(path, value))
    assert f"{'.'.join(path)} = {value!r}" in msg
    assert bound in msg


def test_width_sum_over_32_bits():
    d = _tiny_dict()
    d["formats"].update(weight_bits=16, rate_frac_bits=20)
    msg = _error(d)
    assert "formats.weight_bits + formats.rate_frac_bits = 36" in msg and "<= 32" in msg


@pytest.mark.parametrize("path, value", [
    (("input", "size"), "28"),          # strict: a string is not an int
    (("layers", 0, "maps"), 4.0),       # nor is a float
    (("pruning", "enabled"), "yes"),
])
def test_wrong_type(path, value):
    msg = _error(_tiny_dict_with(path, value))
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    assert f"{key} = {value!r}" in msg
    assert "valid" in msg


def test_bad_literal_lists_allowed():
    d = _tiny_dict()
    d["formats"]["rounding"] = "nearest"
    msg = _error(d)
    assert "formats.rounding = 'nearest'" in msg and "'stochastic'" in msg and "'floor'" in msg


def test_missing_key():
    d = _tiny_dict()
    del d["stdp"]["a_plus"]
    assert "missing key 'stdp.a_plus'" in _error(d)


def test_every_problem_is_listed():
    d = _tiny_dict()
    d["formats"]["weight_bits"] = 40
    d["input"]["time_steps"] = "8"
    msg = _error(d)
    assert "formats.weight_bits = 40" in msg and "input.time_steps = '8'" in msg


# -- cross-field rules -------------------------------------------------------------------------

def test_threshold_not_representable():
    # tiny: W = 8, P = 14. threshold 64.0 -> 64 * 256 = 16384 LSBs > 2^14 - 1 = 16383.
    d = _tiny_dict()
    d["layers"][0]["threshold"] = 64.0
    msg = _error(d)
    assert "layers[0] (conv1).threshold = 64.0" in msg
    assert "16384" in msg and "16383" in msg and "potential_bits" in msg
    # 63.99 -> round(16381.44) = 16381 <= 16383: accepted.
    d["layers"][0]["threshold"] = 63.99
    assert C.parse(d).layers[0].threshold == 63.99


def test_pool_size_stride_inconsistent():
    d = _tiny_dict()
    d["layers"][0]["pool"] = {"size": 0, "stride": 2}
    msg = _error(d)
    assert "layers[0].pool" in msg and "size: 0, stride: 2" in msg and "both 0" in msg


def test_pool_larger_than_output():
    # input.size 8 / downsample 2 = a 4x4 grid; kernel 3, padding 0 -> 4 - 3 + 1 = 2x2 output;
    # a pool of size 3 does not fit in it.
    d = _tiny_dict()
    d["input"]["size"] = 8
    d["layers"][0].update(padding=0, pool={"size": 3, "stride": 1})
    msg = _error(d)
    assert "layers[0] (conv1).pool.size = 3" in msg and "2x2" in msg


def test_last_layer_must_be_global():
    d = _tiny_dict()
    d["layers"][1]["pool"] = {"size": 2, "stride": 2}
    msg = _error(d)
    assert "layers[-1].pool" in msg and "global pooling" in msg


def test_global_pool_only_on_last_layer():
    d = _tiny_dict()
    d["layers"][0]["pool"] = {"size": 0, "stride": 0}
    msg = _error(d)
    assert "layers[0] (conv1).pool" in msg and "only allowed on the last layer" in msg


def test_kernel_does_not_fit():
    d = _tiny_dict()
    d["layers"][0].update(kernel=15, padding=0)       # 14 + 0 - 15 + 1 = 0 < 1
    msg = _error(d)
    assert "layers[0] (conv1)" in msg and "kernel 15" in msg and "14x14" in msg


def test_downsample_must_divide():
    d = _tiny_dict()
    d["input"]["downsample"] = 3                       # 28 % 3 != 0
    msg = _error(d)
    assert "input.downsample = 3" in msg and "28" in msg


def test_dog_even_kernel_and_sigma_order():
    d = _tiny_dict()
    d["input"]["dog"]["kernel"] = 4
    assert "dog.kernel = 4: must be odd" in _error(d)
    d = _tiny_dict()
    d["input"]["dog"]["sigma_surround"] = 0.5
    assert "dog.sigma_surround = 0.5" in _error(d)


def test_a_plus_max_below_a_plus():
    d = _tiny_dict()
    d["stdp"]["a_plus_max"] = 0.001
    assert "stdp.a_plus_max = 0.001" in _error(d)


def test_idx_source_needs_paths():
    d = _tiny_dict()
    d["data"]["source"] = "idx"
    d["data"]["train_images"] = "a"
    msg = _error(d)
    assert "train_labels, test_images, test_labels" in msg and "train_images," not in msg



def test_readout_pool_grid():
    # tiny: 14x14 grid -> conv1 14x14 -> pool 2/2 -> 7x7 -> conv2 (k 3, pad 1) 7x7 maps.
    d = _tiny_dict()
    assert C.parse(d).readout.pool_grid == 1                 # default: global max pooling
    d["readout"]["pool_grid"] = 7
    assert C.parse(d).readout.pool_grid == 7
    d["readout"]["pool_grid"] = 8
    msg = _error(d)
    assert "readout.pool_grid = 8" in msg and "7x7" in msg


# -- the hardware layout: core.lanes ------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, 65, -1, 2.5, "ten"])
def test_core_lanes_validated(bad):
    msg = _error(_tiny_dict_with(("core", "lanes"), bad))
    assert "core.lanes" in msg and repr(bad) in msg


def test_core_lanes_default_and_per_layer():
    d = _tiny_dict()
    del d["core"]
    cfg = C.parse(d)
    assert cfg.core.lanes == 10
    assert [cfg.lanes(i) for i in range(len(cfg.layers))] == [min(10, lc.maps) for lc in cfg.layers]
    four = C.parse(_tiny_dict_with(("core", "lanes"), 4))
    assert [four.lanes(i) for i in range(len(four.layers))] == [4, 4]


def test_lanes_do_not_change_what_is_learned():
    """The checkpoints' digest ignores the hardware layout; any learning key changes it."""
    from model.train import config_digest
    base = C.load(TINY)
    assert config_digest(C.replace(base, **{"core.lanes": 3}), "fixed") == config_digest(base, "fixed")
    assert config_digest(C.replace(base, **{"seed": 8}), "fixed") != config_digest(base, "fixed")


def test_layouts_follow_core_lanes():
    from cycles.core import network_layouts
    cfg = C.replace(C.load(TINY), **{"core.lanes": 3})
    assert [lay.lanes for lay in network_layouts(cfg)] == [3, 3]
    assert [lay.lanes for lay in network_layouts(cfg, 2)] == [2, 2]
