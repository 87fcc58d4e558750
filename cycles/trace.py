"""The trace convention every cycle model and every RTL trace follows: records are tuples
starting with their cycle, ordered canonically by ``trace_order``."""
from __future__ import annotations

_KINDS = {"row": 0, "op": 0, "event": 0, "winner": 0, "fire": 1, "step": 2,
          "integrated": 3, "inhibited": 3, "learned": 3, "pooled": 3,
          "done": 4}                                     # from "integrated" on: hw/core.py


def trace_order(record: tuple):
    """Canonical order of trace records: by cycle, then kind, then lane (the fires and the rows of
    one cycle)."""
    return (record[0], _KINDS[record[1]], record[2] if record[1] in ("fire", "row") else 0)
