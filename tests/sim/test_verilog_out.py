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


def test_a_design_key_reuses_its_verilog_and_another_converts(tmp_path):
    """With the key of the last conversion the file is returned as it is (another component
    given in its place is not converted); another key converts; the key follows the params."""
    from amaranth import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from sim.verilog_out import design_key

    class Wide(wiring.Component):
        a: In(16)
        y: Out(16)

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.y.eq(self.a + 1)
            return m
    assert design_key("p=1") == design_key("p=1") != design_key("p=2")
    path = verilog(Mix32(), "mix", tmp_path, key=design_key("mix32"))
    first = path.read_text()
    assert verilog(Wide(), "mix", tmp_path, key=design_key("mix32")).read_text() == first
    assert "[15:0]" in verilog(Wide(), "mix", tmp_path, key=design_key("wide")).read_text()
    assert (tmp_path / "mix.key").read_text().startswith(design_key("wide"))
