"""The network's layer cores on a board, behind a UART host link (issue 4, part 1).

* ``uart``: 8N1 receiver and transmitter as Amaranth byte streams;
* ``protocol``: the link's opcodes, registers, error codes, memory map and bitstream digest,
  shared by the gateware and the host;
* ``link``: ``HostLink``, the protocol's gateware, driving the layer cores;
* ``top``: ``BoardTop``, the cores, the link and the UART, for a board or a simulation;
* ``host``: the host driver (serial port or cocotb) and ``python -m boards.host``.

The round trip is tested in tests/test_board_link.py (Amaranth's simulator for the UART and
the protocol, Verilator for the board top over its UART pins against the model).
"""
