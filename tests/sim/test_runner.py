"""The runner: Verilog out of Amaranth, the test-bench top that makes its own clock, and cocotb's
Verilator runner with only the top's ports public."""
import pytest

from hw.hash import Mix32
from sim import runner
from sim.verilog_out import clocked_top, module_ports, verilog

# One Verilator build of a small block (reused across runs).
pytestmark = pytest.mark.timeout(1800)

MODULE = """module blk(clk, rst, a, y);
  input clk;
  input rst;
  input [7:0] a;
  output [7:0] y;
  assign y = a;
endmodule
"""


def test_module_ports_in_declaration_order():
    assert module_ports(MODULE, "blk") == [("input", "", "clk"), ("input", "", "rst"),
                                           ("input", "[7:0]", "a"), ("output", "[7:0]", "y")]
    with pytest.raises(ValueError, match="no module other"):
        module_ports(MODULE, "other")


def test_clocked_top_drives_the_clock_itself():
    top = clocked_top(MODULE, "blk", "tb", "clk", 10)
    assert "module tb(clk, rst, a, y);" in top
    assert "output clk;" in top and "input [7:0] a;" in top and "output [7:0] y;" in top
    assert "always #5 clk = ~clk;" in top and "blk dut (.clk(clk), .rst(rst), .a(a), .y(y));" in top
    with pytest.raises(ValueError, match="no input clock"):
        clocked_top(MODULE, "blk", "tb", "clock", 10)


def test_verilog_is_rewritten_only_when_it_changes(tmp_path):
    path = verilog(Mix32(), "mix32", tmp_path)
    stamp = path.stat().st_mtime_ns
    assert verilog(Mix32(), "mix32", tmp_path).stat().st_mtime_ns == stamp
    text = path.read_text()
    assert "module mix32(" in text and "\\$" not in text.replace("\\_$", "")   # temporaries renamed


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
