"""cocotb tests of the combinational gateware blocks against the Python model.

Loaded by the simulator (``sim.runner.run(..., "sim.cocotb_blocks", testcase=...)``), the same
file for Verilator and Icarus:

* ``mix32_matches_model``: toplevel ``hw.hash.Mix32`` (ports ``i``, ``o``) against
  ``model.rng.mix32``: the edge words, every single-bit and low-bits word, hashed and random ones;
* ``stdp_lane_matches_model``: toplevel ``hw.stdp_lane.StdpLane`` (ports ``q``, ``ltp``,
  ``a_plus``, ``a_minus``, ``word``, ``q_next``) against ``model.fixedpoint.Formats.stdp``: every q
  for both ltp values and several (a+, |a-|) pairs, with the words 0, 2^32 - 1 and random ones.

The Formats of the lane come from ``STDP_FORMATS`` = "weight_bits,potential_bits,rate_frac_bits,
stochastic" (default "8,18,16,1", i.e. ``Formats(8, 18, 16, True)``). Randomness is
``cocotb.RANDOM_SEED`` (``run(seed=...)`` fixes it). The blocks are combinational: set the
inputs, wait 1 ns, read the outputs. Each test collects every mismatch and fails with the first
few, inputs included.
"""

import os
import random

import cocotb
import numpy as np
from cocotb.triggers import Timer

from model.fixedpoint import Formats
from model.rng import MASK32, mix32

N_RANDOM_MIX32 = int(os.environ.get("MIX32_RANDOM", "2000"))
RATE_PAIRS = ((262, 196), (9830, 7372), (1, 0), (0, 1), (65535, 65535), (40000, 123))
RANDOM_WORDS_PER_POINT = int(os.environ.get("STDP_RANDOM_WORDS", "2"))
SHOW = 8                                  # mismatches reported


def formats_from_env() -> Formats:
    w, p, a, s = (int(x) for x in os.environ.get("STDP_FORMATS", "8,18,16,1").split(","))
    return Formats(w, p, a, bool(s))


def _report(name: str, mismatches: list[str], checked: int) -> None:
    if mismatches:
        raise AssertionError(f"{name}: {len(mismatches)} of {checked} vectors differ from the "
                             "model; first ones:\n  " + "\n  ".join(mismatches[:SHOW]))


@cocotb.test()
async def mix32_matches_model(dut):
    rnd = random.Random(cocotb.RANDOM_SEED)
    xs = [0, 1, 2, MASK32, MASK32 - 1, 0x8000_0000, 0x7FFF_FFFF, 0xDEAD_BEEF]
    xs += [1 << b for b in range(32)] + [MASK32 ^ (1 << b) for b in range(32)]
    xs += list(range(3, 256))
    xs += [int(h) for h in mix32(np.arange(1000, dtype=np.uint64))]   # hashed counters
    xs += [rnd.getrandbits(32) for _ in range(N_RANDOM_MIX32)]
    expected = [int(h) for h in mix32(np.array(xs, dtype=np.uint64))]
    bad = []
    for x, want in zip(xs, expected):
        dut.i.value = x
        await Timer(1, "ns")
        got = dut.o.value.to_unsigned()
        if got != want:
            bad.append(f"i={x:#010x}: o={got:#010x}, model {want:#010x}")
    _report("mix32", bad, len(xs))
    dut._log.info("mix32: %d vectors match model.rng.mix32", len(xs))


@cocotb.test()
async def stdp_lane_matches_model(dut):
    f = formats_from_env()
    rnd = random.Random(cocotb.RANDOM_SEED)
    a_max = (1 << f.rate_frac_bits) - 1
    pairs = [(min(ap, a_max), min(am, a_max)) for ap, am in RATE_PAIRS]
    q = np.arange(f.weight_max + 1, dtype=np.int64)
    checked, bad = 0, []
    for a_plus, a_minus in pairs:
        for ltp in (1, 0):
            for k in range(2 + RANDOM_WORDS_PER_POINT):
                if k < 2:
                    words = np.full(q.shape, (0, MASK32)[k], dtype=np.uint64)
                else:
                    words = np.array([rnd.getrandbits(32) for _ in q], dtype=np.uint64)
                want = f.stdp(q, np.full(q.shape, bool(ltp)), a_plus, a_minus, words)
                dut.ltp.value = ltp
                dut.a_plus.value = a_plus
                dut.a_minus.value = a_minus
                for qi, word, w in zip(q.tolist(), words.tolist(), want.tolist()):
                    dut.q.value = qi
                    dut.word.value = word
                    await Timer(1, "ns")
                    got = dut.q_next.value.to_unsigned()
                    checked += 1
                    if got != w:
                        bad.append(f"q={qi} ltp={ltp} a+={a_plus} |a-|={a_minus} "
                                   f"word={word:#010x}: q_next={got}, model {w}")
    _report("stdp_lane", bad, checked)
    dut._log.info("stdp_lane %s: %d vectors match Formats.stdp", f, checked)
