"""The runner (sim/runner.py): cocotb's Verilator runner with only the top's ports public."""
import pytest

from hw.hash import Mix32
from sim import runner
from sim.verilog_out import module_ports, verilog

# One Verilator build of a small block (reused across runs).
pytestmark = pytest.mark.timeout(1800)


def test_verilator_makes_only_the_top_ports_public(monkeypatch):
    monkeypatch.delenv("SIM_PUBLIC_FLAT", raising=False)
    res = runner.run(Mix32(), "mix32", "sim.cocotb_blocks", sim="verilator",
                     testcase="mix32_matches_model")
    assert res.passed == ["mix32_matches_model"]
    vlt = res.build_dir / "public_ports.vlt"
    ports = [p for _, _, p in module_ports((res.build_dir / "mix32.v").read_text(), "mix32")]
    assert vlt.read_text().count("-module \"mix32\"") == len(ports) > 0
    # Verilator records the command line it ran in its dependency file: the configuration file
    # stands where cocotb's runner put --public-flat-rw.
    args = (res.build_dir / "Vtop__verFiles.dat").read_text()
    assert str(vlt) in args and "--public-flat-rw" not in args


def test_runner_chosen_per_simulator_and_visibility(monkeypatch, tmp_path):
    from cocotb_tools.runner import Icarus, Verilator
    src = verilog(Mix32(), "mix32", tmp_path)
    monkeypatch.delenv("SIM_PUBLIC_FLAT", raising=False)
    ports_only = runner.sim_runner("verilator", [src], "mix32", tmp_path)
    assert isinstance(ports_only, runner.PortsOnlyVerilator)
    assert ports_only.public_ports == tmp_path / "public_ports.vlt"
    # not a module it can read: cocotb's own runner, every signal public
    assert type(runner.sim_runner("verilator", [src], "other", tmp_path)) is Verilator
    monkeypatch.setenv("SIM_PUBLIC_FLAT", "1")
    assert type(runner.sim_runner("verilator", [src], "mix32", tmp_path)) is Verilator
    assert isinstance(runner.sim_runner("icarus", [src], "mix32", tmp_path), Icarus)
