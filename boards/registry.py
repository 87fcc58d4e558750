"""The supported boards: platform, FPGA resources and clocking, and the fit check that refuses a
network too large for a board before any long step starts.

A board top (boards/top.py) holds one layer core per layer it is built with; the check counts
the blocks synthesis will map those cores' memories to (boards/blocks.py, Yosys's memory
mapping rules per family) against the board's ``bram_blocks``. Synthesis then gives the exact
count (boards/bitstream.py checks it again before place and route).
"""
from dataclasses import dataclass


class BoardError(ValueError):
    """A board, config or layer selection the flow cannot build; the message says what is
    allowed."""


@dataclass(frozen=True)
class Board:
    name: str
    platform: str             # amaranth_boards module:class
    family: str               # ecp5 | xc7 | ice40
    device: str
    bram_bits: int            # block RAM of the device in bits
    bram_block: str           # the block RAM primitive synthesis maps to
    bram_blocks: int          # what the fit check compares with, in boards.blocks.UNIT_NAME
                              # units of the family (Xilinx 7: RAMB18 halves of the RAMB36)
    core_mhz: float           # the clock the core runs at on this board
    board_mhz: float          # the board's oscillator
    limits: tuple = ()        # (yosys cell selection, how many the device has): checked after
                              # synthesis, before place and route (boards/bitstream.py)
    baud: int = 115_200

    def load_platform(self):
        module, cls = self.platform.split(":")
        return getattr(__import__(f"amaranth_boards.{module}", fromlist=[cls]), cls)


BOARDS = {b.name: b for b in (
    # ECP5-85F: 208 DP16KD of 18 Kbit; the core's clock from the 25 MHz oscillator by a PLL.
    Board("ulx3s", "ulx3s:ULX3S_85F_Platform", "ecp5", "LFE5U-85F-6BG381C",
          bram_bits=208 * 18 * 1024, bram_block="DP16KD", bram_blocks=208,
          core_mhz=75.0, board_mhz=25.0,
          limits=(("t:LUT4", 83_640), ("t:TRELLIS_FF", 83_640), ("t:DP16KD", 208),
                  ("t:MULT18X18D", 156))),
    # Artix-7 35T: 50 RAMB36E1 of 36 Kbit (100 RAMB18E1); 100 MHz oscillator, core at 75 MHz.
    Board("arty_a7", "arty_a7:ArtyA7_35Platform", "xc7", "xc7a35ticsg324-1L",
          bram_bits=50 * 36 * 1024, bram_block="RAMB18E1", bram_blocks=100,
          core_mhz=75.0, board_mhz=100.0,
          limits=(("t:LUT1 t:LUT2 t:LUT3 t:LUT4 t:LUT5 t:LUT6", 20_800), ("t:FD*", 41_600),
                  ("t:RAMB36E1", 50), ("t:RAMB18E1", 100), ("t:DSP48E1", 90))),
    # iCE40UP5K: 30 EBR of 4 Kbit (the SPRAM is not inferred from plain memories); 12 MHz.
    Board("icebreaker", "icebreaker:ICEBreakerPlatform", "ice40", "iCE40UP5K-SG48",
          bram_bits=30 * 4096, bram_block="SB_RAM40_4K", bram_blocks=30,
          core_mhz=12.0, board_mhz=12.0,
          limits=(("t:SB_LUT4", 5_280), ("t:SB_RAM40_4K", 30), ("t:SB_MAC16", 8))),
)}


def board(name: str) -> Board:
    if name not in BOARDS:
        raise BoardError(f"unknown board {name!r}; supported boards: {', '.join(sorted(BOARDS))}")
    return BOARDS[name]


def is_memory(frag) -> bool:
    """Whether an elaborated fragment is a memory array (``lib.memory.Memory``)."""
    from amaranth.hdl._mem import MemoryInstance
    return isinstance(frag, MemoryInstance)


def memories(design) -> list[tuple[str, int, int]]:
    """(path, depth, width) of every memory array of ``design`` (an elaboratable, or a fragment
    already elaborated)."""
    from boards.blocks import memories as specs
    return [(m.name, m.depth, m.width) for m in specs(design)]
