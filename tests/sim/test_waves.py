"""Waves that lead to the bug: each co-simulation run writes its waves into a folder named after
what it ran, the waves hold the design's named signals, and a divergence names the wave file and
the simulation time at which the core's ``cycle`` reads the cycle it reports."""
import re
from pathlib import Path

import pytest

from conftest import core_case
from hw.hash import Mix32
from sim import cosim, runner

UNIT_NS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}


def _vcd(path: Path, signal: str):
    """(every variable's name, {time ns: value} of the first 32-bit variable ``signal``).
    A plain reader: Verilator's scope ``$rootio`` is more than pyvcd's strict parser takes."""
    names, ident, scale, now, values = [], None, 1.0, 0.0, {}
    text = path.read_text()
    head, _, body = text.partition("$enddefinitions")
    m = re.search(r"\$timescale\s+(\d+)\s*(\w+)\s+\$end", head)
    scale = int(m[1]) * UNIT_NS[m[2]]
    for kind, size, code, ref in re.findall(r"\$var\s+(\w+)\s+(\d+)\s+(\S+)\s+(\S+)", head):
        names.append(ref)
        if ident is None and ref == signal and size == "32":
            ident = code
    for line in body.splitlines():
        if line.startswith("#"):
            now = int(line[1:]) * scale
        elif line.startswith("b"):
            bits, code = line[1:].split()
            if code == ident:
                values[now] = int(bits, 2)
    return names, values


def _value_at(values: dict, t: float):
    return values[max(k for k in values if k <= t)]


def test_divergence_names_wave_file_and_sim_time_of_its_cycle(tiny_net, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "WAVES", tmp_path / "waves")
    c = core_case(tiny_net, 0, 4, 0, 1, prune=0.3)

    def alter(step, trace):                  # one winner's column off by one: a divergence
        if step == 0:
            i = next(i for i, r in enumerate(trace) if r[1] == "winner")
            trace[i] = (*trace[i][:-1], trace[i][-1] ^ 1)
        return trace

    ctx = dict(config="tiny", layer="conv1", variant="dense", image=0, seed=1)
    steps = [dict(cmd="learn", times_in=c["x"], learning=c["learning"])]
    with pytest.raises(AssertionError) as exc:
        cosim.run_core(c["lay"], c["net"].arith, c["lc"], steps, c["weights"], c["active"],
                       c["threshold"], ctx, sim="verilator", waves=True, tag="-tiny-l0",
                       alter=alter)
    msg = str(exc.value)
    m = re.search(r"first divergence in trace at cycle (\d+) .*'winner'.*sim time ([\d.]+) ns", msg)
    assert m, msg
    cycle, t = int(m[1]), float(m[2])
    wave = Path(re.search(r"waves: (\S+)", msg)[1])
    assert wave.parent == tmp_path / "waves" / "tiny-conv1-dense-img0-verilator"
    assert wave.is_file() and wave.suffix in (".vcd", ".fst")
    if wave.suffix == ".fst":
        pytest.skip("FST waves (Verilator with lz4): this test reads VCD")
    names, values = _vcd(wave, "cycle")
    # at the time named the core's cycle counter reads the cycle named, one period before the one before
    assert _value_at(values, t) == cycle and _value_at(values, t - 10) == cycle - 1
    assert _value_at(values, t + 9) == cycle
    # named signals only: Amaranth's unnamed temporaries are not traced
    assert not [n for n in names if n.startswith(("$", "_$", "\\$"))]
    assert {"cycle", "busy", "tr_winner", "start"} <= set(names)


def test_icarus_waves_go_to_the_run_folder(tmp_path):
    res = runner.run(Mix32(), "mix32", "sim.cocotb_blocks", testcase="mix32_matches_model",
                     sim="icarus", waves=True, waves_dir=tmp_path / "run")
    assert res.waves == (tmp_path / "run" / "waves.fst").resolve() and res.waves.stat().st_size > 0


def test_wave_folder_named_after_the_run():
    ctx = dict(config="mnist", layer="conv2", variant="pruned", images="0-1", seed=3)
    assert runner.waves_dir_for(ctx, "icarus") == runner.WAVES / "mnist-conv2-pruned-img0-1-icarus"
    assert runner.waves_dir_for({"config": "a/b c"}, "verilator").name == "a_b_c-verilator"
