"""Co-simulation of the core against its cycle models: the drivers of the core's host interface
(Amaranth's simulator and cocotb), the trace capture and comparison, the Verilator and Icarus
runner, and `make sim` (``sim.main``)."""
