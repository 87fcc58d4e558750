"""Cycle models of the hardware blocks: each predicts, cycle by cycle, the trace events and the
counters of the block of the same name in ``hw/``, carrying the model's arithmetic (``model/``)
along and checking it, so a cycle model cannot drift from the bit-accurate model.

| hw/ block | cycle model |
|---|---|
| ``hw/integrate.py`` (IntegrateEngine) | ``cycles/integrate.py`` (``integrate_pass``) |
| ``hw/wta.py`` (WinnerUnit) | ``cycles/wta.py`` (``winner_pass``) |
| ``hw/stdp_unit.py`` (StdpUnit) | ``cycles/stdp_unit.py`` (``stdp_pass``) |
| ``hw/pool.py`` (OutgoingUnit) | ``cycles/pool.py`` (``outgoing_pass``) |
| ``hw/core.py`` (LayerCore) | ``cycles/core.py`` (``core_command``) |

``cycles/layout.py`` holds the generator's parameter objects (``EngineLayout``, ``PoolLayout``)
and the pipeline constants both sides follow; ``cycles/trace.py`` the trace records' order;
``cycles/image.py`` composes the blocks into the cycles of a whole image on the network.
"""
