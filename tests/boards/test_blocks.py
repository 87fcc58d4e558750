"""The block RAM count per family (boards/blocks.py): Yosys's memory mapping rules on single
memories, and the count of a whole layer core against Yosys's own mapping."""
import pytest

from boards import blocks
from boards.blocks import MemorySpec, map_memory

ONE_READ = ((None, False),)


def mem(width, depth, reads=ONE_READ, writes=1, style=""):
    return MemorySpec("m", width, depth, reads, writes, style)


@pytest.mark.parametrize("width, depth, cells, geometry", [
    (9, 2048, 1, "2048x9"),        # one DP16KD exactly
    (18, 2352, 3, "1024x18"),      # three 1K address ranges
    (8, 7500, 4, "8192x2"),        # four 2-bit slices of 8K words
    (32, 512, 1, "512x36"),        # the pseudo-dual-port 36-bit mode
    (37, 79, 2, "512x36"),         # one bit over 36: two blocks
    (12, 2352, 3, "4096x4"),       # 4K x 4 three times beats 1K x 18 three times plus muxes
    (17, 5880, 6, "2048x9"),       # the word in two 9-bit slices, three 2K ranges
])
def test_ecp5_block_geometry(width, depth, cells, geometry):
    m = map_memory(mem(width, depth), "ecp5")
    assert (m.kind, m.cell, m.cells, m.geometry) == ("block", "DP16KD", cells, geometry)
    assert m.blocks("ecp5") == cells


def test_read_ports_beyond_the_free_ones_copy_the_array():
    """A DP16KD has one port left after the write port: each further read port is a copy."""
    for reads in (1, 2, 3):
        m = map_memory(mem(32, 2400, reads=((None, False),) * reads), "ecp5")
        assert m.blocks("ecp5") == 5 * reads
    # a read at the write port's address shares that port
    shared = map_memory(mem(18, 1024, reads=((0, False), (None, True))), "ecp5")
    assert shared.blocks("ecp5") == 1


def test_small_memories_go_to_lut_ram_or_flip_flops():
    assert map_memory(mem(8, 150, reads=((None, True),)), "ecp5").kind == "distributed"
    assert map_memory(mem(9, 2, reads=((None, True),)), "ecp5").kind == "logic"
    # 74 words of 32 bits: the cost model picks a block, the attribute LUT RAM
    assert map_memory(mem(32, 74, reads=((None, True),)), "ecp5").blocks("ecp5") == 1
    lut = map_memory(mem(32, 74, reads=((None, True),), style="distributed"), "ecp5")
    assert (lut.kind, lut.cell, lut.cells, lut.blocks("ecp5")) == ("distributed", "TRELLIS_DPR16X4",
                                                                   40, 0)


def test_xilinx_counts_ramb36_as_two_ramb18():
    m = map_memory(mem(18, 1960, reads=((None, True),)), "xc7")
    assert (m.cell, m.cells, m.blocks("xc7")) == ("RAMB36E1", 1, 2)
    assert map_memory(mem(4, 1960), "xc7").blocks("xc7") == 1                  # RAMB18 4K x 4
    assert map_memory(mem(32, 62, reads=((None, True),)), "xc7").kind == "distributed"


def test_lut_ram_request_on_a_family_without_lut_ram_is_left_to_the_cost_model():
    m = map_memory(mem(32, 74, style="distributed"), "ice40")
    assert m.kind == "block" and m.cell == "SB_RAM40_4K"


def test_unknown_ram_style_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="ram_style 'ultra' is not one of .*'distributed'"):
        map_memory(mem(8, 64, style="ultra"), "ecp5")
    with pytest.raises(ValueError, match="family 'gw1n'"):
        blocks.count([mem(8, 64)], "gw1n")


def test_count_names_the_largest_memories():
    c = blocks.count([MemorySpec("big", 18, 4096, ONE_READ, 1), MemorySpec("small", 9, 2048, ONE_READ, 1),
                      MemorySpec("tiny", 4, 8, ONE_READ, 1)], "ecp5")
    assert c.blocks == 5 and c.largest() == [("big", 4), ("small", 1)]


def test_a_memory_kept_per_lane_is_named_once_with_all_its_blocks():
    """Ten lanes' potentials of 3 blocks each rank as one 30-block entry, above a 5-block
    memory; numbers that are not a run of copies stay separate names."""
    lanes = [MemorySpec(f"engine.pot{l}", 18, 2352, ONE_READ, 1) for l in range(10)]
    c = blocks.count(lanes + [MemorySpec("stdp.map_rows", 32, 2400, ONE_READ, 1),
                              MemorySpec("a.x1", 18, 4096, ONE_READ, 1),
                              MemorySpec("a.x3", 18, 2048, ONE_READ, 1)], "ecp5")
    assert c.largest(10) == [("engine.pot{0..9}", 30), ("stdp.map_rows", 5), ("a.x1", 4), ("a.x3", 2)]
    assert c.largest(2) == [("engine.pot{0..9}", 30), ("stdp.map_rows", 5)]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("family", ["ecp5", "xc7", "ice40"])
def test_prediction_is_what_yosys_maps_on_the_tiny_core(family, tmp_path):
    """Every memory of the tiny network's conv1 core (block RAM in several widths, LUT RAM, flip-
    flops, a replicated read port) gets the blocks Yosys's synthesis gives it (10 to 25 s)."""
    from cycles.core import network_layouts
    from hw.core import LayerCore
    from model import config as C
    from model.fixedpoint import Formats
    cfg = C.load("configs/tiny.yaml")
    lay = network_layouts(cfg)[0]
    core = LayerCore(lay, Formats.from_config(cfg, 0), cfg.layers[0])
    predicted = {m.memory.name: m.blocks(family) for m in blocks.count(core, family).mappings}
    synth = blocks.synthesized(core, family, tmp_path)
    assert sum(synth.values()) > 0
    assert {k: v for k, v in predicted.items() if v} == synth
