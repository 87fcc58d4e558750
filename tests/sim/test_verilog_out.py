"""Verilog out of Amaranth (sim/verilog_out.py): the ports read back, the test-bench top that
makes its own clock, and a module rewritten only when its text changes."""
import pytest

from hw.hash import Mix32
from sim.verilog_out import clocked_top, module_ports, verilog

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
