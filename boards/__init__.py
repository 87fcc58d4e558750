"""The network's layer cores on FPGA boards, the host link and its co-simulation.

* ``uart``: 8N1 receiver and transmitter as Amaranth byte streams;
* ``protocol``: the host link's opcodes, registers, error codes, memory map and bitstream digest,
  shared by the gateware and the host; which layers a bitstream holds;
* ``link``: ``HostLink``, the protocol's gateware, driving the layer cores;
* ``top``: ``BoardTop``, the cores, the link and the UART, for a board or a simulation;
* ``host``: the host driver (serial port or cocotb) and ``python -m boards.host``;
* ``registry``: the supported boards, their FPGAs' resources, the memory inventory of a design;
* ``clocks``: the core's clock from each board's oscillator (ECP5 PLL, 7-series MMCM);
* ``bitstream``: ``make bitstream``: checks, then yosys / nextpnr to a bitstream and reports;
* ``tools``: where each FPGA tool is (``$<TOOL>`` or its YoWASP build), Yosys's version and runs;
* ``resources``: ``make resources``: per-block utilisation and the pruning logic's
  share, compared with the baselines in ``baselines/yosys-<version>/``;
* ``transport``, ``cosim``, ``cocotb_top``: the host driver against the simulated board top
  (Amaranth's simulator on the link's byte streams, cocotb on the UART pins) and the model's
  prediction of every command it plays.

The round trip is tested in tests/boards/test_board_link.py (Amaranth's simulator for the UART and
the protocol, Verilator for the board top over its UART pins against the model), the flow's
refusals in tests/boards/test_bitstream.py, the resource figures in tests/boards/test_resources.py.
"""
