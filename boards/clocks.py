"""The core's clock on each board: the board's oscillator through the FPGA's PLL, as the ``sync``
domain, held in reset until the PLL locks.

``Clocked(top, board, mhz)`` wraps a board top (boards/top.py), which only uses ``sync``. The
PLL settings are searched here from each family's documented ranges (the same ones Lattice's and
Xilinx's wizards and ``ecppll`` use); nextpnr derives the core clock's constraint from the
oscillator's through the PLL, so its timing report checks the core at ``mhz``.
"""
from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

from boards.registry import Board, BoardError


@dataclass(frozen=True)
class Pll:
    ref_div: int
    fb_mult: int           # feedback divider (ECP5) or multiplier (7-series)
    out_div: int
    vco_mhz: float
    out_mhz: float


def ecp5_pll(fin: float, fout: float) -> Pll:
    """EHXPLLL with CLKOP as feedback: fout = fin * CLKFB_DIV / CLKI_DIV, VCO = fout * CLKOP_DIV
    in 400..800 MHz (nearest 600 preferred), phase detector fin / CLKI_DIV in 3.125..400 MHz (ECP5 sysCLOCK guide)."""
    best, key = None, None
    for ref in range(1, 129):
        if not 3.125 <= fin / ref <= 400:
            continue
        for fb in range(1, 81):
            out = fin * fb / ref
            for div in range(1, 129):
                if 400 <= out * div <= 800:
                    # the nearest frequency; among equals the VCO nearest mid-range (as ecppll)
                    k = (abs(out - fout), abs(out * div - 600))
                    if key is None or k < key:
                        best, key = Pll(ref, fb, div, out * div, out), k
    if best is None or abs(best.out_mhz - fout) > 1e-6 * fout:
        raise BoardError(f"the ECP5 PLL cannot make {fout} MHz from {fin} MHz exactly"
                         + (f" (nearest {best.out_mhz:.3f} MHz)" if best else ""))
    return best


def xc7_mmcm(fin: float, fout: float) -> Pll:
    """MMCME2_BASE: VCO = fin * CLKFBOUT_MULT_F / DIVCLK_DIVIDE in 600..1200 MHz, fout = VCO /
    CLKOUT0_DIVIDE_F (integer here), multiplier 2..64, input divider 1..106 (7-series DS181)."""
    for ref in range(1, 107):
        for mult in range(2, 65):
            vco = fin * mult / ref
            if not 600 <= vco <= 1200:
                continue
            div = vco / fout
            if abs(div - round(div)) < 1e-9 and 1 <= round(div) <= 128:
                return Pll(ref, mult, round(div), vco, fout)
    raise BoardError(f"the 7-series MMCM cannot make {fout} MHz from {fin} MHz with integer dividers")


def pll_for(board: Board, mhz: float) -> Pll | None:
    """The PLL making ``mhz`` on ``board`` (None: the oscillator itself); refuses what it cannot."""
    if board.family == "ecp5":
        return ecp5_pll(board.board_mhz, mhz)
    if board.family == "xc7":
        return xc7_mmcm(board.board_mhz, mhz)
    if mhz != board.board_mhz:
        raise BoardError(f"{board.name}: the core runs at the {board.board_mhz} MHz oscillator; "
                         f"{mhz} MHz was asked for (no PLL is generated for {board.family})")
    return None


class Clocked(Elaboratable):
    """``top`` in a ``sync`` domain at ``mhz``, made from the board's oscillator."""

    def __init__(self, top, board: Board, mhz: float):
        self.top, self.board, self.mhz = top, board, mhz
        self.pll = pll_for(board, mhz)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        osc = platform.request(platform.default_clk, 0).i
        p, locked = self.pll, Signal()
        if self.board.family == "ecp5":
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=str(self.board.board_mhz), a_FREQUENCY_PIN_CLKOP=str(self.mhz),
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                p_CLKI_DIV=p.ref_div, p_CLKFB_DIV=p.fb_mult, p_CLKOP_DIV=p.out_div,
                p_CLKOP_CPHASE=p.out_div // 2, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                i_RST=0, i_STDBY=0, i_CLKI=osc, i_CLKFB=ClockSignal("sync"),
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=sync.clk, o_LOCK=locked)
        elif self.board.family == "xc7":
            fb = Signal()
            m.submodules.mmcm = Instance(
                "MMCME2_BASE",
                p_CLKIN1_PERIOD=1000 / self.board.board_mhz, p_DIVCLK_DIVIDE=p.ref_div,
                p_CLKFBOUT_MULT_F=float(p.fb_mult), p_CLKOUT0_DIVIDE_F=float(p.out_div),
                i_CLKIN1=osc, i_CLKFBIN=fb, o_CLKFBOUT=fb, i_RST=0, i_PWRDWN=0,
                o_CLKOUT0=sync.clk, o_LOCKED=locked)
        else:
            m.d.comb += [sync.clk.eq(osc), locked.eq(1)]
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        m.submodules.top = self.top
        return m
