"""WindowEnd: the programmable end of the time window, a block of its own so that synthesis that
keeps the hierarchy counts it (boards/resources.py: ``window_overhead``).

Temporal pruning (DSTP and Chowdhury et al. 2021, ``model.network.Network.window``) stops a pass after the
first ``t_end`` time steps: the integrate engine (hw/integrate.py) processes steps 0 .. t_end - 1
and ends the pass after step t_end - 1's drain (and, learning, its winners), so input spikes at
later steps never arrive and a neuron that has not fired reads time T. The register holds
t_end (reset T: the whole window), written by the host; a value outside 1 .. T is clamped into
it, so no write can make the engine run past its last step.
"""
from amaranth import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common import bits
from cycles.layout import EngineLayout


class WindowEnd(wiring.Component):
    def __init__(self, lay: EngineLayout):
        self.lay = lay
        tb = bits(lay.time_steps)
        super().__init__({
            "we": In(1), "data": In(32),
            "t_end": Out(tb, init=lay.time_steps),     # the register (read-back)
            "t": In(tb), "last": Out(1),               # step t is the window's last
        })

    def elaborate(self, platform):
        m = Module()
        T = self.lay.time_steps
        with m.If(self.we):
            m.d.sync += self.t_end.eq(Mux(self.data == 0, 1, Mux(self.data > T, T, self.data)))
        m.d.comb += self.last.eq(self.t + 1 == self.t_end)
        return m
