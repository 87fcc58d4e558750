"""Co-simulation of the gateware blocks against the model, under Verilator and Icarus.

Each test writes a block's Verilog and runs ``sim/cocotb_blocks.py`` on it through
``sim.runner.run`` (builds under build/sim/<toplevel>-<sim>/, reused across runs: a fresh
Verilator build takes about 13 s on two cores, a reused run about 2.5 s). Deliberately broken
variants of both blocks (defined here, not in hw/) must make the run fail, so the comparison has
teeth.
"""

import pytest
from amaranth import Module

from hw.hash import Mix32
from hw.stdp_lane import StdpLane
from model.fixedpoint import Formats
from model.rng import _C1, _C2
from sim import runner

# Builds a simulator (Verilator / Icarus) per design: minutes on a busy machine.
pytestmark = pytest.mark.timeout(1800)

SIMS = ["verilator", "icarus"]
MODULE = "sim.cocotb_blocks"
FORMATS = Formats(8, 18, 16, True)          # sim/cocotb_blocks.py's default STDP_FORMATS
SEED = 1


class Mix32WrongShift(Mix32):
    """Mix32 with the middle xor-shift by 12 instead of 13."""

    def elaborate(self, platform):
        m = Module()
        h0 = self.i ^ (self.i >> 16)
        h1 = (h0 * _C1)[:32]
        h2 = h1 ^ (h1 >> 12)
        h3 = (h2 * _C2)[:32]
        m.d.comb += self.o.eq(h3 ^ (h3 >> 16))
        return m


class StdpLaneFlippedLtp(StdpLane):
    """StdpLane with ltp inverted: depression where the rule potentiates and vice versa."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.lane = lane = StdpLane(self.formats)
        m.d.comb += [
            lane.q.eq(self.q), lane.ltp.eq(~self.ltp), lane.a_plus.eq(self.a_plus),
            lane.a_minus.eq(self.a_minus), lane.word.eq(self.word), self.q_next.eq(lane.q_next),
        ]
        return m


BLOCKS = {
    "mix32": (Mix32, "mix32_matches_model"),
    "stdp_lane": (lambda: StdpLane(FORMATS), "stdp_lane_matches_model"),
    "mix32_wrong_shift": (Mix32WrongShift, "mix32_matches_model"),
    "stdp_lane_flipped_ltp": (lambda: StdpLaneFlippedLtp(FORMATS), "stdp_lane_matches_model"),
}


def cosim(block: str, sim: str) -> runner.Result:
    make, testcase = BLOCKS[block]
    return runner.run(make(), block, MODULE, sim=sim, testcase=testcase, seed=SEED,
                      extra_env={"STDP_FORMATS": "8,18,16,1"})


@pytest.mark.parametrize("sim", SIMS)
def test_mix32_matches_model(sim):
    res = cosim("mix32", sim)
    assert res.passed == ["mix32_matches_model"]


@pytest.mark.parametrize("sim", SIMS)
def test_stdp_lane_matches_model(sim):
    res = cosim("stdp_lane", sim)
    assert res.passed == ["stdp_lane_matches_model"]


# One fault per simulator (each simulator's failure path, each block's comparison) keeps the
# fresh Verilator builds of this file at three.
@pytest.mark.parametrize("block, sim", [("mix32_wrong_shift", "icarus"),
                                        ("stdp_lane_flipped_ltp", "verilator")])
def test_faulty_block_fails(block, sim):
    testcase = BLOCKS[block][1]
    with pytest.raises(AssertionError, match=testcase) as err:
        cosim(block, sim)
    assert "differ from the model" in str(err.value)
